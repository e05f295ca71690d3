//! Making a distribution's SPA routing right, idempotently: read what is there, decide what to
//! change (with the pure builders of `distribution`, `website` and `edge`), and apply only that.
//! A dry run stops after `plan`; a push with nothing drifted writes nothing to CloudFront,
//! Lambda, IAM or the bucket's configuration.

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use serde::Serialize;

use crate::aws::{api_error, ApiError};
use crate::cdn::access_block::{self, AccessBlockStep};
use crate::cdn::distribution::{self, Distribution, Edge, OriginKind};
use crate::cdn::edge::{self, FunctionAction, Installed};
use crate::cdn::routing::Rule;
use crate::cdn::website;
use crate::config::routing::{Mode, Redirect, RoutingSettings};
use aws_sdk_cloudfront::types::DistributionConfig;

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
        crate::cdn::routing::function_name(&self.request.settings, &self.bucket)
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
    pub public_access_block: AccessBlockStep,
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
    access: access_block::Observed,
}

impl RoutingPlan {
    pub fn has_changes(&self) -> bool {
        self.function.action != FunctionAction::Unchanged
            || self.behaviors.iter().any(|b| b.action == "associate")
            || self.public_access_block != AccessBlockStep::Unchanged
            || [
                self.origin_switch,
                self.referer_header,
                self.website,
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
        deployed: dist.status().eq_ignore_ascii_case("deployed"),
    })
}

/// A new secret for the Referer header: only CloudFront (which sends it) can read the bucket
/// through the website endpoint. 256 bits from the OS's CSPRNG; the origin's custom header is
/// where it lives (and is read back from).
fn new_referer_secret() -> Result<String, SetupError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        SetupError::Config(format!(
            "the operating system's random number generator failed ({e}); no secret was made"
        ))
    })?;
    Ok(format!("spadeploy-{}", hex::encode(bytes)))
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
    let mut relax_for_website = false;
    let current_policy = read_policy(clients, &job.bucket).await?;
    let access = access_block::observe(&clients.s3, &job.bucket, &clients.endpoint).await?;
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
                     stays unreadable; where Block Public Access's BlockPublicPolicy or RestrictPublicBuckets is on, \
                     spadeploy turns it off for this policy, records that in a bucket tag, and turns it back on once \
                     no public grant is left), or use mode = \"private\" to keep the bucket private",
                    job.bucket
                )));
            } else {
                let secret = match &existing_secret {
                    Some(secret) => secret.clone(),
                    None => {
                        let secret = new_referer_secret()?;
                        referer = Some(secret.clone());
                        secret
                    }
                };
                // A rotation in flight (both values allowed) keeps the old value until every
                // edge location sends the new one.
                let allowed = current_policy
                    .as_deref()
                    .map(|p| target.allowed_referers(p))
                    .unwrap_or_default();
                let referers = if !dist.deployed && allowed.contains(&secret) {
                    allowed
                } else {
                    vec![secret]
                };
                relax_for_website = true;
                Some(target.website_statements(&referers))
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
    let public_grant_left = policy
        .as_deref()
        .or(current_policy.as_deref())
        .is_some_and(website::allows_public_read);
    let public_access_block = match mode {
        Mode::Website if !relax_for_website => AccessBlockStep::Unchanged,
        _ => access_block::decide(&access, mode == Mode::Website, public_grant_left),
    };

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
            access,
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
    // Relaxed before a public policy is written (BlockPublicPolicy refuses it), restored after
    // the last public grant is gone.
    let access = |step| {
        access_block::apply(
            &clients.s3,
            &job.bucket,
            &clients.endpoint,
            step,
            &state.access,
        )
    };
    if plan.public_access_block == AccessBlockStep::Relax {
        access(AccessBlockStep::Relax).await?;
    }
    if let Some(policy) = &state.policy {
        put_policy(clients, &job.bucket, policy).await?;
    }
    if plan.public_access_block == AccessBlockStep::Restore {
        access(AccessBlockStep::Restore).await?;
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
    update_distribution(clients, state.dist.clone(), |config| {
        let mut config = config.clone();
        if plan.origin_switch == Step::Update {
            config = distribution::fix_origin(
                &config,
                &state.origin_id,
                plan.mode,
                &job.bucket,
                &job.region,
                oac.as_deref(),
            )?;
        }
        if let Some(secret) = &state.referer {
            config = distribution::with_referer(&config, &state.origin_id, secret)?;
        }
        distribution::associate(&config, &state.spa_behaviors, &edge, name)
    })
    .await?;
    let mut done = plan.clone();
    done.function.arn = Some(arn);
    Ok(done)
}

/// How often a distribution update is tried when others change the distribution meanwhile.
const UPDATE_ATTEMPTS: usize = 4;

/// Writes `patch(config)` to the distribution, only when it changes anything; when someone else
/// changed the distribution meanwhile (HTTP 412), patches their version instead.
async fn update_distribution(
    clients: &Clients,
    mut dist: Distribution,
    patch: impl Fn(&DistributionConfig) -> Result<DistributionConfig, String>,
) -> Result<(), SetupError> {
    for attempt in 1..=UPDATE_ATTEMPTS {
        let config = patch(&dist.config).map_err(SetupError::Config)?;
        if config == dist.config {
            return Ok(());
        }
        let result = clients
            .cloudfront
            .update_distribution()
            .id(&dist.id)
            .if_match(&dist.etag)
            .distribution_config(config)
            .send()
            .await;
        let Err(err) = result else {
            return Ok(());
        };
        let err = api_error(
            err,
            "cloudfront:UpdateDistribution",
            dist.arn.clone(),
            &clients.endpoint,
        );
        if err.code() != Some("PreconditionFailed") || attempt == UPDATE_ATTEMPTS {
            return Err(err.into());
        }
        dist = read_distribution(clients, &dist.id).await?;
    }
    Ok(())
}

async fn put_policy(clients: &Clients, bucket: &str, policy: &str) -> Result<(), ApiError> {
    clients
        .s3
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .map_err(|e| {
            api_error(
                e,
                "s3:PutBucketPolicy",
                format!("arn:aws:s3:::{bucket}"),
                &clients.endpoint,
            )
        })?;
    Ok(())
}

/// A finished secret rotation.
#[derive(Debug, Serialize)]
pub struct Rotation {
    pub distribution: String,
    /// How long the distribution took to deploy the new header everywhere.
    pub deployed_after_s: u64,
}

/// `spadeploy routing --rotate-secret` (website mode): a new Referer secret without a moment in
/// which CloudFront's requests are refused. The bucket policy allows the old and the new value,
/// the origin switches to the new one, and once every edge location runs it (`wait` at most) the
/// old value is dropped. Interrupted, it leaves both allowed; the next push or rotation finishes.
pub async fn rotate_secret(
    clients: &Clients,
    job: &Job,
    wait: std::time::Duration,
) -> Result<Rotation, SetupError> {
    let dist = read_distribution(clients, &job.request.distribution).await?;
    let analysis =
        distribution::analyze(&dist.config, &job.bucket, &dist.id).map_err(SetupError::Config)?;
    if analysis.origin_kind.mode() != Mode::Website {
        return Err(SetupError::Config(format!(
            "distribution {} reaches bucket `{}` through its REST endpoint (private mode), which uses \
             Origin Access Control and no Referer secret: there is nothing to rotate",
            dist.id, job.bucket
        )));
    }
    if !dist.deployed {
        return Err(SetupError::Config(format!(
            "distribution {} is still deploying an earlier change (perhaps a rotation): run this again \
             once its status is Deployed",
            dist.id
        )));
    }
    let Some(old) = distribution::referer_secret(&dist.config, &analysis.origin_id) else {
        return Err(SetupError::Config(format!(
            "the SPA origin of distribution {} sends no Referer secret yet: `spadeploy push` sets one up",
            dist.id
        )));
    };
    let new = new_referer_secret()?;
    let target = website::PolicyTarget {
        bucket: &job.bucket,
        prefix: &job.prefix,
    };
    let write_policy = |referers: Vec<String>| async move {
        let current = read_policy(clients, &job.bucket).await?;
        let merged = target
            .merged_policy(current.as_deref(), target.website_statements(&referers))
            .map_err(SetupError::Config)?;
        if let Some(policy) = merged {
            put_policy(clients, &job.bucket, &policy).await?;
        }
        Ok::<_, SetupError>(())
    };
    write_policy(vec![old, new.clone()]).await?;
    let origin_id = analysis.origin_id.clone();
    update_distribution(clients, dist, |config| {
        distribution::with_referer(config, &origin_id, &new)
    })
    .await?;
    let started = std::time::Instant::now();
    while !read_distribution(clients, &job.request.distribution)
        .await?
        .deployed
    {
        if started.elapsed() >= wait {
            return Err(SetupError::Config(format!(
                "distribution {} has not finished deploying the new secret after {}s; both values stay \
                 allowed meanwhile. Run `spadeploy routing --rotate-secret` or `spadeploy push` later \
                 to drop the old one",
                job.request.distribution,
                wait.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    }
    write_policy(vec![new]).await?;
    Ok(Rotation {
        distribution: job.request.distribution.clone(),
        deployed_after_s: started.elapsed().as_secs(),
    })
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
