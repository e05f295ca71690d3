//! Walking the build directory: which files to deploy, their sha256 (in parallel) and headers.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::config::manifest::Glob;
use crate::model::{LocalFile, Source, STATE_PREFIX};
use crate::state::release::Record;

use crate::sync::hash_cache::{HashCache, Stamp};
use crate::sync::headers::{is_content_hashed, HeaderRules};

/// Never part of a deploy: VCS data, OS litter, and spadeploy's own state folder.
const ALWAYS_EXCLUDED: &[&str] = &[".git", ".DS_Store", "Thumbs.db", ".spadeploy"];

#[derive(Debug, Clone)]
pub(crate) struct ScanOptions {
    pub exclude: Vec<Glob>,
    /// The index document the build must hold at its top, if any.
    pub require_index: Option<String>,
}

/// A file to deploy, before hashing.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub stamp: Option<Stamp>,
}

/// The build, hashed.
pub(crate) struct Hashed {
    /// Sorted by key.
    pub files: Vec<LocalFile>,
    /// How many were read (the rest were unchanged since a previous run hashed them).
    pub read: usize,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    #[error("build directory {} does not exist: run your build first, or pass the right DIR", .0.display())]
    Missing(PathBuf),
    #[error("{} is not a directory: pass the folder your build writes (e.g. ./dist)", .0.display())]
    NotADirectory(PathBuf),
    #[error("build directory {} has no files to deploy (after excludes): did the build fail?", .0.display())]
    Empty(PathBuf),
    #[error("build directory {} has no {index} at its top (the index document): is it the build output? Pass --allow-missing-index to deploy it anyway, or set [routing] index_document", dir.display())]
    NoIndex { dir: PathBuf, index: String },
    #[error("{} is a symlink to {}, outside the build directory: copy the file into the build or exclude it", link.display(), target.display())]
    SymlinkOutside { link: PathBuf, target: PathBuf },
    #[error("{} is not a regular file (socket, FIFO or device): remove it from the build or exclude it", .0.display())]
    NotAFile(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{} has a name that is not valid UTF-8, which S3 keys must be: rename it", .0.display())]
    NonUtf8Name(PathBuf),
    #[error("{} has a backslash or a control character in its name: browsers read `\\` as `/`, and the release history cannot record such a key; rename it or exclude it", .0.display())]
    UnsafeName(PathBuf),
}

/// Lists the files of `dir` to deploy (cheap: no file is read), checking that it looks like a
/// build: a directory, not empty, with an index.html unless told otherwise.
pub(crate) fn walk(dir: &Path, options: &ScanOptions) -> Result<Vec<Found>, ScanError> {
    let found = walk_tree(dir, &options.exclude)?;
    if found.is_empty() {
        return Err(ScanError::Empty(dir.to_path_buf()));
    }
    if let Some(index) = &options.require_index {
        if !found.iter().any(|f| &f.key == index) {
            return Err(ScanError::NoIndex {
                dir: dir.to_path_buf(),
                index: index.clone(),
            });
        }
    }
    Ok(found)
}

/// SHA-256s the live release vouches for, by key, each with the size it was recorded at.
pub(crate) type Vouched = HashMap<String, (u64, String)>;

/// The live release's hashes of the files whose names carry a content hash (`Vouched`): such a
/// name promises its bytes (the same promise that caches them for a year), so a file of that
/// name and size is the one the release recorded, and need not be read to know it.
pub(crate) fn vouched_by(live: &Record) -> Vouched {
    live.objects
        .iter()
        .filter(|(key, _)| is_content_hashed(key))
        .map(|(key, object)| (key.clone(), (object.size, object.sha256.clone())))
        .collect()
}

/// How a file's SHA-256 was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Its bytes were read and hashed.
    Read,
    /// The hash cache remembers it unchanged since it was hashed.
    Cached,
    /// The live release vouches for it (`Vouched`): not remembered, nothing was read.
    Vouched,
}

/// Hashes the files on all cores (those the cache knows unchanged are not read again) and
/// resolves their headers; `on_hashed(bytes)` is called from worker threads as each file is done.
/// Files with plain names go first; then `vouched()` is waited for (the live release's hashes,
/// read meanwhile) and the files whose names carry a content hash and match it in size are taken
/// from it unread: on a CI runner, whose hash cache is cold, a rebuild reads only what changed
/// names. The cache then remembers what was hashed.
pub(crate) fn hash(
    found: Vec<Found>,
    rules: &HeaderRules,
    cache: HashCache,
    vouched: impl FnOnce() -> Vouched,
    on_hashed: &(dyn Fn(u64) + Sync),
) -> Result<Hashed, ScanError> {
    let (named, plain): (Vec<Found>, Vec<Found>) =
        found.into_iter().partition(|f| is_content_hashed(&f.key));
    let mut hashed = hash_each(plain, rules, &cache, &Vouched::new(), on_hashed)?;
    hashed.extend(hash_each(named, rules, &cache, &vouched(), on_hashed)?);
    hashed.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    cache.save(
        hashed
            .iter()
            .filter(|(_, _, known)| *known != Known::Vouched)
            .map(|(file, stamp, _)| (file.key.as_str(), *stamp, file.sha256.as_str())),
    );
    let read = hashed
        .iter()
        .filter(|(_, _, known)| *known == Known::Read)
        .count();
    Ok(Hashed {
        files: hashed.into_iter().map(|(file, _, _)| file).collect(),
        read,
    })
}

type HashedFile = (LocalFile, Option<Stamp>, Known);

fn hash_each(
    found: Vec<Found>,
    rules: &HeaderRules,
    cache: &HashCache,
    vouched: &Vouched,
    on_hashed: &(dyn Fn(u64) + Sync),
) -> Result<Vec<HashedFile>, ScanError> {
    found
        .into_par_iter()
        // One read buffer per worker task, not per file: zeroing 256 KiB for each of thousands
        // of small files cost more than reading them.
        .map_init(read_buffer, |buffer, found| {
            let Found {
                key,
                path,
                size,
                stamp,
            } = found;
            let known = cache
                .get(&key, stamp.as_ref())
                .map(|sha256| (sha256.to_string(), Known::Cached))
                .or_else(|| {
                    let (recorded, sha256) = vouched.get(&key)?;
                    (*recorded == size).then(|| (sha256.clone(), Known::Vouched))
                });
            let (sha256, known) = match known {
                Some(known) => known,
                None => {
                    let sha256 =
                        sha256_file(&path, buffer).map_err(|source| ScanError::Unreadable {
                            path: path.clone(),
                            source,
                        })?;
                    (sha256, Known::Read)
                }
            };
            on_hashed(size);
            let headers = rules.resolve(&key);
            let file = LocalFile {
                key,
                source: Source::File(path),
                size,
                sha256,
                headers,
            };
            Ok((file, stamp, known))
        })
        .collect()
}

/// The files under `dir`, excludes applied, symlinks checked.
fn walk_tree(dir: &Path, exclude: &[Glob]) -> Result<Vec<Found>, ScanError> {
    let meta = std::fs::metadata(dir).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ScanError::Missing(dir.to_path_buf()),
        _ => ScanError::Unreadable {
            path: dir.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_dir() {
        return Err(ScanError::NotADirectory(dir.to_path_buf()));
    }
    let root = dir.canonicalize().map_err(|source| ScanError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    // Not sorted while walking: walkdir's sort parses both paths again for every comparison
    // (9 ms of a 75 ms `diff` at 5,000 files); the keys are sorted once below.
    let walker = WalkDir::new(&root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            entry.depth() == 0 || !ALWAYS_EXCLUDED.contains(&name.as_ref())
        });
    for entry in walker {
        let entry = entry.map_err(|err| {
            let path = err.path().unwrap_or(dir).to_path_buf();
            ScanError::Unreadable {
                path,
                source: err.into(),
            }
        })?;
        let path = entry.path();
        if entry.path_is_symlink() {
            stays_inside(dir, &root, path)?;
        }
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        if !file_type.is_file() {
            return Err(ScanError::NotAFile(display_path(dir, &root, path)));
        }
        let key = key_of(&root, path).ok_or_else(|| ScanError::NonUtf8Name(path.into()))?;
        if key.contains(|c: char| c == '\\' || c.is_control()) {
            return Err(ScanError::UnsafeName(display_path(dir, &root, path)));
        }
        if key.starts_with(STATE_PREFIX) || exclude.iter().any(|glob| glob.is_match(&key)) {
            continue;
        }
        found.push((key, path.to_path_buf()));
    }
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // Then one stat per file, on all cores: for thousands of files the stats are most of the
    // walk. (`metadata` follows symlinks, as the walk does.)
    found
        .into_par_iter()
        .map(|(key, path)| {
            let meta = std::fs::metadata(&path).map_err(|source| ScanError::Unreadable {
                path: path.clone(),
                source,
            })?;
            Ok(Found {
                key,
                size: meta.len(),
                stamp: Stamp::of(&meta),
                path,
            })
        })
        .collect()
}

/// A symbolic link is followed only when it points inside the build.
fn stays_inside(dir: &Path, root: &Path, path: &Path) -> Result<(), ScanError> {
    let target = path
        .canonicalize()
        .map_err(|source| ScanError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
    if !target.starts_with(root) {
        return Err(ScanError::SymlinkOutside {
            link: display_path(dir, root, path),
            target,
        });
    }
    Ok(())
}

/// Paths in errors are shown as the user wrote DIR, not canonicalized.
fn display_path(dir: &Path, root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(|rel| dir.join(rel))
        .unwrap_or_else(|_| path.to_path_buf())
}

fn key_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?.to_str()?;
    // walkdir joins names with the platform's separator; keys use `/`.
    Some(match std::path::MAIN_SEPARATOR {
        '/' => rel.to_string(),
        separator => rel.replace(separator, "/"),
    })
}

fn read_buffer() -> Vec<u8> {
    vec![0u8; 256 * 1024]
}

fn sha256_file(path: &Path, buffer: &mut [u8]) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    loop {
        let read = file.read(buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn options(exclude: &[&str], require_index: bool) -> ScanOptions {
        ScanOptions {
            exclude: exclude.iter().map(|g| Glob::new(g).unwrap()).collect(),
            require_index: require_index.then(|| "index.html".to_string()),
        }
    }

    fn run(dir: &Path, opts: &ScanOptions) -> Result<Vec<LocalFile>, ScanError> {
        let uncached = HashCache::open(None, dir, false);
        Ok(hash(
            walk(dir, opts)?,
            &HeaderRules::default(),
            uncached,
            Vouched::new,
            &|_| {},
        )?
        .files)
    }

    fn write(dir: &Path, rel: &str, body: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }

    /// A content-hashed name of the recorded size is taken from the live release unread (and not
    /// remembered as hashed); a plain name, or a hashed one whose size changed, is read.
    #[test]
    fn the_live_release_vouches_for_content_hashed_names_of_the_same_size() {
        let tmp = tempfile::tempdir().unwrap();
        let cache_home = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "index.html", "<html>");
        write(d, "assets/app-3f9a1c2b.js", "same size");
        write(d, "assets/grown-3f9a1c2b.js", "grown by a byte");
        let claimed = |key: &str, size: u64| (key.to_string(), (size, format!("recorded {key}")));
        let vouched = Vouched::from([
            claimed("index.html", 6),
            claimed("assets/app-3f9a1c2b.js", 9),
            claimed("assets/grown-3f9a1c2b.js", 14),
        ]);
        // Settled stamps, so the cache remembers what it is given.
        let found = || {
            let mut found = walk(d, &options(&[], true)).unwrap();
            for (ino, f) in found.iter_mut().enumerate() {
                f.stamp = Some(Stamp::long_ago(ino as u64, f.size));
            }
            found
        };
        let cache = HashCache::open(Some(cache_home.path()), d, true);
        let hashed = hash(found(), &HeaderRules::default(), cache, || vouched, &|_| {}).unwrap();
        let sha = |key: &str| {
            let file = hashed.files.iter().find(|f| f.key == key).unwrap();
            file.sha256.clone()
        };
        assert_eq!(
            sha("assets/app-3f9a1c2b.js"),
            "recorded assets/app-3f9a1c2b.js"
        );
        assert_eq!(sha("index.html"), hex::encode(Sha256::digest(b"<html>")));
        assert_eq!(
            sha("assets/grown-3f9a1c2b.js"),
            hex::encode(Sha256::digest(b"grown by a byte"))
        );
        assert_eq!(hashed.read, 2, "only the vouched file goes unread");

        // The cache remembers the files read, not the vouched one: with nothing vouched, it is
        // read.
        let cache = HashCache::open(Some(cache_home.path()), d, true);
        let again = hash(
            found(),
            &HeaderRules::default(),
            cache,
            Vouched::new,
            &|_| {},
        )
        .unwrap();
        assert_eq!(again.read, 1, "the files read before are remembered");
        let file = again
            .files
            .iter()
            .find(|f| f.key == "assets/app-3f9a1c2b.js");
        assert_eq!(
            file.unwrap().sha256,
            hex::encode(Sha256::digest(b"same size"))
        );
    }

    #[test]
    fn keys_hashes_and_default_excludes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "index.html", "<html>");
        write(d, "assets/app-3f9a1c2b.js", "x");
        write(d, "assets/app-3f9a1c2b.js.map", "{}");
        write(d, ".git/HEAD", "ref");
        write(d, "sub/.DS_Store", "junk");
        write(d, ".spadeploy/live.json", "{}");
        let files = run(d, &options(&["*.map"], true)).unwrap();
        let keys: Vec<_> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["assets/app-3f9a1c2b.js", "index.html"]);
        // sha256("x")
        assert_eq!(
            files[0].sha256,
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        assert_eq!(files[1].size, 6);
        assert_eq!(&*files[1].headers.cache_control, "no-cache");
    }

    #[test]
    fn bad_directories_are_explained() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let missing = run(&d.join("nope"), &options(&[], true)).unwrap_err();
        assert!(matches!(missing, ScanError::Missing(_)), "{missing}");
        write(d, "file.txt", "x");
        let not_dir = run(&d.join("file.txt"), &options(&[], true)).unwrap_err();
        assert!(matches!(not_dir, ScanError::NotADirectory(_)));
        let no_index = run(d, &options(&[], true)).unwrap_err();
        assert!(no_index.to_string().contains("--allow-missing-index"));
        assert_eq!(run(d, &options(&[], false)).unwrap().len(), 1);
        let empty = run(d, &options(&["*.txt"], false)).unwrap_err();
        assert!(matches!(empty, ScanError::Empty(_)));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_are_followed_and_outside_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "index.html", "i");
        write(d, "real/a.txt", "a");
        std::os::unix::fs::symlink(d.join("real"), d.join("alias")).unwrap();
        let keys: Vec<_> = run(d, &options(&[], true))
            .unwrap()
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(keys, ["alias/a.txt", "index.html", "real/a.txt"]);

        write(outside.path(), "secret.txt", "s");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), d.join("leak.txt")).unwrap();
        let err = run(d, &options(&[], true)).unwrap_err();
        assert!(matches!(err, ScanError::SymlinkOutside { .. }), "{err}");
        assert!(err.to_string().contains("leak.txt"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn dangling_symlinks_are_unreadable() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "index.html", "i");
        std::os::unix::fs::symlink(d.join("gone.js"), d.join("app.js")).unwrap();
        let err = run(d, &options(&[], true)).unwrap_err();
        assert!(matches!(err, ScanError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("app.js"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_backslash_in_a_file_name_is_refused_before_it_reaches_the_history() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "index.html", "i");
        write(d, "back\\slash.html", "b");
        let err = run(d, &options(&[], true)).unwrap_err();
        assert!(matches!(err, ScanError::UnsafeName(_)), "{err}");
        assert!(err.to_string().contains("back\\slash.html"), "{err}");
        fs::remove_file(d.join("back\\slash.html")).unwrap();
        write(d, "line\nbreak.html", "b");
        let err = run(d, &options(&[], true)).unwrap_err();
        assert!(matches!(err, ScanError::UnsafeName(_)), "{err}");
    }
}
