//! A loopback HTTP proxy placed between spadeploy and the emulator. It records every request
//! (method, path, query, body bytes, copy source) so tests observe what went over the wire, and
//! can answer chosen requests with an error instead of forwarding them.
//!
//! One request per connection: each forwarded request is sent upstream with `Connection: close`
//! and the response (which then says `Connection: close`) is relayed as-is.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body_bytes: usize,
    pub copy_source: bool,
    /// The `x-amz-content-sha256` header: the payload hash the request was signed with.
    pub content_sha256: Option<String>,
    /// The `Action` parameter of a form-encoded (query-protocol, e.g. IAM) request.
    pub form_action: Option<String>,
    pub status: u16,
    /// When the request arrived and when its answer was relayed.
    pub started: std::time::Instant,
    pub finished: std::time::Instant,
}

/// The longest chain of requests each starting after the one before it ended: the round trips
/// a run waited for one after another, however many ran beside them.
pub(crate) fn critical_path(requests: &[Recorded]) -> usize {
    let mut sorted: Vec<&Recorded> = requests.iter().collect();
    sorted.sort_by_key(|r| r.started);
    let mut depth = vec![0; sorted.len()];
    for i in 0..sorted.len() {
        let before = (0..i)
            .filter(|&j| sorted[j].finished <= sorted[i].started)
            .map(|j| depth[j])
            .max();
        depth[i] = before.unwrap_or(0) + 1;
    }
    depth.into_iter().max().unwrap_or(0)
}

/// One line per request, in ms from the first: "start–end METHOD path?query".
pub(crate) fn timeline(requests: &[Recorded]) -> String {
    let mut sorted: Vec<&Recorded> = requests.iter().collect();
    sorted.sort_by_key(|r| r.started);
    let Some(first) = sorted.first().map(|r| r.started) else {
        return String::new();
    };
    let ms = |t: std::time::Instant| t.duration_since(first).as_millis();
    sorted
        .iter()
        .map(|r| {
            let (start, end) = (ms(r.started), ms(r.finished));
            format!("{start:>6}–{end:<6} {} {}?{}\n", r.method, r.path, r.query)
        })
        .collect()
}

/// When the last of a push's listing pages was answered.
pub(crate) fn listing_answered(requests: &[Recorded]) -> std::time::Instant {
    requests
        .iter()
        .filter(|r| r.query.contains("list-type=2"))
        .map(|r| r.finished)
        .max()
        .expect("the push listed the target")
}

/// When the first write of the deploy lock was sent.
pub(crate) fn lock_written(requests: &[Recorded]) -> std::time::Instant {
    requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/.spadeploy/lock.json"))
        .map(|r| r.started)
        .min()
        .expect("the push wrote its lock")
}

impl Recorded {
    pub(crate) fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "PUT" | "POST" | "DELETE" | "PATCH")
    }
}

/// What the proxy does with a matching request instead of (or before) forwarding it.
#[derive(Debug, Clone)]
pub(crate) enum FaultAction {
    /// Answer with this status and body; the request never reaches the emulator.
    Respond { status: u16, body: String },
    /// Wait, then forward as usual.
    Stall(std::time::Duration),
    /// Close the connection without an answer.
    Drop,
    /// Forward without this header (a store that ignores it).
    StripHeader(&'static str),
    /// Forward, then drop every `<name>…</name>` element from the answer (a store that does not
    /// return that field, e.g. s3s-fs lists no ETags).
    DropElement(&'static str),
}

/// Acts on requests matching `method` (`*`: any) and a path ending with `path_suffix`.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub method: &'static str,
    pub path_suffix: String,
    pub action: FaultAction,
    /// How many matching requests to act on (`None`: all of them).
    pub times: Option<usize>,
    /// Act on every `every`-th matching request only (1: each).
    pub every: usize,
    /// Act on the first request for each path only, so a client's retry goes through.
    pub once_per_path: bool,
    seen: usize,
    paths: std::collections::HashSet<String>,
}

impl Fault {
    pub(crate) fn new(method: &'static str, path_suffix: &str, action: FaultAction) -> Fault {
        Fault {
            method,
            path_suffix: path_suffix.to_string(),
            action,
            times: None,
            every: 1,
            once_per_path: false,
            seen: 0,
            paths: std::collections::HashSet::new(),
        }
    }

    pub(crate) fn access_denied(method: &'static str, path_suffix: &str) -> Fault {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                    <Message>Access Denied</Message></Error>";
        Fault::new(
            method,
            path_suffix,
            FaultAction::Respond {
                status: 403,
                body: body.into(),
            },
        )
    }

    /// CloudFront's answer to a stale If-Match: someone else changed the resource meanwhile.
    pub(crate) fn precondition_failed_once(method: &'static str, path_suffix: &str) -> Fault {
        let body = "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type><Code>PreconditionFailed</Code>\
                    <Message>The If-Match version is missing or not valid for the resource.</Message></Error></ErrorResponse>";
        Fault::new(
            method,
            path_suffix,
            FaultAction::Respond {
                status: 412,
                body: body.into(),
            },
        )
        .times(1)
    }

    /// S3's "slow down" (503) or an internal error (500), which clients retry.
    pub(crate) fn server_error(method: &'static str, path_suffix: &str, status: u16) -> Fault {
        let code = if status == 503 {
            "SlowDown"
        } else {
            "InternalError"
        };
        let body = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>Please retry.</Message></Error>");
        Fault::new(method, path_suffix, FaultAction::Respond { status, body })
    }

    pub(crate) fn every(self, every: usize) -> Fault {
        Fault { every, ..self }
    }

    /// Acts on the first `times` matching requests only.
    pub(crate) fn times(self, times: usize) -> Fault {
        Fault {
            times: Some(times),
            ..self
        }
    }

    /// A transient fault: each path is hit at most once, so retries succeed.
    pub(crate) fn transient(self) -> Fault {
        Fault {
            once_per_path: true,
            ..self
        }
    }
}

pub(crate) struct Proxy {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    faults: Arc<Mutex<Vec<Fault>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Proxy {
    pub(crate) fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let faults: Arc<Mutex<Vec<Fault>>> = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, faults2, stop2) = (log.clone(), faults.clone(), stop.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (upstream, log, faults) = (upstream.clone(), log2.clone(), faults2.clone());
                thread::spawn(move || {
                    let _ = relay(client, &upstream, &log, &faults);
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            log,
            faults,
            stop,
            port,
        }
    }

    pub(crate) fn inject(&self, fault: Fault) {
        self.faults.lock().unwrap().push(fault);
    }

    pub(crate) fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Takes the requests recorded so far.
    pub(crate) fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
    }
}

fn relay(
    client: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<Recorded>>,
    faults: &Mutex<Vec<Fault>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let mut head = Vec::new();
    let mut started = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        started.get_or_insert_with(std::time::Instant::now);
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let request_line: Vec<&str> = head[0].split_whitespace().collect();
    let (method, target) = (request_line[0].to_string(), request_line[1].to_string());
    let header = |name: &str| {
        head[1..].iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let fault = {
        let mut faults = faults.lock().unwrap();
        let index = faults.iter().position(|f| {
            (f.method == "*" || f.method == method) && path.ends_with(&f.path_suffix)
        });
        index.and_then(|i| {
            let fault = &mut faults[i];
            if fault.once_per_path && fault.paths.contains(path) {
                return None;
            }
            fault.seen += 1;
            if fault.seen % fault.every.max(1) != 0 {
                return None;
            }
            fault.paths.insert(path.to_string());
            let action = fault.action.clone();
            if let Some(times) = fault.times.as_mut() {
                *times -= 1;
                if *times == 0 {
                    faults.remove(i);
                }
            }
            Some(action)
        })
    };
    let mut record = Recorded {
        method: method.clone(),
        path: path.to_string(),
        query: query.to_string(),
        body_bytes: body.len(),
        copy_source: header("x-amz-copy-source").is_some(),
        content_sha256: header("x-amz-content-sha256").map(|v| v.to_string()),
        form_action: header("content-type")
            .filter(|t| t.starts_with("application/x-www-form-urlencoded"))
            .and_then(|_| {
                String::from_utf8_lossy(&body)
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("Action=").map(str::to_string))
            }),
        status: 0,
        started: started.unwrap_or_else(std::time::Instant::now),
        finished: std::time::Instant::now(),
    };
    match fault {
        Some(FaultAction::Respond { status, body }) => {
            record.status = status;
            record.finished = std::time::Instant::now();
            log.lock().unwrap().push(record);
            let response = format!(
                "HTTP/1.1 {status} Fault\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes())?;
            return client.shutdown(Shutdown::Both);
        }
        Some(FaultAction::Drop) => {
            record.finished = std::time::Instant::now();
            log.lock().unwrap().push(record);
            return client.shutdown(Shutdown::Both);
        }
        Some(FaultAction::Stall(duration)) => thread::sleep(duration),
        Some(FaultAction::StripHeader(_) | FaultAction::DropElement(_)) | None => {}
    }
    let stripped = match &fault {
        Some(FaultAction::StripHeader(name)) => Some(*name),
        _ => None,
    };
    let mut up = TcpStream::connect(upstream)?;
    let mut forwarded = String::new();
    for line in &head[..head.len() - 1] {
        let name = line.split(':').next().unwrap_or("").trim();
        let dropped = stripped.is_some_and(|s| name.eq_ignore_ascii_case(s));
        if !name.eq_ignore_ascii_case("connection") && !dropped {
            forwarded.push_str(line);
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    up.write_all(forwarded.as_bytes())?;
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        // Re-frame the body we decoded as one chunk.
        up.write_all(format!("{:x}\r\n", body.len()).as_bytes())?;
        up.write_all(&body)?;
        up.write_all(b"\r\n0\r\n\r\n")?;
    } else {
        up.write_all(&body)?;
    }
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    record.status = std::str::from_utf8(&response[..response.len().min(12)])
        .ok()
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if let Some(FaultAction::DropElement(name)) = &fault {
        response = drop_element(&response, name);
    }
    record.finished = std::time::Instant::now();
    log.lock().unwrap().push(record);
    client.write_all(&response)?;
    client.shutdown(Shutdown::Both)
}

/// The answer without any `<name>…</name>` element, its Content-Length adjusted (moto answers
/// with a length, not in chunks).
fn drop_element(response: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return response.to_vec();
    };
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut kept = String::new();
    let mut rest = body;
    while let Some(start) = rest.find(&open) {
        kept.push_str(&rest[..start]);
        let end = rest[start..]
            .find(&close)
            .map_or(rest.len(), |e| start + e + close.len());
        rest = &rest[end..];
    }
    kept.push_str(rest);
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((h, _)) if h.eq_ignore_ascii_case("content-length") => {
                format!("Content-Length: {}", kept.len())
            }
            _ => line.to_string(),
        })
        .collect();
    format!("{}\r\n\r\n{kept}", head.join("\r\n")).into_bytes()
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .unwrap_or(0);
        if size == 0 {
            let mut trailer = String::new();
            while reader.read_line(&mut trailer)? > 2 {
                trailer.clear();
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}
