//! A local directory as an object store: the same layout S3 would hold, with headers and
//! spadeploy's records under `.spadeploy/`, so `serve` can replay what S3 would serve.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use super::{ObjectStore, RemoteObject, StoreError};
use crate::scan::{LocalFile, Source};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> LocalStore {
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
    /// a reader never sees half a file.
    async fn write_atomically(&self, key: &str, body: Body<'_>) -> Result<PathBuf, StoreError> {
        let path = self.path_of(key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(Self::io("cannot create directory", &parent))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temp = parent.join(format!(".{name}.spadeploy-{}.tmp", std::process::id()));
        let written = match body {
            Body::File(source) => tokio::fs::copy(source, &temp).await.map(drop),
            Body::Bytes(bytes) => tokio::fs::write(&temp, bytes).await,
        };
        written.map_err(Self::io("cannot write", &temp))?;
        tokio::fs::rename(&temp, &path)
            .await
            .map_err(Self::io("cannot move into place", &path))?;
        Ok(path)
    }
}

enum Body<'a> {
    File(&'a Path),
    Bytes(Vec<u8>),
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

impl ObjectStore for LocalStore {
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

    async fn put(&self, file: &LocalFile) -> Result<String, StoreError> {
        let source = match &file.source {
            Source::File(path) => path.clone(),
            Source::Stored(key) => self.path_of(key),
        };
        let path = self
            .write_atomically(&file.key, Body::File(&source))
            .await?;
        token_of(&path).await
    }

    async fn put_headers(&self, file: &LocalFile) -> Result<String, StoreError> {
        // Headers of a local target live in spadeploy's record; the bytes stay as they are.
        token_of(&self.path_of(&file.key)).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let source = self.path_of(from);
        self.write_atomically(to, Body::File(&source))
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

    async fn read_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io("cannot read", &path)(e)),
        }
    }

    async fn state_token(&self, key: &str) -> Result<Option<String>, StoreError> {
        let path = self.path_of(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(change_token(&meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io("cannot stat", &path)(e)),
        }
    }

    async fn create_state(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        let path = self.path_of(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(Self::io("cannot create directory", parent))?;
        }
        let created = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await;
        match created {
            Ok(mut file) => {
                use tokio::io::AsyncWriteExt;
                file.write_all(&body)
                    .await
                    .map_err(Self::io("cannot write", &path))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Self::io("cannot create", &path)(e)),
        }
    }

    async fn write_state(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.write_atomically(key, Body::Bytes(body))
            .await
            .map(drop)
    }
}
