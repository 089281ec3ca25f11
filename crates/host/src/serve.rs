//! `ruchy-trace serve`: the playground page and its compile endpoint, on
//! the loopback interface only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

/// Largest request body accepted (a Ruchy program).
const MAX_BODY: usize = 1 << 20;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ruchy" | "rs" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &[u8]) {
    let head = format!("HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// The file a request path names inside `root`, refusing any way out.
fn resolve(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel);
    Some(if full.is_dir() {
        full.join("index.html")
    } else {
        full
    })
}

fn handle(
    mut stream: TcpStream,
    root: &Path,
    compile: &dyn Fn(&str) -> Result<Vec<u8>, (u16, String)>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("socket"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, url) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("/").to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    match (method, url.as_str()) {
        ("POST", "/api/compile") => {
            if length > MAX_BODY {
                return respond(
                    &mut stream,
                    "413 Payload Too Large",
                    "text/plain",
                    b"program too large",
                );
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return respond(
                    &mut stream,
                    "400 Bad Request",
                    "text/plain",
                    b"incomplete request",
                );
            }
            match compile(&String::from_utf8_lossy(&body)) {
                Ok(wasm) => respond(&mut stream, "200 OK", "application/wasm", &wasm),
                Err((501, m)) => respond(
                    &mut stream,
                    "501 Not Implemented",
                    "text/plain",
                    m.as_bytes(),
                ),
                Err((_, m)) => respond(
                    &mut stream,
                    "422 Unprocessable Content",
                    "text/plain",
                    m.as_bytes(),
                ),
            }
        }
        ("GET" | "HEAD", _) => {
            match resolve(root, &url).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
                Some((p, bytes)) => respond(
                    &mut stream,
                    "200 OK",
                    content_type(&p),
                    if method == "HEAD" { &[] } else { &bytes },
                ),
                None => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
            }
        }
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed",
        ),
    }
}

/// Serves `root` on `listener` until the process ends; `compile` turns a
/// Ruchy program into wasm, or says why not (501 when no compiler).
pub fn serve(
    listener: TcpListener,
    root: PathBuf,
    compile: fn(&str) -> Result<Vec<u8>, (u16, String)>,
) {
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || handle(stream, &root, &compile));
    }
}
