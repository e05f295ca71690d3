//! The deploy lock against moto: concurrent pushes, a holder that is killed or whose lock is
//! broken, an expired lock taken over, and stores that ignore conditional writes or deletes. After
//! each, the target is the old release or the new one, never a mix, and a re-run converges.

use crate::safety::{assert_serves, build, exists, push, site, tree};
use crate::support::proxy::{listing_answered, lock_written, Fault, FaultAction, Proxy};
use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a push in the background (as `user`), its stderr captured.
fn spawn_push(dir: &Path, bucket: &str, endpoint: &str, user: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_spadeploy"))
        .args([
            "push",
            dir.to_str().unwrap(),
            "--to",
            &format!("s3://{bucket}"),
        ])
        .args(["--endpoint-url", endpoint, "-q"])
        .envs([
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("USER", user),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn two_concurrent_pushes_one_wins_the_other_is_refused_with_the_holders_name() {
    let bucket = unique_bucket("race");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build(&a, 1);
    build(&b, 2);
    let proxy = Proxy::start(&moto());
    // Push A lingers on its index.html, holding the lock.
    proxy.inject(Fault::new(
        "PUT",
        "/index.html",
        FaultAction::Stall(Duration::from_secs(3)),
    ));
    let first = spawn_push(&a, &bucket, &proxy.url, "first-deployer");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !exists(&bucket, ".spadeploy/lock.json").await {
        assert!(
            Instant::now() < deadline,
            "the first push never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = push(&b, &bucket, &proxy.url, &[]);
    second.assert_fails_with(1, "another deploy holds the lock");
    second.assert_fails_with(1, "first-deployer");
    second.assert_fails_with(1, "spadeploy push");
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        site(&bucket).await,
        tree(&a),
        "exactly the winner's files, nothing interleaved"
    );
    assert!(
        !exists(&bucket, ".spadeploy/lock.json").await,
        "the lock is released"
    );
}

#[tokio::test]
async fn a_deploy_that_finishes_while_another_waits_for_the_lock_makes_it_plan_again() {
    let bucket = unique_bucket("replan");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build(&a, 1);
    push(&a, &bucket, &moto(), &[]).assert_ok();
    // A changes only its favicon; B is a whole new release.
    write(&a, "favicon.ico", "icon of A");
    build(&b, 2);

    // A reads the target, then waits at the lock while B deploys from start to finish.
    let slow = Proxy::start(&moto());
    slow.inject(
        Fault::new(
            "PUT",
            "/.spadeploy/lock.json",
            FaultAction::Stall(Duration::from_secs(8)),
        )
        .times(2),
    );
    let first = spawn_push(&a, &bucket, &slow.url, "waiting-deployer");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !slow.take().iter().any(|r| r.query.contains("list-type=2")) {
        assert!(Instant::now() < deadline, "A never listed the target");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    push(&b, &bucket, &moto(), &[]).assert_ok();
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A's plan (one favicon) was made before B; under the lock A sees B's release and plans
    // again, so every file of A's build is served (B's assets stay only for open tabs).
    assert_serves(&bucket, &tree(&a), "A's build, index.html included").await;
}

#[tokio::test]
async fn on_a_store_that_ignores_conditional_writes_the_lock_says_so_and_still_sees_a_holder() {
    let bucket = unique_bucket("nocond");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("build");
    let proxy = Proxy::start(&moto());
    const WARNING: &str = "ignores conditional writes (If-None-Match)";
    build(&dir, 1);
    let honoured = push(&dir, &bucket, &proxy.url, &[]);
    honoured.assert_ok();
    let warnings = honoured.json()["warnings"].to_string();
    assert!(!warnings.contains(WARNING), "moto honours it: {warnings}");

    proxy.inject(Fault::new(
        "PUT",
        "/.spadeploy/lock.json",
        FaultAction::StripHeader("if-none-match"),
    ));
    build(&dir, 2);
    let ignored = push(&dir, &bucket, &proxy.url, &[]);
    ignored.assert_ok();
    let warnings = ignored.json()["warnings"].to_string();
    assert!(
        warnings.contains(WARNING) && warnings.contains("one deploy at a time"),
        "{warnings}"
    );
    let release_2 = tree(&dir);

    // A lock that is visible before the write is still respected.
    plant_holders_lock(&bucket).await;
    build(&dir, 3);
    push(&dir, &bucket, &proxy.url, &[])
        .assert_fails_with(1, "another deploy holds the lock")
        .assert_fails_with(1, "other-deployer");
    assert_serves(&bucket, &release_2, "release 2").await;

    // Without a holder, the lock is written only once the listing has shown none, never
    // beside it: on such a store the write would replace a holder's lock unseen.
    s3().delete_object()
        .bucket(&bucket)
        .key(".spadeploy/lock.json")
        .send()
        .await
        .unwrap();
    proxy.take();
    build(&dir, 4);
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
    let log = proxy.take();
    let (listed, locked) = (listing_answered(&log), lock_written(&log));
    assert!(locked > listed, "the lock is written after the listing");
    assert_serves(&bucket, &tree(&dir), "release 4").await;
}

#[tokio::test]
async fn a_killed_push_leaves_the_old_release_and_the_next_one_breaks_the_lock() {
    let bucket = unique_bucket("killed");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    let v1 = tree(&dir);
    let proxy = Proxy::start(&moto());
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();

    let v2_assets = build(&dir, 2);
    proxy.inject(Fault::new(
        "PUT",
        &v2_assets[1],
        FaultAction::Stall(Duration::from_secs(30)),
    ));
    proxy.take();
    let to = format!("s3://{bucket}");
    let mut child = spawn_push(&dir, &bucket, &proxy.url, "killed-deployer");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !proxy.take().iter().any(|r| r.path.ends_with(&v2_assets[0])) {
        assert!(
            Instant::now() < deadline,
            "the push never reached its uploads"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    assert_serves(&bucket, &v1, "the previous release, intact").await;
    proxy.clear_faults();
    let blocked = push(&dir, &bucket, &proxy.url, &[]);
    blocked.assert_fails_with(1, "pass --break-lock if it is dead");
    let rerun = spadeploy(
        &[
            "push",
            dir.to_str().unwrap(),
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--break-lock",
        ],
        None,
    );
    rerun.assert_ok();
    assert!(
        rerun.stderr.contains("took over the deploy lock held by"),
        "{}",
        rerun.stderr
    );
    assert_serves(&bucket, &tree(&dir), "the new release").await;
}

/// Every `/assets/…` the live index references exists in the bucket.
/// Another deployer's unexpired lock, written straight to the bucket; returns what was written.
async fn plant_holders_lock(bucket: &str) -> serde_json::Value {
    let holder = serde_json::json!({
        "id": "other", "owner": "other-deployer", "host": "ci-7", "pid": 7,
        "command": "spadeploy push", "started_at": "2026-11-25T10:00:00Z",
        "expires_at": 4_000_000_000u64, "run_url": null
    });
    s3().put_object()
        .bucket(bucket)
        .key(".spadeploy/lock.json")
        .body(holder.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    holder
}

async fn assert_index_references_exist(bucket: &str) {
    let index = String::from_utf8(get(&s3(), bucket, "index.html").await.body).unwrap();
    for reference in index
        .split(['=', '>'])
        .filter(|p| p.starts_with("/assets/"))
    {
        assert!(
            exists(bucket, &reference[1..]).await,
            "the live index references {reference}, which is gone:\n{index}"
        );
    }
}

#[tokio::test]
async fn a_holder_whose_lock_was_broken_stops_before_the_index() {
    let bucket = unique_bucket("broken");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build(&a, 1);
    push(&a, &bucket, &moto(), &[]).assert_ok();
    let a_assets = build(&a, 2);
    build(&b, 3);

    // A is slowed on its second asset, holding the lock; B breaks it and deploys meanwhile.
    let slow = Proxy::start(&moto());
    slow.inject(Fault::new(
        "PUT",
        &a_assets[1],
        FaultAction::Stall(Duration::from_secs(4)),
    ));
    let first = spawn_push(&a, &bucket, &slow.url, "slow-deployer");
    let deadline = Instant::now() + Duration::from_secs(20);
    // The proxy logs a request once answered: A's first asset is, so its second is stalled.
    while !slow.take().iter().any(|r| r.path.ends_with(&a_assets[0])) {
        assert!(Instant::now() < deadline, "A never reached its assets");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = push(&b, &bucket, &moto(), &["--break-lock"]);
    let out = first.wait_with_output().unwrap();
    let first_stderr = String::from_utf8_lossy(&out.stderr);

    second.assert_ok();
    assert!(
        !out.status.success(),
        "exactly one push may report success; A said: {first_stderr}"
    );
    assert!(
        first_stderr.contains("the deploy lock was taken over"),
        "{first_stderr}"
    );
    assert_serves(&bucket, &tree(&b), "B's release, untouched by A").await;
    assert_index_references_exist(&bucket).await;
}

#[tokio::test]
async fn taking_over_an_expired_lock_is_refused_when_it_changed_since_it_was_read() {
    let bucket = unique_bucket("takeover");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    // A lock left behind; the proxy answers the conditional replacements (both of them: spadeploy
    // sends the write twice at once) as S3 does when another deploy replaced the lock between our
    // read and our write.
    s3().put_object()
        .bucket(&bucket)
        .key(".spadeploy/lock.json")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::precondition_failed_once("PUT", "/.spadeploy/lock.json").times(2));
    push(&dir, &bucket, &proxy.url, &["--break-lock"])
        .assert_fails_with(1, "another deploy holds the lock");
    let writes: Vec<_> = proxy
        .take()
        .into_iter()
        .filter(super::support::proxy::Recorded::is_write)
        .collect();
    assert!(
        writes.iter().all(|w| w.method != "DELETE"),
        "the lock is replaced conditionally, never deleted first: {writes:?}"
    );
    assert_eq!(
        get(&s3(), &bucket, ".spadeploy/lock.json").await.body,
        b"{}",
        "the other lock is left alone"
    );
}

#[tokio::test]
async fn a_store_without_conditional_deletes_still_gets_its_lock_back() {
    let bucket = unique_bucket("nocondel");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    let proxy = Proxy::start(&moto());
    proxy.inject(
        Fault::new(
            "DELETE",
            "/.spadeploy/lock.json",
            FaultAction::Respond {
                status: 501,
                body: "<Error><Code>NotImplemented</Code><Message>If-Match</Message></Error>"
                    .into(),
            },
        )
        .times(1),
    );
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
    assert!(
        !exists(&bucket, ".spadeploy/lock.json").await,
        "released after checking it is still ours"
    );
    build(&dir, 2);
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
}

/// Once a push has seen the store honour the lock's conditional create (and list ETags), the
/// next push that changes the site takes its lock while it lists the target, not after the plan.
/// That lock is still refused by a holder; a no-op takes none.
#[tokio::test]
async fn a_push_takes_its_lock_while_listing_once_the_store_honours_it() {
    let bucket = unique_bucket("earlylock");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    push(&dir, &bucket, &moto(), &[]).assert_ok();
    build(&dir, 2);
    push(&dir, &bucket, &moto(), &[]).assert_ok();
    let live: serde_json::Value =
        serde_json::from_slice(&get(&s3(), &bucket, ".spadeploy/live.json").await.body).unwrap();
    assert_eq!(live["early_lock"], true, "moto honours If-None-Match");
    let release_2 = tree(&dir);

    // A holder's lock still stops it.
    let holder = plant_holders_lock(&bucket).await;
    build(&dir, 3);
    push(&dir, &bucket, &moto(), &[])
        .assert_fails_with(1, "another deploy holds the lock")
        .assert_fails_with(1, "other-deployer");
    assert_serves(&bucket, &release_2, "release 2").await;
    assert_eq!(
        get(&s3(), &bucket, ".spadeploy/lock.json").await.body,
        holder.to_string().into_bytes(),
        "the holder's lock is left alone"
    );
    s3().delete_object()
        .bucket(&bucket)
        .key(".spadeploy/lock.json")
        .send()
        .await
        .unwrap();

    // The listing is slow: the lock is written before it answers.
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::new(
        "GET",
        &format!("/{bucket}/"),
        FaultAction::Stall(Duration::from_millis(800)),
    ));
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
    let log = proxy.take();
    proxy.clear_faults();
    let (listed, locked) = (listing_answered(&log), lock_written(&log));
    assert!(
        locked < listed,
        "the lock is taken while the target is listed"
    );
    assert_serves(&bucket, &tree(&dir), "release 3").await;
    assert!(!exists(&bucket, ".spadeploy/lock.json").await, "given back");

    // A no-op takes no lock (the push after release 3 still expires release 1's files).
    push(&dir, &bucket, &moto(), &[]).assert_ok();
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
    let writes: Vec<_> = proxy
        .take()
        .into_iter()
        .filter(super::support::proxy::Recorded::is_write)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "a no-op writes nothing: {writes:?}");
}

/// On a store not yet known to honour the lock's conditional create (here a first push), the
/// listing is the look before the write: the lock is written as soon as the listing shows none
/// and a file it lacks, while the live record is still being read.
#[tokio::test]
async fn a_push_takes_its_lock_once_the_listing_answers_without_waiting_for_the_live_record() {
    let bucket = unique_bucket("listlock");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::new(
        "GET",
        "/.spadeploy/live.json",
        FaultAction::Stall(Duration::from_millis(800)),
    ));
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
    let log = proxy.take();
    let live_read = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/.spadeploy/live.json"))
        .map(|r| r.finished)
        .min()
        .expect("the push read the live record");
    assert!(
        lock_written(&log) < live_read,
        "the lock is written while the live record is read"
    );
    assert!(
        listing_answered(&log) < lock_written(&log),
        "after the listing showed no lock"
    );
    assert_serves(&bucket, &tree(&dir), "release 1").await;
    assert!(!exists(&bucket, ".spadeploy/lock.json").await, "given back");
}
