//! `spadeploy iam-policy`: the least-privilege IAM policy the configured target, distribution and
//! routing mode need — S3 actions on exactly that bucket and prefix, CloudFront on exactly that
//! distribution, and Lambda/IAM only for Lambda@Edge.

use serde_json::{json, Value};

use crate::cdn::edge_role::{EDGE_ROLE, EDGE_SERVICES, LOGS_POLICY};
use crate::config::routing::Mode;

pub struct PolicyScope<'a> {
    pub bucket: &'a str,
    /// Empty or ending with `/`.
    pub prefix: &'a str,
    pub distribution: Option<&'a str>,
    /// `None` with a distribution: both modes' statements (the mode is detected at push time).
    pub mode: Option<Mode>,
    pub function_name: &'a str,
    /// `*` when unknown.
    pub account: &'a str,
}

pub fn policy(scope: &PolicyScope<'_>) -> Value {
    let mut statements = objects(scope);
    let Some(distribution) = scope.distribution else {
        return document(statements);
    };
    statements.extend(distribution_statements(scope, distribution));
    if scope.mode != Some(Mode::Website) {
        statements.extend(cloudfront_function(scope));
    }
    if scope.mode != Some(Mode::Private) {
        statements.extend(lambda_edge(scope));
        statements.extend(edge_role(scope));
    }
    document(statements)
}

fn bucket_arn(scope: &PolicyScope<'_>) -> String {
    format!("arn:aws:s3:::{}", scope.bucket)
}

/// Every push: the target's objects, listing limited to its prefix.
fn objects(scope: &PolicyScope<'_>) -> Vec<Value> {
    let bucket_arn = bucket_arn(scope);
    let mut list = json!({
        "Sid": "SpadeployList",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
    });
    if !scope.prefix.is_empty() {
        list["Condition"] =
            json!({ "StringLike": { "s3:prefix": [format!("{}*", scope.prefix)] } });
    }
    vec![
        list,
        json!({
            "Sid": "SpadeployObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": format!("{bucket_arn}/{}*", scope.prefix),
        }),
    ]
}

/// With a distribution, in either mode: the bucket's policy and access settings, and the
/// distribution itself.
fn distribution_statements(scope: &PolicyScope<'_>, distribution: &str) -> Vec<Value> {
    vec![
        json!({
            "Sid": "SpadeployBucketRouting",
            "Effect": "Allow",
            "Action": [
                "s3:GetBucketPolicy", "s3:PutBucketPolicy",
                "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketTagging", "s3:PutBucketTagging"
            ],
            "Resource": bucket_arn(scope),
        }),
        json!({
            "Sid": "SpadeployDistribution",
            "Effect": "Allow",
            "Action": [
                "cloudfront:GetDistribution",
                "cloudfront:UpdateDistribution", "cloudfront:CreateInvalidation",
                "cloudfront:GetInvalidation"
            ],
            "Resource": format!("arn:aws:cloudfront::{}:distribution/{distribution}", scope.account),
        }),
    ]
}

/// Private mode: the CloudFront Function, the KeyValueStore of large route tables, and Origin
/// Access Control.
fn cloudfront_function(scope: &PolicyScope<'_>) -> Vec<Value> {
    vec![
        json!({
            "Sid": "SpadeployCloudFrontFunction",
            "Effect": "Allow",
            "Action": [
                "cloudfront:DescribeFunction", "cloudfront:GetFunction", "cloudfront:CreateFunction",
                "cloudfront:UpdateFunction", "cloudfront:PublishFunction"
            ],
            "Resource": format!("arn:aws:cloudfront::{}:function/{}", scope.account, scope.function_name),
        }),
        // A store's ARN carries an id CloudFront picks, so it cannot be named here.
        json!({
            "Sid": "SpadeployRouteStore",
            "Effect": "Allow",
            "Action": [
                "cloudfront:DescribeKeyValueStore", "cloudfront:CreateKeyValueStore",
                "cloudfront-keyvaluestore:DescribeKeyValueStore", "cloudfront-keyvaluestore:GetKey",
                "cloudfront-keyvaluestore:ListKeys", "cloudfront-keyvaluestore:UpdateKeys"
            ],
            "Resource": format!("arn:aws:cloudfront::{}:key-value-store/*", scope.account),
        }),
        json!({
            "Sid": "SpadeployOriginAccessControl",
            "Effect": "Allow",
            "Action": ["cloudfront:ListOriginAccessControls", "cloudfront:CreateOriginAccessControl"],
            "Resource": "*",
        }),
    ]
}

/// Website mode: the bucket's website configuration and the Lambda@Edge function.
fn lambda_edge(scope: &PolicyScope<'_>) -> Vec<Value> {
    let function = format!(
        "arn:aws:lambda:us-east-1:{}:function:{}",
        scope.account, scope.function_name
    );
    vec![
        json!({
            "Sid": "SpadeployBucketWebsite",
            "Effect": "Allow",
            "Action": ["s3:GetBucketWebsite", "s3:PutBucketWebsite"],
            "Resource": bucket_arn(scope),
        }),
        json!({
            "Sid": "SpadeployLambdaEdge",
            "Effect": "Allow",
            "Action": [
                "lambda:ListVersionsByFunction", "lambda:GetFunctionConfiguration",
                "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:PublishVersion",
                "lambda:DeleteFunction", "lambda:EnableReplication*"
            ],
            "Resource": [function.clone(), format!("{function}:*")],
        }),
    ]
}

/// Website mode: the edge function's role. It can be created only with the logging policy as
/// its permissions boundary, given only that policy, and passed only to Lambda: leaked deploy
/// credentials cannot turn it into an administrator that runs their code.
fn edge_role(scope: &PolicyScope<'_>) -> Vec<Value> {
    let account = scope.account;
    let role = format!("arn:aws:iam::{account}:role/{EDGE_ROLE}");
    vec![
        json!({
            "Sid": "SpadeployEdgeRoleRead",
            "Effect": "Allow",
            "Action": ["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"],
            "Resource": role,
        }),
        json!({
            "Sid": "SpadeployEdgeRoleCreate",
            "Effect": "Allow",
            "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "Resource": role,
            "Condition": { "StringEquals": { "iam:PermissionsBoundary": LOGS_POLICY } },
        }),
        json!({
            "Sid": "SpadeployEdgeRoleLogs",
            "Effect": "Allow",
            "Action": "iam:AttachRolePolicy",
            "Resource": role,
            "Condition": { "ArnEquals": { "iam:PolicyARN": LOGS_POLICY } },
        }),
        json!({
            "Sid": "SpadeployEdgeRoleRepair",
            "Effect": "Allow",
            "Action": ["iam:UpdateAssumeRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": role,
        }),
        json!({
            "Sid": "SpadeployEdgeRolePass",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role,
            "Condition": { "StringEquals": { "iam:PassedToService": EDGE_SERVICES } },
        }),
        json!({
            "Sid": "SpadeployEdgeReplication",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": format!(
                "arn:aws:iam::{account}:role/aws-service-role/replicator.lambda.amazonaws.com/AWSServiceRoleForLambdaReplicator"
            ),
        }),
    ]
}

fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(distribution: Option<&'static str>, mode: Option<Mode>) -> PolicyScope<'static> {
        PolicyScope {
            bucket: "my-site",
            prefix: "app/",
            distribution,
            mode,
            function_name: "spadeploy-my-site",
            account: "123456789012",
        }
    }

    fn sids(policy: &Value) -> Vec<&str> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_plain_sync_needs_only_the_bucket_and_prefix() {
        let p = policy(&scope(None, None));
        assert_eq!(sids(&p), ["SpadeployList", "SpadeployObjects"]);
        assert_eq!(p["Statement"][1]["Resource"], "arn:aws:s3:::my-site/app/*");
        assert_eq!(
            p["Statement"][0]["Condition"]["StringLike"]["s3:prefix"][0],
            "app/*"
        );
    }

    #[test]
    fn the_edge_role_cannot_be_widened_with_the_deploy_policy() {
        let website = policy(&scope(Some("E1"), Some(Mode::Website)));
        let statements = website["Statement"].as_array().unwrap();
        let granting = |action: &str| -> Vec<&Value> {
            statements
                .iter()
                .filter(|s| {
                    s["Action"] == action
                        || s["Action"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|x| x == action))
                })
                .collect()
        };
        let attach = granting("iam:AttachRolePolicy");
        assert_eq!(attach.len(), 1);
        assert_eq!(
            attach[0]["Condition"]["ArnEquals"]["iam:PolicyARN"],
            LOGS_POLICY
        );
        let create = granting("iam:CreateRole");
        assert_eq!(
            create[0]["Condition"]["StringEquals"]["iam:PermissionsBoundary"],
            LOGS_POLICY
        );
        let pass = granting("iam:PassRole");
        assert_eq!(
            pass[0]["Condition"]["StringEquals"]["iam:PassedToService"],
            json!(EDGE_SERVICES)
        );
        for widening in [
            "iam:PutRolePolicy",
            "iam:DeleteRolePermissionsBoundary",
            "iam:*",
        ] {
            assert!(granting(widening).is_empty(), "{widening} is never granted");
        }
    }

    #[test]
    fn each_mode_adds_only_what_it_uses() {
        let private = policy(&scope(Some("E1"), Some(Mode::Private)));
        assert!(sids(&private).contains(&"SpadeployCloudFrontFunction"));
        assert!(!sids(&private)
            .iter()
            .any(|s| s.contains("Lambda") || s.contains("Role")));
        let website = policy(&scope(Some("E1"), Some(Mode::Website)));
        assert!(sids(&website).contains(&"SpadeployLambdaEdge"));
        assert!(!sids(&website).contains(&"SpadeployCloudFrontFunction"));
        let distribution = website["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "SpadeployDistribution")
            .unwrap();
        assert_eq!(
            distribution["Resource"],
            "arn:aws:cloudfront::123456789012:distribution/E1"
        );
        let both = policy(&scope(Some("E1"), None));
        assert!(
            sids(&both).contains(&"SpadeployLambdaEdge")
                && sids(&both).contains(&"SpadeployCloudFrontFunction")
        );
    }
}
