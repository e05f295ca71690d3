//! Which site a request's Host names: production, a preview (`<id>.<domain>`), or a preview
//! host naming no valid id. `previewId` in src/cdn/edge/previews.js is the same function.

use super::id::PreviewId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostKind {
    Production,
    Preview(String),
    /// Under the preview domain, but no preview can be named so (deeper names, the bare
    /// domain): a 404, never production.
    Unknown,
}

/// `host` as a viewer sent it (any case, a port, a trailing dot) against the preview domain.
pub(crate) fn classify(host: &str, domain: &str) -> HostKind {
    let name = host.to_ascii_lowercase();
    // An IPv6 literal is never a preview host.
    if name.starts_with('[') {
        return HostKind::Production;
    }
    let name = name.split(':').next().unwrap_or_default();
    let name = name.strip_suffix('.').unwrap_or(name);
    if name == domain {
        return HostKind::Unknown;
    }
    match name
        .strip_suffix(domain)
        .and_then(|id| id.strip_suffix('.'))
    {
        Some(id) if !id.is_empty() && PreviewId::is_valid(id) => HostKind::Preview(id.to_string()),
        Some(id) if !id.is_empty() => HostKind::Unknown,
        _ => HostKind::Production,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same table runs under Node against previews.js (tests/data/preview-hosts.tsv).
    const CASES: &str = include_str!("../../tests/data/preview-hosts.tsv");

    #[test]
    fn hosts_map_to_their_site() {
        let mut ran = 0;
        for line in CASES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let want = match cols[2] {
                "production" => HostKind::Production,
                "unknown" => HostKind::Unknown,
                id => HostKind::Preview(id.to_string()),
            };
            assert_eq!(classify(cols[0], cols[1]), want, "{line}");
            ran += 1;
        }
        assert!(ran >= 15, "{ran} cases");
    }

    /// The same table against `previewId` in the generated function, under Node.js.
    #[test]
    fn the_edge_function_maps_hosts_the_same_way() {
        use crate::cdn::edge_code::function_code;
        use crate::config::preview::PreviewEdge;
        let routes =
            crate::cdn::routing::Routes::derive(&Default::default(), "/", ["index.html"]).unwrap();
        let previews = PreviewEdge {
            domain: "preview.example.com".into(),
            noindex: true,
        };
        let code = function_code(
            &routes,
            crate::config::routing::Mode::Private,
            false,
            "t",
            Some(&previews),
        )
        .unwrap()
        .code;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("function.mjs");
        std::fs::write(&file, code).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("node")
            .arg(root.join("tests/edge/previews.mjs"))
            .arg("--hosts")
            .arg(&file)
            .arg(root.join("tests/data/preview-hosts.tsv"))
            .output()
            .expect("Node.js runs the generated function");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(" passed, 0 failed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
