//! The CloudFront distribution in front of the bucket: which cache behaviors serve the SPA,
//! what is misconfigured, and patches of the fetched config (never a synthesized one) that attach
//! the edge function to the SPA behaviors only. Behaviors with other origins (`/api/*`) are
//! never modified, so API statuses pass through untouched.

use aws_sdk_cloudfront::types::{
    CustomHeaders, CustomOriginConfig, DistributionConfig, EventType, FunctionAssociation,
    FunctionAssociations, LambdaFunctionAssociation, LambdaFunctionAssociations, Origin,
    OriginCustomHeader, OriginProtocolPolicy, S3OriginConfig,
};
use serde::Serialize;

use crate::cdn::edge_code;
use crate::config::routing::Mode;

/// A distribution as read with GetDistribution: its config and the ETag to update it with.
#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    pub id: String,
    pub arn: String,
    pub domain: String,
    pub etag: String,
    pub config: DistributionConfig,
    /// Every edge location runs the current config (status `Deployed`).
    pub deployed: bool,
}

impl Distribution {
    /// The host viewers use: the first alternate domain name, else the CloudFront domain.
    pub(crate) fn site_host(&self) -> String {
        self.config
            .aliases
            .as_ref()
            .and_then(|a| a.items.as_ref())
            .and_then(|items| items.first().cloned())
            .unwrap_or_else(|| self.domain.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum OriginKind {
    /// `BUCKET.s3-website-REGION.amazonaws.com` / `BUCKET.s3-website.REGION.amazonaws.com`
    WebsiteEndpoint,
    /// `BUCKET.s3.REGION.amazonaws.com` and the legacy forms.
    RestEndpoint,
}

impl OriginKind {
    pub(crate) fn mode(self) -> Mode {
        match self {
            OriginKind::WebsiteEndpoint => Mode::Website,
            OriginKind::RestEndpoint => Mode::Private,
        }
    }
}

/// How an origin domain reaches `bucket`, if it does.
pub(crate) fn bucket_origin_kind(domain: &str, bucket: &str) -> Option<OriginKind> {
    let rest = domain.strip_prefix(bucket)?.strip_prefix('.')?;
    if rest.starts_with("s3-website-") || rest.starts_with("s3-website.") {
        Some(OriginKind::WebsiteEndpoint)
    } else if rest.starts_with("s3.") || rest.starts_with("s3-") {
        Some(OriginKind::RestEndpoint)
    } else {
        None
    }
}

/// Regions whose website endpoint uses a dash (`s3-website-REGION`); later ones use a dot.
const DASH_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
    "us-gov-west-1",
];

pub(crate) fn website_endpoint(bucket: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let sep = if DASH_REGIONS.contains(&region) {
        '-'
    } else {
        '.'
    };
    format!("{bucket}.s3-website{sep}{region}.{suffix}")
}

pub(crate) fn rest_endpoint(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

/// What the distribution looks like from the SPA's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Analysis {
    /// Path patterns of the SPA behaviors (`*` is the default behavior).
    pub spa_behaviors: Vec<String>,
    /// Path patterns of every other behavior, never touched.
    pub other_behaviors: Vec<String>,
    pub origin_id: String,
    pub origin_kind: OriginKind,
    pub warnings: Vec<String>,
}

/// (path pattern, target origin id) of every behavior, the default (`*`) last as CloudFront
/// evaluates them.
pub(crate) fn behaviors(config: &DistributionConfig) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = config
        .cache_behaviors
        .as_ref()
        .and_then(|b| b.items.as_ref())
        .map(|items| {
            items
                .iter()
                .map(|b| (b.path_pattern.clone(), b.target_origin_id.clone()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(default) = &config.default_cache_behavior {
        list.push(("*".into(), default.target_origin_id.clone()));
    }
    list
}

/// A distribution that spadeploy cannot wire as asked, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WiringError {
    /// No behavior serves the bucket.
    #[error("{0}")]
    NoBucketOrigin(String),
    /// Another function holds an event spadeploy's function needs.
    #[error("{0}")]
    SlotTaken(String),
    #[error("origin {0} is gone from the distribution")]
    OriginGone(String),
    /// The SDK refused a patched config (a required field left out): spadeploy's bug.
    #[error("the patched distribution config is incomplete")]
    Build(#[from] aws_smithy_types::error::operation::BuildError),
}

pub(crate) fn analyze(
    config: &DistributionConfig,
    bucket: &str,
    id: &str,
) -> Result<Analysis, WiringError> {
    let origins = config
        .origins
        .as_ref()
        .map(|o| o.items.as_slice())
        .unwrap_or_default();
    let bucket_origins: Vec<(&str, OriginKind)> = origins
        .iter()
        .filter_map(|o| bucket_origin_kind(&o.domain_name, bucket).map(|k| (o.id.as_str(), k)))
        .collect();
    let all = behaviors(config);
    let (spa, other): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .partition(|(_, origin)| bucket_origins.iter().any(|(id, _)| id == origin));
    let Some(origin_id) = spa.last().map(|(_, origin)| origin.clone()) else {
        let listed: Vec<String> = origins
            .iter()
            .map(|o| format!("{} ({})", o.id, o.domain_name))
            .collect();
        return Err(WiringError::NoBucketOrigin(format!(
            "no cache behavior of distribution {id} points at bucket `{bucket}` (its origins: {}); \
             add an origin for the bucket and point the default behavior at it, or check --distribution",
            listed.join(", ")
        )));
    };
    let origin_kind = bucket_origins
        .iter()
        .find(|(id, _)| *id == origin_id)
        .map(|(_, kind)| *kind)
        .unwrap_or(OriginKind::RestEndpoint);

    let mut warnings = Vec::new();
    let api_at = all.iter().position(|(path, _)| path.starts_with("/api"));
    let catch_all_at = all.iter().position(|(path, _)| path == "/*" || path == "*");
    match (api_at, catch_all_at) {
        (None, _) => warnings.push(
            "no /api/* cache behavior: if the app calls an API on this domain, those requests \
             reach the bucket; add a behavior for the API origin before the default"
                .to_string(),
        ),
        (Some(api), Some(catch_all)) if catch_all < api => warnings.push(format!(
            "behavior `{}` comes before `{}`: CloudFront uses the first match, so API requests never \
             reach the API; move the API behavior up",
            all[catch_all].0, all[api].0
        )),
        _ => {}
    }
    for response in config
        .custom_error_responses
        .as_ref()
        .and_then(|c| c.items.as_ref())
        .into_iter()
        .flatten()
    {
        if response
            .response_page_path
            .as_deref()
            .is_some_and(|p| !p.is_empty())
        {
            warnings.push(format!(
                "a distribution-wide custom error response turns every {} into {} {}, API errors \
                 included; remove it: the edge function already serves client routes",
                response.error_code,
                response
                    .response_code
                    .as_deref()
                    .unwrap_or("the same status with"),
                response.response_page_path.as_deref().unwrap_or_default()
            ));
        }
    }
    Ok(Analysis {
        spa_behaviors: spa.into_iter().map(|(path, _)| path).collect(),
        other_behaviors: other.into_iter().map(|(path, _)| path).collect(),
        origin_id,
        origin_kind,
        warnings,
    })
}

/// The edge function to attach: a Lambda@Edge version ARN (origin-request and origin-response),
/// or a CloudFront Function ARN (viewer-request, and viewer-response when it has work there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Edge {
    Lambda { arn: String },
    Function { arn: String, viewer_response: bool },
}

impl Edge {
    pub(crate) fn new(mode: Mode, arn: String, viewer_response: bool) -> Edge {
        match mode {
            Mode::Website => Edge::Lambda { arn },
            Mode::Private => Edge::Function {
                arn,
                viewer_response,
            },
        }
    }

    fn arn(&self) -> &str {
        match self {
            Edge::Lambda { arn } | Edge::Function { arn, .. } => arn,
        }
    }

    fn events(&self) -> Vec<EventType> {
        let events = match self {
            Edge::Lambda { .. } => edge_code::events(Mode::Website, false),
            Edge::Function {
                viewer_response, ..
            } => edge_code::events(Mode::Private, *viewer_response),
        };
        events.iter().map(|e| EventType::from(e.name())).collect()
    }
}

/// Does `arn` name spadeploy's function `name` (any version)?
fn is_ours(arn: &str, name: &str) -> bool {
    arn.ends_with(&format!("function/{name}"))
        || arn.contains(&format!(":function:{name}:"))
        || arn.ends_with(&format!(":function:{name}"))
}

/// The config with `edge` on each SPA behavior, every other association those behaviors have
/// kept, spadeploy's function of the other kind removed, and no other behavior touched.
pub(crate) fn associate(
    config: &DistributionConfig,
    spa_behaviors: &[String],
    edge: &Edge,
    name: &str,
) -> Result<DistributionConfig, WiringError> {
    let mut patched = config.clone();
    let patch = |path: &str,
                 lambdas: &mut Option<LambdaFunctionAssociations>,
                 functions: &mut Option<FunctionAssociations>|
     -> Result<(), WiringError> {
        let mut lambda_items: Vec<LambdaFunctionAssociation> = lambdas
            .as_ref()
            .map(|l| l.items().to_vec())
            .unwrap_or_default();
        let mut function_items: Vec<FunctionAssociation> = functions
            .as_ref()
            .map(|f| f.items().to_vec())
            .unwrap_or_default();
        let events = edge.events();
        let taken = |event: &EventType, arn: &str| events.contains(event) && !is_ours(arn, name);
        let slot_taken_by = match edge {
            Edge::Lambda { .. } => lambda_items
                .iter()
                .find(|a| taken(&a.event_type, &a.lambda_function_arn))
                .map(|a| (a.lambda_function_arn.clone(), a.event_type.clone())),
            Edge::Function { .. } => function_items
                .iter()
                .find(|a| taken(&a.event_type, &a.function_arn))
                .map(|a| (a.function_arn.clone(), a.event_type.clone())),
        };
        if let Some((other, event)) = slot_taken_by {
            return Err(WiringError::SlotTaken(format!(
                "behavior `{path}` already runs {other} on {}, an event spadeploy's function needs; \
                 remove that association, or set [routing] function_name to that function's name to let spadeploy manage it",
                event.as_str()
            )));
        }
        lambda_items.retain(|a| !is_ours(&a.lambda_function_arn, name));
        function_items.retain(|a| !is_ours(&a.function_arn, name));
        for event in events {
            match edge {
                Edge::Lambda { arn } => lambda_items.push(
                    LambdaFunctionAssociation::builder()
                        .lambda_function_arn(arn)
                        .event_type(event.clone())
                        .include_body(false)
                        .build()?,
                ),
                Edge::Function { arn, .. } => function_items.push(
                    FunctionAssociation::builder()
                        .function_arn(arn)
                        .event_type(event.clone())
                        .build()?,
                ),
            }
        }
        *lambdas = Some(
            LambdaFunctionAssociations::builder()
                .quantity(lambda_items.len() as i32)
                .set_items((!lambda_items.is_empty()).then_some(lambda_items))
                .build()?,
        );
        *functions = Some(
            FunctionAssociations::builder()
                .quantity(function_items.len() as i32)
                .set_items((!function_items.is_empty()).then_some(function_items))
                .build()?,
        );
        Ok(())
    };
    if spa_behaviors.iter().any(|p| p == "*") {
        if let Some(default) = patched.default_cache_behavior.as_mut() {
            patch(
                "*",
                &mut default.lambda_function_associations,
                &mut default.function_associations,
            )?;
        }
    }
    if let Some(items) = patched
        .cache_behaviors
        .as_mut()
        .and_then(|b| b.items.as_mut())
    {
        for behavior in items
            .iter_mut()
            .filter(|b| spa_behaviors.contains(&b.path_pattern))
        {
            let path = behavior.path_pattern.clone();
            patch(
                &path,
                &mut behavior.lambda_function_associations,
                &mut behavior.function_associations,
            )?;
        }
    }
    Ok(patched)
}

/// The edge functions a behavior runs: Lambda@Edge and CloudFront Function associations.
type Associations<'a> = (
    &'a Option<LambdaFunctionAssociations>,
    &'a Option<FunctionAssociations>,
);

/// The associations of the behavior at `path` (`*` for the default), if there is one.
fn associations<'a>(config: &'a DistributionConfig, path: &str) -> Option<Associations<'a>> {
    if path == "*" {
        let d = config.default_cache_behavior.as_ref()?;
        return Some((&d.lambda_function_associations, &d.function_associations));
    }
    let b = config
        .cache_behaviors
        .as_ref()
        .and_then(|b| b.items.as_ref())
        .and_then(|items| items.iter().find(|b| b.path_pattern == path))?;
    Some((&b.lambda_function_associations, &b.function_associations))
}

/// The events on which the behavior at `path` runs the function (or Lambda version) `arn`.
pub(crate) fn events_of(config: &DistributionConfig, path: &str, arn: &str) -> Vec<EventType> {
    let Some((lambdas, functions)) = associations(config, path) else {
        return Vec::new();
    };
    let mut events: Vec<EventType> = lambdas
        .iter()
        .flat_map(LambdaFunctionAssociations::items)
        .filter(|a| a.lambda_function_arn == arn)
        .map(|a| a.event_type.clone())
        .chain(
            functions
                .iter()
                .flat_map(FunctionAssociations::items)
                .filter(|a| a.function_arn == arn)
                .map(|a| a.event_type.clone()),
        )
        .collect();
    events.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    events
}

/// Does the behavior at `path` (`*` for the default) run `edge` on exactly its events?
pub(crate) fn carries(config: &DistributionConfig, path: &str, edge: &Edge) -> bool {
    if associations(config, path).is_none() {
        return false;
    }
    let mut wanted = edge.events();
    wanted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    events_of(config, path, edge.arn()) == wanted
}

/// CloudFront's managed origin request policy that forwards every viewer header, Host included.
const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

/// Whether the behavior at `path` forwards the viewer's Host header to its origin: S3 then
/// looks for a bucket named after the site's domain and answers every request with an error.
// ForwardedValues is deprecated, but distributions made before cache policies still carry it.
#[allow(deprecated)]
pub(crate) fn forwards_host(config: &DistributionConfig, path: &str) -> bool {
    let (policy, forwarded) = if path == "*" {
        let Some(d) = &config.default_cache_behavior else {
            return false;
        };
        (d.origin_request_policy_id.as_deref(), &d.forwarded_values)
    } else {
        let Some(b) = config
            .cache_behaviors
            .as_ref()
            .and_then(|b| b.items.as_ref())
            .and_then(|items| items.iter().find(|b| b.path_pattern == path))
        else {
            return false;
        };
        (b.origin_request_policy_id.as_deref(), &b.forwarded_values)
    };
    let legacy = forwarded
        .as_ref()
        .and_then(|f| f.headers.as_ref())
        .is_some_and(|h| {
            h.items()
                .iter()
                .any(|name| name == "*" || name.eq_ignore_ascii_case("host"))
        });
    policy == Some(ALL_VIEWER) || legacy
}

fn origin_mut<'a>(
    config: &'a mut DistributionConfig,
    origin_id: &str,
) -> Result<&'a mut Origin, WiringError> {
    config
        .origins
        .as_mut()
        .and_then(|o| o.items.iter_mut().find(|o| o.id == origin_id))
        .ok_or_else(|| WiringError::OriginGone(origin_id.to_string()))
}

/// The SPA origin switched to what `mode` needs: the website endpoint (custom, http-only) or
/// the REST endpoint with Origin Access Control.
pub(crate) fn fix_origin(
    config: &DistributionConfig,
    origin_id: &str,
    mode: Mode,
    bucket: &str,
    region: &str,
    oac_id: Option<&str>,
) -> Result<DistributionConfig, WiringError> {
    let mut patched = config.clone();
    let origin = origin_mut(&mut patched, origin_id)?;
    match mode {
        Mode::Website => {
            origin.domain_name = website_endpoint(bucket, region);
            origin.s3_origin_config = None;
            origin.origin_access_control_id = Some(String::new());
            origin.custom_origin_config = Some(
                CustomOriginConfig::builder()
                    .http_port(80)
                    .https_port(443)
                    .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                    .build()?,
            );
        }
        Mode::Private => {
            origin.domain_name = rest_endpoint(bucket, region);
            origin.custom_origin_config = None;
            origin.s3_origin_config =
                Some(S3OriginConfig::builder().origin_access_identity("").build());
            origin.origin_access_control_id = oac_id.map(str::to_string);
        }
    }
    Ok(patched)
}

/// Whether the SPA origin signs its requests with Origin Access Control.
pub(crate) fn has_origin_access_control(config: &DistributionConfig, origin_id: &str) -> bool {
    origin(config, origin_id)
        .and_then(|o| o.origin_access_control_id.as_deref())
        .is_some_and(|id| !id.is_empty())
}

/// The SPA origin's path (`/app` when the site lives under a prefix of the bucket).
pub(crate) fn origin_path(config: &DistributionConfig, origin_id: &str) -> String {
    origin(config, origin_id)
        .and_then(|o| o.origin_path.clone())
        .unwrap_or_default()
}

fn origin<'a>(config: &'a DistributionConfig, origin_id: &str) -> Option<&'a Origin> {
    config
        .origins
        .as_ref()?
        .items
        .iter()
        .find(|o| o.id == origin_id)
}

/// The secret `Referer` header the SPA origin sends, if it has one.
pub(crate) fn referer_secret(config: &DistributionConfig, origin_id: &str) -> Option<String> {
    origin(config, origin_id)?
        .custom_headers
        .as_ref()?
        .items()
        .iter()
        .find(|h| h.header_name.eq_ignore_ascii_case("referer"))
        .map(|h| h.header_value.clone())
}

/// The config with the SPA origin sending `Referer: secret`, other custom headers kept.
pub(crate) fn with_referer(
    config: &DistributionConfig,
    origin_id: &str,
    secret: &str,
) -> Result<DistributionConfig, WiringError> {
    let mut patched = config.clone();
    let origin = origin_mut(&mut patched, origin_id)?;
    let mut headers: Vec<OriginCustomHeader> = origin
        .custom_headers
        .as_ref()
        .map(|h| h.items().to_vec())
        .unwrap_or_default();
    headers.retain(|h| !h.header_name.eq_ignore_ascii_case("referer"));
    headers.push(
        OriginCustomHeader::builder()
            .header_name("Referer")
            .header_value(secret)
            .build()?,
    );
    origin.custom_headers = Some(
        CustomHeaders::builder()
            .quantity(headers.len() as i32)
            .set_items(Some(headers))
            .build()?,
    );
    Ok(patched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudfront::types::{CustomErrorResponse, CustomErrorResponses};

    use crate::cdn::fixtures::{config_with_spa_on, lambda};

    /// SPA on the website endpoint as default, `/api/*` to an API with its own Lambda.
    fn config() -> DistributionConfig {
        config_with_spa_on("my-site.s3-website-us-east-1.amazonaws.com")
    }

    #[test]
    fn recognises_bucket_endpoints() {
        use OriginKind::*;
        assert_eq!(
            bucket_origin_kind("b.s3-website-us-east-1.amazonaws.com", "b"),
            Some(WebsiteEndpoint)
        );
        assert_eq!(
            bucket_origin_kind("b.s3-website.eu-central-1.amazonaws.com", "b"),
            Some(WebsiteEndpoint)
        );
        assert_eq!(
            bucket_origin_kind("b.s3.eu-west-1.amazonaws.com", "b"),
            Some(RestEndpoint)
        );
        assert_eq!(
            bucket_origin_kind("b.s3.amazonaws.com", "b"),
            Some(RestEndpoint)
        );
        assert_eq!(bucket_origin_kind("bb.s3.amazonaws.com", "b"), None);
        assert_eq!(bucket_origin_kind("api.example.com", "b"), None);
        assert_eq!(
            website_endpoint("b", "us-east-1"),
            "b.s3-website-us-east-1.amazonaws.com"
        );
        assert_eq!(
            website_endpoint("b", "eu-central-1"),
            "b.s3-website.eu-central-1.amazonaws.com"
        );
        assert_eq!(
            website_endpoint("b", "cn-north-1"),
            "b.s3-website.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn analysis_finds_spa_behaviors_and_misconfigurations() {
        let a = analyze(&config(), "my-site", "E1").unwrap();
        assert_eq!(a.spa_behaviors, ["*"]);
        assert_eq!(a.other_behaviors, ["/api/*"]);
        assert_eq!(a.origin_kind, OriginKind::WebsiteEndpoint);
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);

        let mut bad = config();
        bad.custom_error_responses = Some(
            CustomErrorResponses::builder()
                .quantity(1)
                .items(
                    CustomErrorResponse::builder()
                        .error_code(404)
                        .response_page_path("/index.html")
                        .response_code("200")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
        bad.cache_behaviors
            .as_mut()
            .unwrap()
            .items
            .as_mut()
            .unwrap()[0]
            .path_pattern = "/v1/*".into();
        let warnings = analyze(&bad, "my-site", "E1").unwrap().warnings;
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("no /api/* cache behavior")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("custom error response")),
            "{warnings:?}"
        );

        let err = analyze(&config(), "other-bucket", "E1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no cache behavior of distribution E1 points at bucket `other-bucket`"),
            "{err}"
        );
    }

    #[test]
    fn association_touches_spa_behaviors_only_and_keeps_other_associations() {
        let arn = "arn:aws:lambda:us-east-1:1:function:spadeploy-my-site:7";
        let edge = Edge::Lambda { arn: arn.into() };
        let patched = associate(&config(), &["*".into()], &edge, "spadeploy-my-site").unwrap();
        let default = patched.default_cache_behavior.as_ref().unwrap();
        let arns: Vec<_> = default
            .lambda_function_associations
            .as_ref()
            .unwrap()
            .items()
            .iter()
            .map(|a| (a.lambda_function_arn.as_str(), a.event_type.as_str()))
            .collect();
        assert_eq!(
            arns,
            [
                (
                    "arn:aws:lambda:us-east-1:1:function:headers:1",
                    "viewer-request"
                ),
                (arn, "origin-request"),
                (arn, "origin-response")
            ]
        );
        assert_eq!(
            patched.cache_behaviors,
            config().cache_behaviors,
            "the /api/* behavior is byte-for-byte untouched"
        );
        assert!(carries(&patched, "*", &edge));
        assert!(!carries(&patched, "/api/*", &edge));
        // Idempotent, and a new version replaces the old one.
        assert_eq!(
            associate(&patched, &["*".into()], &edge, "spadeploy-my-site").unwrap(),
            patched
        );
        let v8 = Edge::Lambda {
            arn: arn.replace(":7", ":8"),
        };
        let again = associate(&patched, &["*".into()], &v8, "spadeploy-my-site").unwrap();
        assert_eq!(
            again
                .default_cache_behavior
                .unwrap()
                .lambda_function_associations
                .unwrap()
                .quantity,
            3
        );
    }

    #[test]
    fn a_foreign_function_in_the_slot_is_an_error() {
        let mut cfg = config();
        cfg.default_cache_behavior
            .as_mut()
            .unwrap()
            .lambda_function_associations = Some(lambda(
            "arn:aws:lambda:us-east-1:1:function:theirs:2",
            EventType::OriginResponse,
        ));
        let edge = Edge::Lambda {
            arn: "arn:aws:lambda:us-east-1:1:function:spadeploy-x:1".into(),
        };
        let err = associate(&cfg, &["*".into()], &edge, "spadeploy-x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "already runs arn:aws:lambda:us-east-1:1:function:theirs:2 on origin-response"
            ),
            "{err}"
        );
    }

    #[test]
    fn switching_modes_removes_spadeploys_other_function() {
        let website = associate(
            &config(),
            &["*".into()],
            &Edge::Lambda {
                arn: "arn:aws:lambda:us-east-1:1:function:spa:1".into(),
            },
            "spa",
        )
        .unwrap();
        let private = associate(
            &website,
            &["*".into()],
            &Edge::Function {
                arn: "arn:aws:cloudfront::1:function/spa".into(),
                viewer_response: true,
            },
            "spa",
        )
        .unwrap();
        let request_only = Edge::Function {
            arn: "arn:aws:cloudfront::1:function/spa".into(),
            viewer_response: false,
        };
        assert!(
            !carries(&private, "*", &request_only),
            "an extra event is drift"
        );
        let default = private.default_cache_behavior.unwrap();
        assert_eq!(
            default.lambda_function_associations.unwrap().quantity,
            1,
            "only the foreign one left"
        );
        assert_eq!(default.function_associations.unwrap().quantity, 2);
    }

    #[test]
    fn origin_fixes_and_referer() {
        let fixed = fix_origin(
            &config(),
            "spa",
            Mode::Private,
            "my-site",
            "eu-west-1",
            Some("OAC1"),
        )
        .unwrap();
        let origin = &fixed.origins.as_ref().unwrap().items[0];
        assert_eq!(origin.domain_name, "my-site.s3.eu-west-1.amazonaws.com");
        assert_eq!(origin.origin_access_control_id.as_deref(), Some("OAC1"));
        assert!(origin.custom_origin_config.is_none());
        let with = with_referer(&config(), "spa", "s3cret").unwrap();
        assert_eq!(referer_secret(&with, "spa").as_deref(), Some("s3cret"));
        assert_eq!(referer_secret(&config(), "spa"), None);
        assert_eq!(
            with.origins.as_ref().unwrap().items[1],
            config().origins.unwrap().items[1]
        );
    }
}
