//! Compiling a Ruchy program to WebAssembly: `ruchy transpile`, then rustc
//! for `wasm32-wasip1` with debug information at opt-level 0.
//!
//! This route keeps the program's types and its DWARF, which the tracer
//! reads for parameter names, source types and locations; Ruchy's own wasm
//! emitter loses both.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tool the compile path needs and did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The `ruchy` compiler (`cargo install ruchy --locked`).
    Ruchy,
    /// Rust's `wasm32-wasip1` target (`rustup target add wasm32-wasip1`).
    Wasm32Wasip1,
}

/// Why a Ruchy program could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A tool the compile path needs is not installed: nothing the program
    /// could change.
    #[error("{}", not_installed(.0))]
    NotInstalled(Missing),
    /// `ruchy transpile` rejected the program; `message` is the first line
    /// it printed.
    #[error("ruchy transpile failed: {message}")]
    Transpile {
        /// The first line of its diagnostics.
        message: String,
    },
    /// rustc rejected the transpiled program; `message` is the first line it
    /// printed.
    #[error("rustc failed on the transpiled program: {message}")]
    Rustc {
        /// The first line of its diagnostics.
        message: String,
    },
    /// A tool could not be started.
    #[error("cannot run {program}")]
    Spawn {
        /// `ruchy` or `rustc`.
        program: &'static str,
        /// Why the operating system refused.
        #[source]
        source: std::io::Error,
    },
    /// A file of the build could not be read or written.
    #[error("cannot access {}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

fn not_installed(what: &Missing) -> &'static str {
    match what {
        Missing::Ruchy => "the Ruchy compiler is not installed: `cargo install ruchy --locked` (about 15 minutes), or pass a compiled .wasm",
        Missing::Wasm32Wasip1 => "the wasm32-wasip1 target is not installed: `rustup target add wasm32-wasip1`",
    }
}

/// Compiles the Ruchy program at `path` and returns the module's bytes.
pub fn compile_file(path: &Path) -> Result<Vec<u8>, CompileError> {
    if !ruchy_installed() {
        return Err(CompileError::NotInstalled(Missing::Ruchy));
    }
    let dir = BuildDir::new()?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let rs = dir.path.join(format!("{stem}.rs"));
    let wasm = dir.path.join(format!("{stem}.wasm"));
    let out = spawn(
        "ruchy",
        Command::new("ruchy")
            .arg("transpile")
            .arg(path)
            .arg("-o")
            .arg(&rs),
    )?;
    if !out.status.success() || !rs.exists() {
        return Err(CompileError::Transpile {
            message: first_line(&out),
        });
    }
    let out = spawn(
        "rustc",
        Command::new("rustc")
            .args([
                "--edition",
                "2021",
                "--target",
                "wasm32-wasip1",
                "-g",
                "-C",
                "opt-level=0",
            ])
            .arg(format!("--remap-path-prefix={}=.", dir.path.display()))
            .arg(&rs)
            .arg("-o")
            .arg(&wasm),
    )?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        if text.contains("target may not be installed")
            || text.contains("can't find crate for `std`")
        {
            return Err(CompileError::NotInstalled(Missing::Wasm32Wasip1));
        }
        return Err(CompileError::Rustc {
            message: first_line(&out),
        });
    }
    std::fs::read(&wasm).map_err(|source| CompileError::Io { path: wasm, source })
}

/// Compiles a Ruchy program given as text (an editor's contents); its
/// locations name `editor.ruchy`.
pub fn compile_text(text: &str) -> Result<Vec<u8>, CompileError> {
    if !ruchy_installed() {
        return Err(CompileError::NotInstalled(Missing::Ruchy));
    }
    let dir = BuildDir::new()?;
    let src = dir.path.join("editor.ruchy");
    std::fs::write(&src, text).map_err(|source| CompileError::Io {
        path: src.clone(),
        source,
    })?;
    compile_file(&src)
}

fn ruchy_installed() -> bool {
    Command::new("ruchy")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn spawn(program: &'static str, command: &mut Command) -> Result<Output, CompileError> {
    command
        .output()
        .map_err(|source| CompileError::Spawn { program, source })
}

/// A private build folder, removed when dropped.
struct BuildDir {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl BuildDir {
    fn new() -> Result<BuildDir, CompileError> {
        let dir = tempfile::Builder::new()
            .prefix("ruchy-trace-build-")
            .tempdir()
            .map_err(|source| CompileError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        Ok(BuildDir {
            path: dir.path().to_path_buf(),
            _dir: dir,
        })
    }
}

/// The first non-empty line a tool printed (stderr, else stdout).
fn first_line(out: &Output) -> String {
    let bytes = if out.stderr.is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}
