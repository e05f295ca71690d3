//! The wiring checks, pure: is the distribution wired so that the routing works, whoever wired
//! it? Content mode (`[cdn] manage = "content"`, when Terraform, CloudFormation or CDK owns the
//! distribution) refuses to push until every check passes; `doctor` prints them in either mode.
//! Each problem comes with its fix: `spadeploy push` where spadeploy manages the wiring, else the
//! snippet in the infrastructure-as-code language that does (`fixes.rs`).

use crate::cdn::decide::RoutingPlan;
use crate::cdn::decide::Step;
use crate::cdn::diagnosis::{language, Check, Report, Status, CONTENT_CHECK};
use crate::cdn::distribution;
use crate::cdn::edge;
use crate::cdn::edge::FunctionAction;
use crate::cdn::fixes::{snippet, Wire};
use crate::cdn::observe::Observed;
use crate::cdn::request::Job;
use crate::config::manifest::Iac;
use crate::config::routing::Mode;

/// The runtime spadeploy's CloudFront Function code is written for.
const RUNTIME: &str = "cloudfront-js-2.0";

/// Who fixes a problem: spadeploy on the next push when it manages the wiring (`push`, with
/// its flag), else the infrastructure as code.
struct Fixer {
    iac: Iac,
    content_only: bool,
}

impl Fixer {
    /// The fix of something a push sets up in the default mode.
    fn wiring(&self, wire: &Wire, push: &str) -> Option<String> {
        Some(match self.content_only {
            true => snippet(wire, self.iac),
            false => push.to_string(),
        })
    }

    /// The fix of something spadeploy never changes, whoever manages the wiring.
    fn theirs(&self, wire: &Wire) -> Option<String> {
        Some(snippet(wire, self.iac))
    }
}

fn check(check: &'static str, ok: bool, detail: String, fix: Option<String>) -> Check {
    Check {
        check,
        status: if ok { Status::Ok } else { Status::Problem },
        detail,
        fix: if ok { None } else { fix },
    }
}

/// Every check, for the routing `plan` decided from `observed`.
pub(crate) fn report(observed: &Observed, job: &Job, plan: &RoutingPlan) -> Report {
    let iac = language(job.request.iac, observed.stack.as_deref());
    let fixer = Fixer {
        iac,
        content_only: job.content_only(),
    };
    let mut checks = Vec::new();
    if plan.mode == Mode::Website && job.content_only() {
        checks.push(check(
            "mode",
            false,
            "website mode runs a Lambda@Edge function, and every code change needs a new \
             numbered version in the distribution's association: it cannot be content-only"
                .into(),
            Some(
                "use private mode (a private bucket behind Origin Access Control and a CloudFront \
                 Function, whose code is published without touching the distribution): `spadeploy \
                 export` prints that stack; or set [cdn] manage = \"all\""
                    .into(),
            ),
        ));
    }
    if plan.mode == Mode::Private {
        checks.extend(function_checks(observed, plan, &fixer));
        checks.push(origin_access_control(observed, &fixer));
        checks.push(bucket_policy(observed, job, &fixer));
    } else if !job.content_only() {
        checks.push(check(
            "routing",
            !plan.has_changes(),
            "the website endpoint, its documents, the Lambda@Edge function and its associations"
                .into(),
            Some(
                "`spadeploy push` sets them up (`spadeploy routing` shows what it would change)"
                    .into(),
            ),
        ));
    }
    checks.extend(distribution_checks(observed, &fixer));
    Report {
        distribution: observed.dist.id.clone(),
        mode: plan.mode,
        manage: job.request.manage,
        iac,
        stack: observed.stack.clone(),
        checks,
    }
}

/// The CloudFront Function: declared with the right runtime and store, on every SPA behavior's
/// events, on no other behavior.
fn function_checks(observed: &Observed, plan: &RoutingPlan, fixer: &Fixer) -> Vec<Check> {
    let name = &plan.function.name;
    let arn = edge::function_arn_in(&observed.dist.arn, name);
    let config = &observed.dist.config;
    let mut checks = Vec::new();
    let exists = observed.function.exists;
    checks.push(check(
        "function",
        exists,
        format!("CloudFront Function `{name}`"),
        fixer.wiring(
            &Wire::DeclareFunction { name: name.clone() },
            "`spadeploy push` creates it",
        ),
    ));
    if let Some(declared) = &observed.declared {
        checks.push(check(
            "runtime",
            declared.runtime == RUNTIME,
            format!(
                "`{name}` runs {} (spadeploy's code needs {RUNTIME})",
                declared.runtime
            ),
            fixer.wiring(&Wire::Runtime, "`spadeploy push` sets it"),
        ));
        if plan.writes.store.is_some() {
            checks.push(check(
                "key-value-store",
                !declared.stores.is_empty(),
                format!(
                    "the route table ({} pages) is over the function's 10 KB: `{name}` needs a \
                     KeyValueStore associated",
                    plan.function.pages
                ),
                fixer.wiring(
                    &Wire::AssociateStore,
                    "`spadeploy push` creates and associates it",
                ),
            ));
        }
    }
    let wanted: Vec<String> = edge_code_events(plan.writes.viewer_response);
    for path in &observed.analysis.spa_behaviors {
        let has: Vec<String> = distribution::events_of(config, path, &arn)
            .iter()
            .map(|e| e.as_str().to_string())
            .collect();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|e| !has.contains(e))
            .cloned()
            .collect();
        checks.push(check(
            "spa-association",
            missing.is_empty(),
            format!(
                "SPA behavior `{path}` runs `{name}` on {}",
                if missing.is_empty() {
                    wanted.join(" and ")
                } else {
                    format!(
                        "{} (missing: {})",
                        if has.is_empty() {
                            "nothing".into()
                        } else {
                            has.join(" and ")
                        },
                        missing.join(", ")
                    )
                }
            ),
            fixer.wiring(
                &Wire::Associate {
                    path: path.clone(),
                    events: missing.clone(),
                },
                "`spadeploy push` associates it",
            ),
        ));
    }
    checks.push(code_check(plan));
    for path in &observed.analysis.other_behaviors {
        let runs = !distribution::events_of(config, path, &arn).is_empty();
        checks.push(check(
            "api-untouched",
            !runs,
            format!(
                "behavior `{path}` (another origin) {} `{name}`",
                if runs { "runs" } else { "does not run" }
            ),
            fixer.theirs(&Wire::Dissociate { path: path.clone() }),
        ));
    }
    checks
}

/// The published code and the store's table are this release's (a push's own work in either
/// mode: only a store left half-written by a cut-short push breaks pages).
fn code_check(plan: &RoutingPlan) -> Check {
    let name = &plan.function.name;
    if plan.route_store == Step::Update {
        return check(
            CONTENT_CHECK,
            false,
            format!("the KeyValueStore of `{name}` does not hold the table its live code reads (a push cut short, or keys changed by hand)"),
            Some("`spadeploy push` writes it again".into()),
        );
    }
    let current = plan.function.action == FunctionAction::Unchanged;
    Check {
        check: CONTENT_CHECK,
        status: if current { Status::Ok } else { Status::Warning },
        detail: format!(
            "`{name}` {} the live release's routing",
            if current {
                "serves"
            } else {
                "does not yet serve"
            }
        ),
        fix: (!current).then(|| "`spadeploy push` publishes it".into()),
    }
}

fn edge_code_events(viewer_response: bool) -> Vec<String> {
    crate::cdn::edge_code::events(Mode::Private, viewer_response)
        .iter()
        .map(|e| e.name().to_string())
        .collect()
}

fn origin_access_control(observed: &Observed, fixer: &Fixer) -> Check {
    let origin = &observed.analysis.origin_id;
    let ok = distribution::has_origin_access_control(&observed.dist.config, origin);
    check(
        "origin-access-control",
        ok,
        format!(
            "the SPA origin `{origin}` {} its requests to the private bucket with Origin Access Control",
            if ok { "signs" } else { "does not sign" }
        ),
        fixer.wiring(
            &Wire::OriginAccessControl { origin: origin.clone() },
            "`spadeploy push --fix-origin` attaches one",
        ),
    )
}

fn bucket_policy(observed: &Observed, job: &Job, fixer: &Fixer) -> Check {
    let target = job.policy_target();
    let arn = &observed.dist.arn;
    let grant = target.cloudfront_grant(observed.policy.as_deref(), arn);
    let statements =
        serde_json::to_string_pretty(&target.private_statements(arn)).unwrap_or_default();
    let wire = Wire::BucketPolicy { statements };
    let mut found = check(
        "bucket-policy",
        grant.read,
        format!(
            "bucket `{}`'s policy {} distribution {} read s3://{}/{}",
            job.bucket,
            if grant.read { "lets" } else { "does not let" },
            observed.dist.id,
            job.bucket,
            job.prefix
        ),
        fixer.wiring(&wire, "`spadeploy push` writes it"),
    );
    if grant.read && !grant.list {
        found.status = Status::Warning;
        found
            .detail
            .push_str(", but not list it: a missing file answers 403 instead of 404");
        found.fix = fixer.wiring(&wire, "`spadeploy push` writes it");
    }
    found
}

/// What spadeploy never changes in either mode: behavior order, error responses, Host.
fn distribution_checks(observed: &Observed, fixer: &Fixer) -> Vec<Check> {
    let config = &observed.dist.config;
    let all = distribution::behaviors(config);
    let mut checks = Vec::new();
    let api = all.iter().position(|(path, _)| path.starts_with("/api"));
    let catch_all = all.iter().position(|(path, _)| path == "/*" || path == "*");
    match (api, catch_all) {
        (None, _) => checks.push(Check {
            check: "api-order",
            status: Status::Warning,
            detail: "no /api/* behavior: API requests on this domain would reach the bucket".into(),
            fix: None,
        }),
        (Some(api), catch_all) => {
            let shadowed = catch_all.filter(|c| *c < api);
            checks.push(check(
                "api-order",
                shadowed.is_none(),
                format!(
                    "`{}` is evaluated before any catch-all behavior",
                    all[api].0
                ),
                shadowed.and_then(|c| {
                    fixer.theirs(&Wire::ApiOrder {
                        api: all[api].0.clone(),
                        catch_all: all[c].0.clone(),
                    })
                }),
            ));
        }
    }
    let rewritten: Vec<i32> = config
        .custom_error_responses
        .as_ref()
        .and_then(|c| c.items.as_ref())
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(r.error_code, 403 | 404)
                && (r
                    .response_page_path
                    .as_deref()
                    .is_some_and(|p| !p.is_empty())
                    || r.response_code.as_deref().is_some_and(|c| !c.is_empty()))
        })
        .map(|r| r.error_code)
        .collect();
    checks.push(check(
        "error-responses",
        rewritten.is_empty(),
        match rewritten.as_slice() {
            [] => "no distribution-wide custom error response rewrites 403 or 404".into(),
            codes => format!(
                "distribution-wide custom error responses rewrite {}: API errors too",
                codes
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        },
        rewritten
            .first()
            .and_then(|&code| fixer.theirs(&Wire::ErrorResponse { code })),
    ));
    for path in &observed.analysis.spa_behaviors {
        let forwards = distribution::forwards_host(config, path);
        checks.push(check(
            "host-header",
            !forwards,
            format!(
                "SPA behavior `{path}` {} the viewer's Host header to S3",
                if forwards {
                    "forwards"
                } else {
                    "does not forward"
                }
            ),
            fixer.theirs(&Wire::HostHeader { path: path.clone() }),
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudfront::types::{
        CustomErrorResponse, CustomErrorResponses, DistributionConfig,
    };

    use super::*;
    use crate::cdn::decide::decide;
    use crate::cdn::distribution::{Distribution, Edge};
    use crate::cdn::edge::{Declared, Published};
    use crate::cdn::fixtures::config_with_spa_on;
    use crate::cdn::request::RoutingRequest;
    use crate::cdn::website::PolicyTarget;
    use crate::config::manifest::Manage;
    use crate::config::routing::RouteRules;

    const ARN: &str = "arn:aws:cloudfront::1:distribution/E1";
    const FUNCTION: &str = "arn:aws:cloudfront::1:function/spadeploy-my-site";
    const STORE: &str = "arn:aws:cloudfront::1:key-value-store/0123";
    const TARGET: PolicyTarget<'static> = PolicyTarget {
        bucket: "my-site",
        prefix: "",
    };

    fn job(manage: Manage) -> Job {
        Job {
            request: RoutingRequest {
                distribution: "E1".into(),
                mode: Some(Mode::Private),
                rules: RouteRules::default(),
                fix_origin: false,
                allow_public_read: false,
                bucket_config: crate::cdn::iam::BucketConfig::Write,
                verify_store: false,
                manage,
                iac: None,
                check_wiring: true,
                previews: None,
            },
            bucket: "my-site".into(),
            prefix: String::new(),
            region: "us-east-1".into(),
        }
    }

    fn with_config(mut observed: Observed, config: DistributionConfig) -> Observed {
        observed.analysis = distribution::analyze(&config, "my-site", "E1").unwrap();
        observed.dist.config = config;
        observed
    }

    /// A distribution wired as the export declares it: OAC, the function on both viewer events
    /// of the SPA behavior, its store associated, the bucket policy.
    fn wired() -> Observed {
        let config = config_with_spa_on("my-site.s3.us-east-1.amazonaws.com");
        let config = distribution::fix_origin(
            &config,
            "spa",
            Mode::Private,
            "my-site",
            "us-east-1",
            Some("OAC1"),
        )
        .unwrap();
        let edge = Edge::new(Mode::Private, FUNCTION.into(), true);
        let config =
            distribution::associate(&config, &["*".into()], &edge, "spadeploy-my-site").unwrap();
        let policy = serde_json::json!({ "Statement": TARGET.private_statements(ARN) });
        let observed = Observed {
            dist: Distribution {
                id: "E1".into(),
                arn: ARN.into(),
                domain: "d1.cloudfront.net".into(),
                etag: "E".into(),
                config: config.clone(),
                deployed: true,
            },
            analysis: distribution::analyze(&config, "my-site", "E1").unwrap(),
            function: Published {
                exists: true,
                ..Published::default()
            },
            store: Default::default(),
            website: None,
            policy: Some(policy.to_string()),
            access: Default::default(),
            fresh_secret: "s".into(),
            declared: Some(Declared {
                runtime: RUNTIME.into(),
                comment: "theirs".into(),
                stores: vec![STORE.into()],
            }),
            stack: None,
        };
        with_config(observed, config)
    }

    /// Enough pages that the route table outgrows the function: it needs the store.
    fn large_release() -> Vec<String> {
        (0..1500)
            .map(|i| format!("docs/page-{i}/index.html"))
            .collect()
    }

    fn report_for(observed: &Observed, manage: Manage, keys: &[String]) -> Report {
        let job = job(manage);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let plan = decide(observed, &job, &keys, None).unwrap();
        report(observed, &job, &plan)
    }

    fn failing(report: &Report) -> Vec<&'static str> {
        report.problems().map(|c| c.check).collect()
    }

    #[test]
    fn a_wired_distribution_passes_every_check() {
        let keys: Vec<String> = vec!["index.html".into(), "404.html".into()];
        let report = report_for(&wired(), Manage::Content, &keys);
        assert_eq!(failing(&report), Vec::<&str>::new(), "{report:#?}");
        let large = report_for(&wired(), Manage::Content, &large_release());
        assert!(large.checks.iter().any(|c| c.check == "key-value-store"));
        assert_eq!(failing(&large), Vec::<&str>::new(), "{large:#?}");
    }

    /// Each wiring element broken in turn: the check that names it fails, and only that one,
    /// with a fix in the owner's language (Terraform unless a stack tag or --iac says otherwise).
    #[test]
    fn each_broken_element_is_named_with_its_fix() {
        type Break = fn(Observed) -> Observed;
        let cases: Vec<(&str, Break, &str)> = vec![
            (
                "function",
                |mut o| {
                    o.function = Published::default();
                    o
                },
                "resource \"aws_cloudfront_function\"",
            ),
            (
                "runtime",
                |mut o| {
                    if let Some(d) = o.declared.as_mut() {
                        d.runtime = "cloudfront-js-1.0".into();
                    }
                    o
                },
                "cloudfront-js-2.0",
            ),
            (
                "key-value-store",
                |mut o| {
                    if let Some(d) = o.declared.as_mut() {
                        d.stores.clear();
                    }
                    o
                },
                "key_value_store_associations",
            ),
            (
                "spa-association",
                |o| {
                    let config = o.dist.config.clone();
                    let edge = Edge::new(Mode::Private, FUNCTION.into(), false);
                    let only_request =
                        distribution::associate(&config, &["*".into()], &edge, "spadeploy-my-site")
                            .unwrap();
                    with_config(o, only_request)
                },
                "event_type   = \"viewer-response\"",
            ),
            (
                "api-untouched",
                |o| {
                    let config = o.dist.config.clone();
                    let edge = Edge::new(Mode::Private, FUNCTION.into(), true);
                    let on_api = distribution::associate(
                        &config,
                        &["*".into(), "/api/*".into()],
                        &edge,
                        "spadeploy-my-site",
                    )
                    .unwrap();
                    with_config(o, on_api)
                },
                "path_pattern = \"/api/*\"",
            ),
            (
                "origin-access-control",
                |o| {
                    let mut config = o.dist.config.clone();
                    if let Some(origins) = config.origins.as_mut() {
                        origins.items[0].origin_access_control_id = Some(String::new());
                    }
                    with_config(o, config)
                },
                "origin_access_control_id",
            ),
            (
                "bucket-policy",
                |mut o| {
                    o.policy = None;
                    o
                },
                "aws_s3_bucket_policy",
            ),
            (
                "api-order",
                |o| {
                    let mut config = o.dist.config.clone();
                    let mut catch_all = config.cache_behaviors.as_ref().unwrap().items()[0].clone();
                    catch_all.path_pattern = "/*".into();
                    if let Some(items) = config
                        .cache_behaviors
                        .as_mut()
                        .and_then(|b| b.items.as_mut())
                    {
                        items.insert(0, catch_all);
                    }
                    if let Some(b) = config.cache_behaviors.as_mut() {
                        b.quantity = 2;
                    }
                    with_config(o, config)
                },
                "move the one with path_pattern = \"/api/*\"",
            ),
            (
                "error-responses",
                |o| {
                    let mut config = o.dist.config.clone();
                    let response = CustomErrorResponse::builder()
                        .error_code(404)
                        .response_code("200")
                        .response_page_path("/index.html")
                        .build()
                        .unwrap();
                    config.custom_error_responses = Some(
                        CustomErrorResponses::builder()
                            .quantity(1)
                            .items(response)
                            .build()
                            .unwrap(),
                    );
                    with_config(o, config)
                },
                "error_code = 404",
            ),
            (
                "host-header",
                |o| {
                    let mut config = o.dist.config.clone();
                    if let Some(d) = config.default_cache_behavior.as_mut() {
                        d.origin_request_policy_id =
                            Some("216adef6-5c7f-47e4-b989-5492eafa07d3".into());
                    }
                    with_config(o, config)
                },
                "Managed-CORS-S3Origin",
            ),
        ];
        let keys: Vec<String> = vec!["index.html".into(), "404.html".into()];
        for (name, break_it, fix) in cases {
            let keys = if name == "key-value-store" {
                large_release()
            } else {
                keys.clone()
            };
            let report = report_for(&break_it(wired()), Manage::Content, &keys);
            assert_eq!(failing(&report), vec![name], "{name}: {report:#?}");
            let found = report.problems().next().unwrap();
            let text = found.fix.as_deref().unwrap_or_default();
            assert!(text.contains(fix), "{name}: the fix {text:?} lacks {fix:?}");
        }
    }

    #[test]
    fn fixes_follow_the_owner_and_the_management_mode() {
        let mut broken = wired();
        broken.policy = None;
        broken.stack = Some("site".into());
        let keys: Vec<String> = vec!["index.html".into()];
        let report = report_for(&broken, Manage::Content, &keys);
        assert_eq!(
            report.iac,
            Iac::Cloudformation,
            "a stack's tag picks CloudFormation"
        );
        assert!(
            report.to_string().contains("AWS::S3::BucketPolicy"),
            "{report}"
        );
        // spadeploy's own wiring: the push is the fix; what it never changes keeps its snippet.
        let report = report_for(&broken, Manage::All, &keys);
        let fix = report
            .problems()
            .next()
            .and_then(|c| c.fix.clone())
            .unwrap();
        assert!(fix.starts_with("`spadeploy push`"), "{fix}");
        let listless = {
            let mut o = wired();
            let statements: Vec<_> = TARGET
                .private_statements(ARN)
                .into_iter()
                .filter(|s| s["Action"] != "s3:ListBucket")
                .collect();
            o.policy = Some(serde_json::json!({ "Statement": statements }).to_string());
            o
        };
        let report = report_for(&listless, Manage::Content, &keys);
        let policy = report
            .checks
            .iter()
            .find(|c| c.check == "bucket-policy")
            .unwrap();
        assert_eq!(policy.status, Status::Warning, "{policy:?}");
    }

    #[test]
    fn website_mode_cannot_be_content_only() {
        let observed = with_config(
            wired(),
            config_with_spa_on("my-site.s3-website-us-east-1.amazonaws.com"),
        );
        let mut job = job(Manage::Content);
        job.request.mode = None;
        let plan = decide(&observed, &job, &["index.html"], None).unwrap();
        let report = report(&observed, &job, &plan);
        assert_eq!(failing(&report), vec!["mode"], "{report:#?}");
    }
}
