//! The edge functions' code, generated from the route table (`routing::Routes`): pure, no I/O.
//! `edge.rs` installs what this makes.
//!
//! The handlers are real JavaScript in `edge/`, each with one data line that the route table
//! (and the marks naming the target and the KeyValueStore's table) replaces, followed by
//! `router.js`, the evaluation order `routing.rs` also implements:
//!
//! - `website` mode: `lambda.mjs`, one Lambda@Edge handler on **origin-request** (redirects,
//!   and the URI of the file that answers) and **origin-response** (the 404 page's status, the
//!   headers, and the 404 → 200 flip of client routes for an origin the request stage has not
//!   seen). It never touches a body: the origin's passes through.
//! - `private` mode: one CloudFront Function (cloudfront-js-2.0), `function.js` with the pages
//!   inline or `function_kvs.mjs` reading them from a KeyValueStore, both answering through
//!   `viewer.js`: on **viewer-request** (redirects and the rewrite, before the cache, so every
//!   client route shares the index's entry) and, when there is a 404 page or `[[headers]]`, on
//!   **viewer-response** (status and headers).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cdn::kvs;
use crate::cdn::routing::Routes;
use crate::config::preview::PreviewEdge;
use crate::config::routing::Mode;

/// CloudFront Functions reject code over 10 KB.
pub(crate) const CLOUDFRONT_FUNCTION_MAX_BYTES: usize = 10 * 1024;

/// The evaluation order in ES5 (cloudfront-js-2.0 and Node.js both run it).
const ROUTER_JS: &str = include_str!("edge/router.js");
/// The Lambda@Edge handler (nodejs22.x, ES module).
const LAMBDA_MJS: &str = include_str!("edge/lambda.mjs");
/// The CloudFront Function's handler with the pages inline.
const FUNCTION_JS: &str = include_str!("edge/function.js");
/// The CloudFront Function's handler reading the pages from its KeyValueStore.
const FUNCTION_KVS_MJS: &str = include_str!("edge/function_kvs.mjs");
/// The CloudFront Function's answer at either viewer stage, shared by both handlers.
const VIEWER_JS: &str = include_str!("edge/viewer.js");
/// Preview hosts, appended to the KeyValueStore handler of a site with `[preview] domain`.
const PREVIEWS_JS: &str = include_str!("edge/previews.js");
/// The KeyValueStore handler's line that a site with previews replaces.
const PREVIEWS_LINE: &str = "var PREVIEWS = null; // spadeploy:previews\n";
/// The KeyValueStore handler's first line; previews also import `crypto` (Basic-auth hashes).
const CF_IMPORT: &str = "import cf from \"cloudfront\";\n";
const CRYPTO_IMPORT: &str = "import crypto from \"crypto\";\n";
/// The line of generated code that names the preview domain it maps.
const PREVIEWS_MARK: &str = "// spadeploy previews ";
/// The line of each handler that the data replaces (it keeps the file valid JavaScript alone).
const DATA_LINE: &str = "var R = {}, PAGES = {}; // spadeploy:data\n";

/// The line of generated code that names the target it serves.
pub(crate) const OWNER_MARK: &str = "// spadeploy target ";
/// The line of generated code that names the route table its KeyValueStore must hold.
const TABLE_MARK: &str = "// Route table sha256:";

/// A CloudFront event an edge function runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    OriginRequest,
    OriginResponse,
    ViewerRequest,
    ViewerResponse,
}

impl Event {
    /// CloudFront's name for the event (its `EventType`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Event::OriginRequest => "origin-request",
            Event::OriginResponse => "origin-response",
            Event::ViewerRequest => "viewer-request",
            Event::ViewerResponse => "viewer-response",
        }
    }
}

/// The events the mode's function runs on: Lambda@Edge on both origin events; the CloudFront
/// Function on viewer-request, and on viewer-response when it has work there
/// (`needs_viewer_response`).
pub(crate) fn events(mode: Mode, viewer_response: bool) -> &'static [Event] {
    match (mode, viewer_response) {
        (Mode::Website, _) => &[Event::OriginRequest, Event::OriginResponse],
        (Mode::Private, false) => &[Event::ViewerRequest],
        (Mode::Private, true) => &[Event::ViewerRequest, Event::ViewerResponse],
    }
}

/// The private-mode function also runs on viewer-response when it has something to do there:
/// a preview's 404 page, headers and `X-Robots-Tag` are only known per request.
pub(crate) fn needs_viewer_response(routes: &Routes, previews: Option<&PreviewEdge>) -> bool {
    routes.not_found.is_some() || !routes.headers.is_empty() || previews.is_some()
}

fn json<T: Serialize>(value: &T) -> String {
    // Plain structs of strings, bools and numbers always serialize. U+2028 and U+2029 are valid
    // in JSON but end a line in ES5 string literals (cloudfront-js-2.0), so they are escaped.
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// What replaces a handler's data line: the mark of the KeyValueStore's table (if the pages are
/// there), the owner mark, `R` (the rules) and `PAGES` (a set of page URLs; empty when the pages
/// live in a KeyValueStore).
fn data(routes: &Routes, lookup: &Lookup, owner: &str) -> String {
    let pages: serde_json::Map<String, serde_json::Value> = routes
        .pages
        .iter()
        .filter(|_| *lookup == Lookup::Inline)
        .map(|page| (page.clone(), serde_json::Value::from(1)))
        .collect();
    let table_mark = match lookup {
        Lookup::Inline => String::new(),
        Lookup::Store { table_hash } => format!(
            "{TABLE_MARK}{table_hash}, in the KeyValueStore associated with this function.\n"
        ),
    };
    format!(
        "{table_mark}{OWNER_MARK}{owner}\nvar R = {};\nvar PAGES = {};\n",
        json(routes),
        serde_json::Value::Object(pages)
    )
}

/// `handler` with its data line replaced by `data`, followed by the evaluation order and `rest`.
/// Line ends are LF whatever the checkout did to the `.js` files, so the code (and its hash) is
/// the same from every build; `data` holds none but its own (JSON escapes line breaks).
fn fill(handler: &str, data: &str, rest: &str) -> String {
    format!("{handler}{ROUTER_JS}{rest}")
        .replace("\r\n", "\n")
        .replacen(DATA_LINE, data, 1)
}

/// `index.mjs` of the Lambda@Edge function (nodejs22.x, async handler).
pub(crate) fn lambda_edge_source(routes: &Routes, owner: &str) -> String {
    fill(LAMBDA_MJS, &data(routes, &Lookup::Inline, owner), "")
}

/// Where the CloudFront Function finds the pages: inline, or in its KeyValueStore (one lookup
/// per request, of the table whose hash the code names, so a new table is new code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Inline,
    Store { table_hash: String },
}

/// Code of the CloudFront Function (cloudfront-js-2.0, viewer-request and viewer-response).
/// Previews need the pages in a KeyValueStore (theirs are only there).
pub(crate) fn cloudfront_function_source(
    routes: &Routes,
    lookup: &Lookup,
    owner: &str,
    previews: Option<&PreviewEdge>,
) -> String {
    let handler = match lookup {
        Lookup::Inline => FUNCTION_JS,
        Lookup::Store { .. } => FUNCTION_KVS_MJS,
    };
    let data = data(routes, lookup, owner);
    match (lookup, previews) {
        (Lookup::Store { .. }, Some(previews)) => {
            let line = format!(
                "{PREVIEWS_MARK}{}\nvar PREVIEWS = {};\n",
                previews.domain,
                json(previews)
            );
            // The preview branch takes the room comments and indentation took: CloudFront
            // counts every byte of the 10 KB.
            compact(&format!("{handler}{ROUTER_JS}{VIEWER_JS}{PREVIEWS_JS}"))
                .replacen(DATA_LINE, &data, 1)
                .replacen(PREVIEWS_LINE, &line, 1)
                .replacen(CF_IMPORT, &format!("{CF_IMPORT}{CRYPTO_IMPORT}"), 1)
        }
        _ => fill(handler, &data, VIEWER_JS),
    }
}

/// `js` without comment lines (the "Generated by" warning aside) and indentation, LF line ends.
fn compact(js: &str) -> String {
    js.lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty())
        .filter(|line| !line.starts_with("//") || line.starts_with("// Generated by"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The preview domain generated code maps, if it serves previews.
pub(crate) fn code_previews(code: &str) -> Option<&str> {
    code.lines()
        .find_map(|line| line.strip_prefix(PREVIEWS_MARK))
}

/// The code an edge function runs, and the table its KeyValueStore must hold (if it uses one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdgeCode {
    pub code: String,
    pub store: Option<kvs::Table>,
}

/// Edge code that cannot be made for a route table.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodeError {
    #[error(transparent)]
    Limits(#[from] kvs::LimitError),
    #[error("[preview] domain needs private mode (a CloudFront Function reading a KeyValueStore): website mode's Lambda@Edge cannot map preview hosts; remove [preview] or switch with --mode private --fix-origin")]
    PreviewsNeedPrivate,
    #[error(
        "with [preview] domain the CloudFront Function would be {bytes} bytes, over CloudFront's 10 KB \
         limit: the preview branch takes about 3 KB, leaving about 700 bytes for the site's own \
         redirects, rewrites and header rules; nothing was written. Merge rules with `:name` \
         parameters and `*` splats, or remove [preview]"
    )]
    TooLargeWithPreviews { bytes: usize },
    #[error(
        "the route table's rules ({redirects} redirect(s), {rewrites} rewrite(s), {headers} header \
         rule(s)) make a CloudFront Function of {bytes} bytes, over CloudFront's 10 KB limit even with \
         the pages in a KeyValueStore; nothing was written. Merge rules with `:name` parameters and `*` \
         splats, or use website mode"
    )]
    TooLarge {
        redirects: usize,
        rewrites: usize,
        headers: usize,
        bytes: usize,
    },
}

/// The code for `mode`, marked with `owner` (`routing::target_id`): a function is never taken
/// over by another target that happens to share its name. Or why it cannot be made. The
/// private-mode function holds its table inline while the code fits CloudFront's 10 KB (or
/// `store` asks for a KeyValueStore anyway, as previews do), else looks pages up in a
/// KeyValueStore.
pub(crate) fn function_code(
    routes: &Routes,
    mode: Mode,
    store: bool,
    owner: &str,
    previews: Option<&PreviewEdge>,
) -> Result<EdgeCode, CodeError> {
    if mode == Mode::Website {
        if previews.is_some() {
            return Err(CodeError::PreviewsNeedPrivate);
        }
        return Ok(EdgeCode {
            code: lambda_edge_source(routes, owner),
            store: None,
        });
    }
    let store = store || previews.is_some();
    let inline = cloudfront_function_source(routes, &Lookup::Inline, owner, None);
    if inline.len() <= CLOUDFRONT_FUNCTION_MAX_BYTES && !store {
        return Ok(EdgeCode {
            code: inline,
            store: None,
        });
    }
    let table = routes.lookup_table();
    kvs::check_limits(&table)?;
    let code = cloudfront_function_source(
        routes,
        &Lookup::Store {
            table_hash: kvs::table_hash(&table),
        },
        owner,
        previews,
    );
    if code.len() > CLOUDFRONT_FUNCTION_MAX_BYTES && previews.is_some() {
        return Err(CodeError::TooLargeWithPreviews { bytes: code.len() });
    }
    if code.len() > CLOUDFRONT_FUNCTION_MAX_BYTES {
        return Err(CodeError::TooLarge {
            redirects: routes.redirects.len(),
            rewrites: routes.rewrites.len(),
            headers: routes.headers.len(),
            bytes: code.len(),
        });
    }
    Ok(EdgeCode {
        code,
        store: Some(table),
    })
}

/// Hex sha256 of generated code: what decides whether an installed function is current.
pub(crate) fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// The table hash generated code reads from its KeyValueStore, if it reads one.
pub(crate) fn code_table(code: &str) -> Option<&str> {
    code.lines()
        .take(3)
        .find_map(|line| line.strip_prefix(TABLE_MARK))
        .and_then(|rest| rest.split(',').next())
}

/// The owner the generated code names.
pub(crate) fn code_owner(code: &str) -> Option<&str> {
    code.lines()
        .take(4)
        .find_map(|line| line.strip_prefix(OWNER_MARK))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::config::routing::{HeaderRule, Mode, Redirect, RouteRules};

    fn routes(redirects: usize, pages: usize) -> Routes {
        let rules = RouteRules {
            redirects: (0..redirects)
                .map(|i| Redirect {
                    from: format!("/old-section-{i}/"),
                    to: format!("/new-section-{i}/"),
                    status: 301,
                })
                .collect(),
            ..Default::default()
        };
        let keys: Vec<String> = std::iter::once("index.html".to_string())
            .chain((0..pages).map(|i| format!("docs/page-{i}.html")))
            .collect();
        Routes::derive(&rules, "/", keys.iter().map(String::as_str)).unwrap()
    }

    /// A table with `[[headers]]` (so the function also runs on viewer-response), whose values
    /// hold what JavaScript string literals must escape.
    fn routes_with_headers() -> Routes {
        let rules = RouteRules {
            headers: vec![HeaderRule {
                pattern: "/*".into(),
                values: BTreeMap::from([(
                    "X-Note".to_string(),
                    "a \"quoted\" \\ line\u{2028}break\u{2029}</script>".to_string(),
                )]),
            }],
            ..Default::default()
        };
        Routes::derive(&rules, "/", ["index.html", "about.html"]).unwrap()
    }

    #[test]
    fn each_handler_has_one_data_line() {
        for handler in [LAMBDA_MJS, FUNCTION_JS, FUNCTION_KVS_MJS] {
            let handler = handler.replace("\r\n", "\n");
            assert_eq!(handler.matches(DATA_LINE).count(), 1, "{handler}");
        }
        for shared in [ROUTER_JS, VIEWER_JS] {
            assert!(!shared.contains("spadeploy:data"));
        }
        let code = lambda_edge_source(&routes(0, 1), "t");
        assert!(
            !code.contains("spadeploy:data"),
            "the data line is replaced"
        );
    }

    #[test]
    fn the_events_follow_the_mode_and_the_viewer_response_work() {
        let names = |mode, viewer_response| -> Vec<&str> {
            events(mode, viewer_response)
                .iter()
                .map(|e| e.name())
                .collect()
        };
        for viewer_response in [false, true] {
            assert_eq!(
                names(Mode::Website, viewer_response),
                ["origin-request", "origin-response"]
            );
        }
        assert_eq!(names(Mode::Private, false), ["viewer-request"]);
        assert_eq!(
            names(Mode::Private, true),
            ["viewer-request", "viewer-response"]
        );
        assert!(!needs_viewer_response(&routes(3, 3), None));
        assert!(needs_viewer_response(&routes_with_headers(), None));
    }

    #[test]
    fn generated_code_is_deterministic_and_never_sets_a_body() {
        let a = lambda_edge_source(&routes(0, 3), "t");
        assert_eq!(a, lambda_edge_source(&routes(0, 3), "t"));
        assert!(
            !a.contains(".body"),
            "the edge functions must not touch the body"
        );
        assert!(a.contains("export const handler = async"));
        let f = cloudfront_function_source(&routes(1, 0), &Lookup::Inline, "t", None);
        assert!(f.contains("function handler(event)"));
        assert!(!f.contains(".body"));
        assert_ne!(
            code_hash(&f),
            code_hash(&cloudfront_function_source(
                &routes(2, 0),
                &Lookup::Inline,
                "t",
                None
            ))
        );
        assert_ne!(
            code_hash(&a),
            code_hash(&lambda_edge_source(&routes(0, 4), "t")),
            "a new page is a new table"
        );
    }

    #[test]
    fn a_table_over_the_inline_limit_moves_to_a_key_value_store() {
        let small = function_code(&routes(10, 20), Mode::Private, false, "t", None).unwrap();
        assert_eq!(small.store, None);
        let large = function_code(&routes(0, 5000), Mode::Private, false, "t", None).unwrap();
        let table = large.store.expect("a KeyValueStore table");
        assert_eq!(
            table.len(),
            4 + 5000 * 3,
            "each page by three URLs, the root index by four"
        );
        assert!(large.code.len() < CLOUDFRONT_FUNCTION_MAX_BYTES);
        assert!(large.code.starts_with("import cf from \"cloudfront\";\n"));
        assert_eq!(
            code_table(&large.code),
            Some(kvs::table_hash(&table).as_str()),
            "a new table is new code"
        );
        assert!(large.code.contains("var PAGES = {};\n"));
        let forced = function_code(&routes(0, 3), Mode::Private, true, "t", None).unwrap();
        assert!(forced.store.is_some());
        let website = function_code(&routes(0, 5000), Mode::Website, false, "t", None).unwrap();
        assert_eq!(website.store, None);
        let err = function_code(&routes(300, 0), Mode::Private, false, "t", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("300 redirect(s)") && err.contains("10 KB"),
            "{err}"
        );
    }

    /// Previews take about 3 KB of the function: a site with many rules is refused, saying so.
    #[test]
    fn previews_leave_room_for_a_few_rules_only() {
        let previews = PreviewEdge {
            domain: "preview.example.com".into(),
            noindex: true,
        };
        let few = function_code(&routes(3, 2), Mode::Private, false, "t", Some(&previews));
        assert!(few.is_ok(), "{few:?}");
        let many = function_code(&routes(40, 2), Mode::Private, false, "t", Some(&previews));
        assert!(
            matches!(many, Err(CodeError::TooLargeWithPreviews { .. })),
            "{many:?}"
        );
    }

    #[test]
    fn generated_code_names_the_target_it_serves() {
        for (mode, store) in [
            (Mode::Private, false),
            (Mode::Private, true),
            (Mode::Website, false),
        ] {
            let code = function_code(&routes(1, 2), mode, store, "0123abcd", None).unwrap();
            assert_eq!(code_owner(&code.code), Some("0123abcd"), "{mode:?} {store}");
            assert_eq!(code_table(&code.code).is_some(), store, "{mode:?} {store}");
        }
    }

    /// `node --check` on `code` written to `dir/name`: the extension says script or module.
    fn node_check(dir: &Path, name: &str, code: &str) {
        let file = dir.join(name);
        std::fs::write(&file, code).unwrap();
        let out = Command::new("node")
            .arg("--check")
            .arg(&file)
            .output()
            .expect("Node.js checks the generated edge code: install it (apt-get install nodejs)");
        assert!(
            out.status.success(),
            "node --check rejects the generated {name}:\n{}{}\n--- code ---\n{code}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every variant of generated code parses: Lambda@Edge (an ES module), the CloudFront
    /// Function with its pages inline (a script) and reading them from a KeyValueStore (a module,
    /// for its `import cf from "cloudfront"`), each with and without work on viewer-response.
    #[test]
    fn every_generated_variant_passes_node_check() {
        let dir = tempfile::tempdir().unwrap();
        for (table, routes) in [
            ("request-only", routes(2, 3)),
            ("viewer-response", routes_with_headers()),
        ] {
            let lambda = function_code(&routes, Mode::Website, false, "t", None).unwrap();
            node_check(dir.path(), &format!("lambda-{table}.mjs"), &lambda.code);
            let inline = function_code(&routes, Mode::Private, false, "t", None).unwrap();
            assert_eq!(inline.store, None);
            node_check(dir.path(), &format!("function-{table}.js"), &inline.code);
            let stored = function_code(&routes, Mode::Private, true, "t", None).unwrap();
            assert!(stored.store.is_some());
            node_check(
                dir.path(),
                &format!("function-kvs-{table}.mjs"),
                &stored.code,
            );
            let previews = PreviewEdge {
                domain: "preview.example.com".into(),
                noindex: true,
            };
            let with_previews =
                function_code(&routes, Mode::Private, false, "t", Some(&previews)).unwrap();
            assert_eq!(
                code_previews(&with_previews.code),
                Some("preview.example.com")
            );
            assert!(with_previews.code.len() < CLOUDFRONT_FUNCTION_MAX_BYTES);
            node_check(
                dir.path(),
                &format!("function-previews-{table}.mjs"),
                &with_previews.code,
            );
        }
    }
}
