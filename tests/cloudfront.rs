//! `spadeploy push --distribution` against moto (through scripts/moto_server.py, which corrects
//! moto's CloudFront models to AWS's documented behaviour), observed through the AWS APIs and a
//! recording proxy: the edge function lands on the SPA behavior only, `/api/*` is never
//! modified, and a push with nothing drifted writes nothing.

#[allow(dead_code)]
mod support;

use aws_sdk_cloudfront::types::{CacheBehavior, DistributionConfig};
use support::proxy::{Fault, FaultAction, Proxy};
use support::*;

use support::cdn::{create_distribution, widen_edge_role, EDGE_ROLE as ROLE, HEADERS_LAMBDA};

async fn config_of(id: &str) -> DistributionConfig {
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

fn api_behavior(config: &DistributionConfig) -> CacheBehavior {
    config
        .cache_behaviors
        .as_ref()
        .unwrap()
        .items
        .as_ref()
        .unwrap()[0]
        .clone()
}

fn default_lambdas(config: &DistributionConfig) -> Vec<(String, String)> {
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

fn push(proxy: &Proxy, bucket: &str, distribution: &str, extra: &[&str]) -> Run {
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

/// Whether some statement allows anything to anyone.
fn public_allows(policy: &str) -> bool {
    let policy: serde_json::Value = serde_json::from_str(policy).unwrap();
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["Effect"] == "Allow" && s["Principal"] == "*")
}

async fn policy_of(bucket: &str) -> String {
    let out = s3()
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.policy().unwrap().to_string()
}

fn push_to(to: &str, distribution: &str, extra: &[&str]) -> Run {
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

#[tokio::test]
async fn two_targets_in_one_bucket_keep_each_others_grants() {
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

/// The CloudFront Function a distribution's default behavior runs, and its LIVE code.
async fn default_function_code(id: &str) -> (String, String) {
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

#[tokio::test]
async fn two_sites_in_one_bucket_each_keep_their_own_edge_function() {
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
async fn website_mode_on_an_already_public_bucket_still_hides_the_state() {
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

#[tokio::test]
async fn an_install_puts_a_widened_edge_role_back() {
    const LOGS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    let iam = iam();
    widen_edge_role().await;
    let bucket = unique_bucket("role");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    push_to(&format!("s3://{bucket}"), &id, &["--allow-public-read"]).assert_ok();

    let role = iam.get_role().role_name(ROLE).send().await.unwrap();
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
        .role_name(ROLE)
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
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    assert!(inline.policy_names().is_empty(), "{inline:?}");
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

fn origin_secret(config: &DistributionConfig) -> String {
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

#[tokio::test]
async fn the_referer_secret_is_random_and_rotates_without_a_gap() {
    let bucket = unique_bucket("rotate");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    push_to(&format!("s3://{bucket}"), &id, &["--allow-public-read"]).assert_ok();
    let first = origin_secret(&config_of(&id).await);
    let hex = first.strip_prefix("spadeploy-").unwrap();
    assert_eq!(hex.len(), 64, "256 random bits: {first}");
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));

    // Another distribution over another bucket gets an unrelated secret.
    let other_bucket = unique_bucket("rotate");
    create_bucket(&s3(), &other_bucket).await;
    let other = create_distribution(&other_bucket, "website").await;
    push_to(
        &format!("s3://{other_bucket}"),
        &other,
        &["--allow-public-read"],
    )
    .assert_ok();
    assert_ne!(origin_secret(&config_of(&other).await), first);

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

#[tokio::test]
async fn a_no_op_push_reads_the_target_and_the_distribution_at_once() {
    let bucket = unique_bucket("noopreads");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let proxy = Proxy::start(&moto());
    push(&proxy, &bucket, &id, &["--allow-public-read"]).assert_ok();
    // The bucket answers slowly: reading the distribution must not wait for its listing.
    proxy.inject(Fault::new(
        "GET",
        &format!("/{bucket}/"),
        FaultAction::Stall(std::time::Duration::from_millis(800)),
    ));
    proxy.take();
    let again = push(&proxy, &bucket, &id, &["--allow-public-read"]);
    again.assert_ok();
    let requests = proxy.take();
    assert!(
        requests.iter().all(|r| !r.is_write()),
        "a no-op writes nothing"
    );
    let distribution = requests
        .iter()
        .find(|r| r.path.ends_with(&format!("/distribution/{id}")))
        .unwrap();
    let listing = requests
        .iter()
        .find(|r| r.query.contains("list-type=2"))
        .unwrap();
    assert!(
        distribution.started < listing.finished,
        "the distribution was read only after the listing"
    );
    // Control-plane reads of a no-op in website mode, in two round trips: the distribution and
    // the bucket policy; then the function's versions and the website configuration (Block
    // Public Access is not read while spadeploy's read policy is in place).
    assert_no_op_reads(&requests, &id, 4);

    // Private mode: the distribution and the bucket policy; then the function's LIVE code and
    // spadeploy's Block Public Access record (the bucket tag).
    let bucket = unique_bucket("noopprivate");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    push(&proxy, &bucket, &id, &["--fix-origin"]).assert_ok();
    proxy.take();
    push(&proxy, &bucket, &id, &[]).assert_ok();
    assert_no_op_reads(&proxy.take(), &id, 4);
}

/// A no-op wrote nothing and read the control plane `expected` times, in two round trips: the
/// distribution first, everything else at once after it.
fn assert_no_op_reads(requests: &[support::proxy::Recorded], id: &str, expected: usize) {
    assert!(
        requests.iter().all(|r| !r.is_write()),
        "a no-op writes nothing"
    );
    let control: Vec<&support::proxy::Recorded> = requests
        .iter()
        .filter(|r| {
            r.path.starts_with("/2020-05-31/")
                || r.path.starts_with("/2015-03-31/")
                || ["website", "policy", "publicAccessBlock", "tagging"]
                    .iter()
                    .any(|q| r.query.split('&').any(|p| p.split('=').next() == Some(*q)))
        })
        .collect();
    let paths: Vec<String> = control
        .iter()
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert_eq!(control.len(), expected, "{paths:#?}");
    let distribution = control
        .iter()
        .find(|r| r.path.ends_with(&format!("/distribution/{id}")))
        .unwrap();
    let last_first_round = control
        .iter()
        .filter(|r| r.started < distribution.finished)
        .map(|r| r.finished)
        .max()
        .unwrap();
    // Whatever starts after the distribution was read starts as soon as the first round is
    // done: nothing waits for a second-round answer.
    let late = std::time::Duration::from_millis(50);
    assert!(
        control
            .iter()
            .filter(|r| r.started >= distribution.finished)
            .all(|r| r.started <= last_first_round + late),
        "two round trips: {paths:#?}"
    );
}

fn writes(proxy: &Proxy) -> Vec<String> {
    proxy
        .take()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn website_mode_attaches_the_function_to_the_spa_behavior_only() {
    let bucket = unique_bucket("website");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let before = config_of(&id).await;
    let proxy = Proxy::start(&moto());

    let run = push(&proxy, &bucket, &id, &["--allow-public-read", "--wait"]);
    run.assert_ok();
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
    let report = run.json();
    let routing = &report["routing"];
    assert_eq!(routing["mode"], "website");
    assert_eq!(routing["function"]["action"], "create");
    assert_eq!(routing["behaviors"][0]["path"], "*");
    assert_eq!(routing["behaviors"][1]["action"], "untouched");
    assert_eq!(report["invalidation"]["paths"], serde_json::json!(["/*"]));
    assert_eq!(report["invalidation"]["completed"], true);
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

    // Nothing drifted: no new version, no distribution update, no write of any kind.
    proxy.take();
    let again = push(&proxy, &bucket, &id, &["--allow-public-read"]);
    again.assert_ok();
    assert_eq!(again.json()["routing"]["function"]["action"], "unchanged");
    assert_eq!(writes(&proxy), Vec::<String>::new());
    assert_eq!(config_of(&id).await, after);

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

/// The numbered versions of a Lambda function.
async fn lambda_versions(name: &str) -> Vec<String> {
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

#[tokio::test]
async fn old_lambda_versions_are_deleted_when_three_newer_exist_and_a_refusal_waits() {
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
async fn private_mode_publishes_a_cloudfront_function_and_attaches_oac() {
    let bucket = unique_bucket("private");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    let before = config_of(&id).await;
    let proxy = Proxy::start(&moto());

    let run = push(&proxy, &bucket, &id, &["--fix-origin"]);
    run.assert_ok();
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
async fn dry_run_shows_routing_and_invalidation_and_writes_nothing() {
    let bucket = unique_bucket("cfdry");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let proxy = Proxy::start(&moto());
    let run = push(&proxy, &bucket, &id, &["--allow-public-read", "--dry-run"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["routing"]["function"]["action"], "create");
    assert_eq!(report["routing"]["website"], "update");
    assert_eq!(report["routing"]["bucket_policy"], "update");
    assert_eq!(report["invalidation"]["paths"], serde_json::json!(["/*"]));
    assert_eq!(writes(&proxy), Vec::<String>::new());
    let check = spadeploy(
        &[
            "routing",
            "--to",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
            "--allow-public-read",
            "--check",
        ],
        None,
    );
    assert_eq!(
        check.code, 2,
        "drift before the first push: {}",
        check.stderr
    );
}

#[tokio::test]
async fn a_concurrent_distribution_change_is_retried_on_the_fresh_config() {
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

#[tokio::test]
async fn routing_errors_say_what_to_do_and_change_nothing() {
    let bucket = unique_bucket("cferr");
    create_bucket(&s3(), &bucket).await;
    let proxy = Proxy::start(&moto());

    push(&proxy, &bucket, "EDOESNOTEXIST", &[])
        .assert_fails_with(1, "distribution EDOESNOTEXIST does not exist");

    let other = unique_bucket("cfother");
    let elsewhere = create_distribution(&other, "website").await;
    push(&proxy, &bucket, &elsewhere, &[]).assert_fails_with(
        1,
        &format!("no cache behavior of distribution {elsewhere} points at bucket `{bucket}`"),
    );

    let id = create_distribution(&bucket, "website").await;
    let refused = push(&proxy, &bucket, &id, &[]);
    refused.assert_fails_with(1, "never opens a bucket without consent");
    refused.assert_fails_with(1, "allow_public_read = true");
    assert!(
        snapshot(&s3(), &bucket).await.is_empty(),
        "routing is checked before any file is written"
    );
    assert!(
        s3().get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "no policy was set"
    );

    let mismatch = push(&proxy, &bucket, &id, &["--mode", "private"]);
    mismatch.assert_fails_with(1, "pass --fix-origin");

    proxy.take();
    proxy.inject(Fault::access_denied("PUT", "/config"));
    let denied = push(&proxy, &bucket, &id, &["--allow-public-read"]);
    denied.assert_fails_with(
        1,
        &format!(
            "cloudfront:UpdateDistribution on arn:aws:cloudfront::123456789012:distribution/{id}"
        ),
    );
    denied.assert_fails_with(1, "a re-run finishes the job");

    let tmp = tempfile::tempdir().unwrap();
    let redirects: String = (0..101)
        .map(|i| format!("[[redirects]]\nfrom = \"/old{i}/\"\nto = \"/new{i}/\"\n"))
        .collect();
    write(tmp.path(), "spadeploy.toml", &redirects);
    let run = spadeploy(
        &["push", "--to", "s3://some-bucket", "--distribution", "E1"],
        Some(tmp.path()),
    );
    run.assert_fails_with(1, "evaluates at most 100");
}

/// scripts/moto_server.py corrects moto where AWS documents other behaviour; if one of its
/// patches stops applying (a moto upgrade), this test says which.
#[tokio::test]
async fn the_emulator_launcher_behaves_as_aws_documents() {
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

    use aws_sdk_cloudfront::primitives::Blob;
    use aws_sdk_cloudfront::types::{FunctionConfig, FunctionRuntime, FunctionStage};
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
