//! `routing`: show the routing plan and its drift, rotate the Referer secret, or print the
//! generated edge function.

use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use crate::cdn::edge_code;
use crate::cdn::routing::{self, Routes};
use crate::config::framework::BuildShape;
use crate::config::manifest::{self, Manage, Manifest, TargetSettings};
use crate::config::routing::Mode;
use crate::config::target::Target;
use crate::report::Explanation;

use super::{BaseArg, CdnArgs, Outcome};
use crate::report::OutputFormat;

#[derive(Debug, Args)]
pub(super) struct RoutingArgs {
    /// Print the generated edge function for the mode (with the route table of the target's live
    /// release) and stop
    #[arg(long)]
    print_function: bool,
    /// Print the route table of the target's live release as JSON and stop
    #[arg(long, conflicts_with = "print_function")]
    print_table: bool,
    /// Explain how a URL path is answered against the target's live release, step by step in
    /// the evaluation order (which step answered, with which file or rule, status and headers),
    /// and stop
    #[arg(long, value_name = "PATH", conflicts_with_all = ["print_function", "print_table"])]
    explain: Option<String>,
    /// With --explain: the request's method
    #[arg(long, default_value = "GET", requires = "explain")]
    method: String,
    /// With --print-function: the private-mode function that reads its pages from a
    /// KeyValueStore, whatever the table's size
    #[arg(long, requires = "print_function")]
    key_value_store: bool,
    #[command(flatten)]
    base: BaseArg,
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
    let loaded = manifest::load(config)?;
    let settings = args.target.or(loaded.manifest.target.clone());
    let manifest = loaded.resolve(&BuildShape::of_target(settings.to.as_ref()));
    if args.print_function || args.print_table || args.explain.is_some() {
        let mode = manifest.mode(args.cdn.mode);
        let print = match (args.explain, args.print_table) {
            (Some(path), _) => Print::Explain {
                method: args.method.to_ascii_uppercase(),
                path,
                json: format == OutputFormat::Json,
            },
            (None, true) => Print::Table,
            (None, false) => Print::Function {
                key_value_store: args.key_value_store,
            },
        };
        print_routes(&manifest, &settings, mode, &args.base, print).await?;
        return Ok(Outcome::Done);
    }
    let Some(request) = args.cdn.routing(&manifest) else {
        bail!("which distribution? pass --distribution ID, or set `distribution` under [cdn] in spadeploy.toml");
    };
    let Some(Target::S3 { bucket, prefix }) = settings.to.clone() else {
        bail!("routing needs the s3:// target the distribution serves: pass --to s3://BUCKET[/PREFIX] or set [target] to");
    };
    if args.rotate_secret {
        if request.manage == Manage::Content {
            bail!("--rotate-secret writes the distribution's origin, which [cdn] manage = \"content\" leaves to your infrastructure as code: rotate the Referer secret there (content mode is private mode, which has no secret)");
        }
        let rotation = crate::deploy::rotate_secret(&settings, request, bucket, prefix).await?;
        if format == OutputFormat::Json {
            crate::report::stdout::println(serde_json::to_string_pretty(&rotation)?);
        } else {
            crate::report::stdout::println(format_args!(
                "rotated the Referer secret of distribution {} (deployed after {}s); the old value is no longer allowed",
                rotation.distribution, rotation.deployed_after_s
            ));
        }
        return Ok(Outcome::Done);
    }
    let plan = crate::deploy::plan_routing(&settings, request, bucket, prefix).await?;
    if format == OutputFormat::Json {
        crate::report::stdout::println(serde_json::to_string_pretty(&plan)?);
    } else {
        crate::report::stdout::print(&plan);
    }
    if args.check && plan.has_changes() {
        eprintln!("routing has drifted from the manifest: `spadeploy push` repairs it");
        return Ok(Outcome::ChangesPending);
    }
    Ok(Outcome::Done)
}

/// The route table of the target's live release (served under `--base`, by default its prefix),
/// as JSON or as the mode's edge function.
async fn print_routes(
    manifest: &Manifest,
    settings: &TargetSettings,
    mode: Option<Mode>,
    base: &BaseArg,
    print: Print,
) -> Result<()> {
    let Some(target) = settings.to.clone() else {
        bail!("which target's release? pass --to TARGET, or set [target] to in spadeploy.toml");
    };
    let mode = match (mode, &print) {
        (Some(mode), _) => mode,
        (None, Print::Table | Print::Explain { .. }) => Mode::Private,
        (None, Print::Function { .. }) => bail!(
            "which routing mode? pass --mode website|private, or set `mode` under [routing] in spadeploy.toml"
        ),
    };
    let Some(live) = crate::deploy::live_record(&target, settings).await? else {
        bail!("{target} has no live release yet: the route table is made from one, so push first");
    };
    let keys: Vec<String> = live.objects.keys().cloned().collect();
    let (prefix, owner) = match &target {
        Target::S3 { bucket, prefix } => (prefix.as_str(), routing::target_id(bucket, prefix)),
        Target::Local { .. } => ("", routing::target_id(&target.to_string(), "")),
    };
    let base = base.resolve(prefix)?;
    // The routing the live release was pushed with; the manifest's for a release that predates
    // recorded routing.
    let rules = match &live.routing {
        Some(value) => crate::config::routing::RouteRules::from_record(value).map_err(|e| {
            anyhow::anyhow!(
                "{target}'s live release records a routing that is not valid ({e}): push again"
            )
        })?,
        None => manifest.route_rules(),
    };
    let routes = Routes::derive(&rules, &base, keys.iter().map(String::as_str))
        .map_err(anyhow::Error::msg)?;
    let previews = manifest.preview.edge();
    if let Print::Explain { method, path, json } = print {
        let explained = Explanation::of(
            &routes,
            &live,
            mode,
            &manifest.routing.error_document,
            &method,
            &path,
        );
        if json {
            crate::report::stdout::println(serde_json::to_string_pretty(&explained)?);
        } else {
            crate::report::stdout::print(&explained);
        }
    } else if let Print::Function { key_value_store } = print {
        let code =
            edge_code::function_code(&routes, mode, key_value_store, &owner, previews.as_ref())
                .map_err(anyhow::Error::msg)?;
        crate::report::stdout::print(code.code);
    } else {
        let events: Vec<&str> = edge_code::events(
            mode,
            edge_code::needs_viewer_response(&routes, previews.as_ref()),
        )
        .iter()
        .map(|e| e.name())
        .collect();
        let table = serde_json::json!({
            "routes": routes,
            "pages": routes.pages,
            "not_found_key": routes.not_found_key,
            "events": events,
            "key_value_store": routes.lookup_table(),
        });
        crate::report::stdout::println(serde_json::to_string_pretty(&table)?);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Print {
    Table,
    Function {
        key_value_store: bool,
    },
    Explain {
        method: String,
        path: String,
        json: bool,
    },
}
