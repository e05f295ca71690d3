//! The GitHub Action's entry script, run as a workflow would run it: with a prebuilt binary, the
//! action's inputs as INPUT_* variables, and temporary GITHUB_STEP_SUMMARY / GITHUB_OUTPUT files.

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn entry(dir: &Path, inputs: &[(&str, &str)]) -> (Run, String, String) {
    let summary = dir.join("summary.md");
    let output = dir.join("output.txt");
    let mut command = Command::new("bash");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action/entry.sh"))
        .current_dir(dir)
        .env("INPUT_BINARY", env!("CARGO_BIN_EXE_spadeploy"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
    for (name, value) in inputs {
        command.env(format!("INPUT_{name}"), value);
    }
    let out = command.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (run, read(&summary), read(&output))
}

#[test]
fn the_action_deploys_and_writes_outputs_and_a_step_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_spa();
    let site = tmp.path().join("site");
    let (run, summary, output) = entry(
        tmp.path(),
        &[
            ("DIR", demo.to_str().unwrap()),
            ("TO", site.to_str().unwrap()),
            ("ARGS", "--keep-releases 2"),
        ],
    );
    run.assert_ok();
    assert!(
        run.stdout.contains("::group::Install spadeploy") && run.stdout.contains("::endgroup::"),
        "{}",
        run.stdout
    );
    let outputs: std::collections::HashMap<&str, &str> =
        output.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(outputs["release-id"].len() > 20, "{output}");
    assert_eq!(outputs["uploaded"], "7");
    assert_eq!(outputs["deleted"], "0");
    assert_eq!(outputs["invalidation-id"], "");
    assert!(summary.contains("### spadeploy: Deployed"), "{summary}");
    assert!(summary.contains("| uploaded | 7 (3.1 KiB) |"), "{summary}");
    assert!(
        summary.contains(&format!("| release | `{}` |", outputs["release-id"])),
        "{summary}"
    );
    assert!(summary.contains("| upload | `index.html` |"), "{summary}");
    let releases = spadeploy(
        &["releases", "--to", site.to_str().unwrap(), "--json"],
        None,
    );
    assert_eq!(
        releases.json()[0]["source"],
        "0123456789abcdef0123456789abcdef01234567",
        "the commit is recorded"
    );

    // A dry run through the action changes nothing and says so.
    let (dry, summary, _) = entry(
        tmp.path(),
        &[
            ("DIR", demo.to_str().unwrap()),
            ("TO", site.to_str().unwrap()),
            ("DRY_RUN", "true"),
        ],
    );
    dry.assert_ok();
    assert!(
        summary.contains("Plan (dry run, nothing changed)"),
        "{summary}"
    );
}

#[test]
fn manifest_errors_become_annotations_on_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "spadeploy.toml",
        "dir = \"dist\"\n[target]\nbukket = \"x\"\n",
    );
    let (run, _, _) = entry(tmp.path(), &[("CONFIG", "spadeploy.toml")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("::error file=spadeploy.toml,line=3,col=1::unknown field `bukket`"),
        "{}",
        run.stdout
    );
}
