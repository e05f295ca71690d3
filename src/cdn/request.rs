//! What a routing job asks for (from flags and the manifest, for one bucket and distribution),
//! and how it fails.

use crate::aws::ApiError;
use crate::cdn::distribution::Analysis;
use crate::cdn::website::PolicyTarget;
use crate::config::routing::{Mode, RouteRules};

#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("distribution {0} does not exist in this account: check --distribution (or [cdn] distribution) and the credentials' account")]
    NoSuchDistribution(String),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Table(#[from] crate::cdn::routing::TableError),
    #[error(transparent)]
    Wiring(#[from] crate::cdn::distribution::WiringError),
    #[error(transparent)]
    Code(#[from] crate::cdn::edge_code::CodeError),
    #[error(transparent)]
    Policy(#[from] crate::cdn::website::PolicyError),
}

/// What the user asked of the routing, from flags and manifest.
#[derive(Debug, Clone)]
pub(crate) struct RoutingRequest {
    pub distribution: String,
    pub mode: Option<Mode>,
    pub rules: RouteRules,
    pub fix_origin: bool,
    pub allow_public_read: bool,
    /// `ReadOnly` (`--no-bucket-policy`): the bucket's configuration is checked, never written.
    pub bucket_config: crate::cdn::iam::BucketConfig,
    /// `--verify-remote`: the route table's KeyValueStore is listed and compared key by key, not
    /// only by its marker (keys deleted by hand leave the marker as it was).
    pub verify_store: bool,
}

/// A routing request for a concrete bucket.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub request: RoutingRequest,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
}

impl Job {
    pub(crate) fn function_name(&self) -> String {
        crate::cdn::routing::function_name(&self.request.rules.settings, &self.bucket, &self.prefix)
    }

    /// What the generated code names as the target it serves.
    pub(crate) fn target_id(&self) -> String {
        crate::cdn::routing::target_id(&self.bucket, &self.prefix)
    }

    /// The mode asked for, else the one the SPA origin is set up for.
    pub(crate) fn mode(&self, analysis: &Analysis) -> Mode {
        self.request.mode.unwrap_or(analysis.origin_kind.mode())
    }

    pub(crate) fn policy_target(&self) -> PolicyTarget<'_> {
        PolicyTarget {
            bucket: &self.bucket,
            prefix: &self.prefix,
        }
    }
}
