//! Website mode with a distribution, against moto (through scripts/moto_server.py): the
//! Lambda@Edge function on the SPA behavior only (`/api/*` never modified), its versions, the
//! shared edge role it runs as, the Referer secret between CloudFront and the website endpoint,
//! and the bucket policy and Block Public Access it needs.

use aws_sdk_cloudfront::types::DistributionConfig;

use crate::support::cdn::*;
use crate::support::proxy::{Fault, FaultAction, Proxy};
use crate::support::*;

/// A website-mode site: a bucket, its distribution as the team had it, and a first push with
/// `--wait` through a recording proxy (its requests not yet taken).
struct WebsiteSite {
    bucket: String,
    id: String,
    before: DistributionConfig,
    proxy: Proxy,
    first: Run,
}

async fn website_site() -> WebsiteSite {
    let bucket = unique_bucket("website");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let before = config_of(&id).await;
    let proxy = Proxy::start(&moto());

    let run = push(&proxy, &bucket, &id, &["--allow-public-read", "--wait"]);
    run.assert_ok();
    WebsiteSite {
        bucket,
        id,
        before,
        proxy,
        first: run,
    }
}

#[tokio::test]
async fn push_wait_waits_for_the_invalidation_after_giving_the_lock_back() {
    let _role = edge_role_shared().await;
    let WebsiteSite { proxy, first, .. } = website_site().await;
    // --wait waits for the invalidation after the deploy lock is given back.
    let requests = proxy.take();
    let released = requests
        .iter()
        .find(|r| r.method == "DELETE" && r.path.ends_with(".spadeploy/lock.json"))
        .expect("the lock is released");
    let last_poll = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/invalidation/"))
        .map(|r| r.started)
        .max()
        .expect("the invalidation is polled");
    assert!(
        released.finished <= last_poll,
        "the lock was held while waiting"
    );
    assert_eq!(first.json()["invalidation"]["completed"], true);
}

#[tokio::test]
async fn website_mode_attaches_the_function_to_the_spa_behavior_only() {
    let _role = edge_role_shared().await;
    let WebsiteSite {
        bucket,
        id,
        before,
        first: run,
        ..
    } = website_site().await;
    let report = run.json();
    let routing = &report["routing"];
    assert_eq!(routing["mode"], "website");
    assert_eq!(routing["function"]["action"], "create");
    assert_eq!(routing["behaviors"][0]["path"], "*");
    assert_eq!(routing["behaviors"][1]["action"], "untouched");
    assert_eq!(report["invalidation"]["paths"], serde_json::json!(["/*"]));
    let version_arn = routing["function"]["arn"].as_str().unwrap().to_string();
    assert!(
        version_arn.ends_with(&format!(":function:spadeploy-{bucket}:1")),
        "{version_arn}"
    );

    let after = config_of(&id).await;
    assert_eq!(
        api_behavior(&after),
        api_behavior(&before),
        "/api/* is never modified"
    );
    assert_eq!(
        default_lambdas(&after),
        [
            (HEADERS_LAMBDA.to_string(), "viewer-request".to_string()),
            (version_arn.clone(), "origin-request".to_string()),
            (version_arn.clone(), "origin-response".to_string())
        ],
        "the team's own association stays, ours is added"
    );
}

#[tokio::test]
async fn website_mode_serves_the_bucket_website_to_the_distribution_alone() {
    let _role = edge_role_shared().await;
    let WebsiteSite { bucket, id, .. } = website_site().await;
    let after = config_of(&id).await;
    let website = s3()
        .get_bucket_website()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(website.index_document().unwrap().suffix(), "index.html");
    assert_eq!(website.error_document().unwrap().key(), "index.html");
    let policy = s3()
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let secret = after.origins.as_ref().unwrap().items[0]
        .custom_headers
        .as_ref()
        .unwrap()
        .items()
        .iter()
        .find(|h| h.header_name == "Referer")
        .unwrap()
        .header_value
        .clone();
    let policy = policy.policy().unwrap();
    assert!(
        policy.contains("SpadeployWebsiteRead") && policy.contains(&secret),
        "{policy}"
    );
    assert!(
        policy.contains("SpadeployHideState"),
        "spadeploy's state stays unreadable: {policy}"
    );
}

#[tokio::test]
async fn website_mode_installs_a_node_function_running_as_the_edge_role() {
    let _role = edge_role_shared().await;
    let WebsiteSite { bucket, .. } = website_site().await;
    let function = lambda()
        .get_function()
        .function_name(format!("spadeploy-{bucket}"))
        .send()
        .await
        .unwrap();
    let config = function.configuration().unwrap();
    assert_eq!(config.runtime().unwrap().as_str(), "nodejs22.x");
    assert_eq!(config.handler(), Some("index.handler"));
    assert!(config.role().unwrap().ends_with("role/spadeploy-edge"));
}

#[tokio::test]
async fn a_website_push_with_nothing_drifted_writes_nothing() {
    let _role = edge_role_shared().await;
    let WebsiteSite {
        bucket, id, proxy, ..
    } = website_site().await;
    let after = config_of(&id).await;
    // Nothing drifted: no new version, no distribution update, no write of any kind.
    proxy.take();
    let again = push(&proxy, &bucket, &id, &["--allow-public-read"]);
    again.assert_ok();
    assert_eq!(again.json()["routing"]["function"]["action"], "unchanged");
    assert_eq!(writes(&proxy), Vec::<String>::new());
    assert_eq!(config_of(&id).await, after);
}

#[tokio::test]
async fn a_routing_change_publishes_a_new_version_and_moves_the_association_to_it() {
    let _role = edge_role_shared().await;
    let WebsiteSite {
        bucket,
        id,
        before,
        proxy,
        ..
    } = website_site().await;
    // A routing change publishes version 2 and moves the association to it.
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "spadeploy.toml",
        "[routing]\nno_fallback = [\"/assets/\"]\n",
    );
    let demo = demo_spa();
    let changed = spadeploy(
        &[
            "push",
            demo.to_str().unwrap(),
            "--to",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
            "--allow-public-read",
            "--json",
            "-q",
        ],
        Some(tmp.path()),
    );
    changed.assert_ok();
    assert_eq!(changed.json()["routing"]["function"]["action"], "update");
    let v2 = changed.json()["routing"]["function"]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(v2.ends_with(":2"), "{v2}");
    let latest = config_of(&id).await;
    assert_eq!(
        default_lambdas(&latest),
        [
            (HEADERS_LAMBDA.to_string(), "viewer-request".to_string()),
            (v2.clone(), "origin-request".to_string()),
            (v2, "origin-response".to_string())
        ]
    );
    assert_eq!(api_behavior(&latest), api_behavior(&before));
}

#[tokio::test]
async fn old_lambda_versions_are_deleted_when_three_newer_exist_and_a_refusal_waits() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("versions");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let proxy = Proxy::start(&moto());
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("spadeploy-{bucket}");
    let demo = demo_spa();
    let to = format!("s3://{bucket}");
    for n in 1..=5 {
        // Each push changes the rule, so each publishes a version.
        write(
            tmp.path(),
            "spadeploy.toml",
            format!("[routing]\nno_fallback = [\"/v{n}/\"]\n"),
        );
        if n == 4 {
            // CloudFront still holds replicas of version 1: Lambda refuses to delete it.
            proxy.inject(
                Fault::new(
                    "DELETE",
                    &format!("/functions/{name}"),
                    FaultAction::Respond {
                        status: 400,
                        body: r#"{"Type":"User","message":"Lambda was unable to delete arn:aws:lambda:us-east-1:123456789012:function:x:1 because it is a replicated function."}"#.into(),
                    },
                )
                .times(1),
            );
        }
        let run = spadeploy(
            &[
                "push",
                demo.to_str().unwrap(),
                "--to",
                &to,
                "--endpoint-url",
                &proxy.url,
                "--distribution",
                &id,
                "--allow-public-read",
                "--json",
                "-q",
            ],
            Some(tmp.path()),
        );
        run.assert_ok();
        let arn = run.json()["routing"]["function"]["arn"].to_string();
        assert!(arn.ends_with(&format!(":{n}\"")), "{arn}");
        let expected: Vec<String> = match n {
            1..=3 => (1..=n).map(|v| v.to_string()).collect(),
            // Version 1's deletion was refused; the push went on.
            4 => ["1", "2", "3", "4"].map(String::from).to_vec(),
            // The next publication tries it again.
            _ => ["3", "4", "5"].map(String::from).to_vec(),
        };
        assert_eq!(lambda_versions(&name).await, expected, "after push {n}");
    }
}

#[tokio::test]
async fn an_install_puts_a_widened_edge_role_back() {
    let _role = edge_role_shared().await;
    const LOGS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    let iam = iam();
    widen_edge_role().await;
    let bucket = unique_bucket("role");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    push_to(&format!("s3://{bucket}"), &id, &["--allow-public-read"]).assert_ok();

    let role = iam.get_role().role_name(EDGE_ROLE).send().await.unwrap();
    let role = role.role().unwrap();
    let trust = percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
        .decode_utf8_lossy()
        .into_owned();
    assert!(
        trust.contains("edgelambda.amazonaws.com") && !trust.contains("666666666666"),
        "{trust}"
    );
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(LOGS)
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(EDGE_ROLE)
        .send()
        .await
        .unwrap();
    let attached: Vec<_> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(attached, [LOGS]);
    let inline = iam
        .list_role_policies()
        .role_name(EDGE_ROLE)
        .send()
        .await
        .unwrap();
    assert!(inline.policy_names().is_empty(), "{inline:?}");
}

#[tokio::test]
async fn website_mode_on_an_already_public_bucket_still_hides_the_state() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("public");
    create_bucket(&s3(), &bucket).await;
    let public = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    s3().put_bucket_policy()
        .bucket(&bucket)
        .policy(&public)
        .send()
        .await
        .unwrap();
    let id = create_distribution(&bucket, "website").await;
    push_to(&format!("s3://{bucket}"), &id, &[]).assert_ok();
    let policy: serde_json::Value = serde_json::from_str(&policy_of(&bucket).await).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert!(
        statements.iter().any(|s| s["Sid"] == "PublicRead"),
        "{policy}"
    );
    let hide = statements
        .iter()
        .find(|s| {
            s["Effect"] == "Deny" && s["Resource"] == format!("arn:aws:s3:::{bucket}/.spadeploy/*")
        })
        .unwrap_or_else(|| panic!("no deny for the state: {policy}"));
    assert_eq!(hide["Principal"], "*");
    assert_eq!(
        hide["Condition"],
        serde_json::json!({ "Null": { "aws:PrincipalArn": "true" } }),
        "every unsigned reader, whatever Referer it sends; spadeploy's signed reads still work"
    );
}

async fn access_block_of(bucket: &str) -> (bool, bool, bool) {
    let out = s3()
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let c = out.public_access_block_configuration().unwrap();
    (
        c.block_public_acls() == Some(true),
        c.block_public_policy() == Some(true),
        c.restrict_public_buckets() == Some(true),
    )
}

async fn tags_of(bucket: &str) -> Vec<(String, String)> {
    match s3().get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn block_public_access_is_relaxed_with_consent_recorded_and_restored_after_a_switch() {
    let _role = edge_role_shared().await;
    use aws_sdk_s3::types::{Tag, Tagging};
    let bucket = unique_bucket("bpa");
    create_bucket(&s3(), &bucket).await;
    block_public_access(&bucket).await;
    s3().put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("team").value("web").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let id = create_distribution(&bucket, "website").await;
    let to = format!("s3://{bucket}");

    let website = push_to(&to, &id, &["--allow-public-read"]);
    website.assert_ok();
    assert_eq!(website.json()["routing"]["public_access_block"], "relax");
    assert_eq!(
        access_block_of(&bucket).await,
        (true, false, false),
        "ACLs stay blocked"
    );
    let tags = tags_of(&bucket).await;
    assert!(tags.contains(&("team".into(), "web".into())), "{tags:?}");
    assert!(
        tags.contains(&(
            "spadeploy:relaxed-public-access".into(),
            "BlockPublicPolicy RestrictPublicBuckets".into()
        )),
        "{tags:?}"
    );

    let private = push_to(&to, &id, &["--mode", "private", "--fix-origin"]);
    private.assert_ok();
    assert_eq!(private.json()["routing"]["public_access_block"], "restore");
    assert_eq!(access_block_of(&bucket).await, (true, true, true));
    assert_eq!(
        tags_of(&bucket).await,
        [("team".to_string(), "web".to_string())]
    );
    assert!(!public_allows(&policy_of(&bucket).await));

    let again = push_to(&to, &id, &["--mode", "private"]);
    again.assert_ok();
    assert_eq!(again.json()["routing"]["public_access_block"], "unchanged");
}

/// A website-mode site pushed once: (bucket, distribution id).
async fn website_site_pushed(stem: &str) -> (String, String) {
    let bucket = unique_bucket(stem);
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    push_to(&format!("s3://{bucket}"), &id, &["--allow-public-read"]).assert_ok();
    (bucket, id)
}

#[tokio::test]
async fn the_referer_secret_is_random_and_differs_between_distributions() {
    let _role = edge_role_shared().await;
    let (_, id) = website_site_pushed("rotate").await;
    let first = origin_secret(&config_of(&id).await);
    let hex = first.strip_prefix("spadeploy-").unwrap();
    assert_eq!(hex.len(), 64, "256 random bits: {first}");
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));

    // Another distribution over another bucket gets an unrelated secret.
    let (_, other) = website_site_pushed("rotate").await;
    assert_ne!(origin_secret(&config_of(&other).await), first);
}

#[tokio::test]
async fn the_referer_secret_rotates_without_a_gap() {
    let _role = edge_role_shared().await;
    let (bucket, id) = website_site_pushed("rotate").await;
    let first = origin_secret(&config_of(&id).await);
    let proxy = Proxy::start(&moto());
    let rotated = spadeploy(
        &[
            "routing",
            "--rotate-secret",
            "--to",
            &format!("s3://{bucket}"),
            "--distribution",
            &id,
            "--endpoint-url",
            &proxy.url,
            "--json",
        ],
        None,
    );
    rotated.assert_ok();
    let second = origin_secret(&config_of(&id).await);
    assert_ne!(second, first);
    let policy = policy_of(&bucket).await;
    assert!(
        policy.contains(&second) && !policy.contains(&first),
        "{policy}"
    );
    // Both values were allowed before the origin switched, the old dropped only after.
    let order: Vec<String> = writes(&proxy)
        .into_iter()
        .map(|w| {
            if w.contains("/distribution/") {
                "distribution".into()
            } else {
                w
            }
        })
        .collect();
    assert_eq!(
        order,
        [
            format!("PUT /{bucket}/"),
            "distribution".to_string(),
            format!("PUT /{bucket}/")
        ],
        "policy (both), origin (new), policy (new only)"
    );
    // A push afterwards keeps the new secret and changes nothing.
    let again = push_to(&format!("s3://{bucket}"), &id, &["--allow-public-read"]);
    again.assert_ok();
    assert_eq!(again.json()["routing"]["bucket_policy"], "unchanged");
}
