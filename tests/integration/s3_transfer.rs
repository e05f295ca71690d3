//! How `spadeploy push` moves bytes to S3 (moto, through the recording proxy): large files in
//! parts streamed from disk, listings split across a large target, a transfer window that follows
//! S3's pace, a store that lists no ETags, and the lock confirmed beside the writes.

use crate::s3::{keys, push_args, set};
use crate::support::proxy::{
    critical_path, listing_answered, timeline, Fault, FaultAction, Proxy, Recorded,
};
use crate::support::*;

#[tokio::test]
async fn large_files_go_up_in_parts_streamed_from_disk() {
    let client = s3();
    let bucket = unique_bucket("multipart");
    create_bucket(&client, &bucket).await;
    let proxy = Proxy::start(&moto());
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "<h1>big</h1>");
    let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    write(tmp.path(), "media/intro.mp4", &big);
    let to = format!("s3://{bucket}");
    spadeploy(
        &push_args(tmp.path().to_str().unwrap(), &to, &proxy.url, &[]),
        None,
    )
    .assert_ok();
    let requests = proxy.take();
    let parts = requests
        .iter()
        .filter(|r| r.path.ends_with("/media/intro.mp4") && r.query.contains("partNumber="))
        .count();
    assert_eq!(parts, 3, "20 MiB in 8 MiB parts");
    let object = get(&client, &bucket, "media/intro.mp4").await;
    assert_eq!(sha256_hex(&object.body), sha256_hex(&big));
    assert_eq!(object.content_type, "video/mp4");
    assert_eq!(object.sha256_metadata, sha256_hex(&big));
}

#[tokio::test]
async fn a_split_listing_sees_every_key_of_a_large_target() {
    let client = s3();
    let bucket = unique_bucket("split");
    create_bucket(&client, &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "<h1>many</h1>");
    for i in 0..2500 {
        write(tmp.path(), &format!("files/f-{i:05}.txt"), format!("{i}"));
    }
    let proxy = Proxy::start(&moto());
    let to = format!("s3://{bucket}");
    let dir = tmp.path().to_str().unwrap();
    spadeploy(
        &push_args(dir, &to, &proxy.url, &["--keep-releases", "1"]),
        None,
    )
    .assert_ok();
    // Objects the build never had, at the start, middle and end of the key space.
    for key in ["aaa-first.txt", "files/f-01234x.txt", "zzz-last.txt"] {
        client
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    proxy.take();
    let run = spadeploy(
        &push_args(dir, &to, &proxy.url, &["--keep-releases", "1"]),
        None,
    );
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["unchanged"], 2501);
    assert_eq!(
        keys(&report["delete"]),
        set(&["aaa-first.txt", "files/f-01234x.txt", "zzz-last.txt"])
    );
    let listed: Vec<_> = proxy
        .take()
        .into_iter()
        .filter(|r| r.method == "GET" && r.query.contains("list-type=2"))
        .collect();
    let lists = listed.len();
    assert_eq!(
        lists, 3,
        "three ranges of about 900 keys, listed concurrently, once: no other deploy ran, so the plan stands under the lock"
    );
    // Ranges, not one listing paged three times: two of them start after a bound.
    let ranged = listed
        .iter()
        .filter(|r| r.query.contains("start-after=") && !r.query.contains("continuation-token"))
        .count();
    assert_eq!(ranged, 2, "{listed:?}");
}

#[tokio::test]
async fn stale_keys_are_deleted_in_concurrent_batches() {
    let client = s3();
    let bucket = unique_bucket("deletes");
    create_bucket(&client, &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "<h1>many</h1>");
    for i in 0..350 {
        write(tmp.path(), &format!("assets/f-{i:03}.js"), format!("{i}"));
    }
    let proxy = Proxy::start(&moto());
    let to = format!("s3://{bucket}");
    let dir = tmp.path().to_str().unwrap();
    let keep = ["--keep-releases", "1", "--allow-mass-delete"];
    spadeploy(&push_args(dir, &to, &proxy.url, &keep), None).assert_ok();
    std::fs::remove_dir_all(tmp.path().join("assets")).unwrap();
    proxy.take();
    let run = spadeploy(&push_args(dir, &to, &proxy.url, &keep), None);
    run.assert_ok();
    assert_eq!(run.json()["delete"].as_array().unwrap().len(), 350);
    let requests = proxy.take();
    let batches: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.query.contains("delete"))
        .cloned()
        .collect();
    assert_eq!(batches.len(), 4, "batches of 100, 100, 100 and 50 keys");
    assert!(
        peak_in_flight(&batches, "POST") >= 2,
        "the batches go side by side:\n{}",
        timeline(&batches)
    );
    let left = client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("assets/")
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0), "every stale key is gone");
}

/// In flight at once, at its busiest, among `requests` matching `method`.
fn peak_in_flight(requests: &[crate::support::proxy::Recorded], method: &str) -> usize {
    let mut edges: Vec<(std::time::Instant, i32)> = requests
        .iter()
        .filter(|r| r.method == method)
        .flat_map(|r| [(r.started, 1), (r.finished, -1)])
        .collect();
    edges.sort();
    let mut now = 0;
    let mut peak = 0;
    for (_, step) in edges {
        now += step;
        peak = peak.max(now);
    }
    peak as usize
}

#[tokio::test]
async fn the_transfer_window_grows_while_s3_keeps_up_and_halves_when_it_throttles() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..400 {
        write(
            tmp.path(),
            &format!("assets/chunk-{i:04}-3f9a1c2b.js"),
            format!("c{i}"),
        );
    }
    write(tmp.path(), "index.html", "<h1>window</h1>");
    let dir = tmp.path().to_str().unwrap();

    let bucket = unique_bucket("window");
    create_bucket(&s3(), &bucket).await;
    let proxy = Proxy::start(&moto());
    // The store answers slowly, so transfers pile up as far as the window lets them.
    proxy.inject(crate::support::proxy::Fault::new(
        "PUT",
        ".js",
        crate::support::proxy::FaultAction::Stall(std::time::Duration::from_millis(20)),
    ));
    let to = format!("s3://{bucket}");
    let run = spadeploy(&push_args(dir, &to, &proxy.url, &[]), None);
    run.assert_ok();
    let transfers = run.json()["transfers"].clone();
    assert_eq!(transfers["start"], 64);
    assert!(transfers["peak"].as_u64().unwrap() > 64, "{transfers}");
    assert_eq!(transfers["throttled"], 0);
    assert!(peak_in_flight(&proxy.take(), "PUT") > 64);

    // A plan that fits under the all-at-once size starts every transfer at once.
    let small = tempfile::tempdir().unwrap();
    for i in 0..100 {
        write(
            small.path(),
            &format!("assets/chunk-{i:04}-3f9a1c2b.js"),
            format!("c{i}"),
        );
    }
    write(small.path(), "index.html", "<h1>all at once</h1>");
    let bucket = unique_bucket("allatonce");
    create_bucket(&s3(), &bucket).await;
    proxy.take();
    let to = format!("s3://{bucket}");
    let run = spadeploy(
        &push_args(small.path().to_str().unwrap(), &to, &proxy.url, &[]),
        None,
    );
    run.assert_ok();
    // (How many the proxy sees in flight at once depends on how fast a debug build under load
    // sends them; the window's start is what spadeploy decides.)
    assert_eq!(run.json()["transfers"]["start"], 100);

    // Throttled (503 SlowDown, retried by the SDK): the window halves.
    let bucket = unique_bucket("throttled");
    create_bucket(&s3(), &bucket).await;
    proxy.clear_faults();
    proxy.inject(Fault::server_error("PUT", ".js", 503).every(10).transient());
    let to = format!("s3://{bucket}");
    let run = spadeploy(&push_args(dir, &to, &proxy.url, &[]), None);
    run.assert_ok();
    let transfers = run.json()["transfers"].clone();
    assert!(
        transfers["throttled"].as_u64().unwrap() >= 30,
        "{transfers}"
    );
    assert!(
        transfers["end"].as_u64().unwrap() < transfers["start"].as_u64().unwrap(),
        "{transfers}"
    );

    // A concurrency the user set is never exceeded.
    let bucket = unique_bucket("fixed");
    create_bucket(&s3(), &bucket).await;
    proxy.clear_faults();
    proxy.take();
    let to = format!("s3://{bucket}");
    let run = spadeploy(
        &push_args(dir, &to, &proxy.url, &["--concurrency", "8"]),
        None,
    );
    run.assert_ok();
    assert_eq!(run.json()["transfers"]["peak"], 8);
    assert!(peak_in_flight(&proxy.take(), "PUT") <= 8);
}

/// s3s-fs, among others, lists objects without their ETags: the live record's change token then
/// comes from reading it, so a push is planned once, not again under the lock every time.
#[tokio::test]
async fn a_store_that_lists_no_etags_is_planned_once() {
    let bucket = unique_bucket("noetags");
    create_bucket(&s3(), &bucket).await;
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::new(
        "GET",
        &format!("/{bucket}/"),
        FaultAction::DropElement("ETag"),
    ));
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&demo_spa(), tmp.path());
    let (dir, to) = (tmp.path().to_str().unwrap(), format!("s3://{bucket}"));
    spadeploy(&push_args(dir, &to, &proxy.url, &[]), None).assert_ok();
    proxy.take();

    write(tmp.path(), "index.html", "<h1>v2</h1>");
    let changed = spadeploy(&push_args(dir, &to, &proxy.url, &[]), None);
    changed.assert_ok();
    let requests = proxy.take();
    let listings = |requests: &[Recorded]| {
        requests
            .iter()
            .filter(|r| r.query.contains("list-type=2"))
            .count()
    };
    assert!(
        !requests
            .iter()
            .any(|r| r.path.ends_with(".spadeploy/progress.json")),
        "the push was planned again under the lock"
    );
    let once = listings(&requests);
    spadeploy(&push_args(dir, &to, &proxy.url, &[]), None).assert_ok();
    let again = proxy.take();
    assert!(
        again.iter().all(|r| !r.is_write()),
        "a no-op writes nothing"
    );
    assert_eq!(once, listings(&again), "the changed push listed once");
}

/// A push that changes the site waits for no lock of its own: it takes it while it lists the
/// target, its assets go in one wave,
/// the confirmation before the index is read while the last assets go, the one before the live
/// pointer while the index goes; the release's history copy, the live pointer and the deletes
/// go together; the lock is given back last.
#[tokio::test]
async fn a_rebuild_confirms_its_lock_beside_its_writes() {
    let bucket = unique_bucket("rebuildpath");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let build = |version: usize| {
        std::fs::remove_dir_all(tmp.path().join("assets")).ok();
        for i in 0..30 {
            // A third of the assets get new names in each version.
            let hash = if i % 3 == 0 { version } else { 0 };
            write(
                tmp.path(),
                &format!("assets/chunk-{i:02}-{hash:08x}.js"),
                format!("c{i}/{hash}"),
            );
        }
        write(tmp.path(), "index.html", format!("<h1>v{version}</h1>"));
    };
    build(1);
    let (dir, to) = (tmp.path().to_str().unwrap(), format!("s3://{bucket}"));
    let now = ["--keep-releases", "1"];
    spadeploy(&push_args(dir, &to, &moto(), &now), None).assert_ok();
    // A second release records that the store honours the lock's conditional create, so the
    // traced push takes its lock while it lists the target.
    build(3);
    spadeploy(&push_args(dir, &to, &moto(), &now), None).assert_ok();

    build(2);
    // Every request is 150 ms away, so what runs together and what waits is plain in the log,
    // whatever the emulator's own time under load.
    // The listing takes three times as long, as a listing of many keys (with the build's
    // hashing beside it) takes longer than one small read.
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::new(
        "GET",
        &format!("/{bucket}/"),
        FaultAction::Stall(std::time::Duration::from_millis(450)),
    ));
    proxy.inject(Fault::new(
        "*",
        "",
        FaultAction::Stall(std::time::Duration::from_millis(150)),
    ));
    spadeploy(&push_args(dir, &to, &proxy.url, &now), None).assert_ok();
    let log = proxy.take();
    let find = |method: &str, suffix: &str| -> Vec<&Recorded> {
        log.iter()
            .filter(|r| {
                r.method == method && (r.path.ends_with(suffix) || r.query.contains(suffix))
            })
            .collect()
    };
    let assets = find("PUT", ".js");
    let index = find("PUT", "/index.html")[0];
    let history = find("PUT", ".json")
        .into_iter()
        .find(|r| r.path.contains("/.spadeploy/releases/"))
        .unwrap();
    let live = find("PUT", "/.spadeploy/live.json")[0];
    let deletes = find("POST", "delete")[0];
    let release = find("DELETE", "/.spadeploy/lock.json")[0];
    let confirms = find("GET", "/.spadeploy/lock.json");
    let assets_done = assets.iter().map(|r| r.finished).max().unwrap();
    let first_asset_done = assets.iter().map(|r| r.finished).min().unwrap();

    assert_eq!(assets.len(), 10);
    assert!(
        assets.iter().all(|a| a.started < first_asset_done),
        "the assets go in one wave"
    );
    assert!(
        index.started >= assets_done,
        "the index waits for every asset"
    );
    assert!(
        confirms
            .iter()
            .any(|c| c.started < assets_done && c.finished <= index.started),
        "the lock is confirmed while the assets go"
    );
    assert!(
        confirms
            .iter()
            .any(|c| c.started < index.finished && c.finished <= live.started),
        "the lock is confirmed while the index goes"
    );
    for (what, write) in [("history copy", history), ("live pointer", live)] {
        assert!(
            index.finished <= write.started,
            "the {what} after the index"
        );
    }
    assert!(
        index.finished <= deletes.started,
        "nothing is deleted before the index"
    );
    let together = |a: &Recorded, b: &Recorded| a.started < b.finished && b.started < a.finished;
    assert!(
        together(history, live) && together(live, deletes),
        "the history copy, the live pointer and the deletes go together"
    );
    assert!(release.started >= live.finished.max(deletes.finished).max(history.finished));
    let listed = listing_answered(&log);
    let locked = find("PUT", "/.spadeploy/lock.json")[0];
    assert!(
        locked.finished <= assets[0].started,
        "the lock before any asset"
    );
    assert!(
        locked.started < listed,
        "the lock is taken while the target is listed"
    );
    // The live record, then the lock (both within the listing's time), assets, index, history
    // with live pointer and deletes, lock release: six links, as before the lock moved, but the
    // lock's two no longer add to the wall time; plus a confirmation read again where the step
    // before outlasted it (the emulator under load can take a few hundred ms over one PUT).
    let rereads = confirms
        .iter()
        .filter(|c| {
            (c.started >= assets_done && c.finished <= index.started)
                || (c.started >= index.finished && c.finished <= live.started)
        })
        .count();
    assert_eq!(critical_path(&log), 6 + rereads, "{}", timeline(&log));
    // With one release kept there is nothing to roll back to: the replaced index was not
    // copied aside, so the next push has nothing to expire and writes nothing.
    assert!(!log.iter().any(|r| r.path.contains("/.spadeploy/blobs/")));
    proxy.clear_faults();
    spadeploy(&push_args(dir, &to, &proxy.url, &now), None).assert_ok();
    assert!(
        proxy.take().iter().all(|r| !r.is_write()),
        "a no-op writes nothing"
    );
}

/// Uploads are signed with the SHA-256 the plan was made from (`x-amz-content-sha256`), not a
/// second hash of each body: a file edited between the scan and its upload goes up under the
/// hash it was planned with, which S3 checks against the bytes and refuses (moto does not check).
#[tokio::test]
async fn uploads_are_signed_with_the_hash_the_plan_was_made_from() {
    let bucket = unique_bucket("knownhash");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "<h1>scanned</h1>");
    write(tmp.path(), "app.js", "scanned");
    let proxy = Proxy::start(&moto());
    // The listing is slow, so the file changes after it was hashed and before it is sent.
    proxy.inject(Fault::new(
        "GET",
        &format!("/{bucket}/"),
        FaultAction::Stall(std::time::Duration::from_secs(3)),
    ));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_spadeploy"))
        .args(push_args(
            tmp.path().to_str().unwrap(),
            &format!("s3://{bucket}"),
            &proxy.url,
            &[],
        ))
        .envs([
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    write(tmp.path(), "app.js", "CHANGED");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = proxy.take();
    let put = log
        .iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/app.js"))
        .unwrap();
    assert_eq!(
        put.content_sha256.as_deref(),
        Some(sha256_hex(b"scanned").as_str())
    );
}
