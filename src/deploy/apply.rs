//! The decision applied under the deploy lock: planned again when another deploy may have
//! finished meanwhile, files in phases with the routing beside the root index, the record, the
//! deletes and the invalidation.

use super::*;

/// Takes the deploy lock (unless `early` holds the one taken while reading), applies the decision (planned again under the lock when another deploy
/// may have finished meanwhile) while renewing the lock, and gives the lock back on every exit
/// the process survives, Ctrl-C included.
pub(super) async fn under_lock<S: WriteStore>(
    store: &S,
    job: &PushJob,
    decision: Decision,
    rollback_to: Option<Release>,
    cdn: &Option<Cdn>,
    early: Option<lock::Held>,
) -> Result<PushReport> {
    let held = match early {
        Some(held) => held,
        None => lock::acquire(
            store,
            job.safety.command,
            job.safety.break_lock,
            decision.lock_listed,
        )
        .await
        .with_context(|| format!("cannot lock {}", job.target))?,
    };
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
            "interrupted: nothing was deleted, and unless the root index had already been replaced the site \
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

/// Applies a decision: files (phased), routing, invalidation.
pub(super) async fn execute<S: WriteStore>(
    store: &S,
    held: &lock::Held,
    job: &PushJob,
    decision: Decision,
    cdn: &Option<Cdn>,
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
            bar.inc(change.transfer_bytes());
        }
    };
    let window = std::sync::Mutex::new(job.window(plan.widest_step()));
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
            (
                Some(Cdn {
                    clients,
                    job: routing_job,
                }),
                Some(invalidation),
            ) => Ok::<_, anyhow::Error>(Some(
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
        report.transfers = Some(
            window
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .stats(),
        );
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
pub(super) async fn apply_under_lock<S: WriteStore>(
    store: &S,
    held: &lock::Held,
    job: &PushJob,
    mut decision: Decision,
    rollback_to: Option<Release>,
    cdn: &Option<Cdn>,
) -> Result<PushReport> {
    let local = std::mem::take(&mut decision.local);
    let files_read = decision.report.files_hashed;
    if decision.quiet && held.broke.is_none() {
        // Only a deploy changes the target under spadeploy, and it moves the live pointer
        // when it finishes: when none was running at the read and the lock was taken
        // cleanly, the plan stands unless the pointer moved since it was read. Its change
        // token is read again (without the record) while the assets go, before anything visible.
        mass_delete_guard(
            &decision.plan,
            job.safety.allow_mass_delete,
            Guards::Enforce,
        )?;
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

pub(super) fn is_outdated(err: &anyhow::Error) -> bool {
    matches!(err.downcast_ref::<ApplyError>(), Some(ApplyError::Outdated))
}
