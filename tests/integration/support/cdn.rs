//! A full-stack CloudFront distribution in the emulator, as a team would have it before
//! spadeploy: the SPA on the bucket, `/api/*` on an API origin, each with its own function; the
//! shared edge role; and pushes to it and what the tests read back of it.

use aws_sdk_cloudfront::types::{
    CacheBehavior, CacheBehaviors, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    EventType, LambdaFunctionAssociation, LambdaFunctionAssociations, Origin, OriginProtocolPolicy,
    Origins, S3OriginConfig, ViewerProtocolPolicy,
};

use super::proxy::Proxy;
use super::{cloudfront, demo_spa, iam, lambda, moto, s3, spadeploy, unique_bucket, Run};

pub(crate) const HEADERS_LAMBDA: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:security-headers:4";
pub(crate) const AUTH_LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:api-auth:2";

fn lambda_association(arn: &str, event: EventType) -> LambdaFunctionAssociations {
    LambdaFunctionAssociations::builder()
        .quantity(1)
        .items(
            LambdaFunctionAssociation::builder()
                .lambda_function_arn(arn)
                .event_type(event)
                .include_body(false)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// A full-stack distribution: the SPA (default behavior, with the team's own viewer-request
/// function) on the bucket's `website` or `rest` endpoint, and `/api/*` on an API origin with
/// its own function.
pub(crate) async fn create_distribution(bucket: &str, endpoint: &str) -> String {
    let spa = match endpoint {
        "website" => Origin::builder()
            .id("spa")
            .domain_name(format!("{bucket}.s3-website-us-east-1.amazonaws.com"))
            .custom_origin_config(
                CustomOriginConfig::builder()
                    .http_port(80)
                    .https_port(443)
                    .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                    .build()
                    .unwrap(),
            ),
        _ => Origin::builder()
            .id("spa")
            .domain_name(format!("{bucket}.s3.us-east-1.amazonaws.com"))
            .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build()),
    };
    let api = Origin::builder()
        .id("api")
        .domain_name("api.example.com")
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                .build()
                .unwrap(),
        );
    let config = DistributionConfig::builder()
        .caller_reference(unique_bucket("ref"))
        .comment("spadeploy test")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(2)
                .items(spa.build().unwrap())
                .items(api.build().unwrap())
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("spa")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .lambda_function_associations(lambda_association(
                    HEADERS_LAMBDA,
                    EventType::ViewerRequest,
                ))
                .build()
                .unwrap(),
        )
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(1)
                .items(
                    CacheBehavior::builder()
                        .path_pattern("/api/*")
                        .target_origin_id("api")
                        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                        .cache_policy_id("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
                        .lambda_function_associations(lambda_association(
                            AUTH_LAMBDA,
                            EventType::ViewerRequest,
                        ))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = cloudfront()
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    created.distribution().unwrap().id().to_string()
}

/// The shared role spadeploy's Lambda@Edge functions run as.
pub(crate) const EDGE_ROLE: &str = "spadeploy-edge";

/// Every test with a distribution may install edge code, which runs as the one shared edge role;
/// a test that deletes or widens the role holds it alone meanwhile (the tests share one binary).
static EDGE_ROLE_USERS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Held by a test that pushes with a distribution, for as long as it runs.
pub(crate) async fn edge_role_shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    EDGE_ROLE_USERS.read().await
}

/// Held by a test that deletes the edge role and counts the calls that recreate it.
pub(crate) async fn edge_role_alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    EDGE_ROLE_USERS.write().await
}

/// What leaked deploy credentials might do to the edge role (created here if no test has yet):
/// a foreign trust, no boundary, administrator access and an inline policy.
pub(crate) async fn widen_edge_role() {
    let foreign_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::666666666666:root"},"Action":"sts:AssumeRole"}]}"#;
    let iam = iam();
    let _ = iam
        .create_role()
        .role_name(EDGE_ROLE)
        .assume_role_policy_document(foreign_trust)
        .send()
        .await;
    iam.update_assume_role_policy()
        .role_name(EDGE_ROLE)
        .policy_document(foreign_trust)
        .send()
        .await
        .unwrap();
    // Absent when the role was just made here.
    let _ = iam
        .delete_role_permissions_boundary()
        .role_name(EDGE_ROLE)
        .send()
        .await;
    iam.attach_role_policy()
        .role_name(EDGE_ROLE)
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(EDGE_ROLE)
        .policy_name("backdoor")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
}

/// The distribution's configuration as CloudFront holds it now.
pub(crate) async fn config_of(id: &str) -> DistributionConfig {
    cloudfront()
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .unwrap()
        .distribution_config()
        .unwrap()
        .clone()
}

/// The `/api/*` behavior, which spadeploy must never modify.
pub(crate) fn api_behavior(config: &DistributionConfig) -> CacheBehavior {
    config
        .cache_behaviors
        .as_ref()
        .unwrap()
        .items
        .as_ref()
        .unwrap()[0]
        .clone()
}

/// The default behavior's Lambda@Edge associations: (function ARN, event type).
pub(crate) fn default_lambdas(config: &DistributionConfig) -> Vec<(String, String)> {
    config
        .default_cache_behavior
        .as_ref()
        .unwrap()
        .lambda_function_associations
        .as_ref()
        .map(|l| {
            l.items()
                .iter()
                .map(|a| {
                    (
                        a.lambda_function_arn.clone(),
                        a.event_type.as_str().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Pushes the demo SPA to the bucket root through `proxy`, with `--json`.
pub(crate) fn push(proxy: &Proxy, bucket: &str, distribution: &str, extra: &[&str]) -> Run {
    let demo = demo_spa();
    let mut args = vec![
        "push",
        demo.to_str().unwrap(),
        "--to",
        "",
        "--endpoint-url",
        &proxy.url,
        "--distribution",
        distribution,
        "--json",
        "-q",
    ];
    let to = format!("s3://{bucket}");
    args[3] = &to;
    args.extend_from_slice(extra);
    spadeploy(&args, None)
}

/// Pushes the demo SPA to `to` straight to the emulator, with `--json`.
pub(crate) fn push_to(to: &str, distribution: &str, extra: &[&str]) -> Run {
    let demo = demo_spa();
    let endpoint = moto();
    let mut args = vec![
        "push",
        demo.to_str().unwrap(),
        "--to",
        to,
        "--endpoint-url",
        &endpoint,
        "--distribution",
        distribution,
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    spadeploy(&args, None)
}

/// The writes the proxy saw since it was last taken, as "METHOD path".
pub(crate) fn writes(proxy: &Proxy) -> Vec<String> {
    proxy
        .take()
        .into_iter()
        .filter(super::proxy::Recorded::is_write)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The bucket's policy document.
pub(crate) async fn policy_of(bucket: &str) -> String {
    let out = s3()
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.policy().unwrap().to_string()
}

/// Whether some statement allows anything to anyone.
pub(crate) fn public_allows(policy: &str) -> bool {
    let policy: serde_json::Value = serde_json::from_str(policy).unwrap();
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["Effect"] == "Allow" && s["Principal"] == "*")
}

/// The Referer secret CloudFront sends to the website endpoint.
pub(crate) fn origin_secret(config: &DistributionConfig) -> String {
    config.origins.as_ref().unwrap().items[0]
        .custom_headers
        .as_ref()
        .unwrap()
        .items()
        .iter()
        .find(|h| h.header_name.eq_ignore_ascii_case("referer"))
        .unwrap()
        .header_value
        .clone()
}

/// The CloudFront Function a distribution's default behavior runs, and its LIVE code.
pub(crate) async fn default_function_code(id: &str) -> (String, String) {
    let config = config_of(id).await;
    let default = config.default_cache_behavior.unwrap();
    let arn = default.function_associations.unwrap().items()[0]
        .function_arn
        .clone();
    let name = arn.rsplit('/').next().unwrap().to_string();
    let live = cloudfront()
        .get_function()
        .name(&name)
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .unwrap();
    let code = String::from_utf8(live.function_code().unwrap().as_ref().to_vec()).unwrap();
    (name, code)
}

/// The numbered versions of a Lambda function.
pub(crate) async fn lambda_versions(name: &str) -> Vec<String> {
    lambda()
        .list_versions_by_function()
        .function_name(name)
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .filter_map(|v| v.version())
        .filter(|v| *v != "$LATEST")
        .map(str::to_string)
        .collect()
}
