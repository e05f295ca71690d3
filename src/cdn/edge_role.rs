//! The execution role of spadeploy's Lambda@Edge functions. Deploy credentials can create it and
//! attach exactly one policy to it, so it is created with that policy as its permissions
//! boundary, and every install checks it: a role whose trust, boundary or policies were widened
//! (by a person, or by leaked deploy credentials) is put back before code runs as it.

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Role;
use aws_sdk_iam::Client;
use serde_json::Value;

use crate::aws::{api_error, ApiError};

/// Shared by every site's edge function (trusts Lambda and Lambda@Edge).
pub(crate) const EDGE_ROLE: &str = "spadeploy-edge";
/// Logging only: the role's one attached policy and its permissions boundary.
pub(crate) const LOGS_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
/// The services the role may be passed to (`iam:PassedToService`).
pub(crate) const EDGE_SERVICES: [&str; 2] = ["lambda.amazonaws.com", "edgelambda.amazonaws.com"];
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","edgelambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;

/// What an existing role has that spadeploy did not give it, and must be put back.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RoleDrift {
    pub trust: bool,
    pub boundary: bool,
    pub logs_missing: bool,
    /// Managed policies attached besides the logging policy.
    pub extra_policies: Vec<String>,
    /// Inline policies (spadeploy writes none).
    pub inline_policies: Vec<String>,
}

/// Pure: compares a role's observed trust document, boundary and policies with what it must be.
pub(crate) fn drift(
    trust_document: Option<&str>,
    boundary: Option<&str>,
    attached: &[String],
    inline: &[String],
) -> RoleDrift {
    let decoded = trust_document.map(|doc| {
        // IAM returns the document URL-encoded.
        percent_encoding::percent_decode_str(doc)
            .decode_utf8_lossy()
            .into_owned()
    });
    let parsed = decoded.and_then(|doc| serde_json::from_str::<Value>(&doc).ok());
    let wanted: Value = serde_json::from_str(TRUST_POLICY).unwrap_or_default();
    RoleDrift {
        trust: parsed.as_ref().map(normalised) != Some(normalised(&wanted)),
        boundary: boundary != Some(LOGS_POLICY),
        logs_missing: !attached.iter().any(|p| p == LOGS_POLICY),
        extra_policies: attached
            .iter()
            .filter(|p| *p != LOGS_POLICY)
            .cloned()
            .collect(),
        inline_policies: inline.to_vec(),
    }
}

/// The trust statements in a comparable shape: the order of services does not matter.
fn normalised(policy: &Value) -> Value {
    let mut statements = policy["Statement"].clone();
    if let Value::Object(_) = statements {
        statements = Value::Array(vec![statements]);
    }
    if let Value::Array(list) = &mut statements {
        for statement in list.iter_mut() {
            if let Some(Value::Array(services)) = statement.pointer_mut("/Principal/Service") {
                services.sort_by_key(|s| s.as_str().unwrap_or_default().to_string());
            }
            if let Some(obj) = statement.as_object_mut() {
                obj.remove("Sid");
            }
        }
    }
    statements
}

/// The execution role's ARN: created with the logging policy (and as its boundary) if missing;
/// checked and put back if it exists. Two deploys may create it at once: the one whose create
/// finds the role already there checks the other's role as it would any it found.
pub(crate) async fn ensure(iam: &Client, endpoint: &str) -> Result<String, ApiError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(role) = read(iam, endpoint).await? else {
            match create(iam, endpoint).await {
                Err(err) if err.code() == Some("EntityAlreadyExists") && attempts < 3 => continue,
                created => return created,
            }
        };
        let found = observe_drift(iam, &role, endpoint).await?;
        repair(iam, &found, endpoint).await?;
        return Ok(role.arn);
    }
}

async fn read(iam: &Client, endpoint: &str) -> Result<Option<Role>, ApiError> {
    match iam.get_role().role_name(EDGE_ROLE).send().await {
        Ok(out) => Ok(out.role),
        Err(err) => {
            let err = failed("iam:GetRole", endpoint)(err);
            if err.code() != Some("NoSuchEntity") {
                return Err(err);
            }
            Ok(None)
        }
    }
}

async fn create(iam: &Client, endpoint: &str) -> Result<String, ApiError> {
    let created = iam
        .create_role()
        .role_name(EDGE_ROLE)
        .assume_role_policy_document(TRUST_POLICY)
        .permissions_boundary(LOGS_POLICY)
        .description("Execution role of spadeploy's Lambda@Edge routing functions")
        .send()
        .await
        .map_err(failed("iam:CreateRole", endpoint))?;
    attach_logs(iam, endpoint).await?;
    let Some(role) = created.role else {
        return Err(ApiError::Service {
            action: "iam:CreateRole",
            resource: format!("arn:aws:iam::*:role/{EDGE_ROLE}"),
            code: String::new(),
            detail: "the answer carried no role".into(),
        });
    };
    Ok(role.arn)
}

async fn attach_logs(iam: &Client, endpoint: &str) -> Result<(), ApiError> {
    iam.attach_role_policy()
        .role_name(EDGE_ROLE)
        .policy_arn(LOGS_POLICY)
        .send()
        .await
        .map_err(failed("iam:AttachRolePolicy", endpoint))?;
    Ok(())
}

/// Reads the role's policies and compares the whole role with what it must be.
async fn observe_drift(iam: &Client, role: &Role, endpoint: &str) -> Result<RoleDrift, ApiError> {
    let attached: Vec<String> = iam
        .list_attached_role_policies()
        .role_name(EDGE_ROLE)
        .send()
        .await
        .map_err(failed("iam:ListAttachedRolePolicies", endpoint))?
        .attached_policies
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.policy_arn)
        .collect();
    let inline = iam
        .list_role_policies()
        .role_name(EDGE_ROLE)
        .send()
        .await
        .map_err(failed("iam:ListRolePolicies", endpoint))?
        .policy_names;
    Ok(drift(
        role.assume_role_policy_document.as_deref(),
        role.permissions_boundary
            .as_ref()
            .and_then(|b| b.permissions_boundary_arn.as_deref()),
        &attached,
        &inline,
    ))
}

/// Puts back what was widened. Another install repairing at the same moment may have removed a
/// policy first: that is fine.
async fn repair(iam: &Client, found: &RoleDrift, endpoint: &str) -> Result<(), ApiError> {
    if found.trust {
        iam.update_assume_role_policy()
            .role_name(EDGE_ROLE)
            .policy_document(TRUST_POLICY)
            .send()
            .await
            .map_err(failed("iam:UpdateAssumeRolePolicy", endpoint))?;
    }
    if found.boundary {
        iam.put_role_permissions_boundary()
            .role_name(EDGE_ROLE)
            .permissions_boundary(LOGS_POLICY)
            .send()
            .await
            .map_err(failed("iam:PutRolePermissionsBoundary", endpoint))?;
    }
    for policy in &found.extra_policies {
        let detached = iam
            .detach_role_policy()
            .role_name(EDGE_ROLE)
            .policy_arn(policy)
            .send()
            .await
            .map_err(failed("iam:DetachRolePolicy", endpoint));
        gone_is_fine(detached)?;
    }
    for name in &found.inline_policies {
        let deleted = iam
            .delete_role_policy()
            .role_name(EDGE_ROLE)
            .policy_name(name)
            .send()
            .await
            .map_err(failed("iam:DeleteRolePolicy", endpoint));
        gone_is_fine(deleted)?;
    }
    if found.logs_missing {
        attach_logs(iam, endpoint).await?;
    }
    Ok(())
}

fn gone_is_fine<T>(result: Result<T, ApiError>) -> Result<(), ApiError> {
    match result {
        Err(err) if err.code() != Some("NoSuchEntity") => Err(err),
        _ => Ok(()),
    }
}

/// Maps an IAM failure on the role to what the user should do about it.
fn failed<'a, E>(
    action: &'static str,
    endpoint: &'a str,
) -> impl FnOnce(SdkError<E>) -> ApiError + 'a
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| {
        api_error(
            err,
            action,
            format!("arn:aws:iam::*:role/{EDGE_ROLE}"),
            endpoint,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_as_created_has_no_drift() {
        let encoded =
            percent_encoding::utf8_percent_encode(TRUST_POLICY, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let services_swapped = TRUST_POLICY.replace(
            r#"["lambda.amazonaws.com","edgelambda.amazonaws.com"]"#,
            r#"["edgelambda.amazonaws.com","lambda.amazonaws.com"]"#,
        );
        for document in [TRUST_POLICY, &encoded, &services_swapped] {
            assert_eq!(
                drift(
                    Some(document),
                    Some(LOGS_POLICY),
                    &[LOGS_POLICY.into()],
                    &[]
                ),
                RoleDrift::default()
            );
        }
    }

    #[test]
    fn a_widened_role_is_found_out() {
        let foreign_trust = TRUST_POLICY.replace(
            r#"{"Service":["lambda.amazonaws.com","edgelambda.amazonaws.com"]}"#,
            r#"{"AWS":"arn:aws:iam::666:root"}"#,
        );
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess".to_string();
        let found = drift(
            Some(&foreign_trust),
            None,
            std::slice::from_ref(&admin),
            &["backdoor".into()],
        );
        assert_eq!(
            found,
            RoleDrift {
                trust: true,
                boundary: true,
                logs_missing: true,
                extra_policies: vec![admin],
                inline_policies: vec!["backdoor".into()],
            }
        );
    }
}
