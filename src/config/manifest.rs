//! `spadeploy.toml`: the one place a project states its target, excludes and header rules.
//! Every value is validated while it is read, so an error names the file, line and column.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use crate::config::routing::{
    HeaderRule, Mode, Redirect, Rewrite, RouteRules, RoutingSettings, RuleError, Spa,
    MAX_PATTERN_RULES,
};
use crate::config::target::Target;

pub(crate) const FILE_NAME: &str = "spadeploy.toml";

/// A framework spadeploy knows the static-hosting rules of; `none` in the manifest turns
/// detection off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Framework {
    Astro,
    Nextjs,
    Sveltekit,
    Nuxt,
    Angular,
    Vitepress,
    ReactRouter,
    Docusaurus,
    Gatsby,
    Eleventy,
    Hugo,
    Jekyll,
    Vite,
    /// No framework's rules: the manifest (or spadeploy's defaults) alone.
    None,
}

impl Framework {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Framework::Astro => "Astro",
            Framework::Nextjs => "Next.js (static export)",
            Framework::Sveltekit => "SvelteKit (adapter-static)",
            Framework::Nuxt => "Nuxt (nuxt generate)",
            Framework::Angular => "Angular",
            Framework::Vitepress => "VitePress",
            Framework::ReactRouter => "React Router (SPA mode)",
            Framework::Docusaurus => "Docusaurus",
            Framework::Gatsby => "Gatsby",
            Framework::Eleventy => "Eleventy",
            Framework::Hugo => "Hugo",
            Framework::Jekyll => "Jekyll",
            Framework::Vite => "Vite",
            Framework::None => "none",
        }
    }

    /// The manifest's spelling (`framework = "react-router"`).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Framework::Astro => "astro",
            Framework::Nextjs => "nextjs",
            Framework::Sveltekit => "sveltekit",
            Framework::Nuxt => "nuxt",
            Framework::Angular => "angular",
            Framework::Vitepress => "vitepress",
            Framework::ReactRouter => "react-router",
            Framework::Docusaurus => "docusaurus",
            Framework::Gatsby => "gatsby",
            Framework::Eleventy => "eleventy",
            Framework::Hugo => "hugo",
            Framework::Jekyll => "jekyll",
            Framework::Vite => "vite",
            Framework::None => "none",
        }
    }
}

/// The manifest keys a project wrote itself, which a preset never overrides: top-level names
/// and `routing.<name>`.
pub(crate) type Explicit = BTreeSet<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// The framework whose static-hosting rules apply (`none`: no detection); default: detected.
    pub framework: Option<Framework>,
    /// The build output to deploy, relative to the manifest.
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub target: TargetSettings,
    /// Globs (relative to `dir`) never uploaded.
    #[serde(default)]
    pub exclude: Vec<Glob>,
    /// Globs (relative to the target) never deleted, e.g. user uploads living beside the app.
    #[serde(default)]
    pub protect: Vec<Glob>,
    #[serde(default)]
    pub rules: Vec<Spanned<Rule>>,
    /// Globs of files whose names change with their content, cached for a year (`immutable`)
    /// whatever their names look like; `[[rules]]` still win.
    #[serde(default)]
    pub immutable: Vec<Glob>,
    pub concurrency: Option<NonZeroUsize>,
    pub allow_missing_index: Option<bool>,
    /// Releases whose files stay for open browser tabs (default 3, the new one included).
    pub keep_releases: Option<NonZeroUsize>,
    #[serde(default)]
    pub routing: RoutingSettings,
    /// Pattern redirects, answered by the edge function.
    #[serde(default)]
    pub redirects: Vec<Spanned<Redirect>>,
    /// Page URLs answered by another file of the site, with 200.
    #[serde(default)]
    pub rewrites: Vec<Spanned<Rewrite>>,
    /// Single-page apps and the prefixes whose client routes fall back to their index.
    #[serde(default)]
    pub spa: Vec<Spanned<Spa>>,
    /// Response headers by path pattern.
    #[serde(default)]
    pub headers: Vec<Spanned<HeaderRule>>,
    #[serde(default)]
    pub cdn: CdnSettings,
    #[serde(default)]
    pub verify: VerifySettings,
    /// Per-pull-request previews on `<id>.<domain>`.
    #[serde(default)]
    pub preview: crate::config::preview::PreviewSettings,
}

/// The `[verify]` table: what `spadeploy verify` probes besides the SPA itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifySettings {
    /// API paths with the status the API answers, e.g. `["/api/health=200", "/api/nope=404"]`.
    #[serde(default)]
    pub api: Vec<ApiProbe>,
}

/// `--api-probe PATH=STATUS`: an API path and the status the API itself answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ApiProbe {
    pub path: String,
    pub status: u16,
}

impl FromStr for ApiProbe {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (path, status) = spec
            .rsplit_once('=')
            .ok_or_else(|| format!("`{spec}`: write PATH=STATUS, e.g. /api/health=200"))?;
        if !path.starts_with('/') {
            return Err(format!("`{path}`: the probe path must start with `/`"));
        }
        let status = status
            .parse::<u16>()
            .ok()
            .filter(|s| (100..600).contains(s))
            .ok_or_else(|| format!("`{status}`: not an HTTP status"))?;
        Ok(ApiProbe {
            path: path.to_string(),
            status,
        })
    }
}

impl<'de> Deserialize<'de> for ApiProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The `[cdn]` table: the CloudFront distribution in front of the target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CdnSettings {
    pub distribution: Option<String>,
    /// Create an invalidation after a push (default: true).
    pub invalidate: Option<bool>,
    /// Wait until the invalidation has completed.
    pub wait: Option<bool>,
    /// Who owns the distribution's wiring: spadeploy (`all`, the default) or infrastructure as
    /// code (`content`: a push writes only objects, the function's code and its store's keys).
    pub manage: Option<Manage>,
    /// The infrastructure-as-code language wiring fixes are printed in (default: CloudFormation
    /// for a distribution tagged by a stack, else Terraform).
    pub iac: Option<Iac>,
}

/// Who owns the distribution's wiring (associations, origins, OAC, bucket policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Manage {
    /// spadeploy wires the distribution and the bucket when they drift.
    #[default]
    All,
    /// Terraform, CloudFormation or CDK owns the wiring; spadeploy checks it, read-only.
    Content,
}

/// The language a wiring fix is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Iac {
    Terraform,
    Cloudformation,
    Cdk,
}

/// Where and how to reach the target. The same struct is the `[target]` table and the command
/// line flags, so the two can never disagree on names; flags win over the manifest.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetSettings {
    /// Where to deploy: s3://BUCKET[/PREFIX], or a local directory (PATH or file://PATH)
    #[arg(long, value_name = "TARGET")]
    pub to: Option<Target>,
    /// AWS region of the bucket (default: AWS_REGION / the profile's region)
    #[arg(long)]
    pub region: Option<String>,
    /// AWS profile to use (default: AWS_PROFILE / `default`)
    #[arg(long)]
    pub profile: Option<String>,
    /// S3-compatible endpoint (MinIO, R2, an emulator); AWS_ENDPOINT_URL works too
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// When to send request checksums (default: when-required with a custom endpoint, which many
    /// S3-compatible stores need; when-supported on AWS)
    #[arg(long, value_enum)]
    pub checksum: Option<ChecksumMode>,
}

impl TargetSettings {
    /// Flags (`self`) win over the manifest (`file`), field by field.
    pub(crate) fn or(self, file: TargetSettings) -> TargetSettings {
        TargetSettings {
            to: self.to.or(file.to),
            region: self.region.or(file.region),
            profile: self.profile.or(file.profile),
            endpoint_url: self.endpoint_url.or(file.endpoint_url),
            checksum: self.checksum.or(file.checksum),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ChecksumMode {
    WhenRequired,
    WhenSupported,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    pub glob: Glob,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum GlobError {
    #[error("empty glob: write a pattern such as `assets/**` or `*.map`")]
    Empty,
    #[error("invalid glob `{pattern}`: {why}")]
    Invalid { pattern: String, why: String },
}

/// A path glob over `/`-separated keys: `*` stays within a segment, `**` crosses them, and a
/// glob without `/` matches a file name in any directory (as in .gitignore).
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    matcher: globset::GlobMatcher,
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Result<Glob, GlobError> {
        let trimmed = pattern.trim_start_matches('/');
        if trimmed.is_empty() {
            return Err(GlobError::Empty);
        }
        let anchored = if trimmed.contains('/') {
            trimmed.to_string()
        } else {
            format!("**/{trimmed}")
        };
        let matcher = globset::GlobBuilder::new(&anchored)
            .literal_separator(true)
            .build()
            .map_err(|err| GlobError::Invalid {
                pattern: pattern.to_string(),
                why: err.kind().to_string(),
            })?
            .compile_matcher();
        Ok(Glob { matcher })
    }

    pub(crate) fn is_match(&self, key: &str) -> bool {
        self.matcher.is_match(key)
    }
}

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Glob::new(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ManifestError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}\n    {line} | {excerpt}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        excerpt: String,
    },
}

/// A manifest with the folder it came from, so relative paths in it can be resolved.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub manifest: Manifest,
    pub path: Option<PathBuf>,
    /// The keys the file sets itself (`dir`, `routing.fallback`...): a framework's preset never
    /// overrides them.
    pub explicit: Explicit,
}

impl Loaded {
    pub(crate) fn base_dir(&self) -> PathBuf {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Reads `explicit`, or `spadeploy.toml` in the current directory when present.
pub(crate) fn load(explicit: Option<&Path>) -> Result<Loaded, ManifestError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let default = PathBuf::from(FILE_NAME);
            if !default.is_file() {
                return Ok(Loaded::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
        path: path.clone(),
        source,
    })?;
    let manifest = parse(&text, &path)?;
    Ok(Loaded {
        manifest,
        path: Some(path),
        explicit: explicit_keys(&text),
    })
}

/// Top-level keys and `routing.<key>` of a manifest that parsed.
fn explicit_keys(text: &str) -> Explicit {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Default::default();
    };
    let routing = table
        .get("routing")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|t| t.keys().map(|k| format!("routing.{k}")));
    table.keys().cloned().chain(routing).collect()
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    let invalid = |offset: usize, message: String| {
        let (line, column, excerpt) = locate(text, offset);
        ManifestError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
            excerpt,
        }
    };
    let mut manifest: Manifest = toml::from_str(text).map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start);
        invalid(offset, err.message().trim().to_string())
    })?;
    for rule in &manifest.rules {
        let body = rule.get_ref();
        if body.cache_control.is_none() && body.content_type.is_none() {
            return Err(invalid(
                rule.span().start,
                "this rule sets no header: give it `cache_control` and/or `content_type`".into(),
            ));
        }
        for value in [&body.cache_control, &body.content_type]
            .into_iter()
            .flatten()
        {
            if !crate::model::is_header_value(value) {
                return Err(invalid(
                    rule.span().start,
                    format!("header value {value:?} must be non-empty printable ASCII on one line"),
                ));
            }
        }
    }
    if let Err(err) = manifest.routing.validate() {
        let key = match &err {
            RuleError::Setting { key, .. } => key,
            _ => "",
        };
        return Err(invalid(routing_key_offset(text, key), err.to_string()));
    }
    let at = |(offset, err): (usize, RuleError)| invalid(offset, err.to_string());
    check_each(&manifest.redirects, Redirect::validate).map_err(at)?;
    check_each(&manifest.rewrites, Rewrite::validate).map_err(at)?;
    check_each(&manifest.spa, Spa::validate).map_err(at)?;
    check_each(&manifest.headers, HeaderRule::validate).map_err(at)?;
    let patterns = manifest.redirects.len() + manifest.rewrites.len();
    if patterns > MAX_PATTERN_RULES {
        let last = manifest
            .rewrites
            .last()
            .map(|r| r.span().start)
            .or(manifest.redirects.last().map(|r| r.span().start));
        return Err(invalid(
            last.unwrap_or(0),
            format!(
                "{patterns} [[redirects]] and [[rewrites]] given, but the edge function evaluates at most \
                 {MAX_PATTERN_RULES}: merge them with `:name` parameters and `*` splats"
            ),
        ));
    }
    let mut prefixes: Vec<String> = manifest.spa.iter().map(|s| s.get_ref().folder()).collect();
    prefixes.sort();
    if let Some(twice) = prefixes.windows(2).find(|w| w[0] == w[1]) {
        let at = manifest
            .spa
            .iter()
            .find(|s| s.get_ref().folder() == twice[0]);
        return Err(invalid(
            at.map_or(0, |s| s.span().start),
            format!(
                "two [[spa]] entries have the prefix `{}`: keep one",
                twice[0]
            ),
        ));
    }
    if let Some(to) = manifest.target.to.take() {
        let base = path.parent().unwrap_or(Path::new(""));
        manifest.target.to = Some(to.rebased(base));
    }
    Ok(manifest)
}

/// Validates each entry; an error carries the entry's offset.
fn check_each<T>(
    entries: &[Spanned<T>],
    check: impl Fn(&T) -> Result<(), RuleError>,
) -> Result<(), (usize, RuleError)> {
    entries
        .iter()
        .try_for_each(|e| check(e.get_ref()).map_err(|message| (e.span().start, message)))
}

/// Where `[routing] key` is written (the start of the file when it cannot be found).
fn routing_key_offset(text: &str, key: &str) -> usize {
    #[derive(Deserialize, Default)]
    struct Spans {
        #[serde(default)]
        routing: std::collections::HashMap<String, Spanned<toml::Value>>,
    }
    toml::from_str::<Spans>(text)
        .ok()
        .and_then(|spans| spans.routing.get(key).map(|v| v.span().start))
        .unwrap_or(0)
}

/// 1-based line and column of a byte offset, and that line's text.
fn locate(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let excerpt = text[line_start..].lines().next().unwrap_or("").to_string();
    (line, column, excerpt)
}

impl Manifest {
    pub(crate) fn header_rules(&self) -> Vec<Rule> {
        let immutable = self.immutable.iter().map(|glob| Rule {
            glob: glob.clone(),
            cache_control: Some(crate::model::CACHE_IMMUTABLE.to_string()),
            content_type: None,
        });
        self.rules
            .iter()
            .map(|r| r.get_ref().clone())
            .chain(immutable)
            .collect()
    }

    /// Everything the manifest states about routes.
    /// The routing mode: the flag's, else the manifest's (`None`: detected from the origin).
    /// The one place the two are merged.
    pub(crate) fn mode(&self, flag: Option<Mode>) -> Option<Mode> {
        flag.or(self.routing.mode)
    }

    pub(crate) fn route_rules(&self) -> RouteRules {
        fn plain<T: Clone>(entries: &[Spanned<T>]) -> Vec<T> {
            entries.iter().map(|e| e.get_ref().clone()).collect()
        }
        RouteRules {
            settings: self.routing.clone(),
            redirects: plain(&self.redirects),
            rewrites: plain(&self.rewrites),
            spas: plain(&self.spa),
            headers: plain(&self.headers),
        }
    }
}

/// The commented starter manifest written by `spadeploy init`, with a detected framework's
/// top-level keys (`top`) and tables (`tables`, appended).
pub(crate) fn starter(dir: &str, top: &str, tables: &str) -> String {
    format!(
        r#"# spadeploy.toml: how this app is deployed. Flags on the command line win over this file.
# Reference: see README.md, "Manifest reference".

# The build output to deploy (relative to this file).
dir = "{dir}"
{top}
# Files never uploaded (globs relative to dir; a glob without "/" matches in any folder).
# exclude = ["*.map"]

# Objects in the target never deleted, even when they are not in the build.
# protect = ["uploads/**"]

[target]
# s3://BUCKET[/PREFIX], or a local directory such as "./site" (no AWS account needed).
to = "./site"
# region = "eu-west-1"
# profile = "deploy"
# endpoint_url = "http://127.0.0.1:9000"   # MinIO, R2, an emulator
# checksum = "when-required"               # for S3-compatible stores that reject CRC checksums

# Header rules: the first rule that matches a file and sets a header decides that header.
# Defaults: content-hashed names (app-3f9a1c2b.js) are cached for a year as immutable,
# HTML is "no-cache", everything else "public, max-age=300".
# [[rules]]
# glob = "fonts/**"
# cache_control = "public, max-age=31536000, immutable"
#
# [[rules]]
# glob = "*.txt"
# content_type = "text/plain; charset=utf-8"

# CloudFront in front of an s3:// target: `push` then makes the SPA routing right and invalidates.
# [cdn]
# distribution = "E1234567890ABC"
# wait = false                   # wait for the invalidation to complete
# manage = "content"             # Terraform/CloudFormation/CDK owns the wiring: push writes content only

# Client routes (/users/42) answer index.html with 200; API behaviors (/api/*) are never touched.
# [routing]
# mode = "private"               # or "website"; default: detected from the SPA origin
# no_fallback = ["/assets/"]     # a missing file under these stays an honest 404
# allow_public_read = false      # website mode needs it: a read policy limited to a secret Referer

# trailing_slash = "keep"        # or "add" / "remove": a 308 for page URLs
# clean_urls = true              # /pricing answers pricing.html; /pricing.html redirects to /pricing
# not_found = "404.html"         # answered with 404 (default: 404.html when the build has one)

# Evaluation order: state never served, redirects, trailing slash, files of the live release
# (dir/ and dir -> dir/index.html, clean URLs), rewrites, SPA fallback, the 404 page.
# [[redirects]]
# from = "/blog/:year/*"         # :name parameters, a final * splat
# to = "/posts/:year/:splat"     # or an absolute URL; the query string is kept
# status = 301
#
# [[rewrites]]
# from = "/docs/:page"
# to = "/docs/:page.html"        # a file of this site, answered with 200
#
# A second SPA beside the root one (the root one is implied only while no [[spa]] is listed).
# [[spa]]
# prefix = "/"
# [[spa]]
# prefix = "/admin/"             # falls back to admin/index.html
#
# [[headers]]
# for = "/*"
# values = {{ "X-Frame-Options" = "DENY", "Referrer-Policy" = "strict-origin-when-cross-origin" }}
{tables}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> (usize, String, String) {
        match parse(text, Path::new("spadeploy.toml")) {
            Err(ManifestError::Invalid {
                line,
                message,
                excerpt,
                ..
            }) => (line, message, excerpt),
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    #[test]
    fn full_manifest_parses() {
        let m = parse(
            r#"
dir = "build"
exclude = ["*.map", "drafts/**"]
protect = ["uploads/**"]
concurrency = 8
[target]
to = "s3://my-site/app"
region = "eu-west-1"
checksum = "when-required"
[[rules]]
glob = "assets/**"
cache_control = "public, max-age=60"
"#,
            Path::new("/proj/spadeploy.toml"),
        )
        .unwrap();
        assert_eq!(m.dir.as_deref(), Some(Path::new("build")));
        assert_eq!(m.exclude.len(), 2);
        assert!(m.exclude[0].is_match("assets/deep/app.js.map"));
        assert!(m.protect[0].is_match("uploads/a/b.png"));
        assert_eq!(m.concurrency.map(NonZeroUsize::get), Some(8));
        assert_eq!(m.target.checksum, Some(ChecksumMode::WhenRequired));
        assert_eq!(m.rules.len(), 1);
    }

    #[test]
    fn immutable_globs_cache_for_a_year_and_rules_still_win() {
        let m = parse(
            "immutable = [\"build/**\", \"static/**\"]\n\
             [[rules]]\nglob = \"static/live.json\"\ncache_control = \"no-cache\"\n",
            Path::new("spadeploy.toml"),
        )
        .unwrap();
        let rules = crate::sync::headers::HeaderRules::new(m.header_rules());
        assert_eq!(
            &*rules.resolve("build/app.js").cache_control,
            crate::model::CACHE_IMMUTABLE
        );
        assert_eq!(
            &*rules.resolve("static/live.json").cache_control,
            "no-cache"
        );
        assert_ne!(
            &*rules.resolve("other/app.js").cache_control,
            crate::model::CACHE_IMMUTABLE
        );
    }

    #[test]
    fn relative_local_targets_resolve_from_the_manifest_folder() {
        let m = parse(
            "[target]\nto = \"site\"\n",
            Path::new("/proj/spadeploy.toml"),
        )
        .unwrap();
        assert_eq!(
            m.target.to,
            Some(Target::Local {
                path: "/proj/site".into()
            })
        );
    }

    #[test]
    fn unknown_keys_name_line_and_key() {
        let (line, message, excerpt) = parse_err("dir = \"dist\"\n\n[target]\nbukket = \"x\"\n");
        assert_eq!(line, 4);
        assert!(message.contains("unknown field `bukket`"), "{message}");
        assert!(message.contains("`to`"), "lists the valid keys: {message}");
        assert_eq!(excerpt, "bukket = \"x\"");
    }

    #[test]
    fn bad_values_name_their_line() {
        let (line, message, _) = parse_err("[target]\nto = \"gs://bucket\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("unsupported target scheme"), "{message}");

        let (line, message, _) = parse_err("exclude = [\"ok\", \"[bad\"]\n");
        assert_eq!(line, 1);
        assert!(message.contains("invalid glob `[bad`"), "{message}");

        let (line, message, _) = parse_err("concurrency = 0\n");
        assert_eq!(line, 1);
        assert!(!message.is_empty());

        let (line, message, _) = parse_err("dir = 5\n");
        assert_eq!(line, 1);
        assert!(message.contains("invalid type"), "{message}");

        let (line, message, _) = parse_err("[target]\nchecksum = \"sometimes\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("when-required"), "{message}");
    }

    #[test]
    fn rules_must_set_a_valid_header() {
        let (line, message, _) = parse_err("dir = \"d\"\n[[rules]]\nglob = \"*.js\"\n");
        assert_eq!(line, 2, "points at the rule");
        assert!(message.contains("sets no header"), "{message}");

        let (_, message, _) = parse_err("[[rules]]\nglob = \"*.js\"\ncache_control = \"a\\nb\"\n");
        assert!(message.contains("printable ASCII"), "{message}");

        let (line, message, _) = parse_err("[[rules]]\ncache_control = \"x\"\n");
        assert!(message.contains("missing field `glob`"), "{message}");
        assert!(line >= 1);
    }

    #[test]
    fn routing_values_that_reach_code_paths_and_arns_are_checked_with_their_line() {
        for (text, line, needle) in [
            (
                "dir = \"d\"\n[routing]\ncache_control = \"no-cache\\r\\nX-Evil: 1\"\n",
                3,
                "printable ASCII",
            ),
            (
                "[routing]\nmode = \"private\"\nindex_document = \"../../etc/passwd\"\n",
                3,
                "inside the build",
            ),
            (
                "[routing]\nerror_document = \".spadeploy/live.json\"\n",
                2,
                "inside the build",
            ),
            ("[routing]\nindex_document = \"\"\n", 2, "inside the build"),
            (
                "\n[routing]\nfunction_name = \"spadeploy-*\"\n",
                3,
                "letters, digits",
            ),
        ] {
            let (at, message, _) = parse_err(text);
            assert_eq!(at, line, "{text}: {message}");
            assert!(message.contains(needle), "{text}: {message}");
        }
        assert!(parse(
            "[routing]\nindex_document = \"/app/index.html\"\nfunction_name = \"my_site-1\"\n",
            Path::new("spadeploy.toml")
        )
        .is_ok());
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let (line, _, excerpt) = parse_err("dir = \"dist\"\nexclude = [\"a\"\n");
        assert!(line >= 2);
        assert!(!excerpt.is_empty() || line == 3);
    }

    #[test]
    fn starter_manifest_is_valid() {
        let m = parse(&starter("dist", "", ""), Path::new("spadeploy.toml")).unwrap();
        assert_eq!(m.dir.as_deref(), Some(Path::new("dist")));
    }

    #[test]
    fn flags_win_over_the_manifest_field_by_field() {
        let flags = TargetSettings {
            region: Some("us-west-2".into()),
            ..Default::default()
        };
        let file = TargetSettings {
            region: Some("eu-west-1".into()),
            profile: Some("deploy".into()),
            ..Default::default()
        };
        let merged = flags.or(file);
        assert_eq!(merged.region.as_deref(), Some("us-west-2"));
        assert_eq!(merged.profile.as_deref(), Some("deploy"));
    }
}
