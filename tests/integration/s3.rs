//! `spadeploy push` against moto's S3, run as the built binary. Results are observed through the
//! S3 API and through a recording proxy that sees every request spadeploy makes.

use std::collections::BTreeSet;

use crate::support::proxy::{Fault, Proxy};
use crate::support::*;

pub(crate) fn push_args<'a>(
    dir: &'a str,
    to: &'a str,
    endpoint: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
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

pub(crate) fn keys(list: &serde_json::Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e.get("key").unwrap_or(e).as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(std::string::ToString::to_string).collect()
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
    assert_eq!(index_at, 6, "index.html is the last file written: {puts:?}");
    // The release record and the live pointer go together, last.
    let mut last: Vec<&str> = puts[puts.len() - 2..].to_vec();
    last.sort_unstable();
    assert!(
        last[0].ends_with("/app/.spadeploy/live.json")
            && last[1].contains("/app/.spadeploy/releases/"),
        "the release record and the live pointer last: {puts:?}"
    );
    assert!(
        puts[7..puts.len() - 2]
            .iter()
            .all(|p| p.contains("/app/.spadeploy/blobs/")),
        "then copies kept for rollback: {puts:?}"
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

    let attempts: Vec<_> = proxy
        .take()
        .into_iter()
        .filter(super::support::proxy::Recorded::is_write)
        .collect();
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
    // The copy names the file's SHA-256 in its metadata but carries no body: it must be signed
    // as the empty body it is, not with the file's hash (S3 would refuse the mismatch).
    assert_eq!(
        writes[0].content_sha256.as_deref(),
        Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        "{:?}",
        writes[0]
    );
    // The release's history copy goes with the live pointer, in either order.
    let mut state: Vec<&str> = writes[1..].iter().map(|w| w.path.as_str()).collect();
    state.sort_unstable();
    assert!(
        state[0].ends_with("/site/.spadeploy/live.json"),
        "{state:?}"
    );
    assert!(state[1].contains("/site/.spadeploy/releases/"), "{state:?}");

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

    let writes: Vec<_> = proxy
        .take()
        .into_iter()
        .filter(super::support::proxy::Recorded::is_write)
        .collect();
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
