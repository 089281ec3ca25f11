//! The command line.

use crate::output::{self, Format};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ruchy_trace_host::tracer_core::format::TextOptions;
use ruchy_trace_host::tracer_core::{decode::RunEnd, OverflowPolicy, Strategy, TraceOptions};
use ruchy_trace_host::wasm_instrument::{self, Filter, Scope};
use ruchy_trace_host::{Entry, HostError, RunOptions, Tracer};
use ruchy_trace_host::wasm_instrument::ruchy::RuchySource;
use std::path::{Path, PathBuf};
use std::process::{self as proc, ExitCode};
use std::time::Duration;

/// Exit status when the module cannot be used (not wasm, invalid, a
/// component, an unsupported feature, a missing export, bad arguments).
pub const EXIT_BAD_MODULE: u8 = 65;
/// Exit status when an input file cannot be read.
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit status when a `.ruchy` program cannot be compiled (no compiler, or
/// it failed).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Exit status for an internal error.
pub const EXIT_INTERNAL: u8 = 70;
/// Exit status when the trace cannot be written.
pub const EXIT_IO: u8 = 74;
/// Exit status when the guest was stopped by `--timeout`.
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit status when the guest trapped (a Rust panic is a trap).
pub const EXIT_TRAP: u8 = 134;

const EXIT_CODES: &str = "\
EXIT STATUS:
    the guest's own    when the guest exits (WASI proc_exit) or returns (0)
    2                  bad command line
    65                 the module cannot be used: not wasm, truncated or invalid,
                       a component, an unsupported feature, a missing export,
                       arguments that do not fit
    66                 an input file cannot be read
    69                 a .ruchy program cannot be compiled (ruchy or the
                       wasm32-wasip1 target missing, or a compile error)
    70                 internal error
    74                 the trace cannot be written
    124                the guest ran past --timeout or --fuel
    134                the guest trapped (a Rust panic is a trap)
In every case where the guest ran, the trace recorded so far is written,
and frames left open are closed as trapped, exited or interrupted.";

/// Makes WebAssembly programs explain themselves: every function reports
/// its entry with its arguments and its exit with its return value.
#[derive(Parser, Debug)]
#[command(name = "ruchy-trace", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Instrument a module, run it under wasmtime and write its call trace.
    ///
    /// Without --invoke, MODULE is a WASI preview 1 command: `_start` runs
    /// with ARGS as its arguments, the guest's stdout, stderr and exit status
    /// pass through untouched, and the trace goes to stderr (or
    /// --trace-output) after the guest finishes. The guest sees no files and
    /// no environment variables unless granted with --dir and --env.
    ///
    /// MODULE may also be a `.ruchy` program: it is compiled first with
    /// `ruchy transpile` and rustc (wasm32-wasip1, debug info, opt-level 0),
    /// which needs ruchy installed. Next to a `.wasm`, a `.ruchy` file of the
    /// same name is read so locations point at it (`<fibonacci.ruchy:1:5>`).
    ///
    /// Example: ruchy-trace run tests/fixtures/fibonacci.wasm
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Instrument a module and write the result, to run in any host.
    ///
    /// The output carries its function table in a `ruchy-trace` custom
    /// section and imports `ruchy_trace.flush` (or, with --hooks, one
    /// `ruchy_trace.enter_*`/`exit_*` hook per signature).
    ///
    /// Example: ruchy-trace instrument fibonacci.wasm -o fibonacci.traced.wasm
    Instrument(InstrumentArgs),
}

#[derive(Args, Debug)]
struct SelectArgs {
    /// Trace every function, not only the program's own. For a Rust or Ruchy
    /// program the own functions are those of the crate that defines `main`;
    /// a module without such names has all its functions counted as own.
    #[arg(long)]
    all: bool,
    /// Keep only functions matching GLOB (`*`, `?`), or drop them with
    /// `!GLOB`. Repeatable. Matched against the shown name, the demangled
    /// name and the raw name. Excluded functions are not instrumented at all.
    #[arg(long = "filter", value_name = "GLOB")]
    filters: Vec<String>,
    /// Trace one call in N (the exit of a traced call is always paired with
    /// its entry, and depths stay true).
    #[arg(long = "trace-sample", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    sample: u32,
    /// Record no timestamps (ordering only; the cheapest full trace).
    #[arg(long)]
    no_timestamps: bool,
    /// Deliver every record through a host call (the portable hook
    /// contract) instead of writing records inline into the trace memory.
    #[arg(long)]
    hooks: bool,
    /// Show wasm types and raw values, the proposal's exact style
    /// (`fibonacci(i64=5)`), instead of source names, types and decoded
    /// values from the module's debug information
    /// (`fibonacci(n: i64 = 5)`, `greet(name: String = "Ada")`).
    #[arg(long)]
    wasm_types: bool,
}

impl SelectArgs {
    fn config(&self) -> Result<wasm_instrument::Config, Failure> {
        let filters = self
            .filters
            .iter()
            .map(|f| Filter::parse(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::usage(e.to_string()))?;
        Ok(wasm_instrument::Config {
            options: TraceOptions {
                strategy: if self.hooks { Strategy::Hooks } else { Strategy::Inline },
                timestamps: !self.no_timestamps,
                sample: self.sample,
                ..TraceOptions::default()
            },
            scope: if self.all { Scope::All } else { Scope::Own },
            filters,
            source_values: !self.wasm_types,
            ruchy_sources: Vec::new(),
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Keep {
    /// Keep the most recent events (a flight recorder).
    Newest,
    /// Keep the first events.
    Oldest,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The module (.wasm) or Ruchy program (.ruchy) to run.
    module: PathBuf,
    /// Arguments for the guest (after `--`), or, with --invoke, the values
    /// to call the export with.
    #[arg(last = true)]
    args: Vec<String>,
    /// Call this exported function (without WASI) instead of `_start`, with
    /// ARGS as its arguments; its results are printed on stdout.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    #[command(flatten)]
    select: SelectArgs,
    /// Where to write the trace (default: stderr). Written to a temporary
    /// file renamed into place, so a crash never leaves a partial trace.
    #[arg(long = "trace-output", short = 'o', value_name = "FILE")]
    trace_output: Option<PathBuf>,
    /// Trace format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Indent text lines by call depth.
    #[arg(long)]
    indent: bool,
    /// Ring capacity in events; when more are recorded, --keep decides which
    /// survive and the rest are counted as lost.
    #[arg(long = "buffer-size", value_name = "EVENTS", default_value_t = 1 << 22)]
    buffer_size: u64,
    /// Which events the ring keeps when it overflows.
    #[arg(long, value_enum, default_value_t = Keep::Newest)]
    keep: Keep,
    /// Stop the guest after this long (e.g. 500ms, 10s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Cap each guest memory at this size (e.g. 64MiB, 1GiB, 65536).
    #[arg(long = "max-memory", value_name = "BYTES", value_parser = parse_size)]
    max_memory: Option<usize>,
    /// Stop the guest after it burns this much fuel (about one unit per
    /// wasm instruction; the hooks' own instructions count too).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Grant the guest a directory: HOST or HOST::GUEST (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Give the guest an environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    envs: Vec<String>,
}

#[derive(Args, Debug)]
struct InstrumentArgs {
    /// The module to instrument.
    input: PathBuf,
    /// Where to write the instrumented module.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    #[command(flatten)]
    select: SelectArgs,
}

/// A failure: the message (one line) and the exit status.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    fn usage(message: String) -> Failure {
        Failure { message, code: 2 }
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Failure {
        let code = match &e {
            HostError::Trace(_) => EXIT_INTERNAL,
            HostError::Instrument(wasm_instrument::Error::Internal(_)) => EXIT_INTERNAL,
            _ => EXIT_BAD_MODULE,
        };
        Failure { message: e.to_string(), code }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration like 500ms, 10s or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: usize = num.parse().map_err(|_| format!("`{s}` is not a size like 65536, 64MiB or 1GiB"))?;
    let mult = match unit {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use KiB, MiB or GiB)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("`{s}` is too large"))
}

fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure { message: format!("cannot read {}: {e}", path.display()), code: EXIT_NO_INPUT })
}

fn unavailable(message: String) -> Failure {
    Failure { message, code: EXIT_UNAVAILABLE }
}

/// The module's bytes and the Ruchy source its locations can point at: a
/// `.ruchy` program is compiled; a `.wasm` takes the `.ruchy` beside it.
fn load_program(path: &Path) -> Result<(Vec<u8>, Vec<RuchySource>), Failure> {
    let ruchy_path = path.with_extension("ruchy");
    let source = |p: &Path| -> Option<RuchySource> {
        let text = std::fs::read_to_string(p).ok()?;
        Some(RuchySource { file: p.file_name()?.to_string_lossy().into_owned(), text })
    };
    if path.extension().is_some_and(|e| e == "ruchy") {
        let text = source(path).ok_or_else(|| Failure {
            message: format!("cannot read {}", path.display()),
            code: EXIT_NO_INPUT,
        })?;
        let wasm = compile_ruchy(path)?;
        return Ok((wasm, vec![text]));
    }
    let wasm = read_input(path)?;
    Ok((wasm, source(&ruchy_path).into_iter().collect()))
}

/// `ruchy transpile` then rustc, the route that keeps types and debug
/// information (ruchy's own wasm emitter loses both).
fn compile_ruchy(path: &Path) -> Result<Vec<u8>, Failure> {
    if proc::Command::new("ruchy").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Err(unavailable(format!(
            "compiling {} needs the Ruchy compiler, which is not installed: `cargo install ruchy --locked` (about 15 minutes), or pass a compiled .wasm",
            path.display()
        )));
    }
    let dir = std::env::temp_dir().join(format!("ruchy-trace-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "program".into());
    let rs = dir.join(format!("{stem}.rs"));
    let wasm = dir.join(format!("{stem}.wasm"));
    let result = (|| {
        let out = proc::Command::new("ruchy").arg("transpile").arg(path).arg("-o").arg(&rs).output();
        match out {
            Ok(o) if o.status.success() && rs.exists() => {}
            Ok(o) => return Err(unavailable(format!("ruchy transpile failed: {}", first_line(&o.stderr, &o.stdout)))),
            Err(e) => return Err(unavailable(format!("cannot run ruchy: {e}"))),
        }
        let out = proc::Command::new("rustc")
            .args(["--edition", "2021", "--target", "wasm32-wasip1", "-g", "-C", "opt-level=0"])
            .arg(format!("--remap-path-prefix={}=.", dir.display()))
            .arg(&rs)
            .arg("-o")
            .arg(&wasm)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr);
                if text.contains("target may not be installed") || text.contains("can't find crate for `std`") {
                    return Err(unavailable("the wasm32-wasip1 target is not installed: `rustup target add wasm32-wasip1`".into()));
                }
                return Err(unavailable(format!("rustc failed on the transpiled program: {}", first_line(&o.stderr, &o.stdout))));
            }
            Err(e) => return Err(unavailable(format!("cannot run rustc: {e}"))),
        }
        read_input(&wasm)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn first_line(stderr: &[u8], stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(if stderr.is_empty() { stdout } else { stderr }).into_owned();
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string()
}

pub fn main() -> Result<ExitCode, Failure> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Instrument(args) => instrument(args),
    }
}

fn instrument(args: InstrumentArgs) -> Result<ExitCode, Failure> {
    let (wasm, ruchy_sources) = load_program(&args.input)?;
    let config = wasm_instrument::Config { ruchy_sources, ..args.select.config()? };
    let out = wasm_instrument::instrument(&wasm, &config).map_err(|e| Failure::from(HostError::from(e)))?;
    for note in &out.notes {
        eprintln!("ruchy-trace: note: {note}");
    }
    output::write_file(&args.output, |w| w.write_all(&out.bytes))
        .map_err(|e| Failure { message: format!("cannot write {}: {e}", args.output.display()), code: EXIT_IO })?;
    eprintln!(
        "ruchy-trace: instrumented {} function(s); wrote {}",
        out.table.functions.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let (wasm, ruchy_sources) = load_program(&args.module)?;
    let config = wasm_instrument::Config { ruchy_sources, ..args.select.config()? };
    let tracer = Tracer::with_fuel(args.timeout.is_some(), args.fuel.is_some())?;
    let program = tracer.load(&wasm, &config)?;
    let entry = match &args.invoke {
        Some(name) => Entry::Invoke { name: name.clone(), args: args.args.clone() },
        None => {
            let program_name = args.module.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut argv = vec![program_name];
            argv.extend(args.args.iter().cloned());
            let mut env = Vec::new();
            for kv in &args.envs {
                let (k, v) = kv.split_once('=').ok_or_else(|| Failure::usage(format!("--env `{kv}` is not KEY=VALUE")))?;
                env.push((k.to_string(), v.to_string()));
            }
            let dirs = args
                .dirs
                .iter()
                .map(|d| match d.split_once("::") {
                    Some((h, g)) => (h.to_string(), g.to_string()),
                    None => (d.clone(), d.clone()),
                })
                .collect();
            Entry::Wasi { args: argv, env, dirs }
        }
    };
    let options = RunOptions {
        capacity: args.buffer_size,
        policy: match args.keep {
            Keep::Newest => OverflowPolicy::KeepNewest,
            Keep::Oldest => OverflowPolicy::KeepOldest,
        },
        enabled: true,
        timeout: args.timeout,
        max_memory: args.max_memory,
        fuel: args.fuel,
        capture_output: false,
    };
    let outcome = program.run(&entry, &options)?;
    for r in &outcome.results {
        println!("{r}");
    }
    let text = TextOptions { indent: args.indent, ..TextOptions::default() };
    let written = match &args.trace_output {
        Some(path) => output::write_file(path, |w| output::render(&outcome.trace, args.format, text, w))
            .map_err(|e| format!("cannot write the trace to {}: {e}", path.display())),
        None => {
            let stderr = std::io::stderr();
            let mut lock = std::io::BufWriter::new(stderr.lock());
            output::render(&outcome.trace, args.format, text, &mut lock).map_err(|e| format!("cannot write the trace: {e}"))
        }
    };
    written.map_err(|message| Failure { message, code: EXIT_IO })?;
    match &outcome.trace.end {
        RunEnd::Returned => Ok(ExitCode::SUCCESS),
        RunEnd::Exited(code) => Ok(ExitCode::from(*code as u8)),
        RunEnd::Trapped(msg) => Err(Failure { message: format!("guest trapped: {msg}"), code: EXIT_TRAP }),
        RunEnd::Interrupted(msg) => Err(Failure { message: format!("guest interrupted: {msg}"), code: EXIT_TIMEOUT }),
    }
}
