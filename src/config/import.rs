//! `spadeploy init --from netlify|vercel|firebase`: another platform's routing configuration as a
//! spadeploy.toml. Pure: texts in, manifest text out. What spadeploy cannot express (conditions
//! on country, language, role or cookies, proxying to other hosts, serverless functions, regular
//! expressions) is never dropped silently: it becomes a comment naming the file and line, and is
//! listed for the user.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde_json::Value;

use crate::config::routing::{HeaderRule, Redirect, Rewrite, Spa, TrailingSlash};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    /// `_redirects`, `_headers` and `netlify.toml`
    Netlify,
    /// `vercel.json`
    Vercel,
    /// `firebase.json` (hosting)
    Firebase,
}

/// Something the source says that spadeploy cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `file:line`.
    pub at: String,
    pub original: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub dir: Option<String>,
    pub clean_urls: Option<bool>,
    pub trailing_slash: Option<TrailingSlash>,
    pub redirects: Vec<Redirect>,
    pub rewrites: Vec<Rewrite>,
    pub spas: Vec<Spa>,
    pub headers: Vec<HeaderRule>,
    pub skipped: Vec<Skipped>,
}

/// 1-based line of the first occurrence of `needle` in `text` (1 when absent).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

/// The line where a JSON string value is written.
fn json_line(text: &str, value: &str) -> usize {
    line_of(text, &serde_json::to_string(value).unwrap_or_default())
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

    /// A rule answering `from` with `to` (status 200): an SPA fallback when `to` is an index
    /// under `from`'s folder, else a rewrite.
    fn rewrite(&mut self, at: String, from: &str, to: &str) {
        if to.starts_with("http://") || to.starts_with("https://") {
            return self.skip(
                at,
                format!("{from} {to}"),
                "proxying to another host: give it a CloudFront behavior with its own origin",
            );
        }
        if !plain_pattern(from) || !to.starts_with('/') {
            return self.skip(
                at,
                format!("{from} {to}"),
                "a pattern spadeploy cannot express (only `:name` segments and a final `*`)",
            );
        }
        if let Some(folder) = from.strip_suffix('*') {
            let index = to.trim_start_matches('/');
            let folder_key = folder.trim_start_matches('/');
            if index.starts_with(folder_key) && index.ends_with(".html") && !index.contains(':') {
                let default = format!("{folder_key}index.html");
                self.spas.push(Spa {
                    prefix: folder.to_string(),
                    index: (index != default).then(|| index.to_string()),
                });
                return;
            }
        }
        self.rewrites.push(Rewrite {
            from: from.to_string(),
            to: to.to_string(),
        });
    }

    fn redirect(&mut self, at: String, from: &str, to: &str, status: u16) {
        let redirect = Redirect {
            from: from.to_string(),
            to: to.to_string(),
            status,
        };
        match redirect.validate() {
            Ok(()) => self.redirects.push(redirect),
            Err(why) => self.skip(at, format!("{from} {to} {status}"), &why),
        }
    }

    fn header(&mut self, at: String, pattern: &str, values: BTreeMap<String, String>) {
        let rule = HeaderRule {
            pattern: pattern.to_string(),
            values,
        };
        match rule.validate() {
            Ok(()) => self.headers.push(rule),
            Err(why) => self.skip(at, pattern, &why),
        }
    }
}

/// Netlify: `_redirects` and `_headers` (each with the path it was read from), and
/// `netlify.toml`.
pub fn netlify(
    redirects: Option<(&str, &str)>,
    headers: Option<(&str, &str)>,
    config: Option<&str>,
) -> Result<Imported, String> {
    let mut imported = Imported::default();
    if let Some(text) = config {
        netlify_toml(text, &mut imported)?;
    }
    if let Some((file, text)) = redirects {
        for (n, line) in text.lines().enumerate() {
            netlify_redirect_line(&mut imported, format!("{file}:{}", n + 1), line);
        }
    }
    if let Some((file, text)) = headers {
        netlify_headers(file, text, &mut imported);
    }
    Ok(imported)
}

fn netlify_redirect_line(imported: &mut Imported, at: String, line: &str) {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return;
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (from, rest) = (fields[0], &fields[1..]);
    let Some(to_at) = rest.iter().position(|f| !f.contains('=')) else {
        return imported.skip(at, line, "no destination");
    };
    if to_at > 0 {
        return imported.skip(
            at,
            line,
            "query-parameter matching: spadeploy matches paths only",
        );
    }
    let to = rest[0];
    let mut status = 301;
    let mut forced = false;
    for field in &rest[1..] {
        if let Ok(code) = field.trim_end_matches('!').parse::<u16>() {
            status = code;
            forced = field.ends_with('!');
        } else {
            return imported.skip(
                at,
                line,
                "a condition (country, language, role or cookie): spadeploy routes every visitor alike",
            );
        }
    }
    match status {
        200 if forced => imported.skip(
            at,
            line,
            "a forced rewrite shadows existing files; spadeploy answers files first: move the file, or use a redirect",
        ),
        200 => imported.rewrite(at, from, to),
        404 => imported.skip(
            at,
            line,
            "a per-path 404 page: spadeploy has one 404 page, [routing] not_found",
        ),
        _ => imported.redirect(at, from, to, status),
    }
}

fn netlify_headers(file: &str, text: &str, imported: &mut Imported) {
    let mut current: Option<(String, String, BTreeMap<String, String>)> = None;
    let flush = |imported: &mut Imported,
                 block: Option<(String, String, BTreeMap<String, String>)>| {
        if let Some((at, pattern, values)) = block {
            imported.header(at, &pattern, values);
        }
    };
    for (n, raw) in text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !raw.starts_with([' ', '\t']) {
            flush(imported, current.take());
            current = Some((at, line.to_string(), BTreeMap::new()));
            continue;
        }
        match (line.split_once(':'), current.as_mut()) {
            (Some((name, value)), Some((_, _, values))) => {
                values.insert(name.trim().to_string(), value.trim().to_string());
            }
            _ => imported.skip(at, line, "a header line outside a path block"),
        }
    }
    flush(imported, current);
}

fn netlify_toml(text: &str, imported: &mut Imported) -> Result<(), String> {
    let doc: toml::Value =
        toml::from_str(text).map_err(|e| format!("netlify.toml is not valid TOML: {e}"))?;
    imported.dir = doc
        .get("build")
        .and_then(|b| b.get("publish"))
        .and_then(|p| p.as_str())
        .map(str::to_string);
    for rule in doc
        .get("redirects")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let from = rule
            .get("from")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let to = rule.get("to").and_then(|v| v.as_str()).unwrap_or_default();
        let at = format!("netlify.toml:{}", line_of(text, &format!("\"{from}\"")));
        let status = rule
            .get("status")
            .and_then(|v| v.as_integer())
            .unwrap_or(301);
        if rule.get("conditions").is_some() || rule.get("query").is_some() {
            imported.skip(
                at,
                format!("{from} {to}"),
                "conditions or query matching: spadeploy routes every visitor alike, by path",
            );
            continue;
        }
        let forced = rule.get("force").and_then(|v| v.as_bool()).unwrap_or(false);
        let line = format!("{from} {to} {status}{}", if forced { "!" } else { "" });
        netlify_redirect_line(imported, at, &line);
    }
    for rule in doc
        .get("headers")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let pattern = rule.get("for").and_then(|v| v.as_str()).unwrap_or_default();
        let at = format!("netlify.toml:{}", line_of(text, &format!("\"{pattern}\"")));
        let values = rule
            .get("values")
            .and_then(|v| v.as_table())
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        imported.header(at, pattern, values);
    }
    if doc.get("functions").is_some() || doc.get("edge_functions").is_some() {
        imported.skip(
            "netlify.toml:1".into(),
            "[functions] / [[edge_functions]]",
            "serverless functions: run them as the API behind /api/*",
        );
    }
    Ok(())
}

/// Vercel's path patterns (path-to-regexp): `:name` and a final `:name*` are spadeploy's `:name`
/// and `*`; anything else (groups, regular expressions) is not expressible.
fn vercel_pattern(source: &str) -> Option<(String, Option<String>)> {
    let mut splat = None;
    let mut segments = Vec::new();
    for segment in source.split('/') {
        if let Some(name) = segment.strip_prefix(':').and_then(|s| s.strip_suffix('*')) {
            splat = Some(name.to_string());
            segments.push("*".to_string());
        } else {
            segments.push(segment.to_string());
        }
    }
    let pattern = segments.join("/");
    plain_pattern(&pattern).then_some((pattern, splat))
}

fn vercel_destination(destination: &str, splat: &Option<String>) -> String {
    match splat {
        Some(name) => destination
            .replace(&format!(":{name}*"), ":splat")
            .replace(&format!(":{name}"), ":splat"),
        None => destination.to_string(),
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

/// The rules of a JSON configuration: (kind, rule) for its `redirects`, `rewrites` and `headers`.
fn rules_of(doc: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    ["redirects", "rewrites", "headers"]
        .into_iter()
        .flat_map(move |kind| {
            doc[kind]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |r| (kind, r))
        })
}

const REGEX: &str = "a regular expression or group in the path";

/// Vercel: `vercel.json`.
pub fn vercel(text: &str) -> Result<Imported, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("vercel.json is not valid JSON: {e}"))?;
    let mut imported = Imported {
        dir: doc["outputDirectory"].as_str().map(str::to_string),
        clean_urls: doc["cleanUrls"].as_bool(),
        trailing_slash: slash_policy(&doc["trailingSlash"]),
        ..Imported::default()
    };
    let at = |source: &str| format!("vercel.json:{}", json_line(text, source));
    for (kind, rule) in rules_of(&doc) {
        let source = rule["source"].as_str().unwrap_or_default();
        if rule.get("has").is_some() || rule.get("missing").is_some() {
            let why = "`has`/`missing` conditions: spadeploy routes every visitor alike";
            imported.skip(at(source), source, why);
            continue;
        }
        // `/(.*)` is how Vercel writes "everything".
        let Some((from, splat)) = vercel_pattern(&source.replace("(.*)", ":rest*")) else {
            imported.skip(at(source), source, REGEX);
            continue;
        };
        let to = vercel_destination(rule["destination"].as_str().unwrap_or_default(), &splat);
        match kind {
            "redirects" => {
                let permanent = rule["permanent"].as_bool().unwrap_or(true);
                let status = rule["statusCode"]
                    .as_u64()
                    .map_or(if permanent { 308 } else { 307 }, |s| s as u16);
                imported.redirect(at(source), &from, &to, status)
            }
            "rewrites" => imported.rewrite(at(source), &from, &to),
            _ => imported.header(at(source), &from, key_values(&rule["headers"])),
        }
    }
    for key in ["functions", "crons", "middleware"] {
        if doc.get(key).is_some() {
            let why = "serverless functions: run them as the API behind /api/*";
            imported.skip(at(key), key, why);
        }
    }
    Ok(imported)
}

/// Firebase's globs: `**` is "everything below" (`*`); other globs are not expressible.
fn firebase_pattern(glob: &str) -> Option<String> {
    let pattern = if glob == "**" {
        "/*".to_string()
    } else {
        glob.replace("/**", "/*")
    };
    plain_pattern(&pattern).then_some(pattern)
}

/// Firebase: the `hosting` section of `firebase.json` (the first site, when there are several).
pub fn firebase(text: &str) -> Result<Imported, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("firebase.json is not valid JSON: {e}"))?;
    let hosting = match &doc["hosting"] {
        Value::Array(sites) => sites.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    if hosting.is_null() {
        return Err("firebase.json has no `hosting` section".into());
    }
    let mut imported = Imported {
        dir: hosting["public"].as_str().map(str::to_string),
        clean_urls: hosting["cleanUrls"].as_bool(),
        trailing_slash: slash_policy(&hosting["trailingSlash"]),
        ..Imported::default()
    };
    let at = |source: &str| format!("firebase.json:{}", json_line(text, source));
    for (kind, rule) in rules_of(&hosting) {
        let Some(source) = rule["source"].as_str() else {
            let regex = rule["regex"].as_str().unwrap_or_default();
            imported.skip(at(regex), regex, "a regular expression");
            continue;
        };
        let Some(from) = firebase_pattern(source) else {
            let why = "a glob spadeploy cannot express (only `**` at the end)";
            imported.skip(at(source), source, why);
            continue;
        };
        let destination = rule["destination"].as_str();
        match (kind, destination) {
            ("redirects", Some(to)) => {
                let status = rule["type"].as_u64().map_or(301, |t| t as u16);
                imported.redirect(at(source), &from, to, status)
            }
            ("rewrites", Some(to)) => imported.rewrite(at(source), &from, to),
            ("headers", _) => imported.header(at(source), &from, key_values(&rule["headers"])),
            _ => imported.skip(
                at(source),
                source,
                "a rewrite to a function, Cloud Run or Dynamic Links: run it as the API behind /api/*",
            ),
        }
    }
    Ok(imported)
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl Imported {
    /// The manifest, with a comment per rule that was not imported.
    pub fn to_manifest(&self, platform: Platform, sources: &str) -> String {
        let mut out = format!(
            "# spadeploy.toml, imported from {sources} by `spadeploy init --from {}`.\n\
             # Evaluation order: state never served, redirects, trailing slash, files of the live\n\
             # release (clean URLs), rewrites, SPA fallback, the 404 page. See README, \"Routing\".\n\n",
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
            let values: Vec<String> = h
                .values
                .iter()
                .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
                .collect();
            out.push_str(&format!(
                "\n[[headers]]\nfor = {}\nvalues = {{ {} }}\n",
                quote(&h.pattern),
                values.join(", ")
            ));
        }
        if !self.skipped.is_empty() {
            out.push_str(
                "\n# NOT IMPORTED: spadeploy cannot express these; decide what each becomes.\n",
            );
            for s in &self.skipped {
                out.push_str(&format!(
                    "# {}: {}\n#   why: {}\n",
                    s.at,
                    s.original.replace('\n', " "),
                    s.why
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
        let imported = firebase(text).unwrap();
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
        assert!(firebase("{}").unwrap_err().contains("no `hosting`"));
    }
}
