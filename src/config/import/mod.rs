//! `spadeploy init --from netlify|vercel|firebase`: another platform's routing configuration as a
//! spadeploy.toml. Pure: texts in, manifest text out. What spadeploy cannot express (conditions
//! on country, language, role or cookies, proxying to other hosts, serverless functions, regular
//! expressions) is never dropped silently: it becomes a comment naming the file and line, and is
//! listed for the user.
//!
//! The files are the user's, but they may come from anywhere (a template, a pull request): their
//! text reaches the manifest only as TOML strings written by the `toml` crate or as comments made
//! one visible line by [`visible`], so nothing in them can become a live setting.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use clap::ValueEnum;
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

mod firebase;
mod netlify;
mod positions;
mod vercel;

pub(crate) use firebase::firebase;
pub(crate) use netlify::netlify;
pub(crate) use vercel::vercel;

use positions::*;

use crate::config::routing::{
    HeaderRule, Redirect, Rewrite, Spa, TrailingSlash, MAX_PATTERN_RULES,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Platform {
    /// `_redirects`, `_headers` and `netlify.toml`
    Netlify,
    /// `vercel.json`
    Vercel,
    /// `firebase.json` (hosting)
    Firebase,
}

/// Why a file cannot be imported at all. A single rule that cannot be imported is not an error:
/// it becomes a [`Skipped`] entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ImportError {
    #[error("{file} is not valid {format}: {message}")]
    Syntax {
        file: &'static str,
        format: &'static str,
        message: String,
    },
    /// Valid JSON or TOML, but not what the platform writes: importing nothing and exiting 0
    /// would leave the user believing the routing carried over.
    #[error("{file}: {what} is {found}, but it must be {expected}")]
    Shape {
        file: &'static str,
        what: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("firebase.json has no `hosting` site: run `spadeploy init --from firebase` where the project's firebase.json configures Hosting")]
    NoHosting,
    #[error("firebase.json has no hosting site `{wanted}`: its sites are {available}")]
    NoSuchSite { wanted: String, available: String },
}

const VERCEL_SHAPE: &str = "an object such as { \"rewrites\": [{ \"source\": \"/(.*)\", \"destination\": \"/index.html\" }] }";
const HOSTING_SHAPE: &str = "an object such as { \"public\": \"dist\", \"rewrites\": [...] }, or an array of them (one per site)";
const RULES_SHAPE: &str = "an array of rule objects ({ \"source\": ..., ... })";
const NETLIFY_SHAPE: &str = "an array of tables, written [[redirects]] or [[headers]]";

/// Something the source says that spadeploy cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    /// `file:line`.
    pub at: String,
    pub original: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Imported {
    pub dir: Option<String>,
    pub clean_urls: Option<bool>,
    pub trailing_slash: Option<TrailingSlash>,
    pub redirects: Vec<Redirect>,
    pub rewrites: Vec<Rewrite>,
    pub spas: Vec<Spa>,
    pub headers: Vec<HeaderRule>,
    pub skipped: Vec<Skipped>,
}

/// `text` as one visible line, for a comment in the manifest or a line on the terminal. The text
/// comes from the imported file: a raw line break would end the comment and make what follows live
/// TOML (a `[cdn]` table, a catch-all redirect), other control characters make the manifest
/// unloadable or rewrite the terminal, and bidirectional overrides make a line read differently
/// from what it holds. Each becomes a visible escape (`\n`, `\u{2028}`).
pub(crate) fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || invisible(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Line and paragraph separators, zero-width characters and bidirectional controls: not control
/// characters to Rust, but they break lines or hide text in editors and terminals.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
    )
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A rule as the file wrote it, for the not-imported list (cut short: it is a reminder, not a
/// copy).
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// A status written as a number: `None` when it is not a whole number that fits an HTTP status
/// (`65837` must not wrap around to 301).
fn http_status(value: &Value) -> Option<u16> {
    value.as_u64().and_then(|n| u16::try_from(n).ok())
}

/// A pattern with `*` as its whole last segment and `:name` segments is spadeploy's own syntax;
/// regular-expression syntax is not.
fn plain_pattern(pattern: &str) -> bool {
    !pattern.contains(['(', ')', '[', ']', '{', '}', '|', '+', '^', '$', '\\'])
        && crate::config::routing::validate_pattern(pattern).is_ok()
}

impl Imported {
    fn skip(&mut self, at: String, original: impl Into<String>, why: &str) {
        self.skipped.push(Skipped {
            at,
            original: original.into(),
            why: why.to_string(),
        });
    }

    /// Whether the edge function's limit on redirects and rewrites is reached: one more would make
    /// the written manifest fail to load, so the rest are listed instead.
    fn full(&mut self, at: &str, original: &str) -> bool {
        if self.redirects.len() + self.rewrites.len() < MAX_PATTERN_RULES {
            return false;
        }
        self.skip(
            at.to_string(),
            original,
            &format!(
                concat!(
                    "the edge function evaluates at most {n} [[redirects]] and [[rewrites]], ",
                    "the first {n} were imported: merge the rest with `:name` parameters and `*` splats"
                ),
                n = MAX_PATTERN_RULES
            ),
        );
        true
    }

    /// A rule answering `from` with `to` (status 200): an SPA fallback when `to` is an index
    /// under `from`'s folder, else a rewrite. Each is validated as the manifest will be, so a rule
    /// that would not load is listed, not left to abort the import.
    fn rewrite(&mut self, at: String, from: &str, to: &str) {
        let original = format!("{from} {to}");
        // `//host/path` is a URL on another host, as much as `https://host/path` is.
        if to.starts_with("http://") || to.starts_with("https://") || to.starts_with("//") {
            return self.skip(
                at,
                original,
                "proxying to another host: give it a CloudFront behavior with its own origin",
            );
        }
        if !plain_pattern(from) || !to.starts_with('/') {
            return self.skip(
                at,
                original,
                "a pattern spadeploy cannot express (only `:name` segments and a final `*`)",
            );
        }
        if let Some(folder) = from.strip_suffix('*') {
            let index = to.trim_start_matches('/');
            let folder_key = folder.trim_start_matches('/');
            if index.starts_with(folder_key) && index.ends_with(".html") && !index.contains(':') {
                let default = format!("{folder_key}index.html");
                let spa = Spa {
                    prefix: folder.to_string(),
                    index: (index != default).then(|| index.to_string()),
                };
                if let Err(why) = spa.validate() {
                    return self.skip(at, original, &why.to_string());
                }
                // The platforms answer with the first matching rule, so a later fallback for the
                // same folder never applied there either.
                if self.spas.iter().any(|s| s.folder() == spa.folder()) {
                    let why = format!(
                        "a second SPA fallback for `{}`: the first one is imported",
                        spa.folder()
                    );
                    return self.skip(at, original, &why);
                }
                self.spas.push(spa);
                return;
            }
        }
        let rewrite = Rewrite {
            from: from.to_string(),
            to: to.to_string(),
        };
        if let Err(why) = rewrite.validate() {
            return self.skip(at, original, &why.to_string());
        }
        if !self.full(&at, &original) {
            self.rewrites.push(rewrite);
        }
    }

    fn redirect(&mut self, at: String, from: &str, to: &str, status: u16) {
        let original = format!("{from} {to} {status}");
        let redirect = Redirect {
            from: from.to_string(),
            to: to.to_string(),
            status,
        };
        match redirect.validate() {
            Err(why) => self.skip(at, original, &why.to_string()),
            Ok(()) if self.full(&at, &original) => {}
            Ok(()) => self.redirects.push(redirect),
        }
    }

    fn header(&mut self, at: String, pattern: &str, values: BTreeMap<String, String>) {
        let rule = HeaderRule {
            pattern: pattern.to_string(),
            values,
        };
        match rule.validate() {
            Ok(()) => self.headers.push(rule),
            Err(why) => self.skip(at, pattern, &why.to_string()),
        }
    }
}

/// `true`/`false` trailing-slash settings, as Vercel and Firebase write them.
fn slash_policy(value: &Value) -> Option<TrailingSlash> {
    value.as_bool().map(|add| {
        if add {
            TrailingSlash::Add
        } else {
            TrailingSlash::Remove
        }
    })
}

/// `[{ "key": …, "value": … }]`, as Vercel and Firebase write headers.
fn key_values(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some((
                h["key"].as_str()?.to_string(),
                h["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// A rule of a JSON configuration: its kind, its JSON pointer (for its line) and its value.
type JsonRule<'a> = (&'static str, String, &'a Value);

/// The rules of a JSON configuration (the object at `pointer`), in the order `redirects`,
/// `rewrites`, `headers`; an error when one of those is not an array.
fn rules_of<'a>(
    file: &'static str,
    doc: &'a Value,
    pointer: &str,
) -> Result<Vec<JsonRule<'a>>, ImportError> {
    let mut rules = Vec::new();
    for kind in ["redirects", "rewrites", "headers"] {
        match doc.get(kind) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => rules.extend(
                list.iter()
                    .enumerate()
                    .map(|(n, rule)| (kind, format!("{pointer}/{kind}/{n}"), rule)),
            ),
            Some(other) => {
                return Err(ImportError::Shape {
                    file,
                    what: format!("`{kind}`"),
                    found: json_kind(other),
                    expected: RULES_SHAPE,
                })
            }
        }
    }
    Ok(rules)
}

fn parse_json(file: &'static str, text: &str) -> Result<Value, ImportError> {
    serde_json::from_str(text).map_err(|e| ImportError::Syntax {
        file,
        format: "JSON",
        message: e.to_string(),
    })
}

const REGEX: &str = "a regular expression or group in the path";
const NOT_A_RULE: &str = "not a rule: a rule is an object with a `source`";

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl Imported {
    /// The manifest, with a comment per rule that was not imported. Values from the imported files
    /// are written only through [`quote`] (TOML strings) and [`visible`] (comments).
    pub(crate) fn to_manifest(&self, platform: Platform, sources: &str) -> String {
        let mut out = format!(
            "# spadeploy.toml, imported from {} by `spadeploy init --from {}`.\n\
             # Evaluation order: state never served, redirects, trailing slash, files of the live\n\
             # release (clean URLs), rewrites, SPA fallback, the 404 page. See README, \"Routing\".\n\n",
            visible(sources),
            platform.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
        );
        out.push_str(&format!(
            "dir = {}\n\n",
            quote(self.dir.as_deref().unwrap_or("dist"))
        ));
        out.push_str("[target]\n# s3://BUCKET[/PREFIX], or a local directory such as \"./site\".\nto = \"./site\"\n\n");
        out.push_str("[routing]\n");
        if let Some(clean) = self.clean_urls {
            out.push_str(&format!("clean_urls = {clean}\n"));
        }
        match self.trailing_slash {
            Some(TrailingSlash::Add) => out.push_str("trailing_slash = \"add\"\n"),
            Some(TrailingSlash::Remove) => out.push_str("trailing_slash = \"remove\"\n"),
            _ => {}
        }
        if self.spas.is_empty() {
            out.push_str("# No SPA fallback was configured there: unknown pages answer the 404 page.\nfallback = \"none\"\n");
        }
        for r in &self.redirects {
            out.push_str(&format!(
                "\n[[redirects]]\nfrom = {}\nto = {}\nstatus = {}\n",
                quote(&r.from),
                quote(&r.to),
                r.status
            ));
        }
        for r in &self.rewrites {
            out.push_str(&format!(
                "\n[[rewrites]]\nfrom = {}\nto = {}\n",
                quote(&r.from),
                quote(&r.to)
            ));
        }
        for spa in &self.spas {
            out.push_str(&format!("\n[[spa]]\nprefix = {}\n", quote(&spa.prefix)));
            if let Some(index) = &spa.index {
                out.push_str(&format!("index = {}\n", quote(index)));
            }
        }
        for h in &self.headers {
            // The toml crate writes the inline table, keys included: a key cannot be a
            // multi-line string, which `quote` may produce for a value.
            let values: toml::Table = h
                .values
                .iter()
                .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
                .collect();
            out.push_str(&format!(
                "\n[[headers]]\nfor = {}\nvalues = {}\n",
                quote(&h.pattern),
                toml::Value::Table(values)
            ));
        }
        if !self.skipped.is_empty() {
            out.push_str(
                "\n# NOT IMPORTED: spadeploy cannot express these; decide what each becomes.\n",
            );
            for s in &self.skipped {
                out.push_str(&format!(
                    "# {}: {}\n#   why: {}\n",
                    visible(&s.at),
                    visible(&s.original),
                    visible(&s.why)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parses(manifest: &str) -> crate::config::manifest::Manifest {
        crate::config::manifest::parse(manifest, Path::new("spadeploy.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{manifest}"))
    }

    #[test]
    fn netlify_redirects_headers_and_toml_become_a_manifest() {
        let redirects = "# comment\n/old/*  /new/:splat  301\n/blog/:slug /posts/:slug.html 200\n/app/*  /app/index.html  200\n/*  /index.html  200\n/de/* /de/index.html 200 Country=de\n/api/* https://api.example.com/:splat 200\n/store id=:id /blog/:id 301\n/x /y 200!\n";
        let headers = "/*\n  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n/assets/*\n  Cache-Control: public, max-age=31536000\n";
        let config = "[build]\npublish = \"public\"\n\n[[redirects]]\nfrom = \"/docs\"\nto = \"/guide\"\nstatus = 302\n\n[[redirects]]\nfrom = \"/fr/*\"\nto = \"/fr/index.html\"\nstatus = 200\nconditions = {Language = [\"fr\"]}\n";
        let imported = netlify(
            Some(("_redirects", redirects)),
            Some(("_headers", headers)),
            Some(config),
        )
        .unwrap();
        assert_eq!(imported.dir.as_deref(), Some("public"));
        assert_eq!(imported.redirects.len(), 2);
        assert_eq!(
            imported.rewrites,
            [Rewrite {
                from: "/blog/:slug".into(),
                to: "/posts/:slug.html".into()
            }]
        );
        assert_eq!(imported.spas.len(), 2);
        assert_eq!(imported.headers.len(), 2);
        let skipped: Vec<&str> = imported.skipped.iter().map(|s| s.at.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "netlify.toml:10",
                "_redirects:6",
                "_redirects:7",
                "_redirects:8",
                "_redirects:9"
            ]
        );
        let manifest =
            imported.to_manifest(Platform::Netlify, "_redirects, _headers, netlify.toml");
        assert!(
            manifest.contains("# _redirects:6: /de/* /de/index.html 200 Country=de"),
            "{manifest}"
        );
        let parsed = parses(&manifest);
        assert_eq!(parsed.spa.len(), 2);
    }

    #[test]
    fn vercel_json_becomes_a_manifest() {
        let text = r#"{
  "cleanUrls": true,
  "trailingSlash": false,
  "redirects": [
    { "source": "/old/:path*", "destination": "/new/:path*", "permanent": true },
    { "source": "/blog/:slug", "destination": "https://blog.example.com/:slug", "statusCode": 302 },
    { "source": "/(a|b)", "destination": "/c" },
    { "source": "/only-de", "destination": "/de", "has": [{ "type": "header", "key": "x" }] }
  ],
  "rewrites": [
    { "source": "/api/(.*)", "destination": "https://api.example.com/$1" },
    { "source": "/(.*)", "destination": "/index.html" }
  ],
  "headers": [
    { "source": "/(.*)", "headers": [{ "key": "X-Frame-Options", "value": "DENY" }] }
  ]
}"#;
        let imported = vercel(text).unwrap();
        assert_eq!(imported.clean_urls, Some(true));
        assert_eq!(imported.trailing_slash, Some(TrailingSlash::Remove));
        assert_eq!(
            imported.redirects[0],
            Redirect {
                from: "/old/*".into(),
                to: "/new/:splat".into(),
                status: 308
            }
        );
        assert_eq!(
            imported.spas,
            [Spa {
                prefix: "/".into(),
                index: None
            }]
        );
        assert_eq!(imported.headers[0].pattern, "/*");
        let skipped: Vec<&str> = imported.skipped.iter().map(|s| s.at.as_str()).collect();
        assert_eq!(
            skipped,
            ["vercel.json:7", "vercel.json:8", "vercel.json:11"]
        );
        parses(&imported.to_manifest(Platform::Vercel, "vercel.json"));
    }

    #[test]
    fn firebase_json_becomes_a_manifest() {
        let text = r#"{
  "hosting": {
    "public": "build",
    "cleanUrls": true,
    "redirects": [
      { "source": "/old/**", "destination": "/new", "type": 301 },
      { "regex": "^/x/(\\d+)$", "destination": "/y", "type": 302 }
    ],
    "rewrites": [
      { "source": "/api/**", "function": "api" },
      { "source": "/admin/**", "destination": "/admin/index.html" },
      { "source": "**", "destination": "/index.html" }
    ],
    "headers": [
      { "source": "**/*.@(jpg|png)", "headers": [{ "key": "Cache-Control", "value": "max-age=7200" }] },
      { "source": "**", "headers": [{ "key": "X-Content-Type-Options", "value": "nosniff" }] }
    ]
  }
}"#;
        let imported = firebase(text, None).unwrap();
        assert_eq!(imported.dir.as_deref(), Some("build"));
        assert_eq!(imported.spas.len(), 2);
        assert_eq!(imported.redirects[0].from, "/old/*");
        assert_eq!(imported.headers.len(), 1);
        let skipped: Vec<&str> = imported.skipped.iter().map(|s| s.at.as_str()).collect();
        assert_eq!(
            skipped,
            ["firebase.json:7", "firebase.json:10", "firebase.json:15"]
        );
        parses(&imported.to_manifest(Platform::Firebase, "firebase.json"));
        assert_eq!(firebase("{}", None), Err(ImportError::NoHosting));
    }

    /// What the written manifest makes live, beside what the import reported: every top-level
    /// table and `[target]`/`[routing]` key is one `to_manifest` writes, and the rules are exactly
    /// the imported ones.
    fn assert_live_is_reported(imported: &Imported, platform: Platform) {
        let manifest = imported.to_manifest(platform, "hostile");
        let doc: toml::Table =
            toml::from_str(&manifest).unwrap_or_else(|e| panic!("{e}\n{manifest}"));
        for (key, value) in &doc {
            let allowed: &[&str] = match key.as_str() {
                "dir" | "redirects" | "rewrites" | "spa" | "headers" => &[],
                "target" => &["to"],
                "routing" => &["clean_urls", "trailing_slash", "fallback"],
                other => panic!("`{other}` is live in the manifest\n{manifest}"),
            };
            for inner in value.as_table().into_iter().flat_map(|t| t.keys()) {
                assert!(
                    allowed.contains(&inner.as_str()),
                    "`{key}.{inner}` is live\n{manifest}"
                );
            }
        }
        let parsed = parses(&manifest);
        assert!(parsed.cdn.distribution.is_none(), "{manifest}");
        let live = |spans: &[toml::Spanned<Redirect>]| -> Vec<Redirect> {
            spans.iter().map(|r| r.get_ref().clone()).collect()
        };
        assert_eq!(live(&parsed.redirects), imported.redirects, "{manifest}");
        let rewrites: Vec<Rewrite> = parsed
            .rewrites
            .iter()
            .map(|r| r.get_ref().clone())
            .collect();
        assert_eq!(rewrites, imported.rewrites, "{manifest}");
        let spas: Vec<Spa> = parsed.spa.iter().map(|r| r.get_ref().clone()).collect();
        assert_eq!(spas, imported.spas, "{manifest}");
        let headers: Vec<HeaderRule> = parsed.headers.iter().map(|r| r.get_ref().clone()).collect();
        assert_eq!(headers, imported.headers, "{manifest}");
        // Every comment is one visible line.
        for line in manifest.lines().filter(|l| l.starts_with('#')) {
            assert!(
                !line.chars().any(|c| c.is_control() || invisible(c)),
                "{line:?}"
            );
        }
    }

    const PLANT: &str = "/x y\n[cdn]\ndistribution = \"EATTACKER123\"\n[[redirects]]\nfrom = \"/*\"\nto = \"https://evil.example/:splat\"\n#";

    #[test]
    fn hostile_text_in_an_imported_file_never_becomes_a_live_setting() {
        let plant = serde_json::to_string(PLANT).unwrap();
        let vercel_json = format!(
            r#"{{
  "outputDirectory": {plant},
  "redirects": [
    {{ "source": "/a", "destination": {plant} }},
    {{ "source": "/b\r\u2028/c", "destination": "/d" }},
    {{ "source": "/kept", "destination": "/new" }}
  ],
  "rewrites": [{{ "source": "/e", "destination": {plant} }}],
  "headers": [{{ "source": "/(.*)", "headers": [{{ "key": {plant}, "value": "1" }}] }}]
}}"#
        );
        let imported = vercel(&vercel_json).unwrap();
        assert_eq!(imported.redirects.len(), 1);
        assert_eq!(imported.skipped.len(), 4);
        assert_live_is_reported(&imported, Platform::Vercel);

        let toml_plant = toml::Value::String(PLANT.into()).to_string();
        // A key cannot be a multi-line string: the same text as a one-line basic string.
        let key_plant = serde_json::to_string(PLANT).unwrap();
        let netlify_toml = format!(
            "[[redirects]]\nfrom = \"/a\"\nto = {toml_plant}\n\n[[redirects]]\nfrom = {toml_plant}\nto = \"/b\"\n\n\
             [[headers]]\nfor = {toml_plant}\nvalues = {{ X-A = \"1\" }}\n\n\
             [[headers]]\nfor = \"/*\"\n[headers.values]\n{key_plant} = \"1\"\n\"X-Ok\" = {toml_plant}\n"
        );
        let redirects =
            "/r \x1b[2J/s 301\n/t\r[cdn] /u 302\n/v\u{2028}[cdn] /w 200\n/kept /new 301\n";
        let headers = "/h\r\n  X-B\r[cdn]: 1\n";
        let imported = netlify(
            Some(("_redirects", redirects)),
            Some(("_headers", headers)),
            Some(&netlify_toml),
        )
        .unwrap();
        assert_eq!(imported.redirects.len(), 1);
        assert_live_is_reported(&imported, Platform::Netlify);

        let firebase_json = format!(
            r#"{{ "hosting": [
  {{ "site": "main", "redirects": [{{ "source": "/a", "destination": {plant}, "type": 301 }}],
     "rewrites": [{{ "source": "/b", "destination": {plant} }}],
     "headers": [{{ "source": {plant}, "headers": [{{ "key": "X-A", "value": "1" }}] }}] }},
  {{ "site": {plant} }}
] }}"#
        );
        let imported = firebase(&firebase_json, None).unwrap();
        assert_eq!(imported.skipped.len(), 4);
        assert_live_is_reported(&imported, Platform::Firebase);
    }

    #[test]
    fn comment_text_is_one_visible_line() {
        for (text, shown) in [
            ("/a b", "/a b"),
            ("a\nb\r\tc", "a\\nb\\r\\tc"),
            (
                "a\u{2028}b\u{2029}c\u{85}d",
                "a\\u{2028}b\\u{2029}c\\u{0085}d",
            ),
            ("\u{1b}[2J\u{7f}\0", "\\u{001b}[2J\\u{007f}\\u{0000}"),
            ("\u{202e}txt.exe", "\\u{202e}txt.exe"),
            ("café ✓", "café ✓"),
        ] {
            assert_eq!(visible(text), shown);
        }
    }

    #[test]
    fn a_status_that_does_not_fit_is_not_imported_as_another() {
        // 65837 is 301 modulo 65536.
        let imported = vercel(
            r#"{ "redirects": [{ "source": "/a", "destination": "/b", "statusCode": 65837 }] }"#,
        )
        .unwrap();
        assert!(imported.redirects.is_empty(), "{imported:?}");
        assert!(imported.skipped[0].why.contains("not an HTTP status"));
        let imported = firebase(
            r#"{ "hosting": { "redirects": [
              { "source": "/a", "destination": "/b", "type": 65837 },
              { "source": "/c", "destination": "/d", "type": -1 },
              { "source": "/e", "destination": "/f", "type": 301.5 } ] } }"#,
            None,
        )
        .unwrap();
        assert!(imported.redirects.is_empty(), "{imported:?}");
        assert_eq!(imported.skipped.len(), 3);
        let imported = netlify(
            Some(("_redirects", "/a /b 65837\n/c /d 99999999999999999999\n")),
            None,
            Some("[[redirects]]\nfrom = \"/e\"\nto = \"/f\"\nstatus = 65837\n\n[[redirects]]\nfrom = \"/g\"\nto = \"/h\"\nstatus = -301\n"),
        )
        .unwrap();
        assert!(imported.redirects.is_empty(), "{imported:?}");
        let whys: Vec<&str> = imported.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(whys.len(), 4);
        assert!(
            whys.iter().all(|w| w.contains("not an HTTP status")),
            "{whys:?}"
        );
    }

    #[test]
    fn a_file_of_another_shape_is_an_error_not_an_empty_manifest() {
        for (text, found) in [
            ("[1,2,3]", "the file is an array"),
            ("\"x\"", "the file is a string"),
            (r#"{ "redirects": 5 }"#, "`redirects` is a number"),
            (
                r#"{ "rewrites": { "source": "/a" } }"#,
                "`rewrites` is an object",
            ),
        ] {
            let err = vercel(text).unwrap_err().to_string();
            assert!(
                err.contains(found) && err.contains("must be"),
                "{text}: {err}"
            );
        }
        for (text, found) in [
            (r#"{ "hosting": 5 }"#, "`hosting` is a number"),
            (r#"{ "hosting": "dist" }"#, "`hosting` is a string"),
            (r#"{ "hosting": [5] }"#, "hosting site 1 is a number"),
            ("[1]", "the file is an array"),
            (
                r#"{ "hosting": { "rewrites": 5 } }"#,
                "`rewrites` is a number",
            ),
        ] {
            let err = firebase(text, None).unwrap_err().to_string();
            assert!(
                err.contains(found) && err.contains("must be"),
                "{text}: {err}"
            );
        }
        assert_eq!(
            firebase(r#"{ "hosting": [] }"#, None),
            Err(ImportError::NoHosting)
        );
        for text in ["redirects = 5", "headers = \"/*\"", "redirects = [1]"] {
            let err = netlify(None, None, Some(text)).unwrap_err().to_string();
            assert!(err.contains("must be an array of tables"), "{text}: {err}");
        }
    }

    const TWO_SITES: &str = r#"{
  "hosting": [
    {
      "site": "main",
      "public": "dist",
      "rewrites": [{ "source": "**", "destination": "/index.html" }]
    },
    {
      "target": "blog",
      "public": "blog/dist",
      "redirects": [{ "source": "/old", "destination": "/new", "type": 301 }],
      "rewrites": [{ "source": "**", "function": "api" }]
    }
  ]
}"#;

    #[test]
    fn extra_firebase_sites_are_listed_and_one_can_be_chosen() {
        let first = firebase(TWO_SITES, None).unwrap();
        assert_eq!(first.dir.as_deref(), Some("dist"));
        assert_eq!(first.skipped.len(), 1, "{first:?}");
        let skipped = &first.skipped[0];
        assert_eq!(skipped.at, "firebase.json:9");
        assert_eq!(skipped.original, "hosting site `blog`");
        assert!(skipped.why.contains("--site blog"), "{}", skipped.why);

        let blog = firebase(TWO_SITES, Some("blog")).unwrap();
        assert_eq!(blog.dir.as_deref(), Some("blog/dist"));
        assert_eq!(blog.redirects.len(), 1);
        // Its rule is named by its own line, not by the first site's rule with the same source.
        let at: Vec<&str> = blog.skipped.iter().map(|s| s.at.as_str()).collect();
        assert_eq!(at, ["firebase.json:4", "firebase.json:12"]);

        let err = firebase(TWO_SITES, Some("docs")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "firebase.json has no hosting site `docs`: its sites are `main`, `blog`"
        );
    }

    #[test]
    fn a_rule_the_manifest_would_refuse_is_listed_instead_of_aborting() {
        let redirects = "/x //evil.example/x 200\n/app/* /app/index.html 200\n/app/* /app/other.html 200\n/docs/* /docs/../x.html 200\n";
        let imported = netlify(Some(("_redirects", redirects)), None, None).unwrap();
        assert!(imported.rewrites.is_empty(), "{imported:?}");
        assert_eq!(imported.spas.len(), 1);
        let at: Vec<&str> = imported.skipped.iter().map(|s| s.at.as_str()).collect();
        assert_eq!(at, ["_redirects:1", "_redirects:3", "_redirects:4"]);
        assert_live_is_reported(&imported, Platform::Netlify);

        let rules: Vec<String> = (0..150)
            .map(|n| format!(r#"{{ "source": "/r{n}", "destination": "/s{n}" }}"#))
            .collect();
        let imported =
            vercel(&format!("{{ \"redirects\": [\n{}\n] }}", rules.join(",\n"))).unwrap();
        assert_eq!(imported.redirects.len(), MAX_PATTERN_RULES);
        assert_eq!(imported.skipped.len(), 50);
        assert_eq!(imported.skipped[0].at, "vercel.json:102");
        assert!(
            imported.skipped[0].why.contains("at most 100"),
            "{}",
            imported.skipped[0].why
        );
        assert_live_is_reported(&imported, Platform::Vercel);
    }

    /// 20,000 rules (1.3 MB) took 17 s when each rule's line was searched for from the start of
    /// the file; this is not timed, it only has to finish, with every line right.
    #[test]
    fn twenty_thousand_rules_are_located_in_one_pass() {
        let rules: Vec<String> = (0..20_000)
            .map(|n| {
                format!(r#"{{ "source": "/p{n}/:slug", "destination": "/n{n}/:slug", "permanent": true }}"#)
            })
            .collect();
        let text = format!("{{ \"redirects\": [\n{}\n] }}", rules.join(",\n"));
        let imported = vercel(&text).unwrap();
        assert_eq!(imported.redirects.len(), MAX_PATTERN_RULES);
        assert_eq!(imported.skipped.len(), 20_000 - MAX_PATTERN_RULES);
        assert_eq!(
            imported.skipped.last().map(|s| s.at.as_str()),
            Some("vercel.json:20001")
        );
        assert_live_is_reported(&imported, Platform::Vercel);
    }
}
