//! spadeploy: deploy a built single-page app to S3 (or a local directory) behind CloudFront.
//!
//! Functional core, imperative shell, in layers that only import downwards:
//! - `cli`: flags and the manifest turned into typed requests, one file per command;
//! - `config`: `spadeploy.toml` and targets;
//! - `deploy`: a push, rollback or prune from start to finish: read, plan, lock, apply, routing,
//!   invalidation, report (the only layer that knows both `sync` and `cdn`);
//! - `sync`: scan the build, plan (pure) against the target, apply in safe phases;
//! - `cdn`: the routing rule, generated edge code, and the distribution/bucket side as
//!   observe → pure decide → apply; invalidation; the IAM policy;
//! - `state`: spadeploy's records in the target (releases, live pointer, lock);
//! - `store`: reading and writing objects (S3 or a local directory);
//! - `report`: rendering what was planned or done; `tools`: `serve` and `verify`;
//! - `model`: the plain values every layer shares; `aws`: SDK configuration and errors.

pub(crate) mod aws;
pub(crate) mod cdn;
pub mod cli;
pub(crate) mod config;
pub(crate) mod deploy;
pub(crate) mod model;
pub(crate) mod preview;
pub(crate) mod report;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod sync;
pub(crate) mod tools;
