//! Results on standard output. A reader that goes away early (`spadeploy routing --print-table |
//! head`) ends the command quietly, as Unix tools do, instead of a "Broken pipe" panic: Rust
//! ignores SIGPIPE, so `println!` panics on a closed pipe.

use std::fmt::Display;
use std::io::{ErrorKind, Write};

/// Writes `text` and flushes it; exits 0 when the reader has gone, 1 on any other write error.
pub(crate) fn print(text: impl Display) {
    let mut out = std::io::stdout().lock();
    let written = write!(out, "{text}").and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// `print` with a line end.
pub(crate) fn println(text: impl Display) {
    print(format_args!("{text}\n"));
}
