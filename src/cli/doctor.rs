//! `doctor`: the wiring checks, read-only, in either management mode: what is wired as the site
//! needs, and for each problem its fix (`spadeploy push`, or the snippet for the Terraform,
//! CloudFormation or CDK that owns the distribution). Exit 2 on a problem.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use crate::cdn::diagnosis::{owner, Report, Status};
use crate::config::framework::BuildShape;
use crate::config::manifest::{self, Manage, TargetSettings};
use crate::config::target::Target;
use crate::report::OutputFormat;

use super::{CdnArgs, Outcome};

#[derive(Debug, Args)]
pub(super) struct DoctorArgs {
    #[command(flatten)]
    target: TargetSettings,
    #[command(flatten)]
    cdn: CdnArgs,
}

pub(super) async fn doctor(
    args: DoctorArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<Outcome> {
    let loaded = manifest::load(config)?;
    let settings = args.target.or(loaded.manifest.target.clone());
    let manifest = loaded.resolve(&BuildShape::of_target(settings.to.as_ref()));
    let Some(request) = args.cdn.routing(&manifest) else {
        bail!("which distribution? pass --distribution ID, or set `distribution` under [cdn] in spadeploy.toml");
    };
    let Some(Target::S3 { bucket, prefix }) = settings.to.clone() else {
        bail!("doctor needs the s3:// target the distribution serves: pass --to s3://BUCKET[/PREFIX] or set [target] to");
    };
    let report = crate::deploy::doctor(&settings, request, bucket, prefix).await?;
    match format {
        OutputFormat::Json => {
            crate::report::stdout::println(serde_json::to_string_pretty(&report)?);
        }
        OutputFormat::Human => crate::report::stdout::print(render(&report)),
    }
    let problems = report.problems().count();
    Ok(if problems > 0 {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

/// One line per check, each problem's fix indented under it.
fn render(report: &Report) -> String {
    let mut out = String::new();
    let owner = match report.manage {
        Manage::All => "spadeploy manages the wiring".to_string(),
        Manage::Content => format!("{} manages the wiring (content mode)", owner(report.iac)),
    };
    let stack = report
        .stack
        .as_ref()
        .map(|s| format!(", CloudFormation stack `{s}`"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "distribution {} ({} mode; {owner}{stack})",
        report.distribution, report.mode
    );
    for check in &report.checks {
        let mark = match check.status {
            Status::Ok => "ok     ",
            Status::Warning => "warning",
            Status::Problem => "PROBLEM",
        };
        let _ = writeln!(out, "  {mark} {:<22} {}", check.check, check.detail);
        if let Some(fix) = &check.fix {
            for line in fix.lines() {
                let _ = writeln!(out, "          | {line}");
            }
        }
    }
    let problems = report.problems().count();
    let _ = match problems {
        0 => writeln!(out, "no problem found"),
        n => writeln!(
            out,
            "{n} problem(s): fix them as shown, then run `spadeploy doctor` again"
        ),
    };
    out
}
