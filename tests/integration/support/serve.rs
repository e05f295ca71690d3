//! `spadeploy serve` as a child process on a free loopback port, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `spadeploy serve` and the `host:port` it listens on.
pub(crate) struct Served(pub Child, pub String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `spadeploy serve FOLDER --port 0 ARGS...` in `dir` and waits for the line that prints
/// its address (`http://HOST:PORT/...`). The rest of its output is drained until it exits, so a
/// server that keeps writing never finds its reader gone.
pub(crate) fn serve_folder(dir: &Path, folder: &str, args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spadeploy"))
        .args(["serve", folder, "--port", "0"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve printed no address: {printed:?}");
        };
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split(['/', ' ']).next().unwrap().to_string();
        }
        printed.push(line);
    };
    std::thread::spawn(move || lines.for_each(drop));
    Served(child, addr)
}
