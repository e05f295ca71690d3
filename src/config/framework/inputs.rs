//! What detection reads: the project's `package.json` dependencies and framework config files,
//! and the build's shape (its top-level entries and the marker folders frameworks leave).

use super::*;

/// The project's files that say which framework it uses: dependency names from `package.json`
/// and the text of the framework config files present (by file name).
#[derive(Debug, Clone, Default)]
pub(crate) struct Project {
    pub dependencies: BTreeSet<String>,
    pub configs: BTreeMap<String, String>,
}

/// Config files read from a project folder (the first of each family found).
pub(super) const CONFIG_FILES: &[&str] = &[
    "astro.config.mjs",
    "astro.config.ts",
    "astro.config.js",
    "next.config.js",
    "next.config.mjs",
    "next.config.ts",
    "svelte.config.js",
    "svelte.config.ts",
    "vite.config.js",
    "vite.config.ts",
    "vite.config.mjs",
    "vite.config.mts",
    "nuxt.config.ts",
    "nuxt.config.js",
    "angular.json",
    "react-router.config.ts",
    "react-router.config.js",
    "docusaurus.config.js",
    "docusaurus.config.ts",
    "gatsby-config.js",
    "gatsby-config.ts",
    "eleventy.config.js",
    "eleventy.config.mjs",
    ".eleventy.js",
    "hugo.toml",
    "hugo.yaml",
    "hugo.json",
    "config.toml",
    "_config.yml",
    "Gemfile",
    "src/routes/+layout.js",
    "src/routes/+layout.ts",
    "docs/.vitepress/config.mts",
    "docs/.vitepress/config.ts",
    "docs/.vitepress/config.js",
    "docs/.vitepress/config.mjs",
    ".vitepress/config.mts",
    ".vitepress/config.ts",
    ".vitepress/config.js",
    ".vitepress/config.mjs",
];

/// Config files larger than this are not read (no framework config is).
pub(super) const MAX_CONFIG_BYTES: u64 = 256 * 1024;

impl Project {
    /// Reads `dir`'s package.json and framework config files; a folder without them is an
    /// empty project (detection then goes by the build alone).
    pub(crate) fn read(dir: &Path) -> Project {
        let mut project = Project::default();
        let read = |name: &str| {
            let path = dir.join(name);
            let small =
                std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= MAX_CONFIG_BYTES);
            small.then(|| std::fs::read_to_string(path).ok()).flatten()
        };
        if let Some(package) = read("package.json") {
            project.dependencies = dependencies(&package);
        }
        for name in CONFIG_FILES.iter().copied() {
            if let Some(text) = read(name) {
                project.configs.insert(name.to_string(), text);
            }
        }
        project
    }

    pub(super) fn config(&self, stem: &str) -> Option<(&str, &str)> {
        self.configs
            .iter()
            .find(|(name, _)| name.starts_with(stem))
            .map(|(name, text)| (name.as_str(), text.as_str()))
    }

    pub(super) fn uses(&self, dependency: &str) -> bool {
        self.dependencies.contains(dependency)
    }
}

/// Names under `dependencies` and `devDependencies`; a file that is not JSON has none.
pub(super) fn dependencies(package: &str) -> BTreeSet<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(package) else {
        return BTreeSet::new();
    };
    ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|field| value.get(field)?.as_object())
        .flat_map(|deps| deps.keys().cloned())
        .collect()
}

/// The build's shape: its top-level entries and the nested marker folders frameworks leave.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildShape {
    entries: BTreeSet<String>,
    pub(super) index_html: Option<String>,
}

/// Nested paths whose presence names a framework.
pub(super) const NESTED_MARKERS: [&str; 4] = [
    "_next/static",
    "_app/immutable",
    "assets/js",
    "_nuxt/builds",
];

impl BuildShape {
    /// Top-level names of `dir`, the nested markers present, and the root index's text.
    pub(crate) fn of_dir(dir: &Path) -> BuildShape {
        let mut entries: BTreeSet<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        entries.extend(
            NESTED_MARKERS
                .iter()
                .filter(|m| dir.join(m).exists())
                .map(std::string::ToString::to_string),
        );
        let index_html = std::fs::metadata(dir.join("index.html"))
            .is_ok_and(|m| m.len() <= MAX_CONFIG_BYTES)
            .then(|| std::fs::read_to_string(dir.join("index.html")).ok())
            .flatten();
        BuildShape {
            entries,
            index_html,
        }
    }

    /// The files of a target, when it is a local folder; nothing for a bucket (detection then
    /// goes by the project alone).
    pub(crate) fn of_target(target: Option<&crate::config::target::Target>) -> BuildShape {
        match target {
            Some(crate::config::target::Target::Local { path }) => BuildShape::of_dir(path),
            _ => BuildShape::default(),
        }
    }

    /// The same from a release's keys (a build already deployed).
    #[cfg(test)]
    pub(crate) fn of_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> BuildShape {
        let mut entries = BTreeSet::new();
        for key in keys {
            entries.insert(key.split('/').next().unwrap_or(key).to_string());
            for marker in NESTED_MARKERS {
                if key.starts_with(marker) && key[marker.len()..].starts_with('/') {
                    entries.insert(marker.to_string());
                }
            }
        }
        BuildShape {
            entries,
            index_html: None,
        }
    }

    pub(super) fn has(&self, entry: &str) -> bool {
        self.entries.contains(entry)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Angular's application builder: `main-<8 base32>.js` at the root.
    pub(super) fn has_esbuild_main(&self) -> bool {
        self.entries.iter().any(|e| {
            e.strip_prefix("main-")
                .and_then(|rest| rest.strip_suffix(".js"))
                .is_some_and(|hash| {
                    hash.len() == 8
                        && hash
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
                })
        })
    }
}
