//! Setting a project up, against a local directory target (no emulator needed): `spadeploy init`
//! (a starter, an import from Netlify, the framework's build folder), a zero-config push that
//! applies the framework's rules, `routing --explain`, and `serve` answering with the routing a
//! release was pushed with.

use crate::support::*;
use std::path::Path;

#[test]
fn init_writes_a_valid_starter_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&demo_spa(), &tmp.path().join("build"));
    let run = spadeploy(&["init"], Some(tmp.path()));
    run.assert_ok();
    assert!(run.stderr.contains("build/"), "{}", run.stderr);
    let text = std::fs::read_to_string(tmp.path().join("spadeploy.toml")).unwrap();
    assert!(text.contains("dir = \"build\""));
    spadeploy(&["init"], Some(tmp.path())).assert_fails_with(1, "--force");
    spadeploy(&["init", "--force"], Some(tmp.path())).assert_ok();
    // The starter deploys as written.
    spadeploy(&["push", "-q"], Some(tmp.path())).assert_ok();
    assert!(tmp.path().join("site/index.html").is_file());
}

#[test]
fn init_from_netlify_writes_a_manifest_that_routes_and_names_what_it_could_not_import() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "public/_redirects",
        "/old/*  /new/:splat  301\n/*  /index.html  200\n/de/*  /de/index.html  200  Country=de\n",
    );
    write(dir, "public/_headers", "/*\n  X-Frame-Options: DENY\n");
    write(dir, "netlify.toml", "[build]\npublish = \"public\"\n");
    let run = spadeploy(&["init", "--from", "netlify"], Some(dir));
    run.assert_ok();
    assert!(
        run.stderr
            .contains("public/_redirects:3: /de/*  /de/index.html  200  Country=de"),
        "{}",
        run.stderr
    );
    let manifest = std::fs::read_to_string(dir.join("spadeploy.toml")).unwrap();
    assert!(manifest.contains("dir = \"public\""), "{manifest}");
    assert!(
        manifest.contains("# public/_redirects:3:") || manifest.contains("# _redirects:3:"),
        "{manifest}"
    );

    // The imported routing is what serve answers.
    copy_dir(&demo_spa(), &dir.join("public"));
    spadeploy(&["push", "-q"], Some(dir)).assert_ok();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_spadeploy"))
        .args(["serve", "--port", "0", "--mode", "private"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split(['/', ' '])
        .next()
        .unwrap()
        .to_string();
    let route = crate::support::http::request(&addr, "GET", "/users/42");
    let moved = crate::support::http::request(&addr, "GET", "/old/page?x=1");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(route.status, 200);
    assert_eq!(
        route.headers.get("x-frame-options").map(String::as_str),
        Some("DENY")
    );
    assert_eq!(moved.status, 301);
    assert_eq!(moved.headers["location"], "/new/page?x=1");

    let empty = tempfile::tempdir().unwrap();
    spadeploy(&["init", "--from", "vercel"], Some(empty.path()))
        .assert_fails_with(1, "no vercel.json in this folder");
}

#[test]
fn init_from_a_hostile_file_writes_no_live_setting_it_did_not_report() {
    let tmp = tempfile::tempdir().unwrap();
    let plant = "/x y\n[cdn]\ndistribution = \"EATTACKER123\"\n[[redirects]]\nfrom = \"/*\"\nto = \"https://evil.example/:splat\"\n#";
    let vercel = serde_json::json!({
        "redirects": [
            { "source": "/a", "destination": plant },
            { "source": "/old", "destination": "/new", "statusCode": 65837 }
        ],
        "rewrites": [{ "source": "/b", "destination": "//evil.example/b" }]
    });
    write(tmp.path(), "vercel.json", vercel.to_string());
    let run = spadeploy(&["init", "--from", "vercel"], Some(tmp.path()));
    run.assert_ok();
    assert!(
        run.stderr.contains("0 redirect(s), 0 rewrite(s)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("3 rule(s) not imported"),
        "{}",
        run.stderr
    );
    let manifest = std::fs::read_to_string(tmp.path().join("spadeploy.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&manifest).unwrap();
    let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    assert_eq!(keys, ["dir", "routing", "target"], "{manifest}");
}

#[test]
fn init_from_a_file_of_another_shape_fails_and_says_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "vercel.json", "[1,2,3]");
    spadeploy(&["init", "--from", "vercel"], Some(tmp.path())).assert_fails_with(
        1,
        "vercel.json: the file is an array, but it must be an object",
    );
    write(tmp.path(), "firebase.json", "{\"hosting\":5}");
    spadeploy(&["init", "--from", "firebase"], Some(tmp.path())).assert_fails_with(
        1,
        "firebase.json: `hosting` is a number, but it must be an object",
    );
    assert!(!tmp.path().join("spadeploy.toml").exists());
}

#[test]
fn spa_entries_that_leave_out_the_root_app_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("dist");
    write(&build, "index.html", "<h1>root</h1>");
    write(&build, "admin/index.html", "<h1>admin</h1>");
    write(
        tmp.path(),
        "spadeploy.toml",
        "[[spa]]\nprefix = \"/admin/\"\n",
    );
    let site = tmp.path().join("site");
    let run = spadeploy(
        &["push", "dist", "--to", site.to_str().unwrap(), "-q"],
        Some(tmp.path()),
    );
    run.assert_ok();
    assert!(
        run.stderr.contains("no [[spa]] covers `/`"),
        "{}",
        run.stderr
    );
    write(
        tmp.path(),
        "spadeploy.toml",
        "[[spa]]\nprefix = \"/\"\n\n[[spa]]\nprefix = \"/admin/\"\n",
    );
    let run = spadeploy(
        &["push", "dist", "--to", site.to_str().unwrap(), "-q"],
        Some(tmp.path()),
    );
    run.assert_ok();
    assert!(!run.stderr.contains("covers"), "{}", run.stderr);
}

#[test]
fn a_zero_config_push_applies_the_frameworks_rules_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/frameworks/astro");
    copy_project(&fixture.join("project"), tmp.path());
    copy_dir(&fixture.join("build"), &tmp.path().join("dist"));
    let site = tmp.path().join("site");
    // No DIR and no manifest: Astro's own output folder, and its rules.
    let run = spadeploy(&["push", "--to", site.to_str().unwrap()], Some(tmp.path()));
    run.assert_ok();
    assert!(run.stderr.contains("detected Astro"), "{}", run.stderr);
    let table = spadeploy(
        &["routing", "--print-table", "--to", site.to_str().unwrap()],
        Some(tmp.path()),
    );
    table.assert_ok();
    let table = table.json();
    assert_eq!(table["routes"]["spas"], serde_json::json!([]), "{table}");
    assert_eq!(table["routes"]["not_found"], "/404.html", "{table}");
    // framework = "none" turns it off: the next push records the SPA defaults again.
    write(
        tmp.path(),
        "spadeploy.toml",
        "framework = \"none\"\ndir = \"dist\"\n",
    );
    let run = spadeploy(&["push", "--to", site.to_str().unwrap()], Some(tmp.path()));
    run.assert_ok();
    assert!(!run.stderr.contains("detected"), "{}", run.stderr);
    let table = spadeploy(
        &["routing", "--print-table", "--to", site.to_str().unwrap()],
        Some(tmp.path()),
    );
    assert_ne!(table.json()["routes"]["spas"], serde_json::json!([]));
}

#[test]
fn init_finds_the_frameworks_build_folder_and_writes_its_settings() {
    for (name, dir) in [
        ("angular", "dist/fixture/browser"),
        ("nuxt", ".output/public"),
        ("vitepress", "docs/.vitepress/dist"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/frameworks")
            .join(name);
        copy_project(&fixture.join("project"), tmp.path());
        copy_dir(&fixture.join("build"), &tmp.path().join(dir));
        let run = spadeploy(&["init"], Some(tmp.path()));
        run.assert_ok();
        let written = std::fs::read_to_string(tmp.path().join("spadeploy.toml")).unwrap();
        assert!(
            written.contains(&format!("dir = \"{dir}\"")),
            "{name}: {written}"
        );
        assert!(written.contains("framework = "), "{name}: {written}");
        // The written manifest pushes as it is.
        let site = tmp.path().join("site");
        spadeploy(
            &["push", "--to", site.to_str().unwrap(), "-q"],
            Some(tmp.path()),
        )
        .assert_ok();
    }
}

/// A framework project's own files (no node_modules, build output or links a build left).
fn copy_project(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let kind = entry.file_type().unwrap();
        let skipped = [
            "node_modules",
            "dist",
            "build",
            "out",
            ".output",
            ".nuxt",
            ".astro",
        ];
        if kind.is_symlink() || skipped.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_project(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn routing_explain_walks_the_evaluation_order_for_a_url() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/frameworks/astro");
    copy_project(&fixture.join("project"), tmp.path());
    copy_dir(&fixture.join("build"), &tmp.path().join("dist"));
    let site = tmp.path().join("site");
    let to = site.to_str().unwrap();
    spadeploy(&["push", "--to", to, "-q"], Some(tmp.path())).assert_ok();
    let page = spadeploy(
        &["routing", "--explain", "/blog/hello/", "--to", to],
        Some(tmp.path()),
    );
    page.assert_ok();
    assert!(
        page.stdout
            .contains("names the page /blog/hello/index.html")
            && page
                .stdout
                .contains("answer: 200 the file blog/hello/index.html")
            && page.stdout.contains("cache-control: no-cache"),
        "{}",
        page.stdout
    );
    let missing = spadeploy(
        &["routing", "--explain", "/nope", "--to", to, "--json"],
        Some(tmp.path()),
    );
    missing.assert_ok();
    let explained = missing.json();
    assert_eq!(explained["status"], 404);
    assert_eq!(explained["answer"], "the file 404.html");
    let steps = explained["steps"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()[0], "not-found", "{explained}");
    assert!(steps.iter().any(|s| s[0] == "spa-fallback"), "{explained}");
}

#[test]
fn serve_answers_with_the_routing_the_release_was_pushed_with_wherever_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    copy_dir(&demo_spa(), &project.join("dist"));
    write(
        &project,
        "spadeploy.toml",
        "[[redirects]]\nfrom = \"/old/*\"\nto = \"/new/:splat\"\n\n[[headers]]\nfor = \"/*\"\nvalues = { \"X-Frame-Options\" = \"DENY\" }\n",
    );
    let site = tmp.path().join("site");
    spadeploy(
        &["push", "dist", "--to", site.to_str().unwrap(), "-q"],
        Some(&project),
    )
    .assert_ok();
    // Started in another folder, with no manifest: the release's own routing still answers.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let served = crate::support::serve::serve_folder(&elsewhere, site.to_str().unwrap(), &[]);
    let got = crate::support::http::request(&served.1, "GET", "/old/page");
    assert_eq!(got.status, 301);
    assert_eq!(got.headers["location"], "/new/page");
    let got = crate::support::http::request(&served.1, "GET", "/users/42");
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["x-frame-options"], "DENY");
}
