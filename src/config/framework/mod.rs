//! Which framework built the site, and what its own static-hosting documentation prescribes:
//! recognised from the project (`package.json`, the framework's config file) and from the
//! build's shape (a build folder pushed without its project), then applied as defaults under the
//! manifest's own settings. Hosted platforms do the same; spadeploy also checks its guess against
//! the build's files and says where the project and the build disagree.
//!
//! Reading the project and the build is a few small file reads (`Project::read`,
//! `BuildShape::of_dir`); everything else here is pure.

mod inputs;
mod presets;

pub(crate) use inputs::{BuildShape, Project};
use presets::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::manifest::{Explicit, Framework, Glob, Loaded, Manifest};
use crate::config::routing::{Fallback, Spa, TrailingSlash};

/// A build of pages (each URL its own HTML file, a missing one a real 404) or an SPA (client
/// routes answered by one fallback file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    Pages,
    Spa,
}

/// What a framework's documentation prescribes for a static host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Preset {
    pub framework: Framework,
    pub kind: Kind,
    /// The SPA fallback file (`index.html`, `200.html`, `__spa-fallback.html`).
    pub fallback: Option<String>,
    pub trailing_slash: TrailingSlash,
    /// Globs of content-addressed files beyond the hash shapes spadeploy recognises anyway.
    pub immutable: Vec<String>,
    /// URL folders whose missing files stay 404 (asset folders).
    pub no_fallback: Vec<String>,
    /// The documentation this preset follows.
    pub docs: &'static str,
}

/// What detection found: the preset, where the framework writes its build (relative to the
/// project), why, and where the project and the build disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Detected {
    pub preset: Preset,
    pub output_dir: Option<String>,
    pub evidence: Vec<String>,
    pub warnings: Vec<String>,
    /// Whether the preset was applied (no manifest, or one naming the framework), or only
    /// suggested.
    pub applied: bool,
}

impl Detected {
    /// One line: what was assumed and why.
    pub(crate) fn summary(&self) -> String {
        let p = &self.preset;
        let routing = match (&p.kind, &p.fallback) {
            (Kind::Spa, Some(index)) => format!("an SPA falling back to {index}"),
            _ => "pre-rendered pages, a missing page answers 404".to_string(),
        };
        let slash = match p.trailing_slash {
            TrailingSlash::Keep => String::new(),
            TrailingSlash::Add => ", trailing slash added".into(),
            TrailingSlash::Remove => ", trailing slash removed".into(),
        };
        let line = format!(
            "detected {} ({}): {routing}{slash}; per {}",
            p.framework.name(),
            self.evidence.join(", "),
            p.docs
        );
        if self.applied {
            line
        } else {
            format!(
                "{line}. Not applied: spadeploy.toml names no framework; add framework = \"{}\" \
                 to apply it (its settings win over the preset), or framework = \"none\" to silence this",
                p.framework.key()
            )
        }
    }
}

/// The framework of `project` and `build`: pinned by the manifest, else from the project's
/// dependencies and config, else from the build's shape. `None` when nothing is recognised (a
/// lone `index.html` keeps spadeploy's SPA defaults) or detection is off.
pub(crate) fn detect(
    pinned: Option<Framework>,
    project: &Project,
    build: &BuildShape,
) -> Option<Detected> {
    if pinned == Some(Framework::None) {
        return None;
    }
    let from_project = from_project(project);
    let from_build = from_build(build);
    let (framework, mut evidence) = match (pinned, &from_project, &from_build) {
        (Some(framework), _, _) => (framework, vec!["framework in spadeploy.toml".to_string()]),
        (None, Some((framework, why)), _) => (*framework, vec![why.clone()]),
        (None, None, Some((framework, why))) => (*framework, vec![why.clone()]),
        (None, None, None) => return None,
    };
    let mut warnings = Vec::new();
    match &from_build {
        Some((built, why)) if *built != framework && !build.is_empty() => warnings.push(format!(
            "the project is {} but the build looks like {} ({why}): is DIR the right folder?",
            framework.name(),
            built.name()
        )),
        Some((_, why)) if from_project.is_some() || pinned.is_some() => evidence.push(why.clone()),
        _ => {}
    }
    let (preset, output_dir) = preset(framework, project, build, &mut warnings);
    Some(Detected {
        preset,
        output_dir,
        evidence,
        warnings,
        applied: true,
    })
}

/// The framework a project's dependencies and config files name (the most specific first: a
/// SvelteKit or VitePress project also depends on Vite).
fn from_project(p: &Project) -> Option<(Framework, String)> {
    let dep = |name: &str, framework| {
        p.uses(name)
            .then(|| (framework, format!("{name} in package.json")))
    };
    dep("@react-router/dev", Framework::ReactRouter)
        .or_else(|| dep("@sveltejs/kit", Framework::Sveltekit))
        .or_else(|| dep("astro", Framework::Astro))
        .or_else(|| dep("next", Framework::Nextjs))
        .or_else(|| dep("nuxt", Framework::Nuxt))
        .or_else(|| dep("vitepress", Framework::Vitepress))
        .or_else(|| dep("@angular/core", Framework::Angular))
        .or_else(|| dep("@docusaurus/core", Framework::Docusaurus))
        .or_else(|| dep("gatsby", Framework::Gatsby))
        .or_else(|| dep("@11ty/eleventy", Framework::Eleventy))
        .or_else(|| dep("vite", Framework::Vite))
        .or_else(|| {
            let hugo = p.config("hugo.").map(|(name, _)| name).or_else(|| {
                p.config("config.toml")
                    .filter(|(_, text)| text.contains("baseURL") || text.contains("baseurl"))
                    .map(|(name, _)| name)
            });
            hugo.map(|name| (Framework::Hugo, name.to_string()))
        })
        .or_else(|| {
            let jekyll = p.config("_config.yml").is_some()
                && p.config("Gemfile")
                    .is_none_or(|(_, text)| text.contains("jekyll"));
            jekyll.then(|| (Framework::Jekyll, "_config.yml".to_string()))
        })
}

/// The framework a build's files betray, for a build folder pushed without its project.
fn from_build(b: &BuildShape) -> Option<(Framework, String)> {
    let marker = |entry: &str, framework| {
        b.has(entry)
            .then(|| (framework, format!("{entry}/ in the build")))
    };
    marker("_astro", Framework::Astro)
        .or_else(|| marker("_next/static", Framework::Nextjs))
        .or_else(|| marker("_app/immutable", Framework::Sveltekit))
        .or_else(|| marker("_nuxt", Framework::Nuxt))
        .or_else(|| {
            b.has("__spa-fallback.html").then(|| {
                (
                    Framework::ReactRouter,
                    "__spa-fallback.html in the build".into(),
                )
            })
        })
        .or_else(|| {
            (b.has("hashmap.json") && b.has("assets"))
                .then(|| (Framework::Vitepress, "hashmap.json in the build".into()))
        })
        .or_else(|| marker("page-data", Framework::Gatsby))
        .or_else(|| {
            b.has_esbuild_main().then(|| {
                (
                    Framework::Angular,
                    "main-<hash>.js at the build's root".into(),
                )
            })
        })
        .or_else(|| {
            (b.has("assets/js") && b.has("404.html")).then(|| {
                (
                    Framework::Docusaurus,
                    "assets/js/ and 404.html in the build".into(),
                )
            })
        })
}

impl Loaded {
    /// Applies the framework's static-hosting rules (pinned by `framework`, else detected from
    /// the project beside the manifest, or in the current folder, and from `build`) under the
    /// manifest's own settings, when there is no manifest or it names a framework; returns what
    /// was detected, for the one line that says so.
    pub(crate) fn apply_framework(
        &mut self,
        project: &Project,
        build: &BuildShape,
    ) -> Option<Detected> {
        let mut found = detect(self.manifest.framework, project, build)?;
        // A manifest written without `framework` keeps routing as it states it: detection then
        // only suggests (a new release of spadeploy never changes a stated site's routing).
        found.applied = self.path.is_none() || self.manifest.framework.is_some();
        if found.applied {
            apply(&found.preset, &mut self.manifest, &self.explicit);
        }
        Some(found)
    }

    /// The manifest with the framework's rules applied, for commands that work from a
    /// deployed release rather than a build: the same routing the push that made it had, as long
    /// as they run beside the same project (`build`: the release's files when they are local).
    pub(crate) fn resolve(mut self, build: &BuildShape) -> Manifest {
        let project = self.project();
        self.apply_framework(&project, build);
        self.manifest
    }

    /// The project beside the manifest (or in the current folder): read once per command.
    pub(crate) fn project(&self) -> Project {
        Project::read(&self.base_dir())
    }

    /// Where the framework writes its build, relative to the project (`dist/app/browser`).
    pub(crate) fn framework_output(&self, project: &Project) -> Option<PathBuf> {
        let found = detect(self.manifest.framework, project, &Default::default())?;
        found.output_dir.map(|dir| self.base_dir().join(dir))
    }
}

/// Applies `preset` as defaults under the manifest's own settings.
pub(crate) fn apply(preset: &Preset, manifest: &mut Manifest, explicit: &Explicit) {
    let unset = |key: &str| !explicit.contains(key);
    if unset("immutable") {
        manifest.immutable = preset
            .immutable
            .iter()
            .filter_map(|g| Glob::new(g).ok())
            .collect();
    }
    let routing = &mut manifest.routing;
    if unset("routing.trailing_slash") {
        routing.trailing_slash = preset.trailing_slash;
    }
    if unset("routing.no_fallback") {
        routing.no_fallback = preset.no_fallback.clone();
    }
    // Listed [[spa]] entries ask for a fallback themselves.
    if unset("routing.fallback") && unset("spa") {
        routing.fallback = match preset.kind {
            Kind::Pages => Fallback::None,
            Kind::Spa => Fallback::Spa,
        };
    }
    if let (Some(index), true) = (&preset.fallback, unset("spa")) {
        if index != &routing.index_document {
            manifest.spa = vec![toml::Spanned::new(
                0..0,
                Spa {
                    prefix: "/".into(),
                    index: Some(index.clone()),
                },
            )];
        }
    }
}

/// The manifest lines `init` writes for a detection: top-level keys, and the tables.
pub(crate) fn manifest_lines(detected: &Detected) -> (String, String) {
    let p = &detected.preset;
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut top = format!(
        "# Detected {}: {}.\n# Settings from {}; edit any of them, or set framework = \"none\".\nframework = \"{}\"\n",
        p.framework.name(),
        detected.evidence.join(", "),
        p.docs,
        p.framework.key()
    );
    if !p.immutable.is_empty() {
        top.push_str(&format!("immutable = [{}]\n", list(&p.immutable)));
    }
    let slash = p.trailing_slash.as_str();
    let mut tables = format!(
        "\n[routing]\n# {}\nfallback = \"{}\"\ntrailing_slash = \"{slash}\"\nno_fallback = [{}]\n",
        match p.kind {
            Kind::Pages =>
                "Pre-rendered pages: a missing page answers the build's 404.html with status 404.",
            Kind::Spa => "An SPA: client routes answer its fallback page with status 200.",
        },
        match p.kind {
            Kind::Pages => "none",
            Kind::Spa => "spa",
        },
        list(&p.no_fallback)
    );
    // The root SPA is written out, so a second [[spa]] added later does not drop it silently.
    if let Some(index) = &p.fallback {
        tables.push_str(&format!("\n[[spa]]\nprefix = \"/\"\nindex = {index:?}\n"));
    }
    (top, tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> (Project, PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/frameworks")
            .join(name);
        (Project::read(&root.join("project")), root.join("build"))
    }

    /// Each real build of tests/frameworks, with its project and without it.
    #[test]
    fn real_builds_are_recognised_from_the_project_and_from_the_build_alone() {
        for (name, framework, output, kind, fallback, slash) in [
            (
                "astro",
                Framework::Astro,
                "dist",
                Kind::Pages,
                None,
                TrailingSlash::Keep,
            ),
            (
                "nextjs",
                Framework::Nextjs,
                "out",
                Kind::Pages,
                None,
                TrailingSlash::Remove,
            ),
            (
                "sveltekit",
                Framework::Sveltekit,
                "build",
                Kind::Spa,
                Some("200.html"),
                TrailingSlash::Remove,
            ),
            (
                "nuxt",
                Framework::Nuxt,
                ".output/public",
                Kind::Pages,
                None,
                TrailingSlash::Keep,
            ),
            (
                "angular",
                Framework::Angular,
                "dist/fixture/browser",
                Kind::Spa,
                Some("index.html"),
                TrailingSlash::Keep,
            ),
            (
                "vitepress",
                Framework::Vitepress,
                "docs/.vitepress/dist",
                Kind::Pages,
                None,
                TrailingSlash::Remove,
            ),
            (
                "react-router",
                Framework::ReactRouter,
                "build/client",
                Kind::Spa,
                Some("__spa-fallback.html"),
                TrailingSlash::Keep,
            ),
            (
                "docusaurus",
                Framework::Docusaurus,
                "build",
                Kind::Pages,
                None,
                TrailingSlash::Keep,
            ),
            (
                "eleventy",
                Framework::Eleventy,
                "_site",
                Kind::Pages,
                None,
                TrailingSlash::Add,
            ),
            (
                "hugo",
                Framework::Hugo,
                "public",
                Kind::Pages,
                None,
                TrailingSlash::Add,
            ),
            (
                "vite-react",
                Framework::Vite,
                "dist",
                Kind::Spa,
                Some("index.html"),
                TrailingSlash::Keep,
            ),
        ] {
            let (project, build) = fixture(name);
            let shape = BuildShape::of_dir(&build);
            let found = detect(None, &project, &shape).unwrap_or_else(|| panic!("{name}: nothing"));
            assert_eq!(found.preset.framework, framework, "{name}: {found:?}");
            assert_eq!(found.output_dir.as_deref(), Some(output), "{name}");
            assert_eq!(found.preset.kind, kind, "{name}");
            assert_eq!(found.preset.fallback.as_deref(), fallback, "{name}");
            assert_eq!(found.preset.trailing_slash, slash, "{name}");
            assert!(found.warnings.is_empty(), "{name}: {:?}", found.warnings);
            assert!(
                !found.preset.docs.is_empty(),
                "{name} cites its documentation"
            );
            // Pushed without its project: the build's own shape, where it has one.
            let alone = detect(None, &Project::default(), &shape).map(|d| d.preset.framework);
            let shaped = !matches!(
                framework,
                Framework::Eleventy | Framework::Hugo | Framework::Vite
            );
            if shaped {
                assert_eq!(alone, Some(framework), "{name} from its build alone");
            }
        }
    }

    #[test]
    fn a_pinned_framework_wins_and_none_turns_detection_off() {
        let (project, build) = fixture("astro");
        let shape = BuildShape::of_dir(&build);
        assert_eq!(detect(Some(Framework::None), &project, &shape), None);
        let pinned = detect(Some(Framework::Vite), &project, &shape).unwrap();
        assert_eq!(pinned.preset.framework, Framework::Vite);
        assert!(
            pinned.warnings[0].contains("looks like Astro"),
            "{:?}",
            pinned.warnings
        );
    }

    #[test]
    fn the_project_and_the_build_disagreeing_is_said() {
        let (project, _) = fixture("astro");
        let (_, next) = fixture("nextjs");
        let found = detect(None, &project, &BuildShape::of_dir(&next)).unwrap();
        assert!(
            found.warnings[0].contains("looks like Next.js"),
            "{:?}",
            found.warnings
        );
        let mut vite = Project::default();
        vite.dependencies.insert("vite".into());
        vite.configs.insert(
            "vite.config.ts".into(),
            "export default { base: '/app/' }".into(),
        );
        let (_, plain) = fixture("vite-react");
        let found = detect(None, &vite, &BuildShape::of_dir(&plain)).unwrap();
        assert!(
            found.warnings[0].contains("base: '/app/'"),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn a_lone_index_keeps_the_defaults() {
        let shape = BuildShape::of_keys(["index.html", "app.js"]);
        assert_eq!(detect(None, &Project::default(), &shape), None);
    }

    #[test]
    fn the_preset_never_overrides_what_the_manifest_says() {
        let (project, build) = fixture("astro");
        let found = detect(None, &project, &BuildShape::of_dir(&build)).unwrap();
        let mut manifest = Manifest::default();
        apply(&found.preset, &mut manifest, &Explicit::new());
        assert_eq!(manifest.routing.fallback, Fallback::None);
        let mut own = Manifest::default();
        own.routing.trailing_slash = TrailingSlash::Add;
        let explicit: Explicit = ["routing.trailing_slash".to_string()].into();
        apply(&found.preset, &mut own, &explicit);
        assert_eq!(own.routing.trailing_slash, TrailingSlash::Add);
        assert_eq!(own.routing.fallback, Fallback::None);
    }

    #[test]
    fn config_values_are_read_from_either_quoting() {
        assert_eq!(
            config_string("  fallback: '200.html',", "fallback"),
            Some("200.html")
        );
        assert_eq!(
            config_string("output = \"export\"", "output"),
            Some("export")
        );
        assert_eq!(config_string("// no fallback here", "fallback"), None);
        assert_eq!(config_bool("ssr: false,", "ssr"), Some(false));
    }

    #[test]
    fn init_writes_what_push_would_assume() {
        for name in ["astro", "sveltekit", "react-router", "nextjs", "vite-react"] {
            let (project, build) = fixture(name);
            let found = detect(None, &project, &BuildShape::of_dir(&build)).unwrap();
            let (top, tables) = manifest_lines(&found);
            let text = crate::config::manifest::starter("dist", &top, &tables);
            let written = crate::config::manifest::parse(&text, Path::new("spadeploy.toml"))
                .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(written.framework, Some(found.preset.framework), "{name}");
            let mut assumed = Manifest::default();
            apply(&found.preset, &mut assumed, &Explicit::new());
            assert_eq!(written.routing, assumed.routing, "{name}");
            let spas = |m: &Manifest| {
                m.spa
                    .iter()
                    .map(|s| s.get_ref().clone())
                    .collect::<Vec<_>>()
            };
            match &found.preset.fallback {
                Some(index) => assert_eq!(
                    spas(&written),
                    [Spa {
                        prefix: "/".into(),
                        index: Some(index.clone())
                    }],
                    "{name}: the root SPA is written out"
                ),
                None => assert!(spas(&written).is_empty(), "{name}"),
            }
        }
    }
}
