//! `spadeploy serve`: a local preview with the routing semantics of the chosen mode, so the
//! embedded default (a local directory target) shows what CloudFront + S3 would answer.
//! The decision (`respond`) is a pure function of the request and the site; the server around it
//! only reads files and proxies API prefixes.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, CONNECTION, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::cdn::routing::{Outcome, Routes};
use crate::config::routing::{Mode, RouteRules};
use crate::model::{is_state_key, ObjectHeaders, LIVE_RECORD, PREVIEWS_PREFIX};
use crate::preview::host::{classify, HostKind};
use crate::state::release::Record;
use crate::sync::headers::HeaderRules;

/// `--api PREFIX=URL`: requests under PREFIX go to URL unchanged, as a CloudFront behavior with
/// another origin would send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiRoute {
    pub prefix: String,
    pub upstream: String,
}

impl FromStr for ApiRoute {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (prefix, upstream) = spec.split_once('=').ok_or_else(|| {
            format!("`{spec}`: write PREFIX=URL, e.g. /api=http://127.0.0.1:3000")
        })?;
        if !prefix.starts_with('/') {
            return Err(format!("`{prefix}`: the API prefix must start with `/`"));
        }
        let upstream = upstream.trim_end_matches('/');
        if !upstream.starts_with("http://") {
            return Err(format!(
                "`{upstream}`: the API URL must be http://HOST:PORT (a local server)"
            ));
        }
        Ok(ApiRoute {
            prefix: prefix.to_string(),
            upstream: upstream.to_string(),
        })
    }
}

/// Why a folder cannot be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    #[error(transparent)]
    Record(#[from] crate::state::release::RecordError),
    #[error("the live release's recorded routing is not valid: push again")]
    Routing(#[source] crate::config::routing::RuleError),
    #[error(transparent)]
    Table(#[from] crate::cdn::routing::TableError),
    #[error("cannot serve {}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a request was not forwarded to an API (answered 502).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    #[error("the request could not be forwarded")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the API at {upstream} did not answer")]
    Upstream {
        upstream: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An error and its causes on one line, for a 502's body.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        line.push_str(&format!(": {next}"));
        cause = next.source();
    }
    line
}

/// Which routing `serve` answers with.
pub(crate) enum Routing {
    /// The live release's own (these rules for a folder without one).
    Recorded(RouteRules),
    /// These rules, whatever the release recorded (`--config FILE`).
    Manifest(RouteRules),
}

/// What `serve` serves: a local target (with spadeploy's record of headers) or a build directory.
pub(crate) struct Site {
    /// The live release served, when the folder is a target.
    pub release: Option<String>,
    /// Its routing is the one it recorded (not the manifest's here).
    pub routing_recorded: bool,
    pub root: PathBuf,
    pub mode: Mode,
    pub routes: Routes,
    /// What the website endpoint answers a missing key with (website mode).
    pub error_document: String,
    /// Headers for build directories, which have no record.
    pub header_rules: HeaderRules,
    recorded: BTreeMap<String, ObjectHeaders>,
    /// The root with every symbolic link resolved.
    real_root: PathBuf,
}

impl Site {
    /// `keys_of_build` lists a build directory's files when `root` holds no live release.
    pub(crate) fn new(
        root: PathBuf,
        base: &str,
        mode: Mode,
        routing: Routing,
        header_rules: HeaderRules,
        keys_of_build: impl FnOnce(&std::path::Path) -> Vec<String>,
    ) -> Result<Site, ServeError> {
        let record_path = root.join(LIVE_RECORD);
        let live = match std::fs::read(&record_path) {
            Ok(bytes) => Some(Record::from_json(&bytes)?),
            Err(_) => None,
        };
        // The live release's routing as it was pushed, wherever serve is started; a build
        // directory (or a release recorded before routing was) uses the manifest's.
        let recorded = live.as_ref().and_then(|l| l.routing.as_ref());
        let (recorded_rules, fallback) = match (routing, recorded) {
            (Routing::Recorded(rules), Some(value)) => (
                Some(RouteRules::from_record(value).map_err(ServeError::Routing)?),
                rules,
            ),
            (Routing::Recorded(rules) | Routing::Manifest(rules), _) => (None, rules),
        };
        let rules = recorded_rules.as_ref().unwrap_or(&fallback);
        let release = live.as_ref().map(|l| l.id.clone());
        let recorded: BTreeMap<String, ObjectHeaders> = live
            .map(|l| {
                l.objects
                    .into_iter()
                    .map(|(key, object)| (key, object.headers))
                    .collect()
            })
            .unwrap_or_default();
        let keys = if recorded.is_empty() {
            keys_of_build(&root)
        } else {
            recorded.keys().cloned().collect()
        };
        let routes = Routes::derive(rules, base, keys.iter().map(String::as_str))?;
        let error_document = routes.error_key(&rules.settings.error_document);
        let real_root = root.canonicalize().map_err(|source| ServeError::Root {
            path: root.clone(),
            source,
        })?;
        Ok(Site {
            release,
            routing_recorded: recorded_rules.is_some(),
            real_root,
            root,
            mode,
            routes,
            error_document,
            header_rules,
            recorded,
        })
    }

    fn object(&self, key: &str) -> Option<(PathBuf, ObjectHeaders)> {
        if key.is_empty() || is_state_key(key) || key.split('/').any(|s| s == ".." || s == ".") {
            return None;
        }
        let path = key
            .split('/')
            .fold(self.root.clone(), |p, part| p.join(part));
        // A symbolic link may point anywhere; only what resolves inside the root is served.
        let real = path.canonicalize().ok()?;
        if !real.starts_with(&self.real_root) || !real.is_file() {
            return None;
        }
        let headers = self
            .recorded
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.header_rules.resolve(key));
        Some((path, headers))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body {
    Empty,
    File(PathBuf),
    Text(&'static str),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Answer {
    fn object(status: u16, path: PathBuf, headers: ObjectHeaders) -> Answer {
        Answer {
            status,
            headers: vec![
                ("content-type".into(), headers.content_type.to_string()),
                ("cache-control".into(), headers.cache_control.to_string()),
            ],
            body: Body::File(path),
        }
    }

    fn redirect(status: u16, location: String) -> Answer {
        Answer {
            status,
            headers: vec![("location".into(), location)],
            body: Body::Empty,
        }
    }

    fn not_found() -> Answer {
        Answer {
            status: 404,
            headers: vec![("content-type".into(), "application/xml".into())],
            body: Body::Text(
                "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
            ),
        }
    }
}

/// The answer for a request to the SPA (not an API path), as CloudFront + S3 give it in `mode`:
/// the route table decides (as the edge function would), then the origin answers.
pub(crate) fn respond(site: &Site, method: &str, path: &str, query: &str) -> Answer {
    let routes = &site.routes;
    let outcome = routes.evaluate(method, path, query);
    let mut answer = match &outcome {
        Outcome::Deny => Answer {
            status: 404,
            headers: Vec::new(),
            body: Body::Empty,
        },
        Outcome::Redirect { status, location } => Answer::redirect(*status, location.clone()),
        Outcome::Serve {
            path: target,
            status,
            fallback,
        } => match site.object(&key_of(&routes.base, target)) {
            Some((file, headers)) => {
                let mut answer = Answer::object(*status, file, headers);
                if *status == 404 || *fallback {
                    answer.headers[1].1 = routes.cache_control.clone();
                }
                answer
            }
            None => origin_missing(site),
        },
        Outcome::Pass => match site.object(&key_of(&routes.base, path)) {
            Some((file, headers)) => Answer::object(200, file, headers),
            None => origin_missing(site),
        },
    };
    // The edge adds the headers to everything it answers or sees; a private origin's error
    // (>= 400) passes the viewer-response stage by.
    let origin_error = site.mode == Mode::Private
        && answer.status >= 400
        && !matches!(outcome, Outcome::Deny)
        && !matches!(outcome, Outcome::Serve { status: 404, .. });
    if !origin_error {
        for (name, value) in routes.headers_for(outcome.answered_path(path)) {
            answer
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            answer.headers.push((name, value));
        }
    }
    answer
}

/// `serve --previews`: the previews in the served folder's `_previews/<id>/`, each a site of
/// its own served on `<id>.<domain>`.
pub(crate) struct Previews {
    pub domain: String,
    pub noindex: bool,
    pub sites: BTreeMap<String, Site>,
}

/// The answer for a request on `host`, decided as the edge function's preview branch
/// (previews.js) decides: production hosts as without previews (but never a preview's files),
/// a preview host by that preview's own site, an unknown preview a 404.
pub(crate) fn respond_on(
    site: &Site,
    previews: Option<&Previews>,
    host: &str,
    request: (&str, &str, &str),
) -> Answer {
    let (method, path, query) = request;
    let Some(previews) = previews else {
        return respond(site, method, path, query);
    };
    let preview = match classify(host, &previews.domain) {
        HostKind::Production => {
            let hidden = format!("{}{PREVIEWS_PREFIX}", site.routes.base);
            if !path.starts_with(&hidden) {
                return respond(site, method, path, query);
            }
            None
        }
        HostKind::Preview(id) => previews.sites.get(&id),
        HostKind::Unknown => None,
    };
    let mut answer = match preview {
        Some(preview) => respond(preview, method, path, query),
        None => Answer {
            status: 404,
            headers: vec![("cache-control".into(), "no-store".into())],
            body: Body::Empty,
        },
    };
    if previews.noindex {
        answer
            .headers
            .push(("x-robots-tag".into(), "noindex".into()));
    }
    answer
}

/// A URL path as the key of a file in the served folder (none outside the base: the bucket
/// holds other things there, which a preview does not have).
fn key_of(base: &str, path: &str) -> String {
    path.strip_prefix(base)
        .map(|key| percent_decode_str(key).decode_utf8_lossy().into_owned())
        .unwrap_or_default()
}

/// What the origin answers for a key it lacks: the website endpoint its error document with 404,
/// the REST endpoint a bare 404.
fn origin_missing(site: &Site) -> Answer {
    match site.mode {
        Mode::Website => match site.object(&site.error_document) {
            Some((file, headers)) => Answer::object(404, file, headers),
            None => Answer::not_found(),
        },
        Mode::Private => Answer::not_found(),
    }
}

type Proxy = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Server {
    site: Site,
    previews: Option<Previews>,
    apis: Vec<ApiRoute>,
    client: Proxy,
}

/// Serves until the process is stopped; `on_ready` gets the bound address.
pub(crate) async fn run(
    site: Site,
    previews: Option<Previews>,
    apis: Vec<ApiRoute>,
    port: u16,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    on_ready(listener.local_addr()?);
    let server = Arc::new(Server {
        site,
        previews,
        apis,
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    // A local preview, but still a server: slow or endless clients cannot pile up.
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = Arc::clone(&connections)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (stream, _) = listener.accept().await?;
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = Arc::clone(&server);
                async move { Ok::<_, Infallible>(server.handle(request).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A client must send a request body within this time: a body trickled a byte a second would
/// otherwise hold one of the connections forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body forwarded to an API.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Only names of this machine: a web page on another origin that rebinds its DNS name to
/// 127.0.0.1 still sends its own name, and is refused (DNS rebinding).
pub(crate) fn host_allowed(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    // `*.localhost` names resolve to this machine in browsers (RFC 6761), never through DNS:
    // preview hosts such as pr-42.preview.localhost.
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "127.0.0.1" | "localhost" | "::1") || name.ends_with(".localhost")
}

/// The end-to-end headers of a message: hop-by-hop ones and those its `Connection` names dropped.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !HOP_BY_HOP.contains(&name) && !named.iter().any(|n| n == name)
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

impl Server {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        // One Host, and a request target in origin form: an absolute-form target
        // (`GET http://evil.example/`) or a second Host names another site than the one checked.
        let mut hosts = request.headers().get_all(HOST).iter();
        let (host, second) = (hosts.next(), hosts.next());
        if second.is_some() || request.uri().authority().is_some() {
            return plain(
                StatusCode::BAD_REQUEST,
                "send one Host header and a path as the request target".into(),
            );
        }
        let host = host.and_then(|h| h.to_str().ok());
        if !host_allowed(host) {
            return plain(
                StatusCode::MISDIRECTED_REQUEST,
                "spadeploy serve answers requests for 127.0.0.1 or localhost only".into(),
            );
        }
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        if let Some(api) = self.apis.iter().find(|a| path.starts_with(&a.prefix)) {
            return self
                .proxy(api, request)
                .await
                .unwrap_or_else(|err| plain(StatusCode::BAD_GATEWAY, error_chain(&err)));
        }
        let method = request.method().as_str().to_string();
        let answer = respond_on(
            &self.site,
            self.previews.as_ref(),
            host.unwrap_or_default(),
            (&method, &path, &query),
        );
        let mut response = Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            response = response.header(name.as_str(), value);
        }
        let body = match answer.body {
            Body::Empty => Bytes::new(),
            Body::Text(text) => Bytes::from_static(text.as_bytes()),
            Body::File(path) => match tokio::fs::read(&path).await {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    return plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("{}: {e}", path.display()),
                    )
                }
            },
        };
        let body = if method == "HEAD" { Bytes::new() } else { body };
        response
            .body(Full::new(body))
            .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    }

    /// Forwards the request unchanged; the API's status, headers and body come back untouched.
    async fn proxy(
        &self,
        api: &ApiRoute,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, ProxyError> {
        let (parts, body) = request.into_parts();
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let target = format!("{}{path_and_query}", api.upstream);
        let collect =
            tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY).collect());
        let Ok(collected) = collect.await else {
            return Ok(plain(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            ));
        };
        let body = match collected {
            Ok(body) => body.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return Ok(plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request bodies over {MAX_BODY} bytes are not forwarded"),
                ))
            }
            Err(e) => return Err(ProxyError::Request(e)),
        };
        let mut forward = Request::builder().method(parts.method).uri(&target);
        for (name, value) in end_to_end(&parts.headers)
            .iter()
            .filter(|(n, _)| *n != HOST)
        {
            forward = forward.header(name, value);
        }
        let forward = forward
            .body(Full::new(body))
            .map_err(|e| ProxyError::Request(e.into()))?;
        let unreachable = |e: Box<dyn std::error::Error + Send + Sync>| ProxyError::Upstream {
            upstream: api.upstream.clone(),
            source: e,
        };
        let answer = self
            .client
            .request(forward)
            .await
            .map_err(|e| unreachable(e.into()))?;
        let (mut parts, body) = answer.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| unreachable(e.into()))?
            .to_bytes();
        parts.headers = end_to_end(&parts.headers);
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

fn plain(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_names_are_answered() {
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:3000",
            "[::1]:80",
            "127.0.0.1",
            "pr-42.preview.localhost:8080",
        ] {
            assert!(host_allowed(Some(host)), "{host}");
        }
        for host in [
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "",
            "[::2]:80",
        ] {
            assert!(!host_allowed(Some(host)), "{host}");
        }
        assert!(!host_allowed(None));
    }

    #[test]
    fn hop_by_hop_headers_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "close, x-private"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic eA=="),
            ("x-private", "only for this hop"),
            ("authorization", "Bearer t"),
            ("content-type", "application/json"),
        ] {
            headers.insert(
                hyper::header::HeaderName::from_static(name),
                value.parse().unwrap(),
            );
        }
        let kept = end_to_end(&headers);
        let kept: Vec<&str> = kept.keys().map(hyper::http::HeaderName::as_str).collect();
        assert_eq!(kept, ["authorization", "content-type"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_served_folder_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("site"), tmp.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("shadow"), "secret").unwrap();
        std::fs::write(root.join("app.js"), "ok").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("x")).unwrap();
        std::os::unix::fs::symlink(outside.join("shadow"), root.join("shadow.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("app.js"), root.join("alias.js")).unwrap();
        let site = Site::new(
            root,
            "/",
            Mode::Private,
            Routing::Recorded(RouteRules::default()),
            HeaderRules::new(Vec::new()),
            |_| vec!["app.js".into(), "alias.js".into(), "shadow.txt".into()],
        )
        .unwrap();
        for path in ["/x/shadow", "/shadow.txt"] {
            let answer = respond(&site, "GET", path, "");
            assert_eq!(answer.status, 404, "{path}: {answer:?}");
        }
        assert_eq!(
            respond(&site, "GET", "/alias.js", "").status,
            200,
            "a link inside is fine"
        );
    }

    /// `serve --previews` answers by Host as the edge function's preview branch does.
    #[test]
    fn previews_are_served_by_host() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        let pr = root.join("_previews/pr-42");
        std::fs::create_dir_all(&pr).unwrap();
        std::fs::write(root.join("index.html"), "production").unwrap();
        std::fs::write(pr.join("index.html"), "preview").unwrap();
        let site_at = |dir: PathBuf| {
            Site::new(
                dir,
                "/",
                Mode::Private,
                Routing::Recorded(RouteRules::default()),
                HeaderRules::new(Vec::new()),
                |_| vec!["index.html".into()],
            )
            .unwrap()
        };
        let previews = Previews {
            domain: "preview.localhost".into(),
            noindex: true,
            sites: BTreeMap::from([("pr-42".to_string(), site_at(pr.clone()))]),
        };
        let site = site_at(root.clone());
        let answer =
            |host: &str, path: &str| respond_on(&site, Some(&previews), host, ("GET", path, ""));
        let file = |a: &Answer| match &a.body {
            Body::File(path) => std::fs::read_to_string(path).unwrap(),
            _ => String::new(),
        };
        let cases = [
            ("localhost:8080", "/deep/route", 200, "production"),
            (
                "PR-42.preview.localhost:8080",
                "/deep/route",
                200,
                "preview",
            ),
            ("pr-42.preview.localhost", "/", 200, "preview"),
            ("pr-7.preview.localhost", "/", 404, ""),
            ("a.pr-42.preview.localhost", "/", 404, ""),
            ("localhost", "/_previews/pr-42/index.html", 404, ""),
        ];
        for (host, path, status, body) in cases {
            let got = answer(host, path);
            assert_eq!(
                (got.status, file(&got).as_str()),
                (status, body),
                "{host}{path}"
            );
        }
        let noindex = ("x-robots-tag".to_string(), "noindex".to_string());
        assert!(answer("pr-42.preview.localhost", "/")
            .headers
            .contains(&noindex));
        assert!(!answer("localhost", "/").headers.contains(&noindex));
        assert_eq!(
            file(&respond_on(&site, None, "x", ("GET", "/", ""))),
            "production"
        );
    }

    #[test]
    fn api_routes_parse_and_explain_mistakes() {
        assert_eq!(
            "/api=http://127.0.0.1:3000/".parse(),
            Ok(ApiRoute {
                prefix: "/api".into(),
                upstream: "http://127.0.0.1:3000".into()
            })
        );
        assert!("/api"
            .parse::<ApiRoute>()
            .unwrap_err()
            .contains("PREFIX=URL"));
        assert!("api=http://x"
            .parse::<ApiRoute>()
            .unwrap_err()
            .contains("start with `/`"));
        assert!("/api=https://x"
            .parse::<ApiRoute>()
            .unwrap_err()
            .contains("http://"));
    }
}
