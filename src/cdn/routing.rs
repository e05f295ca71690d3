//! SPA routing semantics: which requests are client-side routes (answered with the index document
//! and status 200), and the prefix redirects. One rule, used by `serve` directly and generated
//! into both edge functions by `edge`, so the three can never disagree.

use serde::Serialize;

use crate::config::routing::{Fallback, Redirect, RoutingSettings};

/// The client-route rule with everything it needs, serializable into the edge functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// URL path of the index document, e.g. `/index.html`.
    pub index: String,
    pub fallback: bool,
    pub no_fallback: Vec<String>,
    pub cache_control: String,
    pub redirects: Vec<Redirect>,
}

impl Rule {
    pub fn new(settings: &RoutingSettings, redirects: &[Redirect]) -> Rule {
        Rule {
            index: format!("/{}", settings.index_document.trim_start_matches('/')),
            fallback: settings.fallback == Fallback::Spa,
            no_fallback: settings.no_fallback.clone(),
            cache_control: settings.cache_control.clone(),
            redirects: redirects.to_vec(),
        }
    }

    /// GET or HEAD of a path whose last segment has no file extension, outside the no-fallback
    /// prefixes. `path` excludes the query string.
    pub fn is_client_route(&self, method: &str, path: &str) -> bool {
        if !self.fallback || !(method == "GET" || method == "HEAD") {
            return false;
        }
        if self
            .no_fallback
            .iter()
            .any(|prefix| path.starts_with(prefix.as_str()))
        {
            return false;
        }
        let last = path.rsplit('/').next().unwrap_or(path);
        !last.contains('.')
    }

    /// Where a redirect rule sends `path`, with its status.
    pub fn redirect(&self, path: &str) -> Option<(u16, String)> {
        self.redirects.iter().find_map(|r| {
            path.strip_prefix(r.from.as_str())
                .map(|rest| (r.status, format!("{}{rest}", r.to)))
        })
    }
}

/// The edge function's name: `[routing] function_name`, else `spadeploy-<bucket>`; function names
/// allow letters, digits, `-` and `_`, up to 64 characters.
pub fn function_name(settings: &RoutingSettings, bucket: &str) -> String {
    let name = settings.function_name.clone().unwrap_or_else(|| {
        let base: String = bucket
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("spadeploy-{base}")
    });
    name.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule::new(
            &RoutingSettings {
                no_fallback: vec!["/assets/".into()],
                ..Default::default()
            },
            &[Redirect {
                from: "/old/".into(),
                to: "/new/".into(),
                status: 301,
            }],
        )
    }

    #[test]
    fn client_routes_are_extensionless_gets_outside_asset_prefixes() {
        let r = rule();
        for path in ["/", "/users/42", "/users/42/", "/deep/a/b/c"] {
            assert!(r.is_client_route("GET", path), "{path}");
            assert!(r.is_client_route("HEAD", path), "{path}");
        }
        for path in [
            "/app.js",
            "/u/john.doe",
            "/favicon.ico",
            "/assets/chunk",
            "/assets/",
        ] {
            assert!(!r.is_client_route("GET", path), "{path}");
        }
        assert!(!r.is_client_route("POST", "/users/42"));
        let none = Rule {
            fallback: false,
            ..rule()
        };
        assert!(!none.is_client_route("GET", "/users/42"));
    }

    #[test]
    fn redirects_replace_the_prefix() {
        let r = rule();
        assert_eq!(r.redirect("/old/page"), Some((301, "/new/page".into())));
        assert_eq!(r.redirect("/older"), None);
    }
}
