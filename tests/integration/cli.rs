//! The binary against a local directory target (no emulator needed) and every bad input a user
//! can give it: each must fail with a message that says what to do, and a non-zero exit.

use std::path::Path;

use crate::support::*;

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

/// A fresh build of the same site (a CI runner: new inodes, nothing remembered) reads only the
/// files whose names carry no content hash: a hashed name of the live release's size is that
/// release's file. An edit that keeps such a name and size is only seen with --rehash.
#[test]
fn a_fresh_build_reads_only_what_its_content_hashed_names_do_not_vouch_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = (tmp.path().join("first"), tmp.path().join("second"));
    let site = tmp.path().join("site");
    copy_dir(&demo_spa(), &first);
    copy_dir(&demo_spa(), &second);
    local_push(&first, &site, &[]).assert_ok();

    let fresh = local_push(&second, &site, &[]);
    fresh.assert_ok();
    // index.html, favicon.ico, robots.txt, manifest.webmanifest; not the 3 hashed assets.
    assert_eq!(fresh.json()["files_hashed"], 4, "{}", fresh.stdout);
    assert_eq!(fresh.json()["unchanged"], 7);

    let script = second.join("assets/index-47201ddb.js");
    let body = std::fs::read_to_string(&script).unwrap();
    let edited: String = body.chars().rev().collect();
    std::fs::write(&script, &edited).unwrap();
    let trusted = local_push(&second, &site, &[]);
    trusted.assert_ok();
    assert_eq!(trusted.json()["unchanged"], 7, "{}", trusted.stdout);
    let rehash = local_push(&second, &site, &["--rehash"]);
    rehash.assert_ok();
    assert_eq!(rehash.json()["files_hashed"], 7);
    assert_eq!(
        rehash.json()["update"][0]["key"],
        "assets/index-47201ddb.js"
    );
    assert_eq!(
        std::fs::read_to_string(site.join("assets/index-47201ddb.js")).unwrap(),
        edited
    );
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
    // A push of the missing directory with only `aws_config` for credentials: its exit code,
    // stderr and how long it took. Stderr goes to a file, not a pipe: a credential process may
    // hold an inherited pipe open after spadeploy has exited.
    let push_without_keys = |aws_config: &Path| {
        let stderr_file = tmp.path().join("stderr.txt");
        let started = std::time::Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_spadeploy"))
            .args([
                "push",
                tmp.path().join("nope").to_str().unwrap(),
                "--to",
                "s3://bucket",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_CONFIG_FILE", aws_config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .stderr(std::fs::File::create(&stderr_file).unwrap())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        let waited = started.elapsed();
        (
            status.code(),
            std::fs::read_to_string(&stderr_file).unwrap(),
            waited,
        )
    };
    // The credentials are resolved while the build is walked; with none at all, the build's
    // error is still the one reported.
    let (code, stderr, _) = push_without_keys(Path::new("/dev/null"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("does not exist: run your build first"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("credential"), "{stderr}");
    // Nor does the build's error wait for a slow credential provider (here a process that
    // takes 30 s; an instance role's metadata service timing out on a laptop is another).
    let config = tmp.path().join("aws-config");
    std::fs::write(&config, "[default]\ncredential_process = sleep 30\n").unwrap();
    let (code, stderr, waited) = push_without_keys(&config);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("does not exist: run your build first"),
        "{stderr}"
    );
    assert!(
        waited < std::time::Duration::from_secs(20),
        "the build's error waited {waited:?} for the credential provider"
    );
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
