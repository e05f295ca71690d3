//! The bucket side of routing: the S3 website configuration (`website` mode) and the bucket
//! policy statements spadeploy owns (Sid `Spadeploy*`) for either mode. Builders and comparisons
//! are pure; `apply_*` make the calls, only when something drifted.

use aws_sdk_s3::types::{ErrorDocument, IndexDocument, WebsiteConfiguration};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::aws::ApiError;
use crate::config::routing::RoutingSettings;
use crate::model::STATE_PREFIX;

/// The parts of a website configuration spadeploy manages, comparable across reads and writes.
/// Redirects are the edge function's: routing rules that earlier versions wrote are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Website {
    pub index_suffix: String,
    pub error_key: String,
    pub routing_rules: usize,
}

/// The website configuration for a target at `prefix`: its index document, and as the error
/// document (what a missing asset answers) `error`, relative to the site
/// (`Routes::error_key`: the 404 page, else the SPA's fallback file).
pub(crate) fn desired(settings: &RoutingSettings, error: &str, prefix: &str) -> Website {
    Website {
        index_suffix: settings.index_document.trim_start_matches('/').to_string(),
        error_key: format!("{prefix}{}", error.trim_start_matches('/')),
        routing_rules: 0,
    }
}

/// What GetBucketWebsite returned, in the same shape.
pub(crate) fn observed(
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
        routing_rules: out.routing_rules().len(),
    }
}

impl Website {
    pub(crate) fn to_sdk(&self) -> Result<WebsiteConfiguration, ApiError> {
        let build = |e: aws_sdk_s3::error::BuildError| ApiError::Service {
            action: "s3:PutBucketWebsite",
            resource: "website configuration".into(),
            code: String::new(),
            detail: e.to_string(),
        };
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
            .build())
    }
}

/// The bucket and key prefix a set of policy statements is for. Each prefix owns its own
/// statements (Sids end with a tag derived from the prefix), so two targets in one bucket never
/// replace each other's grants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PolicyTarget<'a> {
    pub bucket: &'a str,
    /// Empty or ending with `/`.
    pub prefix: &'a str,
}

/// The kinds of statement spadeploy writes; a Sid is `Spadeploy{kind}{tag}`.
const KINDS: [&str; 5] = [
    "WebsiteRead",
    "CloudFrontRead",
    "CloudFrontList",
    "HideState",
    "HideStateFromCloudFront",
];

impl PolicyTarget<'_> {
    /// `Root` for the whole bucket, else 12 hex digits of the prefix's SHA-256 (Sids allow only
    /// letters and digits).
    fn tag(&self) -> String {
        if self.prefix.is_empty() {
            return "Root".into();
        }
        hex::encode(Sha256::digest(self.prefix.as_bytes()))[..12].to_string()
    }

    fn sid(&self, kind: &str) -> String {
        format!("Spadeploy{kind}{}", self.tag())
    }

    fn objects(&self) -> String {
        format!("arn:aws:s3:::{}/{}*", self.bucket, self.prefix)
    }

    fn state(&self) -> String {
        format!(
            "arn:aws:s3:::{}/{}{STATE_PREFIX}*",
            self.bucket, self.prefix
        )
    }

    /// Denies spadeploy's state to every request that is not signed by an IAM identity:
    /// anonymous readers (a public bucket, the website endpoint) and AWS services. spadeploy's
    /// own signed reads carry a principal ARN and are not affected.
    pub(crate) fn hide_state(&self) -> Value {
        json!({
            "Sid": self.sid("HideState"),
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": self.state(),
            "Condition": { "Null": { "aws:PrincipalArn": "true" } },
        })
    }

    /// Whether `statement` is one spadeploy wrote for this prefix: a Sid with this prefix's tag,
    /// or (written before Sids named their prefix) an untagged Sid on this prefix's resources.
    fn owns(&self, statement: &Value) -> bool {
        let Some(sid) = statement.get("Sid").and_then(Value::as_str) else {
            return false;
        };
        if KINDS.iter().any(|kind| sid == self.sid(kind)) {
            return true;
        }
        let untagged = sid
            .strip_prefix("Spadeploy")
            .is_some_and(|kind| KINDS.contains(&kind));
        let resource = statement.get("Resource").and_then(Value::as_str);
        untagged
            && (resource == Some(&self.objects())
                || resource == Some(&self.state())
                // The untagged listing grant covered the whole bucket.
                || sid == "SpadeployCloudFrontList")
    }

    /// Whether `policy` holds this prefix's website read grant.
    pub(crate) fn has_website_read(&self, policy: &str) -> bool {
        serde_json::from_str::<Value>(policy).is_ok_and(|policy| {
            statements_of(&policy).iter().any(|s| {
                self.owns(s)
                    && s["Effect"] == "Allow"
                    && s["Sid"]
                        .as_str()
                        .is_some_and(|sid| sid.starts_with("SpadeployWebsiteRead"))
            })
        })
    }

    /// The Referer values this prefix's website read grant allows (two while a secret rotates).
    pub(crate) fn allowed_referers(&self, policy: &str) -> Vec<String> {
        let Ok(policy) = serde_json::from_str::<Value>(policy) else {
            return Vec::new();
        };
        let grant = statements_of(&policy).into_iter().find(|s| {
            self.owns(s)
                && s["Sid"]
                    .as_str()
                    .is_some_and(|sid| sid.starts_with("SpadeployWebsiteRead"))
        });
        match grant
            .as_ref()
            .map(|g| &g["Condition"]["StringEquals"]["aws:Referer"])
        {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Website mode: anonymous reads that carry one of the distribution's secret Referer values
    /// (one, or the old and the new while it rotates), and never of spadeploy's state.
    pub(crate) fn website_statements(&self, referers: &[String]) -> Vec<Value> {
        let referer = match referers {
            [one] => json!(one),
            many => json!(many),
        };
        vec![
            json!({
                "Sid": self.sid("WebsiteRead"),
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": self.objects(),
                "Condition": { "StringEquals": { "aws:Referer": referer } },
            }),
            self.hide_state(),
        ]
    }

    /// Private mode: reads for this distribution only (Origin Access Control), with
    /// s3:ListBucket on this prefix so a missing asset is an honest 404 rather than a 403;
    /// spadeploy's state stays unreadable.
    pub(crate) fn private_statements(&self, distribution_arn: &str) -> Vec<Value> {
        let principal = json!({ "Service": "cloudfront.amazonaws.com" });
        let condition = json!({ "StringEquals": { "AWS:SourceArn": distribution_arn } });
        let mut list_condition = condition.clone();
        if !self.prefix.is_empty() {
            list_condition["StringLike"] = json!({ "s3:prefix": format!("{}*", self.prefix) });
        }
        vec![
            json!({
                "Sid": self.sid("CloudFrontRead"),
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": self.objects(),
                "Condition": condition,
            }),
            json!({
                "Sid": self.sid("CloudFrontList"),
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:ListBucket",
                "Resource": format!("arn:aws:s3:::{}", self.bucket),
                "Condition": list_condition,
            }),
            json!({
                "Sid": self.sid("HideStateFromCloudFront"),
                "Effect": "Deny",
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": self.state(),
                "Condition": condition,
            }),
            self.hide_state(),
        ]
    }

    /// The bucket policy with this prefix's statements replaced by `ours` and every other
    /// statement (the user's, other prefixes') kept as it was; `None` when nothing would change.
    pub(crate) fn merged_policy(
        &self,
        current: Option<&str>,
        ours: Vec<Value>,
    ) -> Result<Option<String>, PolicyError> {
        let mut policy: Value = match current {
            Some(text) => serde_json::from_str(text).map_err(PolicyError::NotJson)?,
            None => json!({ "Version": "2012-10-17", "Statement": [] }),
        };
        let statements = match policy.get_mut("Statement") {
            Some(Value::Array(list)) => list,
            Some(single @ Value::Object(_)) => {
                *single = Value::Array(vec![single.take()]);
                single.as_array_mut().expect("just made an array")
            }
            _ => return Err(PolicyError::NoStatements),
        };
        let owned: Vec<&Value> = statements.iter().filter(|s| self.owns(s)).collect();
        // Where they stand in the list does not matter; other prefixes' statements may follow.
        let unchanged = owned.len() == ours.len() && ours.iter().all(|s| owned.contains(&s));
        if current.is_some() && unchanged {
            return Ok(None);
        }
        statements.retain(|s| !self.owns(s));
        statements.extend(ours);
        Ok(Some(policy.to_string()))
    }
}

/// A bucket policy spadeploy cannot merge its statements into.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    #[error("the bucket policy is not valid JSON; fix it first")]
    NotJson(#[source] serde_json::Error),
    #[error("the bucket policy has no Statement list; fix it first")]
    NoStatements,
}

fn statements_of(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => Vec::new(),
    }
}

/// What a bucket policy lets CloudFront do for one distribution through Origin Access Control,
/// whoever wrote it (spadeploy, Terraform, CloudFormation, CDK): read the target's objects, and
/// list them (without the list, a missing file answers 403 instead of an honest 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CloudFrontGrant {
    pub read: bool,
    pub list: bool,
}

impl PolicyTarget<'_> {
    pub(crate) fn cloudfront_grant(
        &self,
        policy: Option<&str>,
        distribution_arn: &str,
    ) -> CloudFrontGrant {
        let Some(policy) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
            return CloudFrontGrant::default();
        };
        let bucket = format!("arn:aws:s3:::{}", self.bucket);
        let objects = format!("{bucket}/{}", self.prefix);
        let grants = |s: &Value, actions: &[&str], covers: &dyn Fn(&str) -> bool| {
            s["Effect"] == "Allow"
                && any_str(&s["Principal"]["Service"], |p| {
                    p == "cloudfront.amazonaws.com"
                })
                && any_str(&s["Action"], |a| actions.contains(&a))
                && any_str(&s["Resource"], covers)
                && for_distribution(&s["Condition"], distribution_arn)
        };
        let statements = statements_of(&policy);
        CloudFrontGrant {
            read: statements.iter().any(|s| {
                grants(s, &["s3:GetObject", "s3:Get*", "s3:*"], &|r| {
                    r.strip_suffix('*')
                        .is_some_and(|stem| objects.starts_with(stem))
                })
            }),
            list: statements
                .iter()
                .any(|s| grants(s, &["s3:ListBucket", "s3:List*", "s3:*"], &|r| r == bucket)),
        }
    }
}

/// Whether a string, or any string of a list, satisfies `test`.
fn any_str(value: &Value, test: impl Fn(&str) -> bool) -> bool {
    match value {
        Value::String(s) => test(s),
        Value::Array(list) => list.iter().filter_map(Value::as_str).any(test),
        _ => false,
    }
}

/// A statement's condition holds for requests of this distribution: none, or its SourceArn
/// (equals, or a pattern that matches it).
fn for_distribution(condition: &Value, arn: &str) -> bool {
    let Some(operators) = condition.as_object() else {
        return condition.is_null();
    };
    operators.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        keys.iter().all(|(key, value)| {
            if !key.eq_ignore_ascii_case("aws:SourceArn") {
                // Another condition (a prefix for listing, say) is not this check's business.
                return true;
            }
            match operator.as_str() {
                "StringEquals" | "ArnEquals" => any_str(value, |v| v == arn),
                "StringLike" | "ArnLike" => any_str(value, |v| glob_matches(v, arn)),
                _ => false,
            }
        })
    })
}

/// IAM's `*` (any run, `/` included) and `?` (one character) patterns; anything else in the
/// pattern is taken literally.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let escaped: String = pattern
        .chars()
        .map(|c| match c {
            '[' | ']' | '{' | '}' | '\\' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect();
    globset::GlobBuilder::new(&escaped)
        .literal_separator(false)
        .build()
        .is_ok_and(|glob| glob.compile_matcher().is_match(text))
}

/// True when some statement lets anyone read objects (spadeploy's own, or the user's).
pub(crate) fn allows_public_read(policy: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements = statements_of(&policy);
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
    fn cloudfront_grants_are_read_from_any_writer() {
        let target = PolicyTarget {
            bucket: "b",
            prefix: "app/",
        };
        let arn = "arn:aws:cloudfront::1:distribution/E1";
        let ours = json!({ "Statement": target.private_statements(arn) }).to_string();
        let both = CloudFrontGrant {
            read: true,
            list: true,
        };
        assert_eq!(target.cloudfront_grant(Some(&ours), arn), both);
        assert_eq!(
            target.cloudfront_grant(Some(&ours), "arn:aws:cloudfront::1:distribution/E2"),
            CloudFrontGrant::default(),
            "another distribution's grant is not this one's"
        );
        // Terraform's or CDK's shape: a list of actions, the whole bucket, ArnLike.
        let theirs = json!({ "Statement": {
            "Effect": "Allow",
            "Principal": { "Service": ["cloudfront.amazonaws.com"] },
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::b/*"],
            "Condition": { "ArnLike": { "AWS:SourceArn": "arn:aws:cloudfront::1:distribution/*" } },
        }})
        .to_string();
        assert_eq!(
            target.cloudfront_grant(Some(&theirs), arn),
            CloudFrontGrant {
                read: true,
                list: false
            }
        );
        let other_prefix = theirs.replace("b/*", "b/other/*");
        assert!(!target.cloudfront_grant(Some(&other_prefix), arn).read);
        assert_eq!(
            target.cloudfront_grant(None, arn),
            CloudFrontGrant::default()
        );
    }

    #[test]
    fn desired_website_uses_prefix_keys_and_the_404_page() {
        let site = desired(&RoutingSettings::default(), "index.html", "app/");
        assert_eq!(site.index_suffix, "index.html");
        assert_eq!(site.error_key, "app/index.html");
        assert_eq!(site.routing_rules, 0);
        let site = desired(&RoutingSettings::default(), "404.html", "app/");
        assert_eq!(site.error_key, "app/404.html");
        assert!(site.to_sdk().unwrap().routing_rules().is_empty());
    }

    const ROOT: PolicyTarget = PolicyTarget {
        bucket: "b",
        prefix: "",
    };

    fn sids(policy: &str) -> Vec<String> {
        let policy: Value = serde_json::from_str(policy).unwrap();
        statements_of(&policy)
            .iter()
            .map(|s| s["Sid"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn policy_merge_keeps_foreign_statements_and_is_idempotent() {
        let foreign = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/logs/*"}]}"#;
        let ours = ROOT.website_statements(&["secret".into()]);
        let merged = ROOT
            .merged_policy(Some(foreign), ours.clone())
            .unwrap()
            .expect("changed");
        assert!(merged.contains("\"Logs\""), "foreign statement kept");
        assert!(ROOT.has_website_read(&merged));
        assert_eq!(
            ROOT.merged_policy(Some(&merged), ours).unwrap(),
            None,
            "no change the second time"
        );
        let other_secret = ROOT.website_statements(&["rotated".into()]);
        assert!(ROOT
            .merged_policy(Some(&merged), other_secret)
            .unwrap()
            .is_some());
        assert!(ROOT
            .merged_policy(Some("not json"), vec![])
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }

    #[test]
    fn two_prefixes_in_one_bucket_keep_each_others_grants() {
        let app = PolicyTarget {
            bucket: "b",
            prefix: "app/",
        };
        let other = PolicyTarget {
            bucket: "b",
            prefix: "other/",
        };
        let arn = "arn:aws:cloudfront::1:distribution/E1";
        let first = app
            .merged_policy(None, app.private_statements(arn))
            .unwrap()
            .unwrap();
        let both = other
            .merged_policy(Some(&first), other.private_statements(arn))
            .unwrap()
            .unwrap();
        assert_eq!(sids(&both).len(), 8, "{both}");
        assert!(sids(&first).iter().all(|sid| sids(&both).contains(sid)));
        // Re-pushing either changes nothing, and switching one's mode leaves the other's alone.
        assert_eq!(
            app.merged_policy(Some(&both), app.private_statements(arn))
                .unwrap(),
            None
        );
        let switched = app
            .merged_policy(Some(&both), app.website_statements(&["s".into()]))
            .unwrap()
            .unwrap();
        let other_sids: Vec<_> = sids(&both)
            .into_iter()
            .filter(|sid| sids(&first).iter().all(|f| f != sid))
            .collect();
        assert!(other_sids.iter().all(|sid| sids(&switched).contains(sid)));
        assert!(app.has_website_read(&switched) && !other.has_website_read(&switched));
    }

    #[test]
    fn untagged_statements_from_earlier_versions_are_replaced_by_their_own_prefix_only() {
        let legacy = r#"{"Statement":[
            {"Sid":"SpadeployWebsiteRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/app/*"},
            {"Sid":"SpadeployHideState","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/app/.spadeploy/*"}]}"#;
        let root = ROOT
            .merged_policy(Some(legacy), ROOT.website_statements(&["s".into()]))
            .unwrap()
            .unwrap();
        assert!(sids(&root).contains(&"SpadeployWebsiteRead".to_string()));
        let app = PolicyTarget {
            bucket: "b",
            prefix: "app/",
        };
        let replaced = app
            .merged_policy(Some(legacy), app.website_statements(&["s".into()]))
            .unwrap()
            .unwrap();
        assert!(!sids(&replaced)
            .iter()
            .any(|sid| sid == "SpadeployWebsiteRead"));
        assert_eq!(sids(&replaced).len(), 2);
    }

    #[test]
    fn the_state_is_denied_to_every_unsigned_reader_and_listing_is_limited_to_the_prefix() {
        let app = PolicyTarget {
            bucket: "b",
            prefix: "app/",
        };
        for statements in [
            app.website_statements(&["s".into()]),
            app.private_statements("arn:aws:cloudfront::1:distribution/E1"),
        ] {
            let hide = statements
                .iter()
                .find(|s| s["Sid"].as_str().unwrap() == app.sid("HideState"))
                .unwrap();
            assert_eq!(hide["Effect"], "Deny");
            assert_eq!(hide["Principal"], "*");
            assert_eq!(hide["Resource"], "arn:aws:s3:::b/app/.spadeploy/*");
            assert_eq!(hide["Condition"]["Null"]["aws:PrincipalArn"], "true");
            assert!(hide["Condition"].get("StringEquals").is_none());
        }
        let private = app.private_statements("arn:aws:cloudfront::1:distribution/E1");
        let list = private
            .iter()
            .find(|s| s["Action"] == "s3:ListBucket")
            .unwrap();
        assert_eq!(list["Condition"]["StringLike"]["s3:prefix"], "app/*");
    }

    #[test]
    fn public_read_is_recognised() {
        let ours = ROOT
            .merged_policy(None, ROOT.website_statements(&["s".into()]))
            .unwrap()
            .unwrap();
        assert!(allows_public_read(&ours));
        let private = ROOT
            .merged_policy(
                None,
                ROOT.private_statements("arn:aws:cloudfront::1:distribution/E1"),
            )
            .unwrap()
            .unwrap();
        assert!(!allows_public_read(&private));
        assert!(allows_public_read(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"],"Resource":"x"}}"#
        ));
    }
}
