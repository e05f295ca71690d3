//! The `[preview]` table: per-pull-request previews served by the site's own distribution and
//! KeyValueStore at `<id>.<domain>` (issue 25). Pure values; `preview/` does the work.

use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

/// Previews a store holds unless `[preview] max` says otherwise: one pointer and a route table
/// each, so the count is bounded by the 5 MB the store shares with production, not by this.
pub(crate) const DEFAULT_MAX: usize = 50;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewSettings {
    /// Hosts `<id>.<domain>` are previews, e.g. `preview.example.com` for a wildcard alias
    /// `*.preview.example.com` on the distribution.
    pub domain: Option<PreviewDomain>,
    /// Previews the store may hold at once (default 50).
    pub max: Option<NonZeroUsize>,
    /// Answer `X-Robots-Tag: noindex` on previews (default true).
    pub noindex: Option<bool>,
    /// Deploy pull requests from forks (default false: their code is unreviewed).
    pub allow_forks: Option<bool>,
}

impl PreviewSettings {
    /// What the edge function needs to know, when previews are on.
    pub(crate) fn edge(&self) -> Option<PreviewEdge> {
        self.domain.as_ref().map(|domain| PreviewEdge {
            domain: domain.0.clone(),
            noindex: self.noindex.unwrap_or(true),
        })
    }

    pub(crate) fn max(&self) -> usize {
        self.max.map_or(DEFAULT_MAX, NonZeroUsize::get)
    }
}

/// The preview part of the edge function's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PreviewEdge {
    pub domain: String,
    pub noindex: bool,
}

/// A DNS name of lowercase labels (`[a-z0-9-]`, not starting or ending with `-`): the suffix
/// the edge compares hosts with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct PreviewDomain(pub String);

impl TryFrom<String> for PreviewDomain {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let domain = raw.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if domain.len() > 200 || !domain.contains('.') || !domain.split('.').all(label_ok) {
            return Err(format!(
                "[preview] domain = {raw:?}: give the DNS name under which previews live, e.g. \
                 \"preview.example.com\" for hosts like pr-42.preview.example.com (no `*.`, no scheme)"
            ));
        }
        Ok(PreviewDomain(domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_dns_names_in_lowercase() {
        let ok = |s: &str| PreviewDomain::try_from(s.to_string()).map(|d| d.0);
        assert_eq!(ok("Preview.Example.com.").unwrap(), "preview.example.com");
        assert_eq!(ok("preview.localhost").unwrap(), "preview.localhost");
        for bad in [
            "*.preview.example.com",
            "https://x.com",
            "localhost",
            "a..b",
            "-a.b",
            "",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
