//! The route table at the edge, against the emulator: builds shaped like real framework outputs
//! pushed with a distribution and probed (every page, a client route per SPA, a missing asset
//! per folder) by running the function CloudFront now holds under Node.js. The helpers here also
//! serve route_store.rs, where the table goes to a KeyValueStore.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::cdn::{create_distribution, edge_role_shared};
use crate::support::proxy::Proxy;
use crate::support::*;

/// A project folder with `manifest`, and `files` (key, body) as its build in `dist/`.
pub(crate) fn project(manifest: &str, files: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spadeploy.toml", manifest);
    for (key, body) in files {
        write(&dir.path().join("dist"), key, body);
    }
    dir
}

pub(crate) fn page(title: &str) -> String {
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
pub(crate) fn push(
    project: &Path,
    to: &str,
    proxy: &Proxy,
    distribution: &str,
    extra: &[&str],
) -> Run {
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

pub(crate) async fn live_code(name: &str) -> String {
    let live = cloudfront()
        .get_function()
        .name(name)
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .unwrap();
    String::from_utf8(live.function_code().unwrap().as_ref().to_vec()).unwrap()
}

pub(crate) async fn store_arn(name: &str) -> String {
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
pub(crate) fn store_items(arn: &str) -> BTreeMap<String, String> {
    let addr = moto().trim_start_matches("http://").to_string();
    let arn = percent_encoding::utf8_percent_encode(arn, percent_encoding::NON_ALPHANUMERIC);
    let mut items = BTreeMap::new();
    let mut token = 0;
    loop {
        let got = crate::support::http::request(
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
pub(crate) async fn site_json(
    name: &str,
    project: &Path,
    to: &str,
    function: &str,
) -> serde_json::Value {
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
pub(crate) fn run_cases(dir: &Path, sites: &[serde_json::Value], cases: &[String]) {
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
    let _role = edge_role_shared().await;
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
