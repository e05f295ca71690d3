//! `init`: write a commented spadeploy.toml.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::config::manifest::{self};

use super::Outcome;

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// Overwrite an existing spadeploy.toml
    #[arg(long)]
    force: bool,
}

pub(super) fn init(args: &InitArgs) -> Result<Outcome> {
    let path = Path::new(manifest::FILE_NAME);
    if path.exists() && !args.force {
        bail!(
            "{} already exists: edit it, or pass --force to overwrite it",
            path.display()
        );
    }
    let candidates = ["dist", "build", "out"];
    let dir = candidates
        .iter()
        .find(|d| Path::new(d).join("index.html").is_file())
        .or_else(|| candidates.iter().find(|d| Path::new(d).is_dir()))
        .copied();
    std::fs::write(path, manifest::starter(dir.unwrap_or("dist")))
        .with_context(|| format!("cannot write {}", path.display()))?;
    match dir {
        Some(dir) => eprintln!("wrote {} (build directory: {dir}/)", path.display()),
        None => eprintln!(
            "wrote {} with dir = \"dist\" (no dist/, build/ or out/ found: edit `dir` to your build output)",
            path.display()
        ),
    }
    eprintln!("next: set [target] to, run `spadeploy diff` to preview, then `spadeploy push`");
    Ok(Outcome::Done)
}
