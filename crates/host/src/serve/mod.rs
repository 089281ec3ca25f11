//! `ruchy-trace serve`: the Trace tab and its compile endpoint, on the
//! loopback interface only.
//!
//! hyper does the HTTP/1.1 and its bounds: the request line and headers
//! together fit in [`Limits::head_bytes`] and 100 header lines (hyper's
//! default), else 431, and must arrive within [`Limits::head_timeout`]; a
//! connection carries one request. The body is
//! read up to [`Limits::body_bytes`] (else 413) within
//! [`Limits::body_timeout`]. Every request must be same-origin (see
//! `origin.rs`), and every response is cross-origin isolated (COOP/COEP), so
//! the page gets `crossOriginIsolated` and fine-grained `performance.now()`.

mod origin;
mod page;

pub use page::Page;

use crate::compile::{self, CompileError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The status a compile that produced no module answers with.
fn status(e: &CompileError) -> StatusCode {
    match e {
        CompileError::NotInstalled(_) => StatusCode::NOT_IMPLEMENTED,
        CompileError::Transpile { .. } | CompileError::Rustc { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        CompileError::TimedOut { .. } => StatusCode::GATEWAY_TIMEOUT,
        CompileError::Spawn { .. } | CompileError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Bounds on what one client can make the server hold or wait for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line plus headers, in bytes (hyper's read buffer; at least
    /// 8192).
    pub head_bytes: usize,
    /// Time for the request line and headers to arrive.
    pub head_timeout: Duration,
    /// Request body (a Ruchy program), in bytes.
    pub body_bytes: usize,
    /// Time for the body to arrive.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub connections: usize,
    /// Time one compile may take before its processes are stopped.
    pub compile_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            head_bytes: 16 * 1024,
            head_timeout: Duration::from_secs(10),
            body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
            connections: 64,
            compile_timeout: Duration::from_secs(120),
        }
    }
}

/// What the server serves: the page, an optional compiler, the bounds.
#[derive(Debug)]
pub struct Site {
    /// Where GET requests are answered from.
    pub page: Page,
    /// Whether `/api/compile` compiles Ruchy programs (else it answers 501).
    pub compile: bool,
    /// Bounds on requests and compiles.
    pub limits: Limits,
}

struct State {
    site: Site,
    port: u16,
    /// One compile at a time: each runs rustc, which wants the machine.
    compiles: Semaphore,
}

/// Serves `site` on `listener` (a loopback address) until the process ends,
/// or returns the error that stopped accepting connections.
pub fn serve(listener: TcpListener, site: Site) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let connections = Arc::new(Semaphore::new(site.limits.connections.max(1)));
        let state = Arc::new(State {
            site,
            port,
            compiles: Semaphore::new(1),
        });
        loop {
            let permit = connections
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of descriptors and the like: wait and go on serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req| handle(req, state.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(state.site.limits.head_timeout)
                    .max_buf_size(state.site.limits.head_bytes.max(8192))
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                drop(permit);
            });
        }
    })
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Err(refusal) = origin::check(req.headers(), state.port) {
        return Ok(text(StatusCode::FORBIDDEN, refusal.message()));
    }
    let path = req.uri().path().to_string();
    Ok(match (req.method().clone(), path.as_str()) {
        (Method::POST, "/api/compile") => compile(req, &state).await,
        (Method::GET | Method::HEAD, _) => match state.site.page.file(&path) {
            Some((bytes, kind)) => {
                let body = if req.method() == Method::HEAD {
                    Bytes::new()
                } else {
                    Bytes::from(bytes.into_owned())
                };
                respond(StatusCode::OK, kind, body)
            }
            None => text(StatusCode::NOT_FOUND, "not found"),
        },
        _ => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            r
        }
    })
}

async fn compile(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let limits = &state.site.limits;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.body_bytes as u64) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "program too large");
    }
    let body = Limited::new(req.into_body(), limits.body_bytes).collect();
    let body = match tokio::time::timeout(limits.body_timeout, body).await {
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "the program did not arrive in time",
            )
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "program too large")
        }
        Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "incomplete request"),
        Ok(Ok(body)) => body.to_bytes(),
    };
    let Ok(source) = String::from_utf8(body.to_vec()) else {
        return text(StatusCode::BAD_REQUEST, "the program is not UTF-8 text");
    };
    if !state.site.compile {
        return text(
            StatusCode::NOT_IMPLEMENTED,
            "this server does not compile programs",
        );
    }
    let Ok(_one_at_a_time) = state.compiles.acquire().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let timeout = limits.compile_timeout;
    // The compiler stops its own processes at the timeout; the margin only
    // guards against one that does not.
    let run = tokio::task::spawn_blocking(move || compile::compile_text(&source, Some(timeout)));
    match tokio::time::timeout(timeout + Duration::from_secs(5), run).await {
        Ok(Ok(Ok(wasm))) => respond(StatusCode::OK, "application/wasm", Bytes::from(wasm)),
        Ok(Ok(Err(e))) => text(status(&e), &crate::error::chain(&e)),
        Ok(Err(e)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the compile failed: {e}"),
        ),
        Err(_) => text(
            StatusCode::GATEWAY_TIMEOUT,
            "the compile did not stop at its time limit",
        ),
    }
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from(message.to_string()),
    )
}

/// Every response is cross-origin isolated and same-origin only.
fn respond(status: StatusCode, kind: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-embedder-policy",
        HeaderValue::from_static("require-corp"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}
