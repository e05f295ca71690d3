//! The bench's measuring instrument: a proxy that plays a distant S3 in front of a local one.
//!
//! Each request is read whole, waits a fixed delay (one for S3, a longer one for the control plane),
//! is forwarded to the upstream server over a pool of keep-alive connections, and is logged on
//! stdout as one tab-separated line: `started end control method body_bytes arrived label`, times in
//! seconds of CLOCK_MONOTONIC. The first stdout line is `port N`. A line on stdin is answered with a
//! `sync` line once every request answered before it is logged; the end of stdin stops the proxy.
//!
//! It replaces a Python proxy whose thread per connection, under bursts of 128+ requests, cost the
//! two cores seconds of CPU and queued requests 50-220 ms beyond their delay: the bench measured
//! the instrument. Here the delays are timers, so thousands of requests wait without CPU.

use std::convert::Infallible;
use std::io::{BufRead, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const USAGE: &str =
    "usage: bench-proxy --upstream PORT --s3-delay-ms N --control-delay-ms N [--connect-delay-ms N]";

/// CloudFront, Lambda and CloudFront KeyValueStore APIs: the control plane (as bench.py's is_control).
const CONTROL_PREFIXES: [&str; 3] = ["/2020-05-31/", "/2015-03-31/", "/key-value-stores/"];
/// A bucket's configuration, also the control plane.
const CONTROL_QUERY_KEYS: [&str; 4] = ["policy", "website", "publicAccessBlock", "tagging"];

#[derive(Default)]
struct Args {
    upstream: u16,
    s3_delay: Duration,
    control_delay: Duration,
    /// What a TCP handshake to a distant server adds before a connection's first request.
    connect_delay: Duration,
}

struct Proxy {
    args: Args,
    client: Client<HttpConnector, Full<Bytes>>,
    log: mpsc::Sender<String>,
}

#[tokio::main]
async fn main() {
    let args = parse_args(std::env::args().skip(1)).unwrap_or_else(|error| {
        eprintln!("bench-proxy: {error}\n{USAGE}");
        std::process::exit(64);
    });
    let mut connector = HttpConnector::new();
    // Without it, Nagle's algorithm and delayed ACKs can hold a small write back 40 ms.
    connector.set_nodelay(true);
    // As many idle connections as the burst opened, so the next burst does not open them again.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::MAX)
        .build(connector);
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap_or_else(|error| {
            eprintln!("bench-proxy: cannot listen: {error}");
            std::process::exit(1);
        });
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    // The log thread writes every line, this one first, so stdout is never written from two places.
    let (log, lines) = mpsc::channel();
    let _ = log.send(format!("port {port}\n"));
    std::thread::spawn(move || write_log(lines));
    let proxy = Arc::new(Proxy {
        args,
        client,
        log: log.clone(),
    });
    std::thread::spawn(move || answer_stdin(log));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("bench-proxy: accept: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            // HTTP/1.1 serves a connection's requests one after another, so a flag is enough.
            let first = AtomicBool::new(true);
            let service = service_fn(move |request| {
                let proxy = proxy.clone();
                let first = first.swap(false, Ordering::Relaxed);
                async move { Ok::<_, Infallible>(proxy.handle(request, first).await) }
            });
            // A client closing its connection is how a connection normally ends: nothing to say.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn parse_args(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(flag) = words.next() {
        let value = words.next().ok_or(format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))?;
        let ms = Duration::from_millis(number);
        match flag.as_str() {
            "--upstream" => args.upstream = u16::try_from(number).map_err(|_| "bad port")?,
            "--s3-delay-ms" => args.s3_delay = ms,
            "--control-delay-ms" => args.control_delay = ms,
            "--connect-delay-ms" => args.connect_delay = ms,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.upstream == 0 {
        return Err("--upstream is required".into());
    }
    Ok(args)
}

impl Proxy {
    async fn handle(&self, request: Request<Incoming>, first: bool) -> Response<Full<Bytes>> {
        let arrived = now();
        let (parts, body) = request.into_parts();
        // Polling the body is what makes hyper answer `Expect: 100-continue`, as S3 does.
        let body = match body.collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => return reply(StatusCode::BAD_REQUEST, format!("body: {error}")),
        };
        let started = now();
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let control = is_control(&target, &body);
        let args = &self.args;
        let mut delay = if control {
            args.control_delay
        } else {
            args.s3_delay
        };
        if first {
            delay += args.connect_delay;
        }
        // A timer, not a thread: thousands wait at once for no CPU. tokio's timer rounds up to the
        // millisecond, so a request waits its delay and up to ~1 ms more.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let copy = parts.headers.contains_key("x-amz-copy-source");
        let label = format!(
            "{} {}{}",
            parts.method,
            truncate(&target, 120),
            if copy { " (copy)" } else { "" }
        );
        let (method, bytes) = (parts.method.clone(), body.len());
        let response = self
            .forward(parts, &target, body)
            .await
            .unwrap_or_else(|error| {
                let error = describe(&*error);
                eprintln!("bench-proxy: {label}: {error}");
                reply(
                    StatusCode::BAD_GATEWAY,
                    format!("bench-proxy: upstream: {error}"),
                )
            });
        // Logged before hyper writes the answer, so a client that has its answer finds it logged.
        let end = now();
        let _ = self.log.send(format!(
            "{started:.6}\t{end:.6}\t{}\t{method}\t{bytes}\t{arrived:.6}\t{label}\n",
            u8::from(control)
        ));
        response
    }

    async fn forward(
        &self,
        mut parts: hyper::http::request::Parts,
        target: &str,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
        // Host and the target go unchanged (SigV4 signs both); the body was read whole, so a chunked
        // one goes with its length, and `Expect` was answered here.
        let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::EXPECT);
        if chunked {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        parts.uri = format!("http://127.0.0.1:{}{target}", self.args.upstream).parse()?;
        let head = parts.method == Method::HEAD;
        let answer = self
            .client
            .request(Request::from_parts(parts, Full::new(body)))
            .await?;
        let (mut parts, body) = answer.into_parts();
        let body = body.collect().await?.to_bytes();
        strip_hop_by_hop(&mut parts.headers);
        // hyper sets the length of the body collected; a HEAD answer keeps the object's length,
        // which hyper leaves alone (rclone reads it).
        if !head {
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

fn is_control(target: &str, body: &[u8]) -> bool {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    CONTROL_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
        || body.starts_with(b"Action=") // IAM's form-encoded API
        || query
            .split('&')
            .any(|part| CONTROL_QUERY_KEYS.contains(&part.split('=').next().unwrap_or("")))
}

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes the headers that describe one connection, not the message (RFC 9110 section 7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| {
            value
                .split(',')
                .map(|name| name.trim().to_ascii_lowercase())
        })
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn truncate(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(at, _)| &text[..at])
}

/// An error and its causes: hyper's say "client error (Connect)" and keep the cause as a source.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn reply(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

/// Seconds of CLOCK_MONOTONIC: what Python's time.perf_counter() reads on Linux, so bench.py
/// compares these with its own clock. std's Instant reads it too but does not expose its value.
fn now() -> f64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid timespec for the call to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut time) };
    time.tv_sec as f64 + time.tv_nsec as f64 * 1e-9
}

/// Writes the log in batches: after each write it sleeps 5 ms while lines queue, so a burst costs a
/// wake-up and a pipe write per batch (here and in the bench reading it), not per request.
fn write_log(lines: mpsc::Receiver<String>) {
    let mut out = BufWriter::new(std::io::stdout().lock());
    while let Ok(first) = lines.recv() {
        if write_batch(&mut out, std::iter::once(first).chain(lines.try_iter())).is_err() {
            std::process::exit(0); // the bench stopped reading: it is gone
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn write_batch(out: &mut impl Write, lines: impl Iterator<Item = String>) -> std::io::Result<()> {
    for line in lines {
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

/// Each stdin line is a sync request; its answer queues behind every line logged so far. The end of
/// stdin means the bench is done (or died): the proxy never outlives it.
fn answer_stdin(log: mpsc::Sender<String>) {
    for line in std::io::stdin().lock().lines() {
        if line.is_err() || log.send("sync\n".into()).is_err() {
            break;
        }
    }
    std::process::exit(0);
}
