//! Rendering what was planned or done, deciding nothing: a push's report (for people, as JSON,
//! as a GitHub step summary), the routing plan, tables and progress.

mod explain;
mod markdown;
mod progress;
mod push;
mod routing;
pub mod stdout;
mod table;

pub use explain::Explanation;
pub use progress::Progress;
pub use push::{InvalidationReport, PushReport};
pub use table::releases_table;

/// How a command prints its result: for people, or as one JSON document on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
}
