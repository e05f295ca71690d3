//! The push pipeline, shared by `push` and `diff`: scan + read remote → plan (pure) → render,
//! then (not in a dry run) apply the files, make the routing right, invalidate.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::apply::apply;
use crate::aws::Aws;
use crate::cdn;
use crate::headers::HeaderRules;
use crate::manifest::TargetSettings;
use crate::plan::{self, Known, Plan, PlanOptions};
use crate::release::{
    is_state_key, release_ids, release_key, Record, BLOBS_PREFIX, LIVE_RECORD, PROGRESS_RECORD,
};
use crate::report::{InvalidationReport, Progress, PushReport};
use crate::routing::{Mode, Redirect, RoutingSettings};
use crate::scan::{self, ScanOptions};
use crate::setup::{self, Clients};
use crate::store::{LocalStore, ObjectStore, RemoteObject, S3Store};
use crate::target::Target;

/// How long `--wait` waits for an invalidation before giving up (it goes on in CloudFront).
const WAIT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Everything a push needs, resolved from flags and manifest.
pub struct PushJob {
    pub dir: PathBuf,
    pub target: Target,
    pub scan: ScanOptions,
    pub rules: HeaderRules,
    pub plan: PlanOptions,
    pub concurrency: usize,
    pub dry_run: bool,
    pub exit_code: bool,
    pub json: bool,
    pub progress: Progress,
    pub invalidate: bool,
    pub wait: bool,
    /// Releases whose files stay for open browser sessions (the new one included).
    pub keep_releases: usize,
    pub allow_mass_delete: bool,
    /// The commit deployed, recorded in the release.
    pub source: Option<String>,
}

/// The routing part of a push, when a distribution is given.
#[derive(Debug, Clone)]
pub struct RoutingRequest {
    pub distribution: String,
    pub mode: Option<Mode>,
    pub settings: RoutingSettings,
    pub redirects: Vec<Redirect>,
    pub fix_origin: bool,
    pub allow_public_read: bool,
}

/// Runs the push; returns true when `--exit-code` asked to signal pending changes.
pub async fn run(
    job: PushJob,
    settings: &TargetSettings,
    routing: Option<RoutingRequest>,
) -> Result<bool> {
    match job.target.clone() {
        Target::S3 { bucket, prefix } => {
            // The build is checked before any credential or network work.
            let found = scan::walk(&job.dir, &job.scan)?;
            let aws = Aws::load(settings).await?;
            let endpoint = aws.describe_endpoint();
            let store = S3Store::new(aws.s3(), bucket.clone(), prefix.clone(), endpoint.clone());
            let cdn = routing.map(|r| routing_job(&aws, r, bucket, prefix));
            sync(&store, job, found, cdn).await
        }
        Target::Local { path } => {
            if let Some(r) = routing {
                bail!(
                    "distribution {} needs an s3:// target: a local directory has no CloudFront in front of it (preview its routing with `spadeploy serve`)",
                    r.distribution
                );
            }
            refuse_overlap(&job.dir, &path)?;
            let found = scan::walk(&job.dir, &job.scan)?;
            sync(&LocalStore::new(path), job, found, None).await
        }
    }
}

/// The clients and job for the routing part, all from one SDK configuration.
fn routing_job(
    aws: &Aws,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> (Clients, setup::Job) {
    let clients = Clients {
        s3: aws.s3(),
        cloudfront: aws.cloudfront(),
        lambda: aws.lambda_edge(),
        iam: aws.iam(),
        endpoint: aws.describe_endpoint(),
    };
    let job = setup::Job {
        distribution: request.distribution,
        mode: request.mode,
        settings: request.settings,
        redirects: request.redirects,
        fix_origin: request.fix_origin,
        allow_public_read: request.allow_public_read,
        bucket,
        prefix,
        region: aws.region(),
    };
    (clients, job)
}

/// The routing plan alone (`spadeploy routing`), exactly as a push would compute it.
pub async fn plan_routing(
    settings: &TargetSettings,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Result<setup::RoutingPlan> {
    let aws = Aws::load(settings).await?;
    let (clients, job) = routing_job(&aws, request, bucket, prefix);
    setup::plan(&clients, &job).await.with_context(|| {
        format!(
            "cannot read the routing of distribution {}",
            job.distribution
        )
    })
}

/// A local target inside the build (or the reverse) would deploy into itself.
fn refuse_overlap(dir: &Path, target: &Path) -> Result<()> {
    let dir_abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let target_abs = std::path::absolute(target).unwrap_or_else(|_| target.to_path_buf());
    if target_abs.starts_with(&dir_abs) || dir_abs.starts_with(&target_abs) {
        bail!(
            "the target {} and the build directory {} overlap: deploy to a folder outside the build",
            target.display(),
            dir.display()
        );
    }
    Ok(())
}

async fn sync<S: ObjectStore>(
    store: &S,
    job: PushJob,
    found: Vec<scan::Found>,
    cdn: Option<(Clients, setup::Job)>,
) -> Result<bool> {
    let started = Instant::now();
    let files = found.len();
    let total_bytes = found.iter().map(|f| f.size).sum();
    let hashing = Arc::new(job.progress.stage("hashing", files as u64, total_bytes));
    let rules = job.rules.clone();
    let hashing_in_task = Arc::clone(&hashing);
    // Hashing (on all cores) overlaps with listing the target and reading spadeploy's records.
    let hashed = tokio::task::spawn_blocking(move || {
        scan::hash(found, &rules, &|bytes| hashing_in_task.inc(bytes))
    });
    let remote = async {
        let remote = store
            .list()
            .await
            .with_context(|| format!("cannot list {}", job.target))?;
        let live = read_record(store, &remote, LIVE_RECORD, &job.progress);
        let progress = read_record(store, &remote, PROGRESS_RECORD, &job.progress);
        let (live, progress) = tokio::join!(live, progress);
        anyhow::Ok((remote, live?, progress?))
    };
    let (local, remote) = tokio::join!(hashed, remote);
    hashing.finish();
    let local = local.context("hashing was interrupted")??;
    let (remote, live, progress) = remote.with_context(|| format!("cannot read {}", job.target))?;
    let window = read_window(
        store,
        &remote,
        &local,
        live.as_ref(),
        job.keep_releases,
        &job.progress,
    )
    .await
    .with_context(|| format!("cannot read the release history of {}", job.target))?;

    let known = Known {
        live: live.as_ref(),
        progress: progress.as_ref(),
        window: &window,
    };
    let plan = plan::plan(&local, &remote, known, &job.plan);
    let mut report = PushReport::new(job.target.to_string(), &plan, files, job.dry_run);
    // Routing is planned before anything is written, so its errors stop the push early.
    let routing = match &cdn {
        Some((clients, routing_job)) => {
            Some(setup::plan(clients, routing_job).await.with_context(|| {
                format!(
                    "cannot set up routing on distribution {}",
                    routing_job.distribution
                )
            })?)
        }
        None => None,
    };
    let invalidation = match (&cdn, &routing) {
        (Some((_, routing_job)), Some(routing_plan)) => Some(InvalidationReport {
            paths: cdn::invalidation_paths(
                &plan,
                routing_plan.mode,
                &routing_job.prefix,
                &routing_plan.origin_path(),
                &routing_job.settings.index_document,
            ),
            id: None,
            skipped: !job.invalidate,
            completed: false,
        }),
        _ => None,
    };

    if let Some((deletes, live)) = plan.mass_delete() {
        let warning = format!(
            "this push deletes {deletes} of the {live} live files: is DIR the right build? \
             Pass --allow-mass-delete if this is intended"
        );
        if !job.dry_run && !job.allow_mass_delete {
            bail!("{warning}; nothing was changed");
        }
        report.warnings.push(warning);
    }
    if !plan.drift.is_empty() {
        report.warnings.push(format!(
            "{} object(s) changed or deleted outside spadeploy since the last push ({}); this push repairs them",
            plan.drift.len(),
            plan.drift.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut pending = plan.has_changes() || routing.as_ref().is_some_and(|r| r.has_changes());
    if !job.dry_run {
        if plan.has_changes() {
            let uploading = job.progress.stage(
                "uploading",
                plan.changes.len() as u64,
                plan.transfer_bytes(),
            );
            let applied = apply(
                store,
                &plan,
                job.concurrency,
                job.source.clone(),
                &|change| uploading.inc(change.transfer_bytes()),
            )
            .await;
            uploading.finish();
            let applied = applied?;
            report.bytes_uploaded = applied.bytes_sent;
            report.release = applied.release.map(|r| r.id);
        }
        if let (Some((clients, routing_job)), Some(routing_plan)) = (&cdn, &routing) {
            let applied = if routing_plan.has_changes() {
                job.progress.note(&format!(
                    "routing: updating distribution {}",
                    routing_job.distribution
                ));
                setup::apply(clients, routing_job, routing_plan)
                    .await
                    .with_context(|| {
                        format!(
                            "the files are live, but setting up routing on distribution {} failed",
                            routing_job.distribution
                        )
                    })?
            } else {
                routing_plan.clone()
            };
            report.routing = Some(applied);
            if let Some(invalidation) = invalidation {
                report.invalidation =
                    Some(invalidate(clients, routing_job, &plan, invalidation, &job).await?);
            }
        }
        pending = false;
    } else {
        report.routing = routing;
        report.invalidation = invalidation;
    }
    report.duration_ms = started.elapsed().as_millis();
    if job.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(job.dry_run && job.exit_code && pending)
}

/// Reads one of spadeploy's records if the listing shows it; an unreadable record is skipped
/// with a warning (the objects it described are then re-sent, never trusted).
async fn read_record<S: ObjectStore>(
    store: &S,
    remote: &[RemoteObject],
    key: &str,
    progress: &Progress,
) -> Result<Option<Record>, crate::store::StoreError> {
    if !remote.iter().any(|r| r.key == key) {
        return Ok(None);
    }
    let bytes = store.read_state(key).await?;
    Ok(bytes.and_then(|bytes| match Record::from_json(&bytes) {
        Ok(record) => Some(record),
        Err(err) => {
            progress.note(&format!("warning: {key}: {err}; continuing without it"));
            None
        }
    }))
}

/// The releases in the keep-window: the live one and the `keep_releases - 1` newest, read only
/// when something could be deleted (a stale object, or a retained copy the build does not use).
async fn read_window<S: ObjectStore>(
    store: &S,
    remote: &[RemoteObject],
    local: &[scan::LocalFile],
    live: Option<&Record>,
    keep_releases: usize,
    progress: &Progress,
) -> Result<Vec<Record>, crate::store::StoreError> {
    let in_build: HashSet<&str> = local.iter().map(|f| f.key.as_str()).collect();
    let shas: HashSet<&str> = local.iter().map(|f| f.sha256.as_str()).collect();
    let deletable = remote
        .iter()
        .any(|r| match r.key.strip_prefix(BLOBS_PREFIX) {
            Some(sha) => !shas.contains(sha),
            None => !is_state_key(&r.key) && !in_build.contains(r.key.as_str()),
        });
    if keep_releases <= 1 {
        return Ok(Vec::new());
    }
    let mut window: Vec<Record> = live.cloned().into_iter().collect();
    if !deletable {
        return Ok(window);
    }
    let ids = release_ids(remote.iter().map(|r| r.key.as_str()));
    let newest = ids
        .iter()
        .rev()
        .take(keep_releases.saturating_sub(1))
        .filter(|id| live.is_none_or(|l| &l.id != *id))
        .map(|id| release_key(id));
    let keys: Vec<String> = newest.collect();
    let records = futures::future::join_all(
        keys.iter()
            .map(|key| read_record(store, remote, key, progress)),
    )
    .await;
    for record in records {
        window.extend(record?);
    }
    Ok(window)
}

async fn invalidate(
    clients: &Clients,
    routing_job: &setup::Job,
    plan: &Plan,
    mut invalidation: InvalidationReport,
    job: &PushJob,
) -> Result<InvalidationReport> {
    if invalidation.skipped || invalidation.paths.is_empty() {
        return Ok(invalidation);
    }
    let distribution = &routing_job.distribution;
    let reference = cdn::caller_reference(distribution, &invalidation.paths, plan);
    let id = cdn::invalidate(&clients.cloudfront, distribution, &invalidation.paths, &reference, &clients.endpoint)
        .await
        .with_context(|| format!("the files are live, but invalidating {} on {distribution} failed; viewers may see cached copies until they expire", invalidation.paths.join(" ")))?;
    if job.wait {
        job.progress.note(&format!(
            "waiting for invalidation {id} ({})",
            invalidation.paths.join(" ")
        ));
        cdn::wait(
            &clients.cloudfront,
            distribution,
            &id,
            WAIT_TIMEOUT,
            &clients.endpoint,
            &|status, elapsed| {
                job.progress.note(&format!(
                    "  invalidation {id}: {status} after {} s",
                    elapsed.as_secs()
                ))
            },
        )
        .await?;
        invalidation.completed = true;
    }
    invalidation.id = Some(id);
    Ok(invalidation)
}
