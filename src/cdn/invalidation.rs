//! CloudFront invalidations: which paths a push must invalidate (pure), creating the
//! invalidation idempotently, and waiting for it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use percent_encoding::utf8_percent_encode;
use sha2::{Digest, Sha256};

use crate::aws::{api_error, ApiError};
use crate::config::routing::Mode;
use crate::model::{is_state_key, URL_PATH_ENCODE};

use crate::sync::headers::is_content_hashed;
use crate::sync::plan::{Action, Plan};

/// Above this many paths, one `/*` is cheaper (a wildcard counts as one path) and stays far
/// inside CloudFront's limits (3,000 paths or 15 wildcards in progress).
pub(crate) const MAX_PATHS: usize = 15;

/// The viewer path of `key` (relative to the target at `prefix`), given the origin's path.
fn viewer_path(prefix: &str, key: &str, origin_path: &str) -> String {
    let full = format!("/{prefix}{key}");
    let origin_path = origin_path.trim_end_matches('/');
    let path = match full.strip_prefix(origin_path) {
        Some(rest) if !origin_path.is_empty() && rest.starts_with('/') => rest.to_string(),
        _ => full,
    };
    utf8_percent_encode(&path, URL_PATH_ENCODE).to_string()
}

/// What to invalidate after `plan`: never content-hashed assets (new names, immutable); changed
/// or deleted unhashed files; for the index document, every route in `website` mode (each client
/// route caches its own copy), `/` and the index in `private` mode (all routes share it).
pub(crate) fn invalidation_paths(
    plan: &Plan,
    mode: Mode,
    prefix: &str,
    origin_path: &str,
    index: &str,
) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for change in plan.changes.iter().filter(|c| !is_state_key(&c.key)) {
        let immutable = match change.action {
            Action::Delete => is_content_hashed(&change.key),
            _ => change
                .headers()
                .is_some_and(super::super::model::ObjectHeaders::is_immutable),
        };
        if immutable {
            continue;
        }
        if change.key == index {
            match mode {
                Mode::Website => return vec!["/*".into()],
                Mode::Private => {
                    paths.insert(viewer_path(prefix, "", origin_path));
                }
            }
        } else if let Some(dir) = change.key.strip_suffix(index).filter(|d| d.ends_with('/')) {
            paths.insert(viewer_path(prefix, dir, origin_path));
        }
        paths.insert(viewer_path(prefix, &change.key, origin_path));
    }
    if paths.len() > MAX_PATHS {
        return vec!["/*".into()];
    }
    paths.into_iter().collect()
}

/// Same distribution, same paths, same content → same reference, so a retried push reuses the
/// invalidation instead of paying for a second one.
pub(crate) fn caller_reference(distribution: &str, paths: &[String], plan: &Plan) -> String {
    let mut hasher = Sha256::new();
    hasher.update(distribution.as_bytes());
    for path in paths {
        hasher.update(b"\n");
        hasher.update(path.as_bytes());
    }
    for change in &plan.changes {
        hasher.update(b"\n");
        hasher.update(change.key.as_bytes());
        if let Some(file) = &change.file {
            hasher.update(file.sha256.as_bytes());
        }
    }
    format!("spadeploy-{}", &hex::encode(hasher.finalize())[..32])
}

/// Creates the invalidation; backs off while CloudFront has too many in progress.
pub(crate) async fn invalidate(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &str,
    paths: &[String],
    reference: &str,
    endpoint: &str,
) -> Result<String, ApiError> {
    let resource = format!("arn:aws:cloudfront::*:distribution/{distribution}");
    let batch = InvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()
                .map_err(|e| build_error(&resource, e))?,
        )
        .caller_reference(reference)
        .build()
        .map_err(|e| build_error(&resource, e))?;
    let mut delay = Duration::from_secs(5);
    loop {
        let result = cloudfront
            .create_invalidation()
            .distribution_id(distribution)
            .invalidation_batch(batch.clone())
            .send()
            .await;
        match result {
            Ok(out) => {
                return Ok(out
                    .invalidation()
                    .map(|i| i.id().to_string())
                    .unwrap_or_default())
            }
            Err(err) => {
                let err = api_error(
                    err,
                    "cloudfront:CreateInvalidation",
                    resource.clone(),
                    endpoint,
                );
                if err.code() != Some("TooManyInvalidationsInProgress")
                    || delay > Duration::from_secs(80)
                {
                    return Err(err);
                }
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

fn build_error(resource: &str, e: aws_sdk_cloudfront::error::BuildError) -> ApiError {
    ApiError::Service {
        action: "cloudfront:CreateInvalidation",
        resource: resource.to_string(),
        code: String::new(),
        detail: e.to_string(),
    }
}

/// Polls until the invalidation is completed (compared case-insensitively: emulators differ),
/// calling `on_poll(status, elapsed)` after each look.
pub(crate) async fn wait(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &str,
    id: &str,
    timeout: Duration,
    endpoint: &str,
    on_poll: &dyn Fn(&str, Duration),
) -> Result<(), ApiError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        let out = cloudfront
            .get_invalidation()
            .distribution_id(distribution)
            .id(id)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    e,
                    "cloudfront:GetInvalidation",
                    format!("arn:aws:cloudfront::*:distribution/{distribution}"),
                    endpoint,
                )
            })?;
        let status = out
            .invalidation()
            .map(|i| i.status().to_string())
            .unwrap_or_default();
        on_poll(&status, started.elapsed());
        if status.eq_ignore_ascii_case("completed") {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(ApiError::Service {
                action: "cloudfront:GetInvalidation",
                resource: id.to_string(),
                code: "Timeout".into(),
                detail: format!(
                    "still {status} after {} s; it goes on in CloudFront, check it later with \
                     `aws cloudfront get-invalidation --distribution-id {distribution} --id {id}`",
                    timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LocalFile, RemoteObject};
    use crate::state::release::{Record, RecordedObject};

    use crate::sync::plan::{plan, Known, PlanOptions};

    fn file(key: &str, cache: &str) -> LocalFile {
        LocalFile {
            key: key.into(),
            source: crate::model::Source::File(key.into()),
            size: 1,
            sha256: format!("new-{key}"),
            headers: crate::model::ObjectHeaders {
                content_type: "x".into(),
                cache_control: cache.into(),
            },
        }
    }

    /// A plan where every given file changed and `deleted` left the build.
    fn changed(files: &[LocalFile], deleted: &[&str]) -> Plan {
        let remote: Vec<RemoteObject> = files
            .iter()
            .map(|f| f.key.as_str())
            .chain(deleted.iter().copied())
            .map(|k| RemoteObject {
                key: k.into(),
                size: 1,
                etag: "e".into(),
            })
            .collect();
        let objects = remote
            .iter()
            .map(|r| {
                let entry = RecordedObject {
                    sha256: "old".into(),
                    size: 1,
                    etag: "e".into(),
                    headers: files.first().map(|f| f.headers.clone()).unwrap_or(
                        crate::model::ObjectHeaders {
                            content_type: "x".into(),
                            cache_control: "x".into(),
                        },
                    ),
                };
                (r.key.clone(), entry)
            })
            .collect();
        let record = Record::new(objects);
        plan(
            files,
            &remote,
            Known {
                live: Some(&record),
                ..Known::default()
            },
            &PlanOptions {
                delete: true,
                ..Default::default()
            },
        )
    }

    const IMMUTABLE: &str = "public, max-age=31536000, immutable";

    /// tests/data/invalidation.tsv: mode, changed keys, deleted keys, expected paths.
    #[test]
    fn invalidation_paths_follow_the_table() {
        let table = include_str!("../../tests/data/invalidation.tsv");
        let mut cases = 0;
        for line in table
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let mode = if cols[0] == "website" {
                Mode::Website
            } else {
                Mode::Private
            };
            let split = |s: &str| -> Vec<String> {
                s.split(',')
                    .filter(|x| !x.is_empty() && *x != "-")
                    .map(String::from)
                    .collect()
            };
            let files: Vec<LocalFile> = split(cols[1])
                .iter()
                .map(|k| {
                    file(
                        k,
                        if is_content_hashed(k) {
                            IMMUTABLE
                        } else {
                            "no-cache"
                        },
                    )
                })
                .collect();
            let deleted = split(cols[2]);
            let deleted: Vec<&str> = deleted.iter().map(String::as_str).collect();
            let (prefix, origin_path) = (cols[3].trim_matches('-'), cols[4].trim_matches('-'));
            let got = invalidation_paths(
                &changed(&files, &deleted),
                mode,
                prefix,
                origin_path,
                "index.html",
            );
            assert_eq!(got, split(cols[5]), "case: {line}");
            cases += 1;
        }
        assert!(cases >= 8);
    }

    #[test]
    fn many_paths_collapse_to_one_wildcard() {
        let files: Vec<LocalFile> = (0..20)
            .map(|i| file(&format!("page{i}.txt"), "no-cache"))
            .collect();
        assert_eq!(
            invalidation_paths(&changed(&files, &[]), Mode::Private, "", "", "index.html"),
            ["/*"]
        );
    }

    #[test]
    fn caller_references_are_deterministic() {
        let p = changed(&[file("a.txt", "no-cache")], &[]);
        let paths = vec!["/a.txt".to_string()];
        assert_eq!(
            caller_reference("E1", &paths, &p),
            caller_reference("E1", &paths, &p)
        );
        assert_ne!(
            caller_reference("E1", &paths, &p),
            caller_reference("E2", &paths, &p)
        );
    }
}
