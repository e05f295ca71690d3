//! Safe deploys against moto: the keep-window for open browser tabs, rollback, the deploy lock,
//! the mass-delete guard, drift repair, and pushes that fail, are interrupted or killed part-way
//! (through a proxy that answers errors, drops connections or stalls). After each, the target is
//! the old release or the new one, never a mix, and a re-run converges.

#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::proxy::{Fault, FaultAction, Proxy};
use support::*;

/// A built SPA, version `n`: a hashed script and stylesheet that the index references, plus an
/// unhashed favicon. Returns the asset keys.
fn build(dir: &Path, n: u32) -> Vec<String> {
    let js = format!("console.log('release {n}');");
    let css = format!("body {{ --release: {n}; }}");
    let js_key = format!("assets/app-{}.js", &sha256_hex(js.as_bytes())[..8]);
    let css_key = format!("assets/app-{}.css", &sha256_hex(css.as_bytes())[..8]);
    let _ = std::fs::remove_dir_all(dir);
    write(dir, &js_key, &js);
    write(dir, &css_key, &css);
    write(dir, "favicon.ico", format!("icon {n}"));
    write(
        dir,
        "index.html",
        format!("<link rel=stylesheet href=/{css_key}><script src=/{js_key}></script><h1>release {n}</h1>"),
    );
    vec![js_key, css_key]
}

/// Every file of a build directory: key → sha256.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let key = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (key, sha256_hex(&std::fs::read(e.path()).unwrap()))
        })
        .collect()
}

/// The site objects in the bucket (spadeploy's state left out): key → sha256.
async fn site(bucket: &str) -> BTreeMap<String, String> {
    snapshot(&s3(), bucket)
        .await
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".spadeploy/"))
        .map(|(k, (_, body))| (k, sha256_hex(&body)))
        .collect()
}

/// Every file of `expected` (key → sha256) is served by the bucket with that content.
async fn assert_serves(bucket: &str, expected: &BTreeMap<String, String>, what: &str) {
    let live = site(bucket).await;
    for (key, sha) in expected {
        assert_eq!(
            live.get(key),
            Some(sha),
            "{key}: the bucket should serve {what}"
        );
    }
}

fn push(dir: &Path, bucket: &str, endpoint: &str, extra: &[&str]) -> Run {
    let to = format!("s3://{bucket}");
    let mut args = vec![
        "push",
        dir.to_str().unwrap(),
        "--to",
        &to,
        "--endpoint-url",
        endpoint,
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    spadeploy(&args, None)
}

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

async fn exists(bucket: &str, key: &str) -> bool {
    s3().head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn an_open_tab_keeps_its_assets_for_two_newer_releases_but_not_four() {
    let bucket = unique_bucket("window");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    let endpoint = moto();
    let first_assets = build(&dir, 1);
    push(&dir, &bucket, &endpoint, &[]).assert_ok();

    for n in 2..=3 {
        build(&dir, n);
        let run = push(&dir, &bucket, &endpoint, &[]);
        run.assert_ok();
        let kept = &run.json()["kept"];
        assert!(
            kept.as_array()
                .unwrap()
                .iter()
                .any(|k| k["why"] == "open-sessions"),
            "old assets are reported as kept for open sessions: {kept}"
        );
    }
    for key in &first_assets {
        assert!(
            exists(&bucket, key).await,
            "{key} of release 1 is still served after two newer pushes"
        );
    }
    for n in 4..=5 {
        build(&dir, n);
        push(&dir, &bucket, &endpoint, &[]).assert_ok();
    }
    for key in &first_assets {
        assert!(
            !exists(&bucket, key).await,
            "{key} of release 1 is gone after four newer pushes"
        );
    }
    let releases = spadeploy(
        &[
            "releases",
            "--to",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &endpoint,
            "--json",
        ],
        None,
    );
    let list = releases.json();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(list[4]["live"], true);
}

#[tokio::test]
async fn rollback_restores_an_earlier_release_byte_for_byte() {
    let bucket = unique_bucket("rollback");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let (v1, v2) = (tmp.path().join("v1"), tmp.path().join("v2"));
    let endpoint = moto();
    build(&v1, 1);
    build(&v2, 2);
    push(&v1, &bucket, &endpoint, &[]).assert_ok();
    push(&v2, &bucket, &endpoint, &[]).assert_ok();
    assert_eq!(site(&bucket).await["index.html"], tree(&v2)["index.html"]);

    let to = format!("s3://{bucket}");
    let dry = spadeploy(
        &[
            "rollback",
            "--to",
            &to,
            "--endpoint-url",
            &endpoint,
            "--dry-run",
            "--json",
            "-q",
        ],
        None,
    );
    dry.assert_ok();
    assert_eq!(
        site(&bucket).await["index.html"],
        tree(&v2)["index.html"],
        "a dry run restores nothing"
    );

    let run = spadeploy(
        &[
            "rollback",
            "--to",
            &to,
            "--endpoint-url",
            &endpoint,
            "--json",
            "-q",
        ],
        None,
    );
    run.assert_ok();
    let report = run.json();
    assert!(report["restored"].as_str().is_some(), "{report}");
    assert_eq!(
        report["bytes_uploaded"], 0,
        "restored from copies in the target, without the build"
    );
    assert_serves(&bucket, &tree(&v1), "release 1, byte for byte").await;
    let index = get(&s3(), &bucket, "index.html").await;
    assert_eq!(index.cache_control, "no-cache", "headers are restored too");
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
    let holder = serde_json::json!({
        "id": "other", "owner": "other-deployer", "host": "ci-7", "pid": 7,
        "command": "spadeploy push", "started_at": "2026-11-25T10:00:00Z",
        "expires_at": 4_000_000_000u64, "run_url": null
    });
    s3().put_object()
        .bucket(&bucket)
        .key(".spadeploy/lock.json")
        .body(holder.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    build(&dir, 3);
    push(&dir, &bucket, &proxy.url, &[])
        .assert_fails_with(1, "another deploy holds the lock")
        .assert_fails_with(1, "other-deployer");
    assert_serves(&bucket, &release_2, "release 2").await;
}

#[tokio::test]
async fn retried_errors_and_dropped_connections_still_converge() {
    let bucket = unique_bucket("flaky");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    for n in 0..20 {
        write(&dir, &format!("img/photo-{n}.txt"), format!("photo {n}"));
    }
    let proxy = Proxy::start(&moto());
    // A third of the writes answered 503 and a quarter of the reads dropped, once per object:
    // the retries (with backoff) go through.
    proxy.inject(Fault::server_error("PUT", "", 503).every(3).transient());
    proxy.inject(
        Fault::new("GET", "", FaultAction::Drop)
            .every(4)
            .transient(),
    );
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();
    assert!(
        proxy.take().iter().any(|r| r.status == 503),
        "faults were injected"
    );
    assert_eq!(site(&bucket).await, tree(&dir));
    proxy.clear_faults();
    let again = push(&dir, &bucket, &proxy.url, &[]);
    assert_eq!(again.json()["unchanged"], 24);
    assert!(proxy.take().iter().all(|r| !r.is_write()));
}

#[tokio::test]
async fn an_error_storm_leaves_the_old_release_serving_and_a_rerun_finishes() {
    let bucket = unique_bucket("storm");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    build(&dir, 1);
    let v1 = tree(&dir);
    let proxy = Proxy::start(&moto());
    push(&dir, &bucket, &proxy.url, &[]).assert_ok();

    let v2_assets = build(&dir, 2);
    // Every write of the new stylesheet fails, whatever the retries.
    proxy.inject(Fault::server_error("PUT", &v2_assets[1], 500));
    let failed = push(&dir, &bucket, &proxy.url, &[]);
    failed.assert_fails_with(1, "still serves the previous version");
    // Mutable files (index.html, favicon) are replaced only after every new asset landed.
    assert_serves(&bucket, &v1, "the previous release, intact").await;
    assert!(
        !exists(&bucket, ".spadeploy/lock.json").await,
        "the lock is released after a failure"
    );

    proxy.clear_faults();
    proxy.take();
    let rerun = push(&dir, &bucket, &proxy.url, &[]);
    rerun.assert_ok();
    let sent: Vec<String> = rerun.json()["upload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !sent.contains(&v2_assets[0]),
        "what landed before is not sent again: {sent:?}"
    );
    assert_serves(&bucket, &tree(&dir), "the new release").await;
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
    let writes: Vec<_> = proxy.take().into_iter().filter(|r| r.is_write()).collect();
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

#[tokio::test]
async fn a_push_that_would_delete_most_of_the_site_is_refused() {
    let bucket = unique_bucket("massdel");
    create_bucket(&s3(), &bucket).await;
    let endpoint = moto();
    let demo = demo_spa();
    push(&demo, &bucket, &endpoint, &[]).assert_ok();
    let before = snapshot(&s3(), &bucket).await;

    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "<h1>oops, the wrong folder</h1>");
    // With the keep-window nothing would be deleted yet, but the live site would still lose
    // every file but the index: refused too.
    push(tmp.path(), &bucket, &endpoint, &[]).assert_fails_with(1, "where the live release has 7");
    let refused = push(tmp.path(), &bucket, &endpoint, &["--keep-releases", "1"]);
    refused.assert_fails_with(1, "this build has 1 file(s) where the live release has 7");
    refused.assert_fails_with(1, "--allow-mass-delete");
    assert_eq!(
        snapshot(&s3(), &bucket).await,
        before,
        "nothing was changed"
    );

    let dry = push(
        tmp.path(),
        &bucket,
        &endpoint,
        &["--keep-releases", "1", "--dry-run"],
    );
    dry.assert_ok();
    assert!(dry.json()["warnings"][0]
        .as_str()
        .unwrap()
        .contains("where the live release has 7"));

    push(
        tmp.path(),
        &bucket,
        &endpoint,
        &["--keep-releases", "1", "--allow-mass-delete"],
    )
    .assert_ok();
    assert_eq!(site(&bucket).await.len(), 1);
}

#[tokio::test]
async fn objects_changed_outside_spadeploy_are_reported_and_repaired() {
    let bucket = unique_bucket("drift");
    create_bucket(&s3(), &bucket).await;
    let endpoint = moto();
    let demo = demo_spa();
    push(&demo, &bucket, &endpoint, &[]).assert_ok();
    s3().put_object()
        .bucket(&bucket)
        .key("robots.txt")
        .body(b"hacked".to_vec().into())
        .send()
        .await
        .unwrap();
    s3().delete_object()
        .bucket(&bucket)
        .key("favicon.ico")
        .send()
        .await
        .unwrap();
    let to = format!("s3://{bucket}");
    let verify = spadeploy(
        &[
            "diff",
            demo.to_str().unwrap(),
            "--to",
            &to,
            "--endpoint-url",
            &endpoint,
            "--verify-remote",
            "-q",
        ],
        None,
    );
    verify.assert_ok();
    assert!(
        verify
            .stdout
            .contains("verify-remote: robots.txt changed outside spadeploy"),
        "{}",
        verify.stdout
    );
    assert!(
        verify
            .stdout
            .contains("verify-remote: favicon.ico deleted outside spadeploy"),
        "{}",
        verify.stdout
    );
    let run = push(&demo, &bucket, &endpoint, &[]);
    run.assert_ok();
    let warning = run.json()["warnings"][0].as_str().unwrap().to_string();
    assert!(
        warning.contains("2 object(s) changed or deleted outside spadeploy"),
        "{warning}"
    );
    assert!(
        warning.contains("robots.txt") && warning.contains("favicon.ico"),
        "{warning}"
    );
    assert_eq!(site(&bucket).await, tree(&demo), "the push repaired them");
}

#[tokio::test]
async fn prune_applies_a_smaller_window_without_a_build_or_a_new_release() {
    let bucket = unique_bucket("prune");
    create_bucket(&s3(), &bucket).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    let endpoint = moto();
    let first_assets = build(&dir, 1);
    push(&dir, &bucket, &endpoint, &[]).assert_ok();
    build(&dir, 2);
    push(&dir, &bucket, &endpoint, &[]).assert_ok();
    assert!(
        exists(&bucket, &first_assets[0]).await,
        "kept by the default window"
    );

    let to = format!("s3://{bucket}");
    let run = spadeploy(
        &[
            "prune",
            "--to",
            &to,
            "--endpoint-url",
            &endpoint,
            "--keep-releases",
            "1",
            "--json",
            "-q",
        ],
        None,
    );
    run.assert_ok();
    let deleted = run.json()["delete"].clone();
    assert_eq!(deleted.as_array().unwrap().len(), 2, "{deleted}");
    assert!(!exists(&bucket, &first_assets[0]).await);
    assert_eq!(
        site(&bucket).await,
        tree(&dir),
        "the live release is intact"
    );
    let releases = spadeploy(
        &[
            "releases",
            "--to",
            &to,
            "--endpoint-url",
            &endpoint,
            "--json",
        ],
        None,
    );
    assert_eq!(
        releases.json().as_array().unwrap().len(),
        2,
        "a prune records no new release"
    );
}
