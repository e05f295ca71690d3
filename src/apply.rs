//! Executing a plan against a store, phase by phase, so the live site is never broken:
//! assets, then HTML, then the root index.html, then spadeploy's record, then deletes.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};

use crate::plan::{Action, Change, Phase, Plan};
use crate::release::LIVE_RECORD;
use crate::store::{ObjectStore, StoreError};

#[derive(Debug, Default)]
pub struct Applied {
    /// Change tokens of every object written, by key.
    pub written: HashMap<String, String>,
    pub bytes_sent: u64,
    pub deleted: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("push stopped: {source}\n{done} of {total} changes were applied; {consequence}")]
pub struct ApplyError {
    #[source]
    source: StoreError,
    done: usize,
    total: usize,
    consequence: &'static str,
}

impl ApplyError {
    fn new(source: StoreError, stage: Phase, done: usize, total: usize) -> ApplyError {
        let consequence = match stage {
            Phase::Assets | Phase::Pages | Phase::EntryIndex => {
                "index.html was not replaced and nothing was deleted, so the site still serves the \
                 previous version. Fix the cause and re-run: files that landed are not sent again."
            }
            Phase::Cleanup => {
                "every file was written and the new version is live; only removing stale files \
                 failed. Re-run the push to finish the clean-up."
            }
        };
        ApplyError {
            source,
            done,
            total,
            consequence,
        }
    }

    pub fn store_error(&self) -> &StoreError {
        &self.source
    }
}

/// Applies `plan`; `on_done` is called after each change lands.
pub async fn apply<S: ObjectStore>(
    store: &S,
    plan: &Plan,
    concurrency: usize,
    on_done: &dyn Fn(&Change),
) -> Result<Applied, ApplyError> {
    let total = plan.changes.len();
    let mut applied = Applied::default();
    for phase in [Phase::Assets, Phase::Pages, Phase::EntryIndex] {
        let mut landed = stream::iter(plan.phase(phase))
            .map(|change| async move { (change, write(store, change).await) })
            .buffer_unordered(concurrency.max(1));
        while let Some((change, result)) = landed.next().await {
            match result {
                Ok(etag) => {
                    applied.written.insert(change.key.clone(), etag);
                    applied.bytes_sent += change.transfer_bytes();
                    on_done(change);
                }
                Err(err) => {
                    drop(landed);
                    // Record what did land, so a re-run does not send it again. If even this
                    // fails, the re-run simply re-sends those files.
                    let partial = plan.record_after(&applied.written);
                    let _ = store.write_state(LIVE_RECORD, partial.to_json()).await;
                    let done = applied.written.len();
                    return Err(ApplyError::new(err, phase, done, total));
                }
            }
        }
    }

    let record = plan.record_after(&applied.written);
    if plan.has_changes() {
        store
            .write_state(LIVE_RECORD, record.to_json())
            .await
            .map_err(|err| ApplyError::new(err, Phase::Cleanup, applied.written.len(), total))?;
    }

    let deletes: Vec<String> = plan.deletes().map(|c| c.key.clone()).collect();
    if !deletes.is_empty() {
        store
            .delete(&deletes)
            .await
            .map_err(|err| ApplyError::new(err, Phase::Cleanup, applied.written.len(), total))?;
        applied.deleted = deletes.len();
        plan.deletes().for_each(on_done);
    }
    Ok(applied)
}

async fn write<S: ObjectStore>(store: &S, change: &Change) -> Result<String, StoreError> {
    let Some(file) = &change.file else {
        return Ok(String::new()); // deletes are not writes; they run after the record
    };
    if change.action == Action::UpdateHeaders {
        store.put_headers(file).await
    } else {
        store.put(file).await
    }
}
