//! Making a distribution's SPA routing right, idempotently: read what is there, decide what to
//! change (with the pure builders of `distribution`, `website` and `edge`), and apply only that.
//! A dry run stops after `plan`; a push with nothing drifted writes nothing to CloudFront,
//! Lambda, IAM or the bucket's configuration.

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::{api_error, ApiError};
use crate::distribution::{self, Distribution, Edge, OriginKind};
use crate::edge::{self, FunctionAction, Installed};
use crate::routing::{Mode, Redirect, RoutingSettings, Rule};
use crate::website;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("distribution {0} does not exist in this account: check --distribution (or [cdn] distribution) and the credentials' account")]
    NoSuchDistribution(String),
    #[error("{0}")]
    Config(String),
}

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub endpoint: String,
}

/// What the user asked of the routing, from flags and manifest.
#[derive(Debug, Clone)]
pub struct RoutingRequest {
    pub distribution: String,
    pub mode: Option<Mode>,
    pub settings: RoutingSettings,
    pub redirects: Vec<Redirect>,
    pub fix_origin: bool,
    pub allow_public_read: bool,
}

/// A routing request for a concrete bucket.
#[derive(Debug, Clone)]
pub struct Job {
    pub request: RoutingRequest,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
}

impl Job {
    pub fn function_name(&self) -> String {
        crate::routing::function_name(&self.request.settings, &self.bucket)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Unchanged,
    Update,
}

#[derive(Debug, Clone, Serialize)]
pub struct FunctionPlan {
    pub name: String,
    pub kind: &'static str,
    pub action: FunctionAction,
    /// Known when unchanged (or after apply).
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BehaviorPlan {
    pub path: String,
    pub spa: bool,
    /// `associate`, `unchanged`, or `untouched` (not an SPA behavior).
    pub action: &'static str,
}

/// The routing changes a push makes (or, in a dry run, would make).
#[derive(Debug, Clone, Serialize)]
pub struct RoutingPlan {
    pub distribution: String,
    pub mode: Mode,
    pub origin: OriginKind,
    pub function: FunctionPlan,
    pub behaviors: Vec<BehaviorPlan>,
    pub origin_switch: Step,
    pub referer_header: Step,
    pub website: Step,
    pub public_access_block: Step,
    pub bucket_policy: Step,
    pub warnings: Vec<String>,
    #[serde(skip)]
    state: State,
}

/// What `apply` needs that the report does not show.
#[derive(Debug, Clone)]
struct State {
    dist: Distribution,
    origin_id: String,
    spa_behaviors: Vec<String>,
    code: String,
    installed: Installed,
    website: Option<website::Website>,
    policy: Option<String>,
    referer: Option<String>,
}

impl RoutingPlan {
    pub fn has_changes(&self) -> bool {
        self.function.action != FunctionAction::Unchanged
            || self.behaviors.iter().any(|b| b.action == "associate")
            || [
                self.origin_switch,
                self.referer_header,
                self.website,
                self.public_access_block,
                self.bucket_policy,
            ]
            .contains(&Step::Update)
    }

    /// The site's host for viewers (redirect targets, verify).
    pub fn site_host(&self) -> String {
        self.state.dist.site_host()
    }

    pub fn origin_path(&self) -> String {
        self.state
            .dist
            .config
            .origins
            .as_ref()
            .and_then(|o| o.items.iter().find(|o| o.id == self.state.origin_id))
            .and_then(|o| o.origin_path.clone())
            .unwrap_or_default()
    }
}

async fn read_distribution(clients: &Clients, id: &str) -> Result<Distribution, SetupError> {
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
    Ok(Distribution {
        id: dist.id().to_string(),
        arn: dist.arn().to_string(),
        domain: dist.domain_name().to_string(),
        etag: out.e_tag().unwrap_or_default().to_string(),
        config,
    })
}

/// A stable secret for the Referer header: only CloudFront (which sends it) can read the bucket
/// through the website endpoint. Derived, not random, so dry runs and pushes agree.
fn new_referer_secret(dist: &Distribution, bucket: &str) -> String {
    let digest = Sha256::digest(format!(
        "{}|{}|{bucket}",
        dist.arn, dist.config.caller_reference
    ));
    format!("spadeploy-{}", &hex::encode(digest)[..40])
}

/// Reads the distribution, the function, the website configuration and the bucket policy, and
/// decides what must change.
pub async fn plan(clients: &Clients, job: &Job) -> Result<RoutingPlan, SetupError> {
    let dist = read_distribution(clients, &job.request.distribution).await?;
    let analysis =
        distribution::analyze(&dist.config, &job.bucket, &dist.id).map_err(SetupError::Config)?;
    let detected = analysis.origin_kind.mode();
    let mode = job.request.mode.unwrap_or(detected);
    let mut warnings = analysis.warnings.clone();
    if mode != detected && !job.request.fix_origin {
        let (now, needed) = match mode {
            Mode::Website => (
                "the bucket's REST endpoint, which ignores the website error document",
                "the website endpoint",
            ),
            Mode::Private => (
                "the bucket's website endpoint",
                "the REST endpoint with Origin Access Control",
            ),
        };
        return Err(SetupError::Config(format!(
            "the SPA origin `{}` of distribution {} is {now}; {mode} mode needs {needed}: pass --fix-origin to switch it, or set [routing] mode to match the origin",
            analysis.origin_id, dist.id
        )));
    }

    let rule = Rule::new(&job.request.settings, &job.request.redirects);
    let name = job.function_name();
    let (code, kind) = match mode {
        Mode::Website => (
            edge::lambda_edge_source(&rule),
            "lambda@edge origin-response",
        ),
        Mode::Private => (
            edge::cloudfront_function_source(&rule),
            "cloudfront-function viewer-request",
        ),
    };
    let hash = edge::code_hash(&code);
    let installed = match mode {
        Mode::Website => {
            edge::probe_lambda(&clients.lambda, &name, &hash, &clients.endpoint).await?
        }
        Mode::Private => {
            edge::probe_function(&clients.cloudfront, &name, &hash, &clients.endpoint).await?
        }
    };
    let current_arn = match &installed {
        Installed::Current { arn } => Some(arn.clone()),
        _ => None,
    };

    let behaviors = analysis
        .spa_behaviors
        .iter()
        .map(|path| BehaviorPlan {
            path: path.clone(),
            spa: true,
            action: match &current_arn {
                Some(arn) if distribution::carries(&dist.config, path, arn) => "unchanged",
                _ => "associate",
            },
        })
        .chain(analysis.other_behaviors.iter().map(|path| BehaviorPlan {
            path: path.clone(),
            spa: false,
            action: "untouched",
        }))
        .collect();

    let has_oac = dist
        .config
        .origins
        .as_ref()
        .and_then(|o| o.items.iter().find(|o| o.id == analysis.origin_id))
        .and_then(|o| o.origin_access_control_id.as_deref())
        .is_some_and(|id| !id.is_empty());
    // --fix-origin also attaches Origin Access Control to a private-mode origin without one.
    let origin_switch =
        if mode != detected || (mode == Mode::Private && job.request.fix_origin && !has_oac) {
            Step::Update
        } else {
            Step::Unchanged
        };
    let existing_secret = distribution::referer_secret(&dist.config, &analysis.origin_id);
    let mut referer = None;
    let mut website_config = None;
    let mut policy = None;
    let mut public_access_block = Step::Unchanged;
    let current_policy = read_policy(clients, &job.bucket).await?;
    let target = website::PolicyTarget {
        bucket: &job.bucket,
        prefix: &job.prefix,
    };
    let statements = match mode {
        Mode::Website => {
            let desired = website::desired(
                &job.request.settings,
                &job.request.redirects,
                &job.prefix,
                &dist.site_host(),
            );
            if read_website(clients, &job.bucket).await?.as_ref() != Some(&desired) {
                website_config = Some(desired);
            }
            let ours = current_policy
                .as_deref()
                .is_some_and(|p| target.has_website_read(p));
            let theirs = current_policy
                .as_deref()
                .is_some_and(website::allows_public_read)
                && !ours;
            if theirs && !job.request.allow_public_read {
                // The bucket is already public by the user's own statement: spadeploy adds no
                // grant, but its state is still denied to every anonymous reader.
                Some(vec![target.hide_state()])
            } else if !ours && !job.request.allow_public_read {
                return Err(SetupError::Config(format!(
                    "website mode serves bucket `{}` through its website endpoint, which reads objects anonymously, \
                     and the bucket policy allows no such reads. spadeploy never opens a bucket without consent: set \
                     allow_public_read = true under [routing] (or pass --allow-public-read) to add a read policy limited \
                     to requests carrying a secret Referer header that only this distribution sends (spadeploy's state \
                     stays unreadable), or use mode = \"private\" to keep the bucket private",
                    job.bucket
                )));
            } else {
                let secret = existing_secret
                    .clone()
                    .unwrap_or_else(|| new_referer_secret(&dist, &job.bucket));
                if existing_secret.is_none() {
                    referer = Some(secret.clone());
                }
                if public_access_blocks_policies(clients, &job.bucket).await? {
                    public_access_block = Step::Update;
                }
                Some(target.website_statements(&secret))
            }
        }
        Mode::Private => {
            if !has_oac && !job.request.fix_origin {
                warnings.push(format!(
                    "the SPA origin `{}` has no Origin Access Control, so CloudFront's requests are unsigned and a \
                     private bucket answers 403: pass --fix-origin to attach one",
                    analysis.origin_id
                ));
            }
            Some(target.private_statements(&dist.arn))
        }
    };
    if let Some(statements) = statements {
        policy = target
            .merged_policy(current_policy.as_deref(), statements)
            .map_err(SetupError::Config)?;
    }

    Ok(RoutingPlan {
        distribution: dist.id.clone(),
        mode,
        origin: analysis.origin_kind,
        function: FunctionPlan {
            name,
            kind,
            action: installed.action(),
            arn: current_arn,
        },
        behaviors,
        origin_switch,
        referer_header: if referer.is_some() {
            Step::Update
        } else {
            Step::Unchanged
        },
        website: if website_config.is_some() {
            Step::Update
        } else {
            Step::Unchanged
        },
        public_access_block,
        bucket_policy: if policy.is_some() {
            Step::Update
        } else {
            Step::Unchanged
        },
        warnings,
        state: State {
            dist,
            origin_id: analysis.origin_id,
            spa_behaviors: analysis.spa_behaviors,
            code,
            installed,
            website: website_config,
            policy,
            referer,
        },
    })
}

async fn read_website(
    clients: &Clients,
    bucket: &str,
) -> Result<Option<website::Website>, ApiError> {
    match clients.s3.get_bucket_website().bucket(bucket).send().await {
        Ok(out) => Ok(Some(website::observed(&out))),
        Err(err) => bucket_error(clients, err, "s3:GetBucketWebsite", bucket)
            .absent_if("NoSuchWebsiteConfiguration"),
    }
}

async fn read_policy(clients: &Clients, bucket: &str) -> Result<Option<String>, ApiError> {
    match clients.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(err) => {
            bucket_error(clients, err, "s3:GetBucketPolicy", bucket).absent_if("NoSuchBucketPolicy")
        }
    }
}

/// True when the bucket's Block Public Access settings would reject a public policy.
async fn public_access_blocks_policies(clients: &Clients, bucket: &str) -> Result<bool, ApiError> {
    let config = match clients
        .s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out.public_access_block_configuration().cloned(),
        Err(err) => bucket_error(clients, err, "s3:GetBucketPublicAccessBlock", bucket)
            .absent_if("NoSuchPublicAccessBlockConfiguration")?,
    };
    Ok(config.is_some_and(|c| {
        c.block_public_policy() == Some(true) || c.restrict_public_buckets() == Some(true)
    }))
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

/// Applies `plan`: function, bucket configuration, then one distribution update (only when the
/// patched config differs), retried on a concurrent change (HTTP 412).
pub async fn apply(
    clients: &Clients,
    job: &Job,
    plan: &RoutingPlan,
) -> Result<RoutingPlan, SetupError> {
    let state = &plan.state;
    let name = &plan.function.name;
    let arn = match plan.mode {
        Mode::Website => {
            edge::install_lambda(
                &clients.lambda,
                &clients.iam,
                name,
                &state.code,
                &state.installed,
                &clients.endpoint,
            )
            .await?
        }
        Mode::Private => {
            edge::install_function(
                &clients.cloudfront,
                name,
                &state.code,
                &state.installed,
                &clients.endpoint,
            )
            .await?
        }
    };
    let bucket_arn = format!("arn:aws:s3:::{}", job.bucket);
    if let Some(site) = &state.website {
        clients
            .s3
            .put_bucket_website()
            .bucket(&job.bucket)
            .website_configuration(site.to_sdk()?)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    e,
                    "s3:PutBucketWebsite",
                    bucket_arn.clone(),
                    &clients.endpoint,
                )
            })?;
    }
    if plan.public_access_block == Step::Update {
        // Only reached with explicit consent (allow_public_read); ACLs stay blocked.
        let config = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(false)
            .restrict_public_buckets(false)
            .build();
        clients
            .s3
            .put_public_access_block()
            .bucket(&job.bucket)
            .public_access_block_configuration(config)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    e,
                    "s3:PutBucketPublicAccessBlock",
                    bucket_arn.clone(),
                    &clients.endpoint,
                )
            })?;
    }
    if let Some(policy) = &state.policy {
        clients
            .s3
            .put_bucket_policy()
            .bucket(&job.bucket)
            .policy(policy)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    e,
                    "s3:PutBucketPolicy",
                    bucket_arn.clone(),
                    &clients.endpoint,
                )
            })?;
    }

    let edge = match plan.mode {
        Mode::Website => Edge::Lambda { arn: arn.clone() },
        Mode::Private => Edge::Function { arn: arn.clone() },
    };
    let oac = if plan.origin_switch == Step::Update && plan.mode == Mode::Private {
        Some(ensure_oac(clients, &job.bucket).await?)
    } else {
        None
    };
    let mut dist = state.dist.clone();
    for attempt in 0..4 {
        let mut config = dist.config.clone();
        if plan.origin_switch == Step::Update {
            config = distribution::fix_origin(
                &config,
                &state.origin_id,
                plan.mode,
                &job.bucket,
                &job.region,
                oac.as_deref(),
            )
            .map_err(SetupError::Config)?;
        }
        if let Some(secret) = &state.referer {
            config = distribution::with_referer(&config, &state.origin_id, secret)
                .map_err(SetupError::Config)?;
        }
        config = distribution::associate(&config, &state.spa_behaviors, &edge, name)
            .map_err(SetupError::Config)?;
        if config == dist.config {
            break;
        }
        let result = clients
            .cloudfront
            .update_distribution()
            .id(&dist.id)
            .if_match(&dist.etag)
            .distribution_config(config)
            .send()
            .await;
        match result {
            Ok(_) => break,
            Err(err) => {
                let err = api_error(
                    err,
                    "cloudfront:UpdateDistribution",
                    dist.arn.clone(),
                    &clients.endpoint,
                );
                if err.code() != Some("PreconditionFailed") || attempt == 3 {
                    return Err(err.into());
                }
                // Someone changed the distribution meanwhile: patch their version instead.
                dist = read_distribution(clients, &dist.id).await?;
            }
        }
    }
    let mut done = plan.clone();
    done.function.arn = Some(arn);
    Ok(done)
}

/// The Origin Access Control spadeploy uses for `bucket`, created when missing.
async fn ensure_oac(clients: &Clients, bucket: &str) -> Result<String, ApiError> {
    let name: String = format!("spadeploy-{bucket}").chars().take(64).collect();
    let resource = "arn:aws:cloudfront::*:origin-access-control/*".to_string();
    let mut pages = clients
        .cloudfront
        .list_origin_access_controls()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            api_error(
                e,
                "cloudfront:ListOriginAccessControls",
                resource.clone(),
                &clients.endpoint,
            )
        })?;
        if let Some(found) = page
            .origin_access_control_list()
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .find(|o| o.name() == name)
        {
            return Ok(found.id().to_string());
        }
    }
    let config = OriginAccessControlConfig::builder()
        .name(&name)
        .description("spadeploy: CloudFront signs its requests to the private bucket")
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .map_err(|e| ApiError::Service {
            action: "cloudfront:CreateOriginAccessControl",
            resource: resource.clone(),
            code: String::new(),
            detail: e.to_string(),
        })?;
    let created = clients
        .cloudfront
        .create_origin_access_control()
        .origin_access_control_config(config)
        .send()
        .await
        .map_err(|e| {
            api_error(
                e,
                "cloudfront:CreateOriginAccessControl",
                resource,
                &clients.endpoint,
            )
        })?;
    Ok(created
        .origin_access_control()
        .map(|o| o.id().to_string())
        .unwrap_or_default())
}
