//! What a run is asked to do: the target, the build, apply or dry run, safety settings,
//! invalidation and output, resolved once by `cli/` before any network work.

use super::*;
use crate::model::Source;

/// Everything a push needs, resolved from flags and manifest.
pub(crate) struct PushJob {
    pub target: Target,
    pub build: Build,
    pub plan: PlanOptions,
    pub run: Run,
    pub safety: Safety,
    pub invalidation: Invalidation,
    pub output: Output,
}

/// The build a push deploys (rollback and prune work from the target's records instead).
pub(crate) struct Build {
    pub dir: PathBuf,
    pub scan: ScanOptions,
    pub rules: HeaderRules,
    /// Read every file again, ignoring what the hash cache remembers.
    pub rehash: bool,
    /// The commit deployed and the routing, recorded in the release.
    pub provenance: Provenance,
    /// Files the bucket already holds elsewhere (a preview's production release), copied from
    /// there instead of uploaded.
    pub shared: SharedFiles,
}

/// Objects elsewhere in the target's bucket by content: sha256 → full key.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedFiles(pub HashMap<String, String>);

impl SharedFiles {
    /// The objects of a release recorded at `prefix` in the bucket.
    pub(crate) fn of(record: &Record, prefix: &str) -> SharedFiles {
        let objects = record.objects.iter();
        SharedFiles(
            objects
                .map(|(key, o)| (o.sha256.clone(), format!("{prefix}{key}")))
                .collect(),
        )
    }

    /// `files`, those the bucket holds elsewhere to be copied from there.
    pub(super) fn reuse(&self, mut files: Vec<LocalFile>) -> Vec<LocalFile> {
        for file in files
            .iter_mut()
            .filter(|f| matches!(f.source, Source::File(_)))
        {
            if let Some(key) = self.0.get(&file.sha256) {
                file.source = Source::Bucket(key.clone());
            }
        }
        files
    }
}

/// Whether the run writes.
pub(crate) enum Run {
    /// Plan and render, then stop; with `exit_code`, exit 2 when there are changes.
    DryRun { exit_code: bool },
    Apply {
        /// Transfers in flight, as the user set it; `None`: a window that adapts.
        concurrency: Option<usize>,
    },
}

/// The guards that keep a deploy from breaking the site.
pub(crate) struct Safety {
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
pub(crate) enum Invalidation {
    Skip,
    Create,
    /// Create, and wait until CloudFront reports it completed.
    CreateAndWait,
}

/// How the run reports.
pub(crate) struct Output {
    pub format: OutputFormat,
    pub progress: Progress,
    /// Also write the Markdown summary here.
    pub summary_md: Option<PathBuf>,
    /// List every object changed or deleted outside spadeploy (not only their count).
    pub list_drift: bool,
    /// Print the report on stdout (`preview deploy --json` prints one document of its own).
    pub print: bool,
}

impl PushJob {
    pub(super) fn dry_run(&self) -> bool {
        matches!(self.run, Run::DryRun { .. })
    }

    /// The transfer window for a plan of `transfers`: what the user set (halved on throttling,
    /// never above it), else on S3 one that starts with the whole plan when it fits
    /// (`Window::for_plan`) and otherwise grows while the store keeps up (every request there
    /// costs a round trip; a local directory gains nothing from more).
    pub(super) fn window(&self, transfers: usize) -> Window {
        match (&self.run, &self.target) {
            (
                Run::Apply {
                    concurrency: Some(n),
                },
                _,
            ) => Window::new(*n, *n),
            (_, Target::S3 { .. }) => Window::for_plan(transfers),
            _ => Window::new(window::START, window::START),
        }
    }
}

/// How a run ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    Done,
    /// A dry run with `--exit-code` found changes to make (exit 2).
    ChangesPending,
}

/// What the target should hold after the run.
pub(crate) enum What {
    /// The build directory (`push`, `diff`).
    Push,
    /// A recorded release (`rollback`); `None` is the one before the live release.
    Rollback(Option<String>),
    /// The live release again, deleting what the keep-window no longer needs (`prune`).
    Prune,
}

/// Input of the pipeline, resolved from `What`.
pub(super) enum Desired {
    Build(Vec<scan::Found>),
    Release(Release),
}

/// Which recorded release to hold.
#[derive(Debug, Clone)]
pub(super) enum Release {
    BeforeLive,
    Id(String),
    Live,
}
