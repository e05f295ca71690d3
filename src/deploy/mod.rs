//! The push pipeline, shared by `push` and `diff`: scan + read remote → plan (pure) → render,
//! then (not in a dry run) apply the files, make the routing right, invalidate.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::aws::Aws;
use crate::cdn::decide::RoutingPlan;
use crate::cdn::invalidation;
use crate::cdn::observe::{observe, Clients, Observed};
use crate::cdn::request::{Job, RoutingRequest};
use crate::cdn::setup::{self, Routing};
use crate::config::manifest::TargetSettings;
use crate::config::target::Target;
use crate::model::{
    is_state_key, release_key, LocalFile, RemoteObject, BLOBS_PREFIX, LIVE_RECORD, LOCK_KEY,
    PROGRESS_RECORD,
};
use crate::report::{InvalidationReport, OutputFormat, Progress, PushReport};
use crate::state::lock;
use crate::state::release::{release_ids, Provenance, Record, ReleaseSummary};
use crate::store::{LocalStore, ReadStore, S3Store, Store, WriteStore};
use crate::sync::apply::{publish, settle, ApplyError};
use crate::sync::hash_cache::HashCache;
use crate::sync::headers::HeaderRules;
use crate::sync::plan::{self, Known, Plan, PlanOptions};
use crate::sync::scan::{self, ScanOptions};
use crate::sync::window::{self, Window};

/// Build keys per concurrently listed range: S3 answers at most 1,000 keys a page, and the rest
/// leaves room for keys the build does not have (spadeploy's state, files kept for open sessions,
/// objects added outside it), so each range usually takes one request.
const LIST_RANGE: usize = 900;

/// How long `--wait` waits for an invalidation before giving up (it goes on in CloudFront).
const WAIT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Everything a push needs, resolved from flags and manifest.
pub struct PushJob {
    pub target: Target,
    pub build: Build,
    pub plan: PlanOptions,
    pub run: Run,
    pub safety: Safety,
    pub invalidation: Invalidation,
    pub output: Output,
}

/// The build a push deploys (rollback and prune work from the target's records instead).
pub struct Build {
    pub dir: PathBuf,
    pub scan: ScanOptions,
    pub rules: HeaderRules,
    /// Read every file again, ignoring what the hash cache remembers.
    pub rehash: bool,
    /// The commit deployed and the routing, recorded in the release.
    pub provenance: Provenance,
}

/// Whether the run writes.
pub enum Run {
    /// Plan and render, then stop; with `exit_code`, exit 2 when there are changes.
    DryRun { exit_code: bool },
    Apply {
        /// Transfers in flight, as the user set it; `None`: a window that adapts.
        concurrency: Option<usize>,
    },
}

/// The guards that keep a deploy from breaking the site.
pub struct Safety {
    /// Releases whose files stay for open browser sessions (the new one included).
    pub keep_releases: usize,
    pub allow_mass_delete: bool,
    /// Take over the lock whoever holds it.
    pub break_lock: bool,
    /// Named in the deploy lock: `spadeploy push`, `spadeploy rollback`...
    pub command: &'static str,
}

/// What happens on CloudFront after the files are live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    Skip,
    Create,
    /// Create, and wait until CloudFront reports it completed.
    CreateAndWait,
}

/// How the run reports.
pub struct Output {
    pub format: OutputFormat,
    pub progress: Progress,
    /// Also write the Markdown summary here.
    pub summary_md: Option<PathBuf>,
    /// List every object changed or deleted outside spadeploy (not only their count).
    pub list_drift: bool,
}

impl PushJob {
    fn dry_run(&self) -> bool {
        matches!(self.run, Run::DryRun { .. })
    }

    /// The transfer window: what the user set (halved on throttling, never above it), else one
    /// that grows while an S3 store keeps up (every request there costs a round trip; a local
    /// directory gains nothing from more).
    fn window(&self) -> Window {
        match (&self.run, &self.target) {
            (
                Run::Apply {
                    concurrency: Some(n),
                },
                _,
            ) => Window::new(*n, *n),
            (_, Target::S3 { .. }) => Window::new(window::START, window::MAX),
            _ => Window::new(window::START, window::START),
        }
    }
}

/// What the target should hold after the run.
pub enum What {
    /// The build directory (`push`, `diff`).
    Push,
    /// A recorded release (`rollback`); `None` is the one before the live release.
    Rollback(Option<String>),
    /// The live release again, deleting what the keep-window no longer needs (`prune`).
    Prune,
}

/// Input of the pipeline, resolved from `What`.
enum Desired {
    Build(Vec<scan::Found>),
    Release(Release),
}

/// Which recorded release to hold.
#[derive(Debug, Clone)]
enum Release {
    BeforeLive,
    Id(String),
    Live,
}

/// Runs the push (or rollback); returns true when `--exit-code` asked to signal pending changes.
pub async fn run(
    job: PushJob,
    settings: &TargetSettings,
    routing: Option<RoutingRequest>,
    what: What,
) -> Result<bool> {
    // The build is checked before any credential or network work.
    let desired = |job: &PushJob| -> Result<Desired> {
        Ok(match &what {
            What::Push => Desired::Build(scan::walk(&job.build.dir, &job.build.scan)?),
            What::Rollback(Some(id)) => Desired::Release(Release::Id(id.clone())),
            What::Rollback(None) => Desired::Release(Release::BeforeLive),
            What::Prune => Desired::Release(Release::Live),
        })
    };
    if let Target::Local { path } = &job.target {
        if let Some(r) = &routing {
            bail!(
                "distribution {} needs an s3:// target: a local directory has no CloudFront in front of it (preview its routing with `spadeploy serve`)",
                r.distribution
            );
        }
        if matches!(what, What::Push) {
            refuse_overlap(&job.build.dir, path)?;
        }
    }
    let desired = desired(&job)?;
    let (store, aws) = open(&job.target, settings).await?;
    let cdn = match (routing, aws, &job.target) {
        (Some(request), Some(aws), Target::S3 { bucket, prefix }) => {
            Some(routing_job(&aws, request, bucket.clone(), prefix.clone()))
        }
        _ => None,
    };
    sync(&store, job, desired, cdn).await
}

/// The clients and job for the routing part, all from one SDK configuration.
fn routing_job(
    aws: &Aws,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> (Clients, Job) {
    let clients = Clients {
        s3: aws.s3(),
        cloudfront: aws.cloudfront(),
        key_value_store: aws.key_value_store(),
        lambda: aws.lambda_edge(),
        iam: aws.iam(),
        endpoint: aws.describe_endpoint(),
    };
    let job = Job {
        request,
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
) -> Result<RoutingPlan> {
    let target = Target::S3 {
        bucket: bucket.clone(),
        prefix: prefix.clone(),
    };
    let (store, aws) = open(&target, settings).await?;
    let Some(aws) = aws else {
        bail!("routing needs an s3:// target");
    };
    let (clients, job) = routing_job(&aws, request, bucket, prefix);
    // Before the first push there is no release: the table has no pages yet.
    let (live, observed) =
        tokio::join!(read_live(&store, &target), observe_routing(&clients, &job));
    let live = live?;
    let keys: Vec<&str> = live
        .iter()
        .flat_map(|r| r.objects.keys().map(String::as_str))
        .collect();
    let routing = setup::plan(observed?, &job, &keys, Some(&keys)).with_context(|| {
        format!(
            "cannot plan the routing of distribution {}",
            job.request.distribution
        )
    })?;
    Ok(routing.plan)
}

/// The live release (None before the first push), read without listing the target.
async fn read_live<S: ReadStore>(store: &S, target: &Target) -> Result<Option<Record>> {
    let bytes = store
        .read_state(LIVE_RECORD)
        .await
        .with_context(|| format!("cannot read the live release of {target}"))?;
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let record =
        Record::from_json(&bytes).map_err(|e| anyhow::anyhow!("{target}: {LIVE_RECORD}: {e}"))?;
    Ok(Some(record))
}

/// `spadeploy routing --rotate-secret`: a new Referer secret, the old one dropped once deployed.
pub async fn rotate_secret(
    settings: &TargetSettings,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Result<setup::Rotation> {
    let aws = Aws::load(settings).await?;
    let (clients, job) = routing_job(&aws, request, bucket, prefix);
    // CloudFront usually deploys a change in minutes; past this, both values stay allowed.
    let wait = std::time::Duration::from_secs(30 * 60);
    let distribution = job.request.distribution.clone();
    let waiting = move |waited: std::time::Duration| {
        eprintln!(
            "waiting for distribution {distribution} to deploy the new secret everywhere ({} s so far; both values are allowed meanwhile)",
            waited.as_secs()
        );
    };
    setup::rotate_secret(&clients, &job, wait, &waiting)
        .await
        .with_context(|| {
            format!(
                "cannot rotate the Referer secret of distribution {}",
                job.request.distribution
            )
        })
}

/// A local target inside the build (or the reverse) would deploy into itself.
fn refuse_overlap(dir: &Path, target: &Path) -> Result<()> {
    let dir_abs = resolved(dir);
    let target_abs = resolved(target);
    if target_abs.starts_with(&dir_abs) || dir_abs.starts_with(&target_abs) {
        bail!(
            "the target {} and the build directory {} overlap: deploy to a folder outside the build",
            target.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Where `path` really is: absolute, `..` and `.` applied, and every symbolic link along the part
/// that exists resolved (a target that does not exist yet still resolves through its parents).
fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => {
                out.push(other);
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    out
}

/// The target as read, and the files it should hold.
struct View {
    local: Vec<LocalFile>,
    /// Build files read and hashed (the others were known unchanged); None when nothing was.
    files_read: Option<usize>,
    remote: Vec<RemoteObject>,
    live: Option<Record>,
    /// The live record's change token, from the same read as `live`.
    live_token: Option<String>,
    /// Progress of an interrupted push, or the release a rollback restores.
    trusted: Option<Record>,
    restored: Option<Record>,
}

/// Everything decided from a view: the plan, the routing plan, and the report so far.
struct Decision {
    local: Vec<LocalFile>,
    plan: Plan,
    routing: Option<Routing>,
    invalidation: Option<InvalidationReport>,
    report: PushReport,
    /// The commit and routing recorded in the new release.
    provenance: Provenance,
    /// The change token of the live record the decision was made from.
    live_token: Option<String>,
    /// No deploy was running or had been interrupted when the target was read (no lock, no
    /// progress record in the listing).
    quiet: bool,
    /// The listing showed a deploy lock.
    lock_listed: bool,
}

impl Decision {
    fn has_changes(&self) -> bool {
        self.plan.has_changes() || self.routing.as_ref().is_some_and(|r| r.plan.has_changes())
    }
}

/// Reads and plans; a dry run or a push with nothing to do stops there, without a single write
/// (not even the lock). Otherwise takes the deploy lock, reads and plans again under it if another
/// deploy may have finished meanwhile (`Decision::still_valid`), applies while renewing the lock,
/// and gives the lock back on every exit the process survives, Ctrl-C included.
async fn sync<S: WriteStore>(
    store: &S,
    job: PushJob,
    desired: Desired,
    cdn: Option<(Clients, Job)>,
) -> Result<bool> {
    let started = Instant::now();
    let read = async {
        Ok::<_, anyhow::Error>(match desired {
            Desired::Build(found) => (scan_and_read(store, &job, found).await?, None),
            Desired::Release(which) => (
                restore_and_read(store, &job, which.clone()).await?,
                Some(which),
            ),
        })
    };
    // The target and the distribution are read at the same time: neither waits for the other.
    let (read, routing) = tokio::join!(read, observe_cdn(&cdn));
    let (first, rollback_to) = read?;
    // The mass-delete guard is enforced under the lock: a deploy in progress elsewhere must be
    // reported as such, not as a mass delete.
    let decision = decide(store, &job, first, routing?, &cdn, Guards::Warn).await?;
    if job.dry_run() || !decision.has_changes() {
        let pending = decision.has_changes();
        finish(&job, decision.report_as_planned(), started)?;
        return Ok(matches!(job.run, Run::DryRun { exit_code: true }) && pending);
    }

    let mut report = under_lock(store, &job, decision, rollback_to, &cdn).await?;
    wait_for_invalidation(&cdn, &mut report, &job).await?;
    finish(&job, report, started)?;
    Ok(false)
}

/// Takes the deploy lock, applies the decision (planned again under the lock when another deploy
/// may have finished meanwhile) while renewing the lock, and gives the lock back on every exit
/// the process survives, Ctrl-C included.
async fn under_lock<S: WriteStore>(
    store: &S,
    job: &PushJob,
    decision: Decision,
    rollback_to: Option<Release>,
    cdn: &Option<(Clients, Job)>,
) -> Result<PushReport> {
    let held = lock::acquire(
        store,
        job.safety.command,
        job.safety.break_lock,
        decision.lock_listed,
    )
    .await
    .with_context(|| format!("cannot lock {}", job.target))?;
    if let Some(broken) = &held.broke {
        job.output.progress.note(&format!(
            "warning: took over the deploy lock held by {}",
            broken.describe()
        ));
    }
    let locked = apply_under_lock(store, &held, job, decision, rollback_to, cdn);
    let result = tokio::select! {
        result = locked => result,
        lost = lock::keep_fresh(store, &held, lock::LOCK_RENEWAL) => Err(lost.into()),
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(
            "interrupted: nothing was deleted, and unless index.html had already been replaced the site \
             still serves the previous release; re-run to finish"
        )),
    };
    let exclusive = held.exclusive;
    if let Err(err) = lock::release(store, held).await {
        job.output.progress.note(&format!(
            "warning: could not release the deploy lock ({err}); it expires on its own, or pass --break-lock"
        ));
    }
    let mut report = result?;
    if !exclusive {
        report.warnings.push(format!(
            "{} ignores conditional writes (If-None-Match), so the deploy lock cannot stop two \
             deploys that start at the same moment: run one deploy at a time (e.g. a CI concurrency group)",
            job.target
        ));
    }
    Ok(report)
}

fn finish(job: &PushJob, mut report: PushReport, started: Instant) -> Result<()> {
    report.duration_ms = started.elapsed().as_millis();
    if job.output.format == OutputFormat::Json {
        crate::report::stdout::println(report.to_json());
    } else {
        crate::report::stdout::print(report.human(job.output.list_drift));
    }
    // In GitHub Actions: a step summary and step outputs; anywhere: --summary-md FILE.
    let summary = std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from);
    for path in summary.iter().chain(job.output.summary_md.iter()) {
        append(path, &report.markdown())?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from) {
        append(&path, &report.github_outputs())?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

impl Decision {
    fn report_as_planned(mut self) -> PushReport {
        self.report.routing = self.routing.map(|r| r.plan);
        self.report.invalidation = self.invalidation;
        self.report
    }
}

/// Plans a view: the file plan (with the keep-window), the routing plan, invalidation paths, and
/// the mass-delete guard.
async fn decide<S: ReadStore>(
    store: &S,
    job: &PushJob,
    view: View,
    observed: Option<Observed>,
    cdn: &Option<(Clients, Job)>,
    guards: Guards,
) -> Result<Decision> {
    // The route table is the release's: the build's files, or the restored release's.
    let routing = match (cdn, observed) {
        (Some((_, routing_job)), Some(observed)) => {
            let keys: Vec<&str> = view.local.iter().map(|f| f.key.as_str()).collect();
            let previous: Option<Vec<&str>> = view
                .live
                .as_ref()
                .map(|r| r.objects.keys().map(String::as_str).collect());
            Some(
                setup::plan(observed, routing_job, &keys, previous.as_deref()).with_context(
                    || {
                        format!(
                            "cannot set up routing on distribution {}",
                            routing_job.request.distribution
                        )
                    },
                )?,
            )
        }
        _ => None,
    };
    let older = read_window(
        store,
        &view.remote,
        &view.local,
        view.live.as_ref(),
        job.safety.keep_releases,
        &job.output.progress,
    )
    .await
    .with_context(|| format!("cannot read the release history of {}", job.target))?;
    // The live release is in the window by reference: it can hold 200,000 entries.
    let window: Vec<&Record> = match &older {
        Some(older) => view.live.iter().chain(older).collect(),
        None => Vec::new(),
    };
    let known = Known {
        live: view.live.as_ref(),
        trusted: view.trusted.as_ref(),
        window: &window,
    };
    let plan = plan::plan(&view.local, &view.remote, known, &job.plan);
    let mut report = PushReport::new(
        job.target.to_string(),
        &plan,
        view.local.len(),
        job.dry_run(),
    );
    report.restored = view.restored.as_ref().map(|r| r.id.clone());
    report.files_hashed = view.files_read;
    report.drift = plan.drift.clone();
    let provenance = match &view.restored {
        Some(release) => Provenance {
            source: release.source.clone(),
            routing: release.routing.clone(),
        },
        None => job.build.provenance.clone(),
    };
    let invalidation = match (cdn, &routing) {
        (Some((_, routing_job)), Some(routing)) => Some(InvalidationReport {
            paths: invalidation::invalidation_paths(
                &plan,
                routing.plan.mode,
                &routing_job.prefix,
                routing.plan.origin_path(),
                &routing_job.request.rules.settings.index_document,
            ),
            id: None,
            skipped: job.invalidation == Invalidation::Skip,
            completed: false,
        }),
        _ => None,
    };
    report.url = routing_url(cdn, &routing);
    report
        .warnings
        .extend(mass_delete_guard(&plan, job, guards)?);
    if !plan.drift.is_empty() {
        report.warnings.push(format!(
            "{} object(s) changed or deleted outside spadeploy since the last push ({}); this push repairs them",
            plan.drift.len(),
            plan.drift.iter().take(5).map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let quiet = !view
        .remote
        .iter()
        .any(|r| r.key == LOCK_KEY || r.key == PROGRESS_RECORD);
    Ok(Decision {
        plan,
        routing,
        invalidation,
        report,
        provenance,
        live_token: view.live_token,
        quiet,
        lock_listed: view.remote.iter().any(|r| r.key == LOCK_KEY),
        local: view.local,
    })
}

/// Whether a guard refuses the run or only warns: it refuses under the lock, where no other
/// deploy in progress can explain what it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guards {
    Warn,
    Enforce,
}

/// The routing as it is, when the push has a distribution. Read (and then planned) before
/// anything is written, so its errors stop the push early.
async fn observe_cdn(cdn: &Option<(Clients, Job)>) -> Result<Option<Observed>> {
    match cdn {
        Some((clients, job)) => Ok(Some(observe_routing(clients, job).await?)),
        None => Ok(None),
    }
}

async fn observe_routing(clients: &Clients, job: &Job) -> Result<Observed> {
    observe(clients, job).await.with_context(|| {
        format!(
            "cannot read the routing of distribution {}",
            job.request.distribution
        )
    })
}

/// Refuses (when enforced) a build with fewer than half as many files as the live release; the
/// warning otherwise.
fn mass_delete_guard(plan: &Plan, job: &PushJob, guards: Guards) -> Result<Option<String>> {
    let Some((build, live)) = plan.mass_delete() else {
        return Ok(None);
    };
    let warning = format!(
        "this build has {build} file(s) where the live release has {live}, so the site would lose \
         {} of them: is DIR the right build? Pass --allow-mass-delete if this is intended",
        live - build
    );
    if guards == Guards::Enforce && !job.safety.allow_mass_delete {
        bail!("{warning}; nothing was changed");
    }
    Ok(Some(warning))
}

/// `https://<site host>/` when the push has a distribution.
fn routing_url(cdn: &Option<(Clients, Job)>, routing: &Option<Routing>) -> Option<String> {
    cdn.as_ref()?;
    routing
        .as_ref()
        .map(|r| format!("https://{}/", r.plan.site_host()))
}

/// Applies a decision: files (phased), routing, invalidation.
async fn execute<S: WriteStore>(
    store: &S,
    held: &lock::Held,
    job: &PushJob,
    decision: Decision,
    cdn: &Option<(Clients, Job)>,
    still_valid: impl std::future::Future<Output = bool>,
) -> Result<PushReport> {
    let Decision {
        plan,
        routing,
        invalidation,
        mut report,
        provenance,
        ..
    } = decision;
    let uploading = plan.has_changes().then(|| {
        job.output.progress.stage(
            "uploading",
            plan.changes.len() as u64,
            plan.transfer_bytes(),
        )
    });
    let on_done = |change: &crate::sync::plan::Change| {
        if let Some(bar) = &uploading {
            bar.inc(change.transfer_bytes())
        }
    };
    let window = std::sync::Mutex::new(job.window());
    // The route table goes live with the root index: set up alongside its phase.
    let route = set_up_routing(cdn, routing.as_ref(), job);
    let (published, arn) = if plan.has_changes() {
        let (applied, arn) =
            publish(store, held, &plan, &window, &on_done, still_valid, route).await?;
        (Some(applied), arn)
    } else {
        if !still_valid.await {
            return Err(ApplyError::Outdated.into());
        }
        if routing.as_ref().is_some_and(|r| r.plan.has_changes()) {
            lock::confirm(store, held).await?;
        }
        (None, route.await?)
    };
    // The invalidation is asked for as soon as the new index is live; the record and the
    // deletes go while CloudFront works on it.
    let settled = async {
        match published {
            Some(applied) => Ok::<_, anyhow::Error>(Some(
                settle(store, held, &plan, applied, provenance, &on_done).await?,
            )),
            None => Ok(None),
        }
    };
    let invalidated = async {
        match (cdn, invalidation) {
            (Some((clients, routing_job)), Some(invalidation)) => Ok::<_, anyhow::Error>(Some(
                invalidate(clients, routing_job, &plan, invalidation).await?,
            )),
            _ => Ok(None),
        }
    };
    let (settled, invalidated) = tokio::join!(settled, invalidated);
    if let Some(bar) = &uploading {
        bar.finish();
    }
    if let Some(applied) = settled? {
        report.bytes_uploaded = applied.bytes_sent;
        report.release = applied.release.map(|r| r.id);
        report.transfers = Some(window.lock().unwrap_or_else(|e| e.into_inner()).stats());
    }
    report.invalidation = invalidated?;
    report.routing = routing.map(|routing| {
        let mut applied = routing.plan;
        applied.function.arn = arn.or(applied.function.arn);
        applied
    });
    Ok(report)
}

/// Applies the decision under the lock, or a new one when a deploy finished between the read
/// and the lock (or the lock was taken over, or a deploy was in progress at the read).
async fn apply_under_lock<S: WriteStore>(
    store: &S,
    held: &lock::Held,
    job: &PushJob,
    mut decision: Decision,
    rollback_to: Option<Release>,
    cdn: &Option<(Clients, Job)>,
) -> Result<PushReport> {
    let local = std::mem::take(&mut decision.local);
    let files_read = decision.report.files_hashed;
    if decision.quiet && held.broke.is_none() {
        // Only a deploy changes the target under spadeploy, and it moves the live pointer
        // when it finishes: when none was running at the read and the lock was taken
        // cleanly, the plan stands unless the pointer moved since it was read. Its change
        // token is read again (without the record) while the assets go, before anything visible.
        mass_delete_guard(&decision.plan, job, Guards::Enforce)?;
        let live_token = decision.live_token.clone();
        let still_valid = async {
            store
                .state_token(LIVE_RECORD)
                .await
                .is_ok_and(|token| token == live_token)
        };
        match execute(store, held, job, decision, cdn, still_valid).await {
            Err(err) if is_outdated(&err) => job
                .output
                .progress
                .note("another deploy finished meanwhile: planning again"),
            done => return done,
        }
    }
    let view = async {
        Ok::<_, anyhow::Error>(match rollback_to {
            None => {
                let bounds = list_bounds(local.iter().map(|f| f.key.as_str()));
                View {
                    files_read,
                    ..reread(store, job, local, &bounds).await?
                }
            }
            Some(id) => restore_and_read(store, job, id).await?,
        })
    };
    let (view, routing) = tokio::join!(view, observe_cdn(cdn));
    let decision = decide(store, job, view?, routing?, cdn, Guards::Enforce).await?;
    execute(store, held, job, decision, cdn, async { true }).await
}

fn is_outdated(err: &anyhow::Error) -> bool {
    matches!(err.downcast_ref::<ApplyError>(), Some(ApplyError::Outdated))
}

/// Makes the routing right when it drifted; the ARN the SPA behaviors now run, if it was set up.
async fn set_up_routing(
    cdn: &Option<(Clients, Job)>,
    routing: Option<&Routing>,
    job: &PushJob,
) -> Result<Option<String>> {
    let (Some((clients, routing_job)), Some(routing)) = (cdn, routing) else {
        return Ok(None);
    };
    if !routing.plan.has_changes() {
        return Ok(None);
    }
    job.output.progress.note(&format!(
        "routing: updating distribution {}",
        routing_job.request.distribution
    ));
    let arn = setup::apply(clients, routing_job, routing)
        .await
        .with_context(|| {
            format!(
                "setting up routing on distribution {} failed; nothing was deleted and the \
                 release was not recorded, so a re-run finishes the job",
                routing_job.request.distribution
            )
        })?;
    Ok(Some(arn))
}

/// Hashes the build (on all cores) while listing the target and reading spadeploy's records.
async fn scan_and_read<S: ReadStore>(
    store: &S,
    job: &PushJob,
    found: Vec<scan::Found>,
) -> Result<View> {
    let files = found.len();
    let total_bytes = found.iter().map(|f| f.size).sum();
    let bounds = list_bounds(found.iter().map(|f| f.key.as_str()));
    // Every file is looked at; only those the hash cache does not know are read ("N hashed").
    let hashing = Arc::new(
        job.output
            .progress
            .stage("scanning", files as u64, total_bytes),
    );
    let rules = job.build.rules.clone();
    let hashing_in_task = Arc::clone(&hashing);
    let (dir, trust_cache) = (job.build.dir.clone(), !job.build.rehash);
    let hashed = tokio::task::spawn_blocking(move || {
        let cache = HashCache::open(HashCache::default_home().as_deref(), &dir, trust_cache);
        scan::hash(found, &rules, cache, &|bytes| hashing_in_task.inc(bytes))
    });
    let (hashed, view) = tokio::join!(hashed, reread(store, job, Vec::new(), &bounds));
    hashing.finish();
    let hashed = hashed.context("hashing was interrupted")??;
    Ok(View {
        local: hashed.files,
        files_read: Some(hashed.read),
        ..view?
    })
}

/// Every LIST_RANGE-th of the build's keys in S3's order: the listing's ranges. The target
/// mostly holds the build's keys, so they split it about evenly without waiting for any record.
fn list_bounds<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut keys: Vec<&str> = keys.collect();
    keys.sort_unstable();
    keys.into_iter()
        .step_by(LIST_RANGE)
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// Lists the target (in the ranges `bounds` split it into) while reading the live release, then
/// reads an interrupted push's progress if the listing shows one.
async fn reread<S: ReadStore>(
    store: &S,
    job: &PushJob,
    local: Vec<LocalFile>,
    bounds: &[String],
) -> Result<View> {
    let read = |e| {
        anyhow::Error::from(e).context(format!("cannot read spadeploy's records in {}", job.target))
    };
    let (live, remote) = tokio::join!(
        read_live_versioned(store, &job.output.progress),
        store.list_split(bounds)
    );
    let (live, live_token) = live.map_err(read)?;
    let remote = remote.with_context(|| format!("cannot list {}", job.target))?;
    let progress = read_record(store, &remote, PROGRESS_RECORD, &job.output.progress)
        .await
        .map_err(read)?;
    Ok(View {
        local,
        files_read: None,
        remote,
        live,
        live_token,
        trusted: progress,
        restored: None,
    })
}

/// Lists the target, reads the live release and the one to restore (`id`, or the one before the
/// live release), and finds a source in the target for each of its files.
async fn restore_and_read<S: ReadStore>(store: &S, job: &PushJob, which: Release) -> Result<View> {
    let (remote, live) = tokio::join!(
        store.list(),
        read_live_versioned(store, &job.output.progress)
    );
    let remote = remote.with_context(|| format!("cannot list {}", job.target))?;
    let (live, live_token) =
        live.with_context(|| format!("cannot read the live release of {}", job.target))?;
    let ids = release_ids(remote.iter().map(|r| r.key.as_str()));
    let live_id = live.as_ref().map(|l| l.id.clone()).unwrap_or_default();
    let which_kind = which.clone();
    let wanted = match which {
        Release::Live if live_id.is_empty() => bail!("{} has no live release yet", job.target),
        Release::Live => live_id,
        Release::Id(id) => {
            let matches: Vec<&String> = ids.iter().filter(|r| r.starts_with(&id)).collect();
            match matches.as_slice() {
                [one] => (*one).clone(),
                [] => bail!(
                    "release {id} is not in {}: `spadeploy releases` lists them",
                    job.target
                ),
                _ => bail!(
                    "release {id} is ambiguous ({} match): give more of its id",
                    matches.len()
                ),
            }
        }
        Release::BeforeLive => match ids.iter().rev().find(|r| **r < live_id) {
            Some(previous) => previous.clone(),
            None => bail!(
                "{} has no release before the live one to roll back to",
                job.target
            ),
        },
    };
    let Some(bytes) = store.read_state(&release_key(&wanted)).await? else {
        bail!("release {wanted} cannot be read from {}", job.target);
    };
    let release = Record::from_json(&bytes)
        .with_context(|| format!("release {wanted} cannot be restored"))?;
    let local = crate::state::release::restore(&release, &remote, live.as_ref()).map_err(|missing| {
        anyhow::anyhow!(
            "release {wanted} cannot be restored: the content of {} file(s) is no longer in the target ({}); \
             it left the keep-window (--keep-releases). Push that build again instead",
            missing.len(),
            missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let restored = (!matches!(which_kind, Release::Live)).then(|| release.clone());
    Ok(View {
        local,
        files_read: None,
        remote,
        live,
        live_token,
        trusted: Some(release),
        restored,
    })
}

/// The live record and its change token, from one read: the token is the one of the record
/// planned from (a listing's ETag would do too, but not every S3 server lists ETags).
async fn read_live_versioned<S: ReadStore>(
    store: &S,
    progress: &Progress,
) -> Result<(Option<Record>, Option<String>), crate::store::StoreError> {
    let Some(found) = store.read_versioned(LIVE_RECORD).await? else {
        return Ok((None, None));
    };
    Ok((
        parse_record(LIVE_RECORD, Some(found.body), progress),
        Some(found.token),
    ))
}

/// Reads one of spadeploy's records if the listing shows it.
async fn read_record<S: ReadStore>(
    store: &S,
    remote: &[RemoteObject],
    key: &str,
    progress: &Progress,
) -> Result<Option<Record>, crate::store::StoreError> {
    if !remote.iter().any(|r| r.key == key) {
        return Ok(None);
    }
    Ok(parse_record(key, store.read_state(key).await?, progress))
}

/// An unreadable record is skipped with a warning: the objects it described are then re-sent,
/// never trusted.
fn parse_record(key: &str, bytes: Option<Vec<u8>>, progress: &Progress) -> Option<Record> {
    bytes.and_then(|bytes| match Record::from_json(&bytes) {
        Ok(record) => Some(record),
        Err(err) => {
            progress.note(&format!("warning: {key}: {err}; continuing without it"));
            None
        }
    })
}

/// The releases in the keep-window besides the live one: the `keep_releases - 1` newest, read
/// only when something could be deleted (a stale object, or a retained copy the build does not
/// use). None when the window is the new release alone (`--keep-releases 1`).
async fn read_window<S: ReadStore>(
    store: &S,
    remote: &[RemoteObject],
    local: &[LocalFile],
    live: Option<&Record>,
    keep_releases: usize,
    progress: &Progress,
) -> Result<Option<Vec<Record>>, crate::store::StoreError> {
    if keep_releases <= 1 {
        return Ok(None);
    }
    let in_build: HashSet<&str> = local.iter().map(|f| f.key.as_str()).collect();
    let shas: HashSet<&str> = local.iter().map(|f| f.sha256.as_str()).collect();
    // The window is read when it can decide something: what may be deleted, or a build file
    // the live release does not record (an earlier release may, as after `push v1; push v2;
    // push v1`).
    let needed = remote
        .iter()
        .any(|r| match r.key.strip_prefix(BLOBS_PREFIX) {
            Some(sha) => !shas.contains(sha),
            None if is_state_key(&r.key) => false,
            None if in_build.contains(r.key.as_str()) => {
                live.is_none_or(|live| !live.objects.contains_key(&r.key))
            }
            None => true,
        });
    if !needed {
        return Ok(Some(Vec::new()));
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
    let mut older = Vec::new();
    for record in records {
        older.extend(record?);
    }
    Ok(Some(older))
}

async fn invalidate(
    clients: &Clients,
    routing_job: &Job,
    plan: &Plan,
    mut invalidation: InvalidationReport,
) -> Result<InvalidationReport> {
    if invalidation.skipped || invalidation.paths.is_empty() {
        return Ok(invalidation);
    }
    let distribution = &routing_job.request.distribution;
    let reference = invalidation::caller_reference(distribution, &invalidation.paths, plan);
    let id = invalidation::invalidate(&clients.cloudfront, distribution, &invalidation.paths, &reference, &clients.endpoint)
        .await
        .with_context(|| format!("the files are live, but invalidating {} on {distribution} failed; viewers may see cached copies until they expire", invalidation.paths.join(" ")))?;
    invalidation.id = Some(id);
    Ok(invalidation)
}

/// `--wait`: waits for the push's invalidation to complete. Called once the deploy lock is given
/// back, so the next deploy need not wait for CloudFront too.
async fn wait_for_invalidation(
    cdn: &Option<(Clients, Job)>,
    report: &mut PushReport,
    job: &PushJob,
) -> Result<()> {
    let (Some((clients, routing_job)), Some(invalidation)) = (cdn, report.invalidation.as_mut())
    else {
        return Ok(());
    };
    let Some(id) = invalidation.id.clone() else {
        return Ok(());
    };
    if job.invalidation != Invalidation::CreateAndWait {
        return Ok(());
    }
    job.output.progress.note(&format!(
        "waiting for invalidation {id} ({})",
        invalidation.paths.join(" ")
    ));
    invalidation::wait(
        &clients.cloudfront,
        &routing_job.request.distribution,
        &id,
        WAIT_TIMEOUT,
        &clients.endpoint,
        &|status, elapsed| {
            job.output.progress.note(&format!(
                "  invalidation {id}: {status} after {} s",
                elapsed.as_secs()
            ))
        },
    )
    .await?;
    invalidation.completed = true;
    Ok(())
}

/// The releases recorded in `target`, oldest first.
pub async fn releases(target: &Target, settings: &TargetSettings) -> Result<Vec<ReleaseSummary>> {
    list_releases(&open(target, settings).await?.0, target).await
}

/// The target's store, and for S3 the AWS configuration it was opened with: the one place a
/// store is opened.
async fn open(target: &Target, settings: &TargetSettings) -> Result<(Store, Option<Aws>)> {
    Ok(match target {
        Target::S3 { bucket, prefix } => {
            let aws = Aws::load(settings).await?;
            let store = S3Store::new(
                aws.s3(),
                bucket.clone(),
                prefix.clone(),
                aws.describe_endpoint(),
            );
            (Store::S3(store), Some(aws))
        }
        Target::Local { path } => (Store::Local(LocalStore::new(path.clone())), None),
    })
}

async fn list_releases<S: ReadStore>(store: &S, target: &Target) -> Result<Vec<ReleaseSummary>> {
    let remote = store
        .list()
        .await
        .with_context(|| format!("cannot list {target}"))?;
    let quiet = Progress::new(true);
    let live = read_record(store, &remote, LIVE_RECORD, &quiet).await?;
    let keys: Vec<String> = release_ids(remote.iter().map(|r| r.key.as_str()))
        .iter()
        .map(|id| release_key(id))
        .collect();
    let records = futures::future::join_all(
        keys.iter()
            .map(|key| read_record(store, &remote, key, &quiet)),
    )
    .await;
    let mut list = Vec::new();
    for record in records {
        if let Some(r) = record? {
            list.push(ReleaseSummary {
                live: live.as_ref().is_some_and(|l| l.id == r.id),
                files: r.objects.len(),
                id: r.id,
                pushed_at: r.pushed_at,
                source: r.source,
            });
        }
    }
    Ok(list)
}

/// The live release of `target`, if it has one.
pub async fn live_record(target: &Target, settings: &TargetSettings) -> Result<Option<Record>> {
    let (store, _) = open(target, settings).await?;
    read_live(&store, target).await
}
