//! A route table too large for a CloudFront Function goes to a KeyValueStore, against the
//! emulator: a 5,000-page site pushed with a distribution and probed under Node.js, which a second
//! push leaves alone, a changed build updates by difference and a rollback restores; and the
//! emulated store's data plane as AWS documents it.

use crate::route_table::{
    live_code, page, project, push, run_cases, site_json, store_arn, store_items,
};
use crate::support::cdn::{create_distribution, edge_role_shared};
use crate::support::proxy::Proxy;
use crate::support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// A 5,000-page site pushed once with a distribution: its route table is in a KeyValueStore.
struct LargeSite {
    dir: tempfile::TempDir,
    id: String,
    proxy: Proxy,
    to: String,
    first: Run,
}

impl LargeSite {
    /// The function's name, its store's ARN, the store's items and the function's LIVE code.
    async fn edge(&self) -> (String, String, BTreeMap<String, String>, String) {
        let function = self.first.json()["routing"]["function"].clone();
        let name = function["name"].as_str().unwrap().to_string();
        let arn = store_arn(&name).await;
        let items = store_items(&arn);
        let code = live_code(&name).await;
        (name, arn, items, code)
    }
}

async fn large_site_pushed() -> LargeSite {
    let bucket = unique_bucket("kvs");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let proxy = Proxy::start(&moto());
    let to = format!("s3://{bucket}");
    let dir = project(LARGE_MANIFEST, &large_site(0..5000));

    let first = push(dir.path(), &to, &proxy, &id, &["--fix-origin"]);
    first.assert_ok();
    LargeSite {
        dir,
        id,
        proxy,
        to,
        first,
    }
}

#[tokio::test]
async fn a_five_thousand_page_site_routes_through_a_key_value_store() {
    let _role = edge_role_shared().await;
    let LargeSite { dir, to, first, .. } = large_site_pushed().await;
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
}

#[tokio::test]
async fn a_second_push_of_an_unchanged_large_site_writes_nothing() {
    let _role = edge_role_shared().await;
    let LargeSite {
        dir, id, proxy, to, ..
    } = large_site_pushed().await;
    // Nothing changed: no write to the store, the function or anything else.
    proxy.take();
    push(dir.path(), &to, &proxy, &id, &[]).assert_ok();
    let writes: Vec<String> = proxy
        .take()
        .into_iter()
        .filter(super::support::proxy::Recorded::is_write)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, Vec::<String>::new());
}

#[tokio::test]
async fn a_changed_large_site_updates_the_store_by_difference_in_the_root_index_phase() {
    let _role = edge_role_shared().await;
    let large = large_site_pushed().await;
    let (_, arn, _, _) = large.edge().await;
    let LargeSite {
        dir, id, proxy, to, ..
    } = large;
    proxy.take();
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
}

#[tokio::test]
async fn a_rollback_restores_the_previous_releases_table_and_function() {
    let _role = edge_role_shared().await;
    let large = large_site_pushed().await;
    let (name, arn, first_items, first_code) = large.edge().await;
    let LargeSite {
        dir, id, proxy, to, ..
    } = large;
    rebuild(dir.path(), &large_site(10..5010));
    push(dir.path(), &to, &proxy, &id, &[]).assert_ok();

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
}

#[tokio::test]
async fn routing_check_finds_a_store_cut_short_and_the_next_push_repairs_it() {
    let _role = edge_role_shared().await;
    let large = large_site_pushed().await;
    let (name, arn, first_items, first_code) = large.edge().await;
    let LargeSite {
        dir, id, proxy, to, ..
    } = large;
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

    // Keys deleted by hand leave the marker as it was: `--verify-remote` lists the store and
    // puts them back.
    edit_store(&arn, &[], &deletes);
    let verified = push(dir.path(), &to, &proxy, &id, &["--verify-remote"]);
    verified.assert_ok();
    assert_eq!(verified.json()["routing"]["route_store"], "update");
    assert_eq!(store_items(&arn), first_items);
}

/// Writes to the emulated store's data plane directly, as a cut-short push or a hand edit would.
fn edit_store(arn: &str, puts: &[(&str, &str)], deletes: &[&str]) {
    let addr = moto().trim_start_matches("http://").to_string();
    let path = format!(
        "/key-value-stores/{}",
        percent_encoding::utf8_percent_encode(arn, percent_encoding::NON_ALPHANUMERIC)
    );
    let described = crate::support::http::request(&addr, "GET", &path);
    let etag = described.headers["etag"].clone();
    let body = serde_json::json!({
        "Puts": puts.iter().map(|(k, v)| serde_json::json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "Deletes": deletes.iter().map(|k| serde_json::json!({"Key": k})).collect::<Vec<_>>(),
    });
    let got = crate::support::http::send(
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
    let json = |got: &crate::support::http::HttpResponse| -> serde_json::Value {
        serde_json::from_slice(&got.body).unwrap()
    };
    let described = crate::support::http::request(&addr, "GET", &path);
    let etag = json(&described)["ETag"].as_str().unwrap().to_string();
    let update = |etag: &str, body: serde_json::Value| {
        crate::support::http::send(
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
    let page = crate::support::http::request(&addr, "GET", &format!("{path}/keys?MaxResults=100"));
    assert_eq!(
        json(&page)["Items"].as_array().unwrap().len(),
        50,
        "pages of at most 50"
    );
    assert!(json(&page)["NextToken"].is_string());
    let missing = crate::support::http::request(&addr, "GET", &format!("{path}/keys/%2Fnone"));
    assert_eq!(missing.status, 404);
    let found = crate::support::http::request(&addr, "GET", &format!("{path}/keys/%2F7"));
    assert_eq!(json(&found)["Value"], "/x.html");
}
