//! The command line: flags and manifest merged into one push configuration, then the imperative
//! shell around the pure planner (scan + read remote → plan → render → apply → render).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::cdn::request::RoutingRequest;
use crate::cdn::routing::Rule;
use crate::config::manifest::{self, TargetSettings};
use crate::config::routing::Mode;
use crate::config::target::Target;
use crate::deploy::{PushJob, What};
use crate::report::Progress;
use crate::sync::headers::HeaderRules;
use crate::sync::plan::PlanOptions;
use crate::sync::scan::ScanOptions;
use crate::tools::serve::{ApiRoute, Site};

/// Exit status when `--exit-code` is given and the plan has changes.
const EXIT_CHANGES: u8 = 2;
/// Exit status for command-line usage errors (sysexits EX_USAGE), distinct from "changes".
const EXIT_USAGE: u8 = 64;
const DEFAULT_CONCURRENCY: usize = 32;
const DEFAULT_KEEP_RELEASES: usize = 3;

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
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Manifest to use (default: ./spadeploy.toml when present)
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
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
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// What to serve (default: the manifest's local target, else its build directory, else ./dist)
    path: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Proxy a path prefix to a local API, unchanged: --api /api=http://127.0.0.1:3000
    #[arg(long, value_name = "PREFIX=URL")]
    api: Vec<ApiRoute>,
    /// Routing semantics to reproduce [default: the manifest's, else website]
    #[arg(long, value_enum)]
    mode: Option<Mode>,
}

#[derive(Debug, Args)]
struct RoutingArgs {
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
    /// Print the routing plan as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetSettings,
    #[command(flatten)]
    cdn: CdnArgs,
}

/// Flags of everything that changes a target: `push`, `diff` and `rollback`.
#[derive(Debug, Args)]
struct DeployArgs {
    #[command(flatten)]
    target: TargetSettings,
    /// Plan and show the changes, then stop: no write request of any kind
    #[arg(long)]
    dry_run: bool,
    /// With a dry run: exit 2 when there are changes, 0 when there are none
    #[arg(long)]
    exit_code: bool,
    /// Print one JSON document on stdout (and nothing else there)
    #[arg(long)]
    json: bool,
    /// Parallel transfers [default: 32, or the manifest's `concurrency`]
    #[arg(long, value_name = "N")]
    concurrency: Option<NonZeroUsize>,
    /// No progress output on stderr
    #[arg(long, short)]
    quiet: bool,
    /// Releases whose files stay in the target for open browser tabs, the new one included
    /// [default: 3, or the manifest's `keep_releases`]
    #[arg(long, value_name = "N")]
    keep_releases: Option<NonZeroUsize>,
    /// Allow a build with fewer than half as many files as the live release
    #[arg(long)]
    allow_mass_delete: bool,
    /// Take over the deploy lock even if another deploy holds it (say whose it broke)
    #[arg(long)]
    break_lock: bool,
    /// Also write a Markdown summary to FILE (written to $GITHUB_STEP_SUMMARY automatically)
    #[arg(long, value_name = "FILE")]
    summary_md: Option<PathBuf>,
    #[command(flatten)]
    cdn: CdnArgs,
}

#[derive(Debug, Args)]
struct PushArgs {
    /// Build directory to deploy (default: the manifest's `dir`, else ./dist)
    dir: Option<PathBuf>,
    #[command(flatten)]
    deploy: DeployArgs,
    /// Keep objects that are no longer in the build
    #[arg(long)]
    no_delete: bool,
    /// Re-send every file, even unchanged ones (implies --rehash)
    #[arg(long)]
    force: bool,
    /// Read and hash every build file; otherwise a file unchanged since an earlier run hashed it
    /// (same inode, size, mtime and ctime) is not read again
    #[arg(long)]
    rehash: bool,
    /// Deploy a directory without a top-level index.html
    #[arg(long)]
    allow_missing_index: bool,
    /// List every object changed or deleted in the target outside spadeploy (a push repairs them)
    #[arg(long)]
    verify_remote: bool,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    /// Release id (or a unique prefix) to restore [default: the one before the live release]
    release: Option<String>,
    #[command(flatten)]
    deploy: DeployArgs,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The site, e.g. https://www.example.com
    url: String,
    /// An API path and the status the API answers: --api-probe /api/health=200 (repeatable;
    /// default: the manifest's [verify] api)
    #[arg(long, value_name = "PATH=STATUS")]
    api_probe: Vec<crate::config::manifest::ApiProbe>,
    /// Also check sampled files' headers against the live release of this target
    #[command(flatten)]
    target: TargetSettings,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct IamPolicyArgs {
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

#[derive(Debug, Args)]
struct ReleasesArgs {
    #[command(flatten)]
    target: TargetSettings,
    /// Print the releases as JSON
    #[arg(long)]
    json: bool,
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
            mode: self.mode.or(manifest.routing.mode),
            settings: manifest.routing.clone(),
            redirects: manifest.redirect_rules(),
            fix_origin: self.fix_origin,
            allow_public_read: self.allow_public_read || manifest.routing.allow_public_read,
        })
    }
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Overwrite an existing spadeploy.toml
    #[arg(long)]
    force: bool,
}

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
    let json = match &cli.command {
        Command::Push(a) | Command::Diff(a) => a.deploy.json,
        Command::Rollback(a) => a.deploy.json,
        Command::Prune(a) => a.json,
        Command::Releases(a) => a.json,
        Command::Verify(a) => a.json,
        Command::Routing(a) => a.json,
        Command::Init(_)
        | Command::Serve(_)
        | Command::IamPolicy(_)
        | Command::Completions { .. } => false,
    };
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
            let message = one_line(&err);
            eprintln!("error: {message}");
            annotate(&err, json);
            if json {
                let doc = serde_json::json!({ "ok": false, "error": message });
                println!("{doc:#}");
            }
            ExitCode::FAILURE
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
    println!(
        "::error file={},line={line},col={column}::{message}",
        path.display()
    );
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
    match cli.command {
        Command::Push(args) => push(args, cli.config.as_deref(), false).await,
        Command::Diff(args) => push(args, cli.config.as_deref(), true).await,
        Command::Init(args) => init(&args),
        Command::Rollback(args) => rollback(args, cli.config.as_deref()).await,
        Command::Releases(args) => releases(args, cli.config.as_deref()).await,
        Command::Prune(args) => prune(args, cli.config.as_deref()).await,
        Command::IamPolicy(args) => iam_policy(args, cli.config.as_deref()),
        Command::Verify(args) => verify(args, cli.config.as_deref()).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "spadeploy", &mut std::io::stdout());
            Ok(Outcome::Done)
        }
        Command::Serve(args) => serve(args, cli.config.as_deref()).await,
        Command::Routing(args) => routing(args, cli.config.as_deref()).await,
    }
}

async fn push(args: PushArgs, config: Option<&Path>, diff: bool) -> Result<Outcome> {
    let loaded = manifest::load(config)?;
    let base = loaded.base_dir();
    let manifest = loaded.manifest;
    let dir = args
        .dir
        .or_else(|| manifest.dir.as_ref().map(|d| base.join(d)))
        .unwrap_or_else(|| PathBuf::from("dist"));
    let kind = Kind {
        plan: PlanOptions {
            delete: !args.no_delete,
            force: args.force,
            protect: manifest.protect.clone(),
            ..PlanOptions::default()
        },
        require_index: !(args.allow_missing_index || manifest.allow_missing_index.unwrap_or(false)),
        diff,
        verify_remote: args.verify_remote,
        rehash: args.rehash || args.force,
        what: What::Push,
        dir,
    };
    deploy(args.deploy, &manifest, kind).await
}

async fn prune(args: DeployArgs, config: Option<&Path>) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let kind = Kind::from_records(&manifest, What::Prune);
    deploy(args, &manifest, kind).await
}

async fn rollback(args: RollbackArgs, config: Option<&Path>) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let kind = Kind::from_records(&manifest, What::Rollback(args.release));
    deploy(args.deploy, &manifest, kind).await
}

/// What differs between `push`, `diff`, `rollback` and `prune`.
struct Kind {
    dir: PathBuf,
    plan: PlanOptions,
    require_index: bool,
    diff: bool,
    verify_remote: bool,
    rehash: bool,
    what: What,
}

impl Kind {
    /// Runs that work from spadeploy's records in the target, not from a build.
    fn from_records(manifest: &manifest::Manifest, what: What) -> Kind {
        Kind {
            dir: PathBuf::from("."),
            plan: PlanOptions {
                delete: true,
                force: false,
                protect: manifest.protect.clone(),
                ..PlanOptions::default()
            },
            require_index: false,
            diff: false,
            verify_remote: false,
            rehash: false,
            what,
        }
    }
}

/// The shared part of `push`, `diff`, `rollback` and `prune`: flags and manifest into a job, run.
async fn deploy(args: DeployArgs, manifest: &manifest::Manifest, kind: Kind) -> Result<Outcome> {
    let Kind {
        dir,
        plan,
        require_index,
        diff,
        verify_remote,
        rehash,
        what,
    } = kind;
    let settings = args.target.or(manifest.target.clone());
    let Some(target) = settings.to.clone() else {
        bail!(
            "no target: pass --to s3://BUCKET[/PREFIX] or --to ./site, or set `to` under [target] \
             in spadeploy.toml (`spadeploy init` writes one)"
        );
    };
    let routing = args.cdn.routing(manifest);
    let command = match what {
        What::Push => "spadeploy push",
        What::Rollback(_) => "spadeploy rollback",
        What::Prune => "spadeploy prune",
    };
    // The configured index document is the root index everywhere: required in the build,
    // uploaded last.
    let index = manifest
        .routing
        .index_document
        .trim_start_matches('/')
        .to_string();
    let job = PushJob {
        scan: ScanOptions {
            exclude: manifest.exclude.clone(),
            require_index: require_index.then(|| index.clone()),
        },
        rules: HeaderRules::new(manifest.header_rules()),
        plan: PlanOptions { index, ..plan },
        concurrency: args
            .concurrency
            .or(manifest.concurrency)
            .map_or(DEFAULT_CONCURRENCY, NonZeroUsize::get),
        dry_run: diff || args.dry_run,
        exit_code: args.exit_code,
        json: args.json,
        progress: Progress::new(args.quiet),
        invalidate: !args.cdn.no_invalidate && manifest.cdn.invalidate.unwrap_or(true),
        wait: args.cdn.wait || manifest.cdn.wait.unwrap_or(false),
        keep_releases: args
            .keep_releases
            .or(manifest.keep_releases)
            .map_or(DEFAULT_KEEP_RELEASES, NonZeroUsize::get),
        allow_mass_delete: args.allow_mass_delete,
        source: crate::state::release::detect_source(&dir),
        command,
        verify_remote,
        summary_md: args.summary_md,
        break_lock: args.break_lock,
        rehash,
        dir,
        target,
    };
    let pending = crate::deploy::run(job, &settings, routing, what).await?;
    Ok(if pending {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

async fn verify(args: VerifyArgs, config: Option<&Path>) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let api = if args.api_probe.is_empty() {
        manifest.verify.api.clone()
    } else {
        args.api_probe
    };
    let settings = args.target.or(manifest.target.clone());
    let samples = match &settings.to {
        Some(target) => match crate::deploy::live_record(target, &settings).await? {
            Some(record) => header_samples(&record),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let url = args.url.clone();
    let result = tokio::task::spawn_blocking(move || {
        crate::tools::verify::verify(&url, &api, &samples, nonce)
    })
    .await
    .context("verify was interrupted")?
    .map_err(|e| anyhow::anyhow!("cannot reach the site: {e}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{result}");
    }
    Ok(if result.ok {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

/// A few files of different kinds (by Content-Type) to check served headers against.
fn header_samples(
    record: &crate::state::release::Record,
) -> Vec<(String, crate::model::ObjectHeaders)> {
    let mut seen = std::collections::HashSet::new();
    record
        .objects
        .iter()
        .filter(|(key, o)| {
            !crate::sync::headers::is_html(key) && seen.insert(o.headers.content_type.clone())
        })
        .take(5)
        .map(|(key, o)| (format!("/{key}"), o.headers.clone()))
        .collect()
}

fn iam_policy(args: IamPolicyArgs, config: Option<&Path>) -> Result<Outcome> {
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

async fn releases(args: ReleasesArgs, config: Option<&Path>) -> Result<Outcome> {
    let manifest = manifest::load(config)?.manifest;
    let settings = args.target.or(manifest.target.clone());
    let Some(target) = settings.to.clone() else {
        bail!("no target: pass --to s3://BUCKET[/PREFIX] or --to ./site, or set `to` under [target] in spadeploy.toml");
    };
    let list = crate::deploy::releases(&target, &settings).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if list.is_empty() {
        println!("no releases in {target} yet: `spadeploy push` creates the first");
    } else {
        print!("{}", crate::report::releases_table(&list));
    }
    Ok(Outcome::Done)
}

fn init(args: &InitArgs) -> Result<Outcome> {
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

async fn serve(args: ServeArgs, config: Option<&Path>) -> Result<Outcome> {
    let loaded = manifest::load(config)?;
    let base = loaded.base_dir();
    let manifest = loaded.manifest;
    let root = match (&args.path, &manifest.target.to) {
        (Some(path), _) => path.clone(),
        (None, Some(Target::Local { path })) => path.clone(),
        (None, _) => manifest
            .dir
            .as_ref()
            .map_or_else(|| PathBuf::from("dist"), |d| base.join(d)),
    };
    if !root.is_dir() {
        bail!(
            "{} is not a directory: pass what to serve (a local target such as ./site, or a build directory)",
            root.display()
        );
    }
    let mode = args.mode.or(manifest.routing.mode).unwrap_or(Mode::Website);
    let rule = Rule::new(&manifest.routing, &manifest.redirect_rules());
    let site = Site::new(
        root.clone(),
        mode,
        rule,
        manifest.routing.error_document.clone(),
        HeaderRules::new(manifest.header_rules()),
    )
    .map_err(anyhow::Error::msg)?;
    let apis = args.api.clone();
    crate::tools::serve::run(site, args.api, args.port, |addr| {
        // The first stdout line is the address, so scripts can read it; a closed stdout must
        // not stop the server.
        let mut banner = format!(
            "serving {} at http://{addr} ({mode} mode)\n",
            root.display()
        );
        for api in &apis {
            banner.push_str(&format!("  {}* -> {}\n", api.prefix, api.upstream));
        }
        let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
    })
    .await
    .with_context(|| {
        format!(
            "cannot serve on 127.0.0.1:{}: choose another --port",
            args.port
        )
    })?;
    Ok(Outcome::Done)
}

async fn routing(args: RoutingArgs, config: Option<&Path>) -> Result<Outcome> {
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
        if args.json {
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
    if args.json {
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
