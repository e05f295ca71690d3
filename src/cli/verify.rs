//! `verify URL`: probe a live site, with header samples from the target's live release.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;

use crate::cdn::routing::Routes;
use crate::config::framework::BuildShape;
use crate::config::manifest::{self, Manifest, TargetSettings};
use crate::config::target::Target;
use crate::state::release::Record;
use crate::tools::verify::Expected;

use super::{BaseArg, Outcome};
use crate::report::OutputFormat;

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// The site, e.g. https://www.example.com
    url: String,
    /// An API path and the status the API answers: --api-probe /api/health=200 (repeatable;
    /// default: the manifest's [verify] api)
    #[arg(long, value_name = "PATH=STATUS")]
    api_probe: Vec<crate::config::manifest::ApiProbe>,
    /// Also check the live release of this target: its pre-rendered pages, 404 page, the
    /// manifest's [[headers]] and sampled files' headers
    #[command(flatten)]
    target: TargetSettings,
    #[command(flatten)]
    base: BaseArg,
}

pub(super) async fn verify(
    args: VerifyArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let loaded = manifest::load(config)?;
    let to = args.target.to.clone().or(loaded.manifest.target.to.clone());
    let manifest = loaded.resolve(&BuildShape::of_target(to.as_ref()));
    let api = if args.api_probe.is_empty() {
        manifest.verify.api.clone()
    } else {
        args.api_probe
    };
    let settings = args.target.or(manifest.target.clone());
    let expected = match &settings.to {
        Some(target) => match crate::deploy::live_record(target, &settings).await? {
            Some(record) => {
                let prefix = match target {
                    Target::S3 { prefix, .. } => prefix.as_str(),
                    Target::Local { .. } => "",
                };
                expected(&record, &manifest, &args.base.resolve(prefix)?)?
            }
            None => Expected::default(),
        },
        None => Expected::default(),
    };
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let url = args.url.clone();
    let result = tokio::task::spawn_blocking(move || {
        crate::tools::verify::verify(&url, &api, &expected, nonce)
    })
    .await
    .context("verify was interrupted")??;
    if format == OutputFormat::Json {
        crate::report::stdout::println(serde_json::to_string_pretty(&result)?);
    } else {
        crate::report::stdout::print(&result);
    }
    Ok(if result.ok {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

/// What the live release says the site answers: a few pre-rendered pages (by the URL visitors
/// use), the 404 page, the route table, and header samples.
fn expected(record: &Record, manifest: &Manifest, base: &str) -> Result<Expected> {
    let routes = Routes::derive(
        &manifest.route_rules(),
        base,
        record.objects.keys().map(String::as_str),
    )
    .map_err(anyhow::Error::msg)?;
    let index = &routes.index;
    let not_found = routes.not_found_key.clone();
    let pages = record
        .objects
        .iter()
        .filter(|(key, _)| key.ends_with(".html") && Some(*key) != not_found.as_ref())
        .filter(|(key, _)| key.as_str() != index.as_str())
        .filter(|(key, _)| {
            !routes
                .spas
                .iter()
                .any(|spa| spa.index == format!("{base}{key}"))
        })
        .take(5)
        .map(|(key, object)| (visitor_url(&routes, base, key), object.sha256.clone()))
        .collect();
    Ok(Expected {
        samples: header_samples(record, base),
        pages,
        not_found: not_found.and_then(|key| record.objects.get(&key).map(|o| o.sha256.clone())),
        routes: Some(routes),
    })
}

/// The URL a visitor uses for a page: its folder for `dir/index.html`, the clean URL for
/// `page.html` when clean URLs are on.
fn visitor_url(routes: &Routes, base: &str, key: &str) -> String {
    if let Some(folder) = key.strip_suffix(&routes.index) {
        if folder.is_empty() || folder.ends_with('/') {
            return format!("{base}{folder}");
        }
    }
    match key.strip_suffix(".html") {
        Some(stem) if routes.clean_urls => format!("{base}{stem}"),
        _ => format!("{base}{key}"),
    }
}

/// A few files of different kinds (by Content-Type) to check served headers against.
fn header_samples(record: &Record, base: &str) -> Vec<(String, crate::model::ObjectHeaders)> {
    let mut seen = std::collections::HashSet::new();
    record
        .objects
        .iter()
        .filter(|(key, o)| {
            !crate::sync::headers::is_html(key) && seen.insert(o.headers.content_type.clone())
        })
        .take(5)
        .map(|(key, o)| (format!("{base}{key}"), o.headers.clone()))
        .collect()
}
