//! An S3 bucket (optionally a key prefix in it) as an object store.
//!
//! Over 600 lines on purpose: listing in ranges, conditional state writes, multipart uploads and
//! throttling share one client, one error classification and one retry policy, which is the
//! point of having them in one place.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, MetadataDirective, ObjectIdentifier,
};
use aws_sdk_s3::Client;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::interceptors::{KnownPayloadHash, ResponseDate, Throttles};
use super::{Expect, ReadStore, StoreError, Versioned, WriteStore};
use crate::aws::{api_error, ApiError};
use crate::model::{LocalFile, RemoteObject, Source};
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use futures::{StreamExt, TryStreamExt};
use std::future::Future;
use std::path::Path;
use std::time::SystemTime;
use tokio_util::task::AbortOnDropHandle;

/// Object metadata (`x-amz-meta-sha256`) recording the content hash on the object itself.
const SHA256_METADATA: &str = "sha256";
/// Files up to this size are sent from memory (one read, a checksum without aws-chunked framing).
const IN_MEMORY_LIMIT: u64 = 1024 * 1024;
/// Files above this size go up in parts, streamed from disk.
const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
const PART_SIZE: u64 = 8 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;
/// CopyObject's limit; header-only updates of larger objects re-send the bytes.
const COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
const DELETE_BATCH: usize = 1000;
/// Stale keys are deleted in up to this many concurrent batches of at least DELETE_MIN keys.
const DELETE_SPLIT: usize = 8;
const DELETE_MIN: usize = 100;
/// Characters kept as-is in an `x-amz-copy-source` key: RFC 3986 unreserved, and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

pub(crate) struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: String,
    throttles: Throttles,
}

impl S3Store {
    /// `prefix` is empty or ends with `/`; `endpoint` names the service in messages.
    pub(crate) fn new(client: Client, bucket: String, prefix: String, endpoint: String) -> S3Store {
        let throttles = Throttles::default();
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(throttles.clone())
                .interceptor(KnownPayloadHash)
                .build(),
        );
        S3Store {
            client,
            bucket,
            prefix,
            endpoint,
            throttles,
        }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn arn(&self, key: &str) -> String {
        format!("arn:aws:s3:::{}/{}", self.bucket, self.full_key(key))
    }

    /// Objects with keys (relative to the prefix) in `(after, until]`, paginated.
    async fn list_range(
        &self,
        after: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<RemoteObject>, StoreError> {
        let mut objects = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .set_start_after(after.map(|key| self.full_key(key)))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                self.error(e, "s3:ListBucket", format!("arn:aws:s3:::{}", self.bucket))
            })?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) else {
                    continue;
                };
                if until.is_some_and(|until| key > until) {
                    // The next range's territory: stop paging.
                    return Ok(objects);
                }
                objects.push(RemoteObject {
                    key: key.to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    etag: change_token(object.e_tag()),
                });
            }
        }
        Ok(objects)
    }

    /// Turns an SDK failure into what the user should do about it.
    fn error<E>(&self, err: SdkError<E>, action: &'static str, resource: String) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        match (err.code(), status) {
            (Some("NoSuchBucket"), _) => StoreError::NoSuchBucket {
                bucket: self.bucket.clone(),
                endpoint: self.endpoint.clone(),
            },
            (Some("PermanentRedirect" | "AuthorizationHeaderMalformed"), _) | (_, Some(301)) => {
                StoreError::WrongRegion {
                    bucket: self.bucket.clone(),
                    detail: err
                        .message()
                        .or(err.code())
                        .unwrap_or("HTTP 301")
                        .to_string(),
                }
            }
            _ => api_error(err, action, resource, &self.endpoint).into(),
        }
    }

    /// A PutObject of a state object: JSON, never cached.
    fn state_put(&self, key: &str, body: Vec<u8>) -> PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .content_type("application/json")
            .cache_control("no-store")
            .body(ByteStream::from(body))
    }

    async fn collect(&self, body: ByteStream, key: &str) -> Result<Vec<u8>, StoreError> {
        let body = body.collect().await.map_err(|e| ApiError::Service {
            action: "s3:GetObject",
            resource: self.arn(key),
            code: String::new(),
            detail: format!("the download broke off: {e}"),
        })?;
        Ok(body.into_bytes().to_vec())
    }

    fn io_error(
        action: &'static str,
        path: &Path,
        source: impl Into<std::io::Error>,
    ) -> StoreError {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source: source.into(),
        }
    }

    /// Server-side copy of `from` onto the file's key with the file's headers: no bytes sent.
    async fn copy_with_headers(&self, from: &str, file: &LocalFile) -> Result<String, StoreError> {
        self.copy_from_bucket(&self.full_key(from), file).await
    }

    /// Copies the object at `from` (a full key of this bucket) to the file's key, with the file's
    /// headers and sha256.
    async fn copy_from_bucket(&self, from: &str, file: &LocalFile) -> Result<String, StoreError> {
        let source = format!("{}/{}", self.bucket, utf8_percent_encode(from, COPY_SOURCE));
        let request = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.full_key(&file.key))
            .copy_source(source)
            .metadata_directive(MetadataDirective::Replace)
            .content_type(&*file.headers.content_type)
            .cache_control(&*file.headers.cache_control)
            .metadata(SHA256_METADATA, &file.sha256)
            .send();
        let out = on_a_worker(request)
            .await
            .map_err(|e| self.error(e, "s3:GetObject and s3:PutObject", self.arn(&file.key)))?;
        Ok(change_token(
            out.copy_object_result().and_then(|r| r.e_tag()),
        ))
    }

    async fn put_multipart(&self, file: &LocalFile, path: &Path) -> Result<String, StoreError> {
        let key = self.full_key(&file.key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(&*file.headers.content_type)
            .cache_control(&*file.headers.cache_control)
            .metadata(SHA256_METADATA, &file.sha256)
            .send()
            .await
            .map_err(|e| self.error(e, "s3:PutObject", self.arn(&file.key)))?;
        let Some(upload_id) = created.upload_id().map(str::to_string) else {
            return Err(ApiError::Service {
                action: "s3:PutObject",
                resource: self.arn(&file.key),
                code: String::new(),
                detail: "CreateMultipartUpload answered without an upload id".into(),
            }
            .into());
        };
        let result = self.upload_parts(file, path, &key, &upload_id).await;
        if result.is_err() {
            // Best effort: an abandoned upload only costs storage until a lifecycle rule clears it.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        file: &LocalFile,
        path: &Path,
        key: &str,
        upload_id: &str,
    ) -> Result<String, StoreError> {
        let part_size = PART_SIZE.max(file.size.div_ceil(MAX_PARTS));
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        while offset < file.size {
            let length = part_size.min(file.size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| Self::io_error("cannot read", path, std::io::Error::other(e)))?;
            let uploaded = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(length as i64)
                .body(body)
                .send()
                .await
                .map_err(|e| self.error(e, "s3:PutObject", self.arn(&file.key)))?;
            parts.push(
                CompletedPart::builder()
                    .set_e_tag(uploaded.e_tag().map(str::to_string))
                    .part_number(number)
                    .build(),
            );
            offset += length;
            number += 1;
        }
        let completed = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(e, "s3:PutObject", self.arn(&file.key)))?;
        Ok(change_token(completed.e_tag()))
    }

    /// One DeleteObjects call (at most DELETE_BATCH keys); the first key it could not delete is
    /// the error.
    async fn delete_batch(&self, batch: &[String]) -> Result<(), StoreError> {
        let build_error = |e: aws_sdk_s3::error::BuildError| ApiError::Service {
            action: "s3:DeleteObject",
            resource: self.arn(""),
            code: String::new(),
            detail: e.to_string(),
        };
        let ids = batch
            .iter()
            .map(|key| ObjectIdentifier::builder().key(self.full_key(key)).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(build_error)?;
        let request = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(build_error)?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(request)
            .send()
            .await
            .map_err(|e| self.error(e, "s3:DeleteObject", self.arn("*")))?;
        if let Some(failed) = out.errors().first() {
            let key = failed.key().unwrap_or_default();
            let detail = format!(
                "{}: {}",
                failed.code().unwrap_or_default(),
                failed.message().unwrap_or_default()
            );
            let resource = format!("arn:aws:s3:::{}/{key}", self.bucket);
            return Err(match failed.code() {
                Some("AccessDenied") => ApiError::AccessDenied {
                    action: "s3:DeleteObject",
                    resource,
                    detail,
                },
                code => ApiError::Service {
                    action: "s3:DeleteObject",
                    resource,
                    code: code.unwrap_or_default().to_string(),
                    detail,
                },
            }
            .into());
        }
        Ok(())
    }
}

/// Runs one request of a transfer window as a task of its own. Awaited in place, every request
/// of a window is signed, connected and sent from the one task that polls the window, one after
/// another: a rebuild's 223 uploads left over 200 ms apart (a connection trace showed every
/// connect on one thread and the bodies written only once all were made). As tasks, each goes as
/// soon as its connection is up, on whichever core is free. Dropped (a push that stops), the task
/// is aborted, as the request would have been.
async fn on_a_worker<T: Send + 'static>(request: impl Future<Output = T> + Send + 'static) -> T {
    match AbortOnDropHandle::new(tokio::spawn(request)).await {
        Ok(out) => out,
        // Only a drop aborts the task, so the error is the request's panic: let it go on.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

/// The ETag as a change token, quotes removed: some S3-compatible stores quote it in one answer
/// and not in another.
fn change_token(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_string()
}

impl ReadStore for S3Store {
    async fn list(&self) -> Result<Vec<RemoteObject>, StoreError> {
        self.list_range(None, None).await
    }

    async fn list_split(&self, bounds: &[String]) -> Result<Vec<RemoteObject>, StoreError> {
        let mut lower: Vec<Option<&str>> = vec![None];
        lower.extend(bounds.iter().map(|b| Some(b.as_str())));
        let mut upper: Vec<Option<&str>> = bounds.iter().map(|b| Some(b.as_str())).collect();
        upper.push(None);
        let ranges = lower
            .into_iter()
            .zip(upper)
            .map(|(after, until)| self.list_range(after, until));
        let mut objects = Vec::new();
        for range in futures::future::try_join_all(ranges).await? {
            objects.extend(range);
        }
        Ok(objects)
    }

    async fn state_token(&self, key: &str) -> Result<Option<String>, StoreError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(change_token(out.e_tag()))),
            Err(err)
                if err.as_service_error().is_some_and(
                    aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found,
                ) =>
            {
                Ok(None)
            }
            // HeadObject is authorized by s3:GetObject.
            Err(err) => Err(self.error(err, "s3:GetObject", self.arn(key))),
        }
    }

    async fn read_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let date = ResponseDate::default();
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .customize()
            .interceptor(date.clone())
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err)
                if err.as_service_error().is_some_and(
                    aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key,
                ) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(self.error(err, "s3:GetObject", self.arn(key))),
        };
        let token = change_token(out.e_tag());
        let written = out
            .last_modified()
            .and_then(|t| SystemTime::try_from(*t).ok());
        let body = self.collect(out.body, key).await?;
        // The store's clock on both ends (its Date header, the object's LastModified): a runner
        // whose own clock is off cannot misjudge the age. A store without a Date: ours.
        let now = date.get().unwrap_or_else(SystemTime::now);
        let age = written
            .and_then(|w| now.duration_since(w).ok())
            .unwrap_or_default();
        Ok(Some(Versioned { body, token, age }))
    }
}

impl WriteStore for S3Store {
    async fn put(&self, file: &LocalFile) -> Result<String, StoreError> {
        let path = match &file.source {
            Source::Stored(from) => return self.copy_with_headers(from, file).await,
            Source::Bucket(from) => return self.copy_from_bucket(from, file).await,
            Source::File(path) => path,
        };
        if file.size > MULTIPART_THRESHOLD {
            return self.put_multipart(file, path).await;
        }
        let in_memory = file.size <= IN_MEMORY_LIMIT;
        let body = if in_memory {
            // Read in place: the scan has just read the file, so it comes from the page cache in
            // microseconds, while tokio::fs hands each read to a blocking thread and back, two
            // thread wake-ups per file.
            let bytes = std::fs::read(path).map_err(|e| Self::io_error("cannot read", path, e))?;
            ByteStream::from(bytes)
        } else {
            ByteStream::from_path(path)
                .await
                .map_err(|e| Self::io_error("cannot read", path, std::io::Error::other(e)))?
        };
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(&file.key))
            .content_type(&*file.headers.content_type)
            .cache_control(&*file.headers.cache_control)
            .metadata(SHA256_METADATA, &file.sha256)
            .body(body);
        // A body sent from memory is signed with the hash in its metadata (KnownPayloadHash).
        let out = on_a_worker(request.send())
            .await
            .map_err(|e| self.error(e, "s3:PutObject", self.arn(&file.key)))?;
        Ok(change_token(out.e_tag()))
    }

    async fn put_headers(&self, file: &LocalFile) -> Result<String, StoreError> {
        if file.size > COPY_LIMIT {
            return self.put(file).await;
        }
        self.copy_with_headers(&file.key, file).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let source = format!(
            "{}/{}",
            self.bucket,
            utf8_percent_encode(&self.full_key(from), COPY_SOURCE)
        );
        let request = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.full_key(to))
            .copy_source(source)
            .metadata_directive(MetadataDirective::Copy)
            .send();
        on_a_worker(request)
            .await
            .map_err(|e| self.error(e, "s3:GetObject and s3:PutObject", self.arn(to)))?;
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        // Batches go side by side: a DeleteObjects call takes longer the more keys it names (83 ms
        // for 223 keys on the bench's server, at the very end of a rebuild's critical path), so a
        // few hundred stale keys are split into batches of at least DELETE_MIN, and more than
        // DELETE_SPLIT full batches go DELETE_SPLIT at a time.
        let size = keys
            .len()
            .div_ceil(DELETE_SPLIT)
            .clamp(DELETE_MIN, DELETE_BATCH);
        let calls: Vec<_> = keys
            .chunks(size)
            .map(|batch| self.delete_batch(batch))
            .collect();
        futures::stream::iter(calls)
            .buffer_unordered(DELETE_SPLIT)
            .try_collect()
            .await
    }

    async fn write_state_if(
        &self,
        key: &str,
        body: Vec<u8>,
        expect: Expect<'_>,
    ) -> Result<Option<String>, StoreError> {
        let request = self.state_put(key, body);
        let request = match expect {
            Expect::Absent => request.if_none_match("*"),
            Expect::Token(token) => request.if_match(format!("\"{token}\"")),
        };
        match request.send().await {
            Ok(out) => Ok(Some(change_token(out.e_tag()))),
            Err(err) if precondition_failed(&err) => Ok(None),
            Err(err) => Err(self.error(err, "s3:PutObject", self.arn(key))),
        }
    }

    fn throttled(&self) -> u64 {
        self.throttles.count()
    }

    async fn delete_state_if(&self, key: &str, token: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .if_match(format!("\"{token}\""))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if precondition_failed(&err) => Ok(false),
            // S3-compatible stores without conditional deletes: look, then delete. A lock left
            // behind would block every deploy until it expires.
            Err(err) if err.raw_response().map(|r| r.status().as_u16()) == Some(501) => {
                if self.state_token(key).await?.as_deref() != Some(token) {
                    return Ok(false);
                }
                self.delete(&[key.to_string()]).await?;
                Ok(true)
            }
            Err(err) => Err(self.error(err, "s3:DeleteObject", self.arn(key))),
        }
    }

    async fn write_state(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.state_put(key, body)
            .send()
            .await
            .map_err(|e| self.error(e, "s3:PutObject", self.arn(key)))?;
        Ok(())
    }
}

/// 412: the object is not as expected; 409: a concurrent conditional write won; 404: an object
/// expected by its token is gone.
fn precondition_failed<E>(err: &SdkError<E>) -> bool {
    matches!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(412 | 409 | 404)
    )
}
