//! The npm packages, as a frontend team would use them: packed from the binary under test by
//! scripts/npm-packages.sh (the launcher and the linux-x64 package), installed offline into a
//! fresh project, and run with `npx spadeploy`. Nothing is downloaded at install time.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn run(command: &mut Command) -> Run {
    let out = command.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A new npm project in `dir` with these tarballs installed, offline.
fn project(dir: &Path, tarballs: &[&Path]) -> Run {
    std::fs::create_dir_all(dir).unwrap();
    write(
        dir,
        "package.json",
        r#"{"name":"site","version":"1.0.0","private":true}"#,
    );
    run(Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .args(tarballs)
        .current_dir(dir))
}

fn npx(dir: &Path, args: &[&str]) -> Run {
    run(Command::new("npx")
        .args(["--offline", "--no-install", "spadeploy"])
        .args(args)
        .current_dir(dir))
}

#[test]
fn npm_install_offline_then_npx_spadeploy_runs_the_native_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let binary = stripped_binary(tmp.path());
    let packed = tmp.path().join("packed");
    let version = env!("CARGO_PKG_VERSION");
    run(
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/npm-packages.sh"))
            .args([version, packed.to_str().unwrap()])
            .arg(format!("x86_64-unknown-linux-musl={}", binary.display())),
    )
    .assert_ok();
    let launcher = packed.join(format!("spadeploy-{version}.tgz"));
    let linux = packed.join(format!("spadeploy-linux-x64-{version}.tgz"));

    let app = tmp.path().join("app");
    project(&app, &[&launcher, &linux]).assert_ok();
    let shown = npx(&app, &["--version"]);
    shown.assert_ok();
    assert_eq!(shown.stdout.trim(), format!("spadeploy {version}"));
    let demo = demo_spa();
    let site = tmp.path().join("site");
    npx(
        &app,
        &[
            "push",
            demo.to_str().unwrap(),
            "--to",
            site.to_str().unwrap(),
            "-q",
        ],
    )
    .assert_ok();
    assert!(site.join("index.html").is_file());

    // Without the platform package (optional dependencies omitted), the launcher says what to do.
    let bare = tmp.path().join("bare");
    project(&bare, &[&launcher]).assert_ok();
    npx(&bare, &["--version"]).assert_fails_with(1, "--omit=optional");
}
