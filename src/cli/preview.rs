//! `preview deploy | remove | list | gc`: per-pull-request previews on the site's distribution
//! (issue 25). The build goes through the push pipeline into the preview's folder; the pure
//! parts (ids, the store's entries and their order, headroom, gc) are in `preview/`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::aws::Aws;
use crate::cdn::routing::{function_name, site_base, Routes};
use crate::config::manifest::{self, Manifest, TargetSettings};
use crate::config::target::Target;
use crate::deploy::SharedFiles;
use crate::preview::id::{pull_request_at, IdError, PreviewId};
use crate::preview::record::{self, Headroom, Pointer, PreviewTable};
use crate::preview::remote::{pointers, Site, Wiring};
use crate::report::OutputFormat;
use crate::sync::scan::{self, ScanOptions};

use super::deploy::{deploy, prepare, Intent, PushArgs};
use super::{target_of, Outcome};

#[derive(Debug, Args)]
pub(super) struct PreviewArgs {
    #[command(subcommand)]
    command: PreviewCommand,
}

#[derive(Debug, Subcommand)]
enum PreviewCommand {
    /// Push the build as preview ID, served at https://ID.<[preview] domain>/ within seconds:
    /// files under the target's _previews/ID/, its routing and pointer in the KeyValueStore
    /// (`--json`: one document, the preview's, instead of the push's report)
    Deploy(PreviewDeployArgs),
    /// Remove a preview: its pointer first (it answers 404 at once), then its keys and files
    Remove(RemoveArgs),
    /// List the previews: id, URL, release, age, size, keys used, and the store's headroom
    List(SiteArgs),
    /// Remove previews not deployed for a while, except those kept
    Gc(GcArgs),
}

#[derive(Debug, Args)]
struct PreviewDeployArgs {
    /// Preview id, made DNS-safe [default: pr-N from the GitHub pull_request event]
    #[arg(long)]
    id: Option<String>,
    /// Deploy a pull request from a fork (its code is unreviewed; refused by default)
    #[arg(long)]
    allow_fork: bool,
    /// Ask viewers for a password: VAR names the environment variable holding `user:password`
    /// (the store keeps only a hash of the header browsers send)
    #[arg(long, value_name = "VAR")]
    basic_auth_env: Option<String>,
    #[command(flatten)]
    push: PushArgs,
}

/// The site previews belong to, for the commands that do not push.
#[derive(Debug, Args)]
struct SiteArgs {
    #[command(flatten)]
    target: TargetSettings,
    /// The site's distribution [default: the manifest's [cdn] distribution]
    #[arg(long, value_name = "ID")]
    distribution: Option<String>,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// The preview to remove [default: pr-N from the GitHub pull_request event]
    id: Option<String>,
    #[command(flatten)]
    site: SiteArgs,
}

#[derive(Debug, Args)]
struct GcArgs {
    /// Remove previews last deployed longer ago than this, e.g. 14d, 36h
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    older_than: Duration,
    /// Ids never removed (e.g. the open pull requests: pr-3,pr-7)
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    keep: Vec<String>,
    /// Show what would be removed, remove nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    site: SiteArgs,
}

pub(super) async fn preview(
    args: PreviewArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    match args.command {
        PreviewCommand::Deploy(args) => deploy_preview(args, config, format).await,
        PreviewCommand::Remove(args) => remove(args, config, format).await,
        PreviewCommand::List(args) => list(args, config, format).await,
        PreviewCommand::Gc(args) => gc(args, config, format).await,
    }
}

/// The site from flags and manifest: an s3:// target, a distribution and `[preview] domain`.
async fn site(
    manifest: &Manifest,
    settings: &TargetSettings,
    distribution: Option<String>,
) -> Result<Site> {
    let Target::S3 { bucket, prefix } = target_of(settings)? else {
        bail!("previews need an s3:// target behind a CloudFront distribution");
    };
    let distribution = distribution
        .or(manifest.cdn.distribution.clone())
        .context("previews are served by the site's distribution: pass --distribution or set [cdn] distribution")?;
    let domain = manifest.preview.edge().map(|e| e.domain).context(
        "no [preview] domain in spadeploy.toml: set it to the name previews live under \
         (e.g. domain = \"preview.example.com\" for *.preview.example.com)",
    )?;
    let function = function_name(&manifest.routing, &bucket, &prefix);
    let aws = Aws::load(settings).await?;
    Ok(Site::new(
        &aws,
        bucket,
        prefix,
        distribution,
        function,
        domain,
    ))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `--id`, else the pull request of the GitHub event; a fork's pull request is refused unless
/// allowed (its code runs on a subdomain of the site).
fn preview_id(flag: Option<&str>, allow_forks: bool) -> Result<PreviewId> {
    let event = std::env::var_os("GITHUB_EVENT_PATH");
    let pr = match &event {
        Some(path) => pull_request_at(Path::new(path))?,
        None => None,
    };
    if let Some(pr) = pr.as_ref().filter(|pr| pr.fork && !allow_forks) {
        bail!(
            "pull request #{} comes from a fork: its code is unreviewed and a preview runs it on \
             the site's domain; refused (pass --allow-fork or set [preview] allow_forks = true)",
            pr.number
        );
    }
    match (flag, pr) {
        (Some(raw), _) => Ok(PreviewId::new(raw)?),
        (None, Some(pr)) => Ok(pr.id()),
        (None, None) => Err(IdError::Missing.into()),
    }
}

/// What `preview deploy` did (or, in a dry run, would do) in the store.
#[derive(Debug, Serialize)]
struct DeployReport {
    id: String,
    url: String,
    release: Option<String>,
    keys_written: usize,
    table_keys: usize,
    headroom: Headroom,
    dry_run: bool,
}

async fn deploy_preview(
    args: PreviewDeployArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let (manifest, mut request) = prepare(&args.push, manifest::load(config)?, Intent::Preview);
    let allow_forks = args.allow_fork || manifest.preview.allow_forks.unwrap_or(false);
    let id = preview_id(args.id.as_deref(), allow_forks)?;
    let mut push = args.push.deploy;
    let settings = push.target.clone().or(manifest.target.clone());
    let site = site(&manifest, &settings, push.cdn.distribution.clone()).await?;
    let production = Target::S3 {
        bucket: site.bucket.clone(),
        prefix: site.prefix.clone(),
    };
    let (wiring, live) = tokio::join!(
        site.wiring(),
        crate::deploy::live_record(&production, &settings)
    );
    let wiring = wiring?;
    // Files identical to production's live release are copied within the bucket, not sent.
    if let Some(live) = live? {
        request.shared = SharedFiles::of(&live, &site.prefix);
    }
    let auth = basic_auth(args.basic_auth_env.as_deref())?;
    let mut plan = plan(&site, &wiring, &manifest, &request.dir, &id, auth).await?;
    let dry_run = push.dry_run;
    let wait = push.invalidation.wait;
    push.target.to = Some(Target::S3 {
        bucket: site.bucket.clone(),
        prefix: site.preview_prefix(&id),
    });
    let preview_target = push.target.clone().or(settings.clone());
    deploy(push, &manifest, request, format).await?;
    let release = match dry_run {
        true => None,
        false => crate::deploy::live_record(&target_of(&preview_target)?, &preview_target)
            .await?
            .map(|r| r.id),
    };
    let keys_written = match &release {
        Some(release) => {
            plan.pointer.release = release.clone();
            let writes = record::deploy_writes(&id, &plan.table, &plan.pointer, &plan.held);
            site.write(&wiring, writes).await?
        }
        None => 0,
    };
    let report = DeployReport {
        url: site.url(&id),
        id: id.to_string(),
        release,
        keys_written,
        table_keys: plan.table.entries.len(),
        headroom: plan.headroom,
        dry_run,
    };
    print_deploy(&report, format)?;
    match &report.release {
        Some(release) if wait => wait_until_live(&report.url, release).await,
        _ => Ok(Outcome::Done),
    }
}

/// How long `--wait` asks the preview's URL for the new release.
const WAIT_TIMEOUT: Duration = Duration::from_secs(180);

/// `--wait`: until the preview's URL answers with `release`.
async fn wait_until_live(url: &str, release: &str) -> Result<Outcome> {
    let (url, release) = (url.to_string(), release.to_string());
    let took = tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(10))
            .build();
        let probe = || crate::preview::ready::served_release(&agent, &url);
        crate::preview::ready::wait_for(&release, WAIT_TIMEOUT, Duration::from_secs(2), probe)
    })
    .await?;
    match took {
        Some(took) => {
            eprintln!(
                "the preview answers with the new release after {}s",
                took.as_secs()
            );
            Ok(Outcome::Done)
        }
        None => bail!(
            "the preview's URL did not answer with the new release within {}s (the pointer is \
             written; the store's edge copies may still be catching up, or the preview domain's \
             DNS and certificate are not set up)",
            WAIT_TIMEOUT.as_secs()
        ),
    }
}

/// What a preview deploy writes to the store, decided before anything is written (a dry run
/// shows it): the table of the build's pages, what the store holds of the preview, the
/// pointer, the headroom. Refuses a preview over `[preview] max` or one the store cannot hold.
struct Plan {
    table: PreviewTable,
    held: crate::cdn::kvs::Table,
    pointer: Pointer,
    headroom: Headroom,
}

async fn plan(
    site: &Site,
    wiring: &Wiring,
    manifest: &Manifest,
    dir: &Path,
    id: &PreviewId,
    auth: Option<String>,
) -> Result<Plan> {
    let options = ScanOptions {
        exclude: manifest.exclude.clone(),
        require_index: None,
    };
    let found = scan::walk(dir, &options)?;
    let keys = found.iter().map(|f| f.key.as_str());
    let routes =
        Routes::derive(&manifest.route_rules(), &wiring.base, keys).map_err(anyhow::Error::msg)?;
    let table = PreviewTable::of(id, &routes)?;
    let previous = site.pointer(&wiring.store_arn, id).await?;
    guard_count(site, manifest, id, previous.is_some()).await?;
    let held = held(site, wiring, id, &table, previous.as_ref()).await?;
    let prefix = site_base(&site.preview_prefix(id), &wiring.origin_path)?;
    let mut pointer = new_pointer(prefix, &table, previous.as_ref());
    // The release id is known after the push: a pending one of the same length sizes it.
    pointer.release = "0".repeat(32);
    pointer.auth = auth;
    let writes = record::deploy_writes(id, &table, &pointer, &held);
    let headroom = Headroom::of(wiring.store.bytes, &writes);
    if !headroom.fits() {
        bail!(
            "preview {id} needs {} bytes in the KeyValueStore, which holds {} of its {} (shared with \
             production): nothing was written. Remove previews (`spadeploy preview gc`), or trim \
             the site's pages",
            headroom.adds,
            headroom.used,
            headroom.limit
        );
    }
    Ok(Plan {
        table,
        held,
        pointer,
        headroom,
    })
}

/// The Basic-auth hash from the environment variable `var` names (`user:password`).
fn basic_auth(var: Option<&str>) -> Result<Option<String>> {
    let Some(var) = var else {
        return Ok(None);
    };
    let credentials = std::env::var(var).unwrap_or_default();
    if !credentials.contains(':') {
        bail!("--basic-auth-env {var}: set {var} to user:password (it is empty or has no `:`)");
    }
    Ok(Some(record::auth_hash(&credentials)))
}

fn new_pointer(prefix: String, table: &PreviewTable, previous: Option<&Pointer>) -> Pointer {
    let now = now();
    Pointer {
        prefix,
        release: String::new(),
        table: table.hash.clone(),
        chunks: table.chunks,
        keys: table.entries.len(),
        bytes: table.bytes(),
        created: previous.map_or(now, |p| p.created),
        updated: now,
        auth: None,
    }
}

/// `[preview] max`: a new preview is refused when the site already has that many.
async fn guard_count(site: &Site, manifest: &Manifest, id: &PreviewId, exists: bool) -> Result<()> {
    let max = manifest.preview.max();
    if exists {
        return Ok(());
    }
    let others = site
        .folders()
        .await?
        .into_iter()
        .filter(|other| other != id)
        .count();
    if others >= max {
        bail!(
            "the site has {others} previews, [preview] max = {max}: nothing was written. Remove \
             some (`spadeploy preview gc --older-than 7d`), or raise max"
        );
    }
    Ok(())
}

/// What the store holds under the preview's id: nothing before its first deploy; its table and
/// pointer when the table is unchanged (no listing); else a listing says.
async fn held(
    site: &Site,
    wiring: &Wiring,
    id: &PreviewId,
    table: &PreviewTable,
    previous: Option<&Pointer>,
) -> Result<crate::cdn::kvs::Table> {
    Ok(match previous {
        None => Default::default(),
        Some(p) if p.table == table.hash => {
            let mut held = table.entries.clone();
            held.insert(record::pointer_key(id), String::new());
            held
        }
        Some(_) => record::held_by(&site.preview_keys(&wiring.store_arn).await?, id),
    })
}

fn print_deploy(report: &DeployReport, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        crate::report::stdout::println(serde_json::to_string_pretty(
            &serde_json::json!({ "preview": report }),
        )?);
    } else {
        let verb = if report.dry_run {
            "would be live at"
        } else {
            "live at"
        };
        crate::report::stdout::println(format_args!(
            "preview {} {verb} {} (release {}): {} store keys written, {} bytes of headroom left",
            report.id,
            report.url,
            report.release.as_deref().unwrap_or("-"),
            report.keys_written,
            report.headroom.left()
        ));
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|_| !report.dry_run) {
        let line = format!("preview-url={}\npreview-id={}\n", report.url, report.id);
        crate::deploy::append(Path::new(&path), &line)?;
    }
    Ok(())
}

/// The site and its wiring, for the commands that do not push.
async fn open(args: &SiteArgs, config: Option<&Path>) -> Result<(Site, Wiring)> {
    let loaded = manifest::load(config)?;
    let manifest = loaded.manifest;
    let settings = args.target.clone().or(manifest.target.clone());
    let site = site(&manifest, &settings, args.distribution.clone()).await?;
    let wiring = site.wiring().await?;
    Ok((site, wiring))
}

/// Removes one preview: pointer first, then its keys (every table it left), then its files.
async fn remove_one(
    site: &Site,
    wiring: &Wiring,
    listed: &crate::cdn::kvs::Table,
    id: &PreviewId,
) -> Result<(usize, usize)> {
    let writes = record::remove_writes(id, &record::held_by(listed, id));
    let keys = site.write(wiring, writes).await?;
    let objects = site.delete_objects(id).await?;
    Ok((keys, objects))
}

async fn remove(args: RemoveArgs, config: Option<&Path>, format: OutputFormat) -> Result<Outcome> {
    // Removing a fork's preview is always allowed: it only deletes.
    let id = preview_id(args.id.as_deref(), true)?;
    let (site, mut wiring) = open(&args.site, config).await?;
    let listed = site.preview_keys(&wiring.store_arn).await?;
    wiring.store = crate::cdn::kvs::state(
        &site.clients.key_value_store,
        &wiring.store_arn,
        &site.clients.endpoint,
    )
    .await?;
    let (keys, objects) = remove_one(&site, &wiring, &listed, &id).await?;
    let doc = serde_json::json!({ "removed": id.as_str(), "keys": keys, "objects": objects });
    print_doc(
        &doc,
        format,
        &format!("preview {id} removed: {keys} store keys, {objects} objects"),
    )
}

fn print_doc(doc: &serde_json::Value, format: OutputFormat, human: &str) -> Result<Outcome> {
    match format {
        OutputFormat::Json => crate::report::stdout::println(serde_json::to_string_pretty(doc)?),
        OutputFormat::Human => crate::report::stdout::println(human),
    }
    Ok(Outcome::Done)
}

/// One preview as `preview list` shows it.
#[derive(Debug, Serialize)]
struct Listed {
    id: String,
    url: String,
    release: Option<String>,
    age_s: Option<u64>,
    objects: usize,
    bytes: u64,
    keys: usize,
}

/// Every preview: those with a folder and those with keys (a cut-short removal leaves either).
async fn inventory(site: &Site, wiring: &Wiring) -> Result<(Vec<Listed>, crate::cdn::kvs::Table)> {
    let listed = site.preview_keys(&wiring.store_arn).await?;
    let mut ids: BTreeSet<PreviewId> = site.folders().await?.into_iter().collect();
    ids.extend(
        listed
            .keys()
            .filter_map(|k| record::owner(k))
            .filter_map(|(id, _)| PreviewId::new(id).ok()),
    );
    let ids: Vec<PreviewId> = ids.into_iter().collect();
    let found = pointers(site, &wiring.store_arn, &ids).await?;
    let now = now();
    let mut out = Vec::new();
    for id in ids {
        let pointer = found.get(&id).cloned().flatten();
        let (objects, bytes) = site.size(&id).await?;
        out.push(Listed {
            url: site.url(&id),
            release: pointer.as_ref().map(|p| p.release.clone()),
            age_s: pointer.as_ref().map(|p| now.saturating_sub(p.updated)),
            keys: record::held_by(&listed, &id).len(),
            id: id.to_string(),
            objects,
            bytes,
        });
    }
    Ok((out, listed))
}

async fn list(args: SiteArgs, config: Option<&Path>, format: OutputFormat) -> Result<Outcome> {
    let (site, wiring) = open(&args, config).await?;
    let (previews, _) = inventory(&site, &wiring).await?;
    let headroom = Headroom::of(wiring.store.bytes, &[]);
    let doc = serde_json::json!({ "previews": previews, "store": headroom });
    let mut human = String::from("id\turl\trelease\tage\tobjects\tbytes\tkeys\n");
    for p in &previews {
        let age = p.age_s.map_or("-".into(), |s| {
            humantime::format_duration(Duration::from_secs(s)).to_string()
        });
        human.push_str(&format!(
            "{}\t{}\t{}\t{age}\t{}\t{}\t{}\n",
            p.id,
            p.url,
            p.release.as_deref().unwrap_or("(no pointer)"),
            p.objects,
            p.bytes,
            p.keys
        ));
    }
    human.push_str(&format!(
        "store: {} of {} bytes used, {} left",
        headroom.used,
        headroom.limit,
        headroom.left()
    ));
    print_doc(&doc, format, &human)
}

async fn gc(args: GcArgs, config: Option<&Path>, format: OutputFormat) -> Result<Outcome> {
    let (site, mut wiring) = open(&args.site, config).await?;
    let keep: BTreeSet<PreviewId> = args
        .keep
        .iter()
        .filter(|k| !k.is_empty())
        .map(|k| PreviewId::new(k))
        .collect::<Result<_, _>>()?;
    let (previews, listed) = inventory(&site, &wiring).await?;
    // A preview without a pointer (a cut-short deploy or removal) counts as deployed long ago.
    let now = now();
    let ages: Vec<(PreviewId, u64)> = previews
        .iter()
        .filter_map(|p| {
            Some((
                PreviewId::new(&p.id).ok()?,
                p.age_s.map_or(0, |age| now - age),
            ))
        })
        .collect();
    let chosen: Vec<PreviewId> = record::gc_select(&ages, now, args.older_than.as_secs(), &keep)
        .into_iter()
        .cloned()
        .collect();
    if !args.dry_run {
        for id in &chosen {
            wiring.store = crate::cdn::kvs::state(
                &site.clients.key_value_store,
                &wiring.store_arn,
                &site.clients.endpoint,
            )
            .await?;
            remove_one(&site, &wiring, &listed, id).await?;
        }
    }
    let ids: Vec<&str> = chosen.iter().map(PreviewId::as_str).collect();
    let doc = serde_json::json!({ "removed": ids, "dry_run": args.dry_run });
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    print_doc(
        &doc,
        format,
        &format!(
            "preview gc {verb} {} preview(s): {}",
            ids.len(),
            ids.join(", ")
        ),
    )
}
