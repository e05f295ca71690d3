//! A full-stack CloudFront distribution in the emulator, as a team would have it before
//! spadeploy: the SPA on the bucket, `/api/*` on an API origin, each with its own function.

use aws_sdk_cloudfront::types::{
    CacheBehavior, CacheBehaviors, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    EventType, LambdaFunctionAssociation, LambdaFunctionAssociations, Origin, OriginProtocolPolicy,
    Origins, S3OriginConfig, ViewerProtocolPolicy,
};

use super::{cloudfront, iam, unique_bucket};

pub const HEADERS_LAMBDA: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:security-headers:4";
pub const AUTH_LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:api-auth:2";

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
pub async fn create_distribution(bucket: &str, endpoint: &str) -> String {
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
pub const EDGE_ROLE: &str = "spadeploy-edge";

/// What leaked deploy credentials might do to the edge role (created here if no test has yet):
/// a foreign trust, no boundary, administrator access and an inline policy.
pub async fn widen_edge_role() {
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
