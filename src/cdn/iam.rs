//! `spadeploy iam-policy`: the least-privilege IAM policy the configured target, distribution and
//! routing mode need — S3 actions on exactly that bucket and prefix, CloudFront on exactly that
//! distribution, and Lambda/IAM only for Lambda@Edge.
//!
//! Every value that reaches an ARN or a condition is validated first: in IAM `*` and `?` are
//! wildcards and `${...}` is a policy variable, so an unchecked `--distribution '*'` or prefix
//! `a?` would grant far more than the one site. The only wildcards in the policy are spadeploy's
//! own (`prefix*` for the prefix's keys, `*` for an account id or store id it cannot know).

use serde_json::{json, Value};

use crate::cdn::edge_role::{EDGE_ROLE, EDGE_SERVICES, LOGS_POLICY};
use crate::config::routing::Mode;
use crate::config::target::{self, TargetError};

pub(crate) struct PolicyScope<'a> {
    pub bucket: &'a str,
    /// Empty or ending with `/`.
    pub prefix: &'a str,
    pub distribution: Option<&'a str>,
    /// `None` with a distribution: both modes' statements (the mode is detected at push time).
    pub mode: Option<Mode>,
    pub function_name: &'a str,
    /// `None` when unknown: `*` in the ARNs.
    pub account: Option<&'a str>,
    pub bucket_config: BucketConfig,
    /// The ARN of the route table's KeyValueStore, when it exists: its data is then writable in
    /// that store only. A store's ARN ends with an id CloudFront picks at creation (not its name),
    /// so without it the store actions cover the account's stores.
    pub key_value_store: Option<&'a str>,
}

/// Whether the deploy credentials may change the bucket's configuration (policy, Block Public
/// Access and its record tag, website configuration). These are bucket-wide: IAM cannot limit
/// them to a prefix, so credentials for `s3://b/app` that hold them could open all of `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BucketConfig {
    /// spadeploy wires the bucket on the push that needs it.
    Write,
    /// The bucket is wired once by someone else (an administrator, IaC, or a push with the
    /// writes); pushes only read it (`push --no-bucket-policy`).
    ReadOnly,
}

/// An input that would put a wildcard, a policy variable or a malformed value into the policy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ScopeError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("invalid distribution id `{0}`: a CloudFront distribution id is uppercase letters and digits, e.g. E2QWRUHAPOMQZL (see the ID column of `aws cloudfront list-distributions`)")]
    Distribution(String),
    #[error("invalid account id `{0}`: an AWS account id is 12 digits, e.g. 123456789012 (`aws sts get-caller-identity` prints it); leave --account-id out to write `*`")]
    Account(String),
    #[error("invalid function name `{0}` ([routing] function_name): CloudFront and Lambda function names are 1-64 letters, digits, `-` and `_`")]
    FunctionName(String),
    #[error("invalid KeyValueStore ARN `{0}`: give the ARN CloudFront reports for the store, arn:aws:cloudfront::ACCOUNT:key-value-store/ID (`aws cloudfront describe-key-value-store --name NAME`)")]
    KeyValueStore(String),
    #[error("the KeyValueStore ARN `{store}` belongs to account {store_account}, not --account-id {account}")]
    KeyValueStoreAccount {
        store: String,
        store_account: String,
        account: String,
    },
}

impl PolicyScope<'_> {
    /// Refuses any value that is not what it claims to be, so nothing from the input can widen a
    /// grant: each check is an allow-list of the characters the real identifier has.
    pub(crate) fn validate(&self) -> Result<(), ScopeError> {
        target::check_bucket(self.bucket)?;
        // The stored prefix is already normalised: normalising again must change nothing.
        if target::normalize_prefix(self.prefix)? != self.prefix {
            return Err(TargetError::Prefix {
                prefix: self.prefix.to_string(),
                why: "it must be empty or end with `/`",
            }
            .into());
        }
        if let Some(id) = self.distribution {
            if !is_distribution_id(id) {
                return Err(ScopeError::Distribution(id.to_string()));
            }
        }
        if let Some(account) = self.account {
            if !is_account_id(account) {
                return Err(ScopeError::Account(account.to_string()));
            }
        }
        let name = self.function_name;
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ScopeError::FunctionName(name.to_string()));
        }
        if let Some(store) = self.key_value_store {
            let Some(store_account) = key_value_store_account(store) else {
                return Err(ScopeError::KeyValueStore(store.to_string()));
            };
            if let Some(account) = self.account.filter(|a| *a != store_account) {
                return Err(ScopeError::KeyValueStoreAccount {
                    store: store.to_string(),
                    store_account: store_account.to_string(),
                    account: account.to_string(),
                });
            }
        }
        Ok(())
    }

    fn account(&self) -> &str {
        self.account.unwrap_or("*")
    }
}

/// CloudFront distribution ids: uppercase letters and digits (`E2QWRUHAPOMQZL`).
fn is_distribution_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// The account of a KeyValueStore ARN, if it has CloudFront's form
/// (`arn:aws:cloudfront::[0-9]{12}:key-value-store/[0-9a-fA-F-]{36}`).
fn key_value_store_account(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:cloudfront::")?;
    let (account, id) = rest.split_once(":key-value-store/")?;
    let id_ok = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    (is_account_id(account) && id_ok).then_some(account)
}

/// The policy for `scope`, once every input in it is validated.
pub(crate) fn policy(scope: &PolicyScope<'_>) -> Result<Value, ScopeError> {
    scope.validate()?;
    let mut statements = objects(scope);
    let Some(distribution) = scope.distribution else {
        return Ok(document(statements));
    };
    statements.extend(distribution_statements(scope, distribution));
    if scope.mode != Some(Mode::Website) {
        statements.extend(cloudfront_function(scope));
    }
    if scope.mode != Some(Mode::Private) {
        statements.extend(lambda_edge(scope));
        statements.extend(edge_role(scope));
    }
    Ok(document(statements))
}

/// What content-mode statements point at: ARNs, or (in `export`) markers its template resolves
/// into references to the stack's resources.
pub(crate) struct ContentResources {
    pub function: String,
    pub store: String,
    pub distribution: String,
}

impl ContentResources {
    /// The ARNs for `scope`'s function, store (the given one, else the account's stores) and
    /// distribution.
    pub(crate) fn of(scope: &PolicyScope<'_>, distribution: &str) -> ContentResources {
        let account = scope.account();
        ContentResources {
            function: format!(
                "arn:aws:cloudfront::{account}:function/{}",
                scope.function_name
            ),
            store: scope.key_value_store.map_or_else(
                || format!("arn:aws:cloudfront::{account}:key-value-store/*"),
                str::to_string,
            ),
            distribution: format!("arn:aws:cloudfront::{account}:distribution/{distribution}"),
        }
    }
}

/// The policy of a content-mode push (`[cdn] manage = "content"`), once every input is
/// validated: the target's objects, the function's code, the store's keys, invalidations, and
/// the reads the wiring checks make. Nothing that writes the distribution, the bucket's
/// configuration, Origin Access Control or IAM, and nothing that creates.
pub(crate) fn content_policy(
    scope: &PolicyScope<'_>,
    resources: &ContentResources,
) -> Result<Value, ScopeError> {
    scope.validate()?;
    Ok(content_document(scope, resources))
}

/// The content-mode policy for a scope already validated (`export` validates its stack first).
pub(crate) fn content_document(scope: &PolicyScope<'_>, resources: &ContentResources) -> Value {
    let mut statements = objects(scope);
    statements.extend([
        json!({
            "Sid": "SpadeployWiringRead",
            "Effect": "Allow",
            "Action": "s3:GetBucketPolicy",
            "Resource": bucket_arn(scope),
        }),
        json!({
            "Sid": "SpadeployFunctionCode",
            "Effect": "Allow",
            "Action": [
                "cloudfront:DescribeFunction", "cloudfront:GetFunction",
                "cloudfront:UpdateFunction", "cloudfront:PublishFunction"
            ],
            "Resource": resources.function,
        }),
        json!({
            "Sid": "SpadeployRouteStore",
            "Effect": "Allow",
            "Action": [
                "cloudfront-keyvaluestore:DescribeKeyValueStore", "cloudfront-keyvaluestore:GetKey",
                "cloudfront-keyvaluestore:ListKeys", "cloudfront-keyvaluestore:UpdateKeys"
            ],
            "Resource": resources.store,
        }),
        json!({
            "Sid": "SpadeployDistribution",
            "Effect": "Allow",
            "Action": [
                "cloudfront:GetDistribution", "cloudfront:ListTagsForResource",
                "cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"
            ],
            "Resource": resources.distribution,
        }),
    ]);
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
    // Reads always (a push checks the wiring); writes only when the push may wire the bucket.
    let bucket_actions = match scope.bucket_config {
        BucketConfig::Write => json!([
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            "s3:GetBucketTagging",
            "s3:PutBucketTagging"
        ]),
        BucketConfig::ReadOnly => json!([
            "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetBucketTagging"
        ]),
    };
    vec![
        json!({
            "Sid": "SpadeployBucketRouting",
            "Effect": "Allow",
            "Action": bucket_actions,
            "Resource": bucket_arn(scope),
        }),
        json!({
            "Sid": "SpadeployDistribution",
            "Effect": "Allow",
            // Tags: a push about to change a distribution a CloudFormation stack owns warns first.
            "Action": [
                "cloudfront:GetDistribution", "cloudfront:ListTagsForResource",
                "cloudfront:UpdateDistribution", "cloudfront:CreateInvalidation",
                "cloudfront:GetInvalidation"
            ],
            "Resource": format!("arn:aws:cloudfront::{}:distribution/{distribution}", scope.account()),
        }),
    ]
}

/// Private mode: the CloudFront Function, the KeyValueStore of large route tables, and Origin
/// Access Control.
fn cloudfront_function(scope: &PolicyScope<'_>) -> Vec<Value> {
    let account = scope.account();
    let read_write = json!([
        "cloudfront:DescribeKeyValueStore",
        "cloudfront-keyvaluestore:DescribeKeyValueStore",
        "cloudfront-keyvaluestore:GetKey",
        "cloudfront-keyvaluestore:ListKeys",
        "cloudfront-keyvaluestore:UpdateKeys"
    ]);
    let store = match scope.key_value_store {
        // The store exists: its data, and no other store's, and no new store.
        Some(arn) => json!({
            "Sid": "SpadeployRouteStore",
            "Effect": "Allow",
            "Action": read_write,
            "Resource": arn,
        }),
        // IAM names a store by the id CloudFront gives it at creation, never by its name, and
        // has no condition key for the name: before the store exists, the account's stores.
        None => {
            let mut actions = read_write;
            if let Value::Array(list) = &mut actions {
                list.insert(1, json!("cloudfront:CreateKeyValueStore"));
            }
            json!({
                "Sid": "SpadeployRouteStore",
                "Effect": "Allow",
                "Action": actions,
                "Resource": format!("arn:aws:cloudfront::{account}:key-value-store/*"),
            })
        }
    };
    vec![
        json!({
            "Sid": "SpadeployCloudFrontFunction",
            "Effect": "Allow",
            "Action": [
                "cloudfront:DescribeFunction", "cloudfront:GetFunction", "cloudfront:CreateFunction",
                "cloudfront:UpdateFunction", "cloudfront:PublishFunction"
            ],
            "Resource": format!("arn:aws:cloudfront::{account}:function/{}", scope.function_name),
        }),
        store,
        // Listing has no resource; a new control's id is not known before it exists.
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
        scope.account(),
        scope.function_name
    );
    // The website configuration is bucket-wide too (its routing rules could redirect any prefix).
    let website_actions = match scope.bucket_config {
        BucketConfig::Write => json!(["s3:GetBucketWebsite", "s3:PutBucketWebsite"]),
        BucketConfig::ReadOnly => json!(["s3:GetBucketWebsite"]),
    };
    vec![
        json!({
            "Sid": "SpadeployBucketWebsite",
            "Effect": "Allow",
            "Action": website_actions,
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
    let account = scope.account();
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
        // Removing what someone added only ever takes permissions away.
        json!({
            "Sid": "SpadeployEdgeRoleRepair",
            "Effect": "Allow",
            "Action": ["iam:DetachRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": role,
        }),
        // Putting back a widened trust policy. IAM has no condition key on a trust policy's
        // content, so this is limited to the one role and kept in its own statement: with it,
        // leaked credentials could let another principal assume a role that can only write logs
        // (its boundary and its one policy); without it, a widened trust fails the push, naming
        // this action, for an administrator to repair.
        json!({
            "Sid": "SpadeployEdgeRoleTrust",
            "Effect": "Allow",
            "Action": "iam:UpdateAssumeRolePolicy",
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

/// Every action granted anywhere in a policy document: what the tests of this policy and of the
/// exported deploy role compare.
#[cfg(test)]
pub(crate) fn actions(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(one) => vec![one.clone()],
            many => many
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
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
            account: Some("123456789012"),
            bucket_config: BucketConfig::Write,
            key_value_store: None,
        }
    }

    fn policy(scope: &PolicyScope<'_>) -> Value {
        super::policy(scope).unwrap()
    }

    fn statement<'p>(policy: &'p Value, sid: &str) -> &'p Value {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap()
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

    #[test]
    fn input_that_would_be_a_wildcard_or_variable_in_an_arn_is_refused() {
        let base = || scope(Some("E2QWRUHAPOMQZL"), Some(Mode::Private));
        let refused = |scope: PolicyScope<'_>| super::policy(&scope).unwrap_err();
        for id in [
            "*",
            "E1*",
            "E?",
            "${aws:username}",
            "e2qwruhapomqzl",
            "",
            "E1/x",
        ] {
            assert_eq!(
                refused(PolicyScope {
                    distribution: Some(id),
                    ..base()
                }),
                ScopeError::Distribution(id.into())
            );
        }
        for account in [
            "*",
            "1:*",
            "12345678901",
            "1234567890123",
            "${aws:PrincipalAccount}",
        ] {
            assert_eq!(
                refused(PolicyScope {
                    account: Some(account),
                    ..base()
                }),
                ScopeError::Account(account.into())
            );
        }
        for prefix in ["*/", "a?/", "${aws:username}/", "app*/", "app", "/app/"] {
            assert!(matches!(
                refused(PolicyScope { prefix, ..base() }),
                ScopeError::Target(_)
            ));
        }
        for bucket in [
            "my-site*",
            "my?site",
            "${aws:username}",
            "My-Site",
            "my..site",
        ] {
            assert!(matches!(
                refused(PolicyScope { bucket, ..base() }),
                ScopeError::Target(TargetError::Bucket { .. })
            ));
        }
        for name in ["*", "spadeploy-*", "a?", "${aws:username}", ""] {
            assert_eq!(
                refused(PolicyScope {
                    function_name: name,
                    ..base()
                }),
                ScopeError::FunctionName(name.into())
            );
        }
        for store in [
            "*",
            "arn:aws:cloudfront::123456789012:key-value-store/*",
            "arn:aws:cloudfront::*:key-value-store/0a1b2c3d-0000-4000-8000-00000000000a",
        ] {
            assert_eq!(
                refused(PolicyScope {
                    key_value_store: Some(store),
                    ..base()
                }),
                ScopeError::KeyValueStore(store.into())
            );
        }
        assert!(matches!(
            refused(PolicyScope {
                key_value_store: Some(
                    "arn:aws:cloudfront::999999999999:key-value-store/0a1b2c3d-0000-4000-8000-00000000000a"
                ),
                ..base()
            }),
            ScopeError::KeyValueStoreAccount { .. }
        ));
    }

    #[test]
    fn no_wildcard_or_variable_reaches_the_policy_but_spadeploys_own() {
        // spadeploy's own: the prefix's keys, the OAC actions (no resource), a new store, and
        // the function's versions.
        let own = [
            "arn:aws:s3:::my-site/app/*",
            "app/*",
            "*",
            "arn:aws:cloudfront::123456789012:key-value-store/*",
            "arn:aws:lambda:us-east-1:123456789012:function:spadeploy-my-site:*",
        ];
        for mode in [None, Some(Mode::Private), Some(Mode::Website)] {
            let p = policy(&scope(Some("E2QWRUHAPOMQZL"), mode));
            let text = p.to_string();
            assert!(!text.contains('?') && !text.contains("${"), "{text}");
            let mut values = Vec::new();
            for statement in p["Statement"].as_array().unwrap() {
                let resource = &statement["Resource"];
                values.extend(
                    resource
                        .as_array()
                        .cloned()
                        .unwrap_or(vec![resource.clone()]),
                );
                if let Some(prefixes) = statement.pointer("/Condition/StringLike/s3:prefix") {
                    values.extend(prefixes.as_array().unwrap().iter().cloned());
                }
            }
            for value in values {
                let value = value.as_str().unwrap();
                assert!(
                    !value.contains('*') || own.contains(&value),
                    "{value} in {mode:?}"
                );
            }
        }
    }

    #[test]
    fn credentials_without_bucket_writes_cannot_change_the_bucket_configuration() {
        for mode in [None, Some(Mode::Private), Some(Mode::Website)] {
            let read_only = policy(&PolicyScope {
                bucket_config: BucketConfig::ReadOnly,
                ..scope(Some("E1"), mode)
            });
            let granted = actions(&read_only);
            for write in [
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutBucketWebsite",
            ] {
                assert!(!granted.iter().any(|a| a == write), "{write} in {mode:?}");
            }
            // The wiring is still read, so a push can say what is missing.
            assert!(granted.iter().any(|a| a == "s3:GetBucketPolicy"));
            let full = actions(&policy(&scope(Some("E1"), mode)));
            assert!(granted.iter().all(|a| full.contains(a)));
        }
    }

    #[test]
    fn a_known_store_is_the_only_store_the_policy_reaches() {
        let arn =
            "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-0000-4000-8000-00000000000a";
        let pinned = policy(&PolicyScope {
            key_value_store: Some(arn),
            ..scope(Some("E1"), Some(Mode::Private))
        });
        let store = statement(&pinned, "SpadeployRouteStore");
        assert_eq!(store["Resource"], arn);
        assert!(!actions(&pinned).contains(&"cloudfront:CreateKeyValueStore".to_string()));
        assert!(actions(&pinned).contains(&"cloudfront-keyvaluestore:UpdateKeys".to_string()));
        let unknown = policy(&scope(Some("E1"), Some(Mode::Private)));
        assert_eq!(
            statement(&unknown, "SpadeployRouteStore")["Resource"],
            "arn:aws:cloudfront::123456789012:key-value-store/*"
        );
    }

    #[test]
    fn the_trust_policy_repair_is_a_statement_of_its_own_on_the_one_role() {
        let website = policy(&scope(Some("E1"), Some(Mode::Website)));
        let trust = statement(&website, "SpadeployEdgeRoleTrust");
        assert_eq!(trust["Action"], "iam:UpdateAssumeRolePolicy");
        assert_eq!(
            trust["Resource"],
            format!("arn:aws:iam::123456789012:role/{EDGE_ROLE}")
        );
        let repair = statement(&website, "SpadeployEdgeRoleRepair");
        assert!(!repair["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("iam:UpdateAssumeRolePolicy")));
    }
}
