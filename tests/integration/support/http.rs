//! Minimal HTTP/1.1 over loopback for tests: a one-shot client and a tiny fake API server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

pub(crate) struct HttpResponse {
    pub status: u16,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// Sends one request (`target` is path plus query) and reads the whole answer.
pub(crate) fn request(addr: &str, method: &str, target: &str) -> HttpResponse {
    send(addr, method, target, &[], b"")
}

/// Sends one request with extra headers and a body, and reads the whole answer.
pub(crate) fn send(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    // A server that does not answer fails the test with its request named, instead of holding
    // the suite until CI's limit (the emulator once kept such a connection open under load).
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{method} {target} on {addr}: no answer ({e})"));
        if read == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut lines = head.lines();
    let status = lines
        .next()
        .expect("a complete response head")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // The body ends at its Content-Length, not at the connection's close, which a server may
    // delay.
    let mut body = Vec::new();
    let bodiless = method == "HEAD" || matches!(status, 204 | 304);
    let read = match headers.get("content-length").and_then(|n| n.parse().ok()) {
        _ if bodiless => Ok(()),
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body)
        }
        None => reader.read_to_end(&mut body).map(|_| ()),
    };
    read.unwrap_or_else(|e| panic!("{method} {target} on {addr}: body cut short ({e})"));
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// The fake API behind `/api/*`: `/api/health` is 200, everything else an API 404.
pub(crate) fn api_body(path: &str) -> (u16, &'static str) {
    if path == "/api/health" {
        (200, "{\"ok\":true}")
    } else {
        (404, "{\"error\":\"not found\"}")
    }
}

/// Starts the fake API on a free loopback port; returns its address. Runs until the test ends.
pub(crate) fn start_fake_api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/");
            let path = path.split('?').next().unwrap_or(path);
            let (status, body) = api_body(path);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}
