//! Firebase Hosting: `firebase.json` (one site, or several) into rules.

use super::*;

/// Firebase's globs: `**` is "everything below" (`*`); other globs are not expressible.
pub(super) fn firebase_pattern(glob: &str) -> Option<String> {
    let pattern = if glob == "**" {
        "/*".to_string()
    } else {
        glob.replace("/**", "/*")
    };
    plain_pattern(&pattern).then_some(pattern)
}

/// A Firebase hosting site's name: its `site` or deploy `target`, else its place in the list.
pub(super) fn site_name(site: &Value, index: usize) -> String {
    site["site"]
        .as_str()
        .or(site["target"].as_str())
        .map_or_else(|| format!("#{}", index + 1), str::to_string)
}

/// The hosting sites of `firebase.json` with their JSON pointers: one object, or an array of them.
pub(super) fn firebase_sites(doc: &Value) -> Result<Vec<(String, &Value)>, ImportError> {
    let shape = |what: String, found| ImportError::Shape {
        file: "firebase.json",
        what,
        found,
        expected: HOSTING_SHAPE,
    };
    if !doc.is_object() {
        return Err(shape("the file".into(), json_kind(doc)));
    }
    let sites: Vec<(String, &Value)> = match &doc["hosting"] {
        Value::Null => return Err(ImportError::NoHosting),
        site @ Value::Object(_) => vec![("/hosting".into(), site)],
        Value::Array(sites) => sites
            .iter()
            .enumerate()
            .map(|(n, site)| (format!("/hosting/{n}"), site))
            .collect(),
        other => return Err(shape("`hosting`".into(), json_kind(other))),
    };
    if sites.is_empty() {
        return Err(ImportError::NoHosting);
    }
    for (n, (_, site)) in sites.iter().enumerate() {
        if !site.is_object() {
            return Err(shape(format!("hosting site {}", n + 1), json_kind(site)));
        }
    }
    Ok(sites)
}

/// Firebase: one hosting site of `firebase.json`: the one whose `site` or `target` is `wanted`,
/// else the first. A spadeploy.toml describes one site, so the others are listed as not imported.
pub(crate) fn firebase(text: &str, wanted: Option<&str>) -> Result<Imported, ImportError> {
    let doc = parse_json("firebase.json", text)?;
    let sites = firebase_sites(&doc)?;
    let names: Vec<String> = sites
        .iter()
        .enumerate()
        .map(|(n, (_, site))| site_name(site, n))
        .collect();
    let chosen = match wanted {
        None => 0,
        Some(wanted) => sites
            .iter()
            .enumerate()
            .position(|(n, (_, site))| {
                names[n] == wanted
                    || site["site"].as_str() == Some(wanted)
                    || site["target"].as_str() == Some(wanted)
            })
            .ok_or_else(|| ImportError::NoSuchSite {
                wanted: visible(wanted),
                available: names
                    .iter()
                    .map(|n| format!("`{}`", visible(n)))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
    };
    let (base, hosting) = &sites[chosen];
    let mut imported = Imported {
        dir: hosting["public"].as_str().map(str::to_string),
        clean_urls: hosting["cleanUrls"].as_bool(),
        trailing_slash: slash_policy(&hosting["trailingSlash"]),
        ..Imported::default()
    };
    let positions = JsonPositions::new(text);
    for (n, (pointer, _)) in sites.iter().enumerate() {
        if n != chosen {
            imported.skip(
                format!(
                    "firebase.json:{}",
                    positions.line(pointer, &["site", "target"])
                ),
                format!("hosting site `{}`", names[n]),
                &format!(
                    "spadeploy.toml describes one site and `{}` was imported: \
                     `spadeploy init --from firebase --site {}` imports this one instead",
                    names[chosen], names[n]
                ),
            );
        }
    }
    for (kind, pointer, rule) in rules_of("firebase.json", hosting, base)? {
        let line_of = |key: &str| format!("firebase.json:{}", positions.line(&pointer, &[key]));
        let Some(source) = rule.get("source").and_then(Value::as_str) else {
            match rule.get("regex").and_then(Value::as_str) {
                Some(regex) => imported.skip(line_of("regex"), regex, "a regular expression"),
                None => imported.skip(line_of("source"), excerpt(rule), NOT_A_RULE),
            }
            continue;
        };
        let at = line_of("source");
        let Some(from) = firebase_pattern(source) else {
            let why = "a glob spadeploy cannot express (only `**` at the end)";
            imported.skip(at, source, why);
            continue;
        };
        let destination = rule["destination"].as_str();
        match (kind, destination) {
            ("redirects", Some(to)) => match rule.get("type") {
                None => imported.redirect(at, &from, to, 301),
                Some(code) => match http_status(code) {
                    Some(status) => imported.redirect(at, &from, to, status),
                    None => imported.skip(
                        at,
                        format!("{source} {to} {code}"),
                        "`type` is not an HTTP status (use 301, 302, 303, 307 or 308)",
                    ),
                },
            },
            ("rewrites", Some(to)) => imported.rewrite(at, &from, to),
            ("headers", _) => imported.header(at, &from, key_values(&rule["headers"])),
            _ => imported.skip(
                at,
                source,
                "a rewrite to a function, Cloud Run or Dynamic Links: run it as the API behind /api/*",
            ),
        }
    }
    Ok(imported)
}
