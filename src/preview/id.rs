//! Preview ids: DNS-safe labels (they are the first label of the preview's host), from `--id`
//! or the GitHub event's pull request number; and whether that pull request comes from a fork.

use sha2::{Digest, Sha256};

/// A DNS label: at most 63 characters.
const MAX_LEN: usize = 63;
/// Hex characters of the hash that keeps two long names apart once cut.
const HASH_LEN: usize = 6;

/// A preview's id: lowercase `[a-z0-9-]`, 1 to 63 characters, no `-` at either end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PreviewId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum IdError {
    #[error("preview id {0:?} has no letter or digit: give --id a name such as pr-42")]
    Empty(String),
    #[error("no preview id: pass --id (e.g. --id pr-42), or run on a GitHub pull_request event (GITHUB_EVENT_PATH names the pull request)")]
    Missing,
    #[error("cannot read the GitHub event {path}: {detail}")]
    Event { path: String, detail: String },
}

impl PreviewId {
    /// `raw` made DNS-safe: lowercased, every run of other characters one `-`, trimmed of `-`;
    /// longer than a label allows, cut with a hash of `raw` so two long names stay apart.
    pub(crate) fn new(raw: &str) -> Result<PreviewId, IdError> {
        let mut id = String::with_capacity(raw.len());
        for c in raw.chars().map(|c| c.to_ascii_lowercase()) {
            match c {
                'a'..='z' | '0'..='9' => id.push(c),
                _ if !id.ends_with('-') => id.push('-'),
                _ => {}
            }
        }
        let id = id.trim_matches('-');
        if id.is_empty() {
            return Err(IdError::Empty(raw.to_string()));
        }
        if id.len() <= MAX_LEN {
            return Ok(PreviewId(id.to_string()));
        }
        let hash = hex::encode(Sha256::digest(raw.as_bytes()));
        let head = id[..MAX_LEN - HASH_LEN - 1].trim_end_matches('-');
        Ok(PreviewId(format!("{head}-{}", &hash[..HASH_LEN])))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` is already an id (what the edge accepts in a host).
    pub(crate) fn is_valid(s: &str) -> bool {
        PreviewId::new(s).is_ok_and(|id| id.0 == s)
    }
}

impl std::fmt::Display for PreviewId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pull request a GitHub event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PullRequest {
    pub number: u64,
    /// The head branch lives in another repository (a fork): its code is unreviewed.
    pub fork: bool,
}

impl PullRequest {
    pub(crate) fn id(&self) -> PreviewId {
        PreviewId(format!("pr-{}", self.number))
    }
}

/// The pull request of a GitHub event payload (`pull_request` and `pull_request_target`
/// events), `None` for other events. A fork is told by `head.repo.fork`, or by a head
/// repository other than the base's (a deleted fork has no `head.repo` at all).
pub(crate) fn pull_request(event: &serde_json::Value) -> Option<PullRequest> {
    let pr = event.get("pull_request")?;
    let number = pr.get("number")?.as_u64()?;
    let name = |side: &str| {
        pr.pointer(&format!("/{side}/repo/full_name"))
            .and_then(serde_json::Value::as_str)
    };
    let flagged = pr
        .pointer("/head/repo/fork")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let fork = flagged || name("head").is_none() || name("head") != name("base");
    Some(PullRequest { number, fork })
}

/// The pull request of the event at `path` (GITHUB_EVENT_PATH).
pub(crate) fn pull_request_at(path: &std::path::Path) -> Result<Option<PullRequest>, IdError> {
    let failed = |detail: String| IdError::Event {
        path: path.display().to_string(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
    Ok(pull_request(&event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dns_labels() {
        let id = |s: &str| PreviewId::new(s).map(|id| id.0);
        assert_eq!(id("pr-42").unwrap(), "pr-42");
        assert_eq!(id("Feature/Login_Page").unwrap(), "feature-login-page");
        assert_eq!(id("--a..b--").unwrap(), "a-b");
        assert_eq!(id("Ünïcode").unwrap(), "n-code");
        assert_eq!(id("///"), Err(IdError::Empty("///".into())));
        let long = "x".repeat(100);
        let cut = id(&long).unwrap();
        assert_eq!(cut.len(), 63);
        assert_ne!(
            cut,
            id(&format!("{long}y")).unwrap(),
            "the hash keeps them apart"
        );
        assert!(PreviewId::is_valid(&cut));
        assert!(!PreviewId::is_valid("PR-1") && !PreviewId::is_valid("a.b"));
    }

    #[test]
    fn the_pull_request_and_its_fork_come_from_the_event() {
        let event = |head: &str, fork: bool| {
            serde_json::json!({"pull_request": {"number": 42,
                "head": {"repo": {"full_name": head, "fork": fork}},
                "base": {"repo": {"full_name": "org/site"}}}})
        };
        let own = pull_request(&event("org/site", false)).unwrap();
        assert_eq!((own.id().as_str(), own.fork), ("pr-42", false));
        assert!(pull_request(&event("me/site", true)).unwrap().fork);
        assert!(
            pull_request(&event("me/site", false)).unwrap().fork,
            "another repository"
        );
        let deleted = serde_json::json!({"pull_request": {"number": 7, "head": {"repo": null},
            "base": {"repo": {"full_name": "org/site"}}}});
        assert!(pull_request(&deleted).unwrap().fork);
        assert_eq!(
            pull_request(&serde_json::json!({"ref": "refs/heads/main"})),
            None
        );
    }
}
