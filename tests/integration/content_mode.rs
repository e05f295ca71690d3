//! Content mode against the emulator, end to end: `spadeploy export cloudformation`'s stack is
//! created in moto from the template (tests/iac/create_stack.py, as CloudFormation would), a push
//! with `manage = "content"` writes only objects, the function's code and invalidations (the
//! recording proxy sees every request), and the site routes through the code CloudFront then
//! holds, run under Node.js. Then each wiring element is broken in turn: `doctor` exits 2 naming
//! it with its CloudFormation fix, and a content-mode push refuses with nothing written.

use std::path::Path;
use std::process::Command;

use aws_sdk_cloudfront::types::{
    CustomErrorResponse, CustomErrorResponses, DistributionConfig, EventType, FunctionAssociation,
    FunctionAssociations,
};
use serde_json::Value;

use crate::route_table::{page, project, push, run_cases, site_json};
use crate::support::proxy::Proxy;
use crate::support::*;

pub(crate) struct Stack {
    pub bucket: String,
    pub distribution: String,
    pub function: String,
    pub store: String,
}

/// The exported stack for `bucket`, created in the emulator and tagged as stack `name`.
pub(crate) fn create_stack(bucket: &str, name: &str) -> Stack {
    let python = match std::env::var("SPADEPLOY_MOTO_PYTHON") {
        Ok(path) if Path::new(&path).is_file() => path,
        other => panic!(
            "SPADEPLOY_MOTO_PYTHON is {other:?}: this test needs the python moto runs on (boto3). \
             Run ./test.sh, or export it as .venv/moto/bin/python"
        ),
    };
    let dir = tempfile::tempdir().unwrap();
    let export = spadeploy(
        &[
            "export",
            "cloudformation",
            "--to",
            &format!("s3://{bucket}"),
            "--api-origin",
            "api.example.com",
        ],
        Some(dir.path()),
    );
    export.assert_ok();
    let template = dir.path().join("stack.json");
    std::fs::write(&template, &export.stdout).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/iac/create_stack.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&template)
        .arg(moto())
        .arg(name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = |k: &str| made[k].as_str().unwrap().to_string();
    Stack {
        bucket: field("bucket"),
        distribution: field("distribution"),
        function: field("function"),
        store: field("store"),
    }
}

pub(crate) fn manifest(stack: &Stack) -> String {
    format!(
        "[target]\nto = \"s3://{}\"\n\n[cdn]\ndistribution = \"{}\"\nmanage = \"content\"\n\n\
         [routing]\nmode = \"private\"\nfunction_name = \"{}\"\n",
        stack.bucket, stack.distribution, stack.function
    )
}

fn build() -> Vec<(String, String)> {
    vec![
        ("index.html".into(), page("home")),
        ("about/index.html".into(), page("about")),
        ("404.html".into(), page("not found")),
        ("assets/app-0a1b2c3d.js".into(), "console.log(1)\n".into()),
    ]
}

/// Every write a content-mode push may make: the target's objects, the function's code and
/// publication, the store's keys, invalidations.
fn allowed(write: &str, stack: &Stack) -> bool {
    let bucket = format!("/{}/", stack.bucket);
    let function = format!("/2020-05-31/function/{}", stack.function);
    let invalidation = format!(
        "/2020-05-31/distribution/{}/invalidation",
        stack.distribution
    );
    let (method, path) = write.split_once(' ').unwrap();
    match method {
        "PUT" | "DELETE" => path.starts_with(&bucket) || (method == "PUT" && path == function),
        "POST" => {
            path == format!("/{}", stack.bucket)
                || path == format!("{function}/publish")
                || path == invalidation
                || path.starts_with("/key-value-stores/")
        }
        _ => false,
    }
}

async fn config_of(id: &str) -> (DistributionConfig, String) {
    let got = cloudfront()
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .unwrap();
    (
        got.distribution_config().unwrap().clone(),
        got.e_tag().unwrap().to_string(),
    )
}

#[tokio::test]
async fn an_exported_stack_routes_after_a_push_that_writes_only_content() {
    let stack = create_stack(&unique_bucket("iac-content"), "site");
    let dir = project(&manifest(&stack), &build());
    let to = format!("s3://{}", stack.bucket);
    let (before, etag) = config_of(&stack.distribution).await;
    let proxy = Proxy::start(&moto());
    let run = push(dir.path(), &to, &proxy, &stack.distribution, &[]);
    run.assert_ok();
    let writes = crate::support::cdn::writes(&proxy);
    let refused: Vec<&String> = writes.iter().filter(|w| !allowed(w, &stack)).collect();
    assert!(
        refused.is_empty(),
        "content mode wrote {refused:?}\nall: {writes:?}"
    );
    assert!(
        writes.iter().any(|w| w.ends_with("/publish")),
        "the code was published: {writes:?}"
    );
    let (after, etag_after) = config_of(&stack.distribution).await;
    assert_eq!(
        (after, etag_after),
        (before, etag),
        "the distribution is untouched"
    );
    // The declared configuration is kept: the export's comment and its store.
    let described = cloudfront()
        .describe_function()
        .name(&stack.function)
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .unwrap();
    let config = described
        .function_summary()
        .unwrap()
        .function_config()
        .unwrap();
    assert_eq!(config.comment(), format!("spadeploy: {to}"));
    let stores: Vec<&str> = config
        .key_value_store_associations()
        .unwrap()
        .items()
        .iter()
        .map(aws_sdk_cloudfront::types::KeyValueStoreAssociation::key_value_store_arn)
        .collect();
    assert_eq!(stores, [stack.store.as_str()]);
    let site = site_json("iac", dir.path(), &to, &stack.function).await;
    let cases: Vec<String> = [
        "/\t200\tfile:index.html",
        "/about/\t200\tfile:about/index.html",
        "/users/42\t200\tfile:index.html",
        "/assets/missing-0a1b2c3d.js\t404\tany",
    ]
    .iter()
    .map(|case| {
        let (url, rest) = case.split_once('\t').unwrap();
        format!("iac\tGET\t{url}\t{rest}")
    })
    .collect();
    run_cases(dir.path(), &[site], &cases);
}

/// One wiring element broken: the distribution patched, or the bucket policy deleted.
async fn break_wiring(stack: &Stack, element: &str) {
    if element == "bucket-policy" {
        s3().delete_bucket_policy()
            .bucket(&stack.bucket)
            .send()
            .await
            .unwrap();
        return;
    }
    let (mut config, etag) = config_of(&stack.distribution).await;
    let default = config.default_cache_behavior.as_mut().unwrap();
    match element {
        "spa-association" => default.function_associations = None,
        "host-header" => {
            default.origin_request_policy_id = Some("216adef6-5c7f-47e4-b989-5492eafa07d3".into());
        }
        "origin-access-control" => {
            config.origins.as_mut().unwrap().items[0].origin_access_control_id =
                Some(String::new());
        }
        "error-responses" => {
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
        }
        "api-untouched" => {
            let arn = format!(
                "arn:aws:cloudfront::123456789012:function/{}",
                stack.function
            );
            let association = FunctionAssociation::builder()
                .function_arn(arn)
                .event_type(EventType::ViewerRequest)
                .build()
                .unwrap();
            let api = &mut config
                .cache_behaviors
                .as_mut()
                .unwrap()
                .items
                .as_mut()
                .unwrap()[0];
            api.function_associations = Some(
                FunctionAssociations::builder()
                    .quantity(1)
                    .items(association)
                    .build()
                    .unwrap(),
            );
        }
        other => panic!("no such element {other}"),
    }
    cloudfront()
        .update_distribution()
        .id(&stack.distribution)
        .if_match(etag)
        .distribution_config(config)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn doctor_names_each_broken_wiring_element_with_its_cloudformation_fix() {
    let cases = [
        ("spa-association", "FunctionAssociations:"),
        ("api-untouched", "PathPattern: \"/api/*\""),
        (
            "origin-access-control",
            "AWS::CloudFront::OriginAccessControl",
        ),
        ("bucket-policy", "AWS::S3::BucketPolicy"),
        ("error-responses", "ErrorCode: 404"),
        ("host-header", "Managed-CORS-S3Origin"),
    ];
    for (element, fix) in cases {
        let stack = create_stack(&unique_bucket("iac-doctor"), "site");
        let dir = project(&manifest(&stack), &build());
        let doctor =
            |dir: &Path| spadeploy(&["doctor", "--json", "--endpoint-url", &moto()], Some(dir));
        let healthy = doctor(dir.path());
        healthy.assert_ok();
        break_wiring(&stack, element).await;
        let found = doctor(dir.path());
        assert_eq!(found.code, 2, "{element}: {}", found.stderr);
        let report = found.json();
        assert_eq!(
            report["iac"], "cloudformation",
            "the stack's tag picks the language"
        );
        let problems: Vec<&Value> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "problem")
            .collect();
        assert_eq!(problems.len(), 1, "{element}: {problems:#?}");
        assert_eq!(problems[0]["check"], element);
        let text = problems[0]["fix"].as_str().unwrap_or_default();
        assert!(text.contains(fix), "{element}: {text}");
        // A content-mode push refuses before writing anything, naming the element.
        let proxy = Proxy::start(&moto());
        let to = format!("s3://{}", stack.bucket);
        let refused = push(dir.path(), &to, &proxy, &stack.distribution, &[]);
        refused.assert_fails_with(1, element);
        let writes = crate::support::cdn::writes(&proxy);
        assert!(writes.is_empty(), "{element}: wrote {writes:?}");
    }
}

/// The default mode about to change a distribution a CloudFormation stack owns says so first,
/// in the dry run as in the push: the stack's next update would revert the change.
#[tokio::test]
async fn the_default_mode_warns_before_changing_a_stacks_distribution() {
    let stack = create_stack(&unique_bucket("iac-warn"), "team-site");
    // No 404 page: the function runs on viewer-request alone, so a push that manages the wiring
    // would take viewer-response off the stack's association.
    let files = vec![("index.html".to_string(), page("home"))];
    let dir = project(
        &manifest(&stack).replace("manage = \"content\"", "manage = \"all\""),
        &files,
    );
    let to = format!("s3://{}", stack.bucket);
    let proxy = Proxy::start(&moto());
    let dry = push(dir.path(), &to, &proxy, &stack.distribution, &["--dry-run"]);
    dry.assert_ok();
    let warned = dry.json()["routing"]["warnings"].to_string();
    assert!(
        warned.contains("CloudFormation stack `team-site`")
            && warned.contains("manage = \\\"content\\\""),
        "{}",
        dry.stdout
    );
    // Content mode leaves the stack's association as it is: nothing to warn about.
    let content = project(&manifest(&stack), &files);
    let quiet = push(
        content.path(),
        &to,
        &proxy,
        &stack.distribution,
        &["--dry-run"],
    );
    quiet.assert_ok();
    assert!(
        !quiet.stdout.contains("CloudFormation stack"),
        "{}",
        quiet.stdout
    );
}
