//! The manifest's `[routing]` table and its `[[redirects]]`, `[[rewrites]]`, `[[spa]]` and
//! `[[headers]]` arrays: the schema, defaults and validation of what a project states about its
//! routes. `cdn::routing` turns them, with the live release's files, into the route table.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::model::{is_header_value, CACHE_HTML};

/// How CloudFront reaches the SPA and where the fallback happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Mode {
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
pub(crate) enum Fallback {
    /// Extension-less GET/HEAD paths get the index document with status 200.
    #[default]
    Spa,
    /// No fallback: unknown paths are 404.
    None,
}

/// What a page URL's trailing slash does: nothing, or a 308 to the other form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TrailingSlash {
    #[default]
    Keep,
    Add,
    Remove,
}

impl TrailingSlash {
    /// The manifest's spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TrailingSlash::Keep => "keep",
            TrailingSlash::Add => "add",
            TrailingSlash::Remove => "remove",
        }
    }
}

/// `[[redirects]]`: `from` is a path pattern (`:name` segments, a final `*`), `to` a path or an
/// absolute URL that may use the parameters and `:splat`. A `from` ending in `/` without
/// parameters is a prefix (`/docs/` means `/docs/*` → `to:splat`), as in earlier versions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Redirect {
    pub from: String,
    pub to: String,
    #[serde(default = "default_redirect_status")]
    pub status: u16,
}

fn default_redirect_status() -> u16 {
    301
}

/// `[[rewrites]]`: a page URL matching `from` answers the file `to` (same site) with 200.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rewrite {
    pub from: String,
    pub to: String,
}

/// `[[spa]]`: client routes under `prefix` fall back to `index` (default: the index document
/// under the prefix).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spa {
    #[serde(default = "root_prefix")]
    pub prefix: String,
    pub index: Option<String>,
}

fn root_prefix() -> String {
    "/".into()
}

/// `[[headers]]`: response headers for answers whose path matches `for`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderRule {
    #[serde(rename = "for")]
    pub pattern: String,
    pub values: BTreeMap<String, String>,
}

/// Everything a manifest states about routes, as the routing layers take it (and as a release
/// records it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RouteRules {
    pub settings: RoutingSettings,
    pub redirects: Vec<Redirect>,
    pub rewrites: Vec<Rewrite>,
    pub spas: Vec<Spa>,
    pub headers: Vec<HeaderRule>,
}

/// A routing rule or setting spadeploy cannot serve as written: the message says what to write
/// instead (and, for a manifest, the caller adds where).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RuleError {
    /// A path pattern (`from`, `for`, a `[[spa]]` prefix).
    #[error("{0}")]
    Pattern(String),
    /// Where a redirect or rewrite leads.
    #[error("{0}")]
    Destination(String),
    #[error("{0}")]
    Spa(String),
    #[error("{0}")]
    Header(String),
    /// A `[routing]` key.
    #[error("{message}")]
    Setting { key: &'static str, message: String },
    #[error("more than {MAX_PATTERN_RULES} redirects and rewrites: the edge function evaluates at most that many")]
    TooMany,
    /// A release record's routing that does not parse.
    #[error("not a routing table")]
    Unreadable(#[source] serde_json::Error),
}

impl RouteRules {
    /// The routing a release recorded, checked as a manifest's would be: a record is read back
    /// from the target, where it may have been edited.
    pub(crate) fn from_record(value: &serde_json::Value) -> Result<RouteRules, RuleError> {
        let rules: RouteRules =
            serde_json::from_value(value.clone()).map_err(RuleError::Unreadable)?;
        rules.settings.validate()?;
        rules.redirects.iter().try_for_each(Redirect::validate)?;
        rules.rewrites.iter().try_for_each(Rewrite::validate)?;
        rules.spas.iter().try_for_each(Spa::validate)?;
        rules.headers.iter().try_for_each(HeaderRule::validate)?;
        if rules.redirects.len() + rules.rewrites.len() > MAX_PATTERN_RULES {
            return Err(RuleError::TooMany);
        }
        Ok(rules)
    }
}

/// Redirects and rewrites are evaluated by the edge function, whose code must stay small.
pub(crate) const MAX_PATTERN_RULES: usize = 100;

/// The `[routing]` table of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RoutingSettings {
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
    pub trailing_slash: TrailingSlash,
    /// `/page` answers `page.html`, and `/page.html` redirects to `/page`.
    pub clean_urls: bool,
    /// The page answered with status 404 (default: `404.html` when the build has one).
    pub not_found: Option<String>,
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
            trailing_slash: TrailingSlash::Keep,
            clean_urls: true,
            not_found: None,
        }
    }
}

/// A file a setting names inside the build (`index.html`, `admin/index.html`): printable ASCII
/// without spaces, `?` or `#` (it becomes a request URI at the edge as written), no `..`, `.` or
/// empty parts, not spadeploy's state.
fn is_build_file(document: &str) -> bool {
    let file = document.trim_start_matches('/');
    !file.is_empty()
        && file.bytes().all(|b| (b'!'..=b'~').contains(&b))
        && !file.contains(['?', '#', '%'])
        && crate::model::is_safe_key(file)
        && !crate::model::is_state_key(file)
}

impl RoutingSettings {
    /// Checks the values that reach generated code, S3 and IAM ARNs.
    pub(crate) fn validate(&self) -> Result<(), RuleError> {
        if !is_header_value(&self.cache_control) {
            return Err(RuleError::Setting {
                key: "cache_control",
                message: format!(
                    "cache_control {:?} must be non-empty printable ASCII on one line",
                    self.cache_control
                ),
            });
        }
        let not_found = self.not_found.as_ref().map(|page| ("not_found", page));
        for (key, document) in [
            ("index_document", &self.index_document),
            ("error_document", &self.error_document),
        ]
        .into_iter()
        .chain(not_found)
        {
            if !is_build_file(document) {
                return Err(RuleError::Setting {
                    key,
                    message: format!(
                        "{key} {document:?} must name a file inside the build, like \"index.html\" \
                         (no `..`, `.` or empty parts, no spaces, `?` or `#`)"
                    ),
                });
            }
        }
        for prefix in &self.no_fallback {
            // An empty entry is a prefix of every path: it would turn the fallback off silently.
            let valid = prefix.starts_with('/')
                && prefix.len() > 1
                && prefix.bytes().all(|b| (b'!'..=b'~').contains(&b))
                && !prefix.contains(['?', '#', '*']);
            if !valid {
                return Err(RuleError::Setting {
                    key: "no_fallback",
                    message: format!(
                        "no_fallback entry {prefix:?} must be a URL folder such as \"/assets/\" \
                         (printable ASCII starting with `/`, no spaces, `?`, `#` or `*`); to turn \
                         the SPA fallback off, set fallback = \"none\""
                    ),
                });
            }
        }
        if let Some(name) = &self.function_name {
            let valid = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(RuleError::Setting {
                    key: "function_name",
                    message: format!(
                        "function_name {name:?} must be 1 to 64 letters, digits, `-` or `_` \
                         (it becomes part of the function's ARN and of IAM policies)"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A path Location that starts with `//` or `/\` (or their percent-encodings) is read by browsers
/// as another host: the run collapses to one `/`, as `sameSite` in router.js. A request path or a
/// splat supplies such a run (`//evil.example/x`); an absolute `to` is left as written.
pub(crate) fn same_site(location: &str) -> String {
    let Some(mut rest) = location.strip_prefix('/') else {
        return location.to_string();
    };
    loop {
        let lower = rest.get(..3).map(str::to_ascii_lowercase);
        rest = if let Some(tail) = rest.strip_prefix(['/', '\\']) {
            tail
        } else if matches!(lower.as_deref(), Some("%2f" | "%5c")) {
            &rest[3..]
        } else {
            return format!("/{rest}");
        };
    }
}

/// Checks a path pattern: starts with `/`, `:name` parameters fill whole segments, a `*` only as
/// the whole last segment.
pub(crate) fn validate_pattern(pattern: &str) -> Result<(), RuleError> {
    if !pattern.starts_with('/') {
        return Err(RuleError::Pattern(format!(
            "`{pattern}`: a path pattern must start with `/`"
        )));
    }
    if !pattern.bytes().all(|b| (b'!'..=b'~').contains(&b)) || pattern.contains(['?', '#']) {
        return Err(RuleError::Pattern(format!(
            "`{pattern}`: a path pattern is printable ASCII without spaces, `?` or `#` (query strings are kept, not matched)"
        )));
    }
    let segments: Vec<&str> = pattern.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if segment.contains('*') && (*segment != "*" || i + 1 != segments.len()) {
            return Err(RuleError::Pattern(format!(
                "`{pattern}`: `*` matches the rest of the path, so it must be the whole last segment (`/news/*`)"
            )));
        }
        if let Some(name) = segment.strip_prefix(':') {
            if !is_parameter_name(name) {
                return Err(RuleError::Pattern(format!(
                    "`{pattern}`: `:{name}` is not a parameter name (letters, digits and `_`, starting with a letter)"
                )));
            }
        }
    }
    Ok(())
}

fn is_parameter_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The parameters a pattern captures (`splat` for a final `*`).
pub(crate) fn pattern_parameters(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|s| {
            if s == "*" {
                Some("splat")
            } else {
                s.strip_prefix(':')
            }
        })
        .collect()
}

/// `:name` tokens a destination uses.
pub(crate) fn destination_parameters(to: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = to;
    while let Some(at) = rest.find(':') {
        let tail = &rest[at + 1..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if is_parameter_name(&tail[..len]) {
            names.push(&tail[..len]);
        }
        rest = &tail[len..];
    }
    names
}

fn check_destination(from: &str, to: &str) -> Result<(), RuleError> {
    if !is_header_value(to) || to.contains(' ') {
        return Err(RuleError::Destination(format!(
            "`{to}`: a destination is printable ASCII without spaces"
        )));
    }
    let captured = pattern_parameters(from);
    if let Some(missing) = destination_parameters(to)
        .into_iter()
        .find(|name| !captured.contains(name) && !to.contains("://"))
    {
        return Err(RuleError::Destination(format!(
            "`{from}` → `{to}`: `:{missing}` is not captured by `from` (it captures: {})",
            if captured.is_empty() {
                "nothing".to_string()
            } else {
                captured.join(", ")
            }
        )));
    }
    Ok(())
}

impl Redirect {
    /// The redirect in pattern form: the prefix shorthand (`/docs/` → `/guide/`) spelled out.
    pub(crate) fn normalized(&self) -> Redirect {
        let prefix = self.from.ends_with('/') && pattern_parameters(&self.from).is_empty();
        if !prefix {
            return self.clone();
        }
        let to = if self.to.ends_with('/') && !self.to.contains(":splat") {
            format!("{}:splat", self.to)
        } else {
            self.to.clone()
        };
        Redirect {
            from: format!("{}*", self.from),
            to,
            status: self.status,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RuleError> {
        validate_pattern(&self.from)?;
        let absolute = self.to.starts_with("https://") || self.to.starts_with("http://");
        if !self.to.starts_with('/') && !absolute {
            return Err(RuleError::Destination(format!(
                "redirect `{}` → `{}`: `to` must be a path starting with `/` or an absolute http(s) URL",
                self.from, self.to
            )));
        }
        if !absolute && same_site(&self.to) != self.to || self.to.contains('\\') {
            return Err(RuleError::Destination(format!(
                "redirect `{}` → `{}`: browsers read a `to` starting with `//` or `/\\` (or a backslash \
                 anywhere) as another host; write another site as an absolute URL (`https://example.org/…`)",
                self.from, self.to
            )));
        }
        if absolute {
            let host = self.to.split_once("://").map_or("", |(_, rest)| {
                rest.split(['/', '?', '#']).next().unwrap_or_default()
            });
            if host.is_empty() || !destination_parameters(host).is_empty() || host.contains('@') {
                return Err(RuleError::Destination(format!(
                    "redirect `{}` → `{}`: the host of an absolute `to` is written out in full \
                     (parameters may follow the first `/`, never in the host)",
                    self.from, self.to
                )));
            }
        }
        let normalized = self.normalized();
        check_destination(&normalized.from, &normalized.to)?;
        if ![301, 302, 303, 307, 308].contains(&self.status) {
            return Err(RuleError::Destination(format!(
                "redirect `{}`: status {} is not a redirect (use 301, 302, 303, 307 or 308)",
                self.from, self.status
            )));
        }
        Ok(())
    }
}

impl Rewrite {
    pub(crate) fn validate(&self) -> Result<(), RuleError> {
        validate_pattern(&self.from)?;
        if !self.to.starts_with('/') || same_site(&self.to) != self.to || self.to.contains('\\') {
            return Err(RuleError::Destination(format!(
                "rewrite `{}` → `{}`: `to` must be a file of this site, starting with `/` (proxying to other hosts is not supported: use a CloudFront behavior with its own origin)",
                self.from, self.to
            )));
        }
        check_destination(&self.from, &self.to)
    }
}

impl Spa {
    /// The prefix as a folder path: `/admin` and `/admin/` are the same SPA.
    pub(crate) fn folder(&self) -> String {
        let trimmed = self.prefix.trim_matches('/');
        if trimmed.is_empty() {
            "/".into()
        } else {
            format!("/{trimmed}/")
        }
    }

    /// The index file (a key relative to the site) this SPA falls back to.
    pub(crate) fn index_key(&self, index_document: &str) -> String {
        match &self.index {
            Some(index) => index.trim_start_matches('/').to_string(),
            None => format!("{}{index_document}", self.folder().trim_start_matches('/')),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RuleError> {
        validate_pattern(&self.prefix)?;
        if self.prefix.contains([':', '*']) {
            return Err(RuleError::Spa(format!(
                "[[spa]] prefix `{}` is a plain folder path such as `/admin/` (no parameters or `*`)",
                self.prefix
            )));
        }
        if let Some(index) = &self.index {
            if !is_build_file(index) {
                return Err(RuleError::Spa(format!(
                    "[[spa]] index {index:?} must name a file inside the build, like \"admin/index.html\" \
                     (printable ASCII, no spaces, `?`, `#`, `%`, `..` or empty parts)"
                )));
            }
        }
        Ok(())
    }
}

/// Headers a manifest may not set: they describe the message or the connection, which CloudFront
/// and the origin own; with AWS's disallowed and read-only headers of both edge runtimes (adding one fails the
/// response with a 502): "Restrictions on all edge functions", HTTP headers.
const RESERVED_HEADERS: [&str; 22] = [
    "connection",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "host",
    "keep-alive",
    "upgrade",
    "via",
    "location",
    "set-cookie",
    "expect",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "x-cache",
    "x-forwarded-proto",
    "x-real-ip",
    "warning",
    "date",
    "server",
    "status",
];
/// Name prefixes CloudFront owns (`X-Amz-Cf-*`, `X-Amzn-*`, `X-Edge-*`, `X-Accel-*`).
const RESERVED_PREFIXES: [&str; 4] = ["x-amz-", "x-amzn-", "x-edge-", "x-accel-"];

impl HeaderRule {
    pub(crate) fn validate(&self) -> Result<(), RuleError> {
        validate_pattern(&self.pattern)?;
        if self.values.is_empty() {
            return Err(RuleError::Header(format!("[[headers]] for `{}` sets no header: add `values = {{ \"X-Frame-Options\" = \"DENY\" }}`", self.pattern)));
        }
        for (name, value) in &self.values {
            // Letters, digits and `-`: every response header has this shape, and a name such as
            // `__proto__` would otherwise become a property of the edge code's header objects.
            let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return Err(RuleError::Header(format!(
                    "[[headers]] {name:?} is not a header name (letters, digits and `-`, like `X-Frame-Options`)"
                )));
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str())
                || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
            {
                return Err(RuleError::Header(format!(
                    "[[headers]] `{name}` cannot be set by spadeploy: CloudFront or the origin owns it"
                )));
            }
            if !is_header_value(value) {
                return Err(RuleError::Header(format!(
                    "[[headers]] `{name}`: value {value:?} must be non-empty printable ASCII on one line"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(from: &str, to: &str, status: u16) -> Redirect {
        Redirect {
            from: from.into(),
            to: to.into(),
            status,
        }
    }

    #[test]
    fn redirect_validation_explains_itself() {
        assert!(redirect("/a/", "/b/", 301).validate().is_ok());
        assert!(redirect("/blog/:slug", "https://example.com/:slug", 302)
            .validate()
            .is_ok());
        let err = |r: Redirect| r.validate().unwrap_err().to_string();
        assert!(err(redirect("/a/", "/b/", 200)).contains("not a redirect"));
        assert!(err(redirect("a/", "/b/", 301)).contains("start with `/`"));
        assert!(err(redirect("/a/*/b", "/b", 301)).contains("last segment"));
        assert!(err(redirect("/a/:1x", "/b", 301)).contains("parameter name"));
        assert!(err(redirect("/a/:id", "/b/:slug", 301)).contains("`:slug` is not captured"));
        assert!(err(redirect("/a", "b", 301)).contains("absolute"));
    }

    #[test]
    fn prefix_redirects_of_earlier_versions_become_splats() {
        assert_eq!(
            redirect("/old/", "/new/", 301).normalized(),
            redirect("/old/*", "/new/:splat", 301)
        );
        let exact = redirect("/a/:id/", "/b/:id", 302);
        assert_eq!(exact.normalized(), exact);
    }

    #[test]
    fn rewrites_spas_and_headers_are_checked() {
        let rewrite = |from: &str, to: &str| Rewrite {
            from: from.into(),
            to: to.into(),
        };
        assert!(rewrite("/blog/:slug", "/posts/:slug.html")
            .validate()
            .is_ok());
        assert!(rewrite("/x", "https://api.example.com/x")
            .validate()
            .unwrap_err()
            .to_string()
            .contains("proxying"));
        let spa = Spa {
            prefix: "/admin".into(),
            index: None,
        };
        assert_eq!(spa.folder(), "/admin/");
        assert_eq!(spa.index_key("index.html"), "admin/index.html");
        assert_eq!(
            Spa {
                prefix: "/".into(),
                index: None
            }
            .index_key("index.html"),
            "index.html"
        );
        assert!(Spa {
            prefix: "/a/:x".into(),
            index: None
        }
        .validate()
        .is_err());
        let headers = |name: &str, value: &str| HeaderRule {
            pattern: "/*".into(),
            values: [(name.to_string(), value.to_string())].into(),
        };
        assert!(headers("X-Frame-Options", "DENY").validate().is_ok());
        assert!(headers("Content-Length", "1")
            .validate()
            .unwrap_err()
            .to_string()
            .contains("owns it"));
        assert!(headers("X Bad", "1")
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not a header name"));
        assert!(headers("X-A", "a\nb")
            .validate()
            .unwrap_err()
            .to_string()
            .contains("one line"));
    }

    #[test]
    fn a_destination_that_browsers_read_as_another_host_is_refused() {
        for to in [
            "//evil.com",
            "/\\evil.com",
            "/%2F%2Fevil.com",
            "/a\\b",
            "https://:splat",
        ] {
            let err = redirect("/old/*", to, 301)
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains("host"), "{to}: {err}");
        }
        assert!(redirect("/go/*", "https://example.org:splat", 301)
            .validate()
            .is_err());
        assert!(redirect("/go/*", "https://user@evil.example/", 301)
            .validate()
            .is_err());
        assert!(redirect("/old/*", "/:splat", 301).validate().is_ok());
        assert!(redirect("/go/*", "https://example.org:8443/:splat", 301)
            .validate()
            .is_ok());
        let rewrite = Rewrite {
            from: "/a".into(),
            to: "/\\evil.com".into(),
        };
        assert!(rewrite.validate().is_err());
    }

    #[test]
    fn values_that_reach_the_edge_code_are_checked() {
        let with = |no_fallback: &[&str]| RoutingSettings {
            no_fallback: no_fallback
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            ..Default::default()
        };
        for bad in [&[""][..], &["/assets/\u{2028}"], &["assets/"], &["/a b/"]] {
            let err = with(bad).validate().unwrap_err();
            assert!(
                matches!(
                    err,
                    RuleError::Setting {
                        key: "no_fallback",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        assert!(with(&["/assets/"]).validate().is_ok());
        for index in ["a b.html", "app/\u{2028}.html", "x%20.html"] {
            let spa = Spa {
                prefix: "/app/".into(),
                index: Some(index.into()),
            };
            assert!(spa.validate().is_err(), "{index}");
        }
        for name in [
            "__proto__",
            "X-Cache",
            "Date",
            "Server",
            "Status",
            "X-Amzn-Trace",
            "X_A",
        ] {
            let rule = HeaderRule {
                pattern: "/*".into(),
                values: [(name.to_string(), "1".to_string())].into(),
            };
            assert!(rule.validate().is_err(), "{name}");
        }
    }

    #[test]
    fn recorded_routing_round_trips_and_is_checked_like_a_manifest() {
        let rules = RouteRules {
            redirects: vec![redirect("/old/*", "/:splat", 301)],
            spas: vec![Spa {
                prefix: "/".into(),
                index: Some("200.html".into()),
            }],
            ..Default::default()
        };
        let value = serde_json::to_value(&rules).unwrap();
        assert_eq!(RouteRules::from_record(&value).unwrap(), rules);
        let mut edited = value.clone();
        edited["redirects"][0]["to"] = "//evil.example".into();
        assert!(RouteRules::from_record(&edited).is_err());
        edited = value;
        edited["headers"] = serde_json::json!([{"for": "/*", "values": {"__proto__": "1"}}]);
        assert!(RouteRules::from_record(&edited).is_err());
    }
}
