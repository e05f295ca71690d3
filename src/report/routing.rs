//! The routing plan for people: what a push changes (or changed) on the distribution and bucket.

use std::fmt;

use serde::Serialize;

use crate::cdn::access_block::AccessBlockStep;
use crate::cdn::decide::{RoutingPlan, Step};

/// A kebab-case enum as its serialized name.
pub(super) fn name_of<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A routing plan on its own (`spadeploy routing`): what a push would change.
impl fmt::Display for RoutingPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_routing(f, self, true)
    }
}

/// The steps of the origin and the bucket: each unchanged, or what it (would) become.
fn write_bucket_steps(f: &mut fmt::Formatter<'_>, r: &RoutingPlan, dry_run: bool) -> fmt::Result {
    let step = |s: Step, verb: &str, done: &str| match (s, dry_run) {
        (Step::Unchanged, _) => "unchanged".to_string(),
        (Step::Update, true) => format!("would {verb}"),
        (Step::Update, false) => done.to_string(),
    };
    writeln!(
        f,
        "  origin    {}",
        step(r.origin_switch, "switch", "switched")
    )?;
    writeln!(
        f,
        "  referer   {}",
        step(
            r.referer_header,
            "set the secret header",
            "secret header set"
        )
    )?;
    writeln!(f, "  website   {}", step(r.website, "update", "updated"))?;
    writeln!(
        f,
        "  public access block {}",
        match r.public_access_block {
            AccessBlockStep::Unchanged => "unchanged",
            AccessBlockStep::Relax if dry_run =>
                "would turn off BlockPublicPolicy/RestrictPublicBuckets for the Referer-limited policy (recorded in a bucket tag)",
            AccessBlockStep::Relax =>
                "turned off BlockPublicPolicy/RestrictPublicBuckets for the Referer-limited policy (recorded in a bucket tag)",
            AccessBlockStep::Restore if dry_run => "would turn back on what spadeploy turned off",
            AccessBlockStep::Restore => "turned back on what spadeploy turned off",
        }
    )?;
    writeln!(
        f,
        "  policy    {}",
        step(r.bucket_policy, "update", "updated")
    )?;
    if r.route_store == Step::Update {
        writeln!(
            f,
            "  route table store {}",
            step(r.route_store, "repair", "repaired")
        )?;
    }
    Ok(())
}

pub(super) fn write_routing(
    f: &mut fmt::Formatter<'_>,
    r: &RoutingPlan,
    dry_run: bool,
) -> fmt::Result {
    writeln!(
        f,
        "routing: distribution {} in {} mode (SPA origin: {})",
        r.distribution,
        r.mode,
        name_of(r.origin)
    )?;
    writeln!(
        f,
        "  function  {} ({}): {}{}",
        r.function.name,
        r.function.kind,
        name_of(r.function.action),
        r.function
            .arn
            .as_deref()
            .map(|a| format!(" -> {a}"))
            .unwrap_or_default()
    )?;
    writeln!(
        f,
        "  routes    {} page(s), {}",
        r.function.pages, r.function.pages_in
    )?;
    for b in &r.behaviors {
        let what = if b.spa {
            "SPA"
        } else {
            "other origin, never modified"
        };
        writeln!(
            f,
            "  behavior  {:<12} {:<10} ({what})",
            b.path,
            name_of(b.action)
        )?;
    }
    write_bucket_steps(f, r, dry_run)?;
    for warning in &r.warnings {
        writeln!(f, "  warning: {warning}")?;
    }
    Ok(())
}
