//! `push`, `diff`, `rollback` and `prune`: flags and manifest merged into one deploy job.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use crate::cdn::request::RoutingRequest;
use crate::config::framework::BuildShape;
use crate::config::manifest::{self, TargetSettings};
use crate::deploy::{
    Build, Finished, Invalidation, Output, PushJob, Run, Safety, SharedFiles, What,
};
use crate::report::Progress;
use crate::sync::headers::HeaderRules;
use crate::sync::plan::PlanOptions;
use crate::sync::scan::ScanOptions;

use super::{target_of, CdnArgs, InvalidationArgs, Outcome, Usage};
use crate::report::OutputFormat;

const DEFAULT_KEEP_RELEASES: usize = 3;

/// Flags of everything that changes a target: `push`, `diff` and `rollback`.
#[derive(Debug, Args)]
pub(super) struct DeployArgs {
    #[command(flatten)]
    pub(super) target: TargetSettings,
    /// Plan and show the changes, then stop: no write request of any kind
    #[arg(long)]
    pub(super) dry_run: bool,
    /// With a dry run: exit 2 when there are changes, 0 when there are none (an error without
    /// --dry-run: a push that applies its changes has none pending)
    #[arg(long)]
    exit_code: bool,
    /// Transfers in flight, fixed (halved while the store throttles) [default: the manifest's
    /// `concurrency`, else 64 growing to 128 while S3 keeps up, halved when it throttles]
    #[arg(long, value_name = "N")]
    concurrency: Option<NonZeroUsize>,
    /// No progress output on stderr
    #[arg(long, short)]
    quiet: bool,
    /// Releases whose files stay in the target for open browser tabs, the new one included
    /// [default: 3, or the manifest's `keep_releases`]
    #[arg(long, value_name = "N")]
    keep_releases: Option<NonZeroUsize>,
    /// Allow a build with fewer than half as many files as the live release
    #[arg(long)]
    allow_mass_delete: bool,
    /// Take over the deploy lock even if another deploy holds it (say whose it broke)
    #[arg(long)]
    break_lock: bool,
    /// Also write a Markdown summary to FILE (written to $GITHUB_STEP_SUMMARY automatically)
    #[arg(long, value_name = "FILE")]
    summary_md: Option<PathBuf>,
    #[command(flatten)]
    pub(super) cdn: CdnArgs,
    #[command(flatten)]
    pub(super) invalidation: InvalidationArgs,
}

#[derive(Debug, Args)]
pub(super) struct PushArgs {
    /// Build directory to deploy (default: the manifest's `dir`, else ./dist)
    pub(super) dir: Option<PathBuf>,
    #[command(flatten)]
    pub(super) deploy: DeployArgs,
    /// Keep objects that are no longer in the build
    #[arg(long)]
    no_delete: bool,
    /// Re-send every file, even unchanged ones (implies --rehash)
    #[arg(long)]
    force: bool,
    /// Read and hash every build file; otherwise a file unchanged since an earlier run hashed it
    /// (same inode, size, mtime and ctime) is not read again, nor one whose content-hashed name
    /// and size are the live release's
    #[arg(long)]
    rehash: bool,
    /// Deploy a directory without a top-level index.html
    #[arg(long)]
    allow_missing_index: bool,
    /// List every object changed or deleted in the target outside spadeploy (a push repairs them)
    #[arg(long)]
    verify_remote: bool,
}

#[derive(Debug, Args)]
pub(super) struct RollbackArgs {
    /// Release id (or a unique prefix) to restore [default: the one before the live release]
    release: Option<String>,
    #[command(flatten)]
    pub(super) deploy: DeployArgs,
}

pub(super) async fn push(
    args: PushArgs,
    config: Option<&Path>,
    format: OutputFormat,
    intent: Intent,
) -> Result<Outcome> {
    let (manifest, request) = prepare(&args, manifest::load(config)?, intent);
    deploy(args.deploy, &manifest, request, format).await
}

/// The manifest with the framework's rules applied, and what the push asks beyond the flags:
/// shared by `push`, `diff` and `preview deploy`.
pub(super) fn prepare(
    args: &PushArgs,
    mut loaded: manifest::Loaded,
    intent: Intent,
) -> (manifest::Manifest, Request) {
    let base = loaded.base_dir();
    let project = loaded.project();
    let dir = args
        .dir
        .clone()
        .or_else(|| loaded.manifest.dir.as_ref().map(|d| base.join(d)))
        .or_else(|| loaded.framework_output(&project).filter(|d| d.is_dir()))
        .unwrap_or_else(|| PathBuf::from("dist"));
    if let Some(found) = loaded.apply_framework(&project, &BuildShape::of_dir(&dir)) {
        if !args.deploy.quiet {
            eprintln!("{}", found.summary());
        }
        for warning in &found.warnings {
            eprintln!("warning: {warning}");
        }
    }
    let manifest = loaded.manifest;
    if let Some(warning) = uncovered_root(&manifest, &dir) {
        eprintln!("warning: {warning}");
    }
    let missing_index = args.allow_missing_index || manifest.allow_missing_index.unwrap_or(false);
    let request = Request {
        plan: PlanOptions {
            delete: !args.no_delete,
            force: args.force,
            protect: manifest.protect.clone(),
            routing: serde_json::to_value(manifest.route_rules()).ok(),
            ..PlanOptions::default()
        },
        index: if missing_index {
            Index::Optional
        } else {
            Index::Required
        },
        intent,
        drift: if args.verify_remote {
            DriftListing::Every
        } else {
            DriftListing::Count
        },
        hashing: if args.rehash || args.force {
            Hashing::Rehash
        } else {
            Hashing::Remembered
        },
        what: What::Push,
        shared: SharedFiles::default(),
        dir,
    };
    (manifest, request)
}

pub(super) async fn prune(
    args: DeployArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let manifest = records_manifest(config, &args)?;
    let request = Request::from_records(&manifest, What::Prune);
    deploy(args, &manifest, request, format).await
}

pub(super) async fn rollback(
    args: RollbackArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let manifest = records_manifest(config, &args.deploy)?;
    let request = Request::from_records(&manifest, What::Rollback(args.release));
    deploy(args.deploy, &manifest, request, format).await
}

/// `[[spa]]` entries, none at `/`, beside a root index.html: the root's client routes answer 404
/// (the root SPA is implied only while no `[[spa]]` is listed), which is seldom what was meant.
fn uncovered_root(manifest: &manifest::Manifest, dir: &Path) -> Option<String> {
    let spas = &manifest.spa;
    let covered = spas.iter().any(|spa| spa.get_ref().folder() == "/");
    let fallback = manifest.routing.fallback == crate::config::routing::Fallback::Spa;
    let index = dir.join(manifest.routing.index_document.trim_start_matches('/'));
    (!spas.is_empty() && !covered && fallback && index.is_file()).then(|| {
        format!(
            "no [[spa]] covers `/`, so client routes of the root app ({}) answer 404; add \
             [[spa]] prefix = \"/\" if the root is an SPA too",
            manifest.routing.index_document
        )
    })
}

/// The manifest of a run that works from the target's records, with the framework rules the
/// push applied (detected from the project, and from a local target's files).
fn records_manifest(config: Option<&Path>, args: &DeployArgs) -> Result<manifest::Manifest> {
    let loaded = manifest::load(config)?;
    let to = args.target.to.clone().or(loaded.manifest.target.to.clone());
    Ok(loaded.resolve(&BuildShape::of_target(to.as_ref())))
}

/// `push` applies its plan; `diff` only shows it (a dry run); `preview deploy` applies it to a
/// preview's folder, leaving the distribution alone (no routing change, no invalidation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Intent {
    Apply,
    Diff,
    Preview,
}

/// Whether the build must hold the index document at its top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    Required,
    Optional,
}

/// Changes made outside spadeploy: counted, or each listed (`--verify-remote`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DriftListing {
    Count,
    Every,
}

/// Whether files the hash cache knows unchanged are read again (`--rehash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hashing {
    Remembered,
    Rehash,
}

/// What `push`, `diff`, `rollback` and `prune` ask of the shared deploy, beyond the flags.
pub(super) struct Request {
    pub(super) dir: PathBuf,
    /// `preview deploy`: the production release's files, copied rather than uploaded.
    pub(super) shared: SharedFiles,
    plan: PlanOptions,
    index: Index,
    intent: Intent,
    drift: DriftListing,
    hashing: Hashing,
    what: What,
}

impl Request {
    /// Runs that work from spadeploy's records in the target, not from a build.
    fn from_records(manifest: &manifest::Manifest, what: What) -> Request {
        Request {
            dir: PathBuf::from("."),
            plan: PlanOptions {
                delete: true,
                force: false,
                protect: manifest.protect.clone(),
                ..PlanOptions::default()
            },
            index: Index::Optional,
            intent: Intent::Apply,
            drift: DriftListing::Count,
            hashing: Hashing::Remembered,
            what,
            shared: SharedFiles::default(),
        }
    }
}

fn run_mode(args: &DeployArgs, manifest: &manifest::Manifest, dry_run: bool) -> Run {
    if dry_run {
        return Run::DryRun {
            exit_code: args.exit_code,
        };
    }
    Run::Apply {
        concurrency: args
            .concurrency
            .or(manifest.concurrency)
            .map(NonZeroUsize::get),
    }
}

/// `--no-invalidate` and `--wait`, or the manifest's `[cdn]`.
fn invalidation(args: &DeployArgs, manifest: &manifest::Manifest) -> Invalidation {
    let skip = args.invalidation.no_invalidate || !manifest.cdn.invalidate.unwrap_or(true);
    let wait = args.invalidation.wait || manifest.cdn.wait.unwrap_or(false);
    match (skip, wait) {
        (true, _) => Invalidation::Skip,
        (false, false) => Invalidation::Create,
        (false, true) => Invalidation::CreateAndWait,
    }
}

/// The routing request, when there is a distribution; `--verify-remote` lists its store too.
fn routing_request(
    args: &DeployArgs,
    manifest: &manifest::Manifest,
    drift: DriftListing,
) -> Option<RoutingRequest> {
    args.cdn.routing(manifest).map(|request| RoutingRequest {
        verify_store: drift == DriftListing::Every,
        ..request
    })
}

/// The command a deploy lock names as its holder's.
fn command_name(what: &What, intent: Intent) -> &'static str {
    match what {
        What::Push if intent == Intent::Preview => "spadeploy preview deploy",
        What::Push => "spadeploy push",
        What::Rollback(_) => "spadeploy rollback",
        What::Prune => "spadeploy prune",
    }
}

/// What the build is and how it is read: its folder, the files a release shares with
/// production (previews), the scan's rules, and what the release will record of its source.
fn build_of(
    manifest: &manifest::Manifest,
    dir: PathBuf,
    shared: SharedFiles,
    require_index: Option<String>,
    hashing: Hashing,
    routing: Option<serde_json::Value>,
) -> Build {
    Build {
        scan: ScanOptions {
            exclude: manifest.exclude.clone(),
            require_index,
        },
        rules: HeaderRules::new(manifest.header_rules()),
        rehash: hashing == Hashing::Rehash,
        provenance: crate::state::release::Provenance {
            source: crate::state::release::detect_source(&dir),
            routing,
            etags_listed: false,
        },
        shared,
        dir,
    }
}

/// The shared part of `push`, `diff`, `rollback` and `prune`: flags and manifest into a job, run.
pub(super) async fn deploy(
    args: DeployArgs,
    manifest: &manifest::Manifest,
    request: Request,
    format: OutputFormat,
) -> Result<Outcome> {
    let Request {
        dir,
        shared,
        plan,
        index: index_rule,
        intent,
        drift,
        hashing,
        what,
    } = request;
    let settings = args.target.clone().or(manifest.target.clone());
    let target = target_of(&settings)?;
    let routing = routing_request(&args, manifest, drift).filter(|_| intent != Intent::Preview);
    // The configured index document is the root index everywhere: required in the build,
    // uploaded last.
    let index = manifest
        .routing
        .index_document
        .trim_start_matches('/')
        .to_string();
    let dry_run = intent == Intent::Diff || args.dry_run;
    if args.exit_code && !dry_run {
        bail!(Usage(
            "--exit-code reports pending changes, so it needs --dry-run (or `spadeploy diff`)"
                .into()
        ));
    }
    let keep_releases = args
        .keep_releases
        .or(manifest.keep_releases)
        .map_or(DEFAULT_KEEP_RELEASES, NonZeroUsize::get);
    let required = (index_rule == Index::Required).then(|| index.clone());
    let job = PushJob {
        build: build_of(
            manifest,
            dir,
            shared,
            required,
            hashing,
            plan.routing.clone(),
        ),
        plan: PlanOptions {
            index,
            retain_replaced: keep_releases > 1,
            ..plan
        },
        run: run_mode(&args, manifest, dry_run),
        safety: Safety {
            keep_releases,
            allow_mass_delete: args.allow_mass_delete,
            break_lock: args.break_lock,
            command: command_name(&what, intent),
        },
        invalidation: match intent {
            Intent::Preview => Invalidation::Skip,
            _ => invalidation(&args, manifest),
        },
        output: Output {
            format,
            progress: Progress::new(args.quiet),
            summary_md: args.summary_md,
            list_drift: drift == DriftListing::Every,
            print: !(intent == Intent::Preview && format == OutputFormat::Json),
        },
        target,
    };
    Ok(
        match crate::deploy::run(job, &settings, routing, what).await? {
            Finished::ChangesPending => Outcome::ChangesPending,
            Finished::Done => Outcome::Done,
        },
    )
}
