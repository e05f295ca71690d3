//! `routing`: show the routing plan and its drift, rotate the Referer secret, or print the
//! generated edge function.

use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use crate::cdn::routing::Rule;
use crate::config::manifest::{self, TargetSettings};
use crate::config::routing::Mode;
use crate::config::target::Target;

use super::{CdnArgs, Outcome};
use crate::report::OutputFormat;

#[derive(Debug, Args)]
pub(super) struct RoutingArgs {
    /// Print the generated edge function for the mode and stop
    #[arg(long)]
    print_function: bool,
    /// Exit 2 when the routing has drifted from what a push would set up
    #[arg(long)]
    check: bool,
    /// Website mode: replace the secret Referer header with a new random one, without a moment
    /// of refused requests (both allowed until the distribution is deployed, then the old dropped)
    #[arg(long, conflicts_with_all = ["check", "print_function"])]
    rotate_secret: bool,
    #[command(flatten)]
    target: TargetSettings,
    #[command(flatten)]
    cdn: CdnArgs,
}

pub(super) async fn routing(
    args: RoutingArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    if args.print_function {
        let rule = Rule::new(&manifest.routing, &manifest.redirect_rules());
        let Some(mode) = args.cdn.mode.or(manifest.routing.mode) else {
            bail!("which routing mode? pass --mode website|private, or set `mode` under [routing] in spadeploy.toml");
        };
        let code = match mode {
            Mode::Website => crate::cdn::edge::lambda_edge_source(&rule),
            Mode::Private => crate::cdn::edge::cloudfront_function_source(&rule),
        };
        print!("{code}");
        return Ok(Outcome::Done);
    }
    let settings = args.target.or(manifest.target.clone());
    let Some(request) = args.cdn.routing(&manifest) else {
        bail!("which distribution? pass --distribution ID, or set `distribution` under [cdn] in spadeploy.toml");
    };
    let Some(Target::S3 { bucket, prefix }) = settings.to.clone() else {
        bail!("routing needs the s3:// target the distribution serves: pass --to s3://BUCKET[/PREFIX] or set [target] to");
    };
    if args.rotate_secret {
        let rotation = crate::deploy::rotate_secret(&settings, request, bucket, prefix).await?;
        if format == OutputFormat::Json {
            println!("{}", serde_json::to_string_pretty(&rotation)?);
        } else {
            println!(
                "rotated the Referer secret of distribution {} (deployed after {}s); the old value is no longer allowed",
                rotation.distribution, rotation.deployed_after_s
            );
        }
        return Ok(Outcome::Done);
    }
    let plan = crate::deploy::plan_routing(&settings, request, bucket, prefix).await?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{plan}");
    }
    if args.check && plan.has_changes() {
        eprintln!("routing has drifted from the manifest: `spadeploy push` repairs it");
        return Ok(Outcome::ChangesPending);
    }
    Ok(Outcome::Done)
}
