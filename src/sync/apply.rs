//! Executing a plan against a store, phase by phase, so the live site is never broken:
//! `publish` (assets, then HTML, then the root index document) and `settle` (the release's history
//! copy, then the live pointer with the deletes).

use std::collections::HashMap;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
/// the lock is confirmed still held. The confirmation is read, again and again, from the moment
/// the step before starts its last transfer until that step is over (`confirm_through`), so the
/// last answer comes after the step's last transfer and the next step waits for no read of its
/// own (`lock::confirm_unless_fresh` finds it fresh).
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
    let failed = |phase, done| move |err| ApplyError::new(err, phase, done, total);
    // Copies of live content and new assets replace nothing visitors see: both go at once,
    // and both are done before any page is replaced.
    let with_assets = async { tokio::join!(retain(store, plan, window), still_valid) };
    // Each step is boxed: inlined, the three steps' futures make publish's own too large for
    // the main thread's stack in a debug build.
    let (assets, (retained, valid), confirmed) = Box::pin(step(
        store,
        held,
        Step::new(plan, Phase::Assets, window, on_done),
        &mut applied,
        with_assets,
    ))
    .await;
    retained
        .and(assets)
        .map_err(|err| failed(Phase::Assets, applied.written.len())(err.into()))?;
    if !valid {
        // What landed is noted, as after a failure, so the new plan does not send it again.
        let progress = plan.record_after(&applied.written);
        let _ = store.write_state(PROGRESS_RECORD, progress.to_json()).await;
        return Err(ApplyError::Outdated);
    }
    let before_pages = failed(Phase::Pages, applied.written.len());
    confirmed.map_err(&before_pages)?;
    lock::confirm_unless_fresh(store, held)
        .await
        .map_err(&before_pages)?;
    if plan.phase(Phase::Pages).next().is_some() {
        let step_of = Step::new(plan, Phase::Pages, window, on_done);
        let (pages, (), confirmed) =
            Box::pin(step(store, held, step_of, &mut applied, async {})).await;
        pages.map_err(|err| failed(Phase::Pages, applied.written.len())(err.into()))?;
        let before_index = failed(Phase::EntryIndex, applied.written.len());
        confirmed.map_err(&before_index)?;
        lock::confirm_unless_fresh(store, held)
            .await
            .map_err(&before_index)?;
    }
    // The lock is confirmed through the index's step too, so the live pointer after it waits
    // for no read of its own either.
    let step_of = Step::new(plan, Phase::EntryIndex, window, on_done);
    let (index, alongside, confirmed) =
        Box::pin(step(store, held, step_of, &mut applied, alongside_index)).await;
    let done = applied.written.len();
    index.map_err(|err| failed(Phase::EntryIndex, done)(err.into()))?;
    let alongside = alongside.map_err(ApplyError::AlongsideIndex)?;
    confirmed.map_err(failed(Phase::Cleanup, done))?;
    Ok((applied, alongside))
}

/// One phase's writes, and what reports them.
struct Step<'a> {
    plan: &'a Plan,
    phase: Phase,
    window: &'a Mutex<Window>,
    on_done: &'a dyn Fn(&Change),
}

impl<'a> Step<'a> {
    fn new(
        plan: &'a Plan,
        phase: Phase,
        window: &'a Mutex<Window>,
        on_done: &'a dyn Fn(&Change),
    ) -> Step<'a> {
        Step {
            plan,
            phase,
            window,
            on_done,
        }
    }
}

/// Writes a phase with `with` alongside (both belong to the step), while the lock is confirmed
/// through the step's tail: the write's result, `with`'s, and the confirmation's.
async fn step<S: WriteStore, T>(
    store: &S,
    held: &lock::Held,
    step: Step<'_>,
    applied: &mut Applied,
    with: impl Future<Output = T>,
) -> (Result<(), StoreError>, T, Result<(), LockError>) {
    let tail = Tail::default();
    let work = async {
        let done = tokio::join!(write_phase(store, &step, applied, &tail.started), with);
        tail.end();
        done
    };
    let ((written, with), confirmed) = tokio::join!(work, confirm_through(store, held, &tail));
    (written, with, confirmed)
}

/// The end of a step: told when its last transfer has started, and when it is over.
#[derive(Default)]
struct Tail {
    started: Notify,
    ended: Notify,
    over: AtomicBool,
}

impl Tail {
    fn end(&self) {
        self.over.store(true, Ordering::Release);
        self.ended.notify_one();
    }

    fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }
}

/// The longest pause between two confirmations of a long tail (a large file's upload, a slow
/// route table): reads stay few; the next step reads once more if the last answer is stale.
const CONFIRM_PAUSE_AT_MOST: Duration = Duration::from_secs(1);

/// Confirms the lock from the moment `tail`'s last transfer starts until the step is over, one
/// read after another, so that when the step ends an answer is fresh for the next step
/// (`lock::confirm_unless_fresh`) without a round trip of its own: either the last one (the
/// read then in flight is dropped), or, when that one is stale, the read in flight, which was
/// sent before the step ended and answers sooner than a new one would. The pause between reads
/// grows with the tail (a tenth of it so far), so a local directory, which answers in
/// microseconds, is not read in a busy loop, and a tail of minutes costs a few dozen reads.
async fn confirm_through<S: ReadStore>(
    store: &S,
    held: &lock::Held,
    tail: &Tail,
) -> Result<(), LockError> {
    tail.started.notified().await;
    let since = Instant::now();
    while !tail.is_over() {
        let read = lock::confirm(store, held);
        tokio::pin!(read);
        tokio::select! {
            answer = &mut read => answer?,
            () = tail.ended.notified() => {
                if !held.freshly_confirmed() {
                    read.await?;
                }
                return Ok(());
            }
        }
        let pause = (since.elapsed() / 10).min(CONFIRM_PAUSE_AT_MOST);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = tail.ended.notified() => return Ok(()),
        }
    }
    Ok(())
}

/// After `publish` (whose last confirmation of the lock is still fresh): records the release
/// (with its provenance: the commit deployed and the routing), points the live record at it and
/// deletes what the plan retires, all at once: the release's history copy is read only once a
/// live record names it (a rollback of the live release uses the live record itself), and the
/// deletes remove nothing a release in the keep-window uses, the new one included. On a store
/// that ignores conditional writes, the lock is confirmed alongside, so giving it back needs no
/// read of its own (`lock::release`).
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
    let record = (plan.has_changes() && !plan.same_release).then(|| {
        let mut release = plan.record_after(&applied.written);
        release.source = provenance.source;
        release.routing = provenance.routing;
        release.early_lock = Some(held.exclusive && provenance.etags_listed);
        release
    });
    if record.is_none() && deletes.is_empty() {
        return Ok(applied);
    }
    lock::confirm_unless_fresh(store, held)
        .await
        .map_err(cleanup_error)?;
    let json = record.as_ref().map(Record::to_json);
    let write = |key: String| {
        let json = json.clone();
        async move {
            match json {
                Some(json) => store.write_state(&key, json).await,
                None => Ok(()),
            }
        }
    };
    let history_key = record
        .as_ref()
        .map(|r| release_key(&r.id))
        .unwrap_or_default();
    // Only a store that ignores conditions makes giving the lock back look first: the lock is
    // confirmed through these writes, so that look is fresh when they end.
    let tail = Tail::default();
    tail.started.notify_one();
    let writes = async {
        let written = tokio::join!(write(history_key), write(LIVE_RECORD.to_string()), delete());
        tail.end();
        written
    };
    let for_release = async {
        if !held.exclusive {
            // A failed confirmation only means giving the lock back reads it first.
            let _ = confirm_through(store, held, &tail).await;
        }
    };
    let ((history, live, deleted), ()) = tokio::join!(writes, for_release);
    for written in [history, live, deleted] {
        written.map_err(|err| cleanup_error(err.into()))?;
    }
    applied.release = record;
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
    step: &Step<'_>,
    applied: &mut Applied,
    tail: &Notify,
) -> Result<(), StoreError> {
    let last_started = std::iter::from_fn(|| {
        tail.notify_one();
        None
    });
    let written = windowed(
        store,
        step.window,
        step.plan.phase(step.phase).chain(last_started),
        |change| write(store, change),
        |change, etag| {
            applied.written.insert(change.key.clone(), etag);
            applied.bytes_sent += change.transfer_bytes();
            (step.on_done)(change);
        },
    )
    .await;
    tail.notify_one();
    if written.is_err() {
        let progress = step.plan.record_after(&applied.written);
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
