//! The plain values every layer shares, depending on nothing else in the crate: files to deploy,
//! objects in a target, the headers an object is stored with, and the names of spadeploy's state.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use percent_encoding::{AsciiSet, CONTROLS};
use serde::{Deserialize, Serialize};

/// Content-hashed file names never change content, so browsers and CDNs may keep them forever.
pub(crate) const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// HTML must be revalidated on every load, or users keep an index that points at old assets.
pub(crate) const CACHE_HTML: &str = "no-cache";
/// Unhashed non-HTML files (favicon, robots.txt, manifest): short enough that a deploy shows soon.
pub(crate) const CACHE_SHORT: &str = "public, max-age=300";

/// An object's Content-Type and Cache-Control. The values are shared (`Arc<str>`): a site has a
/// handful of distinct ones across all its files, and every file carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectHeaders {
    pub content_type: Arc<str>,
    pub cache_control: Arc<str>,
}

/// Hands out one shared copy of each distinct header value.
#[derive(Debug, Default)]
pub(crate) struct Interner(HashSet<Arc<str>>);

impl Interner {
    pub(crate) fn value(&mut self, value: &str) -> Arc<str> {
        if let Some(known) = self.0.get(value) {
            return Arc::clone(known);
        }
        let shared: Arc<str> = Arc::from(value);
        self.0.insert(Arc::clone(&shared));
        shared
    }

    pub(crate) fn headers(&mut self, headers: &ObjectHeaders) -> ObjectHeaders {
        ObjectHeaders {
            content_type: self.value(&headers.content_type),
            cache_control: self.value(&headers.cache_control),
        }
    }
}

impl ObjectHeaders {
    /// Cached as never changing: its name changes with its content.
    pub(crate) fn is_immutable(&self) -> bool {
        self.cache_control
            .split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("immutable"))
    }
}

/// A file the target should hold: from the build, or (for a rollback) already in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalFile {
    /// Relative to the build directory (and the target), `/`-separated.
    pub key: String,
    pub source: Source,
    pub size: u64,
    pub sha256: String,
    pub headers: ObjectHeaders,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A file on disk (the build).
    File(PathBuf),
    /// An object already in the target (a retained copy, or the same key), copied server-side.
    Stored(String),
    /// An object elsewhere in the target's bucket, by its full key: a file a preview shares with
    /// the production release, copied server-side instead of sent again.
    Bucket(String),
}

/// One object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteObject {
    pub key: String,
    pub size: u64,
    /// An opaque change token (S3 ETag; size+mtime locally). Never assumed to be an MD5.
    pub etag: String,
}

/// Keys under this prefix (relative to the target) are spadeploy's state: never synced or deleted.
pub(crate) const STATE_PREFIX: &str = ".spadeploy/";
/// The record of the live release, relative to the target.
pub(crate) const LIVE_RECORD: &str = ".spadeploy/live.json";
/// What an unfinished push already wrote, so a re-run does not send it again.
pub(crate) const PROGRESS_RECORD: &str = ".spadeploy/progress.json";
/// One record per release: `.spadeploy/releases/<id>.json`.
pub(crate) const RELEASES_PREFIX: &str = ".spadeploy/releases/";
/// Content-addressed copies of mutable files (index.html...), for rollback.
pub(crate) const BLOBS_PREFIX: &str = ".spadeploy/blobs/";
/// The deploy lock.
pub(crate) const LOCK_KEY: &str = ".spadeploy/lock.json";

pub(crate) fn release_key(id: &str) -> String {
    format!("{RELEASES_PREFIX}{id}.json")
}

pub(crate) fn blob_key(sha256: &str) -> String {
    format!("{BLOBS_PREFIX}{sha256}")
}

pub(crate) fn is_state_key(key: &str) -> bool {
    key.starts_with(STATE_PREFIX)
}

/// Previews live under the target's `_previews/<id>/`, each its own target with its own
/// releases and lock: never part of the site's listing, so a push never prunes them.
pub(crate) const PREVIEWS_PREFIX: &str = "_previews/";

/// A header value spadeploy sets or reads back: non-empty printable ASCII on one line (no CR/LF
/// to inject headers into responses or generated code).
pub(crate) fn is_header_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A key stays inside the target: no empty, `.` or `..` parts, no backslash.
pub(crate) fn is_safe_key(key: &str) -> bool {
    !key.contains('\\') && key.split('/').all(|part| !matches!(part, "" | "." | ".."))
}

/// Characters encoded when a key becomes a URL path: what browsers encode, and what CloudFront
/// needs encoded in invalidation paths.
pub(crate) const URL_PATH_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|')
    .add(b'\\');
