//! `ruchy-trace serve`, run as a process on an ephemeral loopback port from
//! a folder that is not the repository, spoken to over raw TCP so the tests
//! can send what a browser would not (a foreign Host, oversized headers).
//! A fake `ruchy` on the server's PATH stands in for the compiler: it leaves
//! a mark when it runs, then fails, or sleeps past the compile timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `ruchy-trace serve` and the folders it was given.
struct Server {
    child: Child,
    port: u16,
    /// Its working directory, PATH folder (the fake `ruchy`) and TMPDIR.
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// The marks the fake `ruchy` left: one line per `transpile`, its pid.
    fn compiler_runs(&self) -> Vec<u32> {
        std::fs::read_to_string(self.dir.path().join("ruchy-ran"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().parse().expect("a pid"))
            .collect()
    }
}

/// The fake compiler's `transpile`: what it does after leaving its mark.
enum FakeRuchy {
    /// No `ruchy` on PATH at all.
    Absent,
    /// Prints a diagnostic and fails.
    Fails,
    /// Sleeps a minute (a compile that never ends).
    Sleeps,
}

fn start(fake: FakeRuchy, extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    let tmp = dir.path().join("tmp");
    let cwd = dir.path().join("elsewhere");
    for d in [&bin, &tmp, &cwd] {
        std::fs::create_dir_all(d).unwrap();
    }
    let mark = dir.path().join("ruchy-ran");
    let transpile = match fake {
        FakeRuchy::Absent => None,
        FakeRuchy::Fails => Some("echo 'error: fake transpile rejects line 1' >&2; exit 1"),
        FakeRuchy::Sleeps => Some("exec sleep 60"),
    };
    if let Some(transpile) = transpile {
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'ruchy 0.0.0-fake'; exit 0; fi\necho $$ >> '{}'\n{transpile}\n",
            mark.display()
        );
        let path = bin.join("ruchy");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The fake first, then the system's tools (sh, sleep), never a real ruchy.
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ruchy-trace"))
        .args(["serve", "--port", "0"])
        .args(extra)
        .current_dir(&cwd)
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ruchy-trace serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the address line");
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.trim_end().trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("no address in {line:?}; stderr: {err}")
        });
    Server { child, port, dir }
}

/// A response: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body`, and reads the whole response.
fn exchange(port: u16, head: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    let mut request = format!("{head}\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(body);
    // The server may answer and close before reading everything (a head
    // too large): what it says is what counts.
    let _ = s.write_all(&request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(port: u16, path: &str) -> Reply {
    exchange(
        port,
        &format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}"),
        b"",
    )
}

fn post_compile(port: u16, extra_headers: &str, program: &str) -> Reply {
    exchange(
        port,
        &format!("POST /api/compile HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\norigin: http://127.0.0.1:{port}{extra_headers}"),
        program.as_bytes(),
    )
}

const PROGRAM: &str = "fun main() { println(1) }\n";

fn assert_isolated(r: &Reply) {
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(
        r.header("cross-origin-embedder-policy"),
        Some("require-corp")
    );
}

/// Started from a folder with no page in it, the server answers `/` with
/// the embedded Trace tab and serves its wasm, every response carrying
/// COOP `same-origin` and COEP `require-corp`.
#[test]
fn serves_the_embedded_page_from_any_folder_cross_origin_isolated() {
    let server = start(FakeRuchy::Absent, &[]);
    let index = get(server.port, "/");
    assert_eq!(index.status, 200, "{}", index.text());
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        index.text().contains("<title>ruchy-trace"),
        "{}",
        index.text()
    );
    assert_isolated(&index);

    let wasm = get(server.port, "/pkg/ruchy_trace_web_bg.wasm");
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(&wasm.body[..4], b"\0asm");
    assert_isolated(&wasm);

    let missing = get(server.port, "/../Cargo.toml");
    assert_eq!(missing.status, 404);
    assert_isolated(&missing);
}

/// A POST from another origin (a cross-site form or fetch) gets 403, and
/// the compiler never runs.
#[test]
fn cross_origin_compile_is_refused_without_running_the_compiler() {
    let server = start(FakeRuchy::Fails, &[]);
    for origin in [
        "http://evil.example",
        "null",
        &format!("https://127.0.0.1:{}", server.port),
    ] {
        let r = exchange(
            server.port,
            &format!(
                "POST /api/compile HTTP/1.1\r\nhost: 127.0.0.1:{}\r\norigin: {origin}",
                server.port
            ),
            PROGRAM.as_bytes(),
        );
        assert_eq!(r.status, 403, "origin {origin}: {}", r.text());
        assert!(r.text().contains("another origin"), "{}", r.text());
    }
    assert_eq!(server.compiler_runs(), Vec::<u32>::new());
}

/// A Host other than this server's loopback address and port (DNS
/// rebinding, or no Host at all) gets 403, for the page and the compiler.
#[test]
fn wrong_host_is_refused() {
    let server = start(FakeRuchy::Fails, &[]);
    let port = server.port;
    for host in [
        format!("host: evil.example:{port}"),
        format!("host: 127.0.0.1:{}", port.wrapping_add(1)),
        "host: 127.0.0.1".to_string(),
    ] {
        let page = exchange(port, &format!("GET / HTTP/1.1\r\n{host}"), b"");
        assert_eq!(page.status, 403, "{host}: {}", page.text());
        let compile = exchange(
            port,
            &format!("POST /api/compile HTTP/1.1\r\n{host}"),
            PROGRAM.as_bytes(),
        );
        assert_eq!(compile.status, 403, "{host}: {}", compile.text());
        assert!(compile.text().contains("Host"), "{}", compile.text());
    }
    let no_host = exchange(port, "GET / HTTP/1.0", b"");
    assert_eq!(no_host.status, 403);
    assert_eq!(server.compiler_runs(), Vec::<u32>::new());
}

/// Headers larger than the bound get 431 before any handler runs, and a
/// body larger than the bound gets 413 without reaching the compiler.
#[test]
fn oversized_headers_and_bodies_are_refused() {
    let server = start(FakeRuchy::Fails, &[]);
    let big = format!("\r\nx-filler: {}", "a".repeat(64 * 1024));
    let r = post_compile(server.port, &big, PROGRAM);
    assert_eq!(r.status, 431, "{}", r.text());

    let many: String = (0..2000).map(|i| format!("\r\nx-h{i}: v")).collect();
    let r = post_compile(server.port, &many, PROGRAM);
    assert!(matches!(r.status, 431 | 413), "status {}", r.status);

    let program = "a".repeat(2 << 20);
    let r = post_compile(server.port, "", &program);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(server.compiler_runs(), Vec::<u32>::new());
}

/// A same-origin compile reaches the compiler; its rejection comes back as
/// 422 with the compiler's first line.
#[test]
fn compile_errors_come_back_as_422() {
    let server = start(FakeRuchy::Fails, &[]);
    let r = post_compile(server.port, "", PROGRAM);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("fake transpile rejects line 1"),
        "{}",
        r.text()
    );
    assert_isolated(&r);
    assert_eq!(server.compiler_runs().len(), 1);
}

/// With no Ruchy compiler installed, the endpoint answers 501 and says how
/// to install one.
#[test]
fn a_missing_compiler_is_501() {
    let server = start(FakeRuchy::Absent, &[]);
    let r = post_compile(server.port, "", PROGRAM);
    assert_eq!(r.status, 501, "{}", r.text());
    assert!(r.text().contains("cargo install ruchy"), "{}", r.text());
}

/// A compile that runs past `--compile-timeout` is answered with 504 at
/// about the timeout, its process is gone, and its build folder removed.
#[test]
fn a_compile_past_the_timeout_is_stopped_and_cleaned_up() {
    let server = start(FakeRuchy::Sleeps, &["--compile-timeout", "1s"]);
    let t = Instant::now();
    let r = post_compile(server.port, "", PROGRAM);
    let took = t.elapsed();
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(r.text().contains("ran past 1s"), "{}", r.text());
    assert!(took < Duration::from_secs(20), "answered after {took:?}");
    let runs = server.compiler_runs();
    assert_eq!(runs.len(), 1);
    let proc_dir = Path::new("/proc").join(runs[0].to_string());
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !proc_dir.exists(),
        "the compiler (pid {}) still runs",
        runs[0]
    );
    let left: Vec<_> = std::fs::read_dir(server.tmp())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "build folders left: {left:?}");
    assert!(server.bin().join("ruchy").exists());
}

/// A client that starts a request and never finishes its headers is cut
/// off once the 10 s head timeout passes, instead of holding a connection.
#[test]
fn a_request_head_that_never_ends_is_cut_off() {
    let server = start(FakeRuchy::Absent, &[]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    let t = Instant::now();
    write!(
        s,
        "GET / HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nx-slow: ",
        server.port
    )
    .unwrap();
    let mut rest = Vec::new();
    let read = s.read_to_end(&mut rest);
    let took = t.elapsed();
    assert!(
        read.is_ok(),
        "the server kept the connection open: {read:?}"
    );
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(30),
        "closed after {took:?}"
    );
    let reply = String::from_utf8_lossy(&rest);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
        "{reply}"
    );
}
