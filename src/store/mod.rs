//! The object store a push writes to: an S3 bucket or a local directory. Both hold the files,
//! their headers, and spadeploy's state under `.spadeploy/`. Keys are relative to the target.

use std::future::Future;
use std::path::PathBuf;

use crate::aws::ApiError;
use crate::scan::LocalFile;

mod local;
mod s3;

pub use local::LocalStore;
pub use s3::S3Store;

/// One object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    pub key: String,
    pub size: u64,
    /// An opaque change token (S3 ETag; size+mtime locally). Never assumed to be an MD5.
    pub etag: String,
}

pub trait ObjectStore: Send + Sync {
    /// Every object under the target, state included. One paginated listing, no per-object HEAD.
    fn list(&self) -> impl Future<Output = Result<Vec<RemoteObject>, StoreError>> + Send;
    /// The same listing, its key ranges fetched concurrently: `bounds` (sorted keys, e.g. every
    /// 900th key of the build) split the key space, so the pages a sequential listing
    /// would fetch one after another arrive together. Same requests, a fraction of the wait.
    fn list_split(
        &self,
        bounds: &[String],
    ) -> impl Future<Output = Result<Vec<RemoteObject>, StoreError>> + Send;
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
    /// Reads a state object (e.g. `.spadeploy/live.json`); `None` when absent.
    fn read_state(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// The change token of a state object, without reading it (S3: HEAD); `None` when absent.
    fn state_token(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    fn write_state(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes a state object only if it does not exist (S3: `If-None-Match: *`); false when it
    /// already existed. Exactly one of several concurrent callers gets true.
    fn create_state(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "bucket `{bucket}` does not exist at {endpoint}: create it, or fix the bucket name in --to"
    )]
    NoSuchBucket { bucket: String, endpoint: String },
    #[error("bucket `{bucket}` is not in the configured region ({detail}); pass --region with the bucket's region")]
    WrongRegion { bucket: String, detail: String },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}
