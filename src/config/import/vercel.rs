//! Vercel: `vercel.json` into rules.

use super::*;

/// Vercel's path patterns (path-to-regexp): `:name` and a final `:name*` are spadeploy's `:name`
/// and `*`; anything else (groups, regular expressions) is not expressible.
pub(super) fn vercel_pattern(source: &str) -> Option<(String, Option<String>)> {
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

pub(super) fn vercel_destination(destination: &str, splat: &Option<String>) -> String {
    match splat {
        Some(name) => destination
            .replace(&format!(":{name}*"), ":splat")
            .replace(&format!(":{name}"), ":splat"),
        None => destination.to_string(),
    }
}

/// Vercel: `vercel.json`.
pub(crate) fn vercel(text: &str) -> Result<Imported, ImportError> {
    let doc = parse_json("vercel.json", text)?;
    if !doc.is_object() {
        return Err(ImportError::Shape {
            file: "vercel.json",
            what: "the file".into(),
            found: json_kind(&doc),
            expected: VERCEL_SHAPE,
        });
    }
    let mut imported = Imported {
        dir: doc["outputDirectory"].as_str().map(str::to_string),
        clean_urls: doc["cleanUrls"].as_bool(),
        trailing_slash: slash_policy(&doc["trailingSlash"]),
        ..Imported::default()
    };
    let positions = JsonPositions::new(text);
    for (kind, pointer, rule) in rules_of("vercel.json", &doc, "")? {
        let at = format!("vercel.json:{}", positions.line(&pointer, &["source"]));
        let Some(source) = rule.get("source").and_then(Value::as_str) else {
            imported.skip(at, excerpt(rule), NOT_A_RULE);
            continue;
        };
        if rule.get("has").is_some() || rule.get("missing").is_some() {
            let why = "`has`/`missing` conditions: spadeploy routes every visitor alike";
            imported.skip(at, source, why);
            continue;
        }
        // `/(.*)` is how Vercel writes "everything".
        let Some((from, splat)) = vercel_pattern(&source.replace("(.*)", ":rest*")) else {
            imported.skip(at, source, REGEX);
            continue;
        };
        let to = vercel_destination(rule["destination"].as_str().unwrap_or_default(), &splat);
        match kind {
            "redirects" => {
                let permanent = rule["permanent"].as_bool().unwrap_or(true);
                let status = match rule.get("statusCode") {
                    None => Some(if permanent { 308 } else { 307 }),
                    Some(code) => http_status(code),
                };
                match status {
                    Some(status) => imported.redirect(at, &from, &to, status),
                    None => imported.skip(
                        at,
                        format!("{source} {to} {}", rule["statusCode"]),
                        "`statusCode` is not an HTTP status (use 301, 302, 303, 307 or 308)",
                    ),
                }
            }
            "rewrites" => imported.rewrite(at, &from, &to),
            _ => imported.header(at, &from, key_values(&rule["headers"])),
        }
    }
    for key in ["functions", "crons", "middleware"] {
        if doc.get(key).is_some() {
            let why = "serverless functions: run them as the API behind /api/*";
            imported.skip(
                format!("vercel.json:{}", positions.line(&format!("/{key}"), &[])),
                key,
                why,
            );
        }
    }
    Ok(imported)
}
