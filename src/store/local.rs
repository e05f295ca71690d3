//! A local directory as an object store: the same layout S3 would hold, with headers and
//! spadeploy's records under `.spadeploy/`, so `serve` can replay what S3 would serve.

use crate::model::{is_safe_key, LocalFile, RemoteObject, Source};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use walkdir::WalkDir;

use super::{Expect, ReadStore, StoreError, Versioned, WriteStore};

pub(crate) struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub(crate) fn new(root: PathBuf) -> LocalStore {
        LocalStore { root }
    }

    fn path_of(&self, key: &str) -> PathBuf {
        key.split('/')
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }

    /// Writes `body` (a file to copy, or bytes) to `key` through a temporary file and a rename, so
    /// a reader never sees half a file. With `Expect::Absent` the file appears only if nothing
    /// was there (a hard link, atomic); with a token only if the file still has it.
    async fn write_atomically(
        &self,
        key: &str,
        body: Body,
        expect: Option<Expect<'_>>,
    ) -> Result<Option<PathBuf>, StoreError> {
        let root = self.root.clone();
        let path = self.path_of(key);
        let expect = expect.map(|e| match e {
            Expect::Absent => None,
            Expect::Token(token) => Some(token.to_string()),
        });
        let written = tokio::task::spawn_blocking(move || {
            write_blocking(&root, &path, &body, expect.as_ref())
        });
        written.await.map_err(|join| StoreError::Io {
            action: "cannot write",
            path: self.path_of(key),
            source: std::io::Error::other(join),
        })?
    }
}

enum Body {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Refuses a write whose folders (below the target's root) include a symbolic link: it could
/// land outside the target.
fn refuse_symlinked_folders(root: &Path, path: &Path) -> Result<(), StoreError> {
    let Ok(relative) = path.strip_prefix(root) else {
        return Ok(());
    };
    let mut folder = root.to_path_buf();
    for part in relative.parent().into_iter().flat_map(Path::components) {
        folder.push(part);
        match std::fs::symlink_metadata(&folder) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(StoreError::SymlinkedFolder { path: folder })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(LocalStore::io("cannot stat", &folder)(e)),
        }
    }
    Ok(())
}

/// `expect`: None writes unconditionally; Some(None) only where nothing is; Some(Some(token))
/// only over the file with that token. Returns None when the expectation did not hold.
fn write_blocking(
    root: &Path,
    path: &Path,
    body: &Body,
    expect: Option<&Option<String>>,
) -> Result<Option<PathBuf>, StoreError> {
    // Keys come from records too, and a record can be edited: never write outside the root.
    if path.strip_prefix(root).map_or(true, |rel| {
        !is_safe_key(&rel.to_string_lossy().replace('\\', "/"))
    }) {
        return Err(
            LocalStore::io("refusing to write outside the target", path)(
                std::io::ErrorKind::InvalidInput.into(),
            ),
        );
    }
    refuse_symlinked_folders(root, path)?;
    let parent = path.parent().unwrap_or(root);
    std::fs::create_dir_all(parent).map_err(LocalStore::io("cannot create directory", parent))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // A random name, created exclusively: nobody can plant a file or link under it beforehand.
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".spadeploy.tmp")
        .tempfile_in(parent)
        .map_err(LocalStore::io("cannot create a temporary file in", parent))?;
    let written = match body {
        Body::File(source) => std::fs::File::open(source)
            .and_then(|mut from| std::io::copy(&mut from, &mut temp.as_file()).map(drop)),
        Body::Bytes(bytes) => std::io::Write::write_all(&mut temp.as_file(), bytes),
    };
    written.map_err(LocalStore::io("cannot write", temp.path()))?;
    match expect {
        Some(None) => match temp.persist_noclobber(path) {
            Ok(_) => Ok(Some(path.to_path_buf())),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(LocalStore::io("cannot create", path)(e.error)),
        },
        Some(Some(token)) => {
            let current = std::fs::metadata(path).ok().map(|m| change_token(&m));
            if current.as_deref() != Some(token.as_str()) {
                return Ok(None);
            }
            persist(temp, path)
        }
        None => persist(temp, path),
    }
}

fn persist(temp: tempfile::NamedTempFile, path: &Path) -> Result<Option<PathBuf>, StoreError> {
    temp.persist(path)
        .map_err(|e| LocalStore::io("cannot move into place", path)(e.error))?;
    Ok(Some(path.to_path_buf()))
}

/// The local change token: size and modification time, which any outside edit changes.
fn change_token(meta: &std::fs::Metadata) -> String {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", meta.len())
}

async fn token_of(path: &Path) -> Result<String, StoreError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(LocalStore::io("cannot stat", path))?;
    Ok(change_token(&meta))
}

impl ReadStore for LocalStore {
    async fn list(&self) -> Result<Vec<RemoteObject>, StoreError> {
        let root = self.root.clone();
        let listing = tokio::task::spawn_blocking(move || {
            if !root.exists() {
                return Ok(Vec::new());
            }
            let mut objects = Vec::new();
            for entry in WalkDir::new(&root).sort_by_file_name() {
                let entry = entry.map_err(|err| StoreError::Io {
                    action: "cannot list",
                    path: err.path().unwrap_or(&root).to_path_buf(),
                    source: err.into(),
                })?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path());
                let key: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let meta = entry.metadata().map_err(|err| StoreError::Io {
                    action: "cannot stat",
                    path: entry.path().to_path_buf(),
                    source: err.into(),
                })?;
                objects.push(RemoteObject {
                    key: key.join("/"),
                    size: meta.len(),
                    etag: change_token(&meta),
                });
            }
            Ok(objects)
        });
        listing.await.map_err(|join| StoreError::Io {
            action: "cannot list",
            path: self.root.clone(),
            source: std::io::Error::other(join),
        })?
    }

    async fn list_split(&self, _bounds: &[String]) -> Result<Vec<RemoteObject>, StoreError> {
        // A directory walk has no pages to overlap.
        self.list().await
    }

    async fn state_token(&self, key: &str) -> Result<Option<String>, StoreError> {
        let path = self.path_of(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(change_token(&meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io("cannot stat", &path)(e)),
        }
    }

    async fn read_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let path = self.path_of(key);
        // Body and metadata from one open file: a concurrent rename cannot pair them wrongly.
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io("cannot read", &path)(e)),
        };
        let meta = file
            .metadata()
            .await
            .map_err(Self::io("cannot stat", &path))?;
        let mut body = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut file, &mut body)
            .await
            .map_err(Self::io("cannot read", &path))?;
        // One machine, one clock: the file's age needs no other.
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        Ok(Some(Versioned {
            body,
            token: change_token(&meta),
            age,
        }))
    }
}

impl WriteStore for LocalStore {
    async fn put(&self, file: &LocalFile) -> Result<String, StoreError> {
        let source = match &file.source {
            Source::File(path) => path.clone(),
            Source::Stored(key) => self.path_of(key),
            // Only previews (S3 targets) share files with another target.
            Source::Bucket(key) => {
                return Err(StoreError::Io {
                    action: "copy",
                    path: PathBuf::from(key),
                    source: std::io::Error::other("a local target cannot copy from a bucket"),
                })
            }
        };
        let path = self
            .write_atomically(&file.key, Body::File(source), None)
            .await?
            .unwrap_or_else(|| self.path_of(&file.key));
        token_of(&path).await
    }

    async fn put_headers(&self, file: &LocalFile) -> Result<String, StoreError> {
        // Headers of a local target live in spadeploy's record; the bytes stay as they are.
        token_of(&self.path_of(&file.key)).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let source = self.path_of(from);
        self.write_atomically(to, Body::File(source), None)
            .await
            .map(drop)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            let path = self.path_of(key);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Self::io("cannot delete", &path)(e)),
            }
            // Leave no empty folders behind, as S3 would not show them either.
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| *d != self.root) {
                if tokio::fs::remove_dir(d).await.is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }

    async fn write_state_if(
        &self,
        key: &str,
        body: Vec<u8>,
        expect: Expect<'_>,
    ) -> Result<Option<String>, StoreError> {
        match self
            .write_atomically(key, Body::Bytes(body), Some(expect))
            .await?
        {
            Some(path) => Ok(Some(token_of(&path).await?)),
            None => Ok(None),
        }
    }

    /// A directory never throttles.
    fn throttled(&self) -> u64 {
        0
    }

    async fn delete_state_if(&self, key: &str, token: &str) -> Result<bool, StoreError> {
        if self.state_token(key).await?.as_deref() != Some(token) {
            return Ok(false);
        }
        self.delete(&[key.to_string()]).await?;
        Ok(true)
    }

    async fn write_state(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.write_atomically(key, Body::Bytes(body), None)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn writes_never_go_through_a_symlinked_folder_or_outside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("site"), tmp.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("assets")).unwrap();
        let store = LocalStore::new(root.clone());
        let err = store
            .write_state("assets/app.js", b"x".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::SymlinkedFolder { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = store
            .write_state("../escaped.json", b"x".to_vec())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("outside the target"), "{err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!tmp.path().join("escaped.json").exists());
    }

    #[tokio::test]
    async fn a_conditional_create_never_replaces_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().to_path_buf());
        let first = store
            .write_state_if("s/lock.json", b"one".to_vec(), Expect::Absent)
            .await
            .unwrap();
        assert!(first.is_some());
        let second = store
            .write_state_if("s/lock.json", b"two".to_vec(), Expect::Absent)
            .await
            .unwrap();
        assert_eq!(second, None);
        assert_eq!(
            std::fs::read(tmp.path().join("s/lock.json")).unwrap(),
            b"one"
        );
        assert_eq!(std::fs::read_dir(tmp.path().join("s")).unwrap().count(), 1);
    }
}
