//! What the CLI tests share: fixtures, running the binary, reading its
//! output, and the shape every error must have.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

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
