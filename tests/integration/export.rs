//! `spadeploy export`: the CloudFormation template must pass `cfn-lint` (errors fail the test,
//! warnings are printed), and the Terraform configuration must parse with python-hcl2 and hold
//! the stack: bucket, OAC, the function with `ignore_changes = [code]`, its store, the
//! distribution's two behaviors without custom error responses, and the deploy role's policy.
//! ./test.sh installs both tools (scripts/iac-tools.sh) and names them in `SPADEPLOY_CFN_LINT`
//! and `SPADEPLOY_HCL2_PYTHON`; without them these tests fail, saying so.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

const CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-00000000000a";

/// A validator named by `var`, or a failure that says how to get it.
fn tool(var: &str) -> String {
    match std::env::var(var) {
        Ok(path) if Path::new(&path).is_file() => path,
        other => panic!(
            "{var} is {other:?}: the export tests need it. Run ./test.sh, or \
             `eval \"$(scripts/iac-tools.sh)\"` before cargo test"
        ),
    }
}

fn export(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let run = spadeploy(&[&["export"], args].concat(), Some(dir.path()));
    run.assert_ok();
    run
}

/// Runs cfn-lint on `template`: its exit status is a bit mask (2 errors, 4 warnings, 8
/// informational; 1 a fatal error). Returns what it printed.
fn cfn_lint(template: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.json");
    std::fs::write(&path, template).unwrap();
    let out = Command::new(tool("SPADEPLOY_CFN_LINT"))
        .arg("--")
        .arg(&path)
        .output()
        .expect("run cfn-lint");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), printed)
}

#[test]
fn the_cloudformation_template_passes_cfn_lint() {
    let full = [
        "cloudformation",
        "--to",
        "s3://my-site/app",
        "--api-origin",
        "api.example.com",
        "--alias",
        "www.example.com",
        "--alias",
        "example.com",
        "--certificate-arn",
        CERTIFICATE,
        "--github-repo",
        "octo-org/site",
    ];
    let bare = ["cloudformation", "--to", "s3://my-site"];
    for args in [&full[..], &bare[..]] {
        let run = export(args);
        let (code, printed) = cfn_lint(&run.stdout);
        assert!(
            code == 0 || (code & 3 == 0),
            "cfn-lint found errors ({code}) in {args:?}:\n{printed}\n{}",
            run.stdout
        );
        if code != 0 {
            eprintln!("cfn-lint warnings for {args:?} (status {code}):\n{printed}");
        }
        // The manifest a push needs comes alongside, on stderr.
        assert!(
            run.stderr.contains("[cdn]\ndistribution = "),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("mode = \"private\""), "{}", run.stderr);
    }
    let template: Value = serde_json::from_str(&export(&full).stdout).unwrap();
    let outputs = template["Outputs"].as_object().unwrap();
    for name in [
        "BucketName",
        "DistributionId",
        "FunctionName",
        "KeyValueStoreArn",
        "DeployRoleArn",
    ] {
        assert!(outputs.contains_key(name), "output {name}");
    }
}

/// The configuration as python-hcl2 reads it (strings unquoted, blocks as lists).
fn parse_hcl(text: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.tf");
    std::fs::write(&path, text).unwrap();
    let script = "import hcl2, json, sys\n\
        from hcl2.utils import SerializationOptions as S\n\
        options = S(strip_string_quotes=True, explicit_blocks=False, with_comments=False)\n\
        with open(sys.argv[1]) as f:\n    print(json.dumps(hcl2.load(f, serialization_options=options)))\n";
    let out = Command::new(tool("SPADEPLOY_HCL2_PYTHON"))
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("run python-hcl2");
    assert!(
        out.status.success(),
        "python-hcl2 cannot parse the export:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `resource "kind" "name"` (or `data`) from python-hcl2's list of one-entry maps.
fn find<'v>(parsed: &'v Value, section: &str, kind: &str, name: &str) -> &'v Value {
    parsed[section]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|r| r.get(kind).and_then(|k| k.get(name)))
        .unwrap_or_else(|| panic!("no {section} {kind}.{name} in {parsed:#}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn the_terraform_configuration_parses_and_holds_the_stack() {
    let run = export(&[
        "terraform",
        "--to",
        "s3://my-site/app",
        "--api-origin",
        "api.example.com",
        "--github-repo",
        "octo-org/site",
    ]);
    let text = &run.stdout;
    let tf = parse_hcl(text);
    let bucket = find(&tf, "resource", "aws_s3_bucket", "site");
    assert_eq!(bucket["bucket"], "my-site");
    let block = find(&tf, "resource", "aws_s3_bucket_public_access_block", "site");
    for setting in [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ] {
        assert_eq!(block[setting], true, "{setting}");
    }
    let oac = find(
        &tf,
        "resource",
        "aws_cloudfront_origin_access_control",
        "site",
    );
    assert_eq!(oac["signing_behavior"], "always");
    let function = find(&tf, "resource", "aws_cloudfront_function", "spa");
    assert_eq!(function["runtime"], "cloudfront-js-2.0");
    assert_eq!(
        strings(&function["lifecycle"][0]["ignore_changes"]),
        ["code"]
    );
    assert!(function["code"]
        .as_str()
        .unwrap()
        .contains("function handler(event)"));
    assert_eq!(
        strings(&function["key_value_store_associations"]),
        ["${aws_cloudfront_key_value_store.spa.arn}"]
    );
    // Why the code is ignored is said next to it.
    assert!(text.contains("publishes this function's code on every push"));
    find(&tf, "resource", "aws_cloudfront_key_value_store", "spa");
    assert!(!text.contains("resource \"aws_cloudfrontkeyvaluestore_keys_exclusive\""));
    let distribution = find(&tf, "resource", "aws_cloudfront_distribution", "site");
    assert_the_behaviors(distribution);
    assert_the_deploy_policy(&tf);
    assert!(text.contains("# [routing]\n# mode = \"private\""), "{text}");
}

fn assert_the_behaviors(distribution: &Value) {
    assert!(distribution.get("custom_error_response").is_none());
    let origins = distribution["origin"].as_array().unwrap();
    assert_eq!(origins.len(), 2);
    assert_eq!(origins[0]["origin_path"], "/app");
    assert_eq!(origins[1]["domain_name"], "api.example.com");
    let spa = &distribution["default_cache_behavior"][0];
    assert_eq!(spa["target_origin_id"], "spa");
    assert_eq!(
        spa["cache_policy_id"],
        "658327ea-f89d-4fab-a63d-7e88639e58f6"
    );
    assert_eq!(spa["viewer_protocol_policy"], "redirect-to-https");
    let events: Vec<&str> = spa["function_association"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["viewer-request", "viewer-response"]);
    let behaviors = distribution["ordered_cache_behavior"].as_array().unwrap();
    assert_eq!(behaviors.len(), 1);
    let api = &behaviors[0];
    assert_eq!(api["path_pattern"], "/api/*");
    assert_eq!(api["target_origin_id"], "api");
    assert_eq!(
        api["cache_policy_id"],
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    assert_eq!(
        api["origin_request_policy_id"],
        "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    );
    assert_eq!(strings(&api["allowed_methods"]).len(), 7);
    assert!(api.get("function_association").is_none());
}

fn assert_the_deploy_policy(tf: &Value) {
    let content = find(tf, "data", "aws_iam_policy_document", "deploy_content");
    let actions: Vec<&str> = content["statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| strings(&s["actions"]))
        .collect();
    for needed in [
        "s3:PutObject",
        "cloudfront:UpdateFunction",
        "cloudfront:PublishFunction",
        "cloudfront-keyvaluestore:UpdateKeys",
        "cloudfront:CreateInvalidation",
    ] {
        assert!(actions.contains(&needed), "{needed} in {actions:?}");
    }
    for action in &actions {
        let wiring = action.starts_with("iam:")
            || action.starts_with("s3:PutBucket")
            || matches!(
                *action,
                "cloudfront:UpdateDistribution"
                    | "cloudfront:CreateFunction"
                    | "cloudfront:CreateKeyValueStore"
            );
        assert!(!wiring, "{action} writes wiring");
    }
    let trust = find(tf, "data", "aws_iam_policy_document", "deploy_trust");
    let conditions = trust["statement"][0]["condition"].as_array().unwrap();
    assert!(conditions
        .iter()
        .any(|c| strings(&c["values"]) == ["repo:octo-org/site:ref:refs/heads/main"]));
    let policy = find(tf, "resource", "aws_iam_role_policy", "deploy");
    assert_eq!(
        policy["policy"],
        "${data.aws_iam_policy_document.deploy_content.json}"
    );
}

#[test]
fn hostile_or_incomplete_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], needle: &str| {
        spadeploy(&[&["export"], args].concat(), Some(dir.path())).assert_fails_with(1, needle);
    };
    refused(
        &[
            "terraform",
            "--to",
            "s3://my-site",
            "--api-origin",
            "api.example.com\" }",
        ],
        "invalid --api-origin",
    );
    refused(
        &[
            "cloudformation",
            "--to",
            "s3://my-site",
            "--api-origin",
            "https://api.example.com",
        ],
        "host name only",
    );
    refused(
        &[
            "terraform",
            "--to",
            "s3://my-site",
            "--github-repo",
            "octo-org/*",
        ],
        "invalid --github-repo",
    );
    refused(
        &[
            "terraform",
            "--to",
            "s3://my-site",
            "--alias",
            "www.example.com",
        ],
        "--alias needs --certificate-arn",
    );
    refused(&["terraform", "--to", "./site"], "needs an s3:// target");
    refused(&["terraform"], "needs an s3:// target");
}
