//! The one place AWS SDK configuration is built: credential chain, region, profile, endpoint,
//! retries, timeouts and checksum behaviour. No client is configured anywhere else.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{
    ProvideCredentials, RequestChecksumCalculation, ResponseChecksumValidation,
};

use crate::manifest::{ChecksumMode, TargetSettings};

/// Attempts per request (the first plus retries with exponential backoff, SDK "standard" mode).
pub const MAX_ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("no AWS region is configured: pass --region, set AWS_REGION, or set region in [target] of spadeploy.toml")]
    NoRegion,
    #[error("no usable AWS credentials ({detail}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, choose a profile with --profile or AWS_PROFILE, or run `aws sso login`")]
    NoCredentials { detail: String },
}

/// A loaded SDK configuration and what spadeploy needs to know about it.
pub struct Aws {
    pub config: SdkConfig,
    /// A non-AWS endpoint (MinIO, R2, an emulator) from the flag, manifest or environment.
    pub custom_endpoint: Option<String>,
    checksum: Option<ChecksumMode>,
}

impl Aws {
    pub async fn load(settings: &TargetSettings) -> Result<Aws, AwsError> {
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
                detail: aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
            })?;
        Ok(Aws {
            config,
            custom_endpoint,
            checksum: settings.checksum,
        })
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
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

    /// How to name the service in messages.
    pub fn describe_endpoint(&self) -> String {
        match (&self.custom_endpoint, self.config.region()) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(region)) => format!("S3 in {region}"),
            (None, None) => "S3".into(),
        }
    }
}
