use serde_json::Value;

use super::*;
use crate::cdn::iam::actions;
use crate::config::target::TargetError;

pub(super) fn stack() -> Stack {
    Stack {
        bucket: "my-site".into(),
        prefix: "app/".into(),
        function_name: "spadeploy-my-site-app_0123456789abcdef".into(),
        api_origin: Some("api.example.com".into()),
        aliases: vec!["www.example.com".into()],
        certificate_arn: Some(
            "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-00000000000a"
                .into(),
        ),
        github: Some(GitHub {
            repo: "octo-org/site".into(),
            branch: "main".into(),
        }),
    }
}

fn template(stack: &Stack) -> Value {
    serde_json::from_str(&cloudformation(stack).unwrap()).unwrap()
}

#[test]
fn the_content_policy_writes_no_wiring() {
    let granted = actions(&content_policy(&stack()));
    for wiring in [
        "cloudfront:CreateDistribution",
        "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution",
        "cloudfront:CreateFunction",
        "cloudfront:DeleteFunction",
        "cloudfront:CreateKeyValueStore",
        "cloudfront:DeleteKeyValueStore",
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl",
        "cloudfront:ListOriginAccessControls",
    ] {
        assert!(!granted.iter().any(|a| a == wiring), "{wiring}");
    }
    for action in &granted {
        assert!(
            !action.starts_with("iam:") && !action.starts_with("lambda:"),
            "{action}"
        );
        assert!(!action.contains('*'), "{action}");
        let bucket_write =
            action.starts_with("s3:PutBucket") || action.starts_with("s3:DeleteBucket");
        assert!(!bucket_write, "{action}");
    }
    for needed in [
        "s3:PutObject",
        "cloudfront:UpdateFunction",
        "cloudfront:PublishFunction",
        "cloudfront:DescribeFunction",
        "cloudfront-keyvaluestore:UpdateKeys",
        "cloudfront:CreateInvalidation",
    ] {
        assert!(granted.iter().any(|a| a == needed), "{needed}");
    }
}

#[test]
fn every_content_grant_names_this_sites_resources() {
    let t = template(&stack());
    let policy = &t["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    for statement in policy["Statement"].as_array().unwrap() {
        let resources = match &statement["Resource"] {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        for resource in &resources {
            match resource {
                Value::String(arn) => assert!(arn.starts_with("arn:aws:s3:::my-site"), "{arn}"),
                reference => assert!(reference.is_object(), "{reference}"),
            }
        }
    }
    let objects = &policy["Statement"][1];
    assert_eq!(objects["Resource"], "arn:aws:s3:::my-site/app/*");
    let invalidation = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "SpadeployDistribution")
        .unwrap();
    assert!(invalidation["Resource"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .ends_with(":distribution/${Distribution}"));
    assert!(!t.to_string().contains('\u{1}'), "a marker was left");
}

#[test]
fn the_api_behavior_is_uncached_and_forwards_all_but_host() {
    let t = template(&stack());
    let config = &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let api = &config["CacheBehaviors"][0];
    assert_eq!(api["PathPattern"], "/api/*");
    assert_eq!(api["CachePolicyId"], CACHING_DISABLED);
    assert_eq!(api["OriginRequestPolicyId"], ALL_VIEWER_EXCEPT_HOST_HEADER);
    assert_eq!(api["AllowedMethods"].as_array().unwrap().len(), 7);
    assert!(api["FunctionAssociations"].is_null());
    let spa = &config["DefaultCacheBehavior"];
    assert_eq!(spa["CachePolicyId"], CACHING_OPTIMIZED);
    assert_eq!(spa["FunctionAssociations"].as_array().unwrap().len(), 2);
    assert!(config["CustomErrorResponses"].is_null());
    assert_eq!(config["Origins"][0]["OriginPath"], "/app");
    assert_eq!(config["Origins"][1]["DomainName"], "api.example.com");
}

#[test]
fn the_terraform_function_ignores_its_code_and_no_store_key_is_managed() {
    let text = terraform(&stack()).unwrap();
    assert!(text.contains("ignore_changes = [code]"), "{text}");
    assert!(text.contains("resource \"aws_cloudfront_key_value_store\" \"spa\""));
    assert!(!text.contains("resource \"aws_cloudfrontkeyvaluestore_keys_exclusive\""));
    assert!(!text.contains("resource \"aws_cloudfrontkeyvaluestore_key\""));
    assert!(!text.contains("custom_error_response {"));
    assert!(!text.contains('\u{1}'), "a marker was left");
    assert!(text.contains("= [aws_cloudfront_distribution.site.arn]"));
}

/// `Ref` of a CloudFront Function is its ARN; `[routing] function_name` takes the name.
#[test]
fn the_function_name_output_is_the_name() {
    let t = template(&stack());
    assert_eq!(
        t["Outputs"]["FunctionName"]["Value"],
        "spadeploy-my-site-app_0123456789abcdef"
    );
}

#[test]
fn the_bucket_policy_is_the_one_a_push_writes() {
    let t = template(&stack());
    let ours = &t["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let push = PolicyTarget {
        bucket: "my-site",
        prefix: "app/",
    }
    .private_statements("arn:aws:cloudfront::123456789012:distribution/E1");
    let sids = |list: &[Value]| list.iter().map(|s| s["Sid"].clone()).collect::<Vec<_>>();
    assert_eq!(sids(ours.as_array().unwrap()), sids(&push));
}

#[test]
fn without_an_api_or_a_repository_the_stack_has_neither() {
    let bare = Stack {
        api_origin: None,
        github: None,
        aliases: Vec::new(),
        certificate_arn: None,
        ..stack()
    };
    let t = template(&bare);
    let config = &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    assert!(config["CacheBehaviors"].is_null());
    assert_eq!(config["Origins"].as_array().unwrap().len(), 1);
    assert!(t["Resources"]["DeployRole"].is_null());
    assert!(t["Outputs"]["DeployRoleArn"].is_null());
    assert_eq!(
        config["ViewerCertificate"]["CloudFrontDefaultCertificate"],
        true
    );
    let text = terraform(&bare).unwrap();
    assert!(!text.contains("aws_iam_role") && !text.contains("ordered_cache_behavior"));
}

#[test]
fn hostile_inputs_are_refused() {
    let refused = |stack: Stack| {
        let error = cloudformation(&stack).unwrap_err();
        assert_eq!(terraform(&stack).unwrap_err(), error);
        error
    };
    for host in [
        "https://api.example.com",
        "api.example.com/v1",
        "api.example.com:8443",
        "api\".example.com",
        "${var.x}.example.com",
        "api",
        "-api.example.com",
        "api .example.com",
        "",
    ] {
        assert_eq!(
            refused(Stack {
                api_origin: Some(host.into()),
                ..stack()
            }),
            ExportError::ApiOrigin(host.into())
        );
    }
    for alias in [
        "*",
        "*.*.example.com",
        "www.example.com\"",
        "%{if}.example.com",
    ] {
        assert_eq!(
            refused(Stack {
                aliases: vec![alias.into()],
                ..stack()
            }),
            ExportError::Alias(alias.into())
        );
    }
    for repo in [
        "octo-org",
        "octo-org/*",
        "octo/site/x",
        "*/site",
        "octo/..",
        "o\"/s",
    ] {
        assert_eq!(
            refused(Stack {
                github: Some(GitHub {
                    repo: repo.into(),
                    branch: "main".into()
                }),
                ..stack()
            }),
            ExportError::GitHubRepo(repo.into())
        );
    }
    for branch in ["*", "release/*", "a..b", "${x}", "", "a b"] {
        assert_eq!(
            refused(Stack {
                github: Some(GitHub {
                    repo: "octo-org/site".into(),
                    branch: branch.into()
                }),
                ..stack()
            }),
            ExportError::GitHubBranch(branch.into())
        );
    }
}

#[test]
fn hostile_names_and_certificates_are_refused() {
    let refused = |stack: Stack| cloudformation(&stack).unwrap_err();
    assert!(matches!(
        refused(Stack {
            bucket: "My\"Site".into(),
            ..stack()
        }),
        ExportError::Scope(ScopeError::Target(TargetError::Bucket { .. }))
    ));
    assert!(matches!(
        refused(Stack {
            prefix: "a*/".into(),
            ..stack()
        }),
        ExportError::Scope(ScopeError::Target(_))
    ));
    assert!(matches!(
        refused(Stack {
            function_name: "x\"; }".into(),
            ..stack()
        }),
        ExportError::Scope(ScopeError::FunctionName(_))
    ));
    let eu = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-00000000000a";
    assert_eq!(
        refused(Stack {
            certificate_arn: Some(eu.into()),
            ..stack()
        }),
        ExportError::CertificateRegion(eu.into())
    );
    for arn in [
        "*",
        "arn:aws:acm:us-east-1:*:certificate/*",
        "arn:aws:iam::123456789012:role/x",
    ] {
        assert_eq!(
            refused(Stack {
                certificate_arn: Some(arn.into()),
                ..stack()
            }),
            ExportError::Certificate(arn.into())
        );
    }
    assert_eq!(
        refused(Stack {
            certificate_arn: None,
            ..stack()
        }),
        ExportError::AliasWithoutCertificate
    );
    assert_eq!(
        refused(Stack {
            aliases: Vec::new(),
            ..stack()
        }),
        ExportError::CertificateWithoutAlias
    );
}
