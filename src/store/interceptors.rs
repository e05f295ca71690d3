//! What the S3 store hooks into the SDK's requests: counting throttling answers, signing an
//! upload with the hash the scan computed, and reading the store's clock from an answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};

/// Counts throttling answers (503 SlowDown, 429), each attempt's: the SDK retries them, and the
/// transfer window shrinks on them.
#[derive(Debug, Clone, Default)]
pub(super) struct Throttles(Arc<AtomicU64>);

impl Throttles {
    pub(super) fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for Throttles {
    fn name(&self) -> &'static str {
        "Throttles"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if matches!(context.response().status().as_u16(), 503 | 429) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Signs an upload with the SHA-256 spadeploy computed while scanning, sent as
/// `x-amz-content-sha256`: the SDK would otherwise hash every body again to sign it (one more
/// pass over the whole build on a cold push). S3 checks the header against the bytes it
/// receives, so the integrity check stays; a file edited since it was hashed is refused with
/// XAmzContentSHA256Mismatch instead of landing under a stale hash. Unlike UNSIGNED-PAYLOAD,
/// this is as safe over plain HTTP as over TLS.
///
/// Registered once on the client, not per request: a per-request interceptor rebuilds the
/// operation's configuration every time (a few percent of a cold push's client CPU). The hash comes from
/// the upload itself, whose `x-amz-meta-sha256` names its body's SHA-256. Only a plain upload
/// qualifies: a copy (`x-amz-copy-source`) carries that header with an empty body, and a
/// streamed body goes aws-chunked, whose framing the SDK signs its own way.
#[derive(Debug)]
pub(super) struct KnownPayloadHash;

/// The request header of the object metadata `sha256` (`SHA256_METADATA` in s3.rs), naming the
/// SHA-256 of the upload's body.
const SHA256_HEADER: &str = "x-amz-meta-sha256";

impl Intercept for KnownPayloadHash {
    fn name(&self) -> &'static str {
        "KnownPayloadHash"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        if request.method() != "PUT"
            || request.headers().contains_key("x-amz-copy-source")
            || request.body().bytes().is_none()
        {
            return Ok(());
        }
        if let Some(sha256) = request.headers().get(SHA256_HEADER) {
            cfg.interceptor_state()
                .store_put(PayloadSigningOverride::Precomputed(sha256.to_string()));
        }
        Ok(())
    }
}

/// Remembers the `Date` header of a response: the store's clock.
#[derive(Debug, Clone, Default)]
pub(super) struct ResponseDate(Arc<Mutex<Option<SystemTime>>>);

impl ResponseDate {
    pub(super) fn get(&self) -> Option<SystemTime> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Intercept for ResponseDate {
    fn name(&self) -> &'static str {
        "ResponseDate"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| DateTime::from_str(d, DateTimeFormat::HttpDate).ok())
            .and_then(|d| SystemTime::try_from(d).ok());
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = date;
        Ok(())
    }
}
