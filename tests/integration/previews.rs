//! Per-pull-request previews (issue 25) against the emulator: production and two previews on
//! one distribution, each answering its own release through the function CloudFront holds and
//! the store's content, run under Node.js; removal and gc leave no object and no key; a store
//! without room refuses before writing; production's keys never change.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::route_table::{live_code, page, project, push, store_arn, store_items};
use crate::support::cdn::{create_distribution, edge_role_shared};
use crate::support::proxy::Proxy;
use crate::support::*;

const MANIFEST: &str = "[preview]\ndomain = \"preview.example.com\"\n";

struct Site {
    dir: tempfile::TempDir,
    bucket: String,
    to: String,
    id: String,
    function: String,
    _proxy: Proxy,
}

async fn production() -> Site {
    let bucket = unique_bucket("previews");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let proxy = Proxy::start(&moto());
    let to = format!("s3://{bucket}");
    let files = [
        ("index.html".to_string(), page("production")),
        ("about/index.html".to_string(), page("production about")),
        ("assets/app-3f9a1c2b.js".to_string(), "prod()\n".to_string()),
    ];
    let dir = project(MANIFEST, &files);
    let run = push(dir.path(), &to, &proxy, &id, &["--fix-origin"]);
    run.assert_ok();
    let function = run.json()["routing"]["function"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    Site {
        dir,
        bucket,
        to,
        id,
        function,
        _proxy: proxy,
    }
}

impl Site {
    fn preview(&self, build: &str, args: &[&str]) -> Run {
        let endpoint = moto();
        let mut all = vec![
            "preview",
            "deploy",
            build,
            "--to",
            &self.to,
            "--endpoint-url",
            &endpoint,
            "--distribution",
            &self.id,
            "-q",
        ];
        all.extend_from_slice(args);
        spadeploy(&all, Some(self.dir.path()))
    }

    fn command(&self, args: &[&str]) -> Run {
        let endpoint = moto();
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--to",
            &self.to,
            "--endpoint-url",
            &endpoint,
            "--distribution",
            &self.id,
        ]);
        spadeploy(&all, Some(self.dir.path()))
    }

    async fn items(&self) -> BTreeMap<String, String> {
        store_items(&store_arn(&self.function).await)
    }

    async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let listed = s3()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }
}

fn build(dir: &Path, name: &str, files: &[(&str, &str)]) {
    for (key, title) in files {
        write(&dir.join(name), key, page(title));
    }
}

fn production_keys(items: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    items
        .iter()
        .filter(|(k, _)| !k.starts_with("preview:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Runs `requests` through the function CloudFront holds, with the store's content.
fn edge(
    dir: &Path,
    code: &str,
    items: &BTreeMap<String, String>,
    requests: &serde_json::Value,
) -> Vec<serde_json::Value> {
    let (code_file, items_file, requests_file) = (
        dir.join("f.mjs"),
        dir.join("items.json"),
        dir.join("requests.json"),
    );
    std::fs::write(&code_file, code).unwrap();
    std::fs::write(&items_file, serde_json::to_string(items).unwrap()).unwrap();
    std::fs::write(&requests_file, requests.to_string()).unwrap();
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edge/previews.mjs");
    let out = Command::new("node")
        .arg(harness)
        .args([&code_file, &items_file, &requests_file])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn two_previews_and_production_answer_their_own_release_on_one_distribution() {
    let _role = edge_role_shared().await;
    let site = production().await;
    let before = production_keys(&site.items().await);
    build(
        site.dir.path(),
        "pr1",
        &[
            ("index.html", "preview one"),
            ("only-one/index.html", "only in one"),
        ],
    );
    build(site.dir.path(), "pr2", &[("index.html", "preview two")]);
    site.preview("pr1", &["--id", "PR-1"]).assert_ok();
    let second = site.preview("pr2", &["--id", "pr-2"]);
    second.assert_ok();
    assert!(
        second.stdout.contains("https://pr-2.preview.example.com/"),
        "{}",
        second.stdout
    );

    let items = site.items().await;
    assert_eq!(
        production_keys(&items),
        before,
        "preview deploys leave production's keys alone"
    );
    let code = live_code(&site.function).await;
    let req = |host: &str, uri: &str| serde_json::json!({"host": host, "uri": uri});
    let p1 = "pr-1.preview.example.com";
    let p2 = "PR-2.preview.example.com:443";
    let requests = serde_json::json!([
        req(p1, "/"), req(p1, "/only-one"), req(p1, "/client/route"),
        req(p2, "/"), req(p2, "/only-one"),
        req("www.example.com", "/"), req("www.example.com", "/about"),
        req("www.example.com", "/_previews/pr-1/index.html"),
        req("pr-9.preview.example.com", "/"), req("a.pr-1.preview.example.com", "/"),
        {"host": p1, "uri": "/_previews/pr-1/index.html", "event": "viewer-response"},
    ]);
    let answers = edge(site.dir.path(), &code, &items, &requests);
    let want_uri = [
        ("/_previews/pr-1/index.html", "preview one"),
        ("/_previews/pr-1/only-one/index.html", "only in one"),
        ("/_previews/pr-1/index.html", "preview one"),
        ("/_previews/pr-2/index.html", "preview two"),
        ("/_previews/pr-2/index.html", "preview two"),
        ("/index.html", "production"),
        ("/about/index.html", "production about"),
    ];
    for (i, (uri, title)) in want_uri.iter().enumerate() {
        assert_eq!(answers[i]["uri"], *uri, "request {i}: {}", answers[i]);
        let body = get(&s3(), &site.bucket, &uri[1..]).await.body;
        assert!(
            String::from_utf8_lossy(&body).contains(&format!("<h1>{title}</h1>")),
            "{uri}"
        );
    }
    for (i, answer) in answers.iter().enumerate().take(10).skip(7) {
        assert_eq!(answer["status"], 404, "request {i}: {answer}");
    }
    assert_eq!(answers[10]["headers"]["x-robots-tag"], "noindex");
    let pointer: serde_json::Value = serde_json::from_str(&items["preview:pr-1"]).unwrap();
    assert_eq!(
        answers[10]["headers"]["x-spadeploy-release"], pointer["release"],
        "--wait reads the release the preview answers with"
    );

    // A password-gated preview: any variable holding a `:` gives user:password; PATH does.
    site.preview("pr2", &["--id", "pr-4", "--basic-auth-env", "PATH"])
        .assert_ok();
    let path = std::env::var("PATH").unwrap();
    let good = format!("Basic {}", aws_smithy_types::base64::encode(&path));
    let p4 = "pr-4.preview.example.com";
    let requests = serde_json::json!([
        req(p4, "/"),
        {"host": p4, "uri": "/", "authorization": "Basic d3Jvbmc6d3Jvbmc="},
        {"host": p4, "uri": "/", "authorization": good},
    ]);
    let answers = edge(
        site.dir.path(),
        &live_code(&site.function).await,
        &site.items().await,
        &requests,
    );
    for answer in &answers[..2] {
        assert_eq!(answer["status"], 401, "{answer}");
        assert_eq!(
            answer["headers"]["www-authenticate"],
            "Basic realm=\"preview\""
        );
    }
    assert_eq!(
        answers[2]["uri"], "/_previews/pr-4/index.html",
        "{}",
        answers[2]
    );
    site.command(&["preview", "remove", "pr-4"]).assert_ok();

    site.command(&["preview", "remove", "pr-1"]).assert_ok();
    assert!(
        site.keys_under("_previews/pr-1/").await.is_empty(),
        "no object left"
    );
    let items = site.items().await;
    assert!(
        !items.keys().any(|k| k.starts_with("preview:pr-1")),
        "no key left"
    );
    assert!(items.contains_key("preview:pr-2"));

    let third = site.preview("pr1", &["--id", "pr-3", "--json"]);
    third.assert_ok();
    let doc = third.json();
    assert_eq!(
        doc["preview"]["url"], "https://pr-3.preview.example.com/",
        "one document"
    );
    assert!(doc["preview"]["release"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let listed = site.command(&["preview", "list", "--json"]);
    listed.assert_ok();
    assert_eq!(
        listed.json()["previews"].as_array().unwrap().len(),
        2,
        "{}",
        listed.stdout
    );
    site.command(&["preview", "gc", "--older-than", "0s", "--keep", "pr-2"])
        .assert_ok();
    assert!(site.keys_under("_previews/pr-3/").await.is_empty());
    let items = site.items().await;
    assert!(!items.keys().any(|k| k.starts_with("preview:pr-3")));
    assert!(!site.keys_under("_previews/pr-2/").await.is_empty(), "kept");
    assert_eq!(
        production_keys(&items),
        before,
        "production's keys never changed"
    );

    // A production push leaves the previews' files and keys alone.
    write(&site.dir.path().join("dist"), "new.html", page("new"));
    push(site.dir.path(), &site.to, &site._proxy, &site.id, &[]).assert_ok();
    assert!(
        !site.keys_under("_previews/pr-2/").await.is_empty(),
        "not pruned"
    );
    assert!(site.items().await.contains_key("preview:pr-2"));
}

/// Puts keys into the emulated store through its data plane until it holds at least `bytes`.
fn fill_store(arn: &str, bytes: usize) {
    let addr = moto().trim_start_matches("http://").to_string();
    let path = format!(
        "/key-value-stores/{}",
        percent_encoding::utf8_percent_encode(arn, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut held = 0;
    let mut n = 0;
    while held < bytes {
        let etag = crate::support::http::request(&addr, "GET", &path).headers["etag"].clone();
        let puts: Vec<serde_json::Value> = (0..50)
            .map(|i| serde_json::json!({"Key": format!("filler-{n}-{i}"), "Value": "x".repeat(1000)}))
            .collect();
        held += 50 * 1015;
        n += 1;
        let body = serde_json::json!({ "Puts": puts }).to_string();
        let got = crate::support::http::send(
            &addr,
            "POST",
            &format!("{path}/keys"),
            &[("If-Match", &etag), ("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    }
}

#[tokio::test]
async fn a_preview_that_would_not_fit_the_store_is_refused_before_writing() {
    let _role = edge_role_shared().await;
    let site = production().await;
    fill_store(&store_arn(&site.function).await, 5 * 1024 * 1024 - 60_000);
    build(site.dir.path(), "big", &[("index.html", "big")]);
    let extra: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("docs/page-{i}.html"), format!("page {i}")))
        .collect();
    for (key, title) in &extra {
        write(&site.dir.path().join("big"), key, page(title));
    }
    site.preview("big", &["--id", "pr-big"])
        .assert_fails_with(1, "nothing was written");
    assert!(
        site.keys_under("_previews/").await.is_empty(),
        "no object written"
    );
    assert!(
        !site.items().await.keys().any(|k| k.starts_with("preview:")),
        "no key written"
    );
}

/// A preview of a large site that changes 3 files sends those 3 and copies the rest within the
/// bucket (the figures are printed for the README and the issue).
#[tokio::test]
async fn a_preview_sends_only_what_differs_from_production() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("previews");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let proxy = Proxy::start(&moto());
    let to = format!("s3://{bucket}");
    let body = |i: usize, v: &str| format!("{}{v}{i}\n", "x".repeat(2000));
    let mut files: Vec<(String, String)> = (0..2000)
        .map(|i| (format!("assets/chunk-{i:04}.js"), body(i, "a")))
        .collect();
    files.push(("index.html".into(), page("production")));
    let dir = project(MANIFEST, &files);
    push(dir.path(), &to, &proxy, &id, &["--fix-origin"]).assert_ok();
    for (key, text) in files.iter_mut().take(3) {
        *text = text.replace('a', "b");
        write(&dir.path().join("pr"), key, &*text);
    }
    for (key, text) in files.iter().skip(3) {
        write(&dir.path().join("pr"), key, text);
    }
    proxy.take();
    let started = std::time::Instant::now();
    let run = spadeploy(
        &[
            "preview",
            "deploy",
            "pr",
            "--id",
            "pr-7",
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
            "-q",
        ],
        Some(dir.path()),
    );
    run.assert_ok();
    let elapsed = started.elapsed();
    let recorded = proxy.take();
    let uploads: Vec<_> = recorded
        .iter()
        .filter(|r| {
            r.method == "PUT" && !r.copy_source && r.path.contains("/_previews/pr-7/assets/")
        })
        .collect();
    let copies = recorded.iter().filter(|r| r.copy_source).count();
    let sent: usize = recorded.iter().map(|r| r.body_bytes).sum();
    let site_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    eprintln!(
        "preview of a {}-file site ({site_bytes} bytes) with 3 files changed: {} requests, {} \
         server-side copies, {} uploads of site files, {sent} bytes sent in all, {elapsed:?}",
        files.len(),
        recorded.len(),
        copies,
        uploads.len()
    );
    // Production untouched, as the wire shows: every write is the preview's objects or the
    // store's keys (no distribution, function, invalidation or production object write).
    let foreign: Vec<String> = recorded
        .iter()
        .filter(|r| r.is_write())
        .filter(|r| {
            let preview_object = r.path.starts_with(&format!("/{bucket}/_previews/pr-7/"));
            let store_keys = r.method == "POST" && r.path.starts_with("/key-value-stores/");
            !(preview_object || store_keys)
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        foreign.is_empty(),
        "writes outside the preview: {foreign:?}"
    );
    assert_eq!(uploads.len(), 3, "only the changed files are sent");
    assert_eq!(copies, files.len() - 3);
    assert!(
        sent < site_bytes / 4,
        "{sent} bytes sent for a {site_bytes}-byte site"
    );
    let copied = get(&s3(), &bucket, "_previews/pr-7/assets/chunk-1999.js").await;
    assert_eq!(String::from_utf8_lossy(&copied.body), files[1999].1);

    // Removal, seen on the wire: the preview's objects and the store's keys, nothing else.
    spadeploy(
        &[
            "preview",
            "remove",
            "pr-7",
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
        ],
        Some(dir.path()),
    )
    .assert_ok();
    let foreign: Vec<String> = proxy
        .take()
        .iter()
        .filter(|r| r.is_write())
        .filter(|r| {
            // DeleteObjects batches: the listing below shows they took only the preview's.
            let preview_objects =
                r.method == "POST" && r.path.trim_end_matches('/') == format!("/{bucket}");
            let store_keys = r.method == "POST" && r.path.starts_with("/key-value-stores/");
            !(preview_objects || store_keys)
        })
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert!(
        foreign.is_empty(),
        "writes outside the preview: {foreign:?}"
    );
    let left = s3()
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("_previews/")
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0), "no object left");
    let mut pages = s3()
        .list_objects_v2()
        .bucket(&bucket)
        .into_paginator()
        .send();
    let mut site_files = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        site_files += page
            .contents()
            .iter()
            .filter(|o| !o.key().unwrap_or_default().starts_with(".spadeploy/"))
            .count();
    }
    assert_eq!(site_files, files.len(), "production's files stay");
}

/// Previews on a stack that infrastructure as code wired (content mode): the store is the one the
/// IaC associated with the function, whatever its name, and a preview writes only content.
#[tokio::test]
async fn previews_work_on_a_content_mode_stack() {
    let stack = crate::content_mode::create_stack(&unique_bucket("iac-preview"), "previews");
    let manifest = format!(
        "{}\n[preview]\ndomain = \"preview.example.com\"\n",
        crate::content_mode::manifest(&stack)
    );
    let files = [("index.html".to_string(), page("production"))];
    let dir = project(&manifest, &files);
    let endpoint = moto();
    let push = spadeploy(
        &["push", "dist", "--endpoint-url", &endpoint, "-q"],
        Some(dir.path()),
    );
    push.assert_ok();
    build(dir.path(), "pr", &[("index.html", "preview five")]);
    let proxy = Proxy::start(&moto());
    spadeploy(
        &[
            "preview",
            "deploy",
            "pr",
            "--id",
            "pr-5",
            "--endpoint-url",
            &proxy.url,
            "-q",
        ],
        Some(dir.path()),
    )
    .assert_ok();
    let refused: Vec<String> = crate::support::cdn::writes(&proxy)
        .into_iter()
        .filter(|w| {
            let preview_object = w.contains(&format!("/{}/_previews/pr-5/", stack.bucket));
            !(preview_object || w.starts_with("POST /key-value-stores/"))
        })
        .collect();
    assert!(refused.is_empty(), "a preview wrote {refused:?}");
    let items = store_items(&stack.store);
    let code = live_code(&stack.function).await;
    let requests = serde_json::json!([{"host": "pr-5.preview.example.com", "uri": "/deep/link"}]);
    let answers = edge(dir.path(), &code, &items, &requests);
    assert_eq!(
        answers[0]["uri"], "/_previews/pr-5/index.html",
        "{}",
        answers[0]
    );
}

/// `spadeploy serve --previews`: a local target with a preview pushed into its `_previews/`,
/// answered by Host as the edge does.
#[test]
fn serve_answers_previews_by_host() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), "dist", &[("index.html", "production")]);
    build(dir.path(), "pr", &[("index.html", "preview 42")]);
    for (build, to) in [("dist", "site"), ("pr", "site/_previews/pr-42")] {
        spadeploy(&["push", build, "--to", to, "-q"], Some(dir.path())).assert_ok();
    }
    let served = crate::support::serve::serve_folder(dir.path(), "site", &["--previews"]);
    let get = |host: &str, path: &str| {
        let mut stream = std::net::TcpStream::connect(&served.1).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    };
    let port = served.1.rsplit(':').next().unwrap().to_string();
    let preview = get(&format!("pr-42.preview.localhost:{port}"), "/deep/route");
    assert!(
        preview.starts_with("HTTP/1.1 200") && preview.contains("<h1>preview 42</h1>"),
        "{preview}"
    );
    assert!(
        preview
            .to_ascii_lowercase()
            .contains("x-robots-tag: noindex"),
        "{preview}"
    );
    let production = get(&format!("localhost:{port}"), "/deep/route");
    assert!(production.contains("<h1>production</h1>"), "{production}");
    let unknown = get(&format!("pr-9.preview.localhost:{port}"), "/");
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    let hidden = get(&format!("localhost:{port}"), "/_previews/pr-42/index.html");
    assert!(hidden.starts_with("HTTP/1.1 404"), "{hidden}");
}
