//! `spadeploy export`: the CloudFormation template must pass `cfn-lint` (errors fail the test,
//! warnings are printed); the Terraform configuration must parse with python-hcl2 and hold
//! the stack: bucket, OAC, the function with `ignore_changes = [code]`, its store, the
//! distribution's two behaviors without custom error responses, and the deploy role's policy;
//! the CDK app must synthesize with aws-cdk-lib into a template that passes `cfn-lint` and holds
//! the CloudFormation export's resources with the same properties.
//! ./test.sh installs the tools (scripts/iac-tools.sh) and names them in `SPADEPLOY_CFN_LINT`,
//! `SPADEPLOY_HCL2_PYTHON` and `SPADEPLOY_CDK_NODE_PATH`; without them these tests fail, saying so.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

const CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-00000000000a";

/// A validator (a program, or a directory of Node.js modules) named by `var`, or a failure that
/// says how to get it.
fn tool(var: &str) -> String {
    match std::env::var(var) {
        Ok(path) if Path::new(&path).exists() => path,
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

/// Every option: a prefix, the API, two aliases with their certificate, the deploy role.
const FULL: [&str; 12] = [
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
/// No option but the bucket.
const BARE: [&str; 2] = ["--to", "s3://my-site"];

/// Fails on any error cfn-lint finds in `template`, and prints its warnings.
fn assert_lints_clean(template: &str, what: &str) {
    let (code, printed) = cfn_lint(template);
    assert!(
        code == 0 || (code & 3 == 0),
        "cfn-lint found errors ({code}) in {what}:\n{printed}\n{template}"
    );
    if code != 0 {
        eprintln!("cfn-lint warnings for {what} (status {code}):\n{printed}");
    }
}

/// The manifest a push needs comes alongside the stack, on stderr.
fn assert_prints_the_manifest(run: &Run) {
    assert!(
        run.stderr.contains("[cdn]\ndistribution = "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("mode = \"private\""), "{}", run.stderr);
}

#[test]
fn the_cloudformation_template_passes_cfn_lint() {
    for args in [&FULL[..], &BARE[..]] {
        let run = export(&[&["cloudformation"], args].concat());
        assert_lints_clean(&run.stdout, &format!("cloudformation {args:?}"));
        assert_prints_the_manifest(&run);
    }
    let template: Value =
        serde_json::from_str(&export(&[&["cloudformation"], &FULL[..]].concat()).stdout).unwrap();
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

/// The CDK app synthesized as `cdk synth` does (`node app.js`: the app calls `app.synth()`,
/// which writes the cloud assembly to `CDK_OUTDIR`), with aws-cdk-lib from
/// `SPADEPLOY_CDK_NODE_PATH`. Returns the stack's template as written.
fn cdk_synth(app: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.js"), app).unwrap();
    let assembly = dir.path().join("cdk.out");
    let out = Command::new("node")
        .arg("app.js")
        .current_dir(dir.path())
        .env("NODE_PATH", tool("SPADEPLOY_CDK_NODE_PATH"))
        .env("CDK_OUTDIR", &assembly)
        .output()
        .expect("run the CDK app with node");
    assert!(
        out.status.success(),
        "the CDK app does not synthesize:\n{}\n{app}",
        String::from_utf8_lossy(&out.stderr)
    );
    let templates: Vec<_> = std::fs::read_dir(&assembly)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".template.json"))
        .collect();
    assert_eq!(templates.len(), 1, "one stack: {templates:?}");
    std::fs::read_to_string(&templates[0]).unwrap()
}

/// `value` with every reference (`Ref`, `Fn::…`) as `"<ref>"`, since the two name their logical
/// ids differently, and one-item lists as the item, since CDK writes a lone action or resource
/// of a policy that way.
fn without_references(value: &Value) -> Value {
    match value {
        Value::Object(map)
            if map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) =>
        {
            Value::from("<ref>")
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), without_references(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Array(items) if items.len() == 1 => without_references(&items[0]),
        Value::Array(items) => items.iter().map(without_references).collect(),
        other => other.clone(),
    }
}

/// The template's resources by type, references aside (each type appears once in this stack);
/// CDK's own bookkeeping left out.
fn resources_by_type(template: &Value) -> std::collections::BTreeMap<String, Value> {
    let mut by_type = std::collections::BTreeMap::new();
    for resource in template["Resources"].as_object().unwrap().values() {
        let kind = resource["Type"].as_str().unwrap().to_string();
        if kind == "AWS::CDK::Metadata" {
            continue;
        }
        let previous = by_type.insert(kind.clone(), without_references(resource));
        assert!(previous.is_none(), "two {kind} in {template:#}");
    }
    by_type
}

/// The CDK app's template holds the CloudFormation export's stack: the same resources with the
/// same properties (logical ids and how each writes a reference aside), the same outputs, the
/// OIDC parameter and condition, the description and the notes.
fn assert_same_stack(cloudformation: &Value, cdk: &Value) {
    let (mut ours, theirs) = (resources_by_type(cloudformation), resources_by_type(cdk));
    // Without a certificate the export says CloudFront's default certificate; CDK leaves the
    // setting out, which CloudFront reads as the same.
    let config = &mut ours.get_mut("AWS::CloudFront::Distribution").unwrap()["Properties"]
        ["DistributionConfig"];
    if config["ViewerCertificate"] == serde_json::json!({ "CloudFrontDefaultCertificate": true }) {
        config.as_object_mut().unwrap().remove("ViewerCertificate");
    }
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (kind, resource) in &ours {
        assert_eq!(
            resource, &theirs[kind],
            "{kind} differs\n--- CloudFormation export:\n{resource:#}\n--- CDK app:\n{:#}",
            theirs[kind]
        );
    }
    for section in ["Outputs", "Conditions", "Description", "Metadata"] {
        assert_eq!(
            without_references(&cloudformation[section]),
            without_references(&cdk[section]),
            "{section}"
        );
    }
    // CDK adds its bootstrap version check; the OIDC parameter is the same.
    for (name, parameter) in cloudformation["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
    {
        assert_eq!(parameter, &cdk["Parameters"][name], "parameter {name}");
    }
}

#[test]
fn the_cdk_app_synthesizes_the_cloudformation_exports_stack() {
    for args in [&FULL[..], &BARE[..]] {
        let app = export(&[&["cdk"], args].concat());
        assert_prints_the_manifest(&app);
        assert!(app.stdout.contains("spadeploy owns this function's code"));
        let synthesized = cdk_synth(&app.stdout);
        assert_lints_clean(
            &synthesized,
            &format!("the CDK app's template for {args:?}"),
        );
        let cloudformation = export(&[&["cloudformation"], args].concat()).stdout;
        assert_same_stack(
            &serde_json::from_str(&cloudformation).unwrap(),
            &serde_json::from_str(&synthesized).unwrap(),
        );
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
