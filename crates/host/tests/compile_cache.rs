//! `ruchy-trace run prog.ruchy` through stand-ins for `ruchy` and `rustc`
//! on `PATH`: shell scripts that log every call and produce a corpus
//! program's committed `.rs` and `.wasm`, or fail the way rustc does.
//! What is tested is the binary's compile path: the cache in
//! `$RUCHY_TRACE_CACHE` and the one-line compile error.
#![cfg(unix)]

mod common;

use common::{assert_one_line_error, fixture, text};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `ruchy`: `--version` prints a version; `transpile SRC -o OUT` copies
/// `$STUB_FIXTURE.rs` to `OUT`. Every call is appended to `$STUB_LOG`.
const RUCHY: &str = r#"#!/bin/sh
echo "ruchy $*" >> "$STUB_LOG"
case "$1" in
  --version) echo "ruchy 4.2.1" ;;
  transpile) cp "$STUB_FIXTURE.rs" "$4" ;;
  *) exit 2 ;;
esac
"#;

/// `rustc`: `--version` prints a version; a compile copies
/// `$STUB_FIXTURE.wasm` to the path after `-o`, or, when `$STUB_FAIL` is
/// set, prints a warning and then two errors as rustc does, and fails.
const RUSTC: &str = r#"#!/bin/sh
echo "rustc $*" >> "$STUB_LOG"
if [ "$1" = "--version" ]; then echo "rustc 1.95.0 (stub 2026-04-14)"; exit 0; fi
if [ -n "$STUB_FAIL" ]; then
  cat >&2 <<'MSG'
warning: unused variable: `c`
  --> ./methods_same_name.rs:22:13
   |
22 |         let c = Circle { r: 2f64 };
   |             ^ help: if this is intentional, prefix it with an underscore: `_c`

error[E0308]: mismatched types
  --> ./methods_same_name.rs:17:11
   |
17 |         { self.w * self.h }
   |           ^^^^^^^^^^^^^^^ expected `i64`, found `f64`

error[E0425]: cannot find value `x` in this scope
  --> ./methods_same_name.rs:12:11

error: aborting due to 2 previous errors; 1 warning emitted
MSG
  exit 1
fi
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then out="$2"; fi
  shift
done
cp "$STUB_FIXTURE.wasm" "$out"
"#;

/// A scratch folder with the stand-ins in `bin/`, a cache folder and a
/// copy of a corpus program (under its own name: its module's debug
/// information names its `.rs`, which relocation matches to the `.ruchy`).
struct Stubs {
    dir: tempfile::TempDir,
    name: String,
}

impl Stubs {
    fn new(program: &str) -> Stubs {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for (name, script) in [("ruchy", RUCHY), ("rustc", RUSTC)] {
            let path = bin.join(name);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let source = fixture(&format!("corpus/{program}.ruchy"));
        std::fs::copy(source, dir.path().join(format!("{program}.ruchy"))).unwrap();
        Stubs {
            dir,
            name: program.to_string(),
        }
    }

    fn program(&self) -> PathBuf {
        self.dir.path().join(format!("{}.ruchy", self.name))
    }

    /// Runs `ruchy-trace run --no-timestamps PROGRAM.ruchy` with the
    /// stand-ins first on `PATH`; with `fail`, rustc fails.
    fn run(&self, fail: bool) -> Output {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.dir.path().join("bin")];
        paths.extend(std::env::split_paths(&path));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ruchy-trace"));
        cmd.args(["run", "--no-timestamps"])
            .arg(self.program())
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env("RUCHY_TRACE_CACHE", self.dir.path().join("cache"))
            .env("STUB_LOG", self.log_path())
            .env("STUB_FIXTURE", corpus_base(&self.name));
        if fail {
            cmd.env("STUB_FAIL", "1");
        } else {
            cmd.env_remove("STUB_FAIL");
        }
        cmd.output().expect("runs ruchy-trace")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// The calls logged so far that compile (not `--version`).
    fn compiles(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.ends_with(" --version"))
            .map(|l| l.split(' ').next().unwrap_or_default().to_string())
            .collect()
    }
}

/// A corpus program's path without its extension.
fn corpus_base(name: &str) -> PathBuf {
    let wasm = fixture(&format!("corpus/{name}.wasm"));
    wasm.with_extension("")
}

fn assert_traced(out: &Output, stdout: &str, line: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), stdout);
    assert!(err.contains(line), "`{line}` not in:\n{err}");
}

fn appended(path: &Path, text: &str) {
    let mut program = std::fs::read_to_string(path).unwrap();
    program.push_str(text);
    std::fs::write(path, program).unwrap();
}

/// The first run transpiles and compiles once each; a second run of the
/// unchanged program calls neither (only their `--version`, part of the
/// cache key) and prints the same trace; a changed program compiles again.
#[test]
fn an_unchanged_program_is_not_compiled_again() {
    let stubs = Stubs::new("closure_let");
    let first = stubs.run(false);
    assert_traced(
        &first,
        "15\n3\n",
        "-> add(a: i64 = 5, b: i64 = 10) <closure_let.ruchy:3:15>",
    );
    assert_eq!(stubs.compiles(), ["ruchy", "rustc"]);
    let cache = stubs.dir.path().join("cache");
    let mut entries: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.rsplit('.').next().unwrap().to_string()
        })
        .collect();
    entries.sort();
    assert_eq!(entries, ["key", "rs", "wasm"], "one cache entry");

    let second = stubs.run(false);
    assert_eq!(
        stubs.compiles(),
        ["ruchy", "rustc"],
        "no compile the second time"
    );
    assert_eq!(text(&second.stderr), text(&first.stderr));
    assert_eq!(second.stdout, first.stdout);

    appended(&stubs.program(), "// changed\n");
    let third = stubs.run(false);
    assert_traced(&third, "15\n3\n", "-> add(a: i64 = 5, b: i64 = 10)");
    assert_eq!(
        stubs.compiles(),
        ["ruchy", "rustc", "ruchy", "rustc"],
        "a changed program compiles again"
    );
}

/// rustc's output starts with a warning; the one-line error names rustc
/// and its version, gives the first *error* where it points in the
/// transpiled Rust, and the `.ruchy` definition that line belongs to.
#[test]
fn a_rustc_failure_names_the_tool_and_its_first_error() {
    let stubs = Stubs::new("methods_same_name");
    let out = stubs.run(true);
    assert_one_line_error(
        &out,
        69,
        "rustc 1.95.0 (stub 2026-04-14) failed on the transpiled program: \
         error[E0308]: mismatched types at ./methods_same_name.rs:17:11, in `Rect::area` (methods_same_name.ruchy:18)",
    );
    let err = text(&out.stderr);
    assert!(!err.contains("warning"), "{err}");
    assert!(!err.contains("E0425"), "{err}");
    assert_eq!(stubs.compiles(), ["ruchy", "rustc"]);
    assert!(
        !stubs.dir.path().join("cache").exists()
            || std::fs::read_dir(stubs.dir.path().join("cache"))
                .unwrap()
                .next()
                .is_none(),
        "a failed compile is not cached"
    );
}
