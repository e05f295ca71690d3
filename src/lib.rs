//! spadeploy: deploy a built single-page app to S3 (or a local directory) behind CloudFront.
//!
//! Functional core, imperative shell: `scan` and `store` produce plain data, the pure `plan`
//! turns it into a plan, `apply` executes it, `report` renders it, `cli` wires them together.

pub mod access_block;
pub mod apply;
pub mod aws;
pub mod cdn;
pub mod cli;
pub mod distribution;
pub mod edge;
pub mod edge_role;
pub mod hash_cache;
pub mod headers;
pub mod iam;
pub mod lock;
pub mod manifest;
pub mod plan;
pub mod push;
pub mod release;
pub mod report;
pub mod routing;
pub mod scan;
pub mod serve;
pub mod setup;
pub mod store;
pub mod target;
pub mod verify;
pub mod website;
