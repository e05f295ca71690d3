//! `init`: write a commented spadeploy.toml, or import one from Netlify, Vercel or Firebase.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::config::framework::{self, BuildShape};
use crate::config::import::{self, Imported, Platform};
use crate::config::manifest::{self};

use super::{Outcome, Usage};

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// Overwrite an existing spadeploy.toml
    #[arg(long)]
    force: bool,
    /// Import the routing of another platform from this folder: netlify (`_redirects`,
    /// `_headers`, `netlify.toml`), vercel (`vercel.json`) or firebase (`firebase.json`)
    #[arg(long, value_enum, value_name = "PLATFORM")]
    from: Option<Platform>,
    /// With `--from firebase`: the hosting site to import (its `site` or `target`) when
    /// firebase.json has several; default: the first, the others listed as not imported
    #[arg(long, value_name = "NAME", requires = "from")]
    site: Option<String>,
}

pub(super) fn init(args: &InitArgs) -> Result<Outcome> {
    let path = Path::new(manifest::FILE_NAME);
    if path.exists() && !args.force {
        bail!(
            "{} already exists: edit it, or pass --force to overwrite it",
            path.display()
        );
    }
    if let Some(platform) = args.from {
        if args.site.is_some() && platform != Platform::Firebase {
            bail!(Usage(
                "--site chooses among the hosting sites of firebase.json: use it with --from firebase"
                    .into()
            ));
        }
        return import_from(platform, args.site.as_deref(), path);
    }
    // The framework's documented build folder first, then the usual names.
    let mut loaded = manifest::Loaded::default();
    let project = loaded.project();
    let framework_dir = loaded
        .framework_output(&project)
        .and_then(|d| d.to_str().map(str::to_string));
    let candidates: Vec<String> = framework_dir
        .iter()
        .cloned()
        .chain(["dist", "build", "out"].map(String::from))
        .collect();
    let dir = candidates
        .iter()
        .find(|d| Path::new(d).join("index.html").is_file())
        .or_else(|| candidates.iter().find(|d| Path::new(d).is_dir()))
        .or(framework_dir.as_ref())
        .cloned();
    let build = dir.as_deref().map(Path::new).unwrap_or(Path::new("dist"));
    let found = loaded.apply_framework(&project, &BuildShape::of_dir(build));
    let (top, tables) = found
        .as_ref()
        .map(framework::manifest_lines)
        .unwrap_or_default();
    let text = manifest::starter(dir.as_deref().unwrap_or("dist"), &top, &tables);
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(found) = &found {
        eprintln!("{}", found.summary());
        for warning in &found.warnings {
            eprintln!("warning: {warning}");
        }
    }
    match dir {
        Some(dir) if Path::new(&dir).is_dir() => {
            eprintln!("wrote {} (build directory: {dir}/)", path.display());
        }
        Some(dir) => eprintln!(
            "wrote {} with dir = \"{dir}\" (not built yet: run the build first)",
            path.display()
        ),
        None => eprintln!(
            "wrote {} with dir = \"dist\" (no dist/, build/ or out/ found: edit `dir` to your build output)",
            path.display()
        ),
    }
    eprintln!("next: set [target] to, run `spadeploy diff` to preview, then `spadeploy push`");
    Ok(Outcome::Done)
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn required(name: &str) -> Result<String> {
    read(Path::new(name))?.with_context(|| {
        format!(
            "no {name} in this folder: run `spadeploy init --from` where the project's {name} is"
        )
    })
}

/// Netlify reads `_redirects` and `_headers` from the published folder; they usually live in the
/// project's static folder and are copied there by the build.
fn netlify_file(name: &str, publish: Option<&str>) -> Result<Option<(String, String)>> {
    let folders = [
        publish.unwrap_or("."),
        ".",
        "public",
        "static",
        "dist",
        "build",
    ];
    for folder in folders {
        let path = Path::new(folder).join(name);
        if let Some(text) = read(&path)? {
            let shown = path
                .strip_prefix(".")
                .unwrap_or(&path)
                .display()
                .to_string();
            return Ok(Some((shown, text)));
        }
    }
    Ok(None)
}

/// How many not-imported rules stderr lists; the manifest's comments list them all (a file of
/// 20,000 rules must not scroll 20,000 lines past the summary).
const LISTED: usize = 30;

fn import_from(platform: Platform, site: Option<&str>, path: &Path) -> Result<Outcome> {
    let (imported, sources): (Imported, Vec<String>) = match platform {
        Platform::Netlify => {
            let config = read(Path::new("netlify.toml"))?;
            let publish = config
                .as_deref()
                .and_then(|t| toml::from_str::<toml::Value>(t).ok())
                .and_then(|t| t.get("build")?.get("publish")?.as_str().map(str::to_string));
            let redirects = netlify_file("_redirects", publish.as_deref())?;
            let headers = netlify_file("_headers", publish.as_deref())?;
            if config.is_none() && redirects.is_none() && headers.is_none() {
                bail!("no netlify.toml, _redirects or _headers here (nor in public/, static/, dist/ or build/): run `spadeploy init --from netlify` in the Netlify project");
            }
            let mut sources: Vec<String> = redirects
                .iter()
                .chain(headers.iter())
                .map(|(p, _)| p.clone())
                .collect();
            if config.is_some() {
                sources.push("netlify.toml".into());
            }
            let imported = import::netlify(
                redirects.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
                headers.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
                config.as_deref(),
            )?;
            (imported, sources)
        }
        Platform::Vercel => (
            import::vercel(&required("vercel.json")?)?,
            vec!["vercel.json".into()],
        ),
        Platform::Firebase => (
            import::firebase(&required("firebase.json")?, site)?,
            vec!["firebase.json".into()],
        ),
    };
    let text = imported.to_manifest(platform, &sources.join(", "));
    // What is written must load: a rule that cannot is a bug here, not the user's to find.
    let loaded = manifest::parse(&text, path)
        .context("the imported manifest does not load (please report this)")?;
    std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    // The counts are read back from the manifest as written, so they are what is live in it.
    eprintln!(
        "wrote {} from {}: {} redirect(s), {} rewrite(s), {} SPA(s), {} header rule(s)",
        path.display(),
        import::visible(&sources.join(", ")),
        loaded.redirects.len(),
        loaded.rewrites.len(),
        loaded.spa.len(),
        loaded.headers.len()
    );
    if !imported.skipped.is_empty() {
        eprintln!(
            "{} rule(s) not imported (each is a comment at the end of {}):",
            imported.skipped.len(),
            path.display()
        );
        for s in imported.skipped.iter().take(LISTED) {
            eprintln!(
                "  {}: {} ({})",
                import::visible(&s.at),
                import::visible(&s.original),
                import::visible(&s.why)
            );
        }
        if imported.skipped.len() > LISTED {
            eprintln!(
                "  ... and {} more: see the comments at the end of {}",
                imported.skipped.len() - LISTED,
                path.display()
            );
        }
    }
    eprintln!("next: set [target] to, run `spadeploy diff` to preview, then `spadeploy push`");
    Ok(Outcome::Done)
}
