//! Syncing a build to a target: scan and hash the build (with the hash cache), resolve headers,
//! plan against the target (pure), apply the plan in phases that never break the live site, and
//! the pipeline that runs them under the deploy lock. Knows nothing about CloudFront but what the
//! pipeline hands to `cdn`.

pub(crate) mod apply;
pub(crate) mod hash_cache;
pub(crate) mod headers;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod scan;
