//! The deploy policy `spadeploy iam-policy` prints, checked against what spadeploy really calls:
//! every code path of a mode (cold push, routing changes, a widened edge role, a failed multipart
//! upload, rollback, prune, Block Public Access) runs against moto through the recording proxy,
//! each request is named by the IAM action that authorizes it, and the policy must grant each one
//! and nothing more (but for what AWS does on spadeploy's behalf). The website-mode test deletes
//! and widens the shared edge role, so it holds the role alone (`edge_role_alone`) meanwhile.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;

use crate::support::cdn::{
    create_distribution, edge_role_alone, edge_role_shared, widen_edge_role, EDGE_ROLE as ROLE,
};
use crate::support::proxy::{Fault, FaultAction, Proxy, Recorded};
use crate::support::*;

/// Granted for what AWS does on the caller's behalf, never requested by spadeploy itself:
/// passing the role to Lambda (CreateFunction), and CloudFront replicating a Lambda@Edge function
/// when UpdateDistribution associates it.
const ON_BEHALF: [&str; 3] = [
    "iam:PassRole",
    "iam:CreateServiceLinkedRole",
    "lambda:EnableReplication*",
];

/// Bucket subresources (query key) and the IAM action names that read and write them.
const BUCKET_CONFIG: [(&str, &str); 4] = [
    ("policy", "BucketPolicy"),
    ("website", "BucketWebsite"),
    ("publicAccessBlock", "BucketPublicAccessBlock"),
    ("tagging", "BucketTagging"),
];

/// The IAM actions that authorize one recorded request.
fn actions_of(r: &Recorded) -> Vec<String> {
    if let Some(action) = &r.form_action {
        return vec![format!("iam:{action}")];
    }
    let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    let query = |name: &str| {
        r.query
            .split('&')
            .any(|p| p.split('=').next() == Some(name))
    };
    let method = r.method.as_str();
    let one = |action: &str| vec![action.to_string()];
    match parts.as_slice() {
        ["2020-05-31", "distribution", _] => one("cloudfront:GetDistribution"),
        ["2020-05-31", "distribution", _, "config"] if method == "PUT" => {
            one("cloudfront:UpdateDistribution")
        }
        ["2020-05-31", "distribution", _, "config"] => one("cloudfront:GetDistributionConfig"),
        ["2020-05-31", "distribution", _, "invalidation"] => one("cloudfront:CreateInvalidation"),
        ["2020-05-31", "distribution", _, "invalidation", _] => one("cloudfront:GetInvalidation"),
        ["2020-05-31", "function"] => one("cloudfront:CreateFunction"),
        ["2020-05-31", "function", _, "describe"] => one("cloudfront:DescribeFunction"),
        ["2020-05-31", "function", _, "publish"] => one("cloudfront:PublishFunction"),
        ["2020-05-31", "function", _] if method == "PUT" => one("cloudfront:UpdateFunction"),
        ["2020-05-31", "function", _] => one("cloudfront:GetFunction"),
        ["2020-05-31", "tagging"] if method == "GET" => one("cloudfront:ListTagsForResource"),
        ["2020-05-31", "origin-access-control"] if method == "POST" => {
            one("cloudfront:CreateOriginAccessControl")
        }
        ["2020-05-31", "origin-access-control"] => one("cloudfront:ListOriginAccessControls"),
        ["2020-05-31", "key-value-store"] => one("cloudfront:CreateKeyValueStore"),
        ["2020-05-31", "key-value-store", _] => one("cloudfront:DescribeKeyValueStore"),
        ["key-value-stores", _] => one("cloudfront-keyvaluestore:DescribeKeyValueStore"),
        ["key-value-stores", _, "keys"] if method == "POST" => {
            one("cloudfront-keyvaluestore:UpdateKeys")
        }
        ["key-value-stores", _, "keys"] => one("cloudfront-keyvaluestore:ListKeys"),
        ["key-value-stores", _, "keys", _] => one("cloudfront-keyvaluestore:GetKey"),
        ["2015-03-31", "functions"] => one("lambda:CreateFunction"),
        ["2015-03-31", "functions", _] if method == "DELETE" => one("lambda:DeleteFunction"),
        ["2015-03-31", "functions", _] => one("lambda:GetFunction"),
        ["2015-03-31", "functions", _, "versions"] if method == "POST" => {
            one("lambda:PublishVersion")
        }
        ["2015-03-31", "functions", _, "versions"] => one("lambda:ListVersionsByFunction"),
        ["2015-03-31", "functions", _, "configuration"] => one("lambda:GetFunctionConfiguration"),
        ["2015-03-31", "functions", _, "code"] => one("lambda:UpdateFunctionCode"),
        // S3, path style: /bucket or /bucket/key.
        [_] | [_, ""] => match method {
            // Bucket configuration: GET reads it, PUT (and DELETE, for tagging) writes it.
            _ if BUCKET_CONFIG.iter().any(|(q, _)| query(q)) => {
                let (_, name) = BUCKET_CONFIG.iter().find(|(q, _)| query(q)).unwrap();
                let verb = if method == "GET" { "Get" } else { "Put" };
                vec![format!("s3:{verb}{name}")]
            }
            "POST" if query("delete") => one("s3:DeleteObject"),
            _ => one("s3:ListBucket"),
        },
        _ => match method {
            "DELETE" if query("uploadId") => one("s3:AbortMultipartUpload"),
            "DELETE" => one("s3:DeleteObject"),
            "PUT" if r.copy_source => vec!["s3:PutObject".into(), "s3:GetObject".into()],
            "PUT" | "POST" => one("s3:PutObject"),
            _ => one("s3:GetObject"),
        },
    }
}

/// The actions a policy grants (each statement's `Action`, string or list).
fn granted(policy: &serde_json::Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            serde_json::Value::String(one) => vec![one.clone()],
            many => many
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

fn policy_for(bucket: &str, distribution: &str, mode: &str) -> serde_json::Value {
    policy_with(bucket, distribution, mode, &[])
}

fn policy_with(bucket: &str, distribution: &str, mode: &str, extra: &[&str]) -> serde_json::Value {
    let to = format!("s3://{bucket}");
    let mut args = vec![
        "iam-policy",
        "--to",
        &to,
        "--distribution",
        distribution,
        "--mode",
        mode,
    ];
    args.extend_from_slice(extra);
    let run = spadeploy(&args, None);
    run.assert_ok();
    serde_json::from_str(&run.stdout).unwrap()
}

/// The bucket-wide writes IAM cannot limit to a prefix.
const BUCKET_WRITES: [&str; 4] = [
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutBucketWebsite",
];

/// Removes the shared edge role, so the next install creates it.
async fn delete_edge_role() {
    let iam = iam();
    let Ok(attached) = iam
        .list_attached_role_policies()
        .role_name(ROLE)
        .send()
        .await
    else {
        return;
    };
    for policy in attached.attached_policies() {
        iam.detach_role_policy()
            .role_name(ROLE)
            .policy_arn(policy.policy_arn().unwrap())
            .send()
            .await
            .unwrap();
    }
    let inline = iam
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    for name in inline.policy_names() {
        iam.delete_role_policy()
            .role_name(ROLE)
            .policy_name(name)
            .send()
            .await
            .unwrap();
    }
    iam.delete_role().role_name(ROLE).send().await.unwrap();
}

struct Site<'a> {
    dir: &'a Path,
    bucket: &'a str,
    distribution: &'a str,
    proxy: &'a Proxy,
}

impl Site<'_> {
    fn run(&self, command: &str, extra: &[&str]) -> Run {
        let to = format!("s3://{}", self.bucket);
        let mut args = vec![command];
        if command == "push" {
            args.push(self.dir.to_str().unwrap());
        }
        args.extend([
            "--to",
            &to,
            "--endpoint-url",
            &self.proxy.url,
            "--distribution",
            self.distribution,
            "-q",
        ]);
        args.extend_from_slice(extra);
        spadeploy(&args, Some(self.dir.parent().unwrap()))
    }

    /// A new routing rule, so the next push installs new edge code.
    fn change_routing(&self, n: usize) {
        write(
            self.dir.parent().unwrap(),
            "spadeploy.toml",
            format!("[routing]\nno_fallback = [\"/v{n}/\"]\n"),
        );
    }
}

/// A multipart upload that fails must be aborted (no parts left behind, billed forever).
fn fail_the_next_part_upload(proxy: &Proxy) {
    proxy.inject(
        Fault::new(
            "PUT",
            "/media/intro.bin",
            FaultAction::Respond {
                status: 400,
                body: "<Error><Code>InvalidPart</Code><Message>no</Message></Error>".into(),
            },
        )
        .times(1),
    );
}

/// Every action the recorded requests needed.
fn called(proxy: &Proxy) -> BTreeSet<String> {
    actions(&proxy.take())
}

fn actions(records: &[Recorded]) -> BTreeSet<String> {
    records.iter().flat_map(actions_of).collect()
}

/// The stores the KeyValueStore data-plane requests named (`/key-value-stores/{ARN}/...`).
fn stores_written(records: &[Recorded]) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|r| r.path.strip_prefix("/key-value-stores/"))
        .map(|rest| {
            let arn = rest.split('/').next().unwrap_or_default();
            percent_encoding::percent_decode_str(arn)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

fn assert_policy_matches(policy: &serde_json::Value, called: &BTreeSet<String>, mode: &str) {
    let granted = granted(policy);
    let missing: Vec<_> = called.difference(&granted).collect();
    assert!(
        missing.is_empty(),
        "{mode} mode calls but is not granted: {missing:?}"
    );
    let unused: Vec<_> = granted
        .iter()
        .filter(|a| !called.contains(*a) && !ON_BEHALF.contains(&a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "{mode} mode is granted but never calls: {unused:?}"
    );
}

/// A build with a file large enough for a multipart upload, and the demo SPA.
fn build(root: &Path) -> std::path::PathBuf {
    let dir = root.join("dist");
    copy_dir(&demo_spa(), &dir);
    write(&dir, "media/intro.bin", vec![7u8; 17 * 1024 * 1024]);
    dir
}

#[tokio::test]
async fn the_website_policy_grants_exactly_what_website_mode_calls() {
    let _role = edge_role_alone().await;
    // Website mode: every path, from a bucket that blocks public policies and no edge role.
    delete_edge_role().await;
    let tmp = tempfile::tempdir().unwrap();
    let bucket = unique_bucket("iamweb");
    create_bucket(&s3(), &bucket).await;
    block_public_access(&bucket).await;
    let distribution = create_distribution(&bucket, "website").await;
    let proxy = Proxy::start(&moto());
    let dir = build(tmp.path());
    let site = Site {
        dir: &dir,
        bucket: &bucket,
        distribution: &distribution,
        proxy: &proxy,
    };
    fail_the_next_part_upload(&proxy);
    site.run("push", &["--allow-public-read"])
        .assert_fails_with(1, "intro.bin");
    site.run("push", &["--allow-public-read", "--wait"])
        .assert_ok();
    widen_edge_role().await;
    for n in 1..=4 {
        site.change_routing(n);
        write(&dir, "index.html", format!("<h1>release {n}</h1>"));
        site.run("push", &["--allow-public-read"]).assert_ok();
    }
    site.run("rollback", &["--allow-public-read"]).assert_ok();
    site.run("prune", &["--keep-releases", "1", "--allow-public-read"])
        .assert_ok();
    let website = called(&proxy);
    assert!(
        website.contains("s3:AbortMultipartUpload") && website.contains("iam:DetachRolePolicy"),
        "the rare paths ran: {website:?}"
    );
    assert_policy_matches(
        &policy_for(&bucket, &distribution, "website"),
        &website,
        "website",
    );
}

/// A private-mode site on a fresh bucket and distribution, through `proxy`.
struct PrivateSite {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    bucket: String,
    distribution: String,
}

impl PrivateSite {
    async fn new() -> PrivateSite {
        let bucket = unique_bucket("iampriv");
        create_bucket(&s3(), &bucket).await;
        let distribution = create_distribution(&bucket, "rest").await;
        let tmp = tempfile::tempdir().unwrap();
        let dir = build(tmp.path());
        PrivateSite {
            _tmp: tmp,
            dir,
            bucket,
            distribution,
        }
    }

    fn on<'a>(&'a self, proxy: &'a Proxy) -> Site<'a> {
        Site {
            dir: &self.dir,
            bucket: &self.bucket,
            distribution: &self.distribution,
            proxy,
        }
    }
}

/// Private mode, every path: Origin Access Control attached, function published and updated,
/// Block Public Access restored after an earlier website mode relaxed it, and a route table too
/// large for the function, whose KeyValueStore filling is cut short once. Returns the requests.
async fn every_private_path(private: &PrivateSite, proxy: &Proxy) -> Vec<Recorded> {
    let site = private.on(proxy);
    let (bucket, dir) = (&private.bucket, &private.dir);
    {
        use aws_sdk_s3::types::{Tag, Tagging};
        let tag = Tag::builder()
            .key("spadeploy:relaxed-public-access")
            .value("BlockPublicPolicy")
            .build()
            .unwrap();
        let tagging = Tagging::builder().tag_set(tag).build().unwrap();
        s3().put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .unwrap();
    }
    proxy.take();
    fail_the_next_part_upload(proxy);
    site.run("push", &["--fix-origin", "--mode", "private"])
        .assert_fails_with(1, "intro.bin");
    site.run("push", &["--fix-origin", "--mode", "private", "--wait"])
        .assert_ok();
    site.change_routing(1);
    write(dir, "index.html", "<h1>private 2</h1>");
    site.run("push", &["--mode", "private"]).assert_ok();
    site.run("rollback", &["--mode", "private"]).assert_ok();
    site.run("prune", &["--keep-releases", "1", "--mode", "private"])
        .assert_ok();
    // A route table too large for the function: a KeyValueStore, whose filling is cut short
    // once (the store is then listed to finish it).
    for i in 0..400 {
        write(dir, &format!("docs/page-{i}.html"), format!("<h1>{i}</h1>"));
    }
    proxy.inject(
        Fault::new(
            "POST",
            "/keys",
            FaultAction::Respond {
                status: 400,
                body: "{\"__type\":\"ValidationException\",\"Message\":\"no\"}".into(),
            },
        )
        .every(2)
        .times(1),
    );
    site.run("push", &["--mode", "private"])
        .assert_fails_with(1, "UpdateKeys");
    site.run("push", &["--mode", "private"]).assert_ok();
    proxy.take()
}

#[tokio::test]
async fn the_private_policy_grants_exactly_what_private_mode_calls() {
    let _role = edge_role_shared().await;
    let site = PrivateSite::new().await;
    let proxy = Proxy::start(&moto());
    let records = every_private_path(&site, &proxy).await;
    let private = actions(&records);
    assert!(
        private.contains("cloudfront-keyvaluestore:ListKeys"),
        "the rare path ran: {private:?}"
    );
    assert_policy_matches(
        &policy_for(&site.bucket, &site.distribution, "private"),
        &private,
        "private",
    );
}

/// Once the store exists, its ARN narrows the store actions to it: every store request went
/// to that store, and all but creating one are granted on it alone.
#[tokio::test]
async fn a_key_value_store_arn_narrows_the_store_actions_to_that_store() {
    let _role = edge_role_shared().await;
    let site = PrivateSite::new().await;
    let proxy = Proxy::start(&moto());
    let records = every_private_path(&site, &proxy).await;
    let private = actions(&records);
    let (bucket, distribution) = (&site.bucket, &site.distribution);
    let stores = stores_written(&records);
    assert_eq!(stores.len(), 1, "one store: {stores:?}");
    let store = stores.iter().next().unwrap();
    let pinned = policy_with(
        bucket,
        distribution,
        "private",
        &["--account-id", "123456789012", "--key-value-store", store],
    );
    let statement = pinned["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "SpadeployRouteStore")
        .unwrap();
    assert_eq!(statement["Resource"], store.as_str());
    let store_calls: BTreeSet<String> = private
        .iter()
        .filter(|a| a.contains("KeyValueStore") || a.starts_with("cloudfront-keyvaluestore:"))
        .filter(|a| *a != "cloudfront:CreateKeyValueStore")
        .cloned()
        .collect();
    assert_eq!(granted(&json!({ "Statement": [statement] })), store_calls);
}

/// The bucket is wired: a push with --no-bucket-policy needs no bucket-wide write, and the policy
/// printed with --no-bucket-policy grants all it calls.
#[tokio::test]
async fn a_push_to_a_wired_bucket_with_no_bucket_policy_calls_only_what_that_policy_grants() {
    let _role = edge_role_shared().await;
    let private = PrivateSite::new().await;
    let proxy = Proxy::start(&moto());
    let site = private.on(&proxy);
    let (bucket, distribution, dir) = (&private.bucket, &private.distribution, &private.dir);
    site.run("push", &["--fix-origin", "--mode", "private"])
        .assert_ok();
    proxy.take();
    write(dir, "index.html", "<h1>private 3</h1>");
    site.run("push", &["--mode", "private", "--no-bucket-policy"])
        .assert_ok();
    let content_only = called(&proxy);
    let narrowed = policy_with(bucket, distribution, "private", &["--no-bucket-policy"]);
    let narrowed = granted(&narrowed);
    let missing: Vec<_> = content_only.difference(&narrowed).collect();
    assert!(missing.is_empty(), "called but not granted: {missing:?}");
    assert!(narrowed
        .iter()
        .all(|a| !BUCKET_WRITES.contains(&a.as_str())));
}

/// A bucket that is not wired yet: `push --no-bucket-policy` fails before any bucket-wide write
/// and says what is missing and how to fix it.
#[tokio::test]
async fn a_push_without_bucket_writes_never_writes_the_bucket_configuration() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("iamnopol");
    create_bucket(&s3(), &bucket).await;
    let distribution = create_distribution(&bucket, "rest").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dist");
    copy_dir(&demo_spa(), &dir);
    let proxy = Proxy::start(&moto());
    let site = Site {
        dir: &dir,
        bucket: &bucket,
        distribution: &distribution,
        proxy: &proxy,
    };
    for command in ["push", "diff"] {
        let run = site.run(
            command,
            &["--mode", "private", "--fix-origin", "--no-bucket-policy"],
        );
        assert_ne!(run.code, 0, "{command}: {}", run.stderr);
        assert!(
            run.stderr.contains("--no-bucket-policy")
                && run.stderr.contains("the bucket policy lacks")
                && run.stderr.contains("spadeploy iam-policy"),
            "{command}: {}",
            run.stderr
        );
    }
    let calls = called(&proxy);
    let written: Vec<_> = calls
        .iter()
        .filter(|a| BUCKET_WRITES.contains(&a.as_str()))
        .collect();
    assert!(written.is_empty(), "bucket-wide writes: {written:?}");
    let policy = s3().get_bucket_policy().bucket(&bucket).send().await;
    assert!(policy.is_err(), "no policy was written: {policy:?}");
    let objects = s3().list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(objects.key_count(), Some(0), "nothing was written");
}

/// Input that would put a wildcard or a policy variable into an ARN is refused, with what a
/// valid value looks like, and no policy is printed.
#[test]
fn iam_policy_refuses_input_that_would_widen_a_grant() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--to", "s3://my-site", "--distribution", "*"],
            "invalid distribution id `*`",
        ),
        (
            &["--to", "s3://my-site", "--distribution", "${aws:username}"],
            "invalid distribution id",
        ),
        (
            &["--to", "s3://my-site/*", "--distribution", "E2QWRUHAPOMQZL"],
            "invalid key prefix",
        ),
        (&["--to", "s3://my-site/a?"], "invalid key prefix `a?`"),
        (
            &["--to", "s3://my-site/${aws:username}"],
            "invalid key prefix",
        ),
        (
            &["--to", "s3://my-site", "--account-id", "1:*"],
            "invalid account id `1:*`",
        ),
        (
            &[
                "--to",
                "s3://my-site",
                "--distribution",
                "E1",
                "--key-value-store",
                "arn:aws:cloudfront::123456789012:key-value-store/*",
            ],
            "invalid KeyValueStore ARN",
        ),
    ];
    for (args, error) in cases {
        let mut argv = vec!["iam-policy"];
        argv.extend_from_slice(args);
        let run = spadeploy(&argv, None);
        assert_ne!(run.code, 0, "{args:?} is refused");
        assert!(run.stderr.contains(error), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed {}", run.stdout);
    }
}

/// Content mode against the exported stack: the policy `iam-policy --manage content` prints
/// grants every action two pushes make (the route table in the stack's store, `--wait`, then
/// `--verify-remote`), and nothing they never call.
#[tokio::test]
async fn the_content_policy_grants_exactly_what_content_mode_calls() {
    use crate::content_mode::{create_stack, manifest};
    let stack = create_stack(&unique_bucket("iamcontent"), "site");
    let pages: Vec<(String, String)> = (0..1500)
        .map(|i| (format!("docs/page-{i}/index.html"), format!("<h1>{i}</h1>")))
        .chain([("index.html".to_string(), "<h1>home</h1>".to_string())])
        .collect();
    let dir = crate::route_table::project(&manifest(&stack), &pages);
    let to = format!("s3://{}", stack.bucket);
    let proxy = Proxy::start(&moto());
    // A multipart upload cut short is aborted: the first push fails on it, the second is whole.
    let dist = dir.path().join("dist");
    write(&dist, "media/intro.bin", vec![7u8; 17 * 1024 * 1024]);
    fail_the_next_part_upload(&proxy);
    crate::route_table::push(dir.path(), &to, &proxy, &stack.distribution, &[])
        .assert_fails_with(1, "intro.bin");
    crate::route_table::push(dir.path(), &to, &proxy, &stack.distribution, &["--wait"]).assert_ok();
    write(&dist, "index.html", "<h1>home 2</h1>");
    crate::route_table::push(
        dir.path(),
        &to,
        &proxy,
        &stack.distribution,
        &["--verify-remote"],
    )
    .assert_ok();
    let records = proxy.take();
    assert_eq!(
        stores_written(&records),
        BTreeSet::from([stack.store.clone()])
    );
    let called = actions(&records);
    let policy = policy_with(
        &stack.bucket,
        &stack.distribution,
        "private",
        &["--manage", "content"],
    );
    assert_policy_matches(&policy, &called, "content");
    assert!(
        granted(&policy).iter().all(|a| !a.starts_with("iam:")
            && !BUCKET_WRITES.contains(&a.as_str())
            && !a.starts_with("cloudfront:Create")
            || a == "cloudfront:CreateInvalidation"),
        "{policy:#}"
    );
}
