//! The bucket side of routing: the S3 website configuration (`website` mode) and the bucket
//! policy statements spadeploy owns (Sid `Spadeploy*`) for either mode. Builders and comparisons
//! are pure; `apply_*` make the calls, only when something drifted.

use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, Protocol, Redirect as S3Redirect, RoutingRule,
    WebsiteConfiguration,
};
use serde_json::{json, Value};

use crate::aws::ApiError;
use crate::release::STATE_PREFIX;
use crate::routing::{Redirect, RoutingSettings};

/// The parts of a website configuration spadeploy manages, comparable across reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Website {
    pub index_suffix: String,
    pub error_key: String,
    pub rules: Vec<RedirectRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRule {
    pub key_prefix: String,
    pub replace_prefix: String,
    pub status: String,
    pub host: String,
}

/// The website configuration for a target at `prefix`; redirects go to `host` over https
/// (without a host, S3 would redirect viewers to the bucket's own endpoint).
pub fn desired(
    settings: &RoutingSettings,
    redirects: &[Redirect],
    prefix: &str,
    host: &str,
) -> Website {
    Website {
        index_suffix: settings.index_document.trim_start_matches('/').to_string(),
        error_key: format!(
            "{prefix}{}",
            settings.error_document.trim_start_matches('/')
        ),
        rules: redirects
            .iter()
            .map(|r| RedirectRule {
                key_prefix: format!("{prefix}{}", r.from.trim_start_matches('/')),
                replace_prefix: r.to.trim_start_matches('/').to_string(),
                status: r.status.to_string(),
                host: host.to_string(),
            })
            .collect(),
    }
}

/// What GetBucketWebsite returned, in the same shape.
pub fn observed(
    out: &aws_sdk_s3::operation::get_bucket_website::GetBucketWebsiteOutput,
) -> Website {
    Website {
        index_suffix: out
            .index_document()
            .map(|d| d.suffix().to_string())
            .unwrap_or_default(),
        error_key: out
            .error_document()
            .map(|d| d.key().to_string())
            .unwrap_or_default(),
        rules: out
            .routing_rules()
            .iter()
            .map(|rule| RedirectRule {
                key_prefix: rule
                    .condition()
                    .and_then(|c| c.key_prefix_equals())
                    .unwrap_or_default()
                    .to_string(),
                replace_prefix: rule
                    .redirect()
                    .and_then(|r| r.replace_key_prefix_with())
                    .unwrap_or_default()
                    .to_string(),
                status: rule
                    .redirect()
                    .and_then(|r| r.http_redirect_code())
                    .unwrap_or_default()
                    .to_string(),
                host: rule
                    .redirect()
                    .and_then(|r| r.host_name())
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect(),
    }
}

impl Website {
    pub fn to_sdk(&self) -> Result<WebsiteConfiguration, ApiError> {
        let build = |e: aws_sdk_s3::error::BuildError| ApiError::Service {
            action: "s3:PutBucketWebsite",
            resource: "website configuration".into(),
            code: String::new(),
            detail: e.to_string(),
        };
        let rules = self
            .rules
            .iter()
            .map(|r| {
                RoutingRule::builder()
                    .condition(
                        Condition::builder()
                            .key_prefix_equals(&r.key_prefix)
                            .build(),
                    )
                    .redirect(
                        S3Redirect::builder()
                            .host_name(&r.host)
                            .protocol(Protocol::Https)
                            .replace_key_prefix_with(&r.replace_prefix)
                            .http_redirect_code(&r.status)
                            .build(),
                    )
                    .build()
            })
            .collect::<Vec<_>>();
        Ok(WebsiteConfiguration::builder()
            .index_document(
                IndexDocument::builder()
                    .suffix(&self.index_suffix)
                    .build()
                    .map_err(build)?,
            )
            .error_document(
                ErrorDocument::builder()
                    .key(&self.error_key)
                    .build()
                    .map_err(build)?,
            )
            .set_routing_rules((!rules.is_empty()).then_some(rules))
            .build())
    }
}

/// Website mode: anonymous reads that carry the distribution's secret Referer header, and never
/// of spadeploy's state (the Deny only matches requests carrying the secret, so spadeploy's own
/// signed reads still work).
pub fn website_statements(bucket: &str, prefix: &str, referer: &str) -> Vec<Value> {
    let condition = json!({ "StringEquals": { "aws:Referer": referer } });
    vec![
        json!({
            "Sid": "SpadeployWebsiteRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*"),
            "Condition": condition,
        }),
        json!({
            "Sid": "SpadeployHideState",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}{STATE_PREFIX}*"),
            "Condition": condition,
        }),
    ]
}

/// Private mode: reads for this distribution only (Origin Access Control), with s3:ListBucket so
/// a missing asset is an honest 404 rather than a 403; spadeploy's state stays unreadable.
pub fn private_statements(bucket: &str, prefix: &str, distribution_arn: &str) -> Vec<Value> {
    let principal = json!({ "Service": "cloudfront.amazonaws.com" });
    let condition = json!({ "StringEquals": { "AWS:SourceArn": distribution_arn } });
    vec![
        json!({
            "Sid": "SpadeployCloudFrontRead",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*"),
            "Condition": condition,
        }),
        json!({
            "Sid": "SpadeployCloudFrontList",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:ListBucket",
            "Resource": format!("arn:aws:s3:::{bucket}"),
            "Condition": condition,
        }),
        json!({
            "Sid": "SpadeployHideState",
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}{STATE_PREFIX}*"),
            "Condition": condition,
        }),
    ]
}

/// The bucket policy with spadeploy's statements replaced by `ours` and every other statement
/// kept as it was; `None` when nothing would change.
pub fn merged_policy(current: Option<&str>, ours: Vec<Value>) -> Result<Option<String>, String> {
    let mut policy: Value = match current {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| format!("the bucket policy is not valid JSON ({e}); fix it first"))?,
        None => json!({ "Version": "2012-10-17", "Statement": [] }),
    };
    let statements = match policy.get_mut("Statement") {
        Some(Value::Array(list)) => list,
        Some(single @ Value::Object(_)) => {
            *single = Value::Array(vec![single.take()]);
            single.as_array_mut().expect("just made an array")
        }
        _ => return Err("the bucket policy has no Statement list; fix it first".into()),
    };
    let before = statements.clone();
    statements.retain(|s| {
        !s.get("Sid")
            .and_then(Value::as_str)
            .is_some_and(|sid| sid.starts_with("Spadeploy"))
    });
    statements.extend(ours);
    if current.is_some() && *statements == before {
        return Ok(None);
    }
    Ok(Some(policy.to_string()))
}

/// True when some statement lets anyone read objects (spadeploy's own, or the user's).
pub fn allows_public_read(policy: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => return false,
    };
    let has = |value: &Value, wanted: &[&str]| match value {
        Value::String(s) => wanted.contains(&s.as_str()),
        Value::Array(list) => list
            .iter()
            .any(|v| v.as_str().is_some_and(|s| wanted.contains(&s))),
        _ => false,
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && (s["Principal"] == "*" || s["Principal"]["AWS"] == "*")
            && has(&s["Action"], &["s3:GetObject", "s3:*", "*"])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_website_uses_prefix_keys_and_viewer_paths() {
        let redirects = [Redirect {
            from: "/old/".into(),
            to: "/new/".into(),
            status: 301,
        }];
        let site = desired(
            &RoutingSettings::default(),
            &redirects,
            "app/",
            "www.example.com",
        );
        assert_eq!(site.index_suffix, "index.html");
        assert_eq!(site.error_key, "app/index.html");
        assert_eq!(
            site.rules,
            [RedirectRule {
                key_prefix: "app/old/".into(),
                replace_prefix: "new/".into(),
                status: "301".into(),
                host: "www.example.com".into(),
            }]
        );
        let sdk = site.to_sdk().unwrap();
        assert_eq!(sdk.routing_rules().len(), 1);
    }

    #[test]
    fn policy_merge_keeps_foreign_statements_and_is_idempotent() {
        let foreign = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/logs/*"}]}"#;
        let ours = website_statements("b", "", "secret");
        let merged = merged_policy(Some(foreign), ours.clone())
            .unwrap()
            .expect("changed");
        assert!(merged.contains("\"Logs\""), "foreign statement kept");
        assert!(merged.contains("SpadeployWebsiteRead"));
        assert_eq!(
            merged_policy(Some(&merged), ours).unwrap(),
            None,
            "no change the second time"
        );
        let other_secret = website_statements("b", "", "rotated");
        assert!(merged_policy(Some(&merged), other_secret)
            .unwrap()
            .is_some());
        assert!(merged_policy(Some("not json"), vec![])
            .unwrap_err()
            .contains("not valid JSON"));
    }

    #[test]
    fn public_read_is_recognised() {
        let ours = merged_policy(None, website_statements("b", "", "s"))
            .unwrap()
            .unwrap();
        assert!(allows_public_read(&ours));
        let private = merged_policy(
            None,
            private_statements("b", "", "arn:aws:cloudfront::1:distribution/E1"),
        )
        .unwrap()
        .unwrap();
        assert!(!allows_public_read(&private));
        assert!(allows_public_read(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"],"Resource":"x"}}"#
        ));
    }
}
