//! `verify URL`: probe a live site, with header samples from the target's live release.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::manifest::{self, TargetSettings};

use super::Outcome;
use crate::report::OutputFormat;

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// The site, e.g. https://www.example.com
    url: String,
    /// An API path and the status the API answers: --api-probe /api/health=200 (repeatable;
    /// default: the manifest's [verify] api)
    #[arg(long, value_name = "PATH=STATUS")]
    api_probe: Vec<crate::config::manifest::ApiProbe>,
    /// Also check sampled files' headers against the live release of this target
    #[command(flatten)]
    target: TargetSettings,
}

pub(super) async fn verify(
    args: VerifyArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let api = if args.api_probe.is_empty() {
        manifest.verify.api.clone()
    } else {
        args.api_probe
    };
    let settings = args.target.or(manifest.target.clone());
    let samples = match &settings.to {
        Some(target) => match crate::deploy::live_record(target, &settings).await? {
            Some(record) => header_samples(&record),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let url = args.url.clone();
    let result = tokio::task::spawn_blocking(move || {
        crate::tools::verify::verify(&url, &api, &samples, nonce)
    })
    .await
    .context("verify was interrupted")?
    .map_err(|e| anyhow::anyhow!("cannot reach the site: {e}"))?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{result}");
    }
    Ok(if result.ok {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

/// A few files of different kinds (by Content-Type) to check served headers against.
fn header_samples(
    record: &crate::state::release::Record,
) -> Vec<(String, crate::model::ObjectHeaders)> {
    let mut seen = std::collections::HashSet::new();
    record
        .objects
        .iter()
        .filter(|(key, o)| {
            !crate::sync::headers::is_html(key) && seen.insert(o.headers.content_type.clone())
        })
        .take(5)
        .map(|(key, o)| (format!("/{key}"), o.headers.clone()))
        .collect()
}
