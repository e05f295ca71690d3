//! Safe deploys against moto: the keep-window for open browser tabs, rollback, the deploy lock,
//! the mass-delete guard, drift repair, and pushes that fail, are interrupted or killed part-way
//! (through a proxy that answers errors, drops connections or stalls). After each, the target is
//! the old release or the new one, never a mix, and a re-run converges.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::proxy::{Fault, FaultAction, Proxy};
use crate::support::*;

/// A built SPA, version `n`: a hashed script and stylesheet that the index references, plus an
/// unhashed favicon. Returns the asset keys.
pub(crate) fn build(dir: &Path, n: u32) -> Vec<String> {
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
pub(crate) fn tree(dir: &Path) -> BTreeMap<String, String> {
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
pub(crate) async fn site(bucket: &str) -> BTreeMap<String, String> {
    snapshot(&s3(), bucket)
        .await
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".spadeploy/"))
        .map(|(k, (_, body))| (k, sha256_hex(&body)))
        .collect()
}

/// Every file of `expected` (key → sha256) is served by the bucket with that content.
pub(crate) async fn assert_serves(bucket: &str, expected: &BTreeMap<String, String>, what: &str) {
    let live = site(bucket).await;
    for (key, sha) in expected {
        assert_eq!(
            live.get(key),
            Some(sha),
            "{key}: the bucket should serve {what}"
        );
    }
}

pub(crate) fn push(dir: &Path, bucket: &str, endpoint: &str, extra: &[&str]) -> Run {
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

pub(crate) async fn exists(bucket: &str, key: &str) -> bool {
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
