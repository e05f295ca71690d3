//! The CloudFront half: the client-route rule and the edge code generated from it, the
//! distribution, bucket policy, website configuration and Block Public Access decisions, the
//! edge function's role, invalidations, and the least-privilege IAM policy. Behaviors that do not
//! point at the SPA's bucket are never touched.

pub(crate) mod access_block;
pub(crate) mod apply;
pub(crate) mod decide;
pub(crate) mod diagnosis;
pub(crate) mod distribution;
pub(crate) mod edge;
pub(crate) mod edge_code;
pub(crate) mod edge_role;
pub(crate) mod export;
pub(crate) mod fixes;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod iam;
pub(crate) mod invalidation;
pub(crate) mod kvs;
pub(crate) mod observe;
pub(crate) mod request;
pub(crate) mod routing;
pub(crate) mod website;
pub(crate) mod wiring;
