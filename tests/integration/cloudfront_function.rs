//! Private mode with a distribution, against moto (through scripts/moto_server.py): a CloudFront
//! Function on the SPA behavior only (`/api/*` never modified) and Origin Access Control, the
//! bucket policy that lets the distribution alone read, and several sites sharing one bucket.

use aws_sdk_cloudfront::types::DistributionConfig;

use crate::support::cdn::*;
use crate::support::proxy::{Fault, Proxy};
use crate::support::*;

/// A private-mode site: a bucket, its distribution as the team had it, and a first push with
/// `--fix-origin` through a recording proxy.
struct PrivateSite {
    bucket: String,
    id: String,
    before: DistributionConfig,
    proxy: Proxy,
    first: Run,
}

async fn private_site() -> PrivateSite {
    let bucket = unique_bucket("private");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let before = config_of(&id).await;
    let proxy = Proxy::start(&moto());

    let run = push(&proxy, &bucket, &id, &["--fix-origin"]);
    run.assert_ok();
    PrivateSite {
        bucket,
        id,
        before,
        proxy,
        first: run,
    }
}

#[tokio::test]
async fn private_mode_invalidates_the_pages_and_never_the_hashed_assets() {
    let _role = edge_role_shared().await;
    let PrivateSite { first: run, .. } = private_site().await;
    let report = run.json();
    assert_eq!(report["routing"]["mode"], "private");
    let paths = report["invalidation"]["paths"].as_array().unwrap();
    assert!(
        paths.contains(&"/index.html".into()) && paths.contains(&"/".into()),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("/assets/")),
        "hashed assets are never invalidated"
    );
}

#[tokio::test]
async fn private_mode_publishes_a_cloudfront_function_and_attaches_oac() {
    let _role = edge_role_shared().await;
    let PrivateSite {
        bucket, id, before, ..
    } = private_site().await;
    let after = config_of(&id).await;
    assert_eq!(
        api_behavior(&after),
        api_behavior(&before),
        "/api/* is never modified"
    );
    let default = after.default_cache_behavior.as_ref().unwrap();
    let functions = default.function_associations.as_ref().unwrap().items();
    assert_eq!(functions.len(), 1);
    assert_eq!(functions[0].event_type.as_str(), "viewer-request");
    assert!(functions[0]
        .function_arn
        .ends_with(&format!("function/spadeploy-{bucket}")));
    assert_eq!(
        default_lambdas(&after),
        [(HEADERS_LAMBDA.to_string(), "viewer-request".to_string())]
    );
    let origin = &after.origins.as_ref().unwrap().items[0];
    assert!(
        !origin
            .origin_access_control_id
            .clone()
            .unwrap_or_default()
            .is_empty(),
        "OAC attached"
    );
}

#[tokio::test]
async fn the_published_cloudfront_function_is_the_generated_code() {
    let _role = edge_role_shared().await;
    let PrivateSite { bucket, .. } = private_site().await;
    let live = cloudfront()
        .get_function()
        .name(format!("spadeploy-{bucket}"))
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .unwrap();
    let printed = spadeploy(
        &[
            "routing",
            "--print-function",
            "--mode",
            "private",
            "--to",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &moto(),
        ],
        None,
    );
    assert_eq!(
        live.function_code().unwrap().as_ref(),
        printed.stdout.as_bytes(),
        "the published code is the generated code"
    );
}

#[tokio::test]
async fn private_mode_lets_the_distribution_alone_read_and_list_the_bucket() {
    let _role = edge_role_shared().await;
    let PrivateSite { bucket, id, .. } = private_site().await;
    let policy = s3()
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let policy = policy.policy().unwrap();
    assert!(
        policy.contains("cloudfront.amazonaws.com")
            && policy.contains(&format!("distribution/{id}")),
        "{policy}"
    );
    assert!(
        policy.contains("s3:ListBucket"),
        "missing assets are honest 404s: {policy}"
    );
    assert!(!public_allows(policy), "the bucket stays private: {policy}");
}

#[tokio::test]
async fn a_private_push_with_nothing_drifted_writes_nothing_and_checks_clean() {
    let _role = edge_role_shared().await;
    let PrivateSite {
        bucket, id, proxy, ..
    } = private_site().await;
    proxy.take();
    let again = push(&proxy, &bucket, &id, &[]);
    again.assert_ok();
    assert_eq!(
        writes(&proxy),
        Vec::<String>::new(),
        "a no-op push writes nothing"
    );
    let check = spadeploy(
        &[
            "routing",
            "--to",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
            "--check",
        ],
        None,
    );
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}

#[tokio::test]
async fn two_targets_in_one_bucket_keep_each_others_grants() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("twoprefix");
    create_bucket(&s3(), &bucket).await;
    let app = create_distribution(&bucket, "rest").await;
    let other = create_distribution(&bucket, "rest").await;
    push_to(&format!("s3://{bucket}/app"), &app, &["--fix-origin"]).assert_ok();
    push_to(&format!("s3://{bucket}/other"), &other, &["--fix-origin"]).assert_ok();
    let policy = policy_of(&bucket).await;
    for (id, prefix) in [(&app, "app/"), (&other, "other/")] {
        assert!(
            policy.contains(&format!("distribution/{id}"))
                && policy.contains(&format!("{bucket}/{prefix}*")),
            "{prefix} keeps its grant: {policy}"
        );
    }
    let again = push_to(&format!("s3://{bucket}/app"), &app, &[]);
    again.assert_ok();
    assert_eq!(again.json()["routing"]["bucket_policy"], "unchanged");
    assert_eq!(policy_of(&bucket).await, policy);
}

#[tokio::test]
async fn two_sites_in_one_bucket_each_keep_their_own_edge_function() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("twofn");
    create_bucket(&s3(), &bucket).await;
    let app = create_distribution(&bucket, "rest").await;
    let blog = create_distribution(&bucket, "rest").await;
    push_to(&format!("s3://{bucket}/app"), &app, &["--fix-origin"]).assert_ok();
    push_to(&format!("s3://{bucket}/blog"), &blog, &["--fix-origin"]).assert_ok();
    let (app_fn, app_code) = default_function_code(&app).await;
    let (blog_fn, blog_code) = default_function_code(&blog).await;
    assert_ne!(app_fn, blog_fn);
    assert!(app_code.contains(r#""base":"/app/""#), "{app_code}");
    assert!(blog_code.contains(r#""base":"/blog/""#), "{blog_code}");
    // A second push of the first site changes nothing of the second's, and the reverse.
    let again = push_to(&format!("s3://{bucket}/app"), &app, &[]);
    again.assert_ok();
    assert_eq!(again.json()["routing"]["function"]["action"], "unchanged");
    assert_eq!(default_function_code(&blog).await.1, blog_code);
    // Two sites made to share a name: the second refuses to take the first's function over.
    let shared = format!("[routing]\nfunction_name = \"{app_fn}\"\n");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "spadeploy.toml", shared);
    let endpoint = moto();
    let demo = demo_spa();
    let run = spadeploy(
        &[
            "push",
            demo.to_str().unwrap(),
            "--to",
            &format!("s3://{bucket}/blog"),
            "--endpoint-url",
            &endpoint,
            "--distribution",
            &blog,
            "-q",
        ],
        Some(project.path()),
    );
    run.assert_fails_with(1, "serves another target");
    assert_eq!(default_function_code(&app).await.1, app_code);
}

#[tokio::test]
async fn a_concurrent_distribution_change_is_retried_on_the_fresh_config() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("race");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let proxy = Proxy::start(&moto());
    proxy.inject(Fault::precondition_failed_once("PUT", "/config"));
    let run = push(&proxy, &bucket, &id, &["--fix-origin"]);
    run.assert_ok();
    let updates = proxy
        .take()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/config"))
        .count();
    assert_eq!(
        updates, 2,
        "one refused with 412, one on the re-read config"
    );
    let default = config_of(&id).await.default_cache_behavior.unwrap();
    assert_eq!(default.function_associations.unwrap().quantity, 1);
}
