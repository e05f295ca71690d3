//! `iam-policy`: print the least-privilege policy for this configuration.

use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use crate::config::manifest::{self, TargetSettings};
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
    /// AWS account id for the ARNs [default: *]
    #[arg(long, value_name = "ID", default_value = "*")]
    account_id: String,
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
    let scope = crate::cdn::iam::PolicyScope {
        bucket: &bucket,
        prefix: &prefix,
        distribution: distribution.as_deref(),
        mode: args.mode.or(manifest.routing.mode),
        function_name: &crate::cdn::routing::function_name(&manifest.routing, &bucket),
        account: &args.account_id,
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::cdn::iam::policy(&scope))?
    );
    Ok(Outcome::Done)
}
