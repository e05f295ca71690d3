//! The routing's reads, and only reads, in two round trips: the distribution and the bucket
//! policy together; then what the distribution's mode asks for (the edge function, the website
//! configuration, Block Public Access only when it may have to change). A push with nothing to
//! do makes four such reads in either mode. `decide` turns the result into a plan.

use crate::aws::{api_error, ApiError};
use crate::cdn::access_block;
use crate::cdn::distribution::{self, Analysis, Distribution};
use crate::cdn::edge::{self, Published};
use crate::cdn::kvs;
use crate::cdn::request::{Job, SetupError};
use crate::cdn::website;
use crate::config::routing::Mode;

pub(crate) struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub key_value_store: aws_sdk_cloudfrontkeyvaluestore::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub endpoint: String,
}

impl Clients {
    /// Every client from one SDK configuration.
    pub(crate) fn of(aws: &crate::aws::Aws) -> Clients {
        Clients {
            s3: aws.s3(),
            cloudfront: aws.cloudfront(),
            key_value_store: aws.key_value_store(),
            lambda: aws.lambda_edge(),
            iam: aws.iam(),
            endpoint: aws.describe_endpoint(),
        }
    }
}

/// Everything the routing decision depends on, as read.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub dist: Distribution,
    pub analysis: Analysis,
    /// What is published of the edge function of the distribution's mode.
    pub function: Published,
    /// The function's KeyValueStore as observed, when its live code reads one.
    pub store: kvs::Observed,
    /// The bucket's website configuration (read in website mode only).
    pub website: Option<website::Website>,
    pub policy: Option<String>,
    pub access: access_block::Observed,
    /// A new random Referer secret, used only if the origin has none yet.
    pub fresh_secret: String,
    /// What the wiring checks read (content mode, `doctor`): the function as declared...
    pub declared: Option<edge::Declared>,
    /// ...and the CloudFormation stack the distribution belongs to, if a stack tagged it.
    pub stack: Option<String>,
}

pub(crate) async fn observe(clients: &Clients, job: &Job) -> Result<Observed, SetupError> {
    // Round trip 1: the distribution and the bucket policy. Round trip 2: what the mode asks for
    // (the function, the website configuration, Block Public Access when it may have to change),
    // once the distribution has said which mode it is in.
    let (dist, policy) = tokio::try_join!(
        read_distribution(clients, &job.request.distribution),
        read_policy(clients, &job.bucket),
    )?;
    let analysis = distribution::analyze(&dist.config, &job.bucket, &dist.id)?;
    let mode = job.mode(&analysis);
    let function = read_function(clients, job, mode, &dist.arn);
    let stack = async {
        match job.checks_wiring() {
            true => read_stack(clients, &dist.arn).await,
            false => Ok(None),
        }
    };
    let website = async {
        match mode {
            Mode::Website => read_website(clients, &job.bucket).await,
            Mode::Private => Ok(None),
        }
    };
    // A website-mode read policy already in place means Block Public Access was relaxed when it
    // was written; a private-mode push may have to restore what website mode relaxed.
    let needed = match mode {
        // Content mode never writes Block Public Access: nothing to know of it.
        _ if job.content_only() => access_block::Needed::Nothing,
        Mode::Website
            if policy
                .as_deref()
                .is_some_and(|p| job.policy_target().has_website_read(p)) =>
        {
            access_block::Needed::Nothing
        }
        Mode::Website => access_block::Needed::Both,
        Mode::Private => access_block::Needed::RecordThenSettings,
    };
    let access = async {
        Ok::<_, SetupError>(
            access_block::observe(&clients.s3, &job.bucket, &clients.endpoint, needed).await?,
        )
    };
    let ((function, store, declared), website, access, stack) =
        tokio::try_join!(function, website, access, stack)?;
    Ok(Observed {
        dist,
        analysis,
        function,
        store,
        website,
        policy,
        access,
        fresh_secret: new_referer_secret()?,
        declared,
        stack,
    })
}

/// The edge function of `mode` as published, its store's marker when its code reads one, and
/// (where the wiring is checked) the CloudFront Function's declared configuration.
async fn read_function(
    clients: &Clients,
    job: &Job,
    mode: Mode,
    distribution_arn: &str,
) -> Result<(Published, kvs::Observed, Option<edge::Declared>), SetupError> {
    let name = job.function_name();
    let probe = async {
        Ok::<_, SetupError>(match mode {
            Mode::Website => edge::probe_lambda(&clients.lambda, &name, &clients.endpoint).await?,
            Mode::Private => {
                let arn = edge::function_arn_in(distribution_arn, &name);
                edge::probe_function(&clients.cloudfront, &name, &arn, &clients.endpoint).await?
            }
        })
    };
    let declared = async {
        match mode {
            Mode::Private if job.checks_wiring() => Ok::<_, SetupError>(
                edge::describe_declared(&clients.cloudfront, &name, &clients.endpoint).await?,
            ),
            _ => Ok(None),
        }
    };
    let (probed, declared) = tokio::try_join!(probe, declared)?;
    // A function that reads a store: what the store says it holds (two more requests, for sites
    // whose table outgrew the function only). In content mode, the store is the one the
    // infrastructure as code associated with the function, and no other.
    let verify = job.request.verify_store;
    let associated = declared.as_ref().and_then(|d| d.stores.first());
    let store = match (&probed.table, associated) {
        (None, _) => kvs::Observed::default(),
        (Some(_), Some(arn)) if job.content_only() => {
            kvs::observe_at(&clients.key_value_store, arn, verify, &clients.endpoint).await?
        }
        // No store associated: the wiring check says so.
        (Some(_), None) if job.content_only() => kvs::Observed::default(),
        (Some(_), _) => {
            let (cloudfront, store) = (&clients.cloudfront, &clients.key_value_store);
            kvs::observe(cloudfront, store, &name, verify, &clients.endpoint).await?
        }
    };
    Ok((probed, store, declared))
}

/// The CloudFormation stack that owns the distribution (the tag CloudFormation puts on what it
/// creates, CDK's stacks included), or `None`. Only what language a fix is printed in depends on
/// it, so credentials that may not read tags make it `None`, not an error.
pub(crate) async fn read_stack(clients: &Clients, arn: &str) -> Result<Option<String>, SetupError> {
    match clients
        .cloudfront
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .tags()
            .and_then(|t| t.items.as_ref())
            .into_iter()
            .flatten()
            .find(|t| t.key == STACK_TAG)
            .and_then(|t| t.value.clone())),
        Err(err) => {
            let err = api_error(
                err,
                "cloudfront:ListTagsForResource",
                arn.to_string(),
                &clients.endpoint,
            );
            match err.code() {
                Some("AccessDenied") => Ok(None),
                _ => Err(err.into()),
            }
        }
    }
}

/// The tag CloudFormation puts on every resource of a stack.
pub(crate) const STACK_TAG: &str = "aws:cloudformation:stack-name";

pub(crate) async fn read_distribution(
    clients: &Clients,
    id: &str,
) -> Result<Distribution, SetupError> {
    let resource = format!("arn:aws:cloudfront::*:distribution/{id}");
    let out = match clients.cloudfront.get_distribution().id(id).send().await {
        Ok(out) => out,
        Err(err) => {
            let err = api_error(
                err,
                "cloudfront:GetDistribution",
                resource,
                &clients.endpoint,
            );
            return Err(match err.code() {
                Some("NoSuchDistribution") => SetupError::NoSuchDistribution(id.to_string()),
                _ => err.into(),
            });
        }
    };
    let Some(dist) = out.distribution() else {
        return Err(SetupError::NoSuchDistribution(id.to_string()));
    };
    let config = dist
        .distribution_config()
        .cloned()
        .ok_or_else(|| SetupError::NoSuchDistribution(id.to_string()))?;
    let Some(etag) = out.e_tag() else {
        return Err(ApiError::Service {
            action: "cloudfront:GetDistribution",
            resource: dist.arn().to_string(),
            code: String::new(),
            detail: "the answer carried no ETag, which an update needs (If-Match)".into(),
        }
        .into());
    };
    Ok(Distribution {
        id: dist.id().to_string(),
        arn: dist.arn().to_string(),
        domain: dist.domain_name().to_string(),
        etag: etag.to_string(),
        config,
        deployed: dist.status().eq_ignore_ascii_case("deployed"),
    })
}

/// A new secret for the Referer header: only CloudFront (which sends it) can read the bucket
/// through the website endpoint. 256 bits from the OS's CSPRNG; the origin's custom header is
/// where it lives (and is read back from).
pub(crate) fn new_referer_secret() -> Result<String, SetupError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        SetupError::Config(format!(
            "the operating system's random number generator failed ({e}); no secret was made"
        ))
    })?;
    Ok(format!("spadeploy-{}", hex::encode(bytes)))
}

async fn read_website(
    clients: &Clients,
    bucket: &str,
) -> Result<Option<website::Website>, SetupError> {
    match clients.s3.get_bucket_website().bucket(bucket).send().await {
        Ok(out) => Ok(Some(website::observed(&out))),
        Err(err) => Ok(bucket_error(clients, err, "s3:GetBucketWebsite", bucket)
            .absent_if("NoSuchWebsiteConfiguration")?),
    }
}

pub(crate) async fn read_policy(
    clients: &Clients,
    bucket: &str,
) -> Result<Option<String>, SetupError> {
    match clients.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(err) => Ok(bucket_error(clients, err, "s3:GetBucketPolicy", bucket)
            .absent_if("NoSuchBucketPolicy")?),
    }
}

fn bucket_error<E>(
    clients: &Clients,
    err: aws_sdk_s3::error::SdkError<E>,
    action: &'static str,
    bucket: &str,
) -> ApiError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    api_error(
        err,
        action,
        format!("arn:aws:s3:::{bucket}"),
        &clients.endpoint,
    )
}
