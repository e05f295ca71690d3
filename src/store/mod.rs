//! The object store a push writes to: an S3 bucket or a local directory. Both hold the files,
//! their headers, and spadeploy's state under `.spadeploy/`. Keys are relative to the target.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use crate::aws::ApiError;
use crate::model::{LocalFile, RemoteObject};

mod interceptors;
mod local;
mod s3;

pub(crate) use local::LocalStore;
pub(crate) use s3::S3Store;

/// A state object with what a conditional write needs: its change token, and its age by the
/// store's own clock (a reader whose clock is skewed cannot misjudge it).
#[derive(Debug, Clone)]
pub(crate) struct Versioned {
    pub body: Vec<u8>,
    pub token: String,
    pub age: Duration,
}

/// What a conditional state write expects to find under its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// Nothing (S3: `If-None-Match: *`).
    Absent,
    /// The object with this change token (S3: `If-Match`).
    Token(&'a str),
}

/// Reading a target: what `decide`, a dry run and `releases` get, so they cannot write.
pub(crate) trait ReadStore: Send + Sync {
    /// Every object under the target, state included. One paginated listing, no per-object HEAD.
    fn list(&self) -> impl Future<Output = Result<Vec<RemoteObject>, StoreError>> + Send;
    /// The same listing, its key ranges fetched concurrently: `bounds` (sorted keys, e.g. every
    /// 900th key of the build) split the key space, so the pages a sequential listing
    /// would fetch one after another arrive together. Same requests, a fraction of the wait.
    fn list_split(
        &self,
        bounds: &[String],
    ) -> impl Future<Output = Result<Vec<RemoteObject>, StoreError>> + Send;
    /// Reads a state object with its change token and age; `None` when absent.
    fn read_versioned(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, StoreError>> + Send;
    /// Reads a state object (e.g. `.spadeploy/live.json`); `None` when absent.
    fn read_state(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send {
        async move { Ok(self.read_versioned(key).await?.map(|v| v.body)) }
    }
    /// The change token of a state object, without reading it (S3: HEAD); `None` when absent.
    fn state_token(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

/// Writing a target: what applying a plan and holding the lock need.
pub(crate) trait WriteStore: ReadStore {
    /// Writes the file's bytes and headers under its key; returns the new change token.
    fn put(&self, file: &LocalFile) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// Rewrites only the headers of an object already holding the file's bytes.
    fn put_headers(
        &self,
        file: &LocalFile,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Copies an object within the target, headers included, without sending its bytes.
    fn copy(&self, from: &str, to: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn write_state(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes a state object only if it is as `expect`ed; returns its new change token, or `None`
    /// when it was not (exactly one of several concurrent callers expecting the same succeeds).
    fn write_state_if(
        &self,
        key: &str,
        body: Vec<u8>,
        expect: Expect<'_>,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Deletes a state object only if it still has this change token; false when it had not.
    fn delete_state_if(
        &self,
        key: &str,
        token: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Throttling answers (S3's 503 SlowDown) the store has given so far, retried or not.
    fn throttled(&self) -> u64;
}

/// A target's store: an S3 bucket (and prefix) or a local directory, opened in one place.
pub(crate) enum Store {
    S3(S3Store),
    Local(LocalStore),
}

/// Runs `$call` on whichever store `$store` is.
macro_rules! on_store {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::S3($s) => $call,
            Store::Local($s) => $call,
        }
    };
}

impl ReadStore for Store {
    async fn list(&self) -> Result<Vec<RemoteObject>, StoreError> {
        on_store!(self, s => s.list().await)
    }
    async fn list_split(&self, bounds: &[String]) -> Result<Vec<RemoteObject>, StoreError> {
        on_store!(self, s => s.list_split(bounds).await)
    }
    async fn read_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        on_store!(self, s => s.read_versioned(key).await)
    }
    async fn state_token(&self, key: &str) -> Result<Option<String>, StoreError> {
        on_store!(self, s => s.state_token(key).await)
    }
}

impl WriteStore for Store {
    async fn put(&self, file: &LocalFile) -> Result<String, StoreError> {
        on_store!(self, s => s.put(file).await)
    }
    async fn put_headers(&self, file: &LocalFile) -> Result<String, StoreError> {
        on_store!(self, s => s.put_headers(file).await)
    }
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        on_store!(self, s => s.delete(keys).await)
    }
    async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        on_store!(self, s => s.copy(from, to).await)
    }
    async fn write_state(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        on_store!(self, s => s.write_state(key, body).await)
    }
    async fn write_state_if(
        &self,
        key: &str,
        body: Vec<u8>,
        expect: Expect<'_>,
    ) -> Result<Option<String>, StoreError> {
        on_store!(self, s => s.write_state_if(key, body, expect).await)
    }
    async fn delete_state_if(&self, key: &str, token: &str) -> Result<bool, StoreError> {
        on_store!(self, s => s.delete_state_if(key, token).await)
    }
    fn throttled(&self) -> u64 {
        on_store!(self, s => s.throttled())
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error(
        "bucket `{bucket}` does not exist at {endpoint}: create it, or fix the bucket name in --to"
    )]
    NoSuchBucket { bucket: String, endpoint: String },
    #[error("bucket `{bucket}` is not in the configured region ({detail}); pass --region with the bucket's region")]
    WrongRegion { bucket: String, detail: String },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("refusing to write through `{}`: it is a symbolic link inside the target, and a write through it could land anywhere; replace it with a real folder", path.display())]
    SymlinkedFolder { path: PathBuf },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}
