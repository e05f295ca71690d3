//! The distribution's side of a push: its clients and job, observed before anything is written,
//! set up beside the root index, invalidated and waited for; also `routing` and its secret rotation.

use super::*;

/// How long `--wait` waits for an invalidation before giving up (it goes on in CloudFront).
pub(super) const WAIT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The distribution's side of a push: the clients that reach it and what was asked of its
/// routing, for one bucket and prefix. Observed before anything is written, planned with the
/// files, set up beside the root index, invalidated.
pub(super) struct Cdn {
    pub(super) clients: Clients,
    pub(super) job: Job,
}

/// The clients and job for the routing part, all from one SDK configuration.
pub(super) fn routing_job(
    aws: &Aws,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Cdn {
    let clients = Clients::of(aws);
    let job = Job {
        request,
        bucket,
        prefix,
        region: aws.region(),
    };
    Cdn { clients, job }
}

/// The routing as read for the live release's files (none before the first push).
async fn observe_live(
    settings: &TargetSettings,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Result<(Job, Observed, Vec<String>)> {
    let target = Target::S3 {
        bucket: bucket.clone(),
        prefix: prefix.clone(),
    };
    let (store, aws) = open(&target, settings).await?;
    let Some(aws) = aws else {
        bail!("routing needs an s3:// target");
    };
    let Cdn { clients, job } = routing_job(&aws, request, bucket, prefix);
    let (live, observed) =
        tokio::join!(read_live(&store, &target), observe_routing(&clients, &job));
    let keys = live?
        .iter()
        .flat_map(|r| r.objects.keys().cloned())
        .collect();
    Ok((job, observed?, keys))
}

/// The routing plan alone (`spadeploy routing`), exactly as a push would compute it.
pub(crate) async fn plan_routing(
    settings: &TargetSettings,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Result<RoutingPlan> {
    let (job, observed, keys) = observe_live(settings, request, bucket, prefix).await?;
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let routing = routing_setup::plan(observed, &job, &keys, Some(&keys)).with_context(|| {
        format!(
            "cannot plan the routing of distribution {}",
            job.request.distribution
        )
    })?;
    Ok(routing.plan)
}

/// `spadeploy doctor`: the wiring checks for the live release, in either management mode.
pub(crate) async fn doctor(
    settings: &TargetSettings,
    mut request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Result<crate::cdn::diagnosis::Report> {
    request.check_wiring = true;
    let (job, observed, keys) = observe_live(settings, request, bucket, prefix).await?;
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let plan =
        crate::cdn::decide::decide(&observed, &job, &keys, Some(&keys)).with_context(|| {
            format!(
                "cannot check the routing of distribution {}",
                job.request.distribution
            )
        })?;
    Ok(wiring::report(&observed, &job, &plan))
}

/// `spadeploy routing --rotate-secret`: a new Referer secret, the old one dropped once deployed.
pub(crate) async fn rotate_secret(
    settings: &TargetSettings,
    request: RoutingRequest,
    bucket: String,
    prefix: String,
) -> Result<routing_setup::Rotation> {
    let aws = Aws::load(settings).await?;
    let Cdn { clients, job } = routing_job(&aws, request, bucket, prefix);
    // CloudFront usually deploys a change in minutes; past this, both values stay allowed.
    let wait = std::time::Duration::from_secs(30 * 60);
    let distribution = job.request.distribution.clone();
    let waiting = move |waited: std::time::Duration| {
        eprintln!(
            "waiting for distribution {distribution} to deploy the new secret everywhere ({} s so far; both values are allowed meanwhile)",
            waited.as_secs()
        );
    };
    routing_setup::rotate_secret(&clients, &job, wait, &waiting)
        .await
        .with_context(|| {
            format!(
                "cannot rotate the Referer secret of distribution {}",
                job.request.distribution
            )
        })
}

/// The routing as it is, when the push has a distribution. Read (and then planned) before
/// anything is written, so its errors stop the push early.
pub(super) async fn observe_cdn(cdn: &Option<Cdn>) -> Result<Option<Observed>> {
    match cdn {
        Some(Cdn { clients, job }) => Ok(Some(observe_routing(clients, job).await?)),
        None => Ok(None),
    }
}

pub(super) async fn observe_routing(clients: &Clients, job: &Job) -> Result<Observed> {
    observe(clients, job).await.with_context(|| {
        format!(
            "cannot read the routing of distribution {}",
            job.request.distribution
        )
    })
}

/// The default mode, about to change a distribution a CloudFormation stack owns: the stack's
/// next update reverts the change (and deep links 404 again), so the plan says so first.
pub(super) async fn warn_if_stack_owned(
    cdn: &Option<Cdn>,
    routing: Option<&mut Routing>,
) -> Result<()> {
    let (Some(Cdn { clients, job }), Some(routing)) = (cdn, routing) else {
        return Ok(());
    };
    if job.content_only() || !routing.plan.changes_distribution() {
        return Ok(());
    }
    let dist = &routing.observed.dist;
    let stack = read_stack(clients, &dist.arn)
        .await
        .with_context(|| format!("cannot read the tags of distribution {}", dist.id))?;
    if let Some(stack) = stack {
        routing.plan.warnings.push(format!(
            "distribution {} belongs to CloudFormation stack `{stack}` (its {STACK_TAG} tag):              spadeploy is about to change its wiring, and the stack's next update will revert              that. Declare the wiring in the stack (`spadeploy doctor --iac cloudformation`              prints each piece) and set [cdn] manage = \"content\"",
            dist.id
        ));
    }
    Ok(())
}

/// Makes the routing right when it drifted; the ARN the SPA behaviors now run, if it was set up.
pub(super) async fn set_up_routing(
    cdn: &Option<Cdn>,
    routing: Option<&Routing>,
    job: &PushJob,
) -> Result<Option<String>> {
    let (
        Some(Cdn {
            clients,
            job: routing_job,
        }),
        Some(routing),
    ) = (cdn, routing)
    else {
        return Ok(None);
    };
    if !routing.plan.has_changes() {
        return Ok(None);
    }
    job.output.progress.note(&format!(
        "routing: updating distribution {}",
        routing_job.request.distribution
    ));
    let arn = routing_setup::apply(clients, routing_job, routing)
        .await
        .with_context(|| {
            format!(
                "setting up routing on distribution {} failed; nothing was deleted and the \
                 release was not recorded, so a re-run finishes the job",
                routing_job.request.distribution
            )
        })?;
    Ok(Some(arn))
}

pub(super) async fn invalidate(
    clients: &Clients,
    routing_job: &Job,
    plan: &Plan,
    mut invalidation: InvalidationReport,
) -> Result<InvalidationReport> {
    if invalidation.skipped || invalidation.paths.is_empty() {
        return Ok(invalidation);
    }
    let distribution = &routing_job.request.distribution;
    let reference = invalidation::caller_reference(distribution, &invalidation.paths, plan);
    let id = invalidation::invalidate(&clients.cloudfront, distribution, &invalidation.paths, &reference, &clients.endpoint)
        .await
        .with_context(|| format!("the files are live, but invalidating {} on {distribution} failed; viewers may see cached copies until they expire", invalidation.paths.join(" ")))?;
    invalidation.id = Some(id);
    Ok(invalidation)
}

/// `--wait`: waits for the push's invalidation to complete. Called once the deploy lock is given
/// back, so the next deploy need not wait for CloudFront too.
pub(super) async fn wait_for_invalidation(
    cdn: &Option<Cdn>,
    report: &mut PushReport,
    job: &PushJob,
) -> Result<()> {
    let (
        Some(Cdn {
            clients,
            job: routing_job,
        }),
        Some(invalidation),
    ) = (cdn, report.invalidation.as_mut())
    else {
        return Ok(());
    };
    let Some(id) = invalidation.id.clone() else {
        return Ok(());
    };
    if job.invalidation != Invalidation::CreateAndWait {
        return Ok(());
    }
    job.output.progress.note(&format!(
        "waiting for invalidation {id} ({})",
        invalidation.paths.join(" ")
    ));
    invalidation::wait(
        &clients.cloudfront,
        &routing_job.request.distribution,
        &id,
        WAIT_TIMEOUT,
        &clients.endpoint,
        &|status, elapsed| {
            job.output.progress.note(&format!(
                "  invalidation {id}: {status} after {} s",
                elapsed.as_secs()
            ));
        },
    )
    .await?;
    invalidation.completed = true;
    Ok(())
}
