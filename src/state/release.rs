//! spadeploy's own records in the target, under `.spadeploy/`: the release history (what each
//! successful push made live), the live release, progress of an interrupted push, retained copies
//! of mutable files for rollback, and the deploy lock. The records let the planner know each
//! object's sha256 and headers without a HEAD per object, and without trusting ETags to be MD5s.

use crate::model::{
    blob_key, is_header_value, is_safe_key, is_state_key, Interner, LocalFile, ObjectHeaders,
    RemoteObject, Source, LIVE_RECORD, RELEASES_PREFIX,
};
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const FORMAT: u32 = 2;

/// Release ids found in a listing of the target, oldest first (ids sort by time).
pub(crate) fn release_ids<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<String> = keys
        .filter_map(|k| k.strip_prefix(RELEASES_PREFIX)?.strip_suffix(".json"))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

/// Mutable files (anything not cached as immutable) are retained by content for rollback;
/// immutable, content-hashed assets stay in place for the keep-window anyway.
pub(crate) fn retains_copy(headers: &ObjectHeaders) -> bool {
    !headers.is_immutable()
}

/// The commit being deployed: `GITHUB_SHA` in GitHub Actions, else `git rev-parse HEAD` in `dir`.
pub(crate) fn detect_source(dir: &Path) -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA") {
        return Some(sha);
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordedObject {
    pub sha256: String,
    pub size: u64,
    /// The store's change token for the object as spadeploy wrote it (S3 ETag, or the local
    /// store's size+mtime). A listing that shows another token means someone else changed it.
    pub etag: String,
    #[serde(flatten)]
    pub headers: ObjectHeaders,
}

impl RecordedObject {
    /// Does the listing still show the object as spadeploy wrote it? Stores that list no ETag
    /// (some S3-compatible ones) leave only the size to go by.
    pub(crate) fn matches(&self, listed: &RemoteObject) -> bool {
        self.size == listed.size && (self.etag == listed.etag || listed.etag.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub format: u32,
    /// Sorts by time: `20261125T101500.123Z-3f9a1c2b`.
    #[serde(default)]
    pub id: String,
    pub tool: String,
    pub pushed_at: String,
    /// The commit deployed, when known.
    #[serde(default)]
    pub source: Option<String>,
    /// The routing the release was pushed with (the manifest's rules, a framework's preset
    /// applied), so `serve` and `routing --explain` answer as it was deployed wherever they run.
    /// Opaque here: the routing layer reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<serde_json::Value>,
    /// Whether the next push may take the deploy lock while it lists the target: the store
    /// honoured the lock's conditional create when this release was pushed (elsewhere a lock
    /// written before the listing is read could replace another deploy's lock unseen), and its
    /// listing carried ETags (so a push tells its own lock in the listing from another's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_lock: Option<bool>,
    /// Keys relative to the target.
    pub objects: BTreeMap<String, RecordedObject>,
}

/// What a release records besides its files.
#[derive(Debug, Clone, Default)]
pub(crate) struct Provenance {
    /// The commit deployed, when known.
    pub source: Option<String>,
    pub routing: Option<serde_json::Value>,
    /// The target's listing carried ETags (see `Record::early_lock`).
    pub etags_listed: bool,
}

/// One line of `spadeploy releases`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct ReleaseSummary {
    pub id: String,
    pub pushed_at: String,
    pub source: Option<String>,
    pub files: usize,
    pub live: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("spadeploy's record {LIVE_RECORD} in the target is unreadable ({0}); delete it to make the next push re-upload everything")]
    Unreadable(serde_json::Error),
    #[error("a spadeploy record in the target names the key `{0}`, whose empty, `.` or `..` parts would lead outside the target: spadeploy never writes such a record, so someone edited it; delete the record (the next push re-uploads everything)")]
    UnsafeKey(String),
    #[error("a spadeploy record in the target names the key `{0}` inside spadeploy's own state (.spadeploy/): spadeploy never writes such a record, so someone edited it; delete the record")]
    StateKey(String),
    #[error("a spadeploy record in the target gives `{key}` the header value {value:?}, which is not printable ASCII on one line: spadeploy never writes such a record, so someone edited it; delete the record")]
    UnsafeHeader { key: String, value: String },
}

impl Record {
    pub(crate) fn new(objects: BTreeMap<String, RecordedObject>) -> Record {
        let now = std::time::SystemTime::now();
        let pushed_at = humantime::format_rfc3339_seconds(now).to_string();
        // Milliseconds keep ids in push order even for pushes within one second.
        let stamp = humantime::format_rfc3339_millis(now).to_string();
        let mut digest = Sha256::new();
        for (key, object) in &objects {
            digest.update(format!("{key}\0{}\0{}\n", object.sha256, object.etag));
        }
        let id = format!(
            "{}-{}",
            stamp.replace(['-', ':'], ""),
            &hex::encode(digest.finalize())[..8]
        );
        Record {
            format: FORMAT,
            id,
            tool: format!("spadeploy {}", env!("CARGO_PKG_VERSION")),
            pushed_at,
            source: None,
            routing: None,
            early_lock: None,
            objects,
        }
    }

    pub(crate) fn from_json(bytes: &[u8]) -> Result<Record, RecordError> {
        let mut record: Record = serde_json::from_slice(bytes).map_err(RecordError::Unreadable)?;
        // A record is read back from the target, where anyone with write access could have
        // edited it; rollback writes what it names, so nothing in it may leave the site's files.
        for (key, object) in &record.objects {
            if !is_safe_key(key) {
                return Err(RecordError::UnsafeKey(key.clone()));
            }
            if is_state_key(key) {
                return Err(RecordError::StateKey(key.clone()));
            }
            let headers = [&object.headers.content_type, &object.headers.cache_control];
            if let Some(value) = headers.into_iter().find(|v| !is_header_value(v)) {
                return Err(RecordError::UnsafeHeader {
                    key: key.clone(),
                    value: value.to_string(),
                });
            }
        }
        // Each object was read with its own copy of values most objects share.
        let mut values = Interner::default();
        for object in record.objects.values_mut() {
            object.headers = values.headers(&object.headers);
        }
        Ok(record)
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and maps always serializes.
        // Compact: read on every push (5,000 files: 1.5 MB pretty, 1.3 MB compact); `jq .`
        // pretties it for a human.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What restoring `release` takes: each of its files with a source already in the target (a
/// retained copy, or an object still holding that content), or the keys that cannot be restored
/// because their content left the target.
pub(crate) fn restore(
    release: &Record,
    listing: &[RemoteObject],
    live: Option<&Record>,
) -> Result<Vec<LocalFile>, Vec<String>> {
    let listed: std::collections::HashMap<&str, &RemoteObject> =
        listing.iter().map(|r| (r.key.as_str(), r)).collect();
    let intact =
        |key: &str, entry: &RecordedObject| listed.get(key).is_some_and(|r| entry.matches(r));
    // Keys whose current content is known, by sha256 (the release's own, then the live one's).
    let mut holders: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for record in [Some(release), live].into_iter().flatten() {
        for (key, entry) in &record.objects {
            if intact(key, entry) {
                holders.entry(entry.sha256.as_str()).or_insert(key.as_str());
            }
        }
    }
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for (key, entry) in &release.objects {
        let blob = blob_key(&entry.sha256);
        let source = if listed.contains_key(blob.as_str()) {
            Some(blob)
        } else {
            holders
                .get(entry.sha256.as_str())
                .map(std::string::ToString::to_string)
        };
        match source {
            Some(from) => files.push(LocalFile {
                key: key.clone(),
                source: Source::Stored(from),
                size: entry.size,
                sha256: entry.sha256.clone(),
                headers: entry.headers.clone(),
            }),
            None => missing.push(key.clone()),
        }
    }
    if missing.is_empty() {
        Ok(files)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut objects = BTreeMap::new();
        objects.insert(
            "index.html".to_string(),
            RecordedObject {
                sha256: "ab".into(),
                size: 2,
                etag: "\"e\"".into(),
                headers: ObjectHeaders {
                    content_type: "text/html; charset=utf-8".into(),
                    cache_control: "no-cache".into(),
                },
            },
        );
        let record = Record::new(objects);
        let back = Record::from_json(&record.to_json()).unwrap();
        assert_eq!(back, record);
        assert!(String::from_utf8(record.to_json())
            .unwrap()
            .contains(r#""cache_control":"no-cache""#));
    }

    #[test]
    fn a_crafted_record_cannot_write_state_or_inject_headers() {
        let entry = |content_type: &str| RecordedObject {
            sha256: "ab".into(),
            size: 2,
            etag: "e".into(),
            headers: ObjectHeaders {
                content_type: content_type.into(),
                cache_control: "no-cache".into(),
            },
        };
        let record = |key: &str, content_type: &str| {
            Record::new([(key.to_string(), entry(content_type))].into()).to_json()
        };
        let state = Record::from_json(&record(".spadeploy/live.json", "text/html")).unwrap_err();
        assert!(matches!(state, RecordError::StateKey(_)), "{state}");
        let header =
            Record::from_json(&record("index.html", "text/html\r\nX-Evil: 1")).unwrap_err();
        assert!(
            matches!(header, RecordError::UnsafeHeader { .. }),
            "{header}"
        );
        assert!(Record::from_json(&record("index.html", "text/html")).is_ok());
    }

    #[test]
    fn garbage_is_an_error_that_says_how_to_recover() {
        let err = Record::from_json(b"{not json").unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
    }

    #[test]
    fn release_ids_sort_by_time_and_ignore_other_keys() {
        let keys = [
            ".spadeploy/releases/20261125T101500Z-bbbbbbbb.json",
            ".spadeploy/live.json",
            ".spadeploy/releases/20261124T090000Z-aaaaaaaa.json",
            "index.html",
        ];
        assert_eq!(
            release_ids(keys.into_iter()),
            ["20261124T090000Z-aaaaaaaa", "20261125T101500Z-bbbbbbbb"]
        );
        let record = Record::new(BTreeMap::new());
        assert_eq!(
            record.id.len(),
            "20261125T101500.123Z-3f9a1c2b".len(),
            "{}",
            record.id
        );
    }

    #[test]
    fn state_keys_are_recognised() {
        assert!(is_state_key(".spadeploy/live.json"));
        assert!(!is_state_key("spadeploy/live.json"));
        assert!(!is_state_key("index.html"));
    }
}
