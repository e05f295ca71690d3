//! scripts/moto_server.py corrects moto where AWS documents other behaviour; if one of its patches
//! stops applying (a moto upgrade), the test named for it fails. Each assertion message carries
//! the patch's number in that script.

use aws_sdk_cloudfront::primitives::Blob;
use aws_sdk_cloudfront::types::{FunctionConfig, FunctionRuntime, FunctionStage};

use crate::support::cdn::*;
use crate::support::*;

#[tokio::test]
async fn the_emulator_keeps_lambda_associations() {
    let bucket = unique_bucket("launcher");
    let id = create_distribution(&bucket, "rest").await;
    let cf = cloudfront();
    let got = cf.get_distribution_config().id(&id).send().await.unwrap();
    let config = got.distribution_config().unwrap().clone();
    assert_eq!(
        default_lambdas(&config),
        [(HEADERS_LAMBDA.to_string(), "viewer-request".to_string())],
        "1: associations are kept"
    );
}

#[tokio::test]
async fn the_emulator_checks_if_match_and_issues_a_new_etag_per_update() {
    let bucket = unique_bucket("launcher");
    let id = create_distribution(&bucket, "rest").await;
    let cf = cloudfront();
    let got = cf.get_distribution_config().id(&id).send().await.unwrap();
    let config = got.distribution_config().unwrap().clone();
    let etag = got.e_tag().unwrap().to_string();
    let stale = cf
        .update_distribution()
        .id(&id)
        .if_match("stale-etag")
        .distribution_config(config.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        stale.raw_response().unwrap().status().as_u16(),
        412,
        "2: If-Match is checked"
    );
    let updated = cf
        .update_distribution()
        .id(&id)
        .if_match(&etag)
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    assert_ne!(
        updated.e_tag().unwrap(),
        etag,
        "2: every update issues a new ETag"
    );
}

#[tokio::test]
async fn the_emulator_completes_an_invalidation_after_it_was_in_progress() {
    let bucket = unique_bucket("launcher");
    let id = create_distribution(&bucket, "rest").await;
    let cf = cloudfront();
    let batch = aws_sdk_cloudfront::types::InvalidationBatch::builder()
        .paths(
            aws_sdk_cloudfront::types::Paths::builder()
                .quantity(1)
                .items("/*")
                .build()
                .unwrap(),
        )
        .caller_reference("launcher-test")
        .build()
        .unwrap();
    let created = cf
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch)
        .send()
        .await
        .unwrap();
    let inv = created.invalidation().unwrap();
    assert_eq!(
        inv.status(),
        "InProgress",
        "3: invalidations start InProgress"
    );
    let status = |_: ()| async {
        let out = cf
            .get_invalidation()
            .distribution_id(&id)
            .id(inv.id())
            .send()
            .await
            .unwrap();
        out.invalidation().unwrap().status().to_string()
    };
    assert_eq!(status(()).await, "InProgress");
    assert_eq!(
        status(()).await,
        "Completed",
        "3: then Completed, spelled as AWS does"
    );
}

#[tokio::test]
async fn the_emulator_updates_and_publishes_cloudfront_functions() {
    let bucket = unique_bucket("launcher");
    let cf = cloudfront();
    let name = format!("fn-{bucket}");
    let config = || {
        FunctionConfig::builder()
            .comment("c")
            .runtime(FunctionRuntime::CloudfrontJs20)
            .build()
            .unwrap()
    };
    let created = cf
        .create_function()
        .name(&name)
        .function_config(config())
        .function_code(Blob::new("function handler(e) { return e.request; }"))
        .send()
        .await
        .unwrap();
    let updated = cf
        .update_function()
        .name(&name)
        .if_match(created.e_tag().unwrap())
        .function_config(config())
        .function_code(Blob::new("v2"))
        .send()
        .await
        .expect("4: UpdateFunction exists");
    cf.publish_function()
        .name(&name)
        .if_match(updated.e_tag().unwrap())
        .send()
        .await
        .expect("4: PublishFunction exists");
    let live = cf
        .get_function()
        .name(&name)
        .stage(FunctionStage::Live)
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.function_code().unwrap().as_ref(),
        b"v2",
        "4: LIVE holds the published code"
    );
}
