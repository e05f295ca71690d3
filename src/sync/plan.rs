//! The pure planner: (local files, remote listing, spadeploy's record, options) → what to do, in
//! which order, and why. No I/O here; a dry-run and a push run exactly this code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Serialize, Serializer};

use crate::config::manifest::Glob;
use crate::model::{
    blob_key, is_state_key, LocalFile, ObjectHeaders, RemoteObject, Source, BLOBS_PREFIX,
    PROGRESS_RECORD,
};
use crate::state::release::{retains_copy, Record, RecordedObject};

use crate::sync::headers::is_html;

/// The default root index document (`[routing] index_document` sets another).
pub(crate) const INDEX_DOCUMENT: &str = "index.html";

/// Order of application. A phase starts only when the one before it has fully succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Phase {
    /// New files and content-hashed assets: they replace nothing the live site serves.
    Assets,
    /// HTML other than the root index document, and new content for mutable files the live site
    /// serves (favicon, manifest): written only once everything new has landed.
    Pages,
    /// The root index document (`index.html` unless configured): uploaded last, so it never
    /// references a file not yet uploaded.
    EntryIndex,
    /// Deletes, after every write has landed.
    Cleanup,
}

impl Phase {
    /// `target_empty`: the target serves nothing yet (a first push), so no page can be seen
    /// naming an asset still on its way, and pages go with the assets instead of a step of their
    /// own (a cold push's 500 pages were four round trips after the last asset). The root index
    /// still goes last: it is what says the site is there.
    fn of(file: &LocalFile, action: Action, index: &str, target_empty: bool) -> Phase {
        if file.key == index {
            Phase::EntryIndex
        } else if target_empty {
            Phase::Assets
        } else if is_html(&file.key) || (action != Action::Upload && retains_copy(&file.headers)) {
            Phase::Pages
        } else {
            Phase::Assets
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Action {
    /// A key the target does not have.
    Upload,
    /// New bytes for an existing key.
    Update,
    /// Same bytes, new headers: the store rewrites metadata without re-sending the content.
    UpdateHeaders,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    New,
    ContentChanged,
    HeadersChanged(Vec<HeaderChange>),
    /// No record of this object, or the store shows it changed since spadeploy wrote it.
    Unrecorded,
    Forced,
    RemovedFromBuild,
    /// A retained copy no release in the keep-window needs any more.
    ReleaseExpired,
    /// Bookkeeping of an interrupted push that this push finishes.
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderChange {
    pub name: &'static str,
    pub from: String,
    pub to: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::New => f.write_str("new"),
            Reason::ContentChanged => f.write_str("content changed"),
            Reason::HeadersChanged(changes) => {
                f.write_str("headers changed (")?;
                for (i, c) in changes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{}: {} → {}", c.name, c.from, c.to)?;
                }
                f.write_str(")")
            }
            Reason::Unrecorded => f.write_str("not written by spadeploy, or changed outside it"),
            Reason::Forced => f.write_str("forced"),
            Reason::RemovedFromBuild => f.write_str("removed from build"),
            Reason::ReleaseExpired => f.write_str("no release in the keep-window needs it"),
            Reason::Finished => f.write_str("the interrupted push it tracked is finished"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Change {
    pub key: String,
    pub action: Action,
    pub reason: Reason,
    pub phase: Phase,
    pub size: u64,
    /// The local file to write; `None` for deletes.
    #[serde(skip)]
    pub file: Option<LocalFile>,
}

impl Change {
    pub(crate) fn headers(&self) -> Option<&ObjectHeaders> {
        self.file.as_ref().map(|f| &f.headers)
    }

    /// Does this change send the file's bytes (not a delete, a header rewrite or a server-side copy)?
    pub(crate) fn sends_content(&self) -> bool {
        matches!(self.action, Action::Upload | Action::Update)
            && self
                .file
                .as_ref()
                .is_some_and(|f| matches!(f.source, Source::File(_)))
    }

    /// Bytes this change sends to the store.
    pub(crate) fn transfer_bytes(&self) -> u64 {
        if self.sends_content() {
            self.size
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum KeepReason {
    /// Matches a manifest `protect` glob.
    Protected,
    /// `--no-delete`.
    NoDelete,
    /// A release in the keep-window references it: browser tabs running that release's index
    /// still load it.
    OpenSessions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Kept {
    pub key: String,
    pub why: KeepReason,
}

#[derive(Debug, Clone)]
pub(crate) struct PlanOptions {
    pub delete: bool,
    pub force: bool,
    pub protect: Vec<Glob>,
    /// The root index document's key.
    pub index: String,
    /// Keep the live content of replaced mutable files for rollback: pointless when the
    /// keep-window holds the live release alone (the copy would be deleted by the next push).
    pub retain_replaced: bool,
    /// The routing this push records with the release; a new release is recorded when it
    /// differs from the live one's, even when no file changed. `None`: not compared.
    pub routing: Option<serde_json::Value>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            delete: false,
            force: false,
            protect: Vec::new(),
            index: INDEX_DOCUMENT.into(),
            retain_replaced: true,
            routing: None,
        }
    }
}

/// What spadeploy knows about the target besides the listing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Known<'a> {
    /// The live release.
    pub live: Option<&'a Record>,
    /// Another record whose entries are trusted while the listing still matches them: what an
    /// interrupted push had already written, or the release a rollback restores.
    pub trusted: Option<&'a Record>,
    /// The previous releases still in the keep-window (the live one included), newest first.
    pub window: &'a [&'a Record],
}

/// Refuse a build holding fewer files than this share of the live release's (a wrong DIR, an
/// empty build), whether the files it drops are deleted now or kept for open tabs.
pub(crate) const MASS_DELETE_SHARE: f64 = 0.5;

#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Ordered by phase, then key.
    pub changes: Vec<Change>,
    pub unchanged: usize,
    /// Objects that left the build but stay in the target.
    pub kept: Vec<Kept>,
    /// Live content of mutable files this push replaces, to retain by content (server-side
    /// copies, made before anything is written) for rollback.
    pub retain: Vec<Retain>,
    /// Objects whose content differs from the live record, or that vanished: someone changed the
    /// target outside spadeploy. This push repairs them.
    pub drift: Vec<Drift>,
    /// How many files the live release has, and the new build (for the mass-delete guard).
    pub live_files: usize,
    pub build_files: usize,
    /// The new release would list exactly the live release's files (a prune, or bookkeeping
    /// only): no new release is recorded.
    pub same_release: bool,
    /// The routing the live release recorded differs from this push's: a new release records
    /// it, with the same files.
    pub routing_changed: bool,
    /// Record entries that stay valid whatever the push writes (unchanged and kept objects).
    carried: BTreeMap<String, RecordedObject>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Drift {
    pub key: String,
    pub what: DriftKind,
}

/// How an object of the live release differs from what spadeploy wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DriftKind {
    Changed,
    Deleted,
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriftKind::Changed => "changed",
            DriftKind::Deleted => "deleted",
        })
    }
}

/// A copy of `key`'s current content to keep at `blob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Retain {
    pub key: String,
    pub blob: String,
}

/// The target as listed, and the records that vouch for its objects.
struct Listing<'a> {
    /// Every object, state included.
    all: HashMap<&'a str, &'a RemoteObject>,
    /// The site's objects (spadeploy's state left out).
    site: HashMap<&'a str, &'a RemoteObject>,
    known: Known<'a>,
}

impl<'a> Listing<'a> {
    fn new(remote: &'a [RemoteObject], known: Known<'a>) -> Listing<'a> {
        let all: HashMap<&str, &RemoteObject> =
            remote.iter().map(|r| (r.key.as_str(), r)).collect();
        let site = all
            .iter()
            .filter(|(key, _)| !is_state_key(key))
            .map(|(k, v)| (*k, *v))
            .collect();
        Listing { all, site, known }
    }

    /// A recorded entry is trusted only while the store still shows the object as we wrote it.
    /// Releases of the keep-window vouch too: going back to an earlier build finds its files
    /// still there, as that release wrote them, and sends none of them again.
    fn recorded(&self, key: &str) -> Option<&'a RecordedObject> {
        let listed = self.site.get(key)?;
        [self.known.live, self.known.trusted]
            .into_iter()
            .flatten()
            .chain(self.known.window.iter().copied())
            .filter_map(|record| record.objects.get(key))
            .find(|entry| entry.matches(listed))
    }
}

/// Plans a push: the writes the build needs, what the live content they replace must be
/// retained as, what leaves the target and what stays for open tabs, in the order they must be
/// applied. Pure: no I/O, the same for a dry run and a push.
pub(crate) fn plan(
    local: &[LocalFile],
    remote: &[RemoteObject],
    known: Known<'_>,
    options: &PlanOptions,
) -> Plan {
    let listing = Listing::new(remote, known);
    let classified = classify(local, &listing, options);
    let retain = match options.retain_replaced {
        true => retain_before_replacing(&classified.changes, &listing),
        false => Vec::new(),
    };
    let (stale_deletes, kept) = stale(local, &listing, options);
    let mut changes = classified.changes;
    changes.extend(stale_deletes);
    changes.extend(expired(local, &listing, options));
    changes.sort_by(|a, b| (a.phase, &a.key).cmp(&(b.phase, &b.key)));
    let routing_changed = options.routing.as_ref().is_some_and(|routing| {
        known
            .live
            .is_some_and(|live| live.routing.as_ref() != Some(routing))
    });
    // With no writes, the record after this run is exactly the carried entries.
    let same_release = changes.iter().all(|c| c.action == Action::Delete)
        && !routing_changed
        && known
            .live
            .is_some_and(|live| live.objects == classified.carried);
    Plan {
        changes,
        unchanged: classified.unchanged,
        kept,
        retain,
        drift: drift(&listing),
        live_files: known.live.map_or(listing.site.len(), |l| l.objects.len()),
        build_files: local.len(),
        same_release,
        routing_changed,
        carried: classified.carried,
    }
}

/// Objects of the live release that the store no longer shows as spadeploy wrote them.
fn drift(listing: &Listing<'_>) -> Vec<Drift> {
    let Some(live) = listing.known.live else {
        return Vec::new();
    };
    live.objects
        .iter()
        .filter_map(|(key, entry)| {
            let what = match listing.site.get(key.as_str()) {
                None => DriftKind::Deleted,
                Some(listed) if !entry.matches(listed) => DriftKind::Changed,
                Some(_) => return None,
            };
            Some(Drift {
                key: key.clone(),
                what,
            })
        })
        .collect()
}

/// The build's files sorted into writes (with their reason) and unchanged ones, whose record
/// entries carry over to the new release.
struct Classified {
    changes: Vec<Change>,
    unchanged: usize,
    carried: BTreeMap<String, RecordedObject>,
}

fn classify(local: &[LocalFile], listing: &Listing<'_>, options: &PlanOptions) -> Classified {
    let target_empty = listing.site.is_empty() && listing.known.live.is_none();
    let mut classified = Classified {
        changes: Vec::new(),
        unchanged: 0,
        carried: BTreeMap::new(),
    };
    for file in local {
        let write = |action, reason| Change {
            key: file.key.clone(),
            action,
            reason,
            phase: Phase::of(file, action, &options.index, target_empty),
            size: file.size,
            file: Some(file.clone()),
        };
        let change = if !listing.site.contains_key(file.key.as_str()) {
            write(Action::Upload, Reason::New)
        } else {
            match listing.recorded(&file.key) {
                None => write(Action::Update, Reason::Unrecorded),
                Some(_) if options.force => write(Action::Update, Reason::Forced),
                Some(entry) if entry.sha256 != file.sha256 => {
                    write(Action::Update, Reason::ContentChanged)
                }
                Some(entry) if entry.headers != file.headers => {
                    let changed = header_changes(&entry.headers, &file.headers);
                    write(Action::UpdateHeaders, Reason::HeadersChanged(changed))
                }
                Some(entry) => {
                    classified.unchanged += 1;
                    classified.carried.insert(file.key.clone(), entry.clone());
                    continue;
                }
            }
        };
        classified.changes.push(change);
    }
    classified
}

/// Before a mutable file's live content is replaced, that content is retained once (by sha256)
/// for rollback. Content still at its key needs no copy, so copies grow with changes, not with
/// the size of the site.
fn retain_before_replacing(changes: &[Change], listing: &Listing<'_>) -> Vec<Retain> {
    let mut retained: HashSet<&str> = listing
        .all
        .keys()
        .filter_map(|k| k.strip_prefix(BLOBS_PREFIX))
        .collect();
    changes
        .iter()
        .filter(|c| c.reason == Reason::ContentChanged)
        .filter_map(|change| {
            let entry = listing.recorded(&change.key)?;
            (retains_copy(&entry.headers) && retained.insert(entry.sha256.as_str())).then(|| {
                Retain {
                    key: change.key.clone(),
                    blob: blob_key(&entry.sha256),
                }
            })
        })
        .collect()
}

/// Site objects the build no longer has: deleted, or kept (protected, `--no-delete`, or still
/// used by a release in the keep-window, for browser tabs that run it).
fn stale(
    local: &[LocalFile],
    listing: &Listing<'_>,
    options: &PlanOptions,
) -> (Vec<Change>, Vec<Kept>) {
    let in_build: HashSet<&str> = local.iter().map(|f| f.key.as_str()).collect();
    let in_window: HashSet<&str> = listing
        .known
        .window
        .iter()
        .flat_map(|release| release.objects.keys().map(String::as_str))
        .collect();
    let mut stale: Vec<&RemoteObject> = listing
        .site
        .values()
        .copied()
        .filter(|r| !in_build.contains(r.key.as_str()))
        .collect();
    stale.sort_by(|a, b| a.key.cmp(&b.key));
    let (mut deletes, mut kept) = (Vec::new(), Vec::new());
    for object in stale {
        let keep = if options.protect.iter().any(|g| g.is_match(&object.key)) {
            Some(KeepReason::Protected)
        } else if !options.delete {
            Some(KeepReason::NoDelete)
        } else if in_window.contains(object.key.as_str()) {
            Some(KeepReason::OpenSessions)
        } else {
            None
        };
        match keep {
            // Kept objects stay in the target but are not part of the new release, so they
            // leave the keep-window with the releases that had them.
            Some(why) => kept.push(Kept {
                key: object.key.clone(),
                why,
            }),
            None => deletes.push(cleanup(object, Reason::RemovedFromBuild)),
        }
    }
    (deletes, kept)
}

/// spadeploy's own leftovers: retained copies no release in the window (nor the new build)
/// needs, and the progress record of an interrupted push this one finishes.
fn expired(local: &[LocalFile], listing: &Listing<'_>, options: &PlanOptions) -> Vec<Change> {
    let has_blobs = listing.all.keys().any(|k| k.starts_with(BLOBS_PREFIX));
    if !has_blobs && !listing.all.contains_key(PROGRESS_RECORD) {
        return Vec::new(); // nothing of spadeploy's to clean up: no set of every sha256 needed
    }
    let needed: HashSet<&str> = listing
        .known
        .window
        .iter()
        .flat_map(|release| release.objects.values())
        .filter(|o| retains_copy(&o.headers))
        .map(|o| o.sha256.as_str())
        .chain(local.iter().map(|f| f.sha256.as_str()))
        .collect();
    listing
        .all
        .values()
        .filter_map(|object| {
            let reason = match object.key.strip_prefix(BLOBS_PREFIX) {
                Some(sha) if options.delete && !needed.contains(sha) => Reason::ReleaseExpired,
                None if object.key == PROGRESS_RECORD => Reason::Finished,
                _ => return None,
            };
            Some(cleanup(object, reason))
        })
        .collect()
}

fn cleanup(object: &RemoteObject, reason: Reason) -> Change {
    Change {
        key: object.key.clone(),
        action: Action::Delete,
        reason,
        phase: Phase::Cleanup,
        size: object.size,
        file: None,
    }
}

fn header_changes(from: &ObjectHeaders, to: &ObjectHeaders) -> Vec<HeaderChange> {
    let mut changes = Vec::new();
    if from.content_type != to.content_type {
        changes.push(HeaderChange {
            name: "content-type",
            from: from.content_type.to_string(),
            to: to.content_type.to_string(),
        });
    }
    if from.cache_control != to.cache_control {
        changes.push(HeaderChange {
            name: "cache-control",
            from: from.cache_control.to_string(),
            to: to.cache_control.to_string(),
        });
    }
    changes
}

impl Plan {
    pub(crate) fn has_changes(&self) -> bool {
        !self.changes.is_empty() || !self.retain.is_empty() || self.routing_changed
    }

    /// `Some((build files, live files))` when the new build holds fewer than half as many files
    /// as the live release: the live site would lose most of its files, now or when the
    /// keep-window lets them go. A rebuild that renames its hashed files keeps its size and
    /// passes; old releases leaving the window are never counted.
    pub(crate) fn mass_delete(&self) -> Option<(usize, usize)> {
        (self.live_files > 0
            && (self.build_files as f64) < self.live_files as f64 * MASS_DELETE_SHARE)
            .then_some((self.build_files, self.live_files))
    }

    pub(crate) fn writes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::Delete)
    }

    pub(crate) fn deletes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action == Action::Delete)
    }

    /// The writes of one phase.
    pub(crate) fn phase(&self, phase: Phase) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.phase == phase)
    }

    pub(crate) fn transfer_bytes(&self) -> u64 {
        self.changes.iter().map(Change::transfer_bytes).sum()
    }

    /// The most transfers one step can have in flight together: the assets with the retained
    /// copies (they go at once), or the pages, or the entry index.
    pub(crate) fn widest_step(&self) -> usize {
        let count = |phase| self.phase(phase).count();
        (count(Phase::Assets) + self.retain.len())
            .max(count(Phase::Pages))
            .max(count(Phase::EntryIndex))
    }

    /// The record of the target once every write has landed: carried entries plus each write
    /// with the change token the store returned for it (`written`: key → etag).
    pub(crate) fn record_after(&self, written: &HashMap<String, String>) -> Record {
        let mut objects = self.carried.clone();
        for change in self.writes() {
            let (Some(file), Some(etag)) = (&change.file, written.get(&change.key)) else {
                continue;
            };
            objects.insert(
                change.key.clone(),
                RecordedObject {
                    sha256: file.sha256.clone(),
                    size: file.size,
                    etag: etag.clone(),
                    headers: file.headers.clone(),
                },
            );
        }
        Record::new(objects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CACHE_HTML, CACHE_IMMUTABLE};

    fn live(record: &Record) -> Known<'_> {
        Known {
            live: Some(record),
            ..Known::default()
        }
    }

    fn headers(cache: &str) -> ObjectHeaders {
        ObjectHeaders {
            content_type: "text/plain".into(),
            cache_control: cache.into(),
        }
    }

    fn local(key: &str, sha: &str) -> LocalFile {
        LocalFile {
            key: key.into(),
            source: crate::model::Source::File(key.into()),
            size: sha.len() as u64,
            sha256: sha.into(),
            headers: headers(CACHE_IMMUTABLE),
        }
    }

    fn remote(key: &str, size: u64, etag: &str) -> RemoteObject {
        RemoteObject {
            key: key.into(),
            size,
            etag: etag.into(),
        }
    }

    /// A target holding exactly `files` as spadeploy wrote them (etag = "e-" + sha).
    fn deployed(files: &[LocalFile]) -> (Vec<RemoteObject>, Record) {
        let remote = files
            .iter()
            .map(|f| remote(&f.key, f.size, &format!("e-{}", f.sha256)))
            .collect();
        let objects = files
            .iter()
            .map(|f| {
                let entry = RecordedObject {
                    sha256: f.sha256.clone(),
                    size: f.size,
                    etag: format!("e-{}", f.sha256),
                    headers: f.headers.clone(),
                };
                (f.key.clone(), entry)
            })
            .collect();
        (remote, Record::new(objects))
    }

    fn opts() -> PlanOptions {
        PlanOptions {
            delete: true,
            ..Default::default()
        }
    }

    fn summary(plan: &Plan) -> Vec<(String, Action, String)> {
        plan.changes
            .iter()
            .map(|c| (c.key.clone(), c.action, c.reason.to_string()))
            .collect()
    }

    /// `n` files named `assets/<stem>-<i>.js`, content `<stem><i>`.
    fn build(stem: &str, n: usize) -> Vec<LocalFile> {
        let mut files: Vec<_> = (0..n)
            .map(|i| local(&format!("assets/{stem}-{i}.js"), &format!("{stem}{i}")))
            .collect();
        files.push(local("index.html", stem));
        files
    }

    #[test]
    fn the_mass_delete_guard_compares_the_build_with_the_live_release() {
        let live = build("v1", 20);
        let (listing, record) = deployed(&live);
        let known = Known {
            live: Some(&record),
            ..Known::default()
        };
        let keep_all = PlanOptions {
            delete: false,
            ..opts()
        };
        // A wrong folder: refused even when the keep-window would delete nothing yet.
        for options in [&opts(), &keep_all] {
            let wrong = plan(&[local("index.html", "oops")], &listing, known, options);
            assert_eq!(wrong.mass_delete(), Some((1, 21)));
        }
        // A rebuild that renames every hashed chunk is the same shape: accepted.
        let renamed = plan(&build("v2", 20), &listing, known, &opts());
        assert_eq!(renamed.mass_delete(), None);
        // Half the size is still accepted; fewer is not.
        assert_eq!(
            plan(&build("v3", 10), &listing, known, &opts()).mass_delete(),
            None
        );
        assert_eq!(
            plan(&build("v3", 9), &listing, known, &opts()).mass_delete(),
            Some((10, 21))
        );
        // Expired old releases deleted by the window never count: the build is the live size.
        let mut with_old = listing.clone();
        with_old.extend((0..40).map(|i| remote(&format!("assets/old-{i}.js"), 1, "e")));
        assert_eq!(plan(&live, &with_old, known, &opts()).mass_delete(), None);
    }

    #[test]
    fn a_configured_index_document_is_the_one_uploaded_last() {
        let files = [
            local("app.html", "a"),
            local("index.html", "i"),
            local("assets/app.js", "j"),
        ];
        let options = PlanOptions {
            index: "app.html".into(),
            ..opts()
        };
        let served = [remote("assets/old.js", 1, "e")];
        let p = plan(&files, &served, Known::default(), &options);
        let order: Vec<_> = p.writes().map(|c| (c.key.as_str(), c.phase)).collect();
        assert_eq!(
            order,
            [
                ("assets/app.js", Phase::Assets),
                ("index.html", Phase::Pages),
                ("app.html", Phase::EntryIndex),
            ]
        );
    }

    #[test]
    fn a_first_push_sends_pages_with_the_assets_and_the_index_last() {
        let files = [
            local("docs/index.html", "d"),
            local("index.html", "i"),
            local("assets/app.js", "j"),
        ];
        let phases = |remote: &[RemoteObject]| -> Vec<(String, Phase)> {
            plan(&files, remote, Known::default(), &opts())
                .writes()
                .map(|c| (c.key.clone(), c.phase))
                .collect()
        };
        let first = phases(&[]);
        assert_eq!(
            first,
            [
                ("assets/app.js".to_string(), Phase::Assets),
                ("docs/index.html".to_string(), Phase::Assets),
                ("index.html".to_string(), Phase::EntryIndex),
            ]
        );
        // Anything served already (even one object another tool wrote): pages wait for assets.
        let later = phases(&[remote("robots.txt", 1, "e")]);
        assert_eq!(later[1], ("docs/index.html".to_string(), Phase::Pages));
    }

    #[test]
    fn objects_changed_or_deleted_outside_spadeploy_are_drift() {
        let files = [local("a.js", "a"), local("b.js", "b"), local("c.js", "c")];
        let (mut remote, record) = deployed(&files);
        remote.retain(|r| r.key != "b.js");
        remote.iter_mut().find(|r| r.key == "c.js").unwrap().etag = "edited".into();
        let p = plan(&files, &remote, live(&record), &opts());
        let drift: Vec<_> = p.drift.iter().map(|d| (d.key.as_str(), d.what)).collect();
        assert_eq!(
            drift,
            [("b.js", DriftKind::Deleted), ("c.js", DriftKind::Changed)]
        );
        assert!(plan(&files, &deployed(&files).0, live(&record), &opts())
            .drift
            .is_empty());
    }

    #[test]
    fn replaced_mutable_content_is_retained_once_and_immutable_content_never() {
        let mut index = local("index.html", "i1");
        index.headers = headers(CACHE_HTML);
        let mut about = local("about.html", "i1");
        about.headers = headers(CACHE_HTML);
        let asset = local("app.js", "j1");
        let (remote, record) = deployed(&[index.clone(), about.clone(), asset.clone()]);
        let new = |file: &LocalFile, sha: &str| LocalFile {
            sha256: sha.into(),
            ..file.clone()
        };
        let build = [new(&index, "i2"), new(&about, "a2"), new(&asset, "j2")];
        let p = plan(&build, &remote, live(&record), &opts());
        // Both pages held the same content: one copy of it.
        let blobs: Vec<_> = p.retain.iter().map(|r| r.blob.clone()).collect();
        assert_eq!(blobs, [blob_key("i1")]);
        // A copy already in the target is not made again.
        let mut with_blob = remote.clone();
        with_blob.push(remote_entry(&blob_key("i1")));
        assert!(plan(&build, &with_blob, live(&record), &opts())
            .retain
            .is_empty());
        // A keep-window of one release has no rollback to retain for.
        let live_only = PlanOptions {
            retain_replaced: false,
            ..opts()
        };
        assert!(plan(&build, &remote, live(&record), &live_only)
            .retain
            .is_empty());
    }

    fn remote_entry(key: &str) -> RemoteObject {
        remote(key, 1, "e")
    }

    #[test]
    fn files_an_open_tab_may_load_stay_while_a_release_in_the_window_uses_them() {
        let old = [local("index.html", "i1"), local("assets/app-1.js", "a1")];
        let (remote, record) = deployed(&old);
        let build = [local("index.html", "i2"), local("assets/app-2.js", "a2")];
        let window = [&record];
        let in_window = Known {
            live: Some(&record),
            window: &window,
            ..Known::default()
        };
        let p = plan(&build, &remote, in_window, &opts());
        assert_eq!(
            p.kept,
            [Kept {
                key: "assets/app-1.js".into(),
                why: KeepReason::OpenSessions,
            }]
        );
        assert!(p.deletes().next().is_none());
        // Once no release in the window has it, it goes.
        let p = plan(&build, &remote, live(&record), &opts());
        assert_eq!(
            p.deletes().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["assets/app-1.js"]
        );
    }

    #[test]
    fn a_routing_change_alone_records_a_new_release_with_the_same_files() {
        let build = [local("index.html", "i1"), local("assets/app-1.js", "a1")];
        let (remote, mut record) = deployed(&build);
        record.routing = Some(serde_json::json!({"redirects": []}));
        let same = PlanOptions {
            routing: record.routing.clone(),
            ..opts()
        };
        let p = plan(&build, &remote, live(&record), &same);
        assert!(!p.has_changes() && p.same_release);
        let changed = PlanOptions {
            routing: Some(serde_json::json!({"redirects": [{"from": "/a", "to": "/b"}]})),
            ..opts()
        };
        let p = plan(&build, &remote, live(&record), &changed);
        assert!(p.changes.is_empty() && p.routing_changed && p.has_changes() && !p.same_release);
        assert_eq!(p.record_after(&HashMap::new()).objects, record.objects);
    }

    #[test]
    fn going_back_to_a_release_in_the_window_sends_only_what_it_lacks() {
        // v1 pushed, then v2 (v1's asset kept for open tabs): the target holds both assets,
        // the live record (v2) knows only v2's.
        let v1 = [local("index.html", "i1"), local("assets/app-1.js", "a1")];
        let v2 = [local("index.html", "i2"), local("assets/app-2.js", "a2")];
        let (_, first) = deployed(&v1);
        let (mut listed, second) = deployed(&v2);
        listed.push(remote("assets/app-1.js", 2, "e-a1"));
        let window = [&second, &first];
        let known = Known {
            live: Some(&second),
            window: &window,
            ..Known::default()
        };
        let p = plan(&v1, &listed, known, &opts());
        assert_eq!(
            summary(&p),
            [(
                "index.html".to_string(),
                Action::Update,
                "content changed".to_string()
            )]
        );
        assert_eq!(p.unchanged, 1);
        // An object someone replaced since that release wrote it is sent again.
        listed.last_mut().unwrap().etag = "edited".into();
        let p = plan(&v1, &listed, known, &opts());
        assert_eq!(p.changes.len(), 2, "{:?}", summary(&p));
    }

    #[test]
    fn retained_copies_expire_with_the_window_and_finished_progress_is_removed() {
        let mut index = local("index.html", "i2");
        index.headers = headers(CACHE_HTML);
        let (mut remote, record) = deployed(std::slice::from_ref(&index));
        let mut old_index = index.clone();
        old_index.sha256 = "i1".into();
        let (_, old_release) = deployed(&[old_index]);
        for key in [blob_key("i1"), blob_key("i0"), PROGRESS_RECORD.to_string()] {
            remote.push(remote_entry(&key));
        }
        let window = [&record, &old_release];
        let known = Known {
            live: Some(&record),
            window: &window,
            ..Known::default()
        };
        let p = plan(&[index], &remote, known, &opts());
        let deletes: Vec<_> = p
            .deletes()
            .map(|c| (c.key.clone(), c.reason.to_string()))
            .collect();
        assert_eq!(
            deletes,
            [
                (blob_key("i0"), Reason::ReleaseExpired.to_string()),
                (PROGRESS_RECORD.to_string(), Reason::Finished.to_string()),
            ],
            "the copy of i1 stays: a release in the window can be rolled back to"
        );
    }

    #[test]
    fn cold_push_uploads_everything_assets_first_index_last() {
        let files = [
            local("index.html", "i"),
            local("about/index.html", "a"),
            local("assets/app.js", "j"),
            local("favicon.ico", "f"),
        ];
        let p = plan(&files, &[], Known::default(), &opts());
        let order: Vec<_> = p.changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            order,
            [
                "about/index.html",
                "assets/app.js",
                "favicon.ico",
                "index.html"
            ]
        );
        assert!(p.changes.iter().all(|c| c.action == Action::Upload));
        assert_eq!(p.changes[3].phase, Phase::EntryIndex);
        assert_eq!(p.transfer_bytes(), 4);
    }

    #[test]
    fn unchanged_tree_plans_nothing() {
        let files = [local("index.html", "i"), local("a.js", "j")];
        let (remote, record) = deployed(&files);
        let p = plan(&files, &remote, live(&record), &opts());
        assert!(!p.has_changes());
        assert_eq!(p.unchanged, 2);
        let next = p.record_after(&HashMap::new());
        assert_eq!(next.objects, record.objects);
    }

    #[test]
    fn content_header_and_deletion_changes_carry_reasons() {
        let old = [
            local("index.html", "i"),
            local("a.js", "j"),
            local("gone.js", "g"),
        ];
        let (remote, record) = deployed(&old);
        let mut new_index = local("index.html", "i2");
        new_index.headers = headers(CACHE_HTML);
        let mut a = local("a.js", "j");
        a.headers = headers("public, max-age=60");
        let p = plan(&[new_index, a], &remote, live(&record), &opts());
        assert_eq!(
            summary(&p),
            [
                (
                    "a.js".into(),
                    Action::UpdateHeaders,
                    format!(
                        "headers changed (cache-control: {CACHE_IMMUTABLE} → public, max-age=60)"
                    )
                ),
                (
                    "index.html".into(),
                    Action::Update,
                    "content changed".into()
                ),
                (
                    "gone.js".into(),
                    Action::Delete,
                    "removed from build".into()
                ),
            ]
        );
        assert_eq!(p.transfer_bytes(), 2, "header-only changes send no bytes");
    }

    #[test]
    fn objects_changed_outside_spadeploy_are_rewritten() {
        let files = [local("a.js", "j"), local("b.js", "k")];
        let (mut remote, record) = deployed(&files);
        remote[0].etag = "someone-else".into();
        let p = plan(&files, &remote, live(&record), &opts());
        assert_eq!(
            summary(&p),
            [(
                "a.js".into(),
                Action::Update,
                Reason::Unrecorded.to_string()
            )]
        );
        // Without any record, every existing key is rewritten, never trusted.
        let p = plan(&files, &remote, Known::default(), &opts());
        assert_eq!(p.changes.len(), 2);
    }

    #[test]
    fn protect_and_no_delete_keep_stale_objects() {
        let old = [
            local("index.html", "i"),
            local("uploads/cat.png", "c"),
            local("old.js", "o"),
        ];
        let (remote, record) = deployed(&old);
        let build = [local("index.html", "i")];
        let options = PlanOptions {
            delete: true,
            force: false,
            protect: vec![Glob::new("uploads/**").unwrap()],
            ..PlanOptions::default()
        };
        let p = plan(&build, &remote, live(&record), &options);
        assert_eq!(
            summary(&p),
            [("old.js".into(), Action::Delete, "removed from build".into())]
        );
        assert_eq!(
            p.kept,
            [Kept {
                key: "uploads/cat.png".into(),
                why: KeepReason::Protected
            }]
        );
        let next = p.record_after(&HashMap::new());
        assert!(
            !next.objects.contains_key("uploads/cat.png"),
            "kept objects are not part of the new release"
        );
        assert!(!next.objects.contains_key("old.js"));

        let no_delete = PlanOptions {
            delete: false,
            ..options
        };
        let p = plan(&build, &remote, live(&record), &no_delete);
        assert!(!p.has_changes());
        assert_eq!(p.kept.len(), 2);
    }

    #[test]
    fn state_keys_are_never_planned() {
        let files = [local("index.html", "i")];
        let (mut remote, record) = deployed(&files);
        remote.push(remote_state());
        let p = plan(&files, &remote, live(&record), &opts());
        assert!(!p.has_changes(), "{:?}", summary(&p));
    }

    fn remote_state() -> RemoteObject {
        remote(crate::model::LIVE_RECORD, 10, "x")
    }

    #[test]
    fn force_rewrites_recorded_objects() {
        let files = [local("a.js", "j")];
        let (remote, record) = deployed(&files);
        let options = PlanOptions {
            force: true,
            ..opts()
        };
        let p = plan(&files, &remote, live(&record), &options);
        assert_eq!(
            summary(&p),
            [("a.js".into(), Action::Update, "forced".into())]
        );
    }

    #[test]
    fn record_after_uses_the_etags_the_store_returned() {
        let files = [local("a.js", "j"), local("b.js", "k")];
        let p = plan(&files, &[], Known::default(), &opts());
        let written = HashMap::from([("a.js".to_string(), "etag-a".to_string())]);
        let next = p.record_after(&written);
        assert_eq!(next.objects["a.js"].etag, "etag-a");
        assert!(
            !next.objects.contains_key("b.js"),
            "an unwritten object is not recorded"
        );
    }
}
