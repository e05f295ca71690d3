//! The build and the target read into plain values (`View`): the scan and the listing in
//! concurrent ranges, the live record, an interrupted push's progress, a restored release, and the
//! releases of the keep-window.

use super::*;

/// Build keys per concurrently listed range: S3 answers at most 1,000 keys a page, and the rest
/// leaves room for keys the build does not have (spadeploy's state, files kept for open sessions,
/// objects added outside it), so each range usually takes one request.
pub(super) const LIST_RANGE: usize = 900;

/// The live release (None before the first push), read without listing the target.
pub(super) async fn read_live<S: ReadStore>(store: &S, target: &Target) -> Result<Option<Record>> {
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

/// The target as read, and the files it should hold.
pub(super) struct View {
    pub(super) local: Vec<LocalFile>,
    /// Build files read and hashed (the others were known unchanged); None when nothing was.
    pub(super) files_read: Option<usize>,
    pub(super) remote: Vec<RemoteObject>,
    pub(super) live: Option<Record>,
    /// The live record's change token, from the same read as `live`.
    pub(super) live_token: Option<String>,
    /// Progress of an interrupted push, or the release a rollback restores.
    pub(super) trusted: Option<Record>,
    pub(super) restored: Option<Record>,
}

/// Hashes the build (on all cores) while listing the target and reading spadeploy's records.
/// With `early` (a push that writes), when the build's names or sizes differ from the target's
/// (a push that will change something), the deploy lock is taken before the plan: alongside the
/// listing when the live record says the store allows it (`early_lock`), else as soon as the
/// listing shows no lock and a build file it lacks or holds at another size (or, once the live
/// record is read, names or sizes that differ from it), while the plan is made
/// (`EarlyLock::alongside`), unless the push has a distribution (`checks_routing`), whose
/// check may still refuse it before anything is written. Otherwise it is taken after the plan.
pub(super) async fn scan_and_read<S: WriteStore>(
    store: &S,
    job: &PushJob,
    found: Vec<scan::Found>,
    early: Option<&EarlyLock>,
    checks_routing: bool,
) -> Result<View> {
    let files = found.len();
    let total_bytes = found.iter().map(|f| f.size).sum();
    let bounds = list_bounds(found.iter().map(|f| f.key.as_str()));
    let sizes: Vec<(String, u64)> = match early {
        Some(_) => found.iter().map(|f| (f.key.clone(), f.size)).collect(),
        None => Vec::new(),
    };
    // Every file is looked at; only those the hash cache does not know are read ("N hashed").
    let hashing = Arc::new(
        job.output
            .progress
            .stage("scanning", files as u64, total_bytes),
    );
    let trust_cache = !job.build.rehash;
    let (hashed, vouch) = start_hashing(job, found, Arc::clone(&hashing));
    let live_then_lock = async {
        let live = read_live_versioned(store, &job.output.progress).await;
        if trust_cache {
            let _ = vouch.send(match &live {
                Ok((Some(record), _)) => scan::vouched_by(record),
                _ => scan::Vouched::new(),
            });
        }
        if let (Some(early), Ok((Some(record), _))) = (early, &live) {
            // Taken here, not beside the plan: the listing still being read may show this
            // lock, and is told from another deploy's by its token below.
            if record.early_lock == Some(true) && differs(&sizes, Some(record)) && early.claim() {
                take_early(store, job, &early.held, Honoured::Before).await;
            }
        }
        live
    };
    // The listing is the look a store that ignores the lock's condition needs before writing
    // it: asked for now, the lock's round trip overlaps the live record's read, the rest of the
    // hashing and the plan.
    let listing_then_ask = async {
        let remote = store.list_split(&bounds).await;
        if let (Some(early), Ok(remote)) = (early, &remote) {
            if !checks_routing && !listed_lock(remote) && differs_from_listing(&sizes, remote) {
                early.ask(Honoured::NotKnown);
            }
        }
        remote
    };
    let read = async {
        let (live, remote) = tokio::join!(live_then_lock, listing_then_ask);
        // Names and sizes the listing shows may still differ from the live release's (a file
        // the build no longer has): known once its record is read.
        if let (Some(early), Ok((record, _)), Ok(remote)) = (early, &live, &remote) {
            if !checks_routing && !listed_lock(remote) && differs(&sizes, record.as_ref()) {
                early.ask(Honoured::NotKnown);
            }
        }
        (live, remote)
    };
    let (hashed, (live, remote)) = tokio::join!(hashed, read);
    hashing.finish();
    let hashed = hashed.context("hashing was interrupted")??;
    let mut view = view_of(store, job, Vec::new(), live, remote).await?;
    if let Some(held) = early.and_then(EarlyLock::token) {
        // The listing may show this push's own lock: not another deploy's.
        view.remote
            .retain(|r| !(r.key == LOCK_KEY && !r.etag.is_empty() && r.etag == held));
    }
    Ok(View {
        local: job.build.shared.reuse(hashed.files),
        files_read: Some(hashed.read),
        ..view
    })
}

/// Hashes the build on a blocking thread (on all cores). The content-hashed names wait for the
/// live release's hashes, sent on the channel returned (the read's failure, or a dropped sender,
/// vouches for nothing); `--rehash` trusts nothing remembered, so reads every file.
fn start_hashing(
    job: &PushJob,
    found: Vec<scan::Found>,
    progress: Arc<Stage>,
) -> (
    tokio::task::JoinHandle<Result<scan::Hashed, scan::ScanError>>,
    tokio::sync::oneshot::Sender<scan::Vouched>,
) {
    let rules = job.build.rules.clone();
    let (dir, trust_cache) = (job.build.dir.clone(), !job.build.rehash);
    let (vouch, vouched) = tokio::sync::oneshot::channel::<scan::Vouched>();
    let hashed = tokio::task::spawn_blocking(move || {
        let cache = HashCache::open(HashCache::default_home().as_deref(), &dir, trust_cache);
        let vouched = move || match trust_cache {
            true => vouched.blocking_recv().unwrap_or_default(),
            false => scan::Vouched::new(),
        };
        scan::hash(found, &rules, cache, vouched, &|bytes| progress.inc(bytes))
    });
    (hashed, vouch)
}

/// The deploy lock a push that writes takes while it reads and plans. The read claims it
/// (`claim`, taken at once) or asks for it (`ask`, taken beside the plan by `alongside`) at
/// the first moment it may; only the first claim or ask counts.
pub(super) struct EarlyLock {
    held: std::sync::Mutex<Option<lock::Held>>,
    ask: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Honoured>>>,
    asked: std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<Honoured>>>,
}

impl EarlyLock {
    pub(super) fn new() -> EarlyLock {
        let (ask, asked) = tokio::sync::oneshot::channel();
        EarlyLock {
            held: std::sync::Mutex::new(None),
            ask: std::sync::Mutex::new(Some(ask)),
            asked: std::sync::Mutex::new(Some(asked)),
        }
    }

    /// Whether this is the first claim or ask: the caller takes the lock.
    fn claim(&self) -> bool {
        self.sender().is_some()
    }

    /// Asks `take_beside` for the lock, unless it was claimed or asked for already.
    fn ask(&self, honoured: Honoured) {
        if let Some(ask) = self.sender() {
            let _ = ask.send(honoured);
        }
    }

    /// Runs `read_and_plan` while taking the lock it asks for (when `takes`: not in a dry run),
    /// so the lock's round trip and the plan's CPU overlap; once it is over (or failed), no ask
    /// is waited for.
    pub(super) async fn alongside<S: WriteStore, T>(
        &self,
        store: &S,
        job: &PushJob,
        takes: bool,
        read_and_plan: impl std::future::Future<Output = T>,
    ) -> T {
        let beside = async {
            if takes {
                self.take_beside(store, job).await;
            }
        };
        let work = async {
            let out = read_and_plan.await;
            self.sender();
            out
        };
        tokio::join!(work, beside).0
    }

    fn sender(&self) -> Option<tokio::sync::oneshot::Sender<Honoured>> {
        lock_ignoring_poison(&self.ask).take()
    }

    /// Takes the lock once the read asks for it; returns when the read is over without asking.
    async fn take_beside<S: WriteStore>(&self, store: &S, job: &PushJob) {
        let Some(asked) = lock_ignoring_poison(&self.asked).take() else {
            return;
        };
        if let Ok(honoured) = asked.await {
            take_early(store, job, &self.held, honoured).await;
        }
    }

    fn token(&self) -> Option<String> {
        lock_ignoring_poison(&self.held)
            .as_ref()
            .map(lock::Held::token)
    }

    /// The lock taken, if any.
    pub(super) fn into_held(self) -> Option<lock::Held> {
        self.held
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn lock_ignoring_poison<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the deploy lock into `slot` with the conditional create; `honoured` says whether the
/// live record promised the store honours it (else the listing was the look before the write).
/// Any refusal or failure leaves `slot` empty, and the lock is then taken after the plan, which
/// handles a holder (`--break-lock`, an expired lock).
async fn take_early<S: WriteStore>(
    store: &S,
    job: &PushJob,
    slot: &std::sync::Mutex<Option<lock::Held>>,
    honoured: Honoured,
) {
    let Ok(held) = lock::acquire(store, job.safety.command, false, false).await else {
        return;
    };
    if !held.exclusive && honoured == Honoured::Before {
        // The store stopped honouring the condition since the live record was written: the
        // lock is kept (as a push with no lock listed takes it), and the record written by
        // this push says so, so the next push looks before it writes.
        job.output.progress.note(
            "warning: the store accepted both of the deploy lock's conditional writes, though it honoured them before",
        );
    }
    *lock_ignoring_poison(slot) = Some(held);
}

/// Whether the live record said the store honoured the lock's conditional create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Honoured {
    Before,
    NotKnown,
}

/// Do the build's names and sizes differ from the live release's (or is there none)? Then the
/// push will write something (a changed file of the same size is only found by its hash, after
/// the plan).
pub(super) fn differs(sizes: &[(String, u64)], live: Option<&Record>) -> bool {
    let Some(live) = live else {
        return true;
    };
    sizes.len() != live.objects.len()
        || sizes
            .iter()
            .any(|(key, size)| live.objects.get(key).is_none_or(|o| o.size != *size))
}

/// Does the listing lack a build file, or hold one at another size? Then the push will write
/// something: known as soon as the listing answers, before the live record is parsed.
pub(super) fn differs_from_listing(sizes: &[(String, u64)], remote: &[RemoteObject]) -> bool {
    let listed: HashMap<&str, u64> = remote.iter().map(|r| (r.key.as_str(), r.size)).collect();
    sizes
        .iter()
        .any(|(key, size)| listed.get(key.as_str()) != Some(size))
}

/// Does the listing show a deploy lock (another deploy's, or a stale one)?
fn listed_lock(remote: &[RemoteObject]) -> bool {
    remote.iter().any(|r| r.key == LOCK_KEY)
}

/// Every LIST_RANGE-th of the build's keys in S3's order: the listing's ranges. The target
/// mostly holds the build's keys, so they split it about evenly without waiting for any record.
pub(super) fn list_bounds<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<String> {
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
pub(super) async fn reread<S: ReadStore>(
    store: &S,
    job: &PushJob,
    local: Vec<LocalFile>,
    bounds: &[String],
) -> Result<View> {
    let (live, remote) = tokio::join!(
        read_live_versioned(store, &job.output.progress),
        store.list_split(bounds)
    );
    view_of(store, job, local, live, remote).await
}

type LiveRead = Result<(Option<Record>, Option<String>), crate::store::StoreError>;

/// The view from the live record's read and the listing: an interrupted push's progress is read
/// when the listing shows one.
async fn view_of<S: ReadStore>(
    store: &S,
    job: &PushJob,
    local: Vec<LocalFile>,
    live: LiveRead,
    remote: Result<Vec<RemoteObject>, crate::store::StoreError>,
) -> Result<View> {
    let read = |e| {
        anyhow::Error::from(e).context(format!("cannot read spadeploy's records in {}", job.target))
    };
    let (live, live_token) = live.map_err(read)?;
    let mut remote = remote.with_context(|| format!("cannot list {}", job.target))?;
    remote.retain(|object| !object.key.starts_with(crate::model::PREVIEWS_PREFIX));
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

/// Why no release can be restored.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum ChoiceError {
    #[error("there is no live release yet")]
    NoLive,
    #[error("release {0} is not there: `spadeploy releases` lists them")]
    Unknown(String),
    #[error("release {id} is ambiguous ({matches} match): give more of its id")]
    Ambiguous { id: String, matches: usize },
    #[error("there is no release before the live one to roll back to")]
    NoneBefore,
}

/// The id of the release to restore, from the ids in the target (sorted by time) and the live
/// one's: pure, so every case is a row of a table test.
pub(super) fn choose_release(
    which: &Release,
    ids: &[String],
    live_id: &str,
) -> Result<String, ChoiceError> {
    match which {
        Release::Live if live_id.is_empty() => Err(ChoiceError::NoLive),
        Release::Live => Ok(live_id.to_string()),
        Release::Id(id) => {
            let matches: Vec<&String> = ids.iter().filter(|r| r.starts_with(id.as_str())).collect();
            match matches.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(ChoiceError::Unknown(id.clone())),
                _ => Err(ChoiceError::Ambiguous {
                    id: id.clone(),
                    matches: matches.len(),
                }),
            }
        }
        Release::BeforeLive => ids
            .iter()
            .rev()
            .find(|r| r.as_str() < live_id)
            .cloned()
            .ok_or(ChoiceError::NoneBefore),
    }
}

/// Lists the target, reads the live release and the one to restore (`id`, or the one before the
/// live release), and finds a source in the target for each of its files.
pub(super) async fn restore_and_read<S: ReadStore>(
    store: &S,
    job: &PushJob,
    which: Release,
) -> Result<View> {
    let (remote, live) = tokio::join!(
        store.list(),
        read_live_versioned(store, &job.output.progress)
    );
    let remote = remote.with_context(|| format!("cannot list {}", job.target))?;
    let (live, live_token) =
        live.with_context(|| format!("cannot read the live release of {}", job.target))?;
    let live_id = live.as_ref().map(|l| l.id.clone()).unwrap_or_default();
    let ids = with_live(release_ids(remote.iter().map(|r| r.key.as_str())), &live_id);
    let which_kind = which.clone();
    let wanted = choose_release(&which, &ids, &live_id)
        .with_context(|| format!("cannot restore a release of {}", job.target))?;
    let release = match live.as_ref().filter(|l| l.id == wanted) {
        // The live record is the live release's record: its history copy is written at the same
        // moment, and may be missing when that write failed.
        Some(live) => live.clone(),
        None => {
            let Some(bytes) = store.read_state(&release_key(&wanted)).await? else {
                bail!("release {wanted} cannot be read from {}", job.target);
            };
            Record::from_json(&bytes)
                .with_context(|| format!("release {wanted} cannot be restored"))?
        }
    };
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

/// Release ids as listed, with the live release's among them (sorted by time) even when its
/// history copy, written alongside the live record, is missing.
pub(super) fn with_live(mut ids: Vec<String>, live_id: &str) -> Vec<String> {
    if !live_id.is_empty() && !ids.iter().any(|id| id == live_id) {
        ids.push(live_id.to_string());
        ids.sort();
    }
    ids
}

/// The live record and its change token, from one read: the token is the one of the record
/// planned from (a listing's ETag would do too, but not every S3 server lists ETags).
pub(super) async fn read_live_versioned<S: ReadStore>(
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
pub(super) async fn read_record<S: ReadStore>(
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
pub(super) fn parse_record(
    key: &str,
    bytes: Option<Vec<u8>>,
    progress: &Progress,
) -> Option<Record> {
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
pub(super) async fn read_window<S: ReadStore>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_to_restore_is_chosen_by_id_prefix_or_as_the_one_before_the_live() {
        let ids: Vec<String> = [
            "20261201T1-aa",
            "20261202T1-bb",
            "20261202T2-bc",
            "20261203T1-cc",
        ]
        .map(String::from)
        .to_vec();
        let id = |s: &str| Release::Id(s.into());
        for (which, live, expected) in [
            (Release::Live, "20261203T1-cc", Ok("20261203T1-cc")),
            (Release::Live, "", Err(ChoiceError::NoLive)),
            (id("20261201"), "20261203T1-cc", Ok("20261201T1-aa")),
            (id("20261202T2"), "20261203T1-cc", Ok("20261202T2-bc")),
            (
                id("20261202"),
                "20261203T1-cc",
                Err(ChoiceError::Ambiguous {
                    id: "20261202".into(),
                    matches: 2,
                }),
            ),
            (
                id("2025"),
                "20261203T1-cc",
                Err(ChoiceError::Unknown("2025".into())),
            ),
            (Release::BeforeLive, "20261203T1-cc", Ok("20261202T2-bc")),
            // A rollback is live: the one before it, not the newest.
            (Release::BeforeLive, "20261202T1-bb", Ok("20261201T1-aa")),
            (
                Release::BeforeLive,
                "20261201T1-aa",
                Err(ChoiceError::NoneBefore),
            ),
        ] {
            let got = choose_release(&which, &ids, live);
            assert_eq!(got, expected.map(str::to_string), "{which:?} live {live}");
        }
    }

    #[test]
    fn a_build_differs_from_the_live_release_by_a_name_or_a_size() {
        use crate::model::ObjectHeaders;
        use crate::state::release::RecordedObject;
        let entry = |size| RecordedObject {
            sha256: "s".into(),
            size,
            etag: "e".into(),
            headers: ObjectHeaders {
                content_type: "text/html".into(),
                cache_control: "no-cache".into(),
            },
        };
        let live = Record::new(
            [
                ("index.html".to_string(), entry(10)),
                ("a.js".to_string(), entry(5)),
            ]
            .into(),
        );
        let build = |files: &[(&str, u64)]| -> Vec<(String, u64)> {
            files.iter().map(|(k, s)| (k.to_string(), *s)).collect()
        };
        for (files, expected) in [
            (build(&[("index.html", 10), ("a.js", 5)]), false),
            (build(&[("index.html", 11), ("a.js", 5)]), true),
            (build(&[("index.html", 10), ("b.js", 5)]), true),
            (build(&[("index.html", 10)]), true),
            (build(&[("index.html", 10), ("a.js", 5), ("c.js", 1)]), true),
        ] {
            assert_eq!(differs(&files, Some(&live)), expected, "{files:?}");
        }
        assert!(
            differs(&build(&[("index.html", 10)]), None),
            "a first push writes"
        );
    }

    #[test]
    fn a_build_differs_from_the_listing_by_a_missing_name_or_another_size_only() {
        let listed = |objects: &[(&str, u64)]| -> Vec<RemoteObject> {
            objects
                .iter()
                .map(|(key, size)| RemoteObject {
                    key: key.to_string(),
                    size: *size,
                    etag: "e".into(),
                })
                .collect()
        };
        let build = vec![("index.html".to_string(), 10), ("a.js".to_string(), 5)];
        for (remote, expected) in [
            (listed(&[("index.html", 10), ("a.js", 5)]), false),
            // Objects the build does not have are the plan's to judge (kept or deleted).
            (
                listed(&[("index.html", 10), ("a.js", 5), ("old.js", 3)]),
                false,
            ),
            (listed(&[("index.html", 10), ("a.js", 6)]), true),
            (listed(&[("index.html", 10)]), true),
            (listed(&[]), true),
        ] {
            assert_eq!(
                differs_from_listing(&build, &remote),
                expected,
                "{remote:?}"
            );
        }
    }

    #[test]
    fn the_live_release_is_a_release_even_without_its_history_copy() {
        let ids = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(with_live(ids(&["a", "c"]), "b"), ids(&["a", "b", "c"]));
        assert_eq!(with_live(ids(&["a", "b"]), "b"), ids(&["a", "b"]));
        assert_eq!(with_live(ids(&["a"]), ""), ids(&["a"]));
    }

    #[test]
    fn listing_bounds_split_the_build_every_range_in_s3_order() {
        for (keys, bounds) in [
            (0, 0),
            (1, 0),
            (LIST_RANGE, 0),
            (LIST_RANGE + 1, 1),
            (5_000, 5),
        ] {
            let names: Vec<String> = (0..keys).rev().map(|i| format!("k{i:05}")).collect();
            let got = list_bounds(names.iter().map(String::as_str));
            assert_eq!(got.len(), bounds, "{keys} keys");
            assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted as S3 lists");
        }
    }
}
