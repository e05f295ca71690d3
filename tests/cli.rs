//! The binary against a local directory target (no emulator needed) and every bad input a user
//! can give it: each must fail with a message that says what to do, and a non-zero exit.

#[allow(dead_code)]
mod support;

use std::path::Path;

use support::*;

fn local_push(dir: &Path, to: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "push",
        dir.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    spadeploy(&args, None)
}

#[test]
fn local_target_holds_files_headers_and_record_and_noop_is_free() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let run = local_push(&demo_spa(), &site, &[]);
    run.assert_ok();
    assert_eq!(run.json()["upload"].as_array().unwrap().len(), 7);
    assert_eq!(
        std::fs::read(site.join("index.html")).unwrap(),
        std::fs::read(demo_spa().join("index.html")).unwrap()
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join(".spadeploy/live.json")).unwrap()).unwrap();
    let index = &record["objects"]["index.html"];
    assert_eq!(index["cache_control"], "no-cache");
    assert_eq!(index["content_type"], "text/html; charset=utf-8");
    assert_eq!(
        index["sha256"],
        sha256_hex(&std::fs::read(site.join("index.html")).unwrap())
    );

    let record_before = std::fs::read(site.join(".spadeploy/live.json")).unwrap();
    let again = local_push(&demo_spa(), &site, &[]);
    again.assert_ok();
    assert_eq!(again.json()["unchanged"], 7);
    assert_eq!(again.json()["bytes_uploaded"], 0);
    assert_eq!(
        std::fs::read(site.join(".spadeploy/live.json")).unwrap(),
        record_before,
        "a no-op push writes nothing, not even the record"
    );
}

#[test]
fn local_target_syncs_changes_and_repairs_outside_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("build");
    let site = tmp.path().join("site");
    copy_dir(&demo_spa(), &build);
    let now = ["--keep-releases", "1"];
    local_push(&build, &site, &now).assert_ok();

    write(&build, "robots.txt", "changed");
    std::fs::remove_file(build.join("favicon.ico")).unwrap();
    write(
        &site,
        "manifest.webmanifest",
        "edited by hand on the server",
    );
    let run = local_push(&build, &site, &now);
    run.assert_ok();
    let report = run.json();
    let updated: Vec<_> = report["update"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(updated, ["manifest.webmanifest", "robots.txt"]);
    assert_eq!(
        report["update"][0]["reason"],
        "not written by spadeploy, or changed outside it"
    );
    assert_eq!(report["delete"][0], "favicon.ico");
    assert!(!site.join("favicon.ico").exists());
    assert_eq!(
        std::fs::read_to_string(site.join("robots.txt")).unwrap(),
        "changed"
    );
    assert_eq!(
        std::fs::read(site.join("manifest.webmanifest")).unwrap(),
        std::fs::read(build.join("manifest.webmanifest")).unwrap()
    );
}

#[test]
fn files_unchanged_since_the_last_scan_are_not_read_again_but_any_change_is_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("build");
    let site = tmp.path().join("site");
    copy_dir(&demo_spa(), &build);
    // Files changed in the last 3 seconds are never remembered (a write within the same clock
    // tick could leave their identity as it was), so the fresh copy must settle first.
    std::thread::sleep(std::time::Duration::from_millis(3_200));
    let first = local_push(&build, &site, &[]);
    first.assert_ok();
    assert_eq!(first.json()["files_hashed"], 7, "nothing remembered yet");
    let again = local_push(&build, &site, &[]);
    again.assert_ok();
    assert_eq!(again.json()["files_hashed"], 0, "all 7 remembered");
    assert_eq!(again.json()["unchanged"], 7);

    // Same size, same mtime, other bytes: only the ctime tells, and it is enough.
    let index = build.join("index.html");
    let mtime = std::fs::metadata(&index).unwrap().modified().unwrap();
    let edited = String::from_utf8(std::fs::read(&index).unwrap())
        .unwrap()
        .replacen("<title>", "<TITLE>", 1);
    std::fs::write(&index, &edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&index)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&index).unwrap().modified().unwrap(),
        mtime
    );
    let edit = local_push(&build, &site, &[]);
    edit.assert_ok();
    assert_eq!(edit.json()["files_hashed"], 1, "{}", edit.stdout);
    assert_eq!(edit.json()["update"][0]["key"], "index.html");
    assert_eq!(
        std::fs::read_to_string(site.join("index.html")).unwrap(),
        edited
    );

    let rehash = local_push(&build, &site, &["--rehash"]);
    rehash.assert_ok();
    assert_eq!(
        rehash.json()["files_hashed"],
        7,
        "--rehash reads every file"
    );
    assert_eq!(rehash.json()["unchanged"], 7);
}

#[test]
fn human_output_lists_each_change_with_its_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = spadeploy(
        &[
            "diff",
            demo_spa().to_str().unwrap(),
            "--to",
            tmp.path().join("s").to_str().unwrap(),
            "-q",
        ],
        None,
    );
    run.assert_ok();
    assert!(
        run.stdout
            .starts_with("Plan (dry run, nothing was changed): "),
        "{}",
        run.stdout
    );
    let index_line = run
        .stdout
        .lines()
        .find(|l| l.contains(" index.html "))
        .unwrap();
    assert!(index_line.contains("text/html; charset=utf-8") && index_line.contains("no-cache"));
    assert!(
        run.stdout
            .contains("7 to upload, 0 to update, 0 to delete, 0 unchanged"),
        "{}",
        run.stdout
    );
    assert!(!tmp.path().join("s").exists(), "a dry run creates nothing");
}

#[test]
fn the_manifest_supplies_dir_target_and_rules() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&demo_spa(), &tmp.path().join("dist"));
    write(
        tmp.path(),
        "spadeploy.toml",
        "dir = \"dist\"\nexclude = [\"robots.txt\"]\n[target]\nto = \"out\"\n\
         [[rules]]\nglob = \"assets/**\"\ncache_control = \"public, max-age=60\"\n",
    );
    let run = spadeploy(&["push", "--json", "-q"], Some(tmp.path()));
    run.assert_ok();
    let report = run.json();
    assert_eq!(
        report["upload"].as_array().unwrap().len(),
        6,
        "robots.txt excluded"
    );
    let asset = report["upload"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"].as_str().unwrap().starts_with("assets/"))
        .unwrap();
    assert_eq!(asset["cache_control"], "public, max-age=60");
    assert!(
        tmp.path().join("out/index.html").is_file(),
        "relative `to` resolves from the manifest"
    );

    // A flag wins over the manifest.
    let other = tmp.path().join("elsewhere");
    let run = spadeploy(
        &["push", "--to", other.to_str().unwrap(), "-q"],
        Some(tmp.path()),
    );
    run.assert_ok();
    assert!(other.join("index.html").is_file());
}

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
fn bad_build_directories_fail_before_any_network_work() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    // An unreachable S3 endpoint proves the directory is checked first.
    let s3 = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "push",
            dir.to_str().unwrap(),
            "--to",
            "s3://bucket",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ];
        args.extend_from_slice(extra);
        spadeploy(&args, None)
    };
    s3(&tmp.path().join("nope"), &[]).assert_fails_with(1, "does not exist: run your build first");
    write(tmp.path(), "file.txt", "x");
    s3(&tmp.path().join("file.txt"), &[]).assert_fails_with(1, "is not a directory");
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    s3(&tmp.path().join("empty"), &[]).assert_fails_with(1, "has no files to deploy");
    write(tmp.path(), "noindex/app.js", "x");
    s3(&tmp.path().join("noindex"), &[]).assert_fails_with(1, "--allow-missing-index");
    local_push(
        &tmp.path().join("noindex"),
        &site,
        &["--allow-missing-index"],
    )
    .assert_ok();
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_escaping_symlinks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("build");
    write(&build, "index.html", "i");
    std::os::unix::fs::symlink(tmp.path().join("missing.js"), build.join("app.js")).unwrap();
    local_push(&build, &tmp.path().join("site"), &[]).assert_fails_with(1, "cannot read");
    std::fs::remove_file(build.join("app.js")).unwrap();
    write(tmp.path(), "secret.txt", "s");
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), build.join("leak.txt")).unwrap();
    local_push(&build, &tmp.path().join("site"), &[])
        .assert_fails_with(1, "outside the build directory");
    assert!(!tmp.path().join("site").exists(), "nothing was written");
}

#[test]
fn bad_targets_are_usage_errors() {
    let demo = demo_spa();
    let dir = demo.to_str().unwrap();
    for (to, needle) in [
        ("gs://bucket", "unsupported target scheme `gs://`"),
        ("s3:/bucket", "looks like a mistyped S3 URL"),
        ("s3://Bad_Bucket", "invalid bucket name"),
        ("", "the target is empty"),
    ] {
        spadeploy(&["push", dir, "--to", to], None).assert_fails_with(64, needle);
    }
    let tmp = tempfile::tempdir().unwrap();
    spadeploy(&["push", dir], Some(tmp.path())).assert_fails_with(1, "no target: pass --to");
    spadeploy(&["push", "--bogus"], None).assert_fails_with(64, "--bogus");
    // Deploying into the build itself.
    let inside = demo.join("site");
    spadeploy(&["push", dir, "--to", inside.to_str().unwrap()], None)
        .assert_fails_with(1, "overlap");
}

#[test]
fn malformed_manifests_name_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "dir = \"dist\"\n[target]\nbukket = \"x\"\n",
            "spadeploy.toml:3:1: unknown field `bukket`",
        ),
        (
            "[target]\nto = \"ftp://host\"\n",
            "spadeploy.toml:2:6: unsupported target scheme",
        ),
        ("exclude = \"*.map\"\n", "spadeploy.toml:1:11: invalid type"),
        ("dir = \"dist\"\nexclude = [\n", "spadeploy.toml:"),
        (
            "[[rules]]\nglob = \"a/[\"\ncache_control = \"x\"\n",
            "invalid glob `a/[`",
        ),
    ];
    for (text, needle) in cases {
        write(tmp.path(), "spadeploy.toml", text);
        let run = spadeploy(&["push", "--to", "./x"], Some(tmp.path()));
        run.assert_fails_with(1, needle);
    }
    let missing = spadeploy(&["push", "--config", "nope.toml"], Some(tmp.path()));
    missing.assert_fails_with(1, "cannot read nope.toml");
}

#[test]
fn json_mode_prints_exactly_one_document() {
    let tmp = tempfile::tempdir().unwrap();
    // Without -q: progress goes to stderr, stdout stays one JSON document.
    let run = spadeploy(
        &[
            "push",
            demo_spa().to_str().unwrap(),
            "--to",
            tmp.path().join("s").to_str().unwrap(),
            "--json",
        ],
        None,
    );
    run.assert_ok();
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert!(
        run.stderr.contains("uploading: 7/7 files"),
        "plain progress in logs: {}",
        run.stderr
    );
    let failed = spadeploy(&["push", "/nonexistent/dir", "--to", "./x", "--json"], None);
    assert_eq!(failed.code, 1);
    assert_eq!(failed.json()["ok"], false);
}

#[test]
fn a_record_naming_a_key_outside_the_target_is_refused_on_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let (build, site) = (tmp.path().join("build"), tmp.path().join("t/site"));
    copy_dir(&demo_spa(), &build);
    local_push(&build, &site, &[]).assert_ok();
    write(&build, "index.html", "<h1>second</h1>");
    local_push(&build, &site, &[]).assert_ok();
    // The first release's record, edited to name a file two folders up.
    let releases = site.join(".spadeploy/releases");
    let first = std::fs::read_dir(&releases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&first).unwrap()).unwrap();
    let index = record["objects"]["index.html"].clone();
    record["objects"]["../../escaped.html"] = index;
    std::fs::write(&first, record.to_string()).unwrap();

    let run = spadeploy(&["rollback", "--to", site.to_str().unwrap(), "-q"], None);
    run.assert_fails_with(1, "cannot be restored");
    assert!(run.stderr.contains("../../escaped.html"), "{}", run.stderr);
    assert!(!tmp.path().join("escaped.html").exists());
}

#[test]
fn a_target_inside_the_build_is_refused_however_it_is_spelled() {
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("demo");
    copy_dir(&demo_spa(), &build);
    std::fs::create_dir_all(tmp.path().join("other")).unwrap();
    let via_parent = tmp.path().join("other/../demo/out");
    let via_missing_parent = tmp.path().join("nowhere/../demo/out");
    let link = tmp.path().join("link");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&build, &link).unwrap();
    let mut targets = vec![via_parent, via_missing_parent];
    if cfg!(unix) {
        targets.push(link.join("out"));
    }
    for to in targets {
        local_push(&build, &to, &[]).assert_fails_with(1, "overlap");
    }
    assert!(
        !build.join("out").exists(),
        "nothing was written into the build"
    );
}

#[test]
fn a_custom_index_document_is_required_and_uploaded_last() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "dist/app.html", "<h1>app</h1>");
    write(tmp.path(), "dist/about.html", "<h1>about</h1>");
    write(tmp.path(), "dist/assets/app-3f9a1c2b.js", "x");
    write(
        tmp.path(),
        "spadeploy.toml",
        "dir = \"dist\"\n[target]\nto = \"out\"\n[routing]\nindex_document = \"app.html\"\n",
    );
    let run = spadeploy(&["push", "--json", "-q"], Some(tmp.path()));
    run.assert_ok();
    let report = run.json();
    let last = report["upload"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["key"], "app.html", "{report}");
    assert_eq!(last["phase"], "entry-index");

    std::fs::remove_file(tmp.path().join("dist/app.html")).unwrap();
    spadeploy(&["push", "-q"], Some(tmp.path())).assert_fails_with(1, "has no app.html at its top");
}

#[test]
fn the_releases_list_lines_up_under_its_header() {
    let tmp = tempfile::tempdir().unwrap();
    let (build, site) = (tmp.path().join("build"), tmp.path().join("site"));
    copy_dir(&demo_spa(), &build);
    local_push(&build, &site, &[]).assert_ok();
    let run = spadeploy(&["releases", "--to", site.to_str().unwrap()], None);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    let header_at = lines[0].find("pushed at").unwrap();
    let id_end = lines[1].find(' ').unwrap();
    assert_eq!(
        lines[1][id_end..]
            .find(|c: char| c != ' ')
            .map(|i| i + id_end),
        Some(header_at),
        "{}",
        run.stdout
    );
    assert!(lines[1].ends_with('*'), "the live release is marked");
}

#[test]
fn exit_code_without_a_dry_run_is_a_usage_error_and_json_is_one_flag_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let demo = demo_spa();
    spadeploy(
        &[
            "push",
            demo.to_str().unwrap(),
            "--to",
            site.to_str().unwrap(),
            "--exit-code",
        ],
        None,
    )
    .assert_fails_with(
        64,
        "--exit-code reports pending changes, so it needs --dry-run",
    );
    assert!(!site.exists(), "nothing was pushed");
    let diff = spadeploy(
        &[
            "diff",
            demo.to_str().unwrap(),
            "--to",
            site.to_str().unwrap(),
            "--exit-code",
        ],
        None,
    );
    assert_eq!(diff.code, 2, "diff implies the dry run: {}", diff.stderr);
    // --json may stand before the command as well as after it.
    let before = spadeploy(
        &["--json", "releases", "--to", site.to_str().unwrap()],
        None,
    );
    before.assert_ok();
    assert!(before.json().is_array(), "{}", before.stdout);
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
    let route = support::http::request(&addr, "GET", "/users/42");
    let moved = support::http::request(&addr, "GET", "/old/page?x=1");
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
    let served = support::serve::serve_folder(&elsewhere, site.to_str().unwrap(), &[]);
    let got = support::http::request(&served.1, "GET", "/old/page");
    assert_eq!(got.status, 301);
    assert_eq!(got.headers["location"], "/new/page");
    let got = support::http::request(&served.1, "GET", "/users/42");
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["x-frame-options"], "DENY");
}
