//! The one place AWS SDK configuration is built: credential chain, region, profile, endpoint,
//! retries, timeouts and checksum behaviour. No client is configured anywhere else.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{
    ProvideCredentials, RequestChecksumCalculation, ResponseChecksumValidation,
};

use crate::config::manifest::{ChecksumMode, TargetSettings};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Attempts per request (the first plus retries with exponential backoff, SDK "standard" mode).
pub(crate) const MAX_ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AwsError {
    #[error("no AWS region is configured: pass --region, set AWS_REGION, or set region in [target] of spadeploy.toml")]
    NoRegion,
    #[error("no usable AWS credentials ({detail}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, choose a profile with --profile or AWS_PROFILE, or run `aws sso login`")]
    NoCredentials { detail: String },
}

/// A failed AWS API call, in terms of what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("access denied: the AWS credentials in use may not call {action} on {resource} ({detail}); grant that action in their IAM policy (`spadeploy iam-policy` prints one), or choose other credentials with --profile")]
    AccessDenied {
        action: &'static str,
        resource: String,
        detail: String,
    },
    #[error("cannot reach {endpoint} (gave up after {MAX_ATTEMPTS} attempts): {detail}; check --endpoint-url / AWS_ENDPOINT_URL and the network")]
    Unreachable { endpoint: String, detail: String },
    #[error("AWS rejected the credentials ({code}: {message}); refresh them (`aws sso login`, new keys) or choose a profile with --profile")]
    BadCredentials { code: String, message: String },
    #[error("{action} on {resource} failed: {detail}")]
    Service {
        action: &'static str,
        resource: String,
        code: String,
        detail: String,
    },
}

impl ApiError {
    /// The AWS error code, for callers that handle specific ones (e.g. `NoSuchBucket`).
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            ApiError::Service { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// `Ok(None)` when AWS answered `code`, its way of saying the thing is absent.
    pub(crate) fn absent_if<T>(self, code: &str) -> Result<Option<T>, ApiError> {
        if self.code() == Some(code) {
            Ok(None)
        } else {
            Err(self)
        }
    }
}

/// Classifies any SDK failure (all AWS SDK crates share this error type).
pub(crate) fn api_error<E>(
    err: SdkError<E>,
    action: &'static str,
    resource: String,
    endpoint: &str,
) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        return ApiError::Unreachable {
            endpoint: endpoint.to_string(),
            detail: root_cause(&err),
        };
    }
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or_default().to_string();
    let message = err.message().unwrap_or_default().to_string();
    match (code.as_str(), status) {
        (
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException",
            _,
        ) => ApiError::BadCredentials { code, message },
        ("AccessDenied" | "AccessDeniedException" | "AllAccessDisabled", _) | (_, Some(403)) => {
            ApiError::AccessDenied {
                action,
                resource,
                detail: format!("{code}: {message}"),
            }
        }
        _ => {
            let detail = match (code.is_empty(), status) {
                (false, _) => format!("{code}: {message}"),
                (true, Some(status)) => format!("HTTP {status}: {}", DisplayErrorContext(&err)),
                (true, None) => DisplayErrorContext(&err).to_string(),
            };
            ApiError::Service {
                action,
                resource,
                code,
                detail,
            }
        }
    }
}

/// The innermost cause, which is the part a person can act on ("Connection refused").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A loaded SDK configuration and what spadeploy needs to know about it.
pub(crate) struct Aws {
    pub config: SdkConfig,
    /// A non-AWS endpoint (MinIO, R2, an emulator) from the flag, manifest or environment.
    pub custom_endpoint: Option<String>,
    checksum: Option<ChecksumMode>,
}

impl Aws {
    pub(crate) async fn load(settings: &TargetSettings) -> Result<Aws, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let mut config = loader.load().await;
        let custom_endpoint = config
            .endpoint_url()
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok());
        if config.region().is_none() {
            // S3-compatible stores rarely care about the region, but SigV4 needs one.
            if custom_endpoint.is_none() {
                return Err(AwsError::NoRegion);
            }
            config = config
                .into_builder()
                .region(Region::from_static("us-east-1"))
                .build();
        }
        let provider = config
            .credentials_provider()
            .ok_or_else(|| AwsError::NoCredentials {
                detail: "no credential provider".into(),
            })?;
        // Resolve once up front, so a missing login is reported as such, not as a network error.
        provider
            .provide_credentials()
            .await
            .map_err(|err| AwsError::NoCredentials {
                detail: err.to_string(),
            })?;
        Ok(Aws {
            config,
            custom_endpoint,
            checksum: settings.checksum,
        })
    }

    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        let mut builder = aws_sdk_s3::config::Builder::from(&self.config);
        if self.custom_endpoint.is_some() {
            // Custom endpoints rarely resolve BUCKET.host names.
            builder = builder.force_path_style(true);
        }
        // Recent SDKs send CRC checksums on every PUT, which many S3-compatible stores reject.
        let default = if self.custom_endpoint.is_some() {
            ChecksumMode::WhenRequired
        } else {
            ChecksumMode::WhenSupported
        };
        builder = match self.checksum.unwrap_or(default) {
            ChecksumMode::WhenRequired => builder
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired),
            ChecksumMode::WhenSupported => builder
                .request_checksum_calculation(RequestChecksumCalculation::WhenSupported)
                .response_checksum_validation(ResponseChecksumValidation::WhenSupported),
        };
        aws_sdk_s3::Client::from_conf(builder.build())
    }

    pub(crate) fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.config)
    }

    /// The KeyValueStore data plane. AWS serves it at `ACCOUNT.cloudfront-kvs.global.api.aws`;
    /// the SDK would prefix a custom endpoint with the account too, which an emulator or proxy on
    /// an address cannot answer, so a custom endpoint is used as it is.
    pub(crate) fn key_value_store(&self) -> aws_sdk_cloudfrontkeyvaluestore::Client {
        let mut config = aws_sdk_cloudfrontkeyvaluestore::config::Builder::from(&self.config);
        if let Some(endpoint) = &self.custom_endpoint {
            config = config.endpoint_resolver(AsGiven(endpoint.clone()));
        }
        aws_sdk_cloudfrontkeyvaluestore::Client::from_conf(config.build())
    }

    /// Lambda@Edge functions live in us-east-1, whatever the bucket's region.
    pub(crate) fn lambda_edge(&self) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::config::Builder::from(&self.config)
            .region(Region::from_static("us-east-1"))
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    pub(crate) fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    pub(crate) fn region(&self) -> String {
        self.config
            .region()
            .map_or_else(|| "us-east-1".to_string(), std::string::ToString::to_string)
    }

    /// How to name the service in messages.
    pub(crate) fn describe_endpoint(&self) -> String {
        match (&self.custom_endpoint, self.config.region()) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(region)) => format!("S3 in {region}"),
            (None, None) => "S3".into(),
        }
    }
}

/// An endpoint used as it is, signed as AWS's KeyValueStore endpoints are (SigV4a, any region).
#[derive(Debug)]
struct AsGiven(String);

impl aws_sdk_cloudfrontkeyvaluestore::config::endpoint::ResolveEndpoint for AsGiven {
    fn resolve_endpoint<'a>(
        &'a self,
        _: &'a aws_sdk_cloudfrontkeyvaluestore::config::endpoint::Params,
    ) -> aws_sdk_cloudfrontkeyvaluestore::config::endpoint::EndpointFuture<'a> {
        use aws_smithy_types::endpoint::EndpointAuthScheme;
        use aws_smithy_types::Document;
        let scheme = EndpointAuthScheme::with_capacity("sigv4a".to_string(), 2)
            .put("signingName", "cloudfront-keyvaluestore")
            .put("signingRegionSet", vec![Document::from("*".to_string())]);
        let endpoint = aws_sdk_cloudfrontkeyvaluestore::config::endpoint::Endpoint::builder()
            .url(self.0.clone())
            .auth_scheme(scheme)
            .build();
        aws_sdk_cloudfrontkeyvaluestore::config::endpoint::EndpointFuture::ready(Ok(endpoint))
    }
}
