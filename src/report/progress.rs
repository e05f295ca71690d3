//! Progress on stderr while a push works: bars on a terminal, plain lines in CI logs.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::table::human_bytes;

/// Progress on stderr: a bar on a terminal, a line per 10% in logs, nothing when quiet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    mode: ProgressMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgressMode {
    Bars,
    Lines,
    Silent,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            ProgressMode::Silent
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        };
        Progress { mode }
    }

    /// Prints a one-off line (not in quiet mode).
    pub(crate) fn note(&self, message: &str) {
        if self.mode != ProgressMode::Silent {
            eprintln!("{message}");
        }
    }

    pub(crate) fn stage(&self, label: &'static str, items: u64, bytes: u64) -> Stage {
        let bar = (self.mode == ProgressMode::Bars && items > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30}] {pos}/{len} files, {msg} {binary_bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(label);
            bar.set_length(items);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Stage {
            label,
            mode: self.mode,
            bar,
            items,
            done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
        }
    }
}

pub(crate) struct Stage {
    label: &'static str,
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    items: u64,
    done: AtomicU64,
    bytes_done: AtomicU64,
}

impl Stage {
    pub(crate) fn inc(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes_done = self.bytes_done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(human_bytes(bytes_done));
        } else if self.mode == ProgressMode::Lines && self.items > 0 {
            // Small stages get one line at the end; large ones a line per 10%.
            let decile = done * 10 / self.items;
            let new_decile = decile != (done - 1) * 10 / self.items;
            if done == self.items || (self.items >= 100 && new_decile) {
                eprintln!(
                    "{}: {done}/{} files ({}%), {}",
                    self.label,
                    self.items,
                    decile * 10,
                    human_bytes(bytes_done)
                );
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
