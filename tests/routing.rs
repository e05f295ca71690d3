//! The routing conformance table (tests/data/routing-conformance.tsv) against the generated
//! Lambda@Edge and CloudFront Function under Node.js, and against `spadeploy serve` over HTTP
//! with a loopback API, in both modes. All must agree with the table.

#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::http::{api_body, request, start_fake_api};
use support::*;

const MANIFEST: &str = r#"
[routing]
no_fallback = ["/assets/"]

[[redirects]]
from = "/old/"
to = "/new/"
status = 301
"#;

const TABLE: &str = include_str!("data/routing-conformance.tsv");

/// A project folder with the manifest above and the demo app pushed to `site/`.
fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "spadeploy.toml", MANIFEST);
    let demo = demo_spa();
    spadeploy(
        &["push", demo.to_str().unwrap(), "--to", "site", "-q"],
        Some(tmp.path()),
    )
    .assert_ok();
    tmp
}

#[test]
fn generated_edge_functions_pass_the_table_under_node() {
    let tmp = project();
    let dir = tmp.path();
    for (mode, file) in [("website", "lambda.mjs"), ("private", "function.js")] {
        let run = spadeploy(&["routing", "--print-function", "--mode", mode], Some(dir));
        run.assert_ok();
        write(dir, file, &run.stdout);
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("site/.spadeploy/live.json")).unwrap())
            .unwrap();
    let site = serde_json::json!({
        "root": dir.join("site"),
        "host": "www.example.com",
        "index": "/index.html",
        "error_document": "index.html",
        "redirects": [{"from": "/old/", "to": "/new/", "status": 301}],
        "objects": record["objects"],
    });
    write(dir, "site.json", site.to_string());
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edge/conformance.mjs");
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/routing-conformance.tsv");
    let out = Command::new("node")
        .arg(&harness)
        .arg(dir.join("lambda.mjs"))
        .arg(dir.join("function.js"))
        .arg(&table)
        .arg(dir.join("site.json"))
        .output()
        .expect("Node.js runs the edge functions: install it (apt-get install nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let cases = TABLE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert!(
        out.status.success()
            && stdout.contains(&format!("conformance: {} passed, 0 failed", cases * 2)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Served(Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, mode: &str, api: &str) -> Served {
    serve_with(
        dir,
        &["--mode", mode, "--api", &format!("/api/=http://{api}")],
    )
}

fn serve_with(dir: &Path, args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spadeploy"))
        .args(["serve", "site", "--port", "0"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve printed no address: {first:?}"))
        .to_string();
    Served(child, addr)
}

fn check_table(addr: &str, site: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    for line in TABLE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (method, target, status, body_kind) = (cols[0], cols[1], cols[2], cols[3]);
        let path = target.split('?').next().unwrap();
        let got = request(addr, method, target);
        let mut problems = Vec::new();
        if got.status.to_string() != status {
            problems.push(format!("status {}, expected {status}", got.status));
        }
        let expected: Option<Vec<u8>> = match body_kind {
            "index" => Some(std::fs::read(site.join("index.html")).unwrap()),
            "api" => Some(api_body(path).1.as_bytes().to_vec()),
            "asset" => Some(std::fs::read(site.join(&path[1..])).unwrap()),
            "empty" => Some(Vec::new()),
            _ => None,
        };
        let expected = if method == "HEAD" {
            Some(Vec::new())
        } else {
            expected
        };
        if expected.is_some_and(|body| body != got.body) {
            problems.push(format!("body is not the {body_kind} body"));
        }
        for spec in cols
            .get(4)
            .unwrap_or(&"")
            .split('|')
            .filter(|s| !s.is_empty())
        {
            let (name, want) = spec.split_once('=').unwrap();
            let value = got.headers.get(name).map(String::as_str).unwrap_or("");
            let ok = if name == "location" {
                value.ends_with(want)
            } else {
                value == want
            };
            if !ok {
                problems.push(format!("{name}: {value:?}, expected {want:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{method} {target}: {}", problems.join("; ")));
        }
    }
    failures
}

#[test]
fn serve_passes_the_table_in_both_modes() {
    let tmp = project();
    let api = start_fake_api();
    for mode in ["website", "private"] {
        let served = serve(tmp.path(), mode, &api);
        let failures = check_table(&served.1, &tmp.path().join("site"));
        assert!(failures.is_empty(), "{mode} mode:\n{}", failures.join("\n"));
    }
}

#[test]
fn serve_never_exposes_spadeploys_state() {
    let tmp = project();
    let served = serve(tmp.path(), "website", &start_fake_api());
    let got = request(&served.1, "GET", "/.spadeploy/live.json");
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
