//! Netlify: `_redirects`, `_headers` and `netlify.toml` into rules.

use super::*;

/// Netlify: `_redirects` and `_headers` (each with the path it was read from), and
/// `netlify.toml`.
pub(crate) fn netlify(
    redirects: Option<(&str, &str)>,
    headers: Option<(&str, &str)>,
    config: Option<&str>,
) -> Result<Imported, ImportError> {
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

pub(super) fn netlify_redirect_line(imported: &mut Imported, at: String, line: &str) {
    let line = line.split('#').next().unwrap_or("").trim();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let Some((&from, rest)) = fields.split_first() else {
        return;
    };
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
        let digits = field.trim_end_matches('!');
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return imported.skip(
                at,
                line,
                "a condition (country, language, role or cookie): spadeploy routes every visitor alike",
            );
        }
        let Ok(code) = digits.parse::<u16>() else {
            return imported.skip(at, line, &format!("{digits} is not an HTTP status"));
        };
        status = code;
        forced = field.ends_with('!');
    }
    netlify_rule(imported, at, line, from, to, status, forced);
}

/// One Netlify redirect rule, from `_redirects` or `netlify.toml` (`original` as written there).
pub(super) fn netlify_rule(
    imported: &mut Imported,
    at: String,
    original: &str,
    from: &str,
    to: &str,
    status: u16,
    forced: bool,
) {
    match status {
        200 if forced => imported.skip(
            at,
            original,
            "a forced rewrite shadows existing files; spadeploy answers files first: move the file, or use a redirect",
        ),
        200 => imported.rewrite(at, from, to),
        404 => imported.skip(
            at,
            original,
            "a per-path 404 page: spadeploy has one 404 page, [routing] not_found",
        ),
        _ => imported.redirect(at, from, to, status),
    }
}

pub(super) fn netlify_headers(file: &str, text: &str, imported: &mut Imported) {
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

/// Where the rules of `netlify.toml` are written: the span of each `from` / `for`, else of the
/// table.
#[derive(Deserialize, Default)]
pub(super) struct NetlifySpans {
    #[serde(default)]
    redirects: Vec<Spanned<RuleSpans>>,
    #[serde(default)]
    headers: Vec<Spanned<RuleSpans>>,
}

#[derive(Deserialize)]
pub(super) struct RuleSpans {
    from: Option<Spanned<toml::Value>>,
    #[serde(rename = "for")]
    pattern: Option<Spanned<toml::Value>>,
}

impl NetlifySpans {
    pub(super) fn offset(rules: &[Spanned<RuleSpans>], index: usize) -> usize {
        rules.get(index).map_or(0, |rule| {
            let key = rule.get_ref();
            key.from
                .as_ref()
                .or(key.pattern.as_ref())
                .map_or(rule.span().start, |v| v.span().start)
        })
    }
}

/// `key`'s tables (`[[redirects]]`): an error when `key` holds anything else, which Netlify
/// would refuse too.
pub(super) fn netlify_tables<'a>(
    doc: &'a toml::Value,
    key: &str,
) -> Result<Vec<&'a toml::Table>, ImportError> {
    let shape = |found: &'static str| ImportError::Shape {
        file: "netlify.toml",
        what: format!("`{key}`"),
        found,
        expected: NETLIFY_SHAPE,
    };
    match doc.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_table()
                    .ok_or_else(|| shape("an array holding a non-table"))
            })
            .collect(),
        Some(other) => Err(shape(other.type_str())),
    }
}

/// One `[[redirects]]` table of netlify.toml.
fn netlify_toml_redirect(imported: &mut Imported, at: String, rule: &toml::Table) {
    let from = rule
        .get("from")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let to = rule.get("to").and_then(|v| v.as_str()).unwrap_or_default();
    let original = format!("{from} {to}");
    if rule.get("conditions").is_some() || rule.get("query").is_some() {
        imported.skip(
            at,
            original,
            "conditions or query matching: spadeploy routes every visitor alike, by path",
        );
        return;
    }
    let status = match rule.get("status") {
        None => 301,
        Some(value) => match value.as_integer().and_then(|n| u16::try_from(n).ok()) {
            Some(status) => status,
            None => {
                imported.skip(
                    at,
                    original,
                    &format!("status {value} is not an HTTP status"),
                );
                return;
            }
        },
    };
    let forced = rule
        .get("force")
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    let original = format!("{original} {status}{}", if forced { "!" } else { "" });
    netlify_rule(imported, at, &original, from, to, status, forced);
}

pub(super) fn netlify_toml(text: &str, imported: &mut Imported) -> Result<(), ImportError> {
    let doc: toml::Value = toml::from_str(text).map_err(|e| ImportError::Syntax {
        file: "netlify.toml",
        format: "TOML",
        // The parser may quote the file's text (a key), which is not the terminal's to run.
        message: visible(e.message().trim()),
    })?;
    let redirects = netlify_tables(&doc, "redirects")?;
    let headers = netlify_tables(&doc, "headers")?;
    let spans: NetlifySpans = toml::from_str(text).unwrap_or_default();
    let lines = Lines::new(text);
    let at = |rules: &[Spanned<RuleSpans>], index: usize| {
        format!(
            "netlify.toml:{}",
            lines.line(NetlifySpans::offset(rules, index))
        )
    };
    imported.dir = doc
        .get("build")
        .and_then(|b| b.get("publish"))
        .and_then(|p| p.as_str())
        .map(str::to_string);
    for (index, rule) in redirects.into_iter().enumerate() {
        netlify_toml_redirect(imported, at(&spans.redirects, index), rule);
    }
    for (index, rule) in headers.into_iter().enumerate() {
        let at = at(&spans.headers, index);
        let pattern = rule.get("for").and_then(|v| v.as_str()).unwrap_or_default();
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
