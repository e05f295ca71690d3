//! The deploy lock: one push or rollback at a time per target, taken with a conditional write
//! (`If-None-Match: *`) so two CI jobs can never interleave their files. It names its holder,
//! expires on its own (a killed job does not block the next one forever), and `--break-lock`
//! takes it over.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::release::LOCK_KEY;
use crate::store::{ObjectStore, StoreError};

/// A lock older than this is considered abandoned.
pub const LOCK_TTL: Duration = Duration::from_secs(30 * 60);

/// How often a running deploy pushes its lock's expiry forward, so a long push never looks
/// abandoned.
pub const LOCK_RENEWAL: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Unique per acquisition, so a holder only ever releases its own lock.
    pub id: String,
    pub owner: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub started_at: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// The CI run holding it, when known.
    pub run_url: Option<String>,
}

impl LockInfo {
    fn current(command: &str) -> LockInfo {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let run_url = match (
            env("GITHUB_SERVER_URL"),
            env("GITHUB_REPOSITORY"),
            env("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => {
                Some(format!("{server}/{repo}/actions/runs/{run}"))
            }
            _ => env("CI_JOB_URL"),
        };
        LockInfo {
            id: format!(
                "{}-{}-{secs}",
                std::process::id(),
                now.duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            ),
            owner: env("GITHUB_ACTOR")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            command: command.to_string(),
            started_at: humantime::format_rfc3339_seconds(now).to_string(),
            expires_at: secs + LOCK_TTL.as_secs(),
            run_url,
        }
    }

    fn expired(&self) -> bool {
        now_secs() >= self.expires_at
    }

    /// "alice on ci-runner-3 (pid 42, spadeploy push) since …, expires …; run: URL"
    pub fn describe(&self) -> String {
        let expires =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(self.expires_at));
        let run = self
            .run_url
            .as_deref()
            .map(|u| format!("; run: {u}"))
            .unwrap_or_default();
        format!(
            "{} on {} (pid {}, {}) since {}, expiring {expires}{run}",
            self.owner, self.host, self.pid, self.command, self.started_at
        )
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another deploy holds the lock on this target: {0}. Wait for it to finish, or pass --break-lock if it is dead")]
    Held(String),
    #[error("the deploy lock was taken over while this deploy ran (now held by {0}), so it stopped part-way, as if interrupted: check which deploy should win, then re-run that one")]
    Lost(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A held lock; give it back with `release`.
#[derive(Debug)]
pub struct Held {
    info: LockInfo,
    /// Whose lock was broken to take this one, if any.
    pub broke: Option<LockInfo>,
    /// False when the store ignores conditional writes: the lock then only stops a deploy that
    /// starts while another's lock is visible, not two that start at the same moment.
    pub exclusive: bool,
}

fn encode(info: &LockInfo) -> Vec<u8> {
    serde_json::to_vec_pretty(info).unwrap_or_default()
}

pub async fn acquire<S: ObjectStore>(
    store: &S,
    command: &str,
    break_lock: bool,
) -> Result<Held, LockError> {
    let info = LockInfo::current(command);
    // Look before writing: on a store that ignores If-None-Match, the write would silently
    // replace a live holder's lock.
    let holder = read_holder(store).await?;
    if let Some(holder) = &holder {
        if !(holder.expired() || break_lock) {
            return Err(LockError::Held(holder.describe()));
        }
        store.delete(&[LOCK_KEY.to_string()]).await?;
    }
    if !store.create_state(LOCK_KEY, encode(&info)).await? {
        // Someone else took it between our look and our write.
        let winner = read_holder(store).await?;
        return Err(LockError::Held(
            winner.map(|h| h.describe()).unwrap_or_default(),
        ));
    }
    // The same conditional write again must now be refused; a store that accepts it ignores
    // If-None-Match, and its lock cannot keep two racing deploys apart.
    let exclusive = !store.create_state(LOCK_KEY, encode(&info)).await?;
    Ok(Held {
        info,
        broke: holder,
        exclusive,
    })
}

/// Renews a held lock every `every` for as long as the deploy runs (it runs until dropped).
/// Returns only when the lock is no longer ours (broken with --break-lock, or expired and taken),
/// so the caller stops before it interleaves with the new holder.
pub async fn keep_fresh<S: ObjectStore>(store: &S, held: &Held, every: Duration) -> LockError {
    loop {
        tokio::time::sleep(every).await;
        let current = match read_holder(store).await {
            Ok(current) => current,
            // A failed read is retried at the next renewal; the lock has TTL to spare.
            Err(_) => continue,
        };
        match current {
            Some(current) if current.id == held.info.id => {
                let renewed = LockInfo {
                    expires_at: now_secs() + LOCK_TTL.as_secs(),
                    ..current
                };
                let _ = store.write_state(LOCK_KEY, encode(&renewed)).await;
            }
            other => {
                return LockError::Lost(
                    other.map_or_else(|| "nobody (it was deleted)".into(), |h| h.describe()),
                )
            }
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The lock's holder; None when there is no lock (or it is unreadable, hence takeable).
async fn read_holder<S: ObjectStore>(store: &S) -> Result<Option<LockInfo>, StoreError> {
    Ok(store
        .read_state(LOCK_KEY)
        .await?
        .and_then(|bytes| serde_json::from_slice::<LockInfo>(&bytes).ok()))
}

/// Releases the lock if it is still ours (a broken-and-retaken lock is left to its new holder).
pub async fn release<S: ObjectStore>(store: &S, held: Held) -> Result<(), StoreError> {
    if read_holder(store)
        .await?
        .is_some_and(|c| c.id == held.info.id)
    {
        store.delete(&[LOCK_KEY.to_string()]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn one_holder_at_a_time_and_break_lock_takes_over() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = acquire(&store, "spadeploy push", false).await.unwrap();
        assert!(first.exclusive, "a local directory honours create-new");
        let err = acquire(&store, "spadeploy push", false).await.unwrap_err();
        assert!(err.to_string().contains("spadeploy push"), "{err}");
        assert!(err.to_string().contains("--break-lock"), "{err}");
        let second = acquire(&store, "spadeploy rollback", true).await.unwrap();
        assert_eq!(
            second.broke.as_ref().map(|b| b.command.as_str()),
            Some("spadeploy push")
        );
        // The first holder's release leaves the new holder's lock alone.
        release(&store, first).await.unwrap();
        assert!(acquire(&store, "x", false).await.is_err());
        release(&store, second).await.unwrap();
        let third = acquire(&store, "x", false).await.unwrap();
        release(&store, third).await.unwrap();
    }

    #[tokio::test]
    async fn a_running_deploy_renews_its_lock_and_notices_when_it_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = acquire(&store, "spadeploy push", false).await.unwrap();
        let expiry = || async {
            let bytes = store.read_state(LOCK_KEY).await.unwrap().unwrap();
            serde_json::from_slice::<LockInfo>(&bytes)
                .unwrap()
                .expires_at
        };
        let before = expiry().await;
        let every = Duration::from_millis(100);
        tokio::select! {
            lost = keep_fresh(&store, &first, every) => panic!("nobody took it: {lost}"),
            _ = tokio::time::sleep(Duration::from_millis(1_300)) => {}
        }
        assert!(expiry().await > before, "the expiry moved forward");

        let (lost, second) = tokio::join!(keep_fresh(&store, &first, every), async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            acquire(&store, "spadeploy rollback", true).await.unwrap()
        });
        assert!(matches!(lost, LockError::Lost(_)), "{lost}");
        assert!(lost.to_string().contains("spadeploy rollback"), "{lost}");
        // The new holder's lock is left alone.
        assert!(acquire(&store, "x", false).await.is_err());
        release(&store, second).await.unwrap();
    }

    #[tokio::test]
    async fn an_expired_lock_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let mut stale = LockInfo::current("spadeploy push");
        stale.expires_at = 1;
        assert!(store.create_state(LOCK_KEY, encode(&stale)).await.unwrap());
        let held = acquire(&store, "spadeploy push", false).await.unwrap();
        assert_eq!(held.broke.map(|b| b.expires_at), Some(1));
    }
}
