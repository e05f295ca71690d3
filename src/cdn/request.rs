//! What a routing job asks for (from flags and the manifest, for one bucket and distribution),
//! and how it fails.

use crate::aws::ApiError;
use crate::cdn::distribution::Analysis;
use crate::cdn::website::PolicyTarget;
use crate::config::manifest::{Iac, Manage};
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
    #[error("distribution {id} is not wired as this site needs, and [cdn] manage = \"content\" leaves the wiring to {owner}: nothing was written. Fix it there (`spadeploy doctor` checks again):\n{report}", id = .0.distribution, owner = crate::cdn::diagnosis::owner(.0.iac), report = .0)]
    Unwired(Box<crate::cdn::diagnosis::Report>),
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
    /// `content`: infrastructure as code owns the wiring; a push checks it and writes only the
    /// function's code and the store's keys.
    pub manage: Manage,
    /// The language wiring fixes are printed in, when the user chose one.
    pub iac: Option<Iac>,
    /// `doctor`: read what the wiring checks need (the function's declared configuration, the
    /// distribution's stack tag) whoever manages the wiring.
    pub check_wiring: bool,
    /// `[preview] domain`: the function also maps preview hosts (issue 25).
    pub previews: Option<crate::config::preview::PreviewEdge>,
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

    /// Infrastructure as code owns the wiring: it is checked, never written.
    pub(crate) fn content_only(&self) -> bool {
        self.request.manage == Manage::Content
    }

    /// Whether the wiring checks run, so their reads are made.
    pub(crate) fn checks_wiring(&self) -> bool {
        self.content_only() || self.request.check_wiring
    }

    pub(crate) fn policy_target(&self) -> PolicyTarget<'_> {
        PolicyTarget {
            bucket: &self.bucket,
            prefix: &self.prefix,
        }
    }
}
