//! The HTTP headers each object is stored with: Content-Type and Cache-Control, from built-in
//! defaults and the manifest's `[[rules]]` (first matching rule that sets a header wins).

use crate::config::manifest::Rule;
use std::sync::{Arc, Mutex};

use crate::model::{Interner, ObjectHeaders, CACHE_HTML, CACHE_IMMUTABLE, CACHE_SHORT};

pub(crate) fn is_html(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

fn extension(key: &str) -> Option<String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Content-Type from the file extension. Text types carry `; charset=utf-8` (browsers otherwise
/// guess, and garble UTF-8); types whose consumers reject parameters (wasm) carry none.
pub(crate) fn content_type_for(key: &str) -> String {
    let Some(ext) = extension(key) else {
        return "application/octet-stream".into();
    };
    // Gaps and outdated entries in mime_guess's table that matter for web apps.
    let known = match ext.as_str() {
        "js" | "mjs" | "cjs" => Some("text/javascript"),
        "wasm" => Some("application/wasm"),
        "webmanifest" => Some("application/manifest+json"),
        "map" | "json" => Some("application/json"),
        "avif" => Some("image/avif"),
        "webp" => Some("image/webp"),
        "woff2" => Some("font/woff2"),
        "woff" => Some("font/woff"),
        "ttf" => Some("font/ttf"),
        "otf" => Some("font/otf"),
        "ico" => Some("image/x-icon"),
        "svg" => Some("image/svg+xml"),
        "md" => Some("text/markdown"),
        "xml" => Some("application/xml"),
        "txt" => Some("text/plain"),
        _ => None,
    };
    let essence = known.map(str::to_string).unwrap_or_else(|| {
        mime_guess::from_ext(&ext)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_string()
    });
    if essence.starts_with("text/") {
        format!("{essence}; charset=utf-8")
    } else {
        essence
    }
}

/// Folders whose every file is content-addressed, as their frameworks document: Next.js
/// (`_next/static/`), SvelteKit (`_app/immutable/`), Astro (`_astro/`).
const IMMUTABLE_FOLDERS: [&str; 3] = ["_next/static/", "_app/immutable/", "_astro/"];

/// True when the file name carries a content hash, as bundlers write them:
/// `index-BjK3x9_a.js` (Vite, Rollup), `main.3f9a1c2b.js` (webpack, Parcel, Angular's webpack
/// builder), `chunk-5MRQ7BGD.js` and `chunk-ADPFSKGY.js` (esbuild and Angular's application
/// builder: 8 upper-case base32 characters, not always with a digit); or lives in a framework's
/// immutable folder.
pub(crate) fn is_content_hashed(key: &str) -> bool {
    // Without building "/folder" strings: this runs for every file of the build and every key
    // of the live release.
    let in_immutable_folder = IMMUTABLE_FOLDERS.iter().any(|folder| {
        key.match_indices(folder)
            .any(|(at, _)| at == 0 || key.as_bytes()[at - 1] == b'/')
    });
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let mut pieces = stem.split('.');
    pieces.next(); // the first piece is the file's own name, never a hash on its own
    let after_dot = pieces.any(|piece| looks_like_hash(piece, false));
    let first = stem.split('.').next().unwrap_or(stem);
    let after_dash = first
        .char_indices()
        .filter(|&(i, c)| c == '-' && i > 0)
        .any(|(i, _)| looks_like_hash(&first[i + 1..], true));
    in_immutable_folder || after_dot || after_dash
}

/// `after_dash`: esbuild's separator, after which its base32 hashes may be letters only.
fn looks_like_hash(token: &str, after_dash: bool) -> bool {
    let len = token.len();
    if !(8..=64).contains(&len)
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return false;
    }
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    let upper = token.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = token.bytes().filter(u8::is_ascii_lowercase).count();
    // A wrong "hashed" caches a mutable file for a year, a wrong "not hashed" for 5 minutes:
    // only the shapes bundlers emit count. Lowercase hex of 8+ (webpack, Parcel, Next.js), or
    // 8-character base64/base32 (Vite, Rollup, esbuild); words have no digits and one capital.
    let hex = token
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex {
        return digits > 0 && lower > 0;
    }
    // Words a designer or a font foundry writes (`Inter-SemiBold`, `hero-Desktop1`,
    // `OpenSans-ExtraBold`): capitalised words and numbers only. Rollup's base64 hashes
    // (`CwnRBQyK`, `BjK3x9_a`) break that shape with a capital run, a lone lowercase letter or
    // an `_`/`-`; the rare hash that happens to read as words costs a 5-minute cache, nothing more.
    if is_words(token) {
        return false;
    }
    let esbuild_base32 = after_dash
        && upper + digits == len
        && token
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    len == 8 && ((digits > 0 && upper + lower > 0) || (upper >= 2 && lower >= 1) || esbuild_base32)
}

/// `SemiBold`, `Desktop1`, `Bold700`: capitalised words (a capital, then two or more lowercase
/// letters) and digit runs, starting with a word.
fn is_words(token: &str) -> bool {
    let bytes = token.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_uppercase() {
            let run = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase())
                .count();
            if run < 2 {
                return false;
            }
            i += 1 + run;
        } else if bytes[i].is_ascii_digit() {
            i += bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        } else {
            return false;
        }
    }
    true
}

pub(crate) fn default_cache_control(key: &str) -> &'static str {
    if is_html(key) {
        CACHE_HTML
    } else if is_content_hashed(key) {
        CACHE_IMMUTABLE
    } else {
        CACHE_SHORT
    }
}

/// The manifest's header rules, ready to resolve keys. Every file gets shared copies of the
/// few distinct values.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderRules {
    rules: Vec<Rule>,
    values: Arc<Mutex<Interner>>,
}

impl HeaderRules {
    pub(crate) fn new(rules: Vec<Rule>) -> Self {
        HeaderRules {
            rules,
            values: Arc::default(),
        }
    }

    /// `key` is relative to the build directory, with `/` separators.
    pub(crate) fn resolve(&self, key: &str) -> ObjectHeaders {
        let matching = || self.rules.iter().filter(|rule| rule.glob.is_match(key));
        let content_type = matching()
            .find_map(|rule| rule.content_type.clone())
            .unwrap_or_else(|| content_type_for(key));
        let cache_control = matching()
            .find_map(|rule| rule.cache_control.clone())
            .unwrap_or_else(|| default_cache_control(key).to_string());
        let mut values = self
            .values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ObjectHeaders {
            content_type: values.value(&content_type),
            cache_control: values.value(&cache_control),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::manifest::Glob;

    /// tests/data/content-types.tsv: one `file<TAB>content-type` case per line.
    #[test]
    fn content_types_follow_the_table() {
        let table = include_str!("../../tests/data/content-types.tsv");
        let mut cases = 0;
        for line in table
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (file, expected) = line.split_once('\t').expect("file<TAB>type");
            assert_eq!(content_type_for(file), expected, "content type of {file}");
            cases += 1;
        }
        assert!(cases > 20, "the table lost its cases");
    }

    /// tests/data/cache-control.tsv: `file<TAB>hashed|html|short` per line.
    #[test]
    fn default_cache_control_follows_the_table() {
        let table = include_str!("../../tests/data/cache-control.tsv");
        let mut cases = 0;
        for line in table
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (file, class) = line.split_once('\t').expect("file<TAB>class");
            let expected = match class {
                "hashed" => CACHE_IMMUTABLE,
                "html" => CACHE_HTML,
                "short" => CACHE_SHORT,
                other => panic!("unknown class {other}"),
            };
            assert_eq!(
                default_cache_control(file),
                expected,
                "cache-control of {file}"
            );
            cases += 1;
        }
        assert!(cases > 20, "the table lost its cases");
    }

    fn rule(glob: &str, cache: Option<&str>, ctype: Option<&str>) -> Rule {
        Rule {
            glob: Glob::new(glob).unwrap(),
            cache_control: cache.map(String::from),
            content_type: ctype.map(String::from),
        }
    }

    #[test]
    fn first_matching_rule_that_sets_a_header_wins() {
        let rules = HeaderRules::new(vec![
            rule("assets/**", Some("public, max-age=60"), None),
            rule("*.js", Some("no-store"), Some("application/x-custom")),
            rule("**", Some("private"), None),
        ]);
        let js = rules.resolve("assets/app.js");
        assert_eq!(&*js.cache_control, "public, max-age=60");
        assert_eq!(&*js.content_type, "application/x-custom");
        let top = rules.resolve("main.js");
        assert_eq!(&*top.cache_control, "no-store");
        let html = rules.resolve("index.html");
        assert_eq!(&*html.cache_control, "private");
        assert_eq!(&*html.content_type, "text/html; charset=utf-8");
    }

    #[test]
    fn no_rules_means_defaults() {
        let rules = HeaderRules::default();
        let h = rules.resolve("assets/index-3f9a1c2b.js");
        assert_eq!(&*h.cache_control, CACHE_IMMUTABLE);
        assert_eq!(&*h.content_type, "text/javascript; charset=utf-8");
    }
}
