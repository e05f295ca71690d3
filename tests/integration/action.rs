//! The GitHub Action's entry script, run as a workflow would run it: with a prebuilt binary, the
//! action's inputs as INPUT_* variables, and temporary GITHUB_STEP_SUMMARY / GITHUB_OUTPUT files.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn entry(dir: &Path, inputs: &[(&str, &str)]) -> (Run, String, String) {
    let mut with_binary = vec![("BINARY", env!("CARGO_BIN_EXE_spadeploy"))];
    with_binary.extend_from_slice(inputs);
    entry_with(dir, &with_binary, &[])
}

/// Runs the entry script with these inputs (`INPUT_*`) and other environment variables.
fn entry_with(dir: &Path, inputs: &[(&str, &str)], env: &[(&str, &str)]) -> (Run, String, String) {
    let summary = dir.join("summary.md");
    let output = dir.join("output.txt");
    let mut command = Command::new("bash");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action/entry.sh"))
        .current_dir(dir)
        .envs(env.iter().copied())
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

/// A stand-in for GitHub releases on loopback: `python3 -m http.server` over a directory laid
/// out as `v<version>/<archive>` by scripts/package-release.sh from the binary under test.
struct ReleaseServer {
    child: std::process::Child,
    base: String,
}

impl ReleaseServer {
    fn start(root: &Path) -> ReleaseServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the release server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ReleaseServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Packs the binary under test as the release archive of `target`, under `root/v<version>/`.
fn publish(root: &Path, target: &str) -> std::path::PathBuf {
    let dir = root.join(format!("v{}", env!("CARGO_PKG_VERSION")));
    let binary = stripped_binary(root);
    let packed =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package-release.sh"))
            .args([
                binary.to_str().unwrap(),
                target,
                env!("CARGO_PKG_VERSION"),
                dir.to_str().unwrap(),
            ])
            .output()
            .unwrap();
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    dir
}

#[test]
fn the_action_installs_the_release_for_the_runner_checks_it_and_caches_it() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    let dir = publish(&releases, "x86_64-unknown-linux-musl");
    let server = ReleaseServer::start(&releases);
    let base = format!("{}/v{}", server.base, env!("CARGO_PKG_VERSION"));
    let cache = tmp.path().join("tool-cache");
    let cache = cache.to_str().unwrap();
    let fresh = tmp.path().join("fresh-cache");
    let fresh = fresh.to_str().unwrap();
    let demo = demo_spa();
    let site = tmp.path().join("site");
    let runner = |os, arch, cache| {
        [
            ("RUNNER_OS", os),
            ("RUNNER_ARCH", arch),
            ("RUNNER_TOOL_CACHE", cache),
        ]
    };
    let inputs = [
        ("DOWNLOAD_URL", base.as_str()),
        ("DIR", demo.to_str().unwrap()),
        ("TO", site.to_str().unwrap()),
    ];

    let (cold, _, _) = entry_with(tmp.path(), &inputs, &runner("Linux", "X64", cache));
    cold.assert_ok();
    assert!(
        cold.stdout.contains("x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        cold.stdout
    );
    assert!(
        cold.stdout
            .contains(&format!("spadeploy {}", env!("CARGO_PKG_VERSION"))),
        "--version ran: {}",
        cold.stdout
    );
    assert!(site.join("index.html").is_file(), "and the push ran");

    // The second job on the runner needs no download: the server is gone.
    drop(server);
    let (warm, _, _) = entry_with(tmp.path(), &inputs, &runner("Linux", "X64", cache));
    warm.assert_ok();
    assert!(
        warm.stdout.contains("from the runner's tool cache"),
        "{}",
        warm.stdout
    );
    assert!(!warm.stdout.contains("downloading"), "{}", warm.stdout);

    // A tampered archive is refused, and nothing is cached.
    let server = ReleaseServer::start(&releases);
    let base = format!("{}/v{}", server.base, env!("CARGO_PKG_VERSION"));
    let sha = dir.join(format!(
        "spadeploy-{}-x86_64-unknown-linux-musl.tar.gz.sha256",
        env!("CARGO_PKG_VERSION")
    ));
    let original = std::fs::read_to_string(&sha).unwrap();
    std::fs::write(&sha, format!("{}{}", "0".repeat(64), &original[64..])).unwrap();
    let inputs = [
        ("DOWNLOAD_URL", base.as_str()),
        ("TO", site.to_str().unwrap()),
    ];
    let (tampered, _, _) = entry_with(tmp.path(), &inputs, &runner("Linux", "X64", fresh));
    tampered.assert_fails_with(1, "checksum mismatch");
    assert!(
        tampered.stdout.contains("::error::checksum mismatch"),
        "{}",
        tampered.stdout
    );
    assert!(
        !Path::new(fresh).join("spadeploy").exists(),
        "nothing was cached"
    );

    // Each runner gets its own archive; an unknown platform is named.
    let (mac, _, _) = entry_with(tmp.path(), &inputs, &runner("macOS", "ARM64", fresh));
    mac.assert_fails_with(1, "aarch64-apple-darwin.tar.gz");
    let (windows, _, _) = entry_with(tmp.path(), &inputs, &runner("Windows", "X64", fresh));
    windows.assert_fails_with(1, "x86_64-pc-windows-msvc.zip");
    let (odd, _, _) = entry_with(tmp.path(), &inputs, &runner("Linux", "S390X", fresh));
    odd.assert_fails_with(1, "no prebuilt spadeploy for Linux/S390X");
}

/// `preview: true` deploys the pull request's preview, and removes it once the pull request is
/// closed (the preview commands themselves are tested against the emulator in previews.rs).
#[test]
fn the_action_deploys_a_preview_and_removes_it_when_the_pull_request_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let event = tmp.path().join("event.json");
    let binary = env!("CARGO_BIN_EXE_spadeploy");
    for (action, command) in [
        ("synchronize", "preview deploy dist"),
        ("closed", "preview remove"),
    ] {
        let payload = serde_json::json!({"action": action, "pull_request": {"number": 42,
            "head": {"repo": {"full_name": "org/site", "fork": false}},
            "base": {"repo": {"full_name": "org/site"}}}});
        std::fs::write(&event, serde_json::to_string_pretty(&payload).unwrap()).unwrap();
        let (run, _, _) = entry_with(
            tmp.path(),
            &[
                ("BINARY", binary),
                ("PREVIEW", "true"),
                ("DIR", "dist"),
                ("TO", "s3://my-site"),
                ("DISTRIBUTION", "E123"),
            ],
            &[("GITHUB_EVENT_PATH", event.to_str().unwrap())],
        );
        assert!(
            run.stdout.contains(&format!(
                "::group::spadeploy {command} --to s3://my-site --distribution E123"
            )),
            "{}",
            run.stdout
        );
        // No [preview] domain here: spadeploy says what to set, before any network work.
        assert!(run.stderr.contains("no [preview] domain"), "{}", run.stderr);
    }
}
