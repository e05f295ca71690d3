//! `spadeploy verify URL`: probes a live site the way users hit it and says, per probe, whether
//! the routing is right: the index and a deep client route answer 200 with the app's index, a
//! missing hashed asset is an honest 404, API paths answer with the API's own status; and, from
//! the live release, pre-rendered pages answer their own file, the 404 page comes with status
//! 404, the manifest's `[[headers]]` reach answers of every kind, and sampled files carry the
//! headers their release recorded.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cdn::routing::Routes;
use crate::config::manifest::ApiProbe;
use crate::model::ObjectHeaders;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Probe {
    pub check: String,
    pub path: String,
    pub expected: String,
    pub got: String,
    pub pass: bool,
    /// What a failure usually means, and where to look.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verification {
    pub url: String,
    pub ok: bool,
    pub probes: Vec<Probe>,
}

struct Fetched {
    status: u16,
    content_type: String,
    cache_control: String,
    /// Every header, names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.body))
    }

    fn describe(&self) -> String {
        let kind = if self.content_type.is_empty() {
            "no content-type"
        } else {
            &self.content_type
        };
        format!("{} ({kind}, {} bytes)", self.status, self.body.len())
    }
}

/// The URL without its `user:password@`: credentials never reach a message, a log or JSON.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The site did not answer a probe at all (DNS, TLS, connection, a cut-off body).
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the site: {url}: {reason}")]
pub(crate) struct Unreachable {
    /// Without credentials (`redacted`).
    url: String,
    reason: String,
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Fetched, Unreachable> {
    let shown = redacted(url);
    // ureq's own messages repeat the URL as given.
    let failed = |err: &dyn std::fmt::Display| Unreachable {
        url: shown.clone(),
        reason: err.to_string().replace(url, &shown),
    };
    let response = match agent.get(url).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(err) => return Err(failed(&err)),
    };
    let status = response.status();
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_string();
    let cache_control = response
        .header("cache-control")
        .unwrap_or_default()
        .to_string();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|name| {
            let value = response.header(&name)?.to_string();
            Some((name.to_ascii_lowercase(), value))
        })
        .collect();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).map_err(|e| failed(&e))?;
    Ok(Fetched {
        status,
        content_type,
        cache_control,
        headers,
        body,
    })
}

/// What the live release says the site answers, beyond the routing every SPA needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected {
    /// Files (URL path, recorded headers) whose served headers are checked.
    pub samples: Vec<(String, ObjectHeaders)>,
    /// Pre-rendered pages: the URL a visitor uses, and the sha256 of the file it must answer.
    pub pages: Vec<(String, String)>,
    /// The 404 page's sha256.
    pub not_found: Option<String>,
    /// The route table (for the SPA the client-route probe uses, and `[[headers]]`).
    pub routes: Option<Routes>,
}

/// Probes `base` for what every SPA needs and what `expected` adds. `nonce` makes the made-up
/// paths unique, so no cache answers them.
pub(crate) fn verify(
    base: &str,
    api: &[ApiProbe],
    expected: &Expected,
    nonce: u64,
) -> Result<Verification, Unreachable> {
    let base = base.trim_end_matches('/');
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(20))
        .build();
    let get = |path: &str| fetch(&agent, &format!("{base}{path}"));
    let index = get("/")?;
    // The client route is made up under the first SPA's prefix and answers that SPA's index.
    let spa = expected
        .routes
        .as_ref()
        .and_then(|r| r.spas.last().map(|spa| spa.prefix.clone()))
        .unwrap_or_else(|| "/".into());
    // A site of pages (`fallback = "none"`) has no client routes: a made-up route is a 404.
    let pages_only = expected.routes.as_ref().is_some_and(|r| r.spas.is_empty());
    let spa_index = if spa == "/" || pages_only {
        None
    } else {
        Some(get(&spa)?)
    };
    let route = format!("{spa}spadeploy-verify-{nonce:x}/deep/route");
    let deep = get(&route)?;
    let route_probe = if pages_only {
        missing_page_probe(&route, &deep)
    } else {
        client_route_probe(&route, &deep, spa_index.as_ref().unwrap_or(&index))
    };
    // The build's own asset folder (its first no-fallback folder), where a missing hashed file
    // would be asked for.
    let assets = expected
        .routes
        .as_ref()
        .and_then(|r| r.no_fallback.first().cloned())
        .unwrap_or_else(|| "/assets/".into());
    let mut probes = vec![
        index_probe(&index),
        route_probe,
        missing_asset_probe(&get, &assets, nonce)?,
    ];
    for probe in api {
        probes.push(api_probe(&get(&probe.path)?, probe, &index));
    }
    for (path, sha256) in &expected.pages {
        probes.push(page_probe(&get(path)?, path, sha256));
    }
    let mut answers = vec![("/".to_string(), &index), (route, &deep)];
    let missing_page = format!("/spadeploy-verify-{nonce:x}.html");
    let not_found = match &expected.not_found {
        Some(sha256) => {
            let got = get(&missing_page)?;
            probes.push(not_found_probe(&got, &missing_page, sha256));
            Some(got)
        }
        None => None,
    };
    if let Some(got) = &not_found {
        answers.push((missing_page, got));
    }
    if let Some(routes) = &expected.routes {
        probes.extend(manifest_headers_probes(routes, &answers));
    }
    for (path, headers) in &expected.samples {
        probes.push(headers_probe(&get(path)?, path, headers));
    }
    for probe in probes.iter_mut().filter(|p| p.pass) {
        probe.hint = None;
    }
    Ok(Verification {
        url: redacted(base),
        ok: probes.iter().all(|p| p.pass),
        probes,
    })
}

/// The manifest's `[[headers]]` on each answer already fetched (a 200, a fallback, a 404).
fn manifest_headers_probes(routes: &Routes, answers: &[(String, &Fetched)]) -> Vec<Probe> {
    answers
        .iter()
        .filter_map(|(path, got)| {
            let wanted = routes.headers_for(routes.evaluate("GET", path, "").answered_path(path));
            (!wanted.is_empty()).then(|| manifest_headers_probe(got, path, &wanted))
        })
        .collect()
}

fn index_probe(index: &Fetched) -> Probe {
    Probe {
        check: "index".into(),
        path: "/".into(),
        expected: "200, text/html".into(),
        got: index.describe(),
        pass: index.status == 200 && index.content_type.starts_with("text/html"),
        hint: Some("the site root must serve index.html: check the target and the default behavior's origin".into()),
    }
}

fn client_route_probe(route: &str, deep: &Fetched, index: &Fetched) -> Probe {
    Probe {
        check: "client route".into(),
        path: route.to_string(),
        expected: "200 with the index".into(),
        got: if deep.body == index.body { format!("{} with the index", deep.status) } else { deep.describe() },
        pass: deep.status == 200 && deep.body == index.body,
        hint: Some(
            "client routes must answer the index with 200: is the edge function attached to the SPA behavior? (`spadeploy routing --check`)"
                .into(),
        ),
    }
}

fn page_probe(got: &Fetched, path: &str, sha256: &str) -> Probe {
    let own = got.sha256() == sha256;
    Probe {
        check: "pre-rendered page".into(),
        path: path.to_string(),
        expected: "200 with its own file".into(),
        got: if own { format!("{} with its own file", got.status) } else { got.describe() },
        pass: got.status == 200 && own,
        hint: Some(
            "a pre-rendered page must answer its own HTML, not the SPA's index: is the distribution running this release's route table? (`spadeploy routing --check`, then push)"
                .into(),
        ),
    }
}

fn not_found_probe(got: &Fetched, path: &str, sha256: &str) -> Probe {
    let own = got.sha256() == sha256;
    Probe {
        check: "404 page".into(),
        path: path.to_string(),
        expected: "404 with the 404 page".into(),
        got: if own { format!("{} with the 404 page", got.status) } else { got.describe() },
        pass: got.status == 404 && own,
        hint: Some(
            "a missing page must answer the 404 page with status 404: in private mode the function must run on viewer-response too (`spadeploy routing --check`)"
                .into(),
        ),
    }
}

fn manifest_headers_probe(got: &Fetched, path: &str, wanted: &[(String, String)]) -> Probe {
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(name, value)| got.header(name) != Some(value.as_str()))
        .map(|(name, _)| format!("{name}: {}", got.header(name).unwrap_or("(none)")))
        .collect();
    Probe {
        check: "[[headers]]".into(),
        path: path.to_string(),
        expected: wanted
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect::<Vec<_>>()
            .join(" | "),
        got: if missing.is_empty() { "all present".into() } else { missing.join(" | ") },
        pass: missing.is_empty(),
        hint: Some(
            "the manifest's [[headers]] must reach every answer of the SPA behaviors: is this release's function attached, on viewer-response too in private mode? (`spadeploy routing --check`)"
                .into(),
        ),
    }
}

fn missing_page_probe(route: &str, got: &Fetched) -> Probe {
    Probe {
        check: "missing page".into(),
        path: route.to_string(),
        expected: "404 (a site of pages has no client routes)".into(),
        got: got.describe(),
        pass: got.status == 404,
        hint: Some(
            "a missing page of a pre-rendered site must answer 404, never the home page (a soft 404 search engines index): is the distribution running this release's function? (`spadeploy routing --check`)"
                .into(),
        ),
    }
}

fn missing_asset_probe(
    get: &dyn Fn(&str) -> Result<Fetched, Unreachable>,
    folder: &str,
    nonce: u64,
) -> Result<Probe, Unreachable> {
    let asset = format!("{folder}spadeploy-verify-{:08x}.js", nonce as u32);
    let missing = get(&asset)?;
    Ok(Probe {
        check: "missing hashed asset".into(),
        path: asset,
        expected: "404".into(),
        got: missing.describe(),
        pass: missing.status == 404,
        hint: Some(
            "a missing script must stay a 404: serving the index in its place is the classic \"Unexpected token <\"; the fallback must apply to extension-less routes only"
                .into(),
        ),
    })
}

fn api_probe(got: &Fetched, probe: &ApiProbe, index: &Fetched) -> Probe {
    let is_index = got.body == index.body;
    Probe {
        check: "API status".into(),
        path: probe.path.clone(),
        expected: format!("{} from the API", probe.status),
        got: if is_index { format!("{} with the SPA's index", got.status) } else { got.describe() },
        pass: got.status == probe.status && !is_index,
        hint: Some(
            "API paths must reach the API with their status intact: a distribution-wide custom error response, or a missing/misplaced /api/* behavior, turns API errors into the index"
                .into(),
        ),
    }
}

fn headers_probe(got: &Fetched, path: &str, headers: &ObjectHeaders) -> Probe {
    Probe {
        check: "headers".into(),
        path: path.to_string(),
        expected: format!("200, {} | {}", headers.content_type, headers.cache_control),
        got: format!("{}, {} | {}", got.status, got.content_type, got.cache_control),
        pass: got.status == 200
            && *got.content_type == *headers.content_type
            && *got.cache_control == *headers.cache_control,
        hint: Some("the served headers differ from the release record: a CDN response-headers policy overriding them, or a stale cache".into()),
    }
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "verify {}", self.url)?;
        for p in &self.probes {
            let mark = if p.pass { "pass" } else { "FAIL" };
            writeln!(
                f,
                "  {mark}  {:<20} {:<44} expected {}, got {}",
                p.check, p.path, p.expected, p.got
            )?;
            if let Some(hint) = &p.hint {
                writeln!(f, "        → {hint}")?;
            }
        }
        let failed = self.probes.iter().filter(|p| !p.pass).count();
        if failed == 0 {
            writeln!(f, "all {} probes passed", self.probes.len())
        } else {
            writeln!(f, "{failed} of {} probes failed", self.probes.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_never_reach_a_message() {
        for (url, shown) in [
            ("https://user:s3cret@example.com/", "https://example.com/"),
            ("http://a@b:8080", "http://b:8080"),
            ("https://example.com/a@b", "https://example.com/a@b"),
            ("https://example.com", "https://example.com"),
        ] {
            assert_eq!(redacted(url), shown);
        }
        // Nothing listens on port 9 of the loopback: the error names the site, not the secret.
        let err = verify(
            "http://user:s3cret@127.0.0.1:9",
            &[],
            &Expected::default(),
            1,
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(!err.contains("s3cret") && !err.contains("user"), "{err}");
        assert!(err.contains("http://127.0.0.1:9"), "{err}");
    }

    #[test]
    fn api_probes_parse_and_explain_mistakes() {
        assert_eq!(
            "/api/users/999=404".parse(),
            Ok(ApiProbe {
                path: "/api/users/999".into(),
                status: 404
            })
        );
        assert!("/api"
            .parse::<ApiProbe>()
            .unwrap_err()
            .contains("PATH=STATUS"));
        assert!("api=200"
            .parse::<ApiProbe>()
            .unwrap_err()
            .contains("start with `/`"));
        assert!("/api=abc"
            .parse::<ApiProbe>()
            .unwrap_err()
            .contains("not an HTTP status"));
    }
}
