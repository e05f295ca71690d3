//! Syncing a build to a target: scan and hash the build (with the hash cache), resolve headers,
//! plan against the target (pure), and apply the plan in phases that never break the live site.
//! Knows nothing about CloudFront.

pub(crate) mod apply;
pub(crate) mod hash_cache;
pub(crate) mod headers;
pub(crate) mod plan;
pub(crate) mod scan;
pub(crate) mod window;
