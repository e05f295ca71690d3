//! `releases`: list the releases recorded in the target.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::config::manifest::{self, TargetSettings};

use super::{target_of, Outcome};
use crate::report::OutputFormat;

#[derive(Debug, Args)]
pub(super) struct ReleasesArgs {
    #[command(flatten)]
    target: TargetSettings,
}

pub(super) async fn releases(
    args: ReleasesArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let settings = args.target.or(manifest.target.clone());
    let target = target_of(&settings)?;
    let list = crate::deploy::releases(&target, &settings).await?;
    if format == OutputFormat::Json {
        crate::report::stdout::println(serde_json::to_string_pretty(&list)?);
    } else if list.is_empty() {
        crate::report::stdout::println(
            "no releases in {target} yet: `spadeploy push` creates the first",
        );
    } else {
        crate::report::stdout::print(crate::report::releases_table(&list));
    }
    Ok(Outcome::Done)
}
