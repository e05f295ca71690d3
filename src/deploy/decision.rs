//! Everything decided from a view, before anything is written: the file plan (pure), the
//! routing plan, invalidation paths, and the mass-delete guard.

use super::*;

/// Everything decided from a view: the plan, the routing plan, and the report so far.
pub(super) struct Decision {
    pub(super) local: Vec<LocalFile>,
    pub(super) plan: Plan,
    pub(super) routing: Option<Routing>,
    pub(super) invalidation: Option<InvalidationReport>,
    pub(super) report: PushReport,
    /// The commit and routing recorded in the new release.
    pub(super) provenance: Provenance,
    /// The change token of the live record the decision was made from.
    pub(super) live_token: Option<String>,
    /// No deploy was running or had been interrupted when the target was read (no lock, no
    /// progress record in the listing).
    pub(super) quiet: bool,
    /// The listing showed a deploy lock.
    pub(super) lock_listed: bool,
}

impl Decision {
    pub(super) fn has_changes(&self) -> bool {
        self.plan.has_changes() || self.routing.as_ref().is_some_and(|r| r.plan.has_changes())
    }
}

impl Decision {
    pub(super) fn report_as_planned(mut self) -> PushReport {
        self.report.routing = self.routing.map(|r| r.plan);
        self.report.invalidation = self.invalidation;
        self.report
    }
}

/// Plans a view: the file plan (with the keep-window), the routing plan, invalidation paths, and
/// the mass-delete guard.
pub(super) async fn decide<S: ReadStore>(
    store: &S,
    job: &PushJob,
    view: View,
    observed: Option<Observed>,
    cdn: &Option<Cdn>,
    guards: Guards,
) -> Result<Decision> {
    let mut routing = plan_routing_of(cdn, observed, &view)?;
    warn_if_stack_owned(cdn, routing.as_mut()).await?;
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
    let mut report = report_of(job, &view, &plan);
    report.url = routing_url(cdn, &routing);
    report.warnings.extend(mass_delete_guard(
        &plan,
        job.safety.allow_mass_delete,
        guards,
    )?);
    report.warnings.extend(drift_warning(&plan));
    let mut provenance = match &view.restored {
        Some(release) => Provenance {
            source: release.source.clone(),
            routing: release.routing.clone(),
            etags_listed: false,
        },
        None => job.build.provenance.clone(),
    };
    provenance.etags_listed =
        !view.remote.is_empty() && view.remote.iter().all(|r| !r.etag.is_empty());
    Ok(Decision {
        invalidation: invalidation_of(cdn, &routing, &plan, job),
        plan,
        routing,
        report,
        provenance,
        live_token: view.live_token,
        quiet: !view
            .remote
            .iter()
            .any(|r| r.key == LOCK_KEY || r.key == PROGRESS_RECORD),
        lock_listed: view.remote.iter().any(|r| r.key == LOCK_KEY),
        local: view.local,
    })
}

/// The routing plan, when the push has a distribution. The route table is the release's: the
/// build's files, or the restored release's.
fn plan_routing_of(
    cdn: &Option<Cdn>,
    observed: Option<Observed>,
    view: &View,
) -> Result<Option<Routing>> {
    let (Some(Cdn { job, .. }), Some(observed)) = (cdn, observed) else {
        return Ok(None);
    };
    let keys: Vec<&str> = view.local.iter().map(|f| f.key.as_str()).collect();
    let previous: Option<Vec<&str>> = view
        .live
        .as_ref()
        .map(|r| r.objects.keys().map(String::as_str).collect());
    let routing =
        routing_setup::plan(observed, job, &keys, previous.as_deref()).with_context(|| {
            format!(
                "cannot set up routing on distribution {}",
                job.request.distribution
            )
        })?;
    Ok(Some(routing))
}

/// The report as planned: the plan, what was read, and the drift found.
fn report_of(job: &PushJob, view: &View, plan: &Plan) -> PushReport {
    let mut report = PushReport::new(
        job.target.to_string(),
        plan,
        view.local.len(),
        job.dry_run(),
    );
    report.restored = view.restored.as_ref().map(|r| r.id.clone());
    report.files_hashed = view.files_read;
    report.drift = plan.drift.clone();
    report
}

/// Objects changed or deleted outside spadeploy, which this push repairs.
fn drift_warning(plan: &Plan) -> Option<String> {
    (!plan.drift.is_empty()).then(|| {
        format!(
            "{} object(s) changed or deleted outside spadeploy since the last push ({}); this push repairs them",
            plan.drift.len(),
            plan.drift.iter().take(5).map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// What the push will invalidate, when it has a distribution.
fn invalidation_of(
    cdn: &Option<Cdn>,
    routing: &Option<Routing>,
    plan: &Plan,
    job: &PushJob,
) -> Option<InvalidationReport> {
    let (
        Some(Cdn {
            job: routing_job, ..
        }),
        Some(routing),
    ) = (cdn, routing)
    else {
        return None;
    };
    Some(InvalidationReport {
        paths: invalidation::invalidation_paths(
            plan,
            routing.plan.mode,
            &routing_job.prefix,
            routing.plan.origin_path(),
            &routing_job.request.rules.settings.index_document,
        ),
        id: None,
        skipped: job.invalidation == Invalidation::Skip,
        completed: false,
    })
}

/// Whether a guard refuses the run or only warns: it refuses under the lock, where no other
/// deploy in progress can explain what it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guards {
    Warn,
    Enforce,
}

/// Refuses (when enforced) a build with fewer than half as many files as the live release; the
/// warning otherwise.
pub(super) fn mass_delete_guard(
    plan: &Plan,
    allow_mass_delete: bool,
    guards: Guards,
) -> Result<Option<String>> {
    let Some((build, live)) = plan.mass_delete() else {
        return Ok(None);
    };
    let warning = format!(
        "this build has {build} file(s) where the live release has {live}, so the site would lose \
         {} of them: is DIR the right build? Pass --allow-mass-delete if this is intended",
        live - build
    );
    if guards == Guards::Enforce && !allow_mass_delete {
        bail!("{warning}; nothing was changed");
    }
    Ok(Some(warning))
}

/// `https://<site host>/` when the push has a distribution.
pub(super) fn routing_url(cdn: &Option<Cdn>, routing: &Option<Routing>) -> Option<String> {
    cdn.as_ref()?;
    routing
        .as_ref()
        .map(|r| format!("https://{}/", r.plan.site_host()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mass_delete_guard_warns_before_the_lock_refuses_under_it_and_yields_to_consent() {
        let sized = |build_files| {
            let mut plan = Plan::default();
            plan.live_files = 100;
            plan.build_files = build_files;
            plan
        };
        let (shrunk, kept) = (sized(10), sized(90));
        for (plan, allow, guards, expected) in [
            (&kept, false, Guards::Enforce, "none"),
            (&shrunk, false, Guards::Warn, "warn"),
            (&shrunk, false, Guards::Enforce, "refuse"),
            (&shrunk, true, Guards::Enforce, "warn"),
        ] {
            let got = match mass_delete_guard(plan, allow, guards) {
                Ok(None) => "none",
                Ok(Some(warning)) => {
                    assert!(warning.contains("10 file(s) where the live release has 100"));
                    "warn"
                }
                Err(err) => {
                    assert!(err.to_string().contains("nothing was changed"), "{err}");
                    "refuse"
                }
            };
            assert_eq!(got, expected, "allow {allow}, {guards:?}");
        }
    }
}
