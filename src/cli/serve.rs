//! `serve`: preview a target or build locally with CloudFront's routing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::config::framework::BuildShape;
use crate::config::manifest::{self};
use crate::config::routing::Mode;
use crate::config::target::Target;
use crate::sync::headers::HeaderRules;
use crate::sync::scan::{self, ScanOptions};
use crate::tools::serve::{ApiRoute, Previews, Routing, Site};

use super::{BaseArg, Outcome};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// What to serve (default: the manifest's local target, else its build directory, else ./dist)
    path: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Proxy a path prefix to a local API, unchanged: --api /api=http://127.0.0.1:3000
    #[arg(long, value_name = "PREFIX=URL")]
    api: Vec<ApiRoute>,
    /// Routing semantics to reproduce [default: the manifest's, else website]
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    #[command(flatten)]
    base: BaseArg,
    /// Also serve the previews in the folder's _previews/ID/ on ID.DOMAIN (browsers resolve
    /// *.localhost to this machine) [default DOMAIN: preview.localhost]
    #[arg(long, value_name = "DOMAIN", num_args = 0..=1, default_missing_value = "preview.localhost")]
    previews: Option<String>,
}

pub(super) async fn serve(args: ServeArgs, config: Option<&Path>) -> Result<Outcome> {
    let mut loaded = manifest::load(config)?;
    let base = loaded.base_dir();
    let root = match (&args.path, &loaded.manifest.target.to) {
        (Some(path), _) => path.clone(),
        (None, Some(Target::Local { path })) => path.clone(),
        (None, _) => loaded
            .manifest
            .dir
            .as_ref()
            .map_or_else(|| PathBuf::from("dist"), |d| base.join(d)),
    };
    // The routing the push applied: the framework detected from the project here and from the
    // served files.
    let project = loaded.project();
    if let Some(found) = loaded.apply_framework(&project, &BuildShape::of_dir(&root)) {
        eprintln!("{}", found.summary());
    }
    let manifest = loaded.manifest;
    if !root.is_dir() {
        bail!(
            "{} is not a directory: pass what to serve (a local target such as ./site, or a build directory)",
            root.display()
        );
    }
    // A local preview has no origin to detect the mode from: website mode, the classic design.
    let mode = manifest.mode(args.mode).unwrap_or(Mode::Website);
    let (site, previews) = sites(&args, config, &manifest, &root, mode)?;
    let apis = args.api.clone();
    let site_base = site.routes.base.clone();
    let serving = match (&site.release, site.routing_recorded) {
        (Some(id), true) => format!("release {id}, with the routing it was pushed with"),
        (Some(id), false) => format!("release {id}, with this folder's manifest routing"),
        (None, _) => "a build directory, with this folder's manifest routing".to_string(),
    };
    let preview_ids: Vec<String> = previews
        .iter()
        .flat_map(|p| p.sites.keys().map(|id| format!("{id}.{}", p.domain)))
        .collect();
    crate::tools::serve::run(site, previews, args.api, args.port, |addr| {
        // The first stdout line is the address, so scripts can read it; a closed stdout must
        // not stop the server.
        let mut banner = format!(
            "serving {} at http://{addr}{} ({mode} mode; {serving})\n",
            root.display(),
            site_base
        );
        for host in &preview_ids {
            banner.push_str(&format!(
                "  preview http://{host}:{}{}\n",
                addr.port(),
                site_base
            ));
        }
        for api in &apis {
            banner.push_str(&format!("  {}* -> {}\n", api.prefix, api.upstream));
        }
        let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
    })
    .await
    .with_context(|| {
        format!(
            "cannot serve on 127.0.0.1:{}: choose another --port",
            args.port
        )
    })?;
    Ok(Outcome::Done)
}

/// The site served from `root`, and with `--previews` each preview in its `_previews/`.
fn sites(
    args: &ServeArgs,
    config: Option<&Path>,
    manifest: &manifest::Manifest,
    root: &Path,
    mode: Mode,
) -> Result<(Site, Option<Previews>)> {
    let build_keys = |dir: &Path| {
        let options = ScanOptions {
            exclude: manifest.exclude.clone(),
            require_index: None,
        };
        scan::walk(dir, &options)
            .map(|found| found.into_iter().map(|f| f.key).collect())
            .unwrap_or_default()
    };
    // `--config FILE` asks for that manifest's routing; otherwise the release's own.
    let rules = || match config {
        Some(_) => Routing::Manifest(manifest.route_rules()),
        None => Routing::Recorded(manifest.route_rules()),
    };
    let base_url = args.base.resolve("")?;
    let site_at = |dir: &Path| {
        Site::new(
            dir.to_path_buf(),
            &base_url,
            mode,
            rules(),
            HeaderRules::new(manifest.header_rules()),
            build_keys,
        )
        .map_err(|e| anyhow::anyhow!("cannot serve {}: {e}", dir.display()))
    };
    let site = site_at(root)?;
    let previews = match &args.previews {
        Some(domain) => Some(previews(root, domain, manifest, &site_at)?),
        None => None,
    };
    Ok((site, previews))
}

/// The previews under `root`'s `_previews/`, each served as its own site.
fn previews(
    root: &Path,
    domain: &str,
    manifest: &manifest::Manifest,
    site_at: &dyn Fn(&Path) -> Result<Site>,
) -> Result<Previews> {
    let domain = crate::config::preview::PreviewDomain::try_from(domain.to_string())
        .map_err(anyhow::Error::msg)?
        .0;
    let mut sites = std::collections::BTreeMap::new();
    let folder = root.join(crate::model::PREVIEWS_PREFIX);
    for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && crate::preview::id::PreviewId::is_valid(&name) {
            sites.insert(name, site_at(&entry.path())?);
        }
    }
    Ok(Previews {
        domain,
        noindex: manifest.preview.noindex.unwrap_or(true),
        sites,
    })
}
