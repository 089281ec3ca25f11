//! What the CLI tests share: fixtures, running the binary, reading its
//! output, and the shape every error must have.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// A file of the repository's `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// Runs `ruchy-trace` with `args`.
pub fn ruchy_trace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ruchy-trace"))
        .args(args)
        .output()
        .expect("runs ruchy-trace")
}

/// Runs `ruchy-trace COMMAND --invoke run FLAGS fib_bench.wasm -o OUT --
/// N`: `run(N)` of the benchmark's fibonacci module, its trace written to
/// `out`.
pub fn fib_bench_to(command: &str, flags: &[&str], out: &std::path::Path, n: &str) -> Output {
    let wasm = fixture("bench/fib_bench.wasm");
    let mut args = vec![command, "--invoke", "run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[wasm.to_str().unwrap(), "-o", out.to_str().unwrap(), "--", n]);
    ruchy_trace(&args)
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path in this test process's scratch directory.
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ruchy-trace-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Asserts a failure is one clear line, with the given status, no panic.
pub fn assert_one_line_error(out: &Output, code: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("ruchy-trace: error: "), "{err}");
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Starts `ruchy-trace serve` as `command` says, and returns the child and
/// the address it printed it serves on (`127.0.0.1:PORT`).
pub fn serving(mut command: Command) -> (Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts ruchy-trace serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    (child, addr)
}

/// One HTTP/1.1 request to `addr`; the status code and body.
pub fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&out[9..12]).parse().unwrap();
    (status, out[split + 4..].to_vec())
}
