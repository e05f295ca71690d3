//! The command line: clap definitions, one file per command (flags and manifest merged into a
//! typed request for the layers below), and the exit status and error rendering all share.

mod deploy;
mod doctor;
mod export;
mod iam_policy;
mod init;
mod preview;
mod releases;
mod routing;
mod serve;
mod verify;

use deploy::{DeployArgs, Intent, PushArgs, RollbackArgs};
use doctor::DoctorArgs;
use export::ExportArgs;
use iam_policy::IamPolicyArgs;
use init::InitArgs;
use preview::PreviewArgs;
use releases::ReleasesArgs;
use routing::RoutingArgs;
use serve::ServeArgs;
use verify::VerifyArgs;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::cdn::iam::BucketConfig;
use crate::cdn::request::RoutingRequest;
use crate::config::manifest::{self, Iac, Manage, TargetSettings};
use crate::config::routing::Mode;
use crate::config::target::Target;
use crate::report::OutputFormat;

/// Exit status when `--exit-code` is given and the plan has changes.
const EXIT_CHANGES: u8 = 2;
/// Exit status for command-line usage errors (sysexits EX_USAGE), distinct from "changes".
const EXIT_USAGE: u8 = 64;

const EXAMPLES: &str = "\
Examples:
  spadeploy push examples/demo-spa --to ./site      deploy to a local directory (no AWS needed)
  spadeploy diff ./dist --to s3://my-site           show what a push would change, change nothing
  spadeploy push ./dist --to s3://my-site/app --region eu-west-1
  spadeploy diff --exit-code                        exit 2 when the target differs from the build
  spadeploy init                                    write a commented spadeploy.toml

Exit status: 0 success, 1 failure, 2 changes pending (with --exit-code), 64 bad usage.";

#[derive(Debug, Parser)]
#[command(
    name = "spadeploy",
    version,
    about = "Deploy a built single-page app to S3 (or a local directory) with content hashing, \
             correct headers and safe ordering",
    after_help = EXAMPLES
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Manifest to use (default: ./spadeploy.toml when present)
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print one JSON document on stdout and nothing else there (push, diff, rollback, prune,
    /// releases, routing, verify; errors too)
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sync a build directory to the target: assets first, HTML next, index.html last, deletes after
    Push(PushArgs),
    /// Restore an earlier release (default: the one before the live release) without the build
    Rollback(RollbackArgs),
    /// List the releases recorded in the target (the live one marked)
    Releases(ReleasesArgs),
    /// Delete what the keep-window no longer needs (old assets, retained copies), nothing else
    Prune(DeployArgs),
    /// Print the least-privilege IAM policy this configuration needs (target, distribution, mode)
    IamPolicy(IamPolicyArgs),
    /// Probe a live site: index, a deep client route, a missing asset, API statuses, headers
    Verify(VerifyArgs),
    /// Print shell completions: spadeploy completions bash > /etc/bash_completion.d/spadeploy
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Show what `push` would change, and change nothing (same as `push --dry-run`)
    Diff(PushArgs),
    /// Write a commented spadeploy.toml for this project
    Init(InitArgs),
    /// Preview a local target (or a build directory) on 127.0.0.1 with the routing of the chosen
    /// mode: index documents, client routes, redirects, headers, and API prefixes proxied
    Serve(ServeArgs),
    /// Show the CloudFront routing setup and its drift (`--check` exits 2 on drift), or print the
    /// generated edge function (`--print-function`)
    Routing(RoutingArgs),
    /// Print the whole stack (private bucket, OAC, bucket policy, CloudFront Function and its
    /// KeyValueStore, distribution with /api/*, GitHub deploy role) as CloudFormation, Terraform
    /// or a CDK app
    Export(ExportArgs),
    /// Check the distribution's wiring, read-only, whoever manages it: the function on every SPA
    /// behavior and no API behavior, Origin Access Control, the bucket policy, behavior order,
    /// error responses, Host forwarding; each problem with its fix (exit 2 on a problem)
    Doctor(DoctorArgs),
    /// Per-pull-request previews on the site's own distribution: deploy, remove, list, gc
    Preview(PreviewArgs),
}

/// `--base`: where a target's files appear in URLs.
#[derive(Debug, Clone, Default, clap::Args)]
pub(super) struct BaseArg {
    /// URL path the files are served under, e.g. /app/ for a Vite build with `base: '/app/'`
    /// [default: the target's key prefix, as behind a CloudFront origin without an origin path]
    #[arg(long, value_name = "PATH")]
    base: Option<String>,
}

impl BaseArg {
    /// The base as a folder URL (`/app/`), else the one a target at `prefix` is served under.
    fn resolve(&self, prefix: &str) -> anyhow::Result<String> {
        match &self.base {
            Some(base) => {
                let trimmed = base.trim_matches('/');
                if !base.starts_with('/') || trimmed.contains(['?', '#', '*', ':', ' ']) {
                    anyhow::bail!("--base {base:?}: give a URL path such as /app/");
                }
                Ok(if trimmed.is_empty() {
                    "/".into()
                } else {
                    format!("/{trimmed}/")
                })
            }
            None => crate::cdn::routing::site_base(prefix, "").map_err(anyhow::Error::msg),
        }
    }
}

/// CloudFront routing flags, shared by `push`, `diff` and `routing`.
#[derive(Debug, Args)]
struct CdnArgs {
    /// CloudFront distribution in front of the bucket: make its SPA routing right, then invalidate
    #[arg(long, value_name = "ID")]
    distribution: Option<String>,
    /// Routing mode [default: the manifest's, else detected from the SPA origin]
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Switch the SPA origin to what the mode needs (website endpoint, or REST endpoint + OAC)
    #[arg(long)]
    fix_origin: bool,
    /// Consent to a bucket policy that lets the website endpoint read objects (website mode),
    /// limited to requests carrying a secret Referer header only the distribution sends
    #[arg(long)]
    allow_public_read: bool,
    /// Never write the bucket's configuration (policy, Block Public Access, website
    /// configuration), which is bucket-wide: check it, and fail saying what is missing when it
    /// is not as this push needs. For credentials limited to a prefix (`iam-policy
    /// --no-bucket-policy`)
    #[arg(long)]
    no_bucket_policy: bool,
    /// Who owns the wiring [default: the manifest's [cdn] manage, else all]: `content` when
    /// Terraform, CloudFormation or CDK declares the distribution; a push then checks the wiring
    /// read-only and writes only objects, the function's code and its store's keys
    #[arg(long, value_enum)]
    manage: Option<Manage>,
    /// Print wiring fixes in this language [default: CloudFormation for a distribution a stack
    /// owns, else Terraform]
    #[arg(long, value_enum)]
    iac: Option<Iac>,
}

/// Invalidation flags, for the commands that change what CloudFront serves (not `routing`,
/// which only plans).
#[derive(Debug, Args)]
struct InvalidationArgs {
    /// Do not invalidate CloudFront after the push
    #[arg(long)]
    no_invalidate: bool,
    /// Wait until the invalidation has completed
    #[arg(long)]
    wait: bool,
}

impl CdnArgs {
    /// The routing request, when a distribution is given by flag or manifest.
    fn routing(&self, manifest: &manifest::Manifest) -> Option<RoutingRequest> {
        let distribution = self
            .distribution
            .clone()
            .or(manifest.cdn.distribution.clone())?;
        Some(RoutingRequest {
            distribution,
            mode: manifest.mode(self.mode),
            rules: manifest.route_rules(),
            fix_origin: self.fix_origin,
            allow_public_read: self.allow_public_read || manifest.routing.allow_public_read,
            bucket_config: if self.no_bucket_policy {
                BucketConfig::ReadOnly
            } else {
                BucketConfig::Write
            },
            verify_store: false,
            manage: self.manage.or(manifest.cdn.manage).unwrap_or_default(),
            iac: self.iac.or(manifest.cdn.iac),
            check_wiring: false,
            previews: manifest.preview.edge(),
        })
    }
}

/// The target from flags or manifest, or what to do when neither names one.
fn target_of(settings: &TargetSettings) -> Result<Target> {
    settings.to.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "no target: pass --to s3://BUCKET[/PREFIX] or --to ./site, or set `to` under [target] \
             in spadeploy.toml (`spadeploy init` writes one)"
        )
    })
}

/// A usage mistake the parser cannot see (a flag that needs another): exit 64, like clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

enum Outcome {
    Done,
    ChangesPending,
    /// Failed, and the output already said why (exit 1).
    Failed,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let json = cli.json;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPending) => ExitCode::from(EXIT_CHANGES),
        Ok(Outcome::Failed) => ExitCode::FAILURE,
        Err(err) => {
            let status = if err.downcast_ref::<Usage>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            };
            let message = one_line(&err);
            eprintln!("error: {message}");
            annotate(&err, json);
            if json {
                let doc = serde_json::json!({ "ok": false, "error": message });
                crate::report::stdout::println(format_args!("{doc:#}"));
            }
            status
        }
    }
}

/// In GitHub Actions, a manifest error becomes an annotation on the file and line.
fn annotate(err: &anyhow::Error, json: bool) {
    if json || std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    let Some(manifest::ManifestError::Invalid {
        path,
        line,
        column,
        message,
        ..
    }) = err.downcast_ref::<manifest::ManifestError>()
    else {
        return;
    };
    // Workflow commands end at a newline; escape as GitHub documents.
    let message = message
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    crate::report::stdout::println(format_args!(
        "::error file={},line={line},col={column}::{message}",
        path.display()
    ));
}

/// "what failed: why: what to do", each cause once (typed errors often quote their source).
fn one_line(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

async fn run(cli: Cli) -> Result<Outcome> {
    let config = cli.config.as_deref();
    let format = if cli.json {
        OutputFormat::Json
    } else {
        OutputFormat::Human
    };
    match cli.command {
        Command::Push(args) => deploy::push(args, config, format, Intent::Apply).await,
        Command::Diff(args) => deploy::push(args, config, format, Intent::Diff).await,
        Command::Init(args) => init::init(&args),
        Command::Rollback(args) => deploy::rollback(args, config, format).await,
        Command::Releases(args) => releases::releases(args, config, format).await,
        Command::Prune(args) => deploy::prune(args, config, format).await,
        Command::IamPolicy(args) => iam_policy::iam_policy(args, config),
        Command::Verify(args) => verify::verify(args, config, format).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "spadeploy", &mut std::io::stdout());
            Ok(Outcome::Done)
        }
        Command::Serve(args) => serve::serve(args, config).await,
        Command::Routing(args) => routing::routing(args, config, format).await,
        Command::Export(args) => export::export(args, config),
        Command::Doctor(args) => doctor::doctor(args, config, format).await,
        Command::Preview(args) => preview::preview(args, config, format).await,
    }
}
