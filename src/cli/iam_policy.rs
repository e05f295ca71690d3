//! `iam-policy`: print the least-privilege policy for this configuration.

use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use crate::cdn::iam::BucketConfig;
use crate::config::manifest::{self, Manage, TargetSettings};
use crate::config::routing::Mode;
use crate::config::target::Target;

use super::Outcome;

#[derive(Debug, Args)]
pub(super) struct IamPolicyArgs {
    #[command(flatten)]
    target: TargetSettings,
    /// CloudFront distribution [default: the manifest's]
    #[arg(long, value_name = "ID")]
    distribution: Option<String>,
    /// Routing mode [default: the manifest's; without one, both modes' permissions]
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// AWS account id (12 digits) for the ARNs [default: *]
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// Leave out every write to the bucket's configuration (policy, Block Public Access, its
    /// tag, website configuration): they are bucket-wide, so credentials for one prefix should
    /// not hold them. For pushes with `push --no-bucket-policy` to a bucket already wired
    #[arg(long)]
    no_bucket_policy: bool,
    /// ARN of the route table's KeyValueStore (private mode), once it exists: the store actions
    /// then reach that store only [default: the account's stores, as a store's ARN holds an id
    /// CloudFront picks at creation]
    #[arg(long, value_name = "ARN")]
    key_value_store: Option<String>,
    /// `content`: the policy of pushes to a distribution that Terraform, CloudFormation or CDK
    /// wires ([cdn] manage = "content"): objects, the function's code, the store's keys and
    /// invalidations, with no distribution, bucket-configuration or IAM write [default: the
    /// manifest's [cdn] manage]
    #[arg(long, value_enum)]
    manage: Option<Manage>,
}

pub(super) fn iam_policy(args: IamPolicyArgs, config: Option<&Path>) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let settings = args.target.or(manifest.target.clone());
    let Some(Target::S3 { bucket, prefix }) = settings.to else {
        bail!(
            "iam-policy needs an s3:// target: pass --to s3://BUCKET[/PREFIX] or set [target] to"
        );
    };
    let distribution = args.distribution.or(manifest.cdn.distribution.clone());
    let mode = manifest.mode(args.mode);
    let function_name = crate::cdn::routing::function_name(&manifest.routing, &bucket, &prefix);
    let scope = crate::cdn::iam::PolicyScope {
        bucket: &bucket,
        prefix: &prefix,
        distribution: distribution.as_deref(),
        mode,
        function_name: &function_name,
        account: args.account_id.as_deref(),
        bucket_config: if args.no_bucket_policy {
            BucketConfig::ReadOnly
        } else {
            BucketConfig::Write
        },
        key_value_store: args.key_value_store.as_deref(),
    };
    let manage = args.manage.or(manifest.cdn.manage).unwrap_or_default();
    let policy = match (manage, distribution.as_deref()) {
        (Manage::Content, Some(_)) if mode == Some(Mode::Website) => bail!(
            "website mode cannot be content-only (every code change needs a new Lambda@Edge \
             version in the distribution's association): use private mode, or --manage all"
        ),
        (Manage::Content, Some(id)) => {
            let resources = crate::cdn::iam::ContentResources::of(&scope, id);
            crate::cdn::iam::content_policy(&scope, &resources)?
        }
        (Manage::Content, None) => bail!(
            "--manage content needs the distribution whose wiring is checked: pass --distribution \
             or set [cdn] distribution"
        ),
        (Manage::All, _) => crate::cdn::iam::policy(&scope)?,
    };
    crate::report::stdout::println(serde_json::to_string_pretty(&policy)?);
    // What the JSON cannot say: the grants IAM could not narrow to this site.
    if distribution.is_some() {
        if manage == Manage::All && scope.bucket_config == BucketConfig::Write && !prefix.is_empty()
        {
            eprintln!(
                "note: the bucket policy, Block Public Access and website configuration are bucket-wide: \
                 these credentials could open all of s3://{bucket}, not only {prefix}. Once the bucket \
                 is wired, print the policy with --no-bucket-policy and push with --no-bucket-policy"
            );
        }
        if mode != Some(Mode::Website) && scope.key_value_store.is_none() {
            eprintln!(
                "note: the KeyValueStore actions reach every store in the account (a store's ARN holds \
                 an id CloudFront picks, not its name); once the store `{function_name}` exists, pass \
                 --key-value-store with its ARN to limit them to it"
            );
        }
    }
    Ok(Outcome::Done)
}
