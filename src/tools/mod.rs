//! The routing run locally and probed remotely: `serve` previews a target with CloudFront's
//! semantics, `verify` checks a live site.

pub(crate) mod serve;
pub(crate) mod verify;
