//! The manifest's `[routing]` table and `[[redirects]]`: the schema, defaults and validation of
//! what a project states about its routes. `cdn::routing` turns them into the client-route rule.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::model::CACHE_HTML;

/// How CloudFront reaches the SPA and where the fallback happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Bucket website endpoint (custom origin) with ErrorDocument = index, plus a Lambda@Edge
    /// origin-response function that flips client-route 404s to 200.
    Website,
    /// Private bucket behind Origin Access Control, plus a CloudFront Function (viewer-request)
    /// that rewrites client routes to the index document.
    Private,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Website => "website",
            Mode::Private => "private",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fallback {
    /// Extension-less GET/HEAD paths get the index document with status 200.
    #[default]
    Spa,
    /// No fallback: unknown paths are 404.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// URL path prefix, e.g. `/docs/`.
    pub from: String,
    /// Replacement prefix, e.g. `/guide/`.
    pub to: String,
    #[serde(default = "default_redirect_status")]
    pub status: u16,
}

fn default_redirect_status() -> u16 {
    301
}

/// S3 allows at most 50 routing rules in a website configuration.
pub const MAX_REDIRECTS: usize = 50;

/// The `[routing]` table of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    pub mode: Option<Mode>,
    pub index_document: String,
    pub error_document: String,
    pub fallback: Fallback,
    /// URL path prefixes that never fall back (a missing file there is an honest 404).
    pub no_fallback: Vec<String>,
    /// Cache-Control of a fallback answer (default: the HTML policy).
    pub cache_control: String,
    pub allow_public_read: bool,
    /// Name of the edge function (default: derived from the bucket).
    pub function_name: Option<String>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            mode: None,
            index_document: "index.html".into(),
            error_document: "index.html".into(),
            fallback: Fallback::Spa,
            no_fallback: Vec::new(),
            cache_control: CACHE_HTML.into(),
            allow_public_read: false,
            function_name: None,
        }
    }
}

/// A header value a manifest may set: non-empty printable ASCII on one line (no CR/LF to inject
/// headers into responses or generated code).
pub fn is_header_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (b' '..=b'~').contains(&b))
}

impl RoutingSettings {
    /// Checks the values that reach generated code, S3 and IAM ARNs; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !is_header_value(&self.cache_control) {
            return Err((
                "cache_control",
                format!(
                    "cache_control {:?} must be non-empty printable ASCII on one line",
                    self.cache_control
                ),
            ));
        }
        for (key, document) in [
            ("index_document", &self.index_document),
            ("error_document", &self.error_document),
        ] {
            let file = document.trim_start_matches('/');
            let printable = file.bytes().all(|b| (b'!'..=b'~').contains(&b));
            if file.is_empty()
                || !printable
                || file.contains(['?', '#'])
                || !crate::model::is_safe_key(file)
                || crate::model::is_state_key(file)
            {
                return Err((
                    key,
                    format!(
                        "{key} {document:?} must name a file inside the build, like \"index.html\" \
                         (no `..`, `.` or empty parts, no spaces, `?` or `#`)"
                    ),
                ));
            }
        }
        if let Some(name) = &self.function_name {
            let valid = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err((
                    "function_name",
                    format!(
                        "function_name {name:?} must be 1 to 64 letters, digits, `-` or `_` \
                         (it becomes part of the function's ARN and of IAM policies)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Checks the manifest's redirects: paths must start with `/`, statuses must be redirects, and
/// S3 takes at most 50.
pub fn validate_redirects(redirects: &[Redirect]) -> Result<(), String> {
    if redirects.len() > MAX_REDIRECTS {
        return Err(format!(
            "{} [[redirects]] given, but an S3 website configuration holds at most {MAX_REDIRECTS} \
             routing rules: merge prefixes, or handle the rest in the app",
            redirects.len()
        ));
    }
    for r in redirects {
        if !r.from.starts_with('/') || !r.to.starts_with('/') {
            return Err(format!(
                "redirect `{}` → `{}`: both paths must start with `/`",
                r.from, r.to
            ));
        }
        if ![301, 302, 303, 307, 308].contains(&r.status) {
            return Err(format!(
                "redirect `{}`: status {} is not a redirect (use 301, 302, 303, 307 or 308)",
                r.from, r.status
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_validation_explains_itself() {
        let ok = Redirect {
            from: "/a/".into(),
            to: "/b/".into(),
            status: 301,
        };
        assert!(validate_redirects(std::slice::from_ref(&ok)).is_ok());
        let many = vec![ok.clone(); 51];
        assert!(validate_redirects(&many)
            .unwrap_err()
            .contains("at most 50"));
        let bad = Redirect {
            status: 200,
            ..ok.clone()
        };
        assert!(validate_redirects(&[bad])
            .unwrap_err()
            .contains("not a redirect"));
        let rel = Redirect {
            from: "a/".into(),
            ..ok
        };
        assert!(validate_redirects(&[rel])
            .unwrap_err()
            .contains("start with `/`"));
    }
}
