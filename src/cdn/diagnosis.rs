//! The verdict of the wiring checks (`wiring.rs`): each check with its status and fix, what a
//! content-mode push refuses with and what `doctor` prints. Plain data, so errors can carry it.

use serde::Serialize;

use crate::config::manifest::Iac;
use crate::config::routing::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    Ok,
    /// The site misbehaves (or a content-mode push cannot write its routing) until it is fixed.
    Problem,
    /// Works, but not as well as it could.
    Warning,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// A stable name, for scripts reading `--json`.
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The checks' verdict and the language their fixes are written in.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub distribution: String,
    pub mode: Mode,
    pub manage: crate::config::manifest::Manage,
    pub iac: Iac,
    /// The CloudFormation stack the distribution belongs to, if one tagged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    pub checks: Vec<Check>,
}

/// The check of what a push itself writes (the code and the store's keys), not the wiring.
pub(crate) const CONTENT_CHECK: &str = "route-table";

impl Report {
    pub(crate) fn problems(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Problem)
    }

    /// The problems a content-mode push cannot fix: the wiring's, not its own content's.
    pub(crate) fn wiring_problems(&self) -> impl Iterator<Item = &Check> {
        self.problems().filter(|c| c.check != CONTENT_CHECK)
    }
}

impl std::fmt::Display for Report {
    /// The problems, each with its fix, indented under it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for problem in self.wiring_problems() {
            writeln!(f, "  - {}: {}", problem.check, problem.detail)?;
            if let Some(fix) = &problem.fix {
                writeln!(f, "    fix:")?;
                for line in fix.lines() {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        Ok(())
    }
}

/// The fix language: the user's choice, else CloudFormation for a stack's distribution (CDK
/// deploys through CloudFormation too, but its tag does not say so), else Terraform.
pub(crate) fn language(chosen: Option<Iac>, stack: Option<&str>) -> Iac {
    chosen.unwrap_or(if stack.is_some() {
        Iac::Cloudformation
    } else {
        Iac::Terraform
    })
}

/// What the infrastructure as code is called in messages.
pub(crate) fn owner(iac: Iac) -> &'static str {
    match iac {
        Iac::Terraform => "Terraform",
        Iac::Cloudformation => "CloudFormation",
        Iac::Cdk => "the CDK app",
    }
}
