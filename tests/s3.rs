//! `spadeploy push` against moto's S3, run as the built binary. Results are observed through the
//! S3 API and through a recording proxy that sees every request spadeploy makes.

#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;

use support::proxy::{critical_path, timeline, Fault, FaultAction, Proxy, Recorded};
use support::*;

fn push_args<'a>(dir: &'a str, to: &'a str, endpoint: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "push",
        dir,
        "--to",
        to,
        "--endpoint-url",
        endpoint,
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    args
}

fn keys(list: &serde_json::Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e.get("key").unwrap_or(e).as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn cold_push_uploads_with_headers_and_a_second_push_writes_nothing() {
    let client = s3();
    let bucket = unique_bucket("cold");
    create_bucket(&client, &bucket).await;
    let proxy = Proxy::start(&moto());
    let demo = demo_spa();
    let to = format!("s3://{bucket}/app");

    let run = spadeploy(
        &push_args(demo.to_str().unwrap(), &to, &proxy.url, &[]),
        None,
    );
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["target"], format!("s3://{bucket}/app/"));
    assert_eq!(report["upload"].as_array().unwrap().len(), 7);
    assert_eq!(report["update"].as_array().unwrap().len(), 0);
    assert_eq!(report["delete"].as_array().unwrap().len(), 0);
    assert_eq!(report["unchanged"], 0);
    let total: u64 = report["upload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["size"].as_u64().unwrap())
        .sum();
    assert_eq!(report["bytes_uploaded"].as_u64().unwrap(), total);
    for entry in report["upload"].as_array().unwrap() {
        for field in ["key", "size", "content_type", "cache_control", "reason"] {
            assert!(
                !entry[field].is_null(),
                "upload entries carry {field}: {entry}"
            );
        }
    }

    // Ordering on the wire: every asset before any HTML, the root index.html last of the files.
    let requests = proxy.take();
    let puts: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "PUT" && !r.path.ends_with("/.spadeploy/lock.json"))
        .map(|r| r.path.as_str())
        .collect();
    let index_at = puts
        .iter()
        .position(|p| p.ends_with("/app/index.html"))
        .unwrap();
    let release_at = puts
        .iter()
        .position(|p| p.contains("/app/.spadeploy/releases/"))
        .unwrap();
    assert_eq!(index_at, 6, "index.html is the last file written: {puts:?}");
    assert!(
        puts[7..release_at]
            .iter()
            .all(|p| p.contains("/app/.spadeploy/blobs/")),
        "then copies kept for rollback: {puts:?}"
    );
    assert_eq!(
        release_at,
        puts.len() - 2,
        "then the release record: {puts:?}"
    );
    assert!(
        puts[puts.len() - 1].ends_with("/app/.spadeploy/live.json"),
        "and the live pointer last: {puts:?}"
    );

    let index = get(&client, &bucket, "app/index.html").await;
    assert_eq!(index.content_type, "text/html; charset=utf-8");
    assert_eq!(index.cache_control, "no-cache");
    assert_eq!(index.sha256_metadata, sha256_hex(&index.body));
    assert_eq!(index.body, std::fs::read(demo.join("index.html")).unwrap());
    let wasm_key = report["upload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .find(|k| k.ends_with(".wasm"))
        .unwrap()
        .to_string();
    let wasm = get(&client, &bucket, &format!("app/{wasm_key}")).await;
    assert_eq!(wasm.content_type, "application/wasm");
    assert_eq!(wasm.cache_control, "public, max-age=31536000, immutable");
    let manifest = get(&client, &bucket, "app/manifest.webmanifest").await;
    assert_eq!(manifest.content_type, "application/manifest+json");
    assert_eq!(manifest.cache_control, "public, max-age=300");

    let before = snapshot(&client, &bucket).await;
    let again = spadeploy(
        &push_args(demo.to_str().unwrap(), &to, &proxy.url, &[]),
        None,
    );
    again.assert_ok();
    let report = again.json();
    assert_eq!(report["bytes_uploaded"], 0);
    assert_eq!(report["unchanged"], 7);
    assert!(report["upload"].as_array().unwrap().is_empty());
    let requests = proxy.take();
    let writes: Vec<_> = requests.iter().filter(|r| r.is_write()).collect();
    assert!(
        writes.is_empty(),
        "a no-op push makes zero write requests: {writes:?}"
    );
    assert_eq!(
        requests.len(),
        2,
        "one listing page and one record read: {requests:?}"
    );
    assert_eq!(snapshot(&client, &bucket).await, before);
}

#[tokio::test]
async fn changed_added_and_removed_files_are_synced_and_reported() {
    let client = s3();
    let bucket = unique_bucket("change");
    create_bucket(&client, &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&demo_spa(), dir);
    let endpoint = moto();
    let to = format!("s3://{bucket}");
    let dir_arg = dir.to_str().unwrap();
    let now = ["--keep-releases", "1"];
    spadeploy(&push_args(dir_arg, &to, &endpoint, &now), None).assert_ok();

    write(dir, "robots.txt", "User-agent: *\nDisallow: /admin\n");
    write(dir, "assets/chunk-9f86d081.js", "export const x = 1;\n");
    std::fs::remove_file(dir.join("favicon.ico")).unwrap();
    let run = spadeploy(&push_args(dir_arg, &to, &endpoint, &now), None);
    run.assert_ok();
    let report = run.json();
    assert_eq!(keys(&report["upload"]), set(&["assets/chunk-9f86d081.js"]));
    assert_eq!(keys(&report["update"]), set(&["robots.txt"]));
    assert_eq!(report["update"][0]["reason"], "content changed");
    assert_eq!(keys(&report["delete"]), set(&["favicon.ico"]));
    assert_eq!(report["unchanged"], 5);

    let now = snapshot(&client, &bucket).await;
    assert!(!now.contains_key("favicon.ico"));
    assert_eq!(now["robots.txt"].1, b"User-agent: *\nDisallow: /admin\n");
    assert_eq!(
        get(&client, &bucket, "assets/chunk-9f86d081.js")
            .await
            .cache_control,
        "public, max-age=31536000, immutable"
    );
    assert!(
        now.contains_key(".spadeploy/live.json"),
        "the record is kept: {:?}",
        now.keys()
    );

    // --no-delete keeps what left the build.
    std::fs::remove_file(dir.join("robots.txt")).unwrap();
    let run = spadeploy(
        &push_args(
            dir_arg,
            &to,
            &endpoint,
            &["--no-delete", "--keep-releases", "1"],
        ),
        None,
    );
    run.assert_ok();
    assert!(run.json()["delete"].as_array().unwrap().is_empty());
    assert_eq!(run.json()["kept"][0]["key"], "robots.txt");
    assert!(snapshot(&client, &bucket).await.contains_key("robots.txt"));
}

#[tokio::test]
async fn a_header_rule_change_rewrites_metadata_without_sending_bytes() {
    let client = s3();
    let bucket = unique_bucket("headers");
    create_bucket(&client, &bucket).await;
    let proxy = Proxy::start(&moto());
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_spa();
    let to = format!("s3://{bucket}/site");
    let args = push_args(demo.to_str().unwrap(), &to, &proxy.url, &[]);
    spadeploy(&args, Some(tmp.path())).assert_ok();
    let before = get(&client, &bucket, "site/favicon.ico").await;
    proxy.take();

    write(
        tmp.path(),
        "spadeploy.toml",
        "[[rules]]\nglob = \"*.ico\"\ncache_control = \"public, max-age=86400\"\n",
    );
    let run = spadeploy(&args, Some(tmp.path()));
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["bytes_uploaded"], 0);
    assert_eq!(keys(&report["update"]), set(&["favicon.ico"]));
    assert_eq!(report["update"][0]["sends_content"], false);
    assert!(report["update"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("cache-control: public, max-age=300 → public, max-age=86400"));

    let attempts: Vec<_> = proxy.take().into_iter().filter(|r| r.is_write()).collect();
    assert!(
        attempts
            .iter()
            .any(|r| r.status == 412 && r.path.ends_with("/.spadeploy/lock.json")),
        "the lock is written again to check that the store refuses it: {attempts:?}"
    );
    // The writes that took effect.
    let all: Vec<_> = attempts.into_iter().filter(|r| r.status < 300).collect();
    assert!(
        all[0].path.ends_with("/.spadeploy/lock.json"),
        "the lock comes first: {all:?}"
    );
    let last = all.last().unwrap();
    assert!(
        last.method == "DELETE" && last.path.ends_with("/.spadeploy/lock.json"),
        "and is released last, conditionally on being still ours: {last:?}"
    );
    let writes = &all[1..all.len() - 1];
    assert_eq!(
        writes.len(),
        3,
        "one copy + the release record + the live pointer: {writes:?}"
    );
    assert!(writes[0].copy_source && writes[0].path.ends_with("/site/favicon.ico"));
    assert_eq!(writes[0].body_bytes, 0, "the copy re-sends no bytes");
    assert!(writes[1].path.contains("/site/.spadeploy/releases/"));
    assert!(writes[2].path.ends_with("/site/.spadeploy/live.json"));

    let after = get(&client, &bucket, "site/favicon.ico").await;
    assert_eq!(after.cache_control, "public, max-age=86400");
    assert_eq!(after.content_type, "image/x-icon");
    assert_eq!(after.body, before.body);
    assert_eq!(after.sha256_metadata, before.sha256_metadata);

    // And the next push sees nothing to do.
    let run = spadeploy(&args, Some(tmp.path()));
    assert_eq!(run.json()["unchanged"], 7);
}

#[tokio::test]
async fn a_prefix_push_never_touches_keys_outside_its_prefix() {
    let client = s3();
    let bucket = unique_bucket("prefix");
    create_bucket(&client, &bucket).await;
    for key in [
        "app2/index.html",
        "other/data.json",
        "app-old.txt",
        "root.txt",
    ] {
        client
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(key.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let before = snapshot(&client, &bucket).await;
    let endpoint = moto();
    let demo = demo_spa();
    let to = format!("s3://{bucket}/app");
    let run = spadeploy(
        &push_args(demo.to_str().unwrap(), &to, &endpoint, &[]),
        None,
    );
    run.assert_ok();
    assert!(run.json()["delete"].as_array().unwrap().is_empty());

    // A build without most files: deletes stay under app/.
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "<h1>v2</h1>");
    let run = spadeploy(
        &push_args(
            tmp.path().to_str().unwrap(),
            &to,
            &endpoint,
            &["--keep-releases", "1", "--allow-mass-delete"],
        ),
        None,
    );
    run.assert_ok();
    assert_eq!(run.json()["delete"].as_array().unwrap().len(), 6);
    let after = snapshot(&client, &bucket).await;
    for (key, value) in &before {
        assert_eq!(
            after.get(key),
            Some(value),
            "{key} outside the prefix is untouched"
        );
    }
    let app: Vec<_> = after
        .keys()
        .filter(|k| k.starts_with("app/") && !k.starts_with("app/.spadeploy/"))
        .collect();
    assert_eq!(app, ["app/index.html"]);
}

#[tokio::test]
async fn dry_run_and_diff_change_nothing_and_gate_on_exit_code() {
    let client = s3();
    let bucket = unique_bucket("dryrun");
    create_bucket(&client, &bucket).await;
    let proxy = Proxy::start(&moto());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&demo_spa(), dir);
    let to = format!("s3://{bucket}");
    let dir_arg = dir.to_str().unwrap();
    let now = ["--keep-releases", "1"];
    spadeploy(&push_args(dir_arg, &to, &proxy.url, &now), None).assert_ok();

    write(dir, "index.html", "<h1>new</h1>");
    write(dir, "new.txt", "new");
    std::fs::remove_file(dir.join("robots.txt")).unwrap();
    let before = snapshot(&client, &bucket).await;
    proxy.take();

    let dry = spadeploy(
        &push_args(
            dir_arg,
            &to,
            &proxy.url,
            &["--dry-run", "--keep-releases", "1"],
        ),
        None,
    );
    dry.assert_ok();
    let report = dry.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(keys(&report["upload"]), set(&["new.txt"]));
    assert_eq!(keys(&report["update"]), set(&["index.html"]));
    assert_eq!(keys(&report["delete"]), set(&["robots.txt"]));
    assert_eq!(report["bytes_uploaded"], 0);

    let diff = spadeploy(
        &[
            "diff",
            dir_arg,
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--exit-code",
            "-q",
            "--keep-releases",
            "1",
        ],
        None,
    );
    assert_eq!(diff.code, 2, "changes pending: {}", diff.stderr);
    assert!(
        diff.stdout.contains("Plan (dry run, nothing was changed)"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("removed from build"),
        "{}",
        diff.stdout
    );

    let writes: Vec<_> = proxy.take().into_iter().filter(|r| r.is_write()).collect();
    assert!(
        writes.is_empty(),
        "dry runs make no write request: {writes:?}"
    );
    assert_eq!(
        snapshot(&client, &bucket).await,
        before,
        "the bucket is byte-identical"
    );

    // The push then does exactly what the dry run said.
    let push = spadeploy(&push_args(dir_arg, &to, &proxy.url, &now), None);
    let pushed = push.json();
    for field in ["upload", "update", "delete"] {
        assert_eq!(keys(&pushed[field]), keys(&report[field]), "{field}");
    }
    let diff = spadeploy(
        &[
            "diff",
            dir_arg,
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--exit-code",
            "-q",
        ],
        None,
    );
    assert_eq!(diff.code, 0, "no changes after the push: {}", diff.stdout);
}

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
async fn a_failed_push_keeps_the_live_site_and_a_rerun_finishes_it() {
    let client = s3();
    let bucket = unique_bucket("interrupted");
    create_bucket(&client, &bucket).await;
    let proxy = Proxy::start(&moto());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&demo_spa(), dir);
    let to = format!("s3://{bucket}");
    let dir_arg = dir.to_str().unwrap();
    let now = ["--keep-releases", "1"];
    spadeploy(&push_args(dir_arg, &to, &proxy.url, &now), None).assert_ok();
    let old_index = get(&client, &bucket, "index.html").await.body;

    // v2: new assets, a new index, robots.txt gone; writing index.html is denied.
    write(dir, "assets/app-5e884898.js", "console.log('v2')");
    write(
        dir,
        "index.html",
        "<script src=/assets/app-5e884898.js></script>",
    );
    std::fs::remove_file(dir.join("robots.txt")).unwrap();
    proxy.inject(Fault::access_denied("PUT", "/index.html"));
    let failed = spadeploy(&push_args(dir_arg, &to, &proxy.url, &now), None);
    failed.assert_fails_with(1, "s3:PutObject");
    failed.assert_fails_with(1, &format!("arn:aws:s3:::{bucket}/index.html"));
    failed.assert_fails_with(1, "still serves the previous version");
    assert_eq!(
        failed.json()["ok"],
        false,
        "--json reports the failure as a document too"
    );

    let live = snapshot(&client, &bucket).await;
    assert_eq!(
        live["index.html"].1, old_index,
        "the live index was not replaced"
    );
    assert!(live.contains_key("robots.txt"), "nothing was deleted");
    assert!(
        live.contains_key("assets/app-5e884898.js"),
        "assets went first"
    );

    proxy.clear_faults();
    proxy.take();
    let rerun = spadeploy(&push_args(dir_arg, &to, &proxy.url, &now), None);
    rerun.assert_ok();
    let report = rerun.json();
    assert!(
        report["upload"].as_array().unwrap().is_empty(),
        "landed files are not re-sent: {report}"
    );
    assert_eq!(keys(&report["update"]), set(&["index.html"]));
    assert_eq!(keys(&report["delete"]), set(&["robots.txt"]));
    let live = snapshot(&client, &bucket).await;
    assert_eq!(
        live["index.html"].1,
        b"<script src=/assets/app-5e884898.js></script>"
    );
    assert!(!live.contains_key("robots.txt"));
}

#[tokio::test]
async fn a_denied_listing_names_the_action_and_the_bucket() {
    let bucket = unique_bucket("denied");
    create_bucket(&s3(), &bucket).await;
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::access_denied("GET", &format!("/{bucket}/")));
    let demo = demo_spa();
    let run = spadeploy(
        &push_args(
            demo.to_str().unwrap(),
            &format!("s3://{bucket}"),
            &proxy.url,
            &[],
        ),
        None,
    );
    run.assert_fails_with(1, "access denied");
    run.assert_fails_with(1, &format!("s3:ListBucket on arn:aws:s3:::{bucket}"));
    assert!(proxy.take().iter().all(|r| !r.is_write()));
}

#[test]
fn a_missing_bucket_is_named() {
    let bucket = unique_bucket("missing");
    let demo = demo_spa();
    let run = spadeploy(
        &push_args(
            demo.to_str().unwrap(),
            &format!("s3://{bucket}"),
            &moto(),
            &[],
        ),
        None,
    );
    run.assert_fails_with(1, &format!("bucket `{bucket}` does not exist"));
}

#[test]
fn an_unreachable_endpoint_is_reported_after_retries() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let demo = demo_spa();
    let run = spadeploy(
        &push_args(demo.to_str().unwrap(), "s3://some-bucket", &endpoint, &[]),
        None,
    );
    run.assert_fails_with(
        1,
        &format!("cannot reach {endpoint} (gave up after 4 attempts)"),
    );
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

/// In flight at once, at its busiest, among `requests` matching `method`.
fn peak_in_flight(requests: &[support::proxy::Recorded], method: &str) -> usize {
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
    proxy.inject(support::proxy::Fault::new(
        "PUT",
        ".js",
        support::proxy::FaultAction::Stall(std::time::Duration::from_millis(20)),
    ));
    let to = format!("s3://{bucket}");
    let run = spadeploy(&push_args(dir, &to, &proxy.url, &[]), None);
    run.assert_ok();
    let transfers = run.json()["transfers"].clone();
    assert_eq!(transfers["start"], 64);
    assert!(transfers["peak"].as_u64().unwrap() > 64, "{transfers}");
    assert_eq!(transfers["throttled"], 0);
    assert!(peak_in_flight(&proxy.take(), "PUT") > 64);

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

/// A push that changes the site waits for no lock check of its own: the confirmation before the
/// index is read while the last assets go; the history copy is written while the lock is
/// confirmed again; the live pointer and the deletes go together; the lock is given back last.
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

    build(2);
    // Every request is 150 ms away, so what runs together and what waits is plain in the log,
    // whatever the emulator's own time under load.
    let proxy = Proxy::start(&moto());
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

    assert_eq!(assets.len(), 10);
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
            .any(|c| c.started < history.finished && c.finished <= live.started),
        "the lock is confirmed while the history copy is written"
    );
    assert!(
        history.finished <= live.started,
        "history before the live pointer"
    );
    assert!(
        index.finished <= deletes.started,
        "nothing is deleted before the index"
    );
    assert!(
        live.started < deletes.finished && deletes.started < live.finished,
        "the live pointer and the deletes go together"
    );
    assert!(release.started >= live.finished.max(deletes.finished));
    // Listing, lock, assets, index, history, live pointer with deletes, lock release; plus a
    // confirmation read again where the step before outlasted it (the emulator under load can
    // take a few hundred ms over one PUT).
    let rereads = confirms
        .iter()
        .filter(|c| {
            (c.started >= assets_done && c.finished <= index.started)
                || (c.started >= history.finished && c.finished <= live.started)
        })
        .count();
    assert_eq!(critical_path(&log), 7 + rereads, "{}", timeline(&log));
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
