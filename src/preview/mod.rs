//! Per-pull-request previews (issue 25) on the site's own distribution: each preview is content
//! only, its files under the target's `_previews/<id>/` (pushed by the same pipeline as
//! production, with its own releases and lock) and its route table and pointer in the site's
//! KeyValueStore, pointer last. The edge function maps `<id>.<domain>` to it.
//!
//! - `id`: DNS-safe ids, the pull request of a GitHub event, forks.
//! - `host`: which site a Host names (the Rust twin of `cdn/edge/previews.js`).
//! - `record`: the store's entries, their write order, headroom and gc selection (pure).
//! - `ready`: `--wait`, until the preview's URL answers with the new release.
//! - `remote`: the thin shell that reads the wiring and writes keys and objects.

pub(crate) mod host;
pub(crate) mod id;
pub(crate) mod ready;
pub(crate) mod record;
pub(crate) mod remote;
