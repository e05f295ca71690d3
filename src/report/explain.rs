//! `routing --explain PATH`: how one request is answered against the live release, step by step
//! in the evaluation order, from the same `Routes::route` that `serve` and the edge table use.

use std::fmt;

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::cdn::routing::{Outcome, Routes, Step};
use crate::config::routing::Mode;
use crate::state::release::Record;

#[derive(Debug, Serialize)]
pub(crate) struct Explanation {
    pub method: String,
    pub path: String,
    pub mode: Mode,
    /// Each step reached, with what it decided; the last one answered.
    pub steps: Vec<(Step, String)>,
    pub status: u16,
    /// What answers: the file (a key of the release), a Location, or the origin.
    pub answer: String,
    pub headers: Vec<(String, String)>,
}

impl Explanation {
    /// `error_document`: the manifest's, for what a website endpoint answers a missing key with.
    pub(crate) fn of(
        routes: &Routes,
        live: &Record,
        mode: Mode,
        error_document: &str,
        method: &str,
        request: &str,
    ) -> Self {
        let (path, query) = request.split_once('?').unwrap_or((request, ""));
        let mut steps = Vec::new();
        let found = routes.resolve(path);
        let outcome =
            routes.route_explained(method, path, query, found.as_deref(), &mut |step, why| {
                steps.push((step, why));
            });
        let (status, answer, mut headers) =
            answer_of(routes, live, mode, error_document, path, &outcome);
        let answered = outcome.answered_path(path).to_string();
        for (name, value) in routes.headers_for(&answered) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name.to_ascii_lowercase(), value));
        }
        Explanation {
            method: method.to_string(),
            path: request.to_string(),
            mode,
            steps,
            status,
            answer,
            headers,
        }
    }
}

/// The status, what answers, and the stored headers of an outcome.
fn answer_of(
    routes: &Routes,
    live: &Record,
    mode: Mode,
    error_document: &str,
    path: &str,
    outcome: &Outcome,
) -> (u16, String, Vec<(String, String)>) {
    let key_of = |url: &str| {
        let relative = url.strip_prefix(&routes.base).unwrap_or(url);
        percent_decode_str(relative)
            .decode_utf8_lossy()
            .into_owned()
    };
    let stored = |key: &str| {
        live.objects.get(key).map(|o| {
            vec![
                (
                    "content-type".to_string(),
                    o.headers.content_type.to_string(),
                ),
                (
                    "cache-control".to_string(),
                    o.headers.cache_control.to_string(),
                ),
            ]
        })
    };
    match outcome {
        Outcome::Deny => (
            404,
            "nothing (an empty 404 made at the edge)".into(),
            Vec::new(),
        ),
        Outcome::Redirect { status, location } => (
            *status,
            format!("Location: {location}"),
            vec![("location".to_string(), location.clone())],
        ),
        Outcome::Serve {
            path,
            status,
            fallback,
        } => {
            let key = key_of(path);
            let mut headers = stored(&key).unwrap_or_default();
            if *fallback || *status == 404 {
                headers.retain(|(name, _)| name != "cache-control");
                headers.push(("cache-control".into(), routes.cache_control.clone()));
            }
            (*status, format!("the file {key}"), headers)
        }
        Outcome::Pass => {
            let key = key_of(path);
            match stored(&key) {
                Some(headers) => (200, format!("the file {key}, from the origin"), headers),
                None => (
                    404,
                    origin_miss(mode, &routes.error_key(error_document)),
                    Vec::new(),
                ),
            }
        }
    }
}

/// What the origin answers for a key the release lacks.
fn origin_miss(mode: Mode, error_key: &str) -> String {
    match mode {
        Mode::Website => {
            format!("the origin's 404, with the website endpoint's error document {error_key}")
        }
        Mode::Private => "the origin's 404 (the bucket's error, no page)".into(),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} ({} mode)", self.method, self.path, self.mode)?;
        for (i, (step, why)) in self.steps.iter().enumerate() {
            writeln!(f, "  {}. {:<14} {why}", i + 1, step.label())?;
        }
        writeln!(f, "answer: {} {}", self.status, self.answer)?;
        for (name, value) in &self.headers {
            writeln!(f, "  {name}: {value}")?;
        }
        Ok(())
    }
}
