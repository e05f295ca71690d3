//! The deploy lock: one push or rollback at a time per target, taken with a conditional write
//! (`If-None-Match: *`) so two CI jobs can never interleave their files. It names its holder,
//! expires on its own (a killed job does not block the next one forever), and `--break-lock`
//! takes it over.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::model::LOCK_KEY;
use crate::store::{Expect, ReadStore, StoreError, Versioned, WriteStore};

/// A lock older than this is considered abandoned.
pub(crate) const LOCK_TTL: Duration = Duration::from_secs(30 * 60);

/// The longest a confirmation counts, however long it took to read (retries can make a read slow
/// without making its answer any older).
const FRESH_AT_MOST: Duration = Duration::from_secs(1);

/// How often a running deploy pushes its lock's expiry forward, so a long push never looks
/// abandoned.
pub(crate) const LOCK_RENEWAL: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LockInfo {
    /// Unique per acquisition, so a holder only ever releases its own lock.
    pub id: String,
    pub owner: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub started_at: String,
    /// Unix seconds by the writer's clock; informational only (expiry is judged by the store's
    /// clock, from the lock's age).
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
            id: random_id(),
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

    /// "alice on ci-runner-3 (pid 42, spadeploy push) since …; run: URL"
    pub(crate) fn describe(&self) -> String {
        let run = self
            .run_url
            .as_deref()
            .map(|u| format!("; run: {u}"))
            .unwrap_or_default();
        format!(
            "{} on {} (pid {}, {}) since {}{run}",
            self.owner, self.host, self.pid, self.command, self.started_at
        )
    }
}

/// 128 random bits from the OS: no other deploy can guess or repeat a holder's id.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // Without an OS random source, time and pid still tell two holders apart.
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ u128::from(std::process::id()) << 64).to_le_bytes();
    }
    hex::encode(bytes)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// What holds the lock: a deploy that names itself, or a lock file nobody can read (a crash
/// mid-write by an older spadeploy, or a hand edit).
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pub info: Option<LockInfo>,
    /// Since the lock was last written, by the store's clock.
    pub age: Duration,
    token: String,
}

impl Holder {
    fn from(found: Versioned) -> Holder {
        Holder {
            info: serde_json::from_slice::<LockInfo>(&found.body).ok(),
            age: found.age,
            token: found.token,
        }
    }

    /// Abandoned: not renewed for a whole TTL, measured on the store's clock.
    fn expired(&self) -> bool {
        self.age >= LOCK_TTL
    }

    fn is(&self, held: &Held) -> bool {
        self.info.as_ref().is_some_and(|i| i.id == held.info.id)
    }

    pub(crate) fn describe(&self) -> String {
        let age = humantime::format_duration(Duration::from_secs(self.age.as_secs()));
        match &self.info {
            Some(info) => format!("{} (last renewed {age} ago)", info.describe()),
            None => format!(
                "an unreadable lock ({LOCK_KEY} is empty or corrupt, written {age} ago; \
                 it is abandoned after {}, or --break-lock replaces it now)",
                humantime::format_duration(LOCK_TTL)
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("another deploy holds the lock on this target: {0}. Wait for it to finish, or pass --break-lock if it is dead")]
    Held(String),
    #[error("the deploy lock was taken over while this deploy ran (now held by {0}), so it stopped before its next irreversible step, as if interrupted: check which deploy should win, then re-run that one")]
    Lost(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A held lock; give it back with `release`.
#[derive(Debug)]
pub(crate) struct Held {
    info: LockInfo,
    /// Whose lock was broken to take this one, if any.
    pub broke: Option<Holder>,
    /// False when the store ignores conditional writes: the lock then only stops a deploy that
    /// starts while another's lock is visible, not two that start at the same moment.
    pub exclusive: bool,
    /// The change token of the lock as this deploy last wrote it (renewals move it), so giving
    /// it back is one conditional delete, without reading it first.
    token: Mutex<String>,
    /// The last confirmation that the lock is still this deploy's: when its answer came, and
    /// how long it took to come.
    confirmed: Mutex<Option<(Instant, Duration)>>,
}

impl Held {
    /// The lock's change token as this deploy last wrote it.
    pub(crate) fn token(&self) -> String {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Confirmed recently enough to act on: the answer came no longer ago than it took to come
    /// (and within FRESH_AT_MOST), so it is about as fresh as one read right now would be when the
    /// next request lands.
    pub(crate) fn freshly_confirmed(&self) -> bool {
        let confirmed = *self
            .confirmed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        confirmed.is_some_and(|(answered, took)| answered.elapsed() <= took.min(FRESH_AT_MOST))
    }

    fn set_token(&self, token: String) {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }
}

fn encode(info: &LockInfo) -> Vec<u8> {
    serde_json::to_vec_pretty(info).unwrap_or_default()
}

fn lost(holder: Option<Holder>) -> LockError {
    LockError::Lost(holder.map_or_else(|| "nobody (it was deleted)".into(), |h| h.describe()))
}

/// Takes the lock. When the target's listing, read moments ago, showed no lock (`lock_listed`
/// false), the holder is not read first. The conditional write goes twice at once: a store that honours If-None-Match (or
/// If-Match, to take over an expired lock) accepts exactly one; a store that accepts both
/// ignores it, and its lock cannot keep two racing deploys apart (`Held::exclusive`).
pub(crate) async fn acquire<S: WriteStore>(
    store: &S,
    command: &str,
    break_lock: bool,
    lock_listed: bool,
) -> Result<Held, LockError> {
    let info = LockInfo::current(command);
    // Look before writing: on a store that ignores If-None-Match, the write would silently
    // replace a live holder's lock.
    let holder = match lock_listed {
        true => read_holder(store).await?,
        false => None,
    };
    let expect = match &holder {
        None => Expect::Absent,
        // Replaced only if it is still the lock we judged: never a newer one taken meanwhile.
        Some(h) if h.expired() || break_lock => Expect::Token(&h.token),
        Some(h) => return Err(LockError::Held(h.describe())),
    };
    let body = encode(&info);
    let (first, second) = tokio::join!(
        store.write_state_if(LOCK_KEY, body.clone(), expect),
        store.write_state_if(LOCK_KEY, body, expect),
    );
    let (token, exclusive) = match (first?, second?) {
        (Some(token), None) | (None, Some(token)) => (token, true),
        (Some(token), Some(_)) => (token, false),
        (None, None) => {
            // Someone else took it between our look and our write.
            let winner = read_holder(store).await?;
            return Err(LockError::Held(winner.map_or_else(
                || "a deploy that took it and finished at the same moment".into(),
                |h| h.describe(),
            )));
        }
    };
    let held = Held {
        info,
        broke: holder,
        exclusive,
        token: Mutex::new(token),
        confirmed: Mutex::new(None),
    };
    Ok(held)
}

/// Confirms that the lock is still this deploy's, right before an irreversible step (the root
/// index, the live pointer, deletes, routing): a deploy whose lock was broken must not write
/// over the deploy that broke it.
pub(crate) async fn confirm<S: ReadStore>(store: &S, held: &Held) -> Result<(), LockError> {
    let sent = Instant::now();
    let current = read_holder(store).await?;
    let ours = current.as_ref().is_some_and(|c| c.is(held));
    // A lost lock is never taken as freshly confirmed by an earlier answer.
    *held
        .confirmed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        ours.then(|| (Instant::now(), sent.elapsed()));
    match ours {
        true => Ok(()),
        false => Err(lost(current)),
    }
}

/// `confirm`, unless a confirmation read while the step before went is still fresh: a deploy
/// reads it alongside its previous step, so it costs no round trip of its own, and reads it
/// again only when that step outlasted it (a slow last transfer).
pub(crate) async fn confirm_unless_fresh<S: ReadStore>(
    store: &S,
    held: &Held,
) -> Result<(), LockError> {
    if held.freshly_confirmed() {
        return Ok(());
    }
    confirm(store, held).await
}

/// Renews a held lock every `every` for as long as the deploy runs (it runs until dropped).
/// Returns only when the lock is no longer ours (broken with --break-lock, or expired and taken),
/// so the caller stops before it interleaves with the new holder.
pub(crate) async fn keep_fresh<S: WriteStore>(
    store: &S,
    held: &Held,
    every: Duration,
) -> LockError {
    loop {
        tokio::time::sleep(every).await;
        // A failed read is retried at the next renewal; the lock has TTL to spare.
        let Ok(current) = read_holder(store).await else {
            continue;
        };
        match current {
            Some(current) if current.is(held) => {
                let renewed = LockInfo {
                    expires_at: now_secs() + LOCK_TTL.as_secs(),
                    ..held.info.clone()
                };
                // Conditional on what was just read: a takeover in between is never overwritten.
                let renewal = store
                    .write_state_if(LOCK_KEY, encode(&renewed), Expect::Token(&current.token))
                    .await;
                // A failed write is retried at the next renewal; a refused one means a takeover.
                match renewal {
                    Ok(None) => return lost(read_holder(store).await.ok().flatten()),
                    Ok(Some(token)) => held.set_token(token),
                    Err(_) => {}
                }
            }
            other => return lost(other),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The lock's holder, readable or not; None when there is no lock.
async fn read_holder<S: ReadStore>(store: &S) -> Result<Option<Holder>, StoreError> {
    Ok(store.read_versioned(LOCK_KEY).await?.map(Holder::from))
}

/// Releases the lock if it is still ours (a broken-and-retaken lock is left to its new holder):
/// one conditional delete on the token this deploy last wrote. A store that ignores conditions
/// is asked first whose lock it is, unless the deploy has just confirmed it.
pub(crate) async fn release<S: WriteStore>(store: &S, held: Held) -> Result<(), StoreError> {
    if !held.exclusive
        && !held.freshly_confirmed()
        && !read_holder(store).await?.is_some_and(|c| c.is(&held))
    {
        return Ok(());
    }
    store.delete_state_if(LOCK_KEY, &held.token()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    async fn take<S: WriteStore>(
        store: &S,
        command: &str,
        break_lock: bool,
    ) -> Result<Held, LockError> {
        acquire(store, command, break_lock, true).await
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_break_lock_takes_over() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = take(&store, "spadeploy push", false).await.unwrap();
        assert!(first.exclusive, "a local directory honours create-new");
        let err = take(&store, "spadeploy push", false).await.unwrap_err();
        assert!(err.to_string().contains("spadeploy push"), "{err}");
        assert!(err.to_string().contains("--break-lock"), "{err}");
        let second = take(&store, "spadeploy rollback", true).await.unwrap();
        assert_eq!(
            second
                .broke
                .as_ref()
                .and_then(|b| b.info.as_ref())
                .map(|b| b.command.as_str()),
            Some("spadeploy push")
        );
        // The first holder's release leaves the new holder's lock alone.
        release(&store, first).await.unwrap();
        assert!(take(&store, "x", false).await.is_err());
        release(&store, second).await.unwrap();
        let third = take(&store, "x", false).await.unwrap();
        release(&store, third).await.unwrap();
    }

    #[tokio::test]
    async fn a_running_deploy_renews_its_lock_and_notices_when_it_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = take(&store, "spadeploy push", false).await.unwrap();
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
            take(&store, "spadeploy rollback", true).await.unwrap()
        });
        assert!(matches!(lost, LockError::Lost(_)), "{lost}");
        assert!(lost.to_string().contains("spadeploy rollback"), "{lost}");
        // The new holder's lock is left alone.
        assert!(take(&store, "x", false).await.is_err());
        release(&store, second).await.unwrap();
    }

    /// Writes a lock file as another deploy would have, `age` ago.
    fn plant(root: &std::path::Path, body: &[u8], age: Duration) {
        let path = root.join(LOCK_KEY);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[tokio::test]
    async fn an_expired_lock_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let stale = LockInfo::current("spadeploy push");
        plant(
            tmp.path(),
            &encode(&stale),
            LOCK_TTL + Duration::from_secs(60),
        );
        let held = take(&store, "spadeploy push", false).await.unwrap();
        assert_eq!(
            held.broke.and_then(|b| b.info).map(|b| b.id),
            Some(stale.id)
        );
    }

    #[tokio::test]
    async fn a_lock_is_judged_by_its_age_on_the_store_not_by_the_writers_clock() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        // Written a minute ago by a runner whose clock was an hour behind: by its own numbers it
        // expired long ago, but nobody has let go of it.
        let mut live = LockInfo::current("spadeploy push");
        live.expires_at = now_secs() - 3600;
        plant(tmp.path(), &encode(&live), Duration::from_secs(60));
        let err = take(&store, "spadeploy push", false).await.unwrap_err();
        assert!(matches!(err, LockError::Held(_)), "{err}");
        assert!(err.to_string().contains("last renewed 1m"), "{err}");
    }

    #[tokio::test]
    async fn an_unreadable_lock_is_named_as_such_and_can_be_broken() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        for body in [&b""[..], b"{\"id\": \"trunc"] {
            plant(tmp.path(), body, Duration::from_secs(5));
            let err = take(&store, "spadeploy push", false).await.unwrap_err();
            let text = err.to_string();
            assert!(text.contains("an unreadable lock"), "{text}");
            assert!(text.contains("--break-lock"), "{text}");
            let held = take(&store, "spadeploy push", true).await.unwrap();
            assert!(held.broke.as_ref().is_some_and(|b| b.info.is_none()));
            release(&store, held).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_takeover_replaces_the_lock_only_if_it_is_still_the_one_judged() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        plant(tmp.path(), b"old", LOCK_TTL * 2);
        let judged = read_holder(&store).await.unwrap().unwrap();
        // Another deploy takes it over first ...
        let other = take(&store, "spadeploy push", false).await.unwrap();
        // ... so replacing or deleting what was judged must not touch the new holder's lock.
        let replaced = store
            .write_state_if(LOCK_KEY, b"mine".to_vec(), Expect::Token(&judged.token))
            .await
            .unwrap();
        assert_eq!(replaced, None);
        assert!(!store
            .delete_state_if(LOCK_KEY, &judged.token)
            .await
            .unwrap());
        confirm(&store, &other).await.unwrap();
    }

    #[tokio::test]
    async fn confirm_fails_once_another_deploy_broke_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = take(&store, "spadeploy push", false).await.unwrap();
        confirm(&store, &first).await.unwrap();
        let _second = take(&store, "spadeploy rollback", true).await.unwrap();
        let err = confirm(&store, &first).await.unwrap_err();
        assert!(matches!(err, LockError::Lost(_)), "{err}");
        assert!(err.to_string().contains("spadeploy rollback"), "{err}");
    }

    #[tokio::test]
    async fn a_confirmation_counts_while_it_is_younger_than_it_took_to_read() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = take(&store, "spadeploy push", false).await.unwrap();
        // An answer that took long to come is fresh as long, up to a second: no read of its own.
        let slow = |ago: Duration| Some((Instant::now() - ago, Duration::from_secs(60)));
        *first.confirmed.lock().unwrap() = slow(Duration::ZERO);
        assert!(first.freshly_confirmed());
        *first.confirmed.lock().unwrap() = slow(FRESH_AT_MOST * 2);
        assert!(!first.freshly_confirmed());
        // A local read takes microseconds, so its confirmation is stale a few ms later.
        confirm(&store, &first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!first.freshly_confirmed());
        let _second = take(&store, "spadeploy rollback", true).await.unwrap();
        let err = confirm_unless_fresh(&store, &first).await.unwrap_err();
        assert!(matches!(err, LockError::Lost(_)), "{err}");
        // A lost lock is never fresh, whatever was confirmed before.
        *first.confirmed.lock().unwrap() = slow(Duration::ZERO);
        assert!(confirm(&store, &first).await.is_err());
        assert!(!first.freshly_confirmed());
    }

    #[tokio::test]
    async fn a_lock_write_is_never_seen_half_done() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let held = take(&store, "spadeploy push", false).await.unwrap();
        // No temporary file is left beside it, and what is there parses.
        let dir = tmp.path().join(".spadeploy");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["lock.json".to_string()]);
        assert!(read_holder(&store).await.unwrap().unwrap().is(&held));
    }
}
