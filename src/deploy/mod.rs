//! The push pipeline, shared by `push`, `diff`, `rollback` and `prune`: read (scan + the target)
//! → decide (the pure plans) → render, then (not in a dry run) apply under the deploy lock, make
//! the routing right, invalidate, finish. One file a step:
//!
//! - `job`: what the run is asked to do (`PushJob` and its parts).
//! - `read`: the build and the target as plain values (`View`), the release history window.
//! - `decision`: the file plan, the routing plan, invalidation paths, the mass-delete guard.
//! - `apply`: the lock, the plan applied in phases, planned again when another deploy finished.
//! - `cdn`: the distribution's side (observe → decide → apply → invalidate).
//! - `finish`: the report printed, the GitHub step summary and outputs written.
//! - `releases`: opening a target; its release history for `releases` and `routing`.
//! - `overlap`: a local target inside the build (or the reverse) refused.

mod apply;
mod cdn;
mod decision;
mod finish;
mod job;
mod overlap;
mod read;
mod releases;

pub(crate) use cdn::{doctor, plan_routing, rotate_secret};
pub(crate) use finish::append;
pub(crate) use job::{
    Build, Finished, Invalidation, Output, PushJob, Run, Safety, SharedFiles, What,
};
pub(crate) use releases::{live_record, releases};

use self::apply::*;
use self::cdn::*;
use self::decision::*;
use self::finish::*;
use self::job::*;
use self::overlap::*;
use self::read::*;
use self::releases::*;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::aws::Aws;
use crate::cdn::apply::{self as routing_setup, Routing};
use crate::cdn::decide::RoutingPlan;
use crate::cdn::invalidation;
use crate::cdn::observe::{observe, read_stack, Clients, Observed, STACK_TAG};
use crate::cdn::request::{Job, RoutingRequest};
use crate::cdn::wiring;
use crate::config::manifest::TargetSettings;
use crate::config::target::Target;
use crate::model::{
    is_state_key, release_key, LocalFile, RemoteObject, BLOBS_PREFIX, LIVE_RECORD, LOCK_KEY,
    PROGRESS_RECORD,
};
use crate::report::{InvalidationReport, OutputFormat, Progress, PushReport, Stage};
use crate::state::lock;
use crate::state::release::{release_ids, Provenance, Record, ReleaseSummary};
use crate::store::{LocalStore, ReadStore, S3Store, Store, WriteStore};
use crate::sync::apply::{publish, settle, ApplyError};
use crate::sync::hash_cache::HashCache;
use crate::sync::headers::HeaderRules;
use crate::sync::plan::{self, Known, Plan, PlanOptions};
use crate::sync::scan::{self, ScanOptions};
use crate::sync::window::{self, Window};

/// Runs the push (or rollback, or prune).
pub(crate) async fn run(
    job: PushJob,
    settings: &TargetSettings,
    routing: Option<RoutingRequest>,
    what: What,
) -> Result<Finished> {
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
    // The build is walked while the credentials are resolved (a round trip on runners with
    // web identity, SSO or an instance role) and the client is built. The build's errors come
    // first, as soon as the walk finds them: never after a slow credential provider (an
    // instance role's metadata service times out on a laptop).
    let (desired, opened) = {
        let desired = async {
            Ok::<_, anyhow::Error>(match &what {
                What::Push => {
                    let (dir, options) = (job.build.dir.clone(), job.build.scan.clone());
                    let walking = tokio::task::spawn_blocking(move || scan::walk(&dir, &options));
                    Desired::Build(
                        walking
                            .await
                            .context("walking the build was interrupted")??,
                    )
                }
                What::Rollback(Some(id)) => Desired::Release(Release::Id(id.clone())),
                What::Rollback(None) => Desired::Release(Release::BeforeLive),
                What::Prune => Desired::Release(Release::Live),
            })
        };
        let opening = open(&job.target, settings);
        tokio::pin!(desired, opening);
        tokio::select! {
            desired = &mut desired => (desired?, opening.await),
            opened = &mut opening => (desired.await?, opened),
        }
    };
    let (store, aws) = opened?;
    let cdn = match (routing, aws, &job.target) {
        (Some(request), Some(aws), Target::S3 { bucket, prefix }) => {
            Some(routing_job(&aws, request, bucket.clone(), prefix.clone()))
        }
        _ => None,
    };
    pipeline(&store, job, desired, cdn).await
}

/// Reads and plans; a dry run or a push with nothing to do stops there, without a single write
/// (not even the lock, unless it was taken while reading and is given back). Otherwise takes the
/// deploy lock (or keeps the one taken while reading, `scan_and_read`), reads and plans again
/// under it if another deploy may have finished meanwhile (`Decision::still_valid`), applies
/// while renewing the lock, and gives the lock back on every exit the process survives, Ctrl-C
/// included.
async fn pipeline<S: WriteStore>(
    store: &S,
    job: PushJob,
    desired: Desired,
    cdn: Option<Cdn>,
) -> Result<Finished> {
    let started = Instant::now();
    let early = EarlyLock::new();
    let slot = (!job.dry_run()).then_some(&early);
    // Boxed: inlined beside the lock's future, it makes the pipeline's too large for the main
    // thread's stack in a debug build.
    let plan_only = Box::pin(async {
        let read = async {
            Ok::<_, anyhow::Error>(match desired {
                Desired::Build(found) => (
                    scan_and_read(store, &job, found, slot, cdn.is_some()).await?,
                    None,
                ),
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
        Ok::<_, anyhow::Error>((decision, rollback_to))
    });
    let planned = early.alongside(store, &job, slot.is_some(), plan_only);
    let planned = match slot {
        Some(_) => tokio::select! {
            planned = planned => planned,
            _ = tokio::signal::ctrl_c() => {
                give_back(store, early.into_held(), &job).await;
                // As an interrupt before this handler was installed: nothing was written, and
                // hashing on its blocking threads is not waited for.
                std::process::exit(130);
            }
        },
        None => planned.await,
    };
    let held = early.into_held();
    let (decision, rollback_to) = match planned {
        Ok(planned) => planned,
        Err(err) => {
            give_back(store, held, &job).await;
            return Err(err);
        }
    };
    if job.dry_run() || !decision.has_changes() {
        give_back(store, held, &job).await;
        let pending = decision.has_changes();
        finish(&job, decision.report_as_planned(), started)?;
        let signal = matches!(job.run, Run::DryRun { exit_code: true }) && pending;
        return Ok(if signal {
            Finished::ChangesPending
        } else {
            Finished::Done
        });
    }

    let mut report = under_lock(store, &job, decision, rollback_to, &cdn, held).await?;
    wait_for_invalidation(&cdn, &mut report, &job).await?;
    finish(&job, report, started)?;
    Ok(Finished::Done)
}

/// Gives back a lock taken while reading that the run does not use (nothing to do, or an error
/// before the apply).
async fn give_back<S: WriteStore>(store: &S, held: Option<lock::Held>, job: &PushJob) {
    let Some(held) = held else {
        return;
    };
    if let Err(err) = lock::release(store, held).await {
        job.output.progress.note(&format!(
            "warning: could not release the deploy lock ({err}); it expires on its own, or pass --break-lock"
        ));
    }
}
