//! Making a distribution's SPA routing right, idempotently: `observe` what is there, `decide`
//! (pure) what to change, and apply only that. A dry run stops after `plan`; a push with nothing
//! drifted writes nothing to CloudFront, Lambda, IAM or the bucket's configuration. Also the
//! Referer secret's rotation.

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use serde::Serialize;

use aws_sdk_cloudfront::types::DistributionConfig;

use crate::aws::{api_error, ApiError};
use crate::cdn::access_block::{self, AccessBlockStep};
use crate::cdn::decide::{decide, BehaviorAction, RoutingPlan, Step};
use crate::cdn::distribution::{self, Distribution, Edge, WiringError};
use crate::cdn::edge::{self, Installed};
use crate::cdn::iam::BucketConfig;
use crate::cdn::kvs;
use crate::cdn::observe::{new_referer_secret, read_distribution, read_policy, Clients, Observed};
use crate::cdn::request::{Job, SetupError};
use crate::cdn::website;
use crate::cdn::wiring;
use crate::config::routing::Mode;

/// The routing as read, and what must change.
pub(crate) struct Routing {
    pub observed: Observed,
    pub plan: RoutingPlan,
}

/// Decides what must change for the release holding `keys` (replacing the one holding
/// `previous`), from what `observe` read.
pub(crate) fn plan(
    observed: Observed,
    job: &Job,
    keys: &[&str],
    previous: Option<&[&str]>,
) -> Result<Routing, SetupError> {
    let mut plan = decide(&observed, job, keys, previous)?;
    if job.content_only() {
        plan = content_only(plan, &observed, job)?;
    } else if job.request.bucket_config == BucketConfig::ReadOnly {
        plan = without_bucket_writes(plan, job)?;
    }
    Ok(Routing { observed, plan })
}

/// `[cdn] manage = "content"`: the wiring is checked, and a plan that needs any of it fails
/// here, before anything is written, with each fix in the owner's language. What is left is the
/// content: the function's code and its store's keys.
fn content_only(
    mut plan: RoutingPlan,
    observed: &Observed,
    job: &Job,
) -> Result<RoutingPlan, SetupError> {
    let report = wiring::report(observed, job, &plan);
    if report.wiring_problems().next().is_some() {
        return Err(SetupError::Unwired(Box::new(report)));
    }
    for behavior in &mut plan.behaviors {
        if behavior.action == BehaviorAction::Associate {
            // Associated by the owner (checked): publishing the code updates what it runs.
            behavior.action = BehaviorAction::Unchanged;
        }
    }
    plan.origin_switch = Step::Unchanged;
    plan.referer_header = Step::Unchanged;
    plan.writes.referer = None;
    Ok(plan)
}

/// `--no-bucket-policy`: the bucket's configuration is bucket-wide, so credentials for one
/// prefix may lack the right to write it. A plan that needs such a write fails here, before
/// anything is written, naming what is missing; turning Block Public Access back on is left
/// for later with a warning (the site works without it).
fn without_bucket_writes(mut plan: RoutingPlan, job: &Job) -> Result<RoutingPlan, SetupError> {
    let mut missing = Vec::new();
    if plan.bucket_policy == Step::Update || plan.writes.referer.is_some() {
        missing.push(format!(
            "the bucket policy lacks what this target needs ({})",
            match plan.mode {
                Mode::Private => "CloudFront's read of the prefix through Origin Access Control",
                Mode::Website =>
                    "the website endpoint's read, limited to the distribution's secret Referer",
            }
        ));
    }
    if plan.public_access_block == AccessBlockStep::Relax {
        missing.push(
            "Block Public Access refuses the website endpoint's read policy (BlockPublicPolicy or \
             RestrictPublicBuckets is on)"
                .into(),
        );
    }
    if plan.website == Step::Update {
        missing
            .push("the bucket's website configuration (index and error documents) differs".into());
    }
    if !missing.is_empty() {
        return Err(SetupError::Config(format!(
            "--no-bucket-policy: bucket `{}` is not wired for s3://{}/{}: {}. Nothing was written. \
             Run one push without --no-bucket-policy using credentials that may write the bucket's \
             configuration (`spadeploy iam-policy` without --no-bucket-policy prints them), or have \
             an administrator do it; pushes with --no-bucket-policy then need none of it",
            job.bucket,
            job.bucket,
            job.prefix,
            missing.join("; ")
        )));
    }
    if plan.public_access_block == AccessBlockStep::Restore {
        plan.public_access_block = AccessBlockStep::Unchanged;
        plan.warnings.push(format!(
            "no public read grant is left in bucket `{}`, so the Block Public Access settings \
             spadeploy turned off could be turned back on; --no-bucket-policy leaves that to a push \
             without it (or to an administrator)",
            job.bucket
        ));
    }
    Ok(plan)
}

/// Applies `routing.plan`: the function, the bucket's configuration and the OAC together, then
/// one distribution update (only when the patched config differs). Returns the ARN the SPA
/// behaviors now run.
pub(crate) async fn apply(
    clients: &Clients,
    job: &Job,
    routing: &Routing,
) -> Result<String, SetupError> {
    let Routing { observed, plan } = routing;
    let listed = observed.store.keys.as_ref();
    if job.content_only() {
        // The wiring is the owner's (checked): publishing the code is all the function needs.
        return Ok(install_function(clients, plan, listed, observed.declared.as_ref()).await?);
    }
    let writes = &plan.writes;
    // The function, the bucket's configuration and the Origin Access Control do not depend on
    // each other: they are written at the same time; the distribution, which names the function
    // and the OAC, is updated once all three are done.
    let needs_oac = plan.origin_switch == Step::Update && plan.mode == Mode::Private;
    let oac = async {
        if needs_oac {
            ensure_oac(clients, &job.bucket).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (arn, (), oac) = tokio::try_join!(
        async { Ok::<_, SetupError>(install_function(clients, plan, listed, None).await?) },
        write_bucket(clients, job, routing),
        async { Ok::<_, SetupError>(oac.await?) },
    )?;
    let edge = Edge::new(plan.mode, arn.clone(), writes.viewer_response);
    update_distribution(clients, observed.dist.clone(), |config| {
        let mut config = config.clone();
        if plan.origin_switch == Step::Update {
            config = distribution::fix_origin(
                &config,
                &writes.origin_id,
                plan.mode,
                &job.bucket,
                &job.region,
                oac.as_deref(),
            )?;
        }
        if let Some(secret) = &writes.referer {
            config = distribution::with_referer(&config, &writes.origin_id, secret)?;
        }
        distribution::associate(&config, &writes.spa_behaviors, &edge, &plan.function.name)
    })
    .await?;
    Ok(arn)
}

/// The bucket's side, in its own safe order: website configuration; Block Public Access relaxed
/// before a public policy is written (BlockPublicPolicy refuses it); the policy; restored after
/// the last public grant is gone.
async fn write_bucket(clients: &Clients, job: &Job, routing: &Routing) -> Result<(), SetupError> {
    let Routing { observed, plan } = routing;
    if let Some(site) = &plan.writes.website {
        put_website(clients, &job.bucket, site).await?;
    }
    let access = |step| {
        access_block::apply(
            &clients.s3,
            &job.bucket,
            &clients.endpoint,
            step,
            &observed.access,
        )
    };
    if plan.public_access_block == AccessBlockStep::Relax {
        access(AccessBlockStep::Relax).await?;
    }
    if let Some(policy) = &plan.writes.policy {
        put_policy(clients, &job.bucket, policy).await?;
    }
    if plan.public_access_block == AccessBlockStep::Restore {
        access(AccessBlockStep::Restore).await?;
    }
    Ok(())
}

/// Installs the function; a private-mode one reading a KeyValueStore gets the store filled first
/// (the code names the table), and a current one gets its store repaired when the marker says
/// the store holds another table. A function infrastructure as code `declared` writes to the
/// store it associated and keeps its configuration.
async fn install_function(
    clients: &Clients,
    plan: &RoutingPlan,
    listed: Option<&kvs::Table>,
    declared: Option<&edge::Declared>,
) -> Result<String, ApiError> {
    let (name, code) = (&plan.function.name, &plan.writes.code);
    let stale = !matches!(plan.writes.installed, Installed::Current { .. });
    let store = match &plan.writes.store {
        Some(store) if stale || plan.route_store == Step::Update => {
            let arn = match declared.and_then(|d| d.stores.first()) {
                Some(arn) => arn.clone(),
                None => kvs::ensure(&clients.cloudfront, &store.name, &clients.endpoint).await?,
            };
            kvs::write(
                &clients.key_value_store,
                &arn,
                &store.table,
                store.previous.as_ref(),
                listed,
                &clients.endpoint,
            )
            .await?;
            Some(arn)
        }
        _ => None,
    };
    match plan.mode {
        Mode::Website => {
            edge::install_lambda(
                &clients.lambda,
                &clients.iam,
                name,
                code,
                &plan.writes.installed,
                &clients.endpoint,
            )
            .await
        }
        Mode::Private => {
            edge::install_function(
                &clients.cloudfront,
                name,
                code,
                store.as_deref(),
                declared,
                &plan.writes.installed,
                &clients.endpoint,
            )
            .await
        }
    }
}

async fn put_website(
    clients: &Clients,
    bucket: &str,
    site: &website::Website,
) -> Result<(), ApiError> {
    clients
        .s3
        .put_bucket_website()
        .bucket(bucket)
        .website_configuration(site.to_sdk()?)
        .send()
        .await
        .map_err(|e| {
            api_error(
                e,
                "s3:PutBucketWebsite",
                format!("arn:aws:s3:::{bucket}"),
                &clients.endpoint,
            )
        })?;
    Ok(())
}

/// How often a distribution update is tried when others change the distribution meanwhile.
const UPDATE_ATTEMPTS: usize = 4;

/// Writes `patch(config)` to the distribution, only when it changes anything; when someone else
/// changed the distribution meanwhile (HTTP 412), patches their version instead.
async fn update_distribution(
    clients: &Clients,
    mut dist: Distribution,
    patch: impl Fn(&DistributionConfig) -> Result<DistributionConfig, WiringError>,
) -> Result<(), SetupError> {
    for attempt in 1..=UPDATE_ATTEMPTS {
        let config = patch(&dist.config)?;
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
pub(crate) struct Rotation {
    pub distribution: String,
    /// How long the distribution took to deploy the new header everywhere.
    pub deployed_after_s: u64,
}

/// `spadeploy routing --rotate-secret` (website mode): a new Referer secret without a moment in
/// which CloudFront's requests are refused. The bucket policy allows the old and the new value,
/// the origin switches to the new one, and once every edge location runs it (`wait` at most) the
/// old value is dropped. Interrupted, it leaves both allowed; the next push or rotation finishes.
pub(crate) async fn rotate_secret(
    clients: &Clients,
    job: &Job,
    wait: std::time::Duration,
    on_wait: &dyn Fn(std::time::Duration),
) -> Result<Rotation, SetupError> {
    if job.request.bucket_config == BucketConfig::ReadOnly {
        return Err(SetupError::Config(
            "--rotate-secret writes the bucket policy (both secrets, then the new one): drop \
             --no-bucket-policy and use credentials that may write it"
                .into(),
        ));
    }
    let dist = read_distribution(clients, &job.request.distribution).await?;
    let analysis = distribution::analyze(&dist.config, &job.bucket, &dist.id)?;
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
        let merged =
            target.merged_policy(current.as_deref(), target.website_statements(&referers))?;
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
        on_wait(started.elapsed());
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
            .map(aws_sdk_cloudfront::types::OriginAccessControlList::items)
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
    created
        .origin_access_control()
        .map(|o| o.id().to_string())
        .ok_or_else(|| ApiError::Service {
            action: "cloudfront:CreateOriginAccessControl",
            resource: "arn:aws:cloudfront::*:origin-access-control/*".into(),
            code: String::new(),
            detail: "CloudFront's answer named no Origin Access Control to attach".into(),
        })
}
