//! Installing the edge functions that carry the route table to CloudFront (their code is
//! `edge_code.rs`'s): what is published of them, read back; Lambda@Edge created or updated and a
//! numbered version published (old ones pruned); the CloudFront Function created or updated,
//! associated with its KeyValueStore, and published to LIVE. Each published function's
//! description names its code hash and the target it serves.
//!
//! Over 600 lines with its tests because both runtimes share the observed state (`Published`,
//! `Installed`) and the descriptions; split it by runtime if either grows.

use std::io::Write;
use std::time::Duration;

use aws_sdk_cloudfront::types::{
    FunctionConfig, FunctionRuntime, FunctionStage, KeyValueStoreAssociation,
    KeyValueStoreAssociations,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LastUpdateStatus, Runtime};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::{api_error, ApiError};
use crate::cdn::edge_code::{code_hash, code_owner, code_table};
use crate::cdn::edge_role;

/// Lambda@Edge needs a current Node.js runtime with an async handler.
const LAMBDA_RUNTIME: Runtime = Runtime::Nodejs22x;

/// What an install did, or (in a dry run) would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FunctionAction {
    Unchanged,
    Create,
    Update,
}

/// The installed function's state as observed, before any change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Installed {
    Missing,
    /// Deployed with the wanted code; `arn` is what to associate (a version ARN for Lambda).
    Current {
        arn: String,
    },
    /// Exists with other code; `etag` is the CloudFront Function's DEVELOPMENT ETag.
    Stale {
        etag: Option<String>,
    },
}

impl Installed {
    pub(crate) fn action(&self) -> FunctionAction {
        match self {
            Installed::Missing => FunctionAction::Create,
            Installed::Current { .. } => FunctionAction::Unchanged,
            Installed::Stale { .. } => FunctionAction::Update,
        }
    }
}

/// What is published of the function, as observed: the code hashes it runs, each with the ARN to
/// associate. Which one is wanted is decided later, from the release (`installed`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Published {
    pub exists: bool,
    /// CloudFront Function: the DEVELOPMENT stage's ETag, which an update needs.
    pub etag: Option<String>,
    pub versions: Vec<(String, String)>,
    /// The targets (`routing::target_id`) its published code says it serves.
    pub owners: Vec<String>,
    /// The route table the live CloudFront Function reads from its KeyValueStore.
    pub table: Option<String>,
}

impl Published {
    /// Another target's function under this name: taking it over would break that site.
    pub(crate) fn foreign_owner(&self, owner: &str) -> Option<&str> {
        self.owners
            .iter()
            .find(|o| o.as_str() != owner)
            .map(String::as_str)
    }

    pub(crate) fn installed(&self, hash: &str) -> Installed {
        match self.versions.iter().find(|(h, _)| h == hash) {
            Some((_, arn)) => Installed::Current { arn: arn.clone() },
            None if self.exists => Installed::Stale {
                etag: self.etag.clone(),
            },
            None => Installed::Missing,
        }
    }
}

const DESCRIPTION_PREFIX: &str = "spadeploy SPA routing, code sha256:";
/// Separates the code hash from the owning target in a description.
const DESCRIPTION_OWNER: &str = ", target ";

fn description(hash: &str, owner: &str) -> String {
    format!("{DESCRIPTION_PREFIX}{hash}{DESCRIPTION_OWNER}{owner}")
}

/// The code hash and owner a description names (descriptions before owners were recorded name
/// none).
fn parse_description(description: &str) -> Option<(&str, Option<&str>)> {
    let rest = description.strip_prefix(DESCRIPTION_PREFIX)?;
    Some(match rest.split_once(DESCRIPTION_OWNER) {
        Some((hash, owner)) => (hash, Some(owner)),
        None => (rest, None),
    })
}

/// A zip holding `index.mjs`, byte-identical for identical code.
fn lambda_zip(code: &str, name: &str) -> Result<Vec<u8>, ApiError> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let written = zip
        .start_file("index.mjs", options)
        .and_then(|()| zip.write_all(code.as_bytes()).map_err(Into::into))
        .and_then(|()| zip.finish().map(drop));
    written.map_err(|e| ApiError::Service {
        action: "lambda:CreateFunction",
        resource: lambda_arn(name),
        code: String::new(),
        detail: format!("cannot package the function's code: {e}"),
    })?;
    Ok(buffer.into_inner())
}

/// `arn` with exactly the `:version` qualifier.
fn qualified(arn: &str, version: &str) -> String {
    let base = match arn.matches(':').count() {
        7 => arn.rsplit_once(':').map_or(arn, |(base, _)| base),
        _ => arn,
    };
    format!("{base}:{version}")
}

/// Lambda@Edge: the published versions and the code hash each carries.
pub(crate) async fn probe_lambda(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    endpoint: &str,
) -> Result<Published, ApiError> {
    let mut published = Published::default();
    let mut pages = lambda
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                let err = api_error(
                    err,
                    "lambda:ListVersionsByFunction",
                    lambda_arn(name),
                    endpoint,
                );
                return match err.code() {
                    Some("ResourceNotFoundException") => Ok(Published::default()),
                    _ => Err(err),
                };
            }
        };
        // AWS answers ResourceNotFoundException for a missing function; some emulators list nothing.
        published.exists |= !page.versions().is_empty();
        // A version without an ARN could not be associated: it does not count as installed.
        published
            .versions
            .extend(page.versions().iter().filter_map(|v| {
                let (Some(arn), Some(version)) = (v.function_arn(), v.version()) else {
                    return None;
                };
                let (hash, _) = parse_description(v.description()?)?;
                (version != "$LATEST").then(|| (hash.to_string(), qualified(arn, version)))
            }));
        published
            .owners
            .extend(page.versions().iter().filter_map(|v| {
                let (_, owner) = parse_description(v.description()?)?;
                owner.map(str::to_string)
            }));
    }
    Ok(published)
}

fn lambda_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:*:function:{name}")
}

/// Published Lambda@Edge versions a publication keeps: the new one, the one it replaces (CloudFront
/// serves it until the update has spread) and the one before.
const KEEP_LAMBDA_VERSIONS: u64 = 3;

/// Deletes the numbered versions older than the newest KEEP_LAMBDA_VERSIONS, so versions do not pile
/// up. Best effort: Lambda refuses to delete a version while CloudFront still holds replicas of it
/// (for hours after it is disassociated); such a version is simply tried again at the next
/// publication, and a failure here never fails the push.
async fn delete_old_versions(lambda: &aws_sdk_lambda::Client, name: &str, newest: u64) {
    let mut old = Vec::new();
    let mut pages = lambda
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .send();
    while let Some(Ok(page)) = pages.next().await {
        old.extend(
            page.versions()
                .iter()
                .filter_map(|v| v.version()?.parse::<u64>().ok())
                .filter(|v| v + KEEP_LAMBDA_VERSIONS <= newest),
        );
    }
    for version in old {
        let _ = lambda
            .delete_function()
            .function_name(name)
            .qualifier(version.to_string())
            .send()
            .await;
    }
}

/// Creates or updates the Lambda@Edge function and publishes a numbered version; returns its ARN.
pub(crate) async fn install_lambda(
    lambda: &aws_sdk_lambda::Client,
    iam: &aws_sdk_iam::Client,
    name: &str,
    code: &str,
    state: &Installed,
    endpoint: &str,
) -> Result<String, ApiError> {
    match state {
        Installed::Current { arn } => Ok(arn.clone()),
        Installed::Missing => {
            let role = edge_role::ensure(iam, endpoint).await?;
            create_lambda(lambda, name, code, &role, endpoint).await
        }
        Installed::Stale { .. } => {
            // The new code runs as the role: check it has not been widened since it was made.
            edge_role::ensure(iam, endpoint).await?;
            update_lambda(lambda, name, code, endpoint).await
        }
    }
}

/// How often a new function is retried while IAM has not yet made its new role assumable.
const ROLE_PROPAGATION_ATTEMPTS: u64 = 6;

async fn create_lambda(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    code: &str,
    role: &str,
    endpoint: &str,
) -> Result<String, ApiError> {
    let zip = lambda_zip(code, name)?;
    let mut attempt = 0;
    loop {
        let created = lambda
            .create_function()
            .function_name(name)
            .runtime(LAMBDA_RUNTIME)
            .handler("index.handler")
            .role(role)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(zip.clone()))
                    .build(),
            )
            .description(description(
                &code_hash(code),
                code_owner(code).unwrap_or_default(),
            ))
            .timeout(5)
            .memory_size(128)
            .publish(true)
            .send()
            .await;
        let err = match created {
            Ok(out) => return published_arn(out.function_arn(), out.version(), name),
            Err(err) => api_error(
                err,
                "lambda:CreateFunction (and iam:PassRole)",
                lambda_arn(name),
                endpoint,
            ),
        };
        // A role created seconds ago may not be assumable yet (IAM is eventually consistent).
        let role_not_ready = err.code() == Some("InvalidParameterValueException")
            && err.to_string().contains("cannot be assumed");
        if !role_not_ready || attempt >= ROLE_PROPAGATION_ATTEMPTS {
            return Err(err);
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_secs(2 * attempt)).await;
    }
}

async fn update_lambda(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    code: &str,
    endpoint: &str,
) -> Result<String, ApiError> {
    lambda
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(lambda_zip(code, name)?))
        .send()
        .await
        .map_err(|e| api_error(e, "lambda:UpdateFunctionCode", lambda_arn(name), endpoint))?;
    wait_until_updated(lambda, name, endpoint).await?;
    let published = lambda
        .publish_version()
        .function_name(name)
        .description(description(
            &code_hash(code),
            code_owner(code).unwrap_or_default(),
        ))
        .send()
        .await
        .map_err(|e| api_error(e, "lambda:PublishVersion", lambda_arn(name), endpoint))?;
    let arn = published_arn(published.function_arn(), published.version(), name)?;
    if let Some(newest) = published.version().and_then(|v| v.parse().ok()) {
        delete_old_versions(lambda, name, newest).await;
    }
    Ok(arn)
}

/// The version ARN Lambda answered with; an answer without one cannot be associated.
fn published_arn(arn: Option<&str>, version: Option<&str>, name: &str) -> Result<String, ApiError> {
    match (arn, version) {
        (Some(arn), Some(version)) => Ok(qualified(arn, version)),
        _ => Err(ApiError::Service {
            action: "lambda:PublishVersion",
            resource: lambda_arn(name),
            code: String::new(),
            detail: "the answer named no function version to associate".into(),
        }),
    }
}

async fn wait_until_updated(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    endpoint: &str,
) -> Result<(), ApiError> {
    for attempt in 0..60u64 {
        let config = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    e,
                    "lambda:GetFunctionConfiguration",
                    lambda_arn(name),
                    endpoint,
                )
            })?;
        match config.last_update_status() {
            Some(LastUpdateStatus::InProgress) => {
                tokio::time::sleep(Duration::from_millis(500 * attempt.min(4) + 250)).await;
            }
            Some(LastUpdateStatus::Failed) => {
                return Err(ApiError::Service {
                    action: "lambda:UpdateFunctionCode",
                    resource: lambda_arn(name),
                    code: "UpdateFailed".into(),
                    detail: config
                        .last_update_status_reason()
                        .unwrap_or("the update failed")
                        .to_string(),
                })
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:cloudfront::*:function/{name}")
}

/// The ARN CloudFront gives function `name` in the account (and partition) of `distribution_arn`.
pub(crate) fn function_arn_in(distribution_arn: &str, name: &str) -> String {
    match distribution_arn.split_once(":distribution/") {
        Some((account, _)) => format!("{account}:function/{name}"),
        None => function_arn(name),
    }
}

/// CloudFront Function: the LIVE stage's code hash, under its ARN `arn`. Only a function that
/// was never published needs a second read, to tell it from a missing one; the DEVELOPMENT
/// stage's ETag, which an update needs, is read by the update.
pub(crate) async fn probe_function(
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
    arn: &str,
    endpoint: &str,
) -> Result<Published, ApiError> {
    let live = cloudfront
        .get_function()
        .name(name)
        .stage(FunctionStage::Live)
        .send()
        .await;
    match live {
        Ok(live) => {
            let code = live
                .function_code()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&code);
            Ok(Published {
                exists: true,
                etag: None,
                versions: vec![(hex::encode(Sha256::digest(&code)), arn.to_string())],
                owners: code_owner(&text).map(str::to_string).into_iter().collect(),
                table: code_table(&text).map(str::to_string),
            })
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(aws_sdk_cloudfront::operation::get_function::GetFunctionError::is_no_such_function_exists) =>
        {
            match development_etag(cloudfront, name, endpoint).await {
                Ok(etag) => Ok(Published {
                    exists: true,
                    etag: Some(etag),
                    ..Published::default()
                }),
                Err(err) if err.code() == Some("NoSuchFunctionExists") => Ok(Published::default()),
                Err(err) => Err(err),
            }
        }
        Err(err) => Err(api_error(
            err,
            "cloudfront:GetFunction",
            function_arn(name),
            endpoint,
        )),
    }
}

/// What infrastructure as code declared of a CloudFront Function (its DEVELOPMENT stage, which
/// a publish makes LIVE): checked by content mode and `doctor`, and kept as it is when content
/// mode publishes code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    pub runtime: String,
    pub comment: String,
    /// The ARNs of the KeyValueStores associated with it.
    pub stores: Vec<String>,
}

/// The configuration of the function `name`, or `None` when there is no such function.
pub(crate) async fn describe_declared(
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
    endpoint: &str,
) -> Result<Option<Declared>, ApiError> {
    let described = cloudfront
        .describe_function()
        .name(name)
        .stage(FunctionStage::Development)
        .send()
        .await;
    let out = match described {
        Ok(out) => out,
        Err(err) => {
            let err = api_error(
                err,
                "cloudfront:DescribeFunction",
                function_arn(name),
                endpoint,
            );
            return match err.code() {
                Some("NoSuchFunctionExists") => Ok(None),
                _ => Err(err),
            };
        }
    };
    let Some(config) = out.function_summary().and_then(|s| s.function_config()) else {
        return Ok(None);
    };
    Ok(Some(Declared {
        runtime: config.runtime().as_str().to_string(),
        comment: config.comment().to_string(),
        stores: config
            .key_value_store_associations()
            .map(|a| {
                a.items()
                    .iter()
                    .map(|s| s.key_value_store_arn().to_string())
                    .collect()
            })
            .unwrap_or_default(),
    }))
}

/// The DEVELOPMENT stage's ETag: what UpdateFunction's If-Match needs.
async fn development_etag(
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
    endpoint: &str,
) -> Result<String, ApiError> {
    let described = cloudfront
        .describe_function()
        .name(name)
        .stage(FunctionStage::Development)
        .send()
        .await
        .map_err(|e| {
            api_error(
                e,
                "cloudfront:DescribeFunction",
                function_arn(name),
                endpoint,
            )
        })?;
    described
        .e_tag()
        .map(str::to_string)
        .ok_or_else(|| ApiError::Service {
            action: "cloudfront:DescribeFunction",
            resource: function_arn(name),
            code: String::new(),
            detail: "the answer carried no ETag, which an update needs (If-Match)".into(),
        })
}

fn summary_arn(summary: Option<&aws_sdk_cloudfront::types::FunctionSummary>) -> Option<String> {
    summary
        .and_then(|s| s.function_metadata())
        .map(|m| m.function_arn().to_string())
}

/// Creates or updates the CloudFront Function (associated with the KeyValueStore `store`, if
/// any) and publishes it to LIVE; returns its ARN. A function infrastructure as code `declared`
/// keeps its comment and associations: only the code changes.
pub(crate) async fn install_function(
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
    code: &str,
    store: Option<&str>,
    declared: Option<&Declared>,
    state: &Installed,
    endpoint: &str,
) -> Result<String, ApiError> {
    let config = match declared {
        Some(declared) => declared_config(declared, name)?,
        None => function_config(code, name, store)?,
    };
    let blob = aws_sdk_cloudfront::primitives::Blob::new(code.as_bytes().to_vec());
    let (etag, summary) = match state {
        Installed::Current { arn } => return Ok(arn.clone()),
        Installed::Missing => {
            let out = cloudfront
                .create_function()
                .name(name)
                .function_config(config)
                .function_code(blob)
                .send()
                .await
                .map_err(|e| {
                    api_error(e, "cloudfront:CreateFunction", function_arn(name), endpoint)
                })?;
            (out.e_tag, out.function_summary)
        }
        Installed::Stale { etag } => {
            let etag = match etag {
                Some(etag) => etag.clone(),
                None => development_etag(cloudfront, name, endpoint).await?,
            };
            let out = cloudfront
                .update_function()
                .name(name)
                .if_match(etag)
                .function_config(config)
                .function_code(blob)
                .send()
                .await
                .map_err(|e| {
                    api_error(e, "cloudfront:UpdateFunction", function_arn(name), endpoint)
                })?;
            (out.e_tag, out.function_summary)
        }
    };
    let (Some(etag), Some(arn)) = (etag, summary_arn(summary.as_ref())) else {
        return Err(ApiError::Service {
            action: "cloudfront:PublishFunction",
            resource: function_arn(name),
            code: String::new(),
            detail: "CloudFront's answer lacked the function's ETag or ARN, which publishing needs"
                .into(),
        });
    };
    cloudfront
        .publish_function()
        .name(name)
        .if_match(etag)
        .send()
        .await
        .map_err(|e| {
            api_error(
                e,
                "cloudfront:PublishFunction",
                function_arn(name),
                endpoint,
            )
        })?;
    Ok(arn)
}

/// The declared configuration as it is, on the runtime spadeploy's code needs (checked).
fn declared_config(declared: &Declared, name: &str) -> Result<FunctionConfig, ApiError> {
    let invalid = |e: aws_sdk_cloudfront::error::BuildError| ApiError::Service {
        action: "cloudfront:UpdateFunction",
        resource: function_arn(name),
        code: String::new(),
        detail: e.to_string(),
    };
    let stores = declared
        .stores
        .iter()
        .map(|arn| {
            KeyValueStoreAssociation::builder()
                .key_value_store_arn(arn)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let stores = match stores.is_empty() {
        true => None,
        false => Some(
            KeyValueStoreAssociations::builder()
                .quantity(i32::try_from(stores.len()).unwrap_or(i32::MAX))
                .set_items(Some(stores))
                .build()
                .map_err(invalid)?,
        ),
    };
    FunctionConfig::builder()
        .comment(&declared.comment)
        .runtime(FunctionRuntime::CloudfrontJs20)
        .set_key_value_store_associations(stores)
        .build()
        .map_err(invalid)
}

fn function_config(
    code: &str,
    name: &str,
    store: Option<&str>,
) -> Result<FunctionConfig, ApiError> {
    let invalid = |e: aws_sdk_cloudfront::error::BuildError| ApiError::Service {
        action: "cloudfront:CreateFunction",
        resource: function_arn(name),
        code: String::new(),
        detail: e.to_string(),
    };
    let stores = match store {
        Some(arn) => Some(
            KeyValueStoreAssociations::builder()
                .quantity(1)
                .items(
                    KeyValueStoreAssociation::builder()
                        .key_value_store_arn(arn)
                        .build()
                        .map_err(invalid)?,
                )
                .build()
                .map_err(invalid)?,
        ),
        None => None,
    };
    FunctionConfig::builder()
        .comment(description(
            &code_hash(code),
            code_owner(code).unwrap_or_default(),
        ))
        .runtime(FunctionRuntime::CloudfrontJs20)
        .set_key_value_store_associations(stores)
        .build()
        .map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_packages_are_reproducible_and_arns_qualified_once() {
        let zip = |code| lambda_zip(code, "f").unwrap();
        assert_eq!(zip("a"), zip("a"));
        assert_ne!(zip("a"), zip("b"));
        let arn = "arn:aws:lambda:us-east-1:1:function:f";
        assert_eq!(qualified(arn, "3"), format!("{arn}:3"));
        assert_eq!(qualified(&format!("{arn}:2"), "3"), format!("{arn}:3"));
    }

    #[test]
    fn the_wanted_code_is_found_among_published_versions() {
        let published = Published {
            exists: true,
            etag: Some("E1".into()),
            versions: vec![("h1".into(), "arn:1".into()), ("h2".into(), "arn:2".into())],
            ..Published::default()
        };
        assert_eq!(
            published.installed("h2"),
            Installed::Current {
                arn: "arn:2".into()
            }
        );
        assert_eq!(
            published.installed("h3"),
            Installed::Stale {
                etag: Some("E1".into())
            }
        );
        assert_eq!(Published::default().installed("h1"), Installed::Missing);
    }

    #[test]
    fn descriptions_name_the_target_they_serve() {
        let text = description("h1", "0123abcd");
        assert!(text.len() <= 128, "CloudFront's comment limit: {text}");
        assert_eq!(parse_description(&text), Some(("h1", Some("0123abcd"))));
        // Functions written before owners were recorded are this target's to update.
        let legacy = format!("{DESCRIPTION_PREFIX}h1");
        assert_eq!(parse_description(&legacy), Some(("h1", None)));
        let other = Published {
            exists: true,
            owners: vec!["ffff".into()],
            ..Published::default()
        };
        assert_eq!(other.foreign_owner("0123abcd"), Some("ffff"));
        assert_eq!(other.foreign_owner("ffff"), None);
    }
}
