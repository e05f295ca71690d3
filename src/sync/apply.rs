//! Executing a plan against a store, phase by phase, so the live site is never broken:
//! `publish` (assets, then HTML, then the root index document) and `settle` (the release's history
//! copy, then the live pointer with the deletes).

use std::collections::HashMap;

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::Notify;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::model::{release_key, LIVE_RECORD, PROGRESS_RECORD};
use crate::state::lock::{self, LockError};
use crate::state::release::{Provenance, Record};
use crate::store::{ReadStore, StoreError, WriteStore};
use crate::sync::plan::{Action, Change, Phase, Plan};
use crate::sync::window::Window;

#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Change tokens of every object written, by key.
    pub written: HashMap<String, String>,
    pub bytes_sent: u64,
    /// The release this push made live.
    pub release: Option<Record>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    #[error("push stopped: {source}\n{done} of {total} changes were applied; {consequence}")]
    Store {
        #[source]
        source: LockError,
        done: usize,
        total: usize,
        consequence: &'static str,
    },
    /// The work that goes live with the root index (the route table) failed.
    #[error(transparent)]
    AlongsideIndex(anyhow::Error),
    /// Another deploy finished between this one's read of the target and its lock: nothing
    /// visitors see was written, and the plan must be made again.
    #[error("another deploy finished after this one read the target; its plan is outdated")]
    Outdated,
}

impl ApplyError {
    fn new(source: impl Into<LockError>, stage: Phase, done: usize, total: usize) -> ApplyError {
        let source = source.into();
        let consequence = match stage {
            _ if matches!(source, LockError::Lost(_)) => {
                "this deploy wrote nothing past that point, and the deploy that took the lock \
                 decides what the site serves. Re-run the push that should win."
            }
            Phase::Assets | Phase::Pages | Phase::EntryIndex => {
                "the root index was not replaced and nothing was deleted, so the site still serves the \
                 previous version. Fix the cause and re-run: files that landed are not sent again."
            }
            Phase::Cleanup => {
                "every file was written and the new version is live; only removing stale files \
                 failed. Re-run the push to finish the clean-up."
            }
        };
        ApplyError::Store {
            source,
            done,
            total,
            consequence,
        }
    }
}

/// Puts the new release live under the `held` lock: assets, pages, then the root index;
/// `on_done` is called after each change lands. Before each step that changes what visitors see,
/// the lock is confirmed still held. The confirmation is read while the step before finishes
/// (from the moment its last transfer starts), so it costs no round trip of its own, unless
/// that step's last transfers outlast it (`lock::confirm_unless_fresh`).
/// `still_valid` (is the plan still the right one?) is answered while the assets go, which
/// replace nothing visitors see: when it says no, nothing visible is written
/// (`ApplyError::Outdated`). `alongside_index` (the route table) runs at the same time as the
/// root index's phase, after every other page landed. `settle` finishes.
pub(crate) async fn publish<S: WriteStore, T>(
    store: &S,
    held: &lock::Held,
    plan: &Plan,
    window: &Mutex<Window>,
    on_done: &dyn Fn(&Change),
    still_valid: impl Future<Output = bool>,
    alongside_index: impl Future<Output = anyhow::Result<T>>,
) -> Result<(Applied, T), ApplyError> {
    let total = plan.changes.len();
    let mut applied = Applied::default();
    // Copies of live content and new assets replace nothing visitors see: both go at once,
    // and both are done before any page is replaced.
    let tail = Notify::new();
    let (retained, assets, valid, confirmed) = tokio::join!(
        retain(store, plan, window),
        write_phase(
            store,
            plan,
            Phase::Assets,
            window,
            on_done,
            &mut applied,
            &tail
        ),
        still_valid,
        confirm_after(store, held, &tail)
    );
    retained
        .and(assets)
        .map_err(|err| ApplyError::new(err, Phase::Assets, applied.written.len(), total))?;
    if !valid {
        // What landed is noted, as after a failure, so the new plan does not send it again.
        let progress = plan.record_after(&applied.written);
        let _ = store.write_state(PROGRESS_RECORD, progress.to_json()).await;
        return Err(ApplyError::Outdated);
    }
    let pages_error = |err, done| ApplyError::new(err, Phase::Pages, done, total);
    confirmed.map_err(|err| pages_error(err, applied.written.len()))?;
    lock::confirm_unless_fresh(store, held)
        .await
        .map_err(|err| pages_error(err, applied.written.len()))?;
    if plan.phase(Phase::Pages).next().is_some() {
        let tail = Notify::new();
        let (pages, confirmed) = tokio::join!(
            write_phase(
                store,
                plan,
                Phase::Pages,
                window,
                on_done,
                &mut applied,
                &tail
            ),
            confirm_after(store, held, &tail)
        );
        pages.map_err(|err| pages_error(err.into(), applied.written.len()))?;
        let index_error =
            |err| ApplyError::new(err, Phase::EntryIndex, applied.written.len(), total);
        confirmed.map_err(index_error)?;
        lock::confirm_unless_fresh(store, held)
            .await
            .map_err(index_error)?;
    }
    let unwatched = Notify::new();
    let index = write_phase(
        store,
        plan,
        Phase::EntryIndex,
        window,
        on_done,
        &mut applied,
        &unwatched,
    );
    let (index, alongside) = tokio::join!(index, alongside_index);
    index.map_err(|err| ApplyError::new(err, Phase::EntryIndex, applied.written.len(), total))?;
    let alongside = alongside.map_err(ApplyError::AlongsideIndex)?;
    Ok((applied, alongside))
}

/// Confirms the lock once `tail` says the step before has started its last transfer; the step
/// after checks it is still fresh (`lock::confirm_unless_fresh`).
async fn confirm_after<S: ReadStore>(
    store: &S,
    held: &lock::Held,
    tail: &Notify,
) -> Result<(), LockError> {
    tail.notified().await;
    lock::confirm(store, held).await
}

/// After `publish`: records the release (with its provenance: the commit deployed and the
/// routing) and deletes what the
/// plan retires. The release's history copy is written first, while the lock is confirmed; the
/// live pointer and the deletes then go together: neither is needed by the other (the deletes
/// remove nothing a release in the keep-window uses, the new one included).
pub(crate) async fn settle<S: WriteStore>(
    store: &S,
    held: &lock::Held,
    plan: &Plan,
    mut applied: Applied,
    provenance: Provenance,
    on_done: &dyn Fn(&Change),
) -> Result<Applied, ApplyError> {
    let total = plan.changes.len();
    let done = applied.written.len();
    let cleanup_error = |err: LockError| ApplyError::new(err, Phase::Cleanup, done, total);
    let deletes: Vec<String> = plan.deletes().map(|c| c.key.clone()).collect();
    let delete = || async {
        if deletes.is_empty() {
            return Ok(());
        }
        store.delete(&deletes).await?;
        plan.deletes().for_each(on_done);
        Ok::<_, StoreError>(())
    };
    if plan.has_changes() && !plan.same_release {
        let mut release = plan.record_after(&applied.written);
        release.source = provenance.source;
        release.routing = provenance.routing;
        let json = release.to_json();
        let history_key = release_key(&release.id);
        let (confirmed, history) = tokio::join!(
            lock::confirm(store, held),
            store.write_state(&history_key, json.clone())
        );
        history.map_err(|err| cleanup_error(err.into()))?;
        confirmed.map_err(cleanup_error)?;
        lock::confirm_unless_fresh(store, held)
            .await
            .map_err(cleanup_error)?;
        let (live, deleted) = tokio::join!(store.write_state(LIVE_RECORD, json), delete());
        live.map_err(|err| cleanup_error(err.into()))?;
        deleted.map_err(|err| cleanup_error(err.into()))?;
        applied.release = Some(release);
    } else if !deletes.is_empty() {
        lock::confirm(store, held).await.map_err(cleanup_error)?;
        delete().await.map_err(|err| cleanup_error(err.into()))?;
    }
    Ok(applied)
}

/// The live content of mutable files about to be replaced is kept first, for rollback.
async fn retain<S: WriteStore>(
    store: &S,
    plan: &Plan,
    window: &Mutex<Window>,
) -> Result<(), StoreError> {
    windowed(
        store,
        window,
        &plan.retain,
        |r| store.copy(&r.key, &r.blob),
        |_, ()| {},
    )
    .await
}

/// Writes one phase's changes, as many at once as the window allows; `tail` is told when the
/// last one has started (or the phase ended). On a failure, what did land is noted in the
/// progress record, so a re-run does not send it again.
async fn write_phase<S: WriteStore>(
    store: &S,
    plan: &Plan,
    phase: Phase,
    window: &Mutex<Window>,
    on_done: &dyn Fn(&Change),
    applied: &mut Applied,
    tail: &Notify,
) -> Result<(), StoreError> {
    let last_started = std::iter::from_fn(|| {
        tail.notify_one();
        None
    });
    let written = windowed(
        store,
        window,
        plan.phase(phase).chain(last_started),
        |change| write(store, change),
        |change, etag| {
            applied.written.insert(change.key.clone(), etag);
            applied.bytes_sent += change.transfer_bytes();
            on_done(change);
        },
    )
    .await;
    tail.notify_one();
    if written.is_err() {
        let progress = plan.record_after(&applied.written);
        let _ = store.write_state(PROGRESS_RECORD, progress.to_json()).await;
    }
    written
}

/// Runs `work` over `items` with as many in flight as the window allows, telling it of each
/// completion and of the store's throttling; `landed` gets each result. Stops at the first
/// failure (the transfers still in flight are dropped).
async fn windowed<S: WriteStore, I: Copy, T, F: Future<Output = Result<T, StoreError>>>(
    store: &S,
    window: &Mutex<Window>,
    items: impl IntoIterator<Item = I>,
    work: impl Fn(I) -> F,
    mut landed: impl FnMut(I, T),
) -> Result<(), StoreError> {
    let lock = || {
        window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut items = items.into_iter();
    let mut in_flight = FuturesUnordered::new();
    loop {
        let limit = lock().limit();
        while in_flight.len() < limit {
            let Some(item) = items.next() else {
                break;
            };
            let transfer = work(item);
            in_flight.push(async move { (item, transfer.await) });
        }
        let Some((item, result)) = in_flight.next().await else {
            return Ok(());
        };
        lock().completed(store.throttled());
        landed(item, result?);
    }
}

/// Records the new release and points the live record at it, if the lock is still ours.
async fn write<S: WriteStore>(store: &S, change: &Change) -> Result<String, StoreError> {
    let Some(file) = &change.file else {
        return Ok(String::new()); // deletes are not writes; they run after the record
    };
    if change.action == Action::UpdateHeaders {
        store.put_headers(file).await
    } else {
        store.put(file).await
    }
}
