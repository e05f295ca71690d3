//! The route table and its evaluation: for a request on the SPA behaviors, what answers it.
//! One evaluation order (README, "Routing"), written twice: here in Rust for `serve` and
//! `verify`, and in `router.js` for both edge functions. The routing conformance table
//! (tests/data/routing-conformance.tsv) holds the two to the same answers.
//!
//! Everything is in URL space: a target at key prefix `app/` behind an origin without an origin
//! path is served under `/app/` (the table's `base`); the manifest's paths are relative to it.
//!
//! Over 600 lines on purpose: `Routes::route` must be read beside `router.js`, line for line,
//! with the table's derivation and the names that identify a site's function; split, the two
//! twins would drift.

use std::collections::BTreeSet;

use percent_encoding::utf8_percent_encode;
use serde::Serialize;
use sha2::Digest;

use crate::config::routing::{
    same_site, Fallback, Redirect, Rewrite, RouteRules, RoutingSettings, TrailingSlash,
};
use crate::model::{STATE_PREFIX, URL_PATH_ENCODE};

/// The file name extensions of pages: what the filesystem step, rewrites and the 404 page
/// apply to. Other files go to the origin as asked (a retained asset of an earlier release is
/// served; a missing one is the origin's 404, never HTML in place of a script).
fn extension(path: &str) -> &str {
    let last = path.rsplit('/').next().unwrap_or(path);
    last.rsplit_once('.').map_or("", |(_, ext)| ext)
}

fn is_page_path(path: &str) -> bool {
    matches!(extension(path), "" | "html")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SpaRoute {
    /// Folder URL, e.g. `/admin/`.
    pub prefix: String,
    /// URL of its index, e.g. `/admin/index.html`.
    pub index: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HeaderRoute {
    pub pattern: String,
    pub values: Vec<(String, String)>,
}

/// The route table: the manifest's rules in URL space, and the live release's pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Routes {
    /// URL of the site's root folder, `/` or e.g. `/app/`.
    pub base: String,
    /// The index document's file name, e.g. `index.html`.
    pub index: String,
    pub trailing_slash: TrailingSlash,
    pub clean_urls: bool,
    /// Cache-Control of fallback and 404 answers.
    pub cache_control: String,
    pub no_fallback: Vec<String>,
    pub redirects: Vec<Redirect>,
    pub rewrites: Vec<Rewrite>,
    /// Longest prefix first.
    pub spas: Vec<SpaRoute>,
    pub not_found: Option<String>,
    pub headers: Vec<HeaderRoute>,
    /// URLs of the release's pages (HTML and extension-less files), percent-encoded as the edge
    /// sees them.
    #[serde(skip)]
    pub pages: BTreeSet<String>,
    /// The 404 page's key, relative to the site.
    #[serde(skip)]
    pub not_found_key: Option<String>,
}

/// A step of the evaluation order, as `routing --explain` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Step {
    State,
    Redirects,
    TrailingSlash,
    Files,
    Rewrites,
    SpaFallback,
    NotFound,
}

impl Step {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Step::State => "state",
            Step::Redirects => "redirects",
            Step::TrailingSlash => "trailing slash",
            Step::Files => "files",
            Step::Rewrites => "rewrites",
            Step::SpaFallback => "spa fallback",
            Step::NotFound => "not found",
        }
    }
}

/// What answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// spadeploy's state: a 404 made at the edge.
    Deny,
    Redirect {
        status: u16,
        location: String,
    },
    /// The file at `path` answers, with `status`; `fallback` for an SPA's index.
    Serve {
        path: String,
        status: u16,
        fallback: bool,
    },
    /// The origin answers the request as it is.
    Pass,
}

impl Outcome {
    /// The path whose `[[headers]]` apply: the file answered, else the request's.
    pub(crate) fn answered_path<'a>(&'a self, request_path: &'a str) -> &'a str {
        match self {
            Outcome::Serve { path, .. } => path,
            _ => request_path,
        }
    }
}

/// A route table that cannot be made for a release.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TableError {
    #[error(
        "the target's prefix `{prefix}` is outside the SPA origin's path `{origin_path}`, so \
         CloudFront cannot reach it: push to a prefix under `{origin}/`, or change the origin path"
    )]
    OutsideOrigin {
        prefix: String,
        origin_path: String,
        origin: String,
    },
    #[error("[routing] not_found = {page:?}, but the build has no {key}: add the page, or remove the setting")]
    MissingNotFound { page: String, key: String },
    #[error("[[spa]] prefix {prefix:?} falls back to {key}, which the build does not have: build that app into it, or set `index`")]
    MissingSpaIndex { prefix: String, key: String },
}

/// The URL of a target's root folder: its key prefix, less the origin path CloudFront prepends
/// (`app/` behind origin path `/app` is served at `/`, behind none at `/app/`).
pub(crate) fn site_base(prefix: &str, origin_path: &str) -> Result<String, TableError> {
    let folder = prefix.trim_matches('/');
    let origin = origin_path.trim_matches('/');
    let rest = if origin.is_empty() {
        Some(folder)
    } else if folder == origin {
        Some("")
    } else {
        folder.strip_prefix(&format!("{origin}/"))
    };
    match rest {
        Some("") => Ok("/".into()),
        Some(rest) => Ok(format!("/{rest}/")),
        None => Err(TableError::OutsideOrigin {
            prefix: prefix.to_string(),
            origin_path: origin_path.to_string(),
            origin: origin.to_string(),
        }),
    }
}

/// `base` + a site-relative path.
fn join(base: &str, path: &str) -> String {
    format!("{base}{}", path.trim_start_matches('/'))
}

/// Path pattern matching, as `matchPattern` in router.js: `:name` takes one segment, a final
/// `*` the rest (also nothing); a trailing slash on the path is ignored unless the pattern has
/// one. Returns the parameters, the splat as `splat`.
pub(crate) fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let wanted: Vec<&str> = pattern.split('/').collect();
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && parts.last() == Some(&"") && wanted.last() != Some(&"") {
        parts.pop();
    }
    let mut params = Vec::new();
    for (i, want) in wanted.iter().enumerate() {
        if *want == "*" && i + 1 == wanted.len() {
            let rest = parts
                .get(i..)
                .map(|rest| rest.join("/"))
                .unwrap_or_default();
            params.push(("splat".to_string(), rest));
            return Some(params);
        }
        let part = parts.get(i)?;
        match want.strip_prefix(':') {
            Some(name) if !part.is_empty() => params.push((name.to_string(), part.to_string())),
            Some(_) => return None,
            None if want != part => return None,
            None => {}
        }
    }
    (wanted.len() == parts.len()).then_some(params)
}

/// `to` with `:name` tokens replaced by the captured values (unknown names stay as written).
pub(crate) fn fill(to: &str, params: &[(String, String)]) -> String {
    let mut out = String::with_capacity(to.len());
    let mut rest = to;
    while let Some(at) = rest.find(':') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let starts = tail.starts_with(|c: char| c.is_ascii_alphabetic());
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        match params
            .iter()
            .find(|(name, _)| starts && name == &tail[..len])
        {
            Some((_, value)) => out.push_str(value),
            None => {
                out.push(':');
                out.push_str(&tail[..len]);
            }
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn with_query(location: &str, query: &str) -> String {
    match (query.is_empty(), location.contains('?')) {
        (true, _) => location.to_string(),
        (false, true) => format!("{location}&{query}"),
        (false, false) => format!("{location}?{query}"),
    }
}

fn redirect(status: u16, location: &str, query: &str) -> Outcome {
    Outcome::Redirect {
        status,
        location: same_site(&with_query(location, query)),
    }
}

/// Whether a request path names spadeploy's state however it is spelled: S3 decodes `%2E`, and
/// the edge must not depend on the bucket policy to hide `/%2Espadeploy/`, `/.SPADEPLOY/` or
/// `//.spadeploy/`. Segments are compared decoded, case-folded, without empty or `.` parts.
fn names_state(base: &str, path: &str) -> bool {
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else {
        // Not UTF-8 once decoded: no key of the release is named so; refuse only state look-alikes.
        return path.to_ascii_lowercase().contains("spadeploy");
    };
    let decoded = decoded.to_lowercase();
    let mut parts = decoded
        .split(['/', '\\'])
        .filter(|part| !matches!(*part, "" | "."));
    let base = base.to_lowercase();
    let state = STATE_PREFIX.trim_end_matches('/');
    base.split('/')
        .filter(|part| !part.is_empty())
        .all(|want| parts.next() == Some(want))
        && parts.next() == Some(state)
}

impl Routes {
    /// The table for a release holding `keys` (relative to the site), served under `base`.
    /// Fails when the manifest names a file the release lacks.
    pub(crate) fn derive<'a>(
        rules: &RouteRules,
        base: &str,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Routes, TableError> {
        let keys: BTreeSet<&str> = keys.into_iter().collect();
        let settings: &RoutingSettings = &rules.settings;
        let index = settings.index_document.trim_start_matches('/').to_string();
        let pages = keys
            .iter()
            .filter(|key| is_page_path(key))
            .map(|key| join(base, &utf8_percent_encode(key, URL_PATH_ENCODE).to_string()))
            .collect();
        let not_found_key = match &settings.not_found {
            Some(page) => {
                let key = page.trim_start_matches('/');
                if !keys.contains(key) {
                    return Err(TableError::MissingNotFound {
                        page: page.clone(),
                        key: key.to_string(),
                    });
                }
                Some(key.to_string())
            }
            None => keys.contains("404.html").then(|| "404.html".to_string()),
        };
        let not_found = not_found_key.as_deref().map(|key| join(base, key));
        let spas = match settings.fallback {
            Fallback::None => Vec::new(),
            Fallback::Spa if rules.spas.is_empty() => vec![SpaRoute {
                prefix: base.to_string(),
                index: join(base, &index),
            }],
            Fallback::Spa => {
                let mut spas = Vec::new();
                for spa in &rules.spas {
                    let key = spa.index_key(&index);
                    if !keys.contains(key.as_str()) {
                        return Err(TableError::MissingSpaIndex {
                            prefix: spa.prefix.clone(),
                            key,
                        });
                    }
                    spas.push(SpaRoute {
                        prefix: join(base, &spa.folder()),
                        index: join(base, &key),
                    });
                }
                spas.sort_by_key(|spa| std::cmp::Reverse(spa.prefix.len()));
                spas
            }
        };
        let site_path = |to: &str| {
            if to.starts_with('/') {
                join(base, to)
            } else {
                to.to_string()
            }
        };
        Ok(Routes {
            base: base.to_string(),
            index,
            trailing_slash: settings.trailing_slash,
            clean_urls: settings.clean_urls,
            cache_control: settings.cache_control.clone(),
            no_fallback: settings.no_fallback.iter().map(|p| join(base, p)).collect(),
            redirects: rules
                .redirects
                .iter()
                .map(|r| {
                    let r = r.normalized();
                    Redirect {
                        from: join(base, &r.from),
                        to: site_path(&r.to),
                        status: r.status,
                    }
                })
                .collect(),
            rewrites: rules
                .rewrites
                .iter()
                .map(|r| Rewrite {
                    from: join(base, &r.from),
                    to: join(base, &r.to),
                })
                .collect(),
            spas,
            not_found,
            headers: rules
                .headers
                .iter()
                .map(|h| HeaderRoute {
                    pattern: join(base, &h.pattern),
                    values: h.values.clone().into_iter().collect(),
                })
                .collect(),
            pages,
            not_found_key,
        })
    }

    /// The page a path names, as `resolve` in router.js: `dir/` → `dir/index.html` (or, with
    /// clean URLs, `dir.html`); `page` → `page`, `page.html`, `page/index.html`.
    pub(crate) fn candidates(&self, path: &str) -> Vec<String> {
        if let Some(folder) = path.strip_suffix('/') {
            let mut found = vec![format!("{path}{}", self.index)];
            if self.clean_urls && !folder.is_empty() {
                found.push(format!("{folder}.html"));
            }
            return found;
        }
        let mut found = vec![path.to_string()];
        if self.clean_urls {
            found.push(format!("{path}.html"));
        }
        found.push(format!("{path}/{}", self.index));
        found
    }

    /// The URLs whose candidates include `page`: the inverse of `candidates`.
    pub(crate) fn naming_urls(&self, page: &str) -> Vec<String> {
        let mut urls = vec![page.to_string()];
        if let Some(folder) = page.strip_suffix(&self.index) {
            if let Some(bare) = folder.strip_suffix('/') {
                urls.push(folder.to_string());
                if !bare.is_empty() {
                    urls.push(bare.to_string());
                }
            }
        }
        if let Some(stem) = page.strip_suffix(".html").filter(|_| self.clean_urls) {
            urls.push(stem.to_string());
            if !stem.is_empty() && !stem.ends_with('/') {
                urls.push(format!("{stem}/"));
            }
        }
        urls
    }

    /// Every URL that names a page, with the page it answers (`resolve`, precomputed): the table
    /// an edge function looks up instead of holding the pages.
    pub(crate) fn lookup_table(&self) -> std::collections::BTreeMap<String, String> {
        self.pages
            .iter()
            .flat_map(|page| self.naming_urls(page))
            .filter_map(|url| self.resolve(&url).map(|page| (url, page)))
            .collect()
    }

    pub(crate) fn resolve(&self, path: &str) -> Option<String> {
        self.candidates(path)
            .into_iter()
            .find(|c| self.pages.contains(c))
    }

    fn is_state(&self, path: &str) -> bool {
        names_state(&self.base, path)
    }

    /// The answer for a request, with `found` = `resolve(path)` (the edge looks it up itself).
    pub(crate) fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        found: Option<&str>,
    ) -> Outcome {
        self.route_explained(method, path, query, found, &mut |_, _| {})
    }

    /// `route`, telling `note` what each step it reached decided (`routing --explain`): the
    /// same code answers and explains.
    pub(crate) fn route_explained(
        &self,
        method: &str,
        path: &str,
        query: &str,
        found: Option<&str>,
        note: &mut dyn FnMut(Step, String),
    ) -> Outcome {
        if self.is_state(path) {
            note(
                Step::State,
                "spadeploy's own state: 404 made at the edge".into(),
            );
            return Outcome::Deny;
        }
        note(Step::State, "not spadeploy's state".into());
        for r in &self.redirects {
            if let Some(params) = match_pattern(&r.from, path) {
                note(
                    Step::Redirects,
                    format!("`{}` → `{}` matches", r.from, r.to),
                );
                return redirect(r.status, &fill(&r.to, &params), query);
            }
        }
        note(
            Step::Redirects,
            format!("none of {} matches", self.redirects.len()),
        );
        let ext = extension(path);
        let last = path.rsplit('/').next().unwrap_or(path);
        if found == Some(path) {
            let not_found = self.not_found.as_deref() == Some(path);
            if self.clean_urls && ext == "html" && last != self.index && !not_found {
                note(
                    Step::Files,
                    format!("{path} is a page; clean URLs drop `.html`"),
                );
                return redirect(301, &path[..path.len() - ".html".len()], query);
            }
            note(Step::Files, format!("{path} is a file of the release"));
            let status = if not_found { 404 } else { 200 };
            return Outcome::Serve {
                path: path.to_string(),
                status,
                fallback: false,
            };
        }
        // A slash is added or removed only where something other than a 404 answers after the
        // redirect: a page, or a client route (a missing page of a site of pages is a 404 at once).
        let answered = found.is_some() || self.fallback_for(method, path).is_some();
        if ext.is_empty() && path != self.base && answered {
            let slash = path.ends_with('/');
            let target = match self.trailing_slash {
                TrailingSlash::Add if !slash => Some(format!("{path}/")),
                TrailingSlash::Remove if slash && path != "/" => {
                    Some(path[..path.len() - 1].to_string())
                }
                _ => None,
            };
            if let Some(target) = target {
                note(
                    Step::TrailingSlash,
                    format!("trailing_slash = \"{}\"", self.trailing_slash.as_str()),
                );
                return redirect(308, &target, query);
            }
        }
        note(
            Step::TrailingSlash,
            format!(
                "trailing_slash = \"{}\": nothing to do",
                self.trailing_slash.as_str()
            ),
        );
        if let Some(found) = found {
            note(Step::Files, format!("{path} names the page {found}"));
            // The 404 page by any of its URLs (`/404`, `/404/`) is a 404 too, as by its name.
            let status = if self.not_found.as_deref() == Some(found) {
                404
            } else {
                200
            };
            return Outcome::Serve {
                path: found.to_string(),
                status,
                fallback: false,
            };
        }
        if !is_page_path(path) {
            note(
                Step::Files,
                format!("`.{ext}` is not a page: the origin answers {path} as asked"),
            );
            return Outcome::Pass;
        }
        note(
            Step::Files,
            format!("no page of the release is named by {path}"),
        );
        for r in &self.rewrites {
            if let Some(params) = match_pattern(&r.from, path) {
                note(Step::Rewrites, format!("`{}` → `{}` matches", r.from, r.to));
                return Outcome::Serve {
                    path: fill(&r.to, &params),
                    status: 200,
                    fallback: false,
                };
            }
        }
        note(
            Step::Rewrites,
            format!("none of {} matches", self.rewrites.len()),
        );
        if let Some(spa) = self.fallback_for(method, path) {
            note(
                Step::SpaFallback,
                format!("a client route of the SPA at {}", spa.prefix),
            );
            return Outcome::Serve {
                path: spa.index.clone(),
                status: 200,
                fallback: true,
            };
        }
        let why = if self.spas.is_empty() {
            "no SPA (fallback = \"none\", or a site of pages)".to_string()
        } else if !(method == "GET" || method == "HEAD") {
            format!("{method} never falls back")
        } else if let Some(prefix) = self
            .no_fallback
            .iter()
            .find(|p| path.starts_with(p.as_str()))
        {
            format!("{prefix} is in no_fallback")
        } else {
            "no [[spa]] prefix covers it".to_string()
        };
        note(Step::SpaFallback, why);
        match &self.not_found {
            Some(page) => {
                note(Step::NotFound, format!("the 404 page {page}"));
                Outcome::Serve {
                    path: page.clone(),
                    status: 404,
                    fallback: false,
                }
            }
            None => {
                note(Step::NotFound, "no 404 page: the origin's own 404".into());
                Outcome::Pass
            }
        }
    }

    /// The client-route rule: GET or HEAD of an extension-less path outside the no-fallback
    /// prefixes, under an SPA's prefix (the longest wins).
    fn fallback_for(&self, method: &str, path: &str) -> Option<&SpaRoute> {
        if !(method == "GET" || method == "HEAD") || !extension(path).is_empty() {
            return None;
        }
        if self
            .no_fallback
            .iter()
            .any(|p| path.starts_with(p.as_str()))
        {
            return None;
        }
        self.spas
            .iter()
            .find(|spa| path.starts_with(&spa.prefix) || format!("{path}/") == spa.prefix)
    }

    /// The website endpoint's error document (what S3 answers, with 404, for a key it lacks):
    /// the 404 page, else the root SPA's fallback file (`200.html` of a SvelteKit build), else
    /// `error_document`; never a pre-rendered page that is not the app's shell.
    pub(crate) fn error_key(&self, error_document: &str) -> String {
        if let Some(key) = &self.not_found_key {
            return key.clone();
        }
        let root_spa = self.spas.iter().find(|spa| spa.prefix == self.base);
        match root_spa.and_then(|spa| spa.index.strip_prefix(&self.base)) {
            Some(key) => key.to_string(),
            None => error_document.trim_start_matches('/').to_string(),
        }
    }

    pub(crate) fn evaluate(&self, method: &str, path: &str, query: &str) -> Outcome {
        self.route(method, path, query, self.resolve(path).as_deref())
    }

    /// The `[[headers]]` values for an answer of `path`; a later rule wins for the same name.
    pub(crate) fn headers_for(&self, path: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for rule in &self.headers {
            if match_pattern(&rule.pattern, path).is_none() {
                continue;
            }
            for (name, value) in &rule.values {
                out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                out.push((name.clone(), value.clone()));
            }
        }
        out
    }
}

/// A short, stable name for a target (bucket and key prefix), recorded in the edge code it
/// generates so that a function serving another target is recognised.
pub(crate) fn target_id(bucket: &str, prefix: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{bucket}/{}", prefix.trim_matches('/')));
    hex::encode(digest)[..16].to_string()
}

/// The edge function's (and its KeyValueStore's) name: `[routing] function_name`, else derived
/// from the bucket and the prefix, so two sites in one bucket never share one. Names allow
/// letters, digits, `-` and `_`, up to 64 characters. A bucket at its root with a name of
/// letters, digits and `-` keeps the name earlier versions gave it (`spadeploy-<bucket>`); any
/// other target gets a readable part and `_` plus a hash of bucket and prefix (bucket names
/// never hold `_`, so the two forms cannot meet, and `my.site` / `my-site` stay apart).
pub(crate) fn function_name(settings: &RoutingSettings, bucket: &str, prefix: &str) -> String {
    if let Some(name) = &settings.function_name {
        return name.clone();
    }
    let prefix = prefix.trim_matches('/');
    let plain = format!("spadeploy-{bucket}");
    let readable = bucket
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if prefix.is_empty() && readable && plain.len() <= 64 {
        return plain;
    }
    let text: String = format!("{bucket}-{prefix}")
        .trim_end_matches('-')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64 - "spadeploy-".len() - 1 - 16)
        .collect();
    format!("spadeploy-{text}_{}", target_id(bucket, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routing::{HeaderRule, Spa};

    fn routes(base: &str) -> Routes {
        let rules = RouteRules {
            settings: RoutingSettings {
                no_fallback: vec!["/assets/".into()],
                not_found: None,
                ..Default::default()
            },
            redirects: vec![
                Redirect {
                    from: "/old/".into(),
                    to: "/new/".into(),
                    status: 301,
                },
                Redirect {
                    from: "/blog/:year/:slug".into(),
                    to: "https://blog.example.com/:year/:slug".into(),
                    status: 302,
                },
            ],
            rewrites: vec![Rewrite {
                from: "/docs/:page".into(),
                to: "/docs/:page.html".into(),
            }],
            spas: vec![
                Spa {
                    prefix: "/".into(),
                    index: None,
                },
                Spa {
                    prefix: "/admin".into(),
                    index: None,
                },
            ],
            headers: vec![HeaderRule {
                pattern: "/*".into(),
                values: [("X-Frame-Options".to_string(), "DENY".to_string())].into(),
            }],
        };
        let keys = [
            "index.html",
            "admin/index.html",
            "about/index.html",
            "pricing.html",
            "404.html",
            "docs/intro.html",
            "assets/app.js",
            "LICENSE",
        ];
        Routes::derive(&rules, base, keys).unwrap()
    }

    fn serve(path: &str, status: u16) -> Outcome {
        Outcome::Serve {
            path: path.into(),
            status,
            fallback: false,
        }
    }

    fn redirect(status: u16, location: &str) -> Outcome {
        Outcome::Redirect {
            status,
            location: location.into(),
        }
    }

    #[test]
    fn patterns_capture_segments_and_splats() {
        let p = |pattern, path| match_pattern(pattern, path);
        assert_eq!(
            p("/blog/:slug", "/blog/hello/"),
            Some(vec![("slug".into(), "hello".into())])
        );
        assert_eq!(p("/blog/:slug", "/blog/a/b"), None);
        assert_eq!(p("/blog/:slug", "/blog/"), None);
        assert_eq!(
            p("/old/*", "/old/a/b"),
            Some(vec![("splat".into(), "a/b".into())])
        );
        assert_eq!(p("/old/*", "/old"), Some(vec![("splat".into(), "".into())]));
        assert_eq!(p("/old/*", "/older"), None);
        assert_eq!(p("/", "/"), Some(vec![]));
        assert_eq!(p("/", "/x"), None);
        let params = vec![("slug".to_string(), "a".to_string())];
        assert_eq!(fill("/posts/:slug.html", &params), "/posts/a.html");
        assert_eq!(
            fill("https://x.example:8080/:slug", &params),
            "https://x.example:8080/a"
        );
        assert_eq!(fill("/:other", &params), "/:other");
    }

    #[test]
    fn the_evaluation_order_holds() {
        let r = routes("/");
        let e = |path: &str| r.evaluate("GET", path, "");
        assert_eq!(e("/.spadeploy/live.json"), Outcome::Deny);
        assert_eq!(e("/old/a"), redirect(301, "/new/a"));
        assert_eq!(
            r.evaluate("GET", "/old/a", "x=1"),
            redirect(301, "/new/a?x=1")
        );
        assert_eq!(
            e("/blog/2024/hi"),
            redirect(302, "https://blog.example.com/2024/hi")
        );
        assert_eq!(e("/about/"), serve("/about/index.html", 200));
        assert_eq!(e("/about"), serve("/about/index.html", 200));
        assert_eq!(e("/pricing"), serve("/pricing.html", 200));
        assert_eq!(e("/pricing.html"), redirect(301, "/pricing"));
        assert_eq!(e("/index.html"), serve("/index.html", 200));
        assert_eq!(e("/404.html"), serve("/404.html", 404));
        assert_eq!(e("/LICENSE"), serve("/LICENSE", 200));
        assert_eq!(e("/docs/setup"), serve("/docs/setup.html", 200));
        assert_eq!(e("/docs/intro"), serve("/docs/intro.html", 200));
        let fallback = |index: &str| Outcome::Serve {
            path: index.into(),
            status: 200,
            fallback: true,
        };
        assert_eq!(e("/users/42"), fallback("/index.html"));
        assert_eq!(e("/admin/users/1"), fallback("/admin/index.html"));
        assert_eq!(e("/admin"), serve("/admin/index.html", 200));
        assert_eq!(e("/assets/missing"), serve("/404.html", 404));
        assert_eq!(e("/assets/app.js"), Outcome::Pass);
        assert_eq!(e("/assets/gone.js"), Outcome::Pass);
        assert_eq!(r.evaluate("POST", "/users/42", ""), serve("/404.html", 404));
        assert_eq!(
            r.headers_for("/x"),
            [("X-Frame-Options".into(), "DENY".into())]
        );
    }

    #[test]
    fn trailing_slash_policies_redirect_page_urls_only() {
        let mut r = routes("/");
        r.trailing_slash = TrailingSlash::Add;
        assert_eq!(
            r.evaluate("GET", "/users/42", "a=b"),
            redirect(308, "/users/42/?a=b")
        );
        assert_eq!(r.evaluate("GET", "/about", ""), redirect(308, "/about/"));
        assert_eq!(r.evaluate("GET", "/LICENSE", ""), serve("/LICENSE", 200));
        assert_eq!(r.evaluate("GET", "/assets/app.js", ""), Outcome::Pass);
        r.trailing_slash = TrailingSlash::Remove;
        assert_eq!(r.evaluate("GET", "/about/", ""), redirect(308, "/about"));
        assert_eq!(
            r.evaluate("GET", "/pricing/", ""),
            redirect(308, "/pricing")
        );
        assert!(matches!(r.evaluate("GET", "/", ""), Outcome::Serve { .. }));
    }

    #[test]
    fn a_site_under_a_prefix_routes_within_it() {
        let r = routes("/app/");
        let e = |path: &str| r.evaluate("GET", path, "");
        assert_eq!(
            e("/app/users/42"),
            Outcome::Serve {
                path: "/app/index.html".into(),
                status: 200,
                fallback: true,
            }
        );
        assert_eq!(
            e("/app/admin/x"),
            Outcome::Serve {
                path: "/app/admin/index.html".into(),
                status: 200,
                fallback: true,
            }
        );
        assert_eq!(e("/app/pricing"), serve("/app/pricing.html", 200));
        assert_eq!(e("/app/old/a"), redirect(301, "/app/new/a"));
        assert_eq!(e("/app/.spadeploy/lock.json"), Outcome::Deny);
        assert_eq!(e("/elsewhere"), serve("/app/404.html", 404));
    }

    #[test]
    fn the_lookup_table_answers_exactly_what_resolve_answers() {
        for clean_urls in [true, false] {
            let mut r = routes("/app/");
            r.clean_urls = clean_urls;
            let table = r.lookup_table();
            let probes = [
                "/app/",
                "/app/about",
                "/app/about/",
                "/app/pricing",
                "/app/pricing/",
                "/app/pricing.html",
                "/app/docs/intro",
                "/app/LICENSE",
                "/app/admin",
                "/app/nothing",
                "/app/index",
                "/app/404",
                "/app/assets/app.js",
            ];
            for path in probes {
                assert_eq!(
                    table.get(path).cloned(),
                    r.resolve(path),
                    "{path} clean={clean_urls}"
                );
            }
            for (url, page) in &table {
                assert_eq!(r.resolve(url).as_ref(), Some(page), "{url}");
            }
        }
    }

    #[test]
    fn the_base_is_the_prefix_less_the_origin_path() {
        assert_eq!(site_base("", "").unwrap(), "/");
        assert_eq!(site_base("app/", "").unwrap(), "/app/");
        assert_eq!(site_base("app/", "/app").unwrap(), "/");
        assert_eq!(site_base("web/app/", "/web").unwrap(), "/app/");
        assert!(site_base("app/", "/web")
            .unwrap_err()
            .to_string()
            .contains("outside"));
        assert!(site_base("application/", "/app").is_err());
    }

    #[test]
    fn the_table_names_missing_files() {
        let mut rules = RouteRules::default();
        rules.settings.not_found = Some("missing.html".into());
        assert!(Routes::derive(&rules, "/", ["index.html"])
            .unwrap_err()
            .to_string()
            .contains("no missing.html"));
        let rules = RouteRules {
            spas: vec![Spa {
                prefix: "/admin/".into(),
                index: None,
            }],
            ..Default::default()
        };
        assert!(Routes::derive(&rules, "/", ["index.html"])
            .unwrap_err()
            .to_string()
            .contains("admin/index.html"));
    }

    #[test]
    fn two_sites_in_one_bucket_get_functions_of_their_own() {
        let settings = RoutingSettings::default();
        let name = |bucket: &str, prefix: &str| function_name(&settings, bucket, prefix);
        // A bucket's root keeps the name earlier versions gave it.
        assert_eq!(name("my-site", ""), "spadeploy-my-site");
        let (app, blog) = (name("b", "app/"), name("b", "blog/"));
        assert_ne!(app, blog);
        assert_ne!(app, name("b", ""));
        assert_ne!(name("my.site", ""), name("my-site", ""));
        assert_ne!(name("b", "a/b"), name("b", "a-b"));
        for long in [name(&"x".repeat(63), ""), name("b", &"deep/".repeat(40))] {
            assert!(long.len() <= 64, "{long}");
            assert!(long
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_ne!(
            name(&"x".repeat(63), "a"),
            name(&"x".repeat(63), "b"),
            "names over the limit still differ"
        );
        let pinned = RoutingSettings {
            function_name: Some("mine".into()),
            ..Default::default()
        };
        assert_eq!(function_name(&pinned, "b", "app/"), "mine");
    }

    #[test]
    fn no_location_leaves_the_site() {
        for (given, safe) in [
            ("//evil.example/x", "/evil.example/x"),
            ("/\\evil.example", "/evil.example"),
            ("/%2F%2fevil.example", "/evil.example"),
            ("/%5c/evil.example", "/evil.example"),
            ("/ok/x", "/ok/x"),
            ("https://example.org/x", "https://example.org/x"),
        ] {
            assert_eq!(same_site(given), safe, "{given}");
        }
        let mut r = routes("/");
        r.trailing_slash = TrailingSlash::Add;
        assert_eq!(
            r.evaluate("GET", "//evil.example.com/x", ""),
            redirect(308, "/evil.example.com/x/")
        );
        r.trailing_slash = TrailingSlash::Remove;
        assert_eq!(
            r.evaluate("GET", "//evil.example.com/", ""),
            redirect(308, "/evil.example.com")
        );
    }

    #[test]
    fn state_is_denied_however_its_path_is_spelled() {
        let r = routes("/app/");
        for path in [
            "/app/.spadeploy/live.json",
            "/app/%2Espadeploy/live.json",
            "/app/.SPADEPLOY/live.json",
            "//app//.spadeploy/live.json",
            "/app/./.spadeploy/x",
            "/app/%2e%73padeploy",
        ] {
            assert_eq!(r.evaluate("GET", path, ""), Outcome::Deny, "{path}");
        }
        assert_ne!(r.evaluate("GET", "/app/x/.spadeploy", ""), Outcome::Deny);
    }

    #[test]
    fn the_website_error_document_is_the_404_page_else_the_spas_fallback() {
        let with_404 = routes("/");
        assert_eq!(with_404.error_key("index.html"), "404.html");
        let shell = RouteRules {
            spas: vec![Spa {
                prefix: "/".into(),
                index: Some("200.html".into()),
            }],
            ..Default::default()
        };
        let keys = ["index.html", "200.html", "_app/immutable/a.js"];
        let svelte = Routes::derive(&shell, "/app/", keys).unwrap();
        assert_eq!(svelte.error_key("index.html"), "200.html");
        let plain = Routes::derive(&RouteRules::default(), "/", ["index.html"]).unwrap();
        assert_eq!(plain.error_key("index.html"), "index.html");
    }
}
