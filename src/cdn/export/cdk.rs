//! The stack as a CDK app: one plain JavaScript file (`cdk.js`) for aws-cdk-lib v2, so that
//! `node app.js` or `cdk synth` runs it without a TypeScript compiler. The code is fixed; what
//! spadeploy decides (names, paths, events, the policy statements) goes in as one JSON value, the
//! same statements the CloudFormation and Terraform exports hold.

use serde_json::{json, Value};

use super::{
    bucket_statements, content_policy, resolve_refs, trust_policy, ExportError, Ref, Stack,
    API_ORIGIN, API_PATH, DEPLOY_POLICY_NAME, FUNCTION_CODE_NOTE, FUNCTION_EVENTS, GITHUB_OIDC_URL,
    OAC_DESCRIPTION, OIDC_PARAMETER, OIDC_PARAMETER_DESCRIPTION, PLACEHOLDER_CODE, SPA_ORIGIN,
    STORE_COMMENT, STORE_NOTE, STS_AUDIENCE,
};

/// The app, valid JavaScript alone (`node --check` reads it as it is).
const APP_JS: &str = include_str!("cdk.js");
/// The line of the app that the data replaces.
const DATA_LINE: &str = "const site = {}; // spadeploy:data\n";

/// The app for `stack`, once every input in it is validated.
pub(crate) fn cdk(stack: &Stack) -> Result<String, ExportError> {
    stack.validate()?;
    let data = resolve_refs(&site(stack), &|r| json!({ "spadeploy:ref": ref_name(r) }));
    Ok(APP_JS.replacen(DATA_LINE, &format!("const site = {data:#};\n"), 1))
}

/// The app's name for a value only known once the stack exists (a key of its `refs`).
fn ref_name(r: Ref) -> &'static str {
    match r {
        Ref::Distribution => "distributionArn",
        Ref::Function => "functionArn",
        Ref::Store => "storeArn",
        Ref::OidcProvider => "oidcProviderArn",
    }
}

/// A CloudFormation stack name (letters, digits and `-`) from the bucket's name.
fn stack_name(stack: &Stack) -> String {
    format!("spadeploy-{}", stack.bucket.replace('.', "-"))
}

/// What the app reads: JSON, which JavaScript reads as an object literal.
fn site(stack: &Stack) -> Value {
    let github = stack.github.as_ref().map(|github| {
        let trust = trust_policy(github);
        json!({
            "oidcUrl": GITHUB_OIDC_URL,
            "audience": STS_AUDIENCE,
            "oidcParameter": OIDC_PARAMETER,
            "oidcParameterDescription": OIDC_PARAMETER_DESCRIPTION,
            "trust": trust["Statement"][0],
            "roleDescription": github.role_description(),
            "policyName": DEPLOY_POLICY_NAME,
            "policy": content_policy(stack),
        })
    });
    let outputs: Vec<Value> = stack
        .outputs()
        .into_iter()
        .map(|o| json!({ "name": o.name(), "description": o.description() }))
        .collect();
    json!({
        "stackName": stack_name(stack),
        "description": stack.description(),
        "notes": { "FunctionCode": FUNCTION_CODE_NOTE, "KeyValueStore": STORE_NOTE },
        "comment": stack.comment(),
        "bucket": stack.bucket,
        "bucketPolicy": bucket_statements(stack),
        "originAccessControl": { "description": OAC_DESCRIPTION },
        "function": {
            "name": stack.function_name,
            "code": PLACEHOLDER_CODE,
            "storeComment": STORE_COMMENT,
        },
        "spa": {
            "originId": SPA_ORIGIN,
            "originPath": stack.origin_path(),
            "functionEvents": FUNCTION_EVENTS.iter().map(|e| e.name()).collect::<Vec<_>>(),
        },
        "api": stack.api_origin.as_ref().map(|host| json!({
            "path": API_PATH,
            "originId": API_ORIGIN,
            "host": host,
        })),
        "aliases": stack.aliases,
        "certificateArn": stack.certificate_arn,
        "github": github,
        "outputs": outputs,
    })
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::cdn::export::tests::stack;

    #[test]
    fn the_data_line_is_in_the_app_once() {
        assert_eq!(APP_JS.matches(DATA_LINE).count(), 1);
        let app = cdk(&stack()).unwrap();
        assert!(!app.contains("spadeploy:data"), "{app}");
        assert!(app.contains("\"bucket\": \"my-site\""), "{app}");
        assert!(!app.contains('\u{1}'), "a marker was left");
        assert!(
            app.contains("\"spadeploy:ref\": \"distributionArn\""),
            "{app}"
        );
    }

    /// The app and both variants of it parse as JavaScript (synthesizing them, which needs
    /// aws-cdk-lib, is the integration test's job).
    #[test]
    fn the_app_passes_node_check() {
        let dir = tempfile::tempdir().unwrap();
        let bare = Stack {
            api_origin: None,
            github: None,
            aliases: Vec::new(),
            certificate_arn: None,
            ..stack()
        };
        for (name, code) in [
            ("template.js", APP_JS.to_string()),
            ("full.js", cdk(&stack()).unwrap()),
            ("bare.js", cdk(&bare).unwrap()),
        ] {
            let file = dir.path().join(name);
            std::fs::write(&file, &code).unwrap();
            let out = Command::new("node")
                .arg("--check")
                .arg(&file)
                .output()
                .expect("Node.js checks the CDK app: install it (apt-get install nodejs)");
            assert!(
                out.status.success(),
                "node --check rejects {name}:\n{}\n{code}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn the_stack_name_is_one_cloudformation_takes() {
        let dotted = Stack {
            bucket: "www.example.com".into(),
            ..stack()
        };
        assert_eq!(stack_name(&dotted), "spadeploy-www-example-com");
    }
}
