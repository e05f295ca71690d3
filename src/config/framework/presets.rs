//! What each framework's static-hosting documentation prescribes (a `Preset`), refined by what
//! its config file says, and where its build lands. One function per framework, citing its docs.

use super::*;

pub(super) fn globs(list: &[&str]) -> Vec<String> {
    list.iter().map(std::string::ToString::to_string).collect()
}

/// A quoted string value of `key` in a config file's text (`key: 'value'`, `key = "value"`).
pub(super) fn config_string<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let after = rest[at + key.len()..].trim_start();
        rest = &rest[at + key.len()..];
        let Some(after) = after.strip_prefix([':', '=']) else {
            continue;
        };
        let after = after.trim_start();
        let Some(quote) = after
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"' | '`'))
        else {
            continue;
        };
        let value = &after[1..];
        if let Some(end) = value.find(quote) {
            return Some(&value[..end]);
        }
    }
    None
}

/// A boolean `key: true|false` in a config file's text.
pub(super) fn config_bool(text: &str, key: &str) -> Option<bool> {
    let at = text.find(key)?;
    let after = text[at + key.len()..]
        .trim_start()
        .strip_prefix([':', '='])?
        .trim_start();
    if after.starts_with("true") {
        Some(true)
    } else if after.starts_with("false") {
        Some(false)
    } else {
        None
    }
}

/// The preset each framework's static-hosting documentation prescribes, refined by what its
/// config says; and the folder its build lands in.
pub(super) fn preset(
    framework: Framework,
    project: &Project,
    build: &BuildShape,
    warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    match framework {
        Framework::Astro => astro(project, build, warnings),
        Framework::Nextjs => nextjs(project, build, warnings),
        Framework::Sveltekit => sveltekit(project, build, warnings),
        Framework::Nuxt => nuxt(project, build, warnings),
        // "Routed apps must fall back to index.html"; the application builder writes the
        // browser files to `<outputPath>/browser`.
        Framework::Angular => (
            spa(
                framework,
                "index.html",
                &["media/**"],
                &["/media/"],
                "https://angular.dev/tools/cli/deployment#server-configuration",
            ),
            angular_output(project),
        ),
        Framework::Vitepress => vitepress(project, build, warnings),
        Framework::ReactRouter => react_router(project, build, warnings),
        Framework::Docusaurus => (
            pages(
                framework,
                TrailingSlash::Keep,
                &["assets/**"],
                &["/assets/"],
                "https://docusaurus.io/docs/deployment",
            ),
            Some("build".into()),
        ),
        // Pages with trailing slashes (`trailingSlash: 'always'` by default); `static/` hashed,
        // `page-data/` revalidated.
        Framework::Gatsby => (
            pages(
                framework,
                TrailingSlash::Add,
                &["static/**"],
                &["/static/", "/page-data/"],
                "https://www.gatsbyjs.com/docs/caching/",
            ),
            Some("public".into()),
        ),
        // Permalinks are folders (`/about/` → about/index.html).
        Framework::Eleventy => (
            pages(
                framework,
                TrailingSlash::Add,
                &[],
                &[],
                "https://www.11ty.dev/docs/deployment/",
            ),
            Some("_site".into()),
        ),
        Framework::Hugo => (
            pages(
                framework,
                TrailingSlash::Add,
                &[],
                &[],
                "https://gohugo.io/hosting-and-deployment/",
            ),
            Some("public".into()),
        ),
        Framework::Jekyll => (
            pages(
                framework,
                TrailingSlash::Keep,
                &[],
                &[],
                "https://jekyllrb.com/docs/deployment/",
            ),
            Some("_site".into()),
        ),
        Framework::Vite => vite(project, build, warnings),
        Framework::None => (pages(framework, TrailingSlash::Keep, &[], &[], ""), None),
    }
}

/// A site of pages: each URL its own file, a missing one the 404 page.
pub(super) fn pages(
    framework: Framework,
    trailing_slash: TrailingSlash,
    immutable: &[&str],
    no_fallback: &[&str],
    docs: &'static str,
) -> Preset {
    Preset {
        framework,
        kind: Kind::Pages,
        fallback: None,
        trailing_slash,
        immutable: globs(immutable),
        no_fallback: globs(no_fallback),
        docs,
    }
}

/// An SPA: client routes answered by `fallback`.
pub(super) fn spa(
    framework: Framework,
    fallback: &str,
    immutable: &[&str],
    no_fallback: &[&str],
    docs: &'static str,
) -> Preset {
    Preset {
        framework,
        kind: Kind::Spa,
        fallback: Some(fallback.to_string()),
        trailing_slash: TrailingSlash::Keep,
        immutable: globs(immutable),
        no_fallback: globs(no_fallback),
        docs,
    }
}

/// Static output pre-renders every route; `trailingSlash` defaults to 'ignore'.
pub(super) fn astro(
    project: &Project,
    _build: &BuildShape,
    _warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::Astro;
    let config = project.config("astro.config").map_or("", |(_, t)| t);
    let slash = match config_string(config, "trailingSlash") {
        Some("always") => TrailingSlash::Add,
        Some("never") => TrailingSlash::Remove,
        _ => TrailingSlash::Keep,
    };
    let out = config_string(config, "outDir").map(|d| d.trim_start_matches("./").to_string());
    (
        pages(
            framework,
            slash,
            &["_astro/**"],
            &["/_astro/"],
            "https://docs.astro.build/en/guides/deploy/",
        ),
        Some(out.unwrap_or_else(|| "dist".into())),
    )
}

/// `output: 'export'` writes `out/`: `about.html` (or `about/index.html` with
/// `trailingSlash: true`) and the export's `404.html`.
pub(super) fn nextjs(
    project: &Project,
    _build: &BuildShape,
    warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::Nextjs;
    let config = project.config("next.config").map_or("", |(_, t)| t);
    if !project.configs.is_empty()
        && project.config("next.config").is_some()
        && config_string(config, "output") != Some("export")
    {
        warnings.push(
            "next.config has no `output: 'export'`: only a static export (out/) can be served from S3"
                .into(),
        );
    }
    let slash = if config_bool(config, "trailingSlash") == Some(true) {
        TrailingSlash::Add
    } else {
        TrailingSlash::Remove
    };
    (
        pages(
            framework,
            slash,
            &["_next/static/**"],
            &["/_next/"],
            "https://nextjs.org/docs/app/guides/static-exports",
        ),
        Some("out".into()),
    )
}

/// adapter-static: pages pre-rendered; a `fallback` page (e.g. 200.html) for routes
/// that are not; `trailingSlash` defaults to 'never' (about.html, relative asset paths).
pub(super) fn sveltekit(
    project: &Project,
    build: &BuildShape,
    _warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::Sveltekit;
    let config = project
        .config("svelte.config")
        .or_else(|| project.config("vite.config"))
        .map_or("", |(_, t)| t);
    let fallback = config_string(config, "fallback")
        .map(str::to_string)
        .or_else(|| build.has("200.html").then(|| "200.html".to_string()));
    let layout = project.config("src/routes/+layout").map_or("", |(_, t)| t);
    let slash = match config_string(layout, "trailingSlash") {
        Some("always") => TrailingSlash::Add,
        Some("ignore") => TrailingSlash::Keep,
        _ => TrailingSlash::Remove,
    };
    let out = config_string(config, "pages")
        .unwrap_or("build")
        .to_string();
    let docs = "https://svelte.dev/docs/kit/adapter-static";
    let mut p = match fallback {
        Some(index) => spa(framework, &index, &["_app/immutable/**"], &["/_app/"], docs),
        None => pages(framework, slash, &["_app/immutable/**"], &["/_app/"], docs),
    };
    p.trailing_slash = slash;
    (p, Some(out))
}

/// `nuxt generate` pre-renders every page with a 404.html; with `ssr: false` the app is an
/// SPA whose fallback is 200.html. `_nuxt/builds/` is polled for new deploys: not immutable.
pub(super) fn nuxt(
    project: &Project,
    _build: &BuildShape,
    _warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::Nuxt;
    let config = project.config("nuxt.config").map_or("", |(_, t)| t);
    let docs = "https://nuxt.com/docs/getting-started/deployment#static-hosting";
    let p = if config_bool(config, "ssr") == Some(false) {
        spa(framework, "200.html", &["_nuxt/*"], &["/_nuxt/"], docs)
    } else {
        pages(
            framework,
            TrailingSlash::Keep,
            &["_nuxt/*"],
            &["/_nuxt/"],
            docs,
        )
    };
    (p, Some(".output/public".into()))
}

/// Every page pre-rendered, `404.html`; `assets/` hashed.
pub(super) fn vitepress(
    project: &Project,
    _build: &BuildShape,
    _warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::Vitepress;
    let root = if project
        .configs
        .keys()
        .any(|k| k.starts_with("docs/.vitepress/"))
    {
        "docs/.vitepress/dist"
    } else {
        ".vitepress/dist"
    };
    (
        pages(
            framework,
            TrailingSlash::Remove,
            &["assets/**"],
            &["/assets/"],
            "https://vitepress.dev/guide/deploy",
        ),
        Some(root.into()),
    )
}

/// SPA mode (`ssr: false`): build/client, falling back to `__spa-fallback.html` when
/// routes are pre-rendered, else index.html.
pub(super) fn react_router(
    _project: &Project,
    build: &BuildShape,
    _warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::ReactRouter;
    let fallback = if build.has("__spa-fallback.html") {
        "__spa-fallback.html"
    } else {
        "index.html"
    };
    (
        spa(
            framework,
            fallback,
            &["assets/**"],
            &["/assets/"],
            "https://reactrouter.com/how-to/spa",
        ),
        Some("build/client".into()),
    )
}

/// An SPA: every client route answers index.html; `assets/` hashed.
pub(super) fn vite(
    project: &Project,
    build: &BuildShape,
    warnings: &mut Vec<String>,
) -> (Preset, Option<String>) {
    let framework = Framework::Vite;
    let config = project.config("vite.config").map_or("", |(_, t)| t);
    if let Some(base) = config_string(config, "base").filter(|b| b.starts_with('/') && *b != "/") {
        let built_with_base = build
            .index_html
            .as_deref()
            .is_none_or(|html| html.contains(&format!("\"{base}")));
        if !built_with_base {
            warnings.push(format!(
                "vite.config sets base: '{base}', but the build's index.html does not load its assets from {base}: rebuild it, or check DIR"
            ));
        }
    }
    let out = config_string(config, "outDir")
        .unwrap_or("dist")
        .to_string();
    (
        spa(
            framework,
            "index.html",
            &["assets/**"],
            &["/assets/"],
            "https://vite.dev/guide/static-deploy",
        ),
        Some(out),
    )
}

/// angular.json's default project's `outputPath` + `/browser` (the application builder's layout).
pub(super) fn angular_output(project: &Project) -> Option<String> {
    let text = project.config("angular.json")?.1;
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let projects = json.get("projects")?.as_object()?;
    let (name, config) = projects.iter().next()?;
    let build = config.pointer("/architect/build")?;
    let output = build.pointer("/options/outputPath");
    let base = match output {
        Some(serde_json::Value::String(path)) => path.clone(),
        Some(serde_json::Value::Object(parts)) => parts.get("base")?.as_str()?.to_string(),
        _ => format!("dist/{name}"),
    };
    let application = build
        .get("builder")
        .and_then(|b| b.as_str())
        .is_some_and(|b| b.ends_with(":application"));
    Some(if application {
        format!("{}/browser", base.trim_end_matches('/'))
    } else {
        base
    })
}
