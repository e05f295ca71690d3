//! `export`: print the whole stack (bucket, OAC, bucket policy, function, store, distribution,
//! deploy role) as CloudFormation, Terraform or a CDK app, for a team whose IaC owns the wiring.

use std::path::Path;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use crate::cdn::export::{GitHub, Stack};
use crate::config::manifest;
use crate::config::target::Target;

use super::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A CloudFormation template (JSON) for `aws cloudformation deploy`
    Cloudformation,
    /// A Terraform configuration for the hashicorp/aws provider
    Terraform,
    /// A CDK app in plain JavaScript (aws-cdk-lib v2): `cdk synth --app "node app.js"`
    Cdk,
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// What to write
    #[arg(value_enum)]
    format: Format,
    /// The bucket (created by the stack) and key prefix the site is pushed to, s3://BUCKET[/PREFIX]
    /// [default: the manifest's target]
    #[arg(long, value_name = "TARGET")]
    to: Option<Target>,
    /// Host name of the API served under /api/* on the same domain, e.g. api.example.com
    /// [default: no API behavior]
    #[arg(long, value_name = "HOST")]
    api_origin: Option<String>,
    /// Alternate domain name of the distribution (repeatable); needs --certificate-arn
    #[arg(long = "alias", value_name = "DOMAIN")]
    aliases: Vec<String>,
    /// ACM certificate in us-east-1 covering the aliases
    #[arg(long, value_name = "ARN")]
    certificate_arn: Option<String>,
    /// GitHub repository whose workflows may push, OWNER/NAME: adds an OIDC deploy role with the
    /// content-only policy (objects, the function's code, the store's entries, invalidations)
    #[arg(long, value_name = "OWNER/NAME")]
    github_repo: Option<String>,
    /// The branch whose workflows may assume the deploy role
    #[arg(
        long,
        value_name = "BRANCH",
        default_value = "main",
        requires = "github_repo"
    )]
    github_branch: String,
}

pub(super) fn export(args: ExportArgs, config: Option<&Path>) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let to = args.to.or(manifest.target.to.clone());
    let Some(Target::S3 { bucket, prefix }) = to else {
        bail!("export needs an s3:// target: pass --to s3://BUCKET[/PREFIX] or set [target] to");
    };
    let function_name = crate::cdn::routing::function_name(&manifest.routing, &bucket, &prefix);
    let stack = Stack {
        bucket,
        prefix,
        function_name,
        api_origin: args.api_origin,
        aliases: args.aliases,
        certificate_arn: args.certificate_arn,
        github: args.github_repo.map(|repo| GitHub {
            repo,
            branch: args.github_branch,
        }),
    };
    match args.format {
        Format::Cloudformation => {
            let template = crate::cdn::export::cloudformation(&stack)?;
            crate::report::stdout::print(template);
            eprintln!(
                "spadeploy.toml for this stack (distribution: the stack's DistributionId output):\n\n{}",
                stack.manifest("DISTRIBUTION_ID")
            );
        }
        Format::Terraform => {
            crate::report::stdout::print(crate::cdn::export::terraform(&stack)?);
            eprintln!("note: the spadeploy.toml for this stack closes the output, as a comment");
        }
        Format::Cdk => {
            crate::report::stdout::print(crate::cdn::export::cdk(&stack)?);
            eprintln!(
                "spadeploy.toml for this stack (distribution: the stack's DistributionId output):\n\n{}",
                stack.manifest("DISTRIBUTION_ID")
            );
        }
    }
    Ok(Outcome::Done)
}
