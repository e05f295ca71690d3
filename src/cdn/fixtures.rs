//! Distribution configs as teams have them, for the CDN half's unit tests.

use aws_sdk_cloudfront::types::{
    CacheBehavior, CacheBehaviors, DefaultCacheBehavior, DistributionConfig, EventType,
    LambdaFunctionAssociation, LambdaFunctionAssociations, Origin, Origins, ViewerProtocolPolicy,
};

pub(crate) fn origin(id: &str, domain: &str) -> Origin {
    Origin::builder()
        .id(id)
        .domain_name(domain)
        .build()
        .unwrap()
}

pub(crate) fn lambda(arn: &str, event: EventType) -> LambdaFunctionAssociations {
    let item = LambdaFunctionAssociation::builder()
        .lambda_function_arn(arn)
        .event_type(event)
        .build()
        .unwrap();
    LambdaFunctionAssociations::builder()
        .quantity(1)
        .items(item)
        .build()
        .unwrap()
}

/// The SPA (default behavior, with the team's own viewer-request Lambda) on `spa_domain`,
/// `/api/*` to an API with its own Lambda.
pub(crate) fn config_with_spa_on(spa_domain: &str) -> DistributionConfig {
    let api = CacheBehavior::builder()
        .path_pattern("/api/*")
        .target_origin_id("api")
        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
        .lambda_function_associations(lambda(
            "arn:aws:lambda:us-east-1:1:function:auth:3",
            EventType::ViewerRequest,
        ))
        .build()
        .unwrap();
    let default = DefaultCacheBehavior::builder()
        .target_origin_id("spa")
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .lambda_function_associations(lambda(
            "arn:aws:lambda:us-east-1:1:function:headers:1",
            EventType::ViewerRequest,
        ))
        .build()
        .unwrap();
    DistributionConfig::builder()
        .caller_reference("r")
        .comment("")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(2)
                .items(origin("spa", spa_domain))
                .items(origin("api", "api.example.com"))
                .build()
                .unwrap(),
        )
        .default_cache_behavior(default)
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(1)
                .items(api)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}
