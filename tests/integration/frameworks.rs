//! Every framework fixture in tests/frameworks/ (issue 21), deployed as a new user would: the
//! project with its build where the framework writes it, and `spadeploy push <output_dir>` from the
//! project folder with NO spadeploy.toml. Each `[[case]]` of its expect.toml is then asked of
//! `spadeploy serve` in both modes and of both generated edge functions under Node.js
//! (tests/edge/conformance.mjs), and the cases with a `text` are opened in headless Chromium
//! (tests/browser/render.mjs), which must render them with no failed script or module load.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::http::request;
use crate::support::serve::serve_folder;
use crate::support::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Expect {
    framework: String,
    output_dir: String,
    #[serde(default)]
    not_found: String,
    #[serde(rename = "case")]
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    path: String,
    status: u16,
    text: Option<String>,
    html: Option<String>,
    location: Option<String>,
}

impl Case {
    /// The URL path without its query.
    fn url_path(&self) -> &str {
        self.path.split('?').next().unwrap()
    }

    /// A page URL: its last segment has no extension (`/users/7`, `/blog/hello/`).
    fn is_page_url(&self) -> bool {
        !self.url_path().rsplit('/').next().unwrap().contains('.')
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/frameworks")
}

fn load(fixture: &str) -> Expect {
    let path = fixtures_dir().join(fixture).join("expect.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies the fixture's project as committed (`git ls-files`: no node_modules, no framework
/// caches, no local build output), or, outside a git checkout, every file but node_modules/.
fn copy_project(fixture: &str, to: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rel = format!("tests/frameworks/{fixture}/project");
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--", &rel])
        .current_dir(root)
        .output()
        .ok()
        .filter(|out| out.status.success() && !out.stdout.is_empty());
    let files: Vec<PathBuf> = match listed {
        Some(out) => out
            .stdout
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
            .collect(),
        None => walkdir::WalkDir::new(root.join(&rel))
            .into_iter()
            .filter_entry(|e| e.file_name() != "node_modules")
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .collect(),
    };
    let from = root.join(&rel);
    for file in files.iter().filter(|f| f.is_file()) {
        let dest = to.join(file.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(file, dest).unwrap();
    }
}

/// A fixture pushed with no manifest to `<tmp>/site`, from `<tmp>/project`.
struct Deployed {
    fixture: &'static str,
    expect: Expect,
    project: PathBuf,
    site: PathBuf,
    /// What push printed (it says what it detected), for failure messages.
    push_output: String,
    _dir: tempfile::TempDir,
}

fn deploy(fixture: &'static str) -> Deployed {
    let expect = load(fixture);
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let site = dir.path().join("site");
    copy_project(fixture, &project);
    copy_dir(
        &fixtures_dir().join(fixture).join("build"),
        &project.join(&expect.output_dir),
    );
    assert!(
        !project.join("spadeploy.toml").exists(),
        "{fixture}: the project must have no spadeploy.toml (the push is zero-config)"
    );
    let push = spadeploy(
        &[
            "push",
            &expect.output_dir,
            "--to",
            site.to_str().unwrap(),
            "-q",
        ],
        Some(&project),
    );
    // What push said, without its line per file.
    let said: String = format!("{}{}", push.stdout, push.stderr)
        .lines()
        .filter(|l| {
            !["upload", "update", "keep", "delete"]
                .contains(&l.split_whitespace().next().unwrap_or(""))
                || !l.starts_with(' ')
        })
        .map(|l| format!("  {l}\n"))
        .collect();
    let push_output = format!(
        "`spadeploy push {} --to <tmp>/site -q` in the project printed:\n{said}",
        expect.output_dir
    );
    assert_eq!(push.code, 0, "{fixture}: the push failed\n{push_output}");
    Deployed {
        fixture,
        expect,
        project,
        site,
        push_output,
        _dir: dir,
    }
}

fn looks_like_html_document(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    while let Some(comment) = rest.strip_prefix("<!--") {
        rest = comment
            .split_once("-->")
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    let head = rest.get(..14).unwrap_or(rest).to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html>") || head.starts_with("<html ")
}

/// The origin-relative form of a Location (`http://127.0.0.1:PORT/x` → `/x`).
fn relative_location(location: &str) -> &str {
    match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => location,
    }
}

/// Every case over HTTP through `spadeploy serve SITE --mode MODE`, started in the project folder.
fn check_serve(deployed: &Deployed, mode: &str) -> Vec<String> {
    let served = serve_folder(
        &deployed.project,
        deployed.site.to_str().unwrap(),
        &["--mode", mode],
    );
    let not_found_page = (!deployed.expect.not_found.is_empty())
        .then(|| std::fs::read(deployed.site.join(&deployed.expect.not_found)).unwrap_or_default());
    let mut failures = Vec::new();
    for case in &deployed.expect.cases {
        let got = request(&served.1, "GET", &case.path);
        let mut problems = Vec::new();
        if got.status != case.status {
            problems.push(format!("status {}, expected {}", got.status, case.status));
        }
        if let Some(html) = &case.html {
            if !String::from_utf8_lossy(&got.body).contains(html.as_str()) {
                problems.push(format!("body does not contain {html:?}"));
            }
        }
        if got.status == 200
            && case.status == 200
            && case.is_page_url()
            && !looks_like_html_document(&got.body)
        {
            problems.push(format!(
                "body is not an HTML document: {:?}",
                String::from_utf8_lossy(&got.body[..got.body.len().min(80)])
            ));
        }
        if let (404, 404, true, Some(page)) =
            (got.status, case.status, case.is_page_url(), &not_found_page)
        {
            if got.body != *page {
                problems.push(format!("body is not {}", deployed.expect.not_found));
            }
        }
        if let Some(want) = &case.location {
            let location = got.headers.get("location").map(String::as_str);
            if location.map(relative_location) != Some(want.as_str()) {
                problems.push(format!("location {location:?}, expected {want:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "serve --mode {mode}: GET {} ({}): {}",
                case.path,
                case.name,
                problems.join("; ")
            ));
        }
    }
    failures
}

/// Every case through the generated Lambda@Edge (website mode) and CloudFront Function (private
/// mode, inline and with a KeyValueStore), generated in the project folder, under Node.js.
fn check_edge(deployed: &Deployed) -> Vec<String> {
    let dir = &deployed.project;
    let work = dir.parent().unwrap();
    let to = deployed.site.to_str().unwrap();
    let mut failures = Vec::new();
    for (mode, file, store) in [
        ("website", "lambda.mjs", None),
        ("private", "function.js", None),
        ("private", "function-kvs.js", Some("--key-value-store")),
    ] {
        let mut args = vec!["routing", "--print-function", "--mode", mode, "--to", to];
        args.extend(store);
        let run = spadeploy(&args, Some(dir));
        if run.code != 0 {
            failures.push(format!(
                "routing --print-function --mode {mode}: {}",
                run.stderr
            ));
        }
        write(work, file, &run.stdout);
    }
    let table = spadeploy(
        &["routing", "--print-table", "--mode", "private", "--to", to],
        Some(dir),
    );
    if table.code != 0 || !failures.is_empty() {
        failures.push(format!("routing --print-table: {}", table.stderr));
        return failures;
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(deployed.site.join(".spadeploy/live.json")).unwrap())
            .unwrap();
    let description = serde_json::json!({
        "name": deployed.fixture,
        "root": deployed.site,
        "lambda": work.join("lambda.mjs"),
        "function": work.join("function.js"),
        "function_kvs": work.join("function-kvs.js"),
        "table": table.json(),
        "objects": record["objects"],
    });
    write(work, "site.json", description.to_string());

    // One row per check; a case may give several (its status and html, an HTML page, the 404 page).
    let mut rows = Vec::new();
    for case in &deployed.expect.cases {
        let headers = case
            .location
            .as_ref()
            .map(|l| format!("location={l}"))
            .unwrap_or_default();
        let body = case
            .html
            .as_ref()
            .map_or("any".to_string(), |h| format!("contains:{h}"));
        rows.push([case.path.clone(), case.status.to_string(), body, headers]);
        if case.status == 200 && case.is_page_url() {
            rows.push([
                case.path.clone(),
                "200".into(),
                "html".into(),
                String::new(),
            ]);
        }
        if case.status == 404 && case.is_page_url() && !deployed.expect.not_found.is_empty() {
            let body = format!("file:{}", deployed.expect.not_found);
            rows.push([case.path.clone(), "404".into(), body, String::new()]);
        }
    }
    let tsv: String = rows
        .iter()
        .map(|[path, status, body, headers]| {
            format!(
                "{}\tGET\t{path}\t{status}\t{body}\t{headers}\n",
                deployed.fixture
            )
        })
        .collect();
    write(work, "cases.tsv", tsv);
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edge/conformance.mjs");
    let out = Command::new("node")
        .arg(&harness)
        .arg(work.join("cases.tsv"))
        .arg(work.join("site.json"))
        .output()
        .expect("Node.js runs the edge functions: install it (apt-get install nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Four runs of each row: Lambda@Edge, the function (viewer-response seeing either URI) and
    // the function reading a KeyValueStore.
    let summary = format!("conformance: {} passed, 0 failed", rows.len() * 4);
    if !out.status.success() || !stdout.contains(&summary) {
        // `FAIL <runner> [fixture] GET <target>: <problems>`, one line per runner: grouped.
        let marker = format!(" [{}] ", deployed.fixture);
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for line in stdout.lines().filter_map(|l| l.strip_prefix("FAIL ")) {
            let (runner, what) = line.split_once(&marker).unwrap_or(("?", line));
            match grouped.iter_mut().find(|(w, _)| w == what) {
                Some((_, runners)) => runners.push(runner.to_string()),
                None => grouped.push((what.to_string(), vec![runner.to_string()])),
            }
        }
        failures.extend(grouped.into_iter().map(|(what, runners)| {
            let runners = match runners.len() {
                4 => "all four runs".to_string(),
                _ => runners.join("; "),
            };
            format!("edge ({runners}): {what}")
        }));
        if failures.is_empty() {
            failures.push(format!(
                "edge: expected {summary:?}, got:\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    failures
}

fn check_framework(fixture: &'static str) {
    let deployed = deploy(fixture);
    let mut failures = check_serve(&deployed, "website");
    failures.extend(check_serve(&deployed, "private"));
    failures.extend(check_edge(&deployed));
    assert!(
        failures.is_empty(),
        "{fixture} ({}, build in {}): {} failed checks\n  {}\n{}",
        deployed.expect.framework,
        deployed.expect.output_dir,
        failures.len(),
        failures.join("\n  "),
        deployed.push_output
    );
}

macro_rules! framework_tests {
    ($($test:ident => $fixture:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_framework($fixture);
            }
        )*
        const FIXTURES: &[&str] = &[$($fixture),*];
    };
}

framework_tests! {
    zero_config_vite_spa_answers_client_routes_with_its_shell_and_keeps_missing_assets_404 => "vite-react",
    zero_config_astro_site_answers_its_pages_and_a_real_404_for_missing_ones => "astro",
    zero_config_nextjs_export_answers_pages_without_slash_and_its_404_page => "nextjs",
    zero_config_sveltekit_site_boots_client_routes_from_200_html_and_drops_the_slash => "sveltekit",
    zero_config_angular_app_is_found_in_dist_browser_and_answers_client_routes => "angular",
    zero_config_nuxt_generate_is_found_in_output_public_and_answers_its_404 => "nuxt",
    zero_config_vitepress_site_is_found_in_its_dist_with_clean_urls_and_its_404 => "vitepress",
    zero_config_eleventy_site_adds_the_slash_and_answers_its_404 => "eleventy",
    zero_config_react_router_spa_mode_answers_client_routes_with_its_spa_fallback => "react-router",
    zero_config_hugo_site_adds_the_slash_and_answers_its_404 => "hugo",
    zero_config_docusaurus_site_answers_both_slash_forms_and_its_404 => "docusaurus",
}

#[test]
fn every_framework_fixture_has_a_routing_test() {
    let mut found: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut tested: Vec<String> = FIXTURES
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    tested.sort();
    assert_eq!(found, tested, "add the new fixture to framework_tests!");
    for fixture in FIXTURES {
        let expect = load(fixture);
        assert!(!expect.cases.is_empty(), "{fixture}: no [[case]]");
    }
}

/// The Chromium binary: `$CHROMIUM`, else Debian's /usr/bin/chromium.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "the browser test needs headless Chromium at {} (Debian: `apt-get install -y chromium`, \
         which ./test.sh runs when it is root; elsewhere set CHROMIUM to a Chromium or Chrome binary)",
        path.display()
    );
    path
}

/// What the browser checks for a case: its text; for a redirect, the texts of its target (the
/// browser follows it, and the page it lands on must work: a `/blog/hello/` that a host served
/// instead of redirecting would load its relative scripts from the wrong folder).
fn browser_cases(expect: &Expect, case: &Case) -> Vec<serde_json::Value> {
    let page = |name: &str, text: &str| serde_json::json!({ "name": name, "path": case.path, "text": text });
    match (&case.text, &case.location) {
        (Some(text), _) => vec![page(&case.name, text)],
        (None, Some(location)) => expect
            .cases
            .iter()
            .filter(|target| target.path == *location)
            .filter_map(|target| {
                let text = target.text.as_ref()?;
                Some(page(&format!("{}, then {}", case.name, target.name), text))
            })
            .collect(),
        (None, None) => Vec::new(),
    }
}

#[test]
fn a_real_browser_renders_every_frameworks_pages_with_no_failed_script_load() {
    let chromium = chromium();
    let deployed: Vec<Deployed> = std::thread::scope(|scope| {
        let handles: Vec<_> = FIXTURES
            .iter()
            .map(|fixture| scope.spawn(move || deploy(fixture)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut servers = Vec::new();
    let mut jobs = Vec::new();
    for site in &deployed {
        let cases: Vec<serde_json::Value> = site
            .expect
            .cases
            .iter()
            .flat_map(|case| browser_cases(&site.expect, case))
            .collect();
        for mode in ["private", "website"] {
            let served = serve_folder(
                &site.project,
                site.site.to_str().unwrap(),
                &["--mode", mode],
            );
            jobs.push(serde_json::json!({
                "fixture": site.fixture,
                "mode": mode,
                "origin": format!("http://{}", served.1),
                "cases": cases,
            }));
            servers.push(served);
        }
    }
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "jobs.json",
        serde_json::Value::Array(jobs).to_string(),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let failures_dir = root.join("target/browser-failures");
    let out = Command::new("node")
        .arg(root.join("tests/browser/render.mjs"))
        .arg(work.path().join("jobs.json"))
        .arg(&failures_dir)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("Node.js drives the browser: install it (apt-get install nodejs)");
    drop(servers);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary and the slowest pages, shown with --nocapture.
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains(" 0 failed"),
        "{stdout}{stderr}\nscreenshots of the failed pages: {}",
        failures_dir.display()
    );
}
