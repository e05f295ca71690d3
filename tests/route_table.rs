//! The route table at the edge, against the emulator: builds shaped like real framework outputs
//! pushed with a distribution and probed (every page, a client route per SPA, a missing asset
//! per folder) by running the function CloudFront now holds under Node.js; a 5,000-page site whose
//! table goes to a KeyValueStore, which a second push leaves alone, a changed build updates by
//! difference and a rollback restores; and the table going live with the root index.

#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::cdn::create_distribution;
use support::proxy::Proxy;
use support::*;

/// A project folder with `manifest`, and `files` (key, body) as its build in `dist/`.
fn project(manifest: &str, files: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spadeploy.toml", manifest);
    for (key, body) in files {
        write(&dir.path().join("dist"), key, body);
    }
    dir
}

fn page(title: &str) -> String {
    format!("<!doctype html><title>{title}</title><h1>{title}</h1>\n")
}

fn files(keys: &[&str]) -> Vec<(String, String)> {
    keys.iter()
        .map(|key| {
            let body = if key.ends_with(".html") {
                page(key)
            } else {
                format!("/* {key} */\n")
            };
            (key.to_string(), body)
        })
        .collect()
}

/// Pushes the project's build to `to` through `proxy`, with the distribution.
fn push(project: &Path, to: &str, proxy: &Proxy, distribution: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "push",
        "dist",
        "--to",
        to,
        "--endpoint-url",
        &proxy.url,
        "--distribution",
        distribution,
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    spadeploy(&args, Some(project))
}

async fn live_code(name: &str) -> String {
    let live = cloudfront()
        .get_function()
        .name(name)
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .unwrap();
    String::from_utf8(live.function_code().unwrap().as_ref().to_vec()).unwrap()
}

async fn store_arn(name: &str) -> String {
    cloudfront()
        .describe_key_value_store()
        .name(name)
        .send()
        .await
        .unwrap()
        .key_value_store()
        .unwrap()
        .arn()
        .to_string()
}

/// What the emulated KeyValueStore holds, read through its data plane.
fn store_items(arn: &str) -> BTreeMap<String, String> {
    let addr = moto().trim_start_matches("http://").to_string();
    let arn = percent_encoding::utf8_percent_encode(arn, percent_encoding::NON_ALPHANUMERIC);
    let mut items = BTreeMap::new();
    let mut token = 0;
    loop {
        let got = support::http::request(
            &addr,
            "GET",
            &format!("/key-value-stores/{arn}/keys?MaxResults=50&NextToken={token}"),
        );
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        let page: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
        for item in page["Items"].as_array().unwrap() {
            items.insert(
                item["Key"].as_str().unwrap().to_string(),
                item["Value"].as_str().unwrap().to_string(),
            );
        }
        match page["NextToken"].as_str() {
            Some(next) => token = next.parse().unwrap(),
            None => return items,
        }
    }
}

/// One site for tests/edge/conformance.mjs: the function CloudFront holds, the store's content,
/// the table spadeploy derives and the live record, with the build as the files' bodies.
async fn site_json(name: &str, project: &Path, to: &str, function: &str) -> serde_json::Value {
    let code = live_code(function).await;
    let file = project.join(format!("{name}-function.js"));
    std::fs::write(&file, &code).unwrap();
    let table = spadeploy(
        &[
            "routing",
            "--print-table",
            "--to",
            to,
            "--endpoint-url",
            &moto(),
        ],
        Some(project),
    );
    table.assert_ok();
    let (bucket, prefix) = to
        .trim_start_matches("s3://")
        .split_once('/')
        .unwrap_or((to.trim_start_matches("s3://"), ""));
    let record_key = format!(
        "{prefix}{}.spadeploy/live.json",
        if prefix.is_empty() { "" } else { "/" }
    );
    let record: serde_json::Value =
        serde_json::from_slice(&get(&s3(), bucket, &record_key).await.body).unwrap();
    let mut site = serde_json::json!({
        "name": name,
        "root": project.join("dist"),
        "function": file,
        "table": table.json(),
        "objects": record["objects"],
    });
    if code.starts_with("import cf from \"cloudfront\";") {
        site["kvs_items"] = serde_json::json!(store_items(&store_arn(function).await));
    }
    site
}

/// Runs `cases` (the conformance table's columns) against `sites` under Node.js.
fn run_cases(dir: &Path, sites: &[serde_json::Value], cases: &[String]) {
    let table = dir.join("cases.tsv");
    std::fs::write(&table, cases.join("\n")).unwrap();
    let mut files = Vec::new();
    for site in sites {
        let file = dir.join(format!("{}.json", site["name"].as_str().unwrap()));
        std::fs::write(&file, site.to_string()).unwrap();
        files.push(file);
    }
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edge/conformance.mjs");
    let out = Command::new("node")
        .arg(harness)
        .arg(&table)
        .args(&files)
        .output()
        .expect("Node.js runs the edge functions");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Each case runs against the function twice (viewer-response seeing either URI).
    assert!(
        out.status.success() && stdout.contains(&format!("{} passed, 0 failed", cases.len() * 2)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A build shaped like a framework's output: its files, its manifest, where it is served, which
/// pages are reached by which URL, and the SPA index client routes fall back to (if any).
struct Framework {
    name: &'static str,
    keys: &'static [&'static str],
    manifest: &'static str,
    prefix: &'static str,
    pages: &'static [(&'static str, &'static str)],
    fallback: Option<(&'static str, &'static str)>,
}

const FRAMEWORKS: &[Framework] = &[
    Framework {
        name: "next-export",
        keys: &[
            "index.html",
            "404.html",
            "about.html",
            "blog/hello-world.html",
            "_next/static/chunks/main-3f9a1c2b7d4e5f60.js",
            "_next/static/css/8b1a9953c4611296.css",
            "_next/static/Xk2mLp9QwErTy/_buildManifest.js",
            "favicon.ico",
        ],
        manifest: "[routing]\nfallback = \"none\"\n",
        prefix: "",
        pages: &[
            ("/", "index.html"),
            ("/about", "about.html"),
            ("/blog/hello-world", "blog/hello-world.html"),
        ],
        fallback: None,
    },
    Framework {
        name: "nuxt-generate",
        keys: &[
            "index.html",
            "200.html",
            "404.html",
            "about/index.html",
            "_nuxt/entry.B2xk9Lq1.js",
            "_nuxt/index.Dq3mN8pZ.css",
            "_nuxt/builds/meta/5e6f7a8b.json",
        ],
        manifest: "[[spa]]\nprefix = \"/\"\nindex = \"200.html\"\n",
        prefix: "",
        pages: &[
            ("/", "index.html"),
            ("/about/", "about/index.html"),
            ("/about", "about/index.html"),
        ],
        fallback: Some(("/", "200.html")),
    },
    Framework {
        name: "sveltekit-static",
        keys: &[
            "index.html",
            "about.html",
            "200.html",
            "_app/immutable/entry/start.Bx3eLq9w.js",
            "_app/immutable/assets/0.Cw4kRt7y.css",
            "_app/version.json",
            "favicon.png",
        ],
        manifest: "[[spa]]\nprefix = \"/\"\nindex = \"200.html\"\n",
        prefix: "",
        pages: &[("/", "index.html"), ("/about", "about.html")],
        fallback: Some(("/", "200.html")),
    },
    Framework {
        name: "astro",
        keys: &[
            "index.html",
            "404.html",
            "about/index.html",
            "blog/first-post/index.html",
            "_astro/index.Cx9aBc1d.css",
            "_astro/hoisted.D4eF5g6h.js",
        ],
        manifest: "[routing]\nfallback = \"none\"\ntrailing_slash = \"add\"\n",
        prefix: "",
        pages: &[
            ("/", "index.html"),
            ("/about/", "about/index.html"),
            ("/blog/first-post/", "blog/first-post/index.html"),
        ],
        fallback: None,
    },
    Framework {
        name: "vite-base",
        keys: &[
            "index.html",
            "assets/index-Dk3jF9a1.js",
            "assets/index-Bq8Zx7Lm.css",
            "vite.svg",
        ],
        manifest: "[routing]\nno_fallback = [\"/assets/\"]\n",
        prefix: "app",
        pages: &[("/app/", "index.html")],
        fallback: Some(("/app/", "index.html")),
    },
];

/// The cases a framework's build must pass: every page by the URL visitors use, client routes
/// (or a 404 where the build has no SPA), every other file, and a missing file in every folder
/// of them.
fn framework_cases(f: &Framework) -> Vec<String> {
    let base = if f.prefix.is_empty() {
        "/".to_string()
    } else {
        format!("/{}/", f.prefix)
    };
    let mut cases: Vec<String> = f
        .pages
        .iter()
        .map(|(url, key)| format!("{}\tGET\t{url}\t200\tfile:{key}", f.name))
        .collect();
    match f.fallback {
        Some((prefix, index)) => {
            for route in ["users/42", "settings/profile", "deep/a/b/c"] {
                cases.push(format!(
                    "{}\tGET\t{prefix}{route}\t200\tfile:{index}",
                    f.name
                ));
            }
        }
        None => {
            let status_body = if f.keys.contains(&"404.html") {
                "404\tfile:404.html"
            } else {
                "404\tany"
            };
            cases.push(format!(
                "{}\tGET\t{base}no/such/page/\t{status_body}",
                f.name
            ));
        }
    }
    for asset in f.keys.iter().filter(|k| !k.ends_with(".html")) {
        cases.push(format!("{}\tGET\t{base}{asset}\t200\tfile:{asset}", f.name));
    }
    let folders: std::collections::BTreeSet<&str> = f
        .keys
        .iter()
        .filter(|k| !k.ends_with(".html"))
        .map(|k| k.rsplit_once('/').map_or("", |(folder, _)| folder))
        .collect();
    for folder in folders {
        let slash = if folder.is_empty() { "" } else { "/" };
        cases.push(format!(
            "{}\tGET\t{base}{folder}{slash}missing-0a1b2c3d.js\t404\tany",
            f.name
        ));
    }
    cases
}

#[tokio::test]
async fn framework_builds_answer_every_page_client_route_and_missing_asset_at_the_edge() {
    let proxy = Proxy::start(&moto());
    let work = tempfile::tempdir().unwrap();
    let mut sites = Vec::new();
    let mut cases = Vec::new();
    let mut projects = Vec::new();
    for f in FRAMEWORKS {
        let bucket = unique_bucket(f.name);
        create_bucket(&s3(), &bucket).await;
        let id = create_distribution(&bucket, "rest").await;
        let dir = project(f.manifest, &files(f.keys));
        let to = if f.prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{}", f.prefix)
        };
        let run = push(dir.path(), &to, &proxy, &id, &["--fix-origin"]);
        run.assert_ok();
        let function = run.json()["routing"]["function"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        sites.push(site_json(f.name, dir.path(), &to, &function).await);
        cases.extend(framework_cases(f));
        projects.push(dir);
    }
    assert!(cases.len() >= 40, "{} cases", cases.len());
    run_cases(work.path(), &sites, &cases);
}

fn large_site(pages: std::ops::Range<usize>) -> Vec<(String, String)> {
    let mut files = vec![
        ("index.html".to_string(), page("home")),
        ("admin/index.html".to_string(), page("admin")),
        ("404.html".to_string(), page("not found")),
        ("assets/app-3f9a1c2b.js".to_string(), "app()\n".to_string()),
    ];
    files.extend(pages.map(|i| (format!("docs/page-{i}.html"), page(&format!("page {i}")))));
    files
}

const LARGE_MANIFEST: &str = "[[spa]]\nprefix = \"/\"\n\n[[spa]]\nprefix = \"/admin/\"\n";

/// Replaces the project's build with `files`.
fn rebuild(project: &Path, files: &[(String, String)]) -> PathBuf {
    let dist = project.join("dist");
    std::fs::remove_dir_all(&dist).unwrap();
    for (key, body) in files {
        write(&dist, key, body);
    }
    dist
}

#[tokio::test]
async fn a_five_thousand_page_site_routes_through_a_key_value_store() {
    let bucket = unique_bucket("kvs");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let proxy = Proxy::start(&moto());
    let to = format!("s3://{bucket}");
    let dir = project(LARGE_MANIFEST, &large_site(0..5000));

    let first = push(dir.path(), &to, &proxy, &id, &["--fix-origin"]);
    first.assert_ok();
    let function = first.json()["routing"]["function"].clone();
    let name = function["name"].as_str().unwrap().to_string();
    assert_eq!(function["pages_in"], format!("KeyValueStore {name}"));
    let arn = store_arn(&name).await;
    let first_items = store_items(&arn);
    // Each page by three URLs (the root index four, admin/index.html five, 404.html three), and
    // the marker.
    assert_eq!(first_items.len(), 3 * 5000 + 4 + 5 + 3 + 1);
    assert_eq!(first_items["/docs/page-7"], "/docs/page-7.html");
    let first_code = live_code(&name).await;
    assert!(first_code.len() < 10 * 1024);

    // Every kind of answer, from the function and the store CloudFront now hold.
    let cases: Vec<String> = [
        "large\tGET\t/docs/page-4999\t200\tfile:docs/page-4999.html",
        "large\tGET\t/docs/page-0.html\t301\tempty\tlocation=/docs/page-0",
        "large\tGET\t/users/42\t200\tfile:index.html",
        "large\tGET\t/admin/users/7\t200\tfile:admin/index.html",
        "large\tGET\t/docs/page-5000\t200\tfile:index.html",
        "large\tGET\t/docs/nothing.html\t404\tfile:404.html",
        "large\tGET\t/assets/app-3f9a1c2b.js\t200\tfile:assets/app-3f9a1c2b.js",
        "large\tGET\t/assets/gone-00000000.js\t404\tany",
    ]
    .map(String::from)
    .to_vec();
    let site = site_json("large", dir.path(), &to, &name).await;
    run_cases(dir.path(), &[site], &cases);

    // Nothing changed: no write to the store, the function or anything else.
    proxy.take();
    push(dir.path(), &to, &proxy, &id, &[]).assert_ok();
    let writes: Vec<String> = proxy
        .take()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, Vec::<String>::new());

    // Ten pages gone, ten new: the store is updated by difference, with the new table live in
    // the root index's phase: after every other page, before the record and any delete.
    rebuild(dir.path(), &large_site(10..5010));
    let changed = push(dir.path(), &to, &proxy, &id, &[]);
    changed.assert_ok();
    let requests = proxy.take();
    let updates: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/keys"))
        .collect();
    assert_eq!(
        updates.len(),
        2,
        "30 puts, 30 deletes and the marker: two UpdateKeys calls of at most 50"
    );
    assert!(
        requests
            .iter()
            .all(|r| !(r.method == "GET" && r.path.ends_with("/keys"))),
        "the marker named the old table: no listing"
    );
    let last_page = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/docs/page-"))
        .map(|r| r.finished)
        .max()
        .unwrap();
    let record = requests
        .iter()
        .find(|r| r.method == "PUT" && r.path.ends_with(".spadeploy/live.json"))
        .unwrap();
    let publish = requests
        .iter()
        .find(|r| r.path.ends_with("/publish"))
        .expect("the function naming the new table is published");
    assert!(updates[0].started >= last_page && publish.started >= last_page);
    // The invalidation is asked for once the index phase is done, while the record is written.
    let invalidation = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/invalidation"))
        .unwrap();
    assert!(invalidation.started >= publish.finished && invalidation.started < record.finished);
    assert!(record.started >= publish.finished && record.started >= updates[0].finished);
    let items = store_items(&arn);
    assert!(
        !items.contains_key("/docs/page-3") && items["/docs/page-5009"] == "/docs/page-5009.html"
    );

    // Rolling back restores the previous release's table and function.
    spadeploy(
        &[
            "rollback",
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
            "-q",
        ],
        Some(dir.path()),
    )
    .assert_ok();
    assert_eq!(store_items(&arn), first_items);
    assert_eq!(live_code(&name).await, first_code);

    // A push killed while writing the store (marker at `updating`, stale keys) and 40 keys
    // deleted by hand: the function's code is current, the store is not. `routing --check` says
    // so, and the next push repairs it.
    let gone: Vec<String> = (0..40).map(|i| format!("/docs/page-{i}")).collect();
    let deletes: Vec<&str> = gone.iter().map(String::as_str).collect();
    edit_store(
        &arn,
        &[("spadeploy:table", "updating"), ("/stale", "/stale.html")],
        &[],
    );
    edit_store(&arn, &[], &deletes);
    let check = spadeploy(
        &[
            "routing",
            "--check",
            "--to",
            &to,
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
        ],
        Some(dir.path()),
    );
    assert_eq!(check.code, 2, "{}{}", check.stdout, check.stderr);
    rebuild(dir.path(), &large_site(0..5000));
    let repaired = push(dir.path(), &to, &proxy, &id, &[]);
    repaired.assert_ok();
    assert_eq!(
        repaired.json()["routing"]["route_store"],
        "update",
        "{}",
        repaired.stdout
    );
    assert_eq!(store_items(&arn), first_items);
    assert_eq!(live_code(&name).await, first_code);
}

/// Writes to the emulated store's data plane directly, as a cut-short push or a hand edit would.
fn edit_store(arn: &str, puts: &[(&str, &str)], deletes: &[&str]) {
    let addr = moto().trim_start_matches("http://").to_string();
    let path = format!(
        "/key-value-stores/{}",
        percent_encoding::utf8_percent_encode(arn, percent_encoding::NON_ALPHANUMERIC)
    );
    let described = support::http::request(&addr, "GET", &path);
    let etag = described.headers["etag"].clone();
    let body = serde_json::json!({
        "Puts": puts.iter().map(|(k, v)| serde_json::json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "Deletes": deletes.iter().map(|k| serde_json::json!({"Key": k})).collect::<Vec<_>>(),
    });
    let got = support::http::send(
        &addr,
        "POST",
        &format!("{path}/keys"),
        &[("If-Match", &etag), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
}

/// scripts/moto_server.py's KeyValueStore data plane (correction 7), as AWS documents it.
#[tokio::test]
async fn the_emulated_key_value_store_behaves_as_aws_documents() {
    let name = unique_bucket("kvsapi");
    let arn = cloudfront()
        .create_key_value_store()
        .name(&name)
        .send()
        .await
        .unwrap()
        .key_value_store()
        .unwrap()
        .arn()
        .to_string();
    let addr = moto().trim_start_matches("http://").to_string();
    let path = format!(
        "/key-value-stores/{}",
        percent_encoding::utf8_percent_encode(&arn, percent_encoding::NON_ALPHANUMERIC)
    );
    let json = |got: &support::http::HttpResponse| -> serde_json::Value {
        serde_json::from_slice(&got.body).unwrap()
    };
    let described = support::http::request(&addr, "GET", &path);
    let etag = json(&described)["ETag"].as_str().unwrap().to_string();
    let update = |etag: &str, body: serde_json::Value| {
        support::http::send(
            &addr,
            "POST",
            &format!("{path}/keys"),
            &[("If-Match", etag), ("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    let stale = update(
        "stale",
        serde_json::json!({"Puts": [{"Key": "/a", "Value": "/a.html"}]}),
    );
    assert_eq!(stale.status, 400);
    assert!(String::from_utf8_lossy(&stale.body).contains("Pre-Condition failed"));
    let puts: Vec<serde_json::Value> = (0..51)
        .map(|i| serde_json::json!({"Key": format!("/{i}"), "Value": "/x.html"}))
        .collect();
    assert_eq!(
        update(&etag, serde_json::json!({"Puts": puts})).status,
        400,
        "at most 50 per call"
    );
    let big = update(
        &etag,
        serde_json::json!({"Puts": [{"Key": "/big", "Value": "v".repeat(1025)}]}),
    );
    assert_eq!(big.status, 402, "values over 1 KB");
    let ok = update(&etag, serde_json::json!({"Puts": puts[..50]}));
    assert_eq!(ok.status, 200);
    let next = json(&ok)["ETag"].as_str().unwrap().to_string();
    assert_ne!(next, etag, "every change replaces the ETag");
    assert_eq!(json(&ok)["ItemCount"], 50);
    let more = update(
        &next,
        serde_json::json!({"Puts": [{"Key": "/51", "Value": "/x.html"}]}),
    );
    assert_eq!(json(&more)["ItemCount"], 51);
    let page = support::http::request(&addr, "GET", &format!("{path}/keys?MaxResults=100"));
    assert_eq!(
        json(&page)["Items"].as_array().unwrap().len(),
        50,
        "pages of at most 50"
    );
    assert!(json(&page)["NextToken"].is_string());
    let missing = support::http::request(&addr, "GET", &format!("{path}/keys/%2Fnone"));
    assert_eq!(missing.status, 404);
    let found = support::http::request(&addr, "GET", &format!("{path}/keys/%2F7"));
    assert_eq!(json(&found)["Value"], "/x.html");
}
