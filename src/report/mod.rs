//! Rendering what was planned or done, deciding nothing: a push's report (for people, as JSON,
//! as a GitHub step summary), the routing plan, tables and progress.

mod explain;
mod markdown;
mod progress;
mod push;
mod routing;
pub(crate) mod stdout;
mod table;

pub(crate) use explain::Explanation;
pub(crate) use progress::{Progress, Stage};
pub(crate) use push::{InvalidationReport, PushReport};
pub(crate) use table::releases_table;

/// How a command prints its result: for people, or as one JSON document on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Human,
    Json,
}
