//! `spadeploy export`: the whole stack a private-mode site runs on, as infrastructure as code —
//! a private bucket (Block Public Access on), Origin Access Control, the bucket policy for this
//! distribution, the CloudFront Function with placeholder code and its KeyValueStore, the
//! distribution (the SPA's default behavior and `/api/*` to the API origin), and a GitHub OIDC
//! deploy role with the content-only policy: objects, the function's code, the store's entries
//! and invalidations, never the wiring (DESIGN.md §7: the wiring is declared once, a push writes
//! only content).
//!
//! Pure: a validated [`Stack`] in, the text out. The policies are built once here as IAM JSON,
//! with markers where a value is only known once the stack exists (the distribution's ARN, the
//! function's); each format replaces a marker with its own reference.

mod cdk;
mod cloudformation;
mod hcl;
mod terraform;

use serde_json::{json, Value};

use crate::cdn::edge_code::Event;
use crate::cdn::iam::{ContentResources, PolicyScope, ScopeError};
use crate::cdn::website::PolicyTarget;

pub(crate) use cdk::cdk;
pub(crate) use cloudformation::cloudformation;
pub(crate) use terraform::terraform;

/// CloudFront's managed cache and origin request policies (the same id in every account).
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The path pattern of the API behavior.
const API_PATH: &str = "/api/*";
/// The distribution's origin ids: the bucket (default behavior) and the API (`/api/*`).
const SPA_ORIGIN: &str = "spa";
const API_ORIGIN: &str = "api";
/// The function runs on both viewer events of the SPA behavior: requests for client routes are
/// rewritten, and responses get the manifest's headers and not-found page (a push publishes the
/// code that needs them, so the association is there from the start).
const FUNCTION_EVENTS: [Event; 2] = [Event::ViewerRequest, Event::ViewerResponse];
const OAC_DESCRIPTION: &str = "spadeploy: CloudFront signs its requests to the private bucket";
const STORE_COMMENT: &str =
    "spadeploy route table: URLs that name pages, and the page each answers";
const DEPLOY_POLICY_NAME: &str = "spadeploy-content";
/// The stack's parameter for an account that already has GitHub's OIDC provider (an account
/// holds one per URL, so a second stack cannot create it again).
const OIDC_PARAMETER: &str = "GitHubOidcProviderArn";
const OIDC_PARAMETER_DESCRIPTION: &str = "ARN of the account's GitHub OIDC provider \
    (token.actions.githubusercontent.com) if it has one; empty: the stack creates it (an account \
    holds one per URL)";
/// Why the template's function code and store must be left to spadeploy (the template's
/// `Metadata`, for whoever edits the stack later).
const FUNCTION_CODE_NOTE: &str = "Placeholder: spadeploy push publishes the function's code. A \
    stack update that changes the Function resource writes the placeholder back until the next \
    push; other updates leave the code alone.";
const STORE_NOTE: &str = "spadeploy writes this store's entries: import no data into it and \
    manage no keys of it elsewhere.";
const RUNTIME: &str = "cloudfront-js-2.0";
const GITHUB_OIDC_URL: &str = "https://token.actions.githubusercontent.com";
const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";
const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// Passes every request and response through unchanged until the first push publishes the real
/// code (one handler serves both events: a viewer-request event has no response).
const PLACEHOLDER_CODE: &str =
    "// Placeholder: `spadeploy push` publishes the real routing code.\n\
function handler(event) {\n  return event.response || event.request;\n}\n";

/// What the stack is for, as given on the command line or in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stack {
    pub bucket: String,
    /// Empty or ending with `/`: served at the distribution's root through the origin path.
    pub prefix: String,
    /// The CloudFront Function's and its KeyValueStore's name, as `push` derives it.
    pub function_name: String,
    /// Host name of the API behind `/api/*`, if any.
    pub api_origin: Option<String>,
    pub aliases: Vec<String>,
    /// An ACM certificate in us-east-1 covering the aliases.
    pub certificate_arn: Option<String>,
    /// The repository (and branch) whose workflows may assume the deploy role.
    pub github: Option<GitHub>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitHub {
    /// `owner/name`.
    pub repo: String,
    pub branch: String,
}

impl GitHub {
    fn role_description(&self) -> String {
        format!("spadeploy push from {} (content only)", self.repo)
    }
}

/// An input that is not what it claims to be: each would reach an ARN, a condition, a domain
/// name or a string in the generated code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ExportError {
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error("invalid --api-origin `{0}`: give the API's host name only, e.g. api.example.com (no scheme, port or path)")]
    ApiOrigin(String),
    #[error(
        "invalid --alias `{0}`: give a domain name such as www.example.com (or *.example.com)"
    )]
    Alias(String),
    #[error("invalid --certificate-arn `{0}`: give an ACM certificate ARN, arn:aws:acm:us-east-1:ACCOUNT:certificate/ID")]
    Certificate(String),
    #[error("the certificate `{0}` is not in us-east-1: CloudFront uses ACM certificates from us-east-1 only; request or import it there")]
    CertificateRegion(String),
    #[error("--alias needs --certificate-arn: CloudFront serves an alternate domain name only with a certificate that covers it")]
    AliasWithoutCertificate,
    #[error("--certificate-arn needs at least one --alias it covers")]
    CertificateWithoutAlias,
    #[error("invalid --github-repo `{0}`: give OWNER/NAME as on GitHub, e.g. octo-org/site")]
    GitHubRepo(String),
    #[error("invalid --github-branch `{0}`: give a branch name of letters, digits, `-`, `_`, `.` and `/` (no wildcards)")]
    GitHubBranch(String),
}

impl Stack {
    /// Refuses any input that is not what it claims to be (allow-lists, as in `iam-policy`).
    pub(crate) fn validate(&self) -> Result<(), ExportError> {
        self.scope().validate()?;
        if let Some(host) = &self.api_origin {
            if !is_host(host) {
                return Err(ExportError::ApiOrigin(host.clone()));
            }
        }
        for alias in &self.aliases {
            if !is_host(alias.strip_prefix("*.").unwrap_or(alias)) {
                return Err(ExportError::Alias(alias.clone()));
            }
        }
        match (&self.certificate_arn, self.aliases.is_empty()) {
            (Some(arn), false) => check_certificate(arn)?,
            (Some(_), true) => return Err(ExportError::CertificateWithoutAlias),
            (None, false) => return Err(ExportError::AliasWithoutCertificate),
            (None, true) => {}
        }
        if let Some(github) = &self.github {
            if !is_github_repo(&github.repo) {
                return Err(ExportError::GitHubRepo(github.repo.clone()));
            }
            if !is_branch(&github.branch) {
                return Err(ExportError::GitHubBranch(github.branch.clone()));
            }
        }
        Ok(())
    }

    /// The IAM scope of the deploy role: this bucket and prefix, content only.
    fn scope(&self) -> PolicyScope<'_> {
        PolicyScope {
            bucket: &self.bucket,
            prefix: &self.prefix,
            distribution: None,
            mode: Some(crate::config::routing::Mode::Private),
            function_name: &self.function_name,
            account: None,
            bucket_config: crate::cdn::iam::BucketConfig::ReadOnly,
            key_value_store: None,
        }
    }

    /// The origin path that serves the prefix at the distribution's root (`/app`), or empty.
    fn origin_path(&self) -> String {
        match self.prefix.trim_end_matches('/') {
            "" => String::new(),
            folder => format!("/{folder}"),
        }
    }

    /// `s3://bucket` or `s3://bucket/prefix`, as `--to` takes it.
    fn target(&self) -> String {
        match self.prefix.trim_end_matches('/') {
            "" => format!("s3://{}", self.bucket),
            folder => format!("s3://{}/{folder}", self.bucket),
        }
    }

    fn comment(&self) -> String {
        format!("spadeploy: {}", self.target())
    }

    /// What the stack is, for its template's `Description`.
    fn description(&self) -> String {
        format!(
            "{}: a private bucket behind CloudFront with an SPA default behavior{}; pushes write \
             only content (objects, the function's code, the store's entries)",
            self.comment(),
            if self.api_origin.is_some() {
                " and /api/* to the API"
            } else {
                ""
            },
        )
    }

    /// The outputs this stack has.
    fn outputs(&self) -> Vec<Output> {
        let mut outputs = vec![
            Output::BucketName,
            Output::DistributionId,
            Output::DistributionDomainName,
            Output::FunctionName,
            Output::KeyValueStoreArn,
        ];
        if self.github.is_some() {
            outputs.push(Output::DeployRoleArn);
        }
        outputs
    }

    /// The spadeploy.toml a push of this stack uses (`distribution` given as the placeholder
    /// the caller names).
    pub(crate) fn manifest(&self, distribution: &str) -> String {
        format!(
            "[target]\nto = \"{}\"\n\n[cdn]\ndistribution = \"{distribution}\"\n\
             manage = \"content\"\n\n\
             [routing]\nmode = \"private\"\nfunction_name = \"{}\"\n",
            self.target(),
            self.function_name
        )
    }
}

/// What a push needs from the stack, as CloudFormation and CDK name their outputs (Terraform's
/// are the same in snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    BucketName,
    DistributionId,
    DistributionDomainName,
    FunctionName,
    KeyValueStoreArn,
    DeployRoleArn,
}

impl Output {
    fn name(self) -> &'static str {
        match self {
            Output::BucketName => "BucketName",
            Output::DistributionId => "DistributionId",
            Output::DistributionDomainName => "DistributionDomainName",
            Output::FunctionName => "FunctionName",
            Output::KeyValueStoreArn => "KeyValueStoreArn",
            Output::DeployRoleArn => "DeployRoleArn",
        }
    }

    /// Where the value goes.
    fn description(self) -> &'static str {
        match self {
            Output::BucketName => "[target] to = s3://BucketName/PREFIX",
            Output::DistributionId => "[cdn] distribution",
            Output::DistributionDomainName => {
                "Where the site answers (point the aliases' DNS here)"
            }
            Output::FunctionName => "[routing] function_name",
            Output::KeyValueStoreArn => "The route table's store (spadeploy writes its entries)",
            Output::DeployRoleArn => "role-to-assume in aws-actions/configure-aws-credentials",
        }
    }
}

/// A DNS name: dot-separated labels of letters, digits and `-` (not at either end), at least
/// two labels, at most 253 characters.
fn is_host(host: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.len() <= 253 && host.split('.').count() >= 2 && host.split('.').all(label_ok)
}

fn check_certificate(arn: &str) -> Result<(), ExportError> {
    let invalid = || ExportError::Certificate(arn.to_string());
    let rest = arn.strip_prefix("arn:aws:acm:").ok_or_else(invalid)?;
    let (region, rest) = rest.split_once(':').ok_or_else(invalid)?;
    let (account, id) = rest.split_once(":certificate/").ok_or_else(invalid)?;
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let id_ok = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !(region_ok && account_ok && id_ok) {
        return Err(invalid());
    }
    if region != "us-east-1" {
        return Err(ExportError::CertificateRegion(arn.to_string()));
    }
    Ok(())
}

/// GitHub's rules: an owner of 1-39 letters, digits and `-`; a name of 1-100 letters, digits,
/// `-`, `_` and `.` (not `.` or `..`).
fn is_github_repo(repo: &str) -> bool {
    let Some((owner, name)) = repo.split_once('/') else {
        return false;
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let name_ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name != "."
        && name != "..";
    owner_ok && name_ok
}

/// A branch name without the characters that are wildcards or variables in a trust condition.
fn is_branch(branch: &str) -> bool {
    (1..=255).contains(&branch.len())
        && branch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        && !branch.contains("..")
        && !branch.starts_with('/')
        && !branch.ends_with('/')
}

/// The ARN of a resource only known once the stack exists, written as a marker in the policies
/// until each format replaces it with its own reference. Validated input never holds `\u{1}`,
/// so a marker cannot be forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ref {
    Distribution,
    Function,
    Store,
    OidcProvider,
}

impl Ref {
    const ALL: [Ref; 4] = [
        Ref::Distribution,
        Ref::Function,
        Ref::Store,
        Ref::OidcProvider,
    ];

    fn marker(self) -> &'static str {
        match self {
            Ref::Distribution => "\u{1}distribution-arn",
            Ref::Function => "\u{1}function-arn",
            Ref::Store => "\u{1}store-arn",
            Ref::OidcProvider => "\u{1}oidc-provider-arn",
        }
    }

    fn of(text: &str) -> Option<Ref> {
        Ref::ALL.into_iter().find(|r| r.marker() == text)
    }
}

/// The bucket policy's statements, exactly those a private-mode push writes for this
/// distribution (so a push finds them current): reads and listing for CloudFront on this
/// distribution only, and spadeploy's state denied to it and to anonymous readers.
fn bucket_statements(stack: &Stack) -> Vec<Value> {
    PolicyTarget {
        bucket: &stack.bucket,
        prefix: &stack.prefix,
    }
    .private_statements(Ref::Distribution.marker())
}

/// The deploy role's policy in content mode, exactly what `iam-policy --manage content` prints,
/// with the function, store and distribution as references to the stack's resources.
fn content_policy(stack: &Stack) -> Value {
    let resources = ContentResources {
        function: Ref::Function.marker().to_string(),
        store: Ref::Store.marker().to_string(),
        distribution: Ref::Distribution.marker().to_string(),
    };
    // The stack was validated before any format asks for its policy.
    crate::cdn::iam::content_document(&stack.scope(), &resources)
}

/// Who may assume the deploy role: workflows of the one repository, on the one branch, through
/// GitHub's OIDC provider.
fn trust_policy(github: &GitHub) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": Ref::OidcProvider.marker() },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                format!("{GITHUB_OIDC_HOST}:aud"): STS_AUDIENCE,
                format!("{GITHUB_OIDC_HOST}:sub"):
                    format!("repo:{}:ref:refs/heads/{}", github.repo, github.branch),
            } },
        }],
    })
}

/// `value` with every marker replaced by what `resolve` gives for it.
fn resolve_refs(value: &Value, resolve: &dyn Fn(Ref) -> Value) -> Value {
    match value {
        Value::String(text) => Ref::of(text).map_or_else(|| value.clone(), resolve),
        Value::Array(items) => items.iter().map(|v| resolve_refs(v, resolve)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), resolve_refs(v, resolve)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
