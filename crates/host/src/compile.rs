//! Compiling a Ruchy program to WebAssembly: `ruchy transpile`, then rustc
//! for `wasm32-wasip1` with debug information at opt-level 0.
//!
//! This route keeps the program's types and its DWARF, which the tracer
//! reads for parameter names, source types and locations; Ruchy's own wasm
//! emitter loses both.
//!
//! Compiles are cached by content: the program's text and name, and the
//! versions of ruchy and rustc, name a module in [`cache_dir`], so an
//! unchanged program runs again without recompiling.

use ruchy_trace_core::ruchy::{ruchy_error, RuchySource};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    /// `ruchy transpile` rejected the program.
    #[error("ruchy transpile failed ({tool}): {message}")]
    Transpile {
        /// The tool and its version (`ruchy 4.2.1`).
        tool: String,
        /// Its error and the cause it gives.
        message: String,
    },
    /// rustc rejected the transpiled program.
    #[error("{tool} failed on the transpiled program: {message}")]
    Rustc {
        /// The tool and its version (`rustc 1.95.0 (…)`).
        tool: String,
        /// Its first error (not a warning), where it points in the
        /// transpiled Rust and the `.ruchy` definition that line belongs to.
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
    /// The compile ran past its time limit; it was stopped with every
    /// process it started.
    #[error("the compile ran past {} and was stopped", humantime::format_duration(*.limit))]
    TimedOut {
        /// The limit it was given.
        limit: Duration,
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
    compile_program(path).map(|c| c.wasm)
}

/// A compiled Ruchy program.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The module.
    pub wasm: Vec<u8>,
    /// The Rust it was transpiled to (tells closures apart exactly).
    pub transpiled: String,
    /// Whether it came from the cache.
    pub cached: bool,
}

/// Where compiled programs are kept: `$RUCHY_TRACE_CACHE`, else
/// `$XDG_CACHE_HOME/ruchy-trace`, else `~/.cache/ruchy-trace`; `None` when
/// none of these is set (nothing is cached).
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("RUCHY_TRACE_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("ruchy-trace")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("ruchy-trace")))
}

/// The rustc flags of the compile, part of the cache key.
const RUSTC_FLAGS: [&str; 7] = [
    "--edition",
    "2021",
    "--target",
    "wasm32-wasip1",
    "-g",
    "-C",
    "opt-level=0",
];

/// FNV-1a, 64 bits: the cache file name. A hit is confirmed against the
/// whole key stored beside the module, so a collision cannot serve the
/// wrong module.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Compiles the Ruchy program at `path`, or takes it from the cache.
pub fn compile_program(path: &Path) -> Result<Compiled, CompileError> {
    compile_within(path, None)
}

fn compile_within(path: &Path, deadline: Option<Deadline>) -> Result<Compiled, CompileError> {
    let Some(ruchy) = version("ruchy", deadline)? else {
        return Err(CompileError::NotInstalled(Missing::Ruchy));
    };
    let rustc = version("rustc", deadline)?.unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|source| CompileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let key = format!(
        "{stem}\n{ruchy}\n{rustc}\n{}\n{text}",
        RUSTC_FLAGS.join(" ")
    );
    let cached = cache_dir().map(|d| d.join(format!("{:016x}", fnv1a(key.as_bytes()))));
    if let Some(base) = &cached {
        let read = |ext: &str| std::fs::read(base.with_extension(ext)).ok();
        if let (Some(k), Some(wasm), Some(rs)) = (read("key"), read("wasm"), read("rs")) {
            if k == key.as_bytes() {
                return Ok(Compiled {
                    wasm,
                    transpiled: String::from_utf8_lossy(&rs).into_owned(),
                    cached: true,
                });
            }
        }
    }
    let compiled = compile_uncached(path, &stem, &text, &ruchy, &rustc, deadline)?;
    if let Some(base) = &cached {
        // A cache that cannot be written only costs the next run a compile.
        let _ = store(base, &key, &compiled);
    }
    Ok(compiled)
}

/// Writes the module, its transpiled Rust and its key, each renamed into
/// place, the key last: a reader sees a complete entry or none.
fn store(base: &Path, key: &str, c: &Compiled) -> std::io::Result<()> {
    let dir = base.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    for (ext, bytes) in [
        ("wasm", c.wasm.as_slice()),
        ("rs", c.transpiled.as_bytes()),
        ("key", key.as_bytes()),
    ] {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, bytes)?;
        tmp.persist(base.with_extension(ext))?;
    }
    Ok(())
}

/// `NAME --version`, when the tool runs.
fn version(tool: &'static str, deadline: Option<Deadline>) -> Result<Option<String>, CompileError> {
    match spawn(tool, Command::new(tool).arg("--version"), deadline) {
        Ok(out) => Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())),
        Err(CompileError::Spawn { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn compile_uncached(
    path: &Path,
    stem: &str,
    program: &str,
    ruchy: &str,
    rustc: &str,
    deadline: Option<Deadline>,
) -> Result<Compiled, CompileError> {
    let dir = BuildDir::new()?;
    let rs = dir.path.join(format!("{stem}.rs"));
    let wasm = dir.path.join(format!("{stem}.wasm"));
    let out = spawn(
        "ruchy",
        Command::new("ruchy")
            .arg("transpile")
            .arg(path)
            .arg("-o")
            .arg(&rs),
        deadline,
    )?;
    if !out.status.success() || !rs.exists() {
        let said = String::from_utf8_lossy(if out.stderr.is_empty() {
            &out.stdout
        } else {
            &out.stderr
        })
        .into_owned();
        let message = ruchy_error(&said);
        return Err(CompileError::Transpile {
            tool: ruchy.to_string(),
            message: if message.is_empty() {
                first_line(&out)
            } else {
                message
            },
        });
    }
    let out = spawn(
        "rustc",
        Command::new("rustc")
            .args(RUSTC_FLAGS)
            .arg(format!("--remap-path-prefix={}=.", dir.path.display()))
            .arg(&rs)
            .arg("-o")
            .arg(&wasm),
        deadline,
    )?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        if text.contains("target may not be installed")
            || text.contains("can't find crate for `std`")
        {
            return Err(CompileError::NotInstalled(Missing::Wasm32Wasip1));
        }
        let source = RuchySource {
            file: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            text: program.to_string(),
            transpiled: std::fs::read_to_string(&rs).ok(),
        };
        return Err(CompileError::Rustc {
            tool: rustc.to_string(),
            message: source.explain_rustc_error(&text),
        });
    }
    let transpiled = std::fs::read_to_string(&rs).map_err(|source| CompileError::Io {
        path: rs.clone(),
        source,
    })?;
    let wasm = std::fs::read(&wasm).map_err(|source| CompileError::Io { path: wasm, source })?;
    Ok(Compiled {
        wasm,
        transpiled,
        cached: false,
    })
}

/// Compiles a Ruchy program given as text (an editor's contents); its
/// locations name `program.ruchy`, the name the Trace tab gives its editor.
/// With a `limit`, a compile still running then is stopped, with the
/// processes it started, as [`CompileError::TimedOut`].
pub fn compile_text(text: &str, limit: Option<Duration>) -> Result<Vec<u8>, CompileError> {
    let deadline = limit.map(|limit| Deadline {
        at: Instant::now() + limit,
        limit,
    });
    let dir = BuildDir::new()?;
    let src = dir.path.join("program.ruchy");
    std::fs::write(&src, text).map_err(|source| CompileError::Io {
        path: src.clone(),
        source,
    })?;
    compile_within(&src, deadline).map(|c| c.wasm)
}

/// Runs `command` to its end and collects its output, or, past `deadline`,
/// stops it and every process it started (its process group) and returns
/// [`CompileError::TimedOut`].
fn spawn(
    program: &'static str,
    command: &mut Command,
    deadline: Option<Deadline>,
) -> Result<Output, CompileError> {
    use std::io::Read;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .map_err(|source| CompileError::Spawn { program, source })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => return Err(CompileError::Spawn { program, source }),
        }
        if let Some(d) = deadline.filter(|d| Instant::now() >= d.at) {
            stop_group(&mut child);
            let _ = child.wait();
            let _ = (stdout.join(), stderr.join());
            return Err(CompileError::TimedOut { limit: d.limit });
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Kills `child` and, on Unix, the processes it started (rustc's linker).
fn stop_group(child: &mut Child) {
    #[cfg(target_os = "linux")]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // the child leads its own group (process_group(0) above).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

/// When a compile must stop, and the limit that set it (for the message).
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    limit: Duration,
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
