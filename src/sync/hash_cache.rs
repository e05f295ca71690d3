//! Remembers each build file's SHA-256 beside the file's identity as the file system reports it
//! (device, inode, size, mtime and ctime), so a file nobody touched is not read again by the next
//! push of the same directory. Any write, copy, rename-over, `touch` or permission change moves
//! the ctime, which no tool can set back; a rebuilt directory has new inodes. So a file whose
//! identity matches still holds the bytes that were hashed. Files changed in the last few seconds
//! are not remembered: a write within the same clock tick could leave their identity unchanged
//! (git's "racy" case, handled the same way). `--rehash` ignores what is remembered.

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Files whose mtime or ctime is this close to the scan are hashed every time (see above).
const RACY: Duration = Duration::from_secs(3);

const FORMAT: u32 = 1;

/// A file's identity: when any part differs, its bytes may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    /// None where the platform has no inode and ctime to trust (then files are always hashed).
    #[cfg(unix)]
    pub(crate) fn of(meta: &Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_meta: &Metadata) -> Option<Stamp> {
        None
    }

    /// A file last changed long ago (tests: no racy window keeps it from being remembered).
    #[cfg(test)]
    pub(crate) fn long_ago(ino: u64, size: u64) -> Stamp {
        Stamp {
            dev: 1,
            ino,
            size,
            mtime_ns: 1,
            ctime_ns: 1,
        }
    }

    fn settled_before(&self, horizon_ns: i128) -> bool {
        self.mtime_ns < horizon_ns && self.ctime_ns < horizon_ns
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    dir: PathBuf,
    files: HashMap<String, Entry>,
}

/// The remembered hashes of one build directory.
pub(crate) struct HashCache {
    /// Where it is kept; None when there is no cache directory (nothing is remembered).
    file: Option<PathBuf>,
    dir: PathBuf,
    files: HashMap<String, Entry>,
    /// Files settled before this instant (ns since the epoch) may be remembered.
    horizon_ns: i128,
}

impl HashCache {
    /// The cache of `build_dir` under `cache_home` (usually $XDG_CACHE_HOME or ~/.cache); `trust`
    /// false starts empty (`--rehash`) but still remembers this run's hashes. A missing or
    /// unreadable cache is an empty one: it only ever saves work.
    pub(crate) fn open(cache_home: Option<&Path>, build_dir: &Path, trust: bool) -> HashCache {
        let dir = build_dir
            .canonicalize()
            .unwrap_or_else(|_| build_dir.to_path_buf());
        let file = cache_home.map(|home| {
            let name = hex::encode(Sha256::digest(dir.to_string_lossy().as_bytes()));
            home.join("spadeploy")
                .join("hashes")
                .join(format!("{}.json", &name[..24]))
        });
        let files = match (&file, trust) {
            (Some(file), true) => std::fs::read(file)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
                .filter(|stored| stored.format == FORMAT && stored.dir == dir)
                .map(|stored| stored.files)
                .unwrap_or_default(),
            _ => HashMap::new(),
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        HashCache {
            file,
            dir,
            files,
            horizon_ns: now.saturating_sub(RACY).as_nanos() as i128,
        }
    }

    /// $XDG_CACHE_HOME, else ~/.cache.
    pub(crate) fn default_home() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
    }

    /// The remembered SHA-256 of `key`, if the file is as it was when hashed.
    pub(crate) fn get(&self, key: &str, stamp: Option<&Stamp>) -> Option<&str> {
        let entry = self.files.get(key)?;
        (Some(&entry.stamp) == stamp).then_some(entry.sha256.as_str())
    }

    /// Remembers exactly these files (the build as just hashed) and writes the cache if that
    /// changed it. Failing to write only costs the next run some hashing, so it is silent.
    pub(crate) fn save<'a>(self, files: impl Iterator<Item = (&'a str, Option<Stamp>, &'a str)>) {
        let Some(file) = &self.file else { return };
        let settled: Vec<(&str, Stamp, &str)> = files
            .filter_map(|(key, stamp, sha256)| {
                let stamp = stamp.filter(|s| s.settled_before(self.horizon_ns))?;
                Some((key, stamp, sha256))
            })
            .collect();
        // Compared before anything is copied: a no-op push of a large build changes nothing.
        let unchanged = settled.len() == self.files.len()
            && settled.iter().all(|(key, stamp, sha256)| {
                self.files
                    .get(*key)
                    .is_some_and(|e| e.stamp == *stamp && e.sha256 == *sha256)
            });
        if unchanged {
            return;
        }
        let remembered: HashMap<String, Entry> = settled
            .into_iter()
            .map(|(key, stamp, sha256)| {
                let sha256 = sha256.to_string();
                (key.to_string(), Entry { stamp, sha256 })
            })
            .collect();
        let stored = Stored {
            format: FORMAT,
            dir: self.dir,
            files: remembered,
        };
        let _ = write_atomically(file, &serde_json::to_vec(&stored).unwrap_or_default());
    }
}

/// A reader never sees half a cache: write aside, then rename over.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let temp = file.with_extension(format!("{}.tmp", std::process::id()));
    let written = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(mtime_ns: i128, ctime_ns: i128) -> Stamp {
        Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns,
            ctime_ns,
        }
    }

    #[test]
    fn remembers_settled_files_and_forgets_racy_ones() {
        let home = tempfile::tempdir().unwrap();
        let build = tempfile::tempdir().unwrap();
        let cache = HashCache::open(Some(home.path()), build.path(), true);
        let old = cache.horizon_ns - 1;
        let racy = cache.horizon_ns + 1;
        cache.save(
            [
                ("a.js", Some(stamp(old, old)), "aa"),
                ("b.js", Some(stamp(old, racy)), "bb"),
                ("c.js", Some(stamp(racy, old)), "cc"),
                ("d.js", None, "dd"),
            ]
            .into_iter(),
        );

        let cache = HashCache::open(Some(home.path()), build.path(), true);
        assert_eq!(cache.get("a.js", Some(&stamp(old, old))), Some("aa"));
        assert_eq!(
            cache.get("b.js", Some(&stamp(old, racy))),
            None,
            "ctime too recent"
        );
        assert_eq!(
            cache.get("c.js", Some(&stamp(racy, old))),
            None,
            "mtime too recent"
        );
        assert_eq!(cache.get("d.js", None), None);
    }

    #[test]
    fn any_change_of_identity_is_a_miss() {
        let home = tempfile::tempdir().unwrap();
        let build = tempfile::tempdir().unwrap();
        let cache = HashCache::open(Some(home.path()), build.path(), true);
        let t = cache.horizon_ns - 10;
        let base = stamp(t, t);
        cache.save([("a.js", Some(base), "aa")].into_iter());
        let cache = HashCache::open(Some(home.path()), build.path(), true);
        let changed = [
            Stamp { dev: 9, ..base },
            Stamp { ino: 9, ..base },
            Stamp { size: 9, ..base },
            Stamp {
                mtime_ns: t - 1,
                ..base
            },
            Stamp {
                ctime_ns: t + 1,
                ..base
            },
        ];
        for other in changed {
            assert_eq!(cache.get("a.js", Some(&other)), None, "{other:?}");
        }
        assert_eq!(cache.get("b.js", Some(&base)), None, "another key");
        assert_eq!(cache.get("a.js", Some(&base)), Some("aa"));

        let untrusted = HashCache::open(Some(home.path()), build.path(), false);
        assert_eq!(untrusted.get("a.js", Some(&base)), None, "--rehash");
        let other_build = tempfile::tempdir().unwrap();
        let elsewhere = HashCache::open(Some(home.path()), other_build.path(), true);
        assert_eq!(
            elsewhere.get("a.js", Some(&base)),
            None,
            "one cache per directory"
        );
    }

    #[test]
    fn a_corrupt_or_missing_cache_is_an_empty_one() {
        let home = tempfile::tempdir().unwrap();
        let build = tempfile::tempdir().unwrap();
        let cache = HashCache::open(Some(home.path()), build.path(), true);
        let file = cache.file.clone().unwrap();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"{not json").unwrap();
        let t = cache.horizon_ns - 10;
        let reopened = HashCache::open(Some(home.path()), build.path(), true);
        assert_eq!(reopened.get("a.js", Some(&stamp(t, t))), None);
        reopened.save([("a.js", Some(stamp(t, t)), "aa")].into_iter());
        let healed = HashCache::open(Some(home.path()), build.path(), true);
        assert_eq!(healed.get("a.js", Some(&stamp(t, t))), Some("aa"));
        let nowhere = HashCache::open(None, build.path(), true);
        assert_eq!(nowhere.get("a.js", Some(&stamp(t, t))), None);
    }
}
