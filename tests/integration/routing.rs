//! The routing conformance table (tests/data/routing-conformance.tsv) against the generated
//! Lambda@Edge and CloudFront Function under Node.js, and against `spadeploy serve` over HTTP
//! with a loopback API, in both modes. All must agree with the table.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::http::{api_body, request, start_fake_api};
use crate::support::serve::{serve_folder, Served};
use crate::support::*;

const ROUTES: &str = r#"
no_fallback = ["/assets/"]

[[redirects]]
from = "/old/"
to = "/new/"
status = 301

[[redirects]]
from = "/blog/:year/:slug"
to = "/posts/:slug"
status = 302

[[redirects]]
from = "/external/*"
to = "https://example.org/:splat"
status = 307

[[redirects]]
from = "/moved/*"
to = "/:splat"
status = 301

[[rewrites]]
from = "/articles/:slug"
to = "/posts/:slug.html"

[[spa]]
prefix = "/"

[[spa]]
prefix = "/admin/"

[[headers]]
for = "/*"
values = { "X-Frame-Options" = "DENY" }

[[headers]]
for = "/assets/*"
values = { "Access-Control-Allow-Origin" = "*" }
"#;

const DEMO_ROUTES: &str = r#"
no_fallback = ["/assets/"]

[[redirects]]
from = "/old/"
to = "/new/"
status = 301
"#;

const TABLE: &str = include_str!("../data/routing-conformance.tsv");

/// One site of the table: a project folder with its manifest and its build pushed to `site/`
/// (`site/app/` for the one served under `/app/`).
struct TableSite {
    name: &'static str,
    dir: tempfile::TempDir,
    base: &'static str,
}

impl TableSite {
    fn served_folder(&self) -> std::path::PathBuf {
        let site = self.dir.path().join("site");
        match self.base {
            "/" => site,
            _ => site.join("app"),
        }
    }
}

fn routing_site() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/routing-site")
}

fn table_site(name: &'static str) -> TableSite {
    let (build, routing, routes, base) = match name {
        "root" => (routing_site(), "", ROUTES, "/"),
        "add" => (routing_site(), "trailing_slash = \"add\"", ROUTES, "/"),
        "remove" => (routing_site(), "trailing_slash = \"remove\"", ROUTES, "/"),
        "app" => (routing_site(), "", ROUTES, "/app/"),
        "demo" => (demo_spa(), "", DEMO_ROUTES, "/"),
        other => panic!("no site {other}"),
    };
    // `[routing]` keys first, then the arrays of tables.
    let (keys, arrays) = routes.split_at(routes.find("\n[[").unwrap_or(routes.len()));
    let manifest = format!("[routing]\n{routing}\n{keys}\n{arrays}");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spadeploy.toml", manifest);
    let to = if base == "/" { "site" } else { "site/app" };
    spadeploy(
        &["push", build.to_str().unwrap(), "--to", to, "-q"],
        Some(dir.path()),
    )
    .assert_ok();
    TableSite { name, dir, base }
}

fn all_sites() -> Vec<TableSite> {
    ["root", "add", "remove", "app", "demo"]
        .into_iter()
        .map(table_site)
        .collect()
}

fn cases() -> impl Iterator<Item = Vec<&'static str>> {
    TABLE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

#[test]
fn the_table_covers_every_step_of_the_evaluation_order() {
    assert!(cases().count() >= 40);
    for site in ["root", "add", "remove", "app", "demo"] {
        assert!(cases().any(|c| c[0] == site), "no case for {site}");
    }
}

#[test]
fn generated_edge_functions_pass_the_table_under_node() {
    let sites = all_sites();
    let mut site_files = Vec::new();
    for site in &sites {
        let dir = site.dir.path();
        let to = site.served_folder();
        let to = to.to_str().unwrap();
        for (mode, file, store) in [
            ("website", "lambda.mjs", None),
            ("private", "function.js", None),
            ("private", "function-kvs.js", Some("--key-value-store")),
        ] {
            let mut args = vec![
                "routing",
                "--print-function",
                "--mode",
                mode,
                "--to",
                to,
                "--base",
                site.base,
            ];
            args.extend(store);
            let run = spadeploy(&args, Some(dir));
            run.assert_ok();
            write(dir, file, &run.stdout);
        }
        let table = spadeploy(
            &[
                "routing",
                "--print-table",
                "--mode",
                "private",
                "--to",
                to,
                "--base",
                site.base,
            ],
            Some(dir),
        );
        table.assert_ok();
        let record: serde_json::Value = serde_json::from_slice(
            &std::fs::read(site.served_folder().join(".spadeploy/live.json")).unwrap(),
        )
        .unwrap();
        let description = serde_json::json!({
            "name": site.name,
            "root": site.served_folder(),
            "lambda": dir.join("lambda.mjs"),
            "function": dir.join("function.js"),
            "function_kvs": dir.join("function-kvs.js"),
            "table": table.json(),
            "objects": record["objects"],
        });
        write(dir, "site.json", description.to_string());
        site_files.push(dir.join("site.json"));
    }
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edge/conformance.mjs");
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/routing-conformance.tsv");
    let out = Command::new("node")
        .arg(&harness)
        .arg(&table)
        .args(&site_files)
        .output()
        .expect("Node.js runs the edge functions: install it (apt-get install nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains(&format!(
                "conformance: {} passed, 0 failed",
                cases().count() * 4
            )),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn serve(dir: &Path, mode: &str, api: &str) -> Served {
    serve_with(
        dir,
        &["--mode", mode, "--api", &format!("/api/=http://{api}")],
    )
}

fn serve_with(dir: &Path, args: &[&str]) -> Served {
    serve_folder(dir, "site", args)
}

fn check_table(addr: &str, site: &TableSite) -> Vec<String> {
    let mut failures = Vec::new();
    let folder = site.served_folder();
    for case in cases().filter(|c| c[0] == site.name) {
        let (method, target, status, body_kind) = (case[1], case[2], case[3], case[4]);
        let path = target.split('?').next().unwrap();
        let got = request(addr, method, target);
        let mut problems = Vec::new();
        if got.status.to_string() != status {
            problems.push(format!("status {}, expected {status}", got.status));
        }
        let expected: Option<Vec<u8>> = match body_kind {
            "api" => Some(api_body(path).1.as_bytes().to_vec()),
            "empty" => Some(Vec::new()),
            "any" => None,
            file => Some(std::fs::read(folder.join(file.strip_prefix("file:").unwrap())).unwrap()),
        };
        let expected = if method == "HEAD" {
            Some(Vec::new())
        } else {
            expected
        };
        if expected.is_some_and(|body| body != got.body) {
            problems.push(format!("body is not {body_kind}"));
        }
        for spec in case
            .get(5)
            .unwrap_or(&"")
            .split('|')
            .filter(|s| !s.is_empty())
        {
            if let Some(name) = spec.strip_prefix('-') {
                if let Some(value) = got.headers.get(name) {
                    problems.push(format!("{name}: {value:?}, expected none"));
                }
                continue;
            }
            let (name, want) = spec.split_once('=').unwrap();
            let value = got.headers.get(name).map(String::as_str).unwrap_or("");
            if value != want {
                problems.push(format!("{name}: {value:?}, expected {want:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{}] {method} {target}: {}",
                site.name,
                problems.join("; ")
            ));
        }
    }
    failures
}

#[test]
fn serve_passes_the_table_in_both_modes() {
    let api = start_fake_api();
    let mut failures = Vec::new();
    for site in all_sites() {
        for mode in ["website", "private"] {
            let served = serve_folder(
                site.dir.path(),
                site.served_folder().to_str().unwrap(),
                &[
                    "--mode",
                    mode,
                    "--api",
                    &format!("/api/=http://{api}"),
                    "--base",
                    site.base,
                ],
            );
            failures.extend(
                check_table(&served.1, &site)
                    .into_iter()
                    .map(|f| format!("{mode} mode: {f}")),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A project with the demo app pushed to `site/`.
fn project() -> tempfile::TempDir {
    table_site("demo").dir
}

#[test]
fn serve_never_exposes_spadeploys_state() {
    let tmp = project();
    let served = serve(tmp.path(), "website", &start_fake_api());
    let got = request(&served.1, "GET", "/.spadeploy/live.json");
    assert_eq!(got.status, 404);
    assert!(
        !String::from_utf8_lossy(&got.body).contains("sha256"),
        "the record leaked"
    );
}

#[test]
fn verify_passes_the_right_setup_and_names_the_classic_mistake() {
    let tmp = project();
    let api = start_fake_api();
    let probes = [
        "--api-probe",
        "/api/health=200",
        "--api-probe",
        "/api/users/999=404",
    ];

    let right = serve(tmp.path(), "private", &api);
    let url = format!("http://{}", right.1);
    let mut args = vec!["verify", url.as_str(), "--to", "site"];
    args.extend_from_slice(&probes);
    let run = spadeploy(&args, Some(tmp.path()));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("all 10 probes passed"),
        "{}",
        run.stdout
    );

    // The classic wrong way: the SPA fallback applies to API paths too (no /api/* behavior).
    let wrong = serve_with(tmp.path(), &["--mode", "private"]);
    let url = format!("http://{}", wrong.1);
    let mut args = vec!["verify", url.as_str(), "--json"];
    args.extend_from_slice(&probes);
    let run = spadeploy(&args, Some(tmp.path()));
    assert_eq!(run.code, 1, "{}", run.stdout);
    let result = run.json();
    assert_eq!(result["ok"], false);
    let failed: Vec<&serde_json::Value> = result["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["pass"] == false)
        .collect();
    assert_eq!(failed.len(), 2, "both API probes fail: {failed:?}");
    assert_eq!(failed[1]["got"], "200 with the SPA's index");
    assert!(failed[1]["hint"]
        .as_str()
        .unwrap()
        .contains("custom error response"));
    let human = spadeploy(
        &["verify", url.as_str(), "--api-probe", "/api/users/999=404"],
        Some(tmp.path()),
    );
    assert!(
        human.stdout.contains("FAIL  API status")
            && human
                .stdout
                .contains("expected 404 from the API, got 200 with the SPA's index"),
        "{}",
        human.stdout
    );
}

/// Sends raw bytes to `addr`; returns what came back until the server closed (or 15 s passed).
fn raw(addr: &str, bytes: &[u8]) -> (String, std::time::Duration) {
    use std::io::{Read, Write};
    let started = std::time::Instant::now();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn serve_refuses_foreign_hosts_and_drops_clients_that_never_finish_their_headers() {
    let tmp = project();
    let served = serve(tmp.path(), "private", &start_fake_api());
    let (answer, _) = raw(
        &served.1,
        b"GET / HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    let (answer, _) = raw(
        &served.1,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Half a request line, then silence: the server hangs up on its own.
    let (_, waited) = raw(&served.1, b"GET / HTTP/1.1\r\nHost: loc");
    assert!(
        waited < std::time::Duration::from_secs(14),
        "the connection was held {waited:?}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let site = table_site("root");
    let to = site.served_folder();
    // `spadeploy routing --print-table | head -0`: the pipe is closed before anything is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_spadeploy"))
        .args(["routing", "--print-table", "--to", to.to_str().unwrap()])
        .current_dir(site.dir.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn serve_refuses_absolute_form_targets_and_a_second_host() {
    let tmp = project();
    let served = serve(tmp.path(), "private", &start_fake_api());
    let (answer, _) = raw(
        &served.1,
        b"GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let (answer, _) = raw(
        &served.1,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[test]
fn serve_times_out_an_api_request_body_that_never_finishes() {
    let tmp = project();
    let served = serve(tmp.path(), "private", &start_fake_api());
    // Ten bytes announced, one sent, then silence (a client trickling its body).
    let (answer, waited) = raw(
        &served.1,
        b"POST /api/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nx",
    );
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "{answer} after {waited:?}"
    );
}

#[test]
fn verify_probes_pre_rendered_pages_the_404_page_and_the_manifests_headers() {
    let site = table_site("root");
    let dir = site.dir.path();
    let api = start_fake_api();
    for mode in ["website", "private"] {
        let served = serve(dir, mode, &api);
        let url = format!("http://{}", served.1);
        let run = spadeploy(
            &["verify", url.as_str(), "--to", "site", "--json"],
            Some(dir),
        );
        assert_eq!(run.code, 0, "{mode}: {}{}", run.stdout, run.stderr);
        let checks: Vec<String> = run.json()["probes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["check"].as_str().unwrap(),
                    p["path"].as_str().unwrap()
                )
            })
            .collect();
        for wanted in [
            "pre-rendered page /about/",
            "pre-rendered page /pricing",
            "404 page /spadeploy-verify-",
        ] {
            assert!(
                checks.iter().any(|c| c.starts_with(wanted)),
                "{mode}: no {wanted} in {checks:?}"
            );
        }
        let headers = checks
            .iter()
            .filter(|c| c.starts_with("[[headers]]"))
            .count();
        assert_eq!(headers, 3, "a 200, a fallback and a 404: {checks:?}");
    }

    // The same release served without its manifest (no 404 page status, no headers, no clean
    // URLs): verify names each missing piece.
    let bare = tempfile::tempdir().unwrap();
    write(
        bare.path(),
        "spadeploy.toml",
        "[routing]\nclean_urls = false\n",
    );
    let served = serve_folder(
        bare.path(),
        site.served_folder().to_str().unwrap(),
        &["--mode", "private", "--config", "spadeploy.toml"],
    );
    let url = format!("http://{}", served.1);
    let run = spadeploy(
        &["verify", url.as_str(), "--to", "site", "--json"],
        Some(dir),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let failed: Vec<String> = run.json()["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["pass"] == false)
        .map(|p| p["check"].as_str().unwrap().to_string())
        .collect();
    for check in ["pre-rendered page", "[[headers]]"] {
        assert!(
            failed.iter().any(|c| c == check),
            "{check} not failed: {failed:?}"
        );
    }
}
