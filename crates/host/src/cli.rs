//! The command line.

use crate::output::{self, Format};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ruchy_trace::replay::{self, TraceFile, Visitor};
use ruchy_trace::ruchy_trace_core::decode::Trace;
use ruchy_trace::ruchy_trace_core::format::Formatter;
use ruchy_trace::ruchy_trace_core::format::TextOptions;
use ruchy_trace::ruchy_trace_core::glob;
use ruchy_trace::ruchy_trace_core::profile::Profile;
use ruchy_trace::ruchy_trace_core::{decode::RunEnd, OverflowPolicy, Strategy, TraceOptions};
use ruchy_trace::ruchy_trace_core::{Event, EventKind};
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use ruchy_trace::ruchy_trace_instrument::{self, Filter, Scope};
use ruchy_trace::{Entry, HostError, RunOptions, Tracer};
use std::io::Write as _;
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
    /// Run like `run`, but stream the trace to a compact `.rtrace` file
    /// (given with -o) to replay, report and graph later without rerunning.
    ///
    /// The file is written as the program runs, so a trace larger than
    /// memory fits; a run that dies leaves a file whose complete part
    /// replays.
    ///
    /// Example: ruchy-trace record tests/fixtures/fibonacci.wasm -o fib.rtrace
    #[command(after_help = EXIT_CODES)]
    Record(RunArgs),
    /// Print a recorded trace in any format, filtered after the fact.
    ///
    /// Example: ruchy-trace replay fib.rtrace --depth 2 --time-threshold 10us
    Replay(ReplayArgs),
    /// Per-function totals of a recorded trace: calls, total, self, average,
    /// minimum and maximum time.
    ///
    /// Example: ruchy-trace report fib.rtrace --sort self
    Report(ReportArgs),
    /// The call tree of a recorded trace with counts and times, and flame
    /// graphs: folded stacks (for flamegraph.pl, inferno, speedscope) and
    /// an SVG.
    ///
    /// Example: ruchy-trace graph fib.rtrace --folded fib.folded --svg fib.svg
    Graph(GraphArgs),
    /// Serve the playground's Trace tab (www/) on 127.0.0.1, with a compile
    /// endpoint that turns the page's Ruchy editor into wasm when ruchy is
    /// installed here. Build the page first: www/build.sh.
    ///
    /// Example: ruchy-trace serve --port 8080, then open http://127.0.0.1:8080/
    Serve(ServeArgs),
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
    fn config(&self) -> Result<ruchy_trace_instrument::Config, Failure> {
        let filters = self
            .filters
            .iter()
            .map(|f| Filter::parse(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::usage(e.to_string()))?;
        Ok(ruchy_trace_instrument::Config {
            options: TraceOptions {
                strategy: if self.hooks {
                    Strategy::Hooks
                } else {
                    Strategy::Inline
                },
                timestamps: !self.no_timestamps,
                sample: self.sample,
                ..TraceOptions::default()
            },
            scope: if self.all { Scope::All } else { Scope::Own },
            filters,
            source_values: !self.wasm_types,
            relocators: Vec::new(),
            limits: Default::default(),
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
    /// Also stream the trace to this `.rtrace` file (see `record`).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Grant the guest a directory: HOST or HOST::GUEST (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Give the guest an environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    envs: Vec<String>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// The `.rtrace` file.
    file: PathBuf,
    /// Keep only functions matching GLOB, or drop them with `!GLOB`
    /// (repeatable; as for `run`).
    #[arg(long = "filter", value_name = "GLOB")]
    filters: Vec<String>,
    /// Hide calls deeper than N (0 is the outermost).
    #[arg(long, value_name = "N")]
    depth: Option<u32>,
    /// Hide calls shorter than this (e.g. 10us, 2ms), like uftrace.
    #[arg(long = "time-threshold", value_name = "DURATION", value_parser = parse_duration)]
    time_threshold: Option<Duration>,
    /// Where to write (default: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Indent text lines by call depth.
    #[arg(long)]
    indent: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Calls,
    Total,
    #[value(name = "self")]
    SelfTime,
    Avg,
    Min,
    Max,
    Name,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// The `.rtrace` file.
    file: PathBuf,
    /// Column to sort by (largest first; names A to Z).
    #[arg(long, value_enum, default_value_t = SortKey::Total)]
    sort: SortKey,
}

#[derive(Args, Debug)]
struct GraphArgs {
    /// The `.rtrace` file.
    file: PathBuf,
    /// Write folded stacks (`main;fibonacci;fibonacci 12`, self time in µs)
    /// to this file.
    #[arg(long, value_name = "FILE")]
    folded: Option<PathBuf>,
    /// Write a flame graph as SVG to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The page's directory.
    #[arg(long, default_value = "www")]
    dir: PathBuf,
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
            HostError::Instrument(ruchy_trace_instrument::Error::Internal(_)) => EXIT_INTERNAL,
            _ => EXIT_BAD_MODULE,
        };
        Failure {
            message: e.to_string(),
            code,
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 500ms, 10s or 2m"))?;
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
    let n: usize = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 65536, 64MiB or 1GiB"))?;
    let mult = match unit {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use KiB, MiB or GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure {
        message: format!("cannot read {}: {e}", path.display()),
        code: EXIT_NO_INPUT,
    })
}

fn unavailable(message: String) -> Failure {
    Failure {
        message,
        code: EXIT_UNAVAILABLE,
    }
}

/// The module's bytes and the Ruchy source its locations can point at: a
/// `.ruchy` program is compiled; a `.wasm` takes the `.ruchy` beside it.
fn load_program(path: &Path) -> Result<(Vec<u8>, Vec<RuchySource>), Failure> {
    let ruchy_path = path.with_extension("ruchy");
    let source = |p: &Path| -> Option<RuchySource> {
        let text = std::fs::read_to_string(p).ok()?;
        Some(RuchySource {
            file: p.file_name()?.to_string_lossy().into_owned(),
            text,
            transpiled: std::fs::read_to_string(p.with_extension("rs")).ok(),
        })
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
    if proc::Command::new("ruchy")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        return Err(unavailable(format!(
            "compiling {} needs the Ruchy compiler, which is not installed: `cargo install ruchy --locked` (about 15 minutes), or pass a compiled .wasm",
            path.display()
        )));
    }
    let dir = std::env::temp_dir().join(format!("ruchy-trace-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let rs = dir.join(format!("{stem}.rs"));
    let wasm = dir.join(format!("{stem}.wasm"));
    let result = (|| {
        let out = proc::Command::new("ruchy")
            .arg("transpile")
            .arg(path)
            .arg("-o")
            .arg(&rs)
            .output();
        match out {
            Ok(o) if o.status.success() && rs.exists() => {}
            Ok(o) => {
                return Err(unavailable(format!(
                    "ruchy transpile failed: {}",
                    first_line(&o.stderr, &o.stdout)
                )))
            }
            Err(e) => return Err(unavailable(format!("cannot run ruchy: {e}"))),
        }
        let out = proc::Command::new("rustc")
            .args([
                "--edition",
                "2021",
                "--target",
                "wasm32-wasip1",
                "-g",
                "-C",
                "opt-level=0",
            ])
            .arg(format!("--remap-path-prefix={}=.", dir.display()))
            .arg(&rs)
            .arg("-o")
            .arg(&wasm)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr);
                if text.contains("target may not be installed")
                    || text.contains("can't find crate for `std`")
                {
                    return Err(unavailable("the wasm32-wasip1 target is not installed: `rustup target add wasm32-wasip1`".into()));
                }
                return Err(unavailable(format!(
                    "rustc failed on the transpiled program: {}",
                    first_line(&o.stderr, &o.stdout)
                )));
            }
            Err(e) => return Err(unavailable(format!("cannot run rustc: {e}"))),
        }
        read_input(&wasm)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn first_line(stderr: &[u8], stdout: &[u8]) -> String {
    let text =
        String::from_utf8_lossy(if stderr.is_empty() { stdout } else { stderr }).into_owned();
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

pub fn main() -> Result<ExitCode, Failure> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args, false),
        Command::Record(args) => run(args, true),
        Command::Replay(args) => replay(args),
        Command::Report(args) => report(args),
        Command::Graph(args) => graph(args),
        Command::Serve(args) => serve(args),
        Command::Instrument(args) => instrument(args),
    }
}

fn instrument(args: InstrumentArgs) -> Result<ExitCode, Failure> {
    let (wasm, ruchy_sources) = load_program(&args.input)?;
    let config = ruchy_trace_instrument::Config {
        relocators: ruchy_sources.into_iter().map(RuchySource::shared).collect(),
        ..args.select.config()?
    };
    let out = ruchy_trace_instrument::instrument(&wasm, &config)
        .map_err(|e| Failure::from(HostError::from(e)))?;
    for note in &out.notes {
        eprintln!("ruchy-trace: note: {note}");
    }
    output::write_file(&args.output, |w| w.write_all(&out.bytes)).map_err(|e| Failure {
        message: format!("cannot write {}: {e}", args.output.display()),
        code: EXIT_IO,
    })?;
    eprintln!(
        "ruchy-trace: instrumented {} function(s); wrote {}",
        out.table.functions.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs, record_only: bool) -> Result<ExitCode, Failure> {
    let (wasm, ruchy_sources) = load_program(&args.module)?;
    let config = ruchy_trace_instrument::Config {
        relocators: ruchy_sources.into_iter().map(RuchySource::shared).collect(),
        ..args.select.config()?
    };
    let tracer = Tracer::with_fuel(args.timeout.is_some(), args.fuel.is_some())?;
    let program = tracer.load(&wasm, &config)?;
    let entry = match &args.invoke {
        Some(name) => Entry::Invoke {
            name: name.clone(),
            args: args.args.clone(),
        },
        None => {
            let program_name = args
                .module
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut argv = vec![program_name];
            argv.extend(args.args.iter().cloned());
            let mut env = Vec::new();
            for kv in &args.envs {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| Failure::usage(format!("--env `{kv}` is not KEY=VALUE")))?;
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
            Entry::Wasi {
                args: argv,
                env,
                dirs,
            }
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
    let record_path = if record_only {
        Some(
            args.trace_output
                .clone()
                .ok_or_else(|| Failure::usage("record needs -o FILE.rtrace".into()))?,
        )
    } else {
        args.record.clone()
    };
    let sink = match &record_path {
        Some(path) => Some(Box::new(TraceFile::create(path).map_err(|e| Failure {
            message: format!("cannot create {}: {e}", path.display()),
            code: EXIT_IO,
        })?) as Box<dyn ruchy_trace::RecordSink>),
        None => None,
    };
    let outcome = program.run_with(&entry, &options, sink)?;
    for r in &outcome.results {
        println!("{r}");
    }
    let text = TextOptions {
        indent: args.indent,
        ..TextOptions::default()
    };
    let written = match &args.trace_output {
        _ if record_only => Ok(()),
        Some(path) => output::write_file(path, |w| {
            output::render(&outcome.trace, args.format, text, w)
        })
        .map_err(|e| format!("cannot write the trace to {}: {e}", path.display())),
        None => {
            let stderr = std::io::stderr();
            let mut lock = std::io::BufWriter::new(stderr.lock());
            output::render(&outcome.trace, args.format, text, &mut lock)
                .map_err(|e| format!("cannot write the trace: {e}"))
        }
    };
    written.map_err(|message| Failure {
        message,
        code: EXIT_IO,
    })?;
    match &outcome.trace.end {
        RunEnd::Returned => Ok(ExitCode::SUCCESS),
        RunEnd::Exited(code) => Ok(ExitCode::from(*code as u8)),
        RunEnd::Trapped(msg) => Err(Failure {
            message: format!("guest trapped: {msg}"),
            code: EXIT_TRAP,
        }),
        RunEnd::Interrupted(msg) => Err(Failure {
            message: format!("guest interrupted: {msg}"),
            code: EXIT_TIMEOUT,
        }),
    }
}

fn open_trace_file(path: &Path) -> Result<std::fs::File, Failure> {
    std::fs::File::open(path).map_err(|e| Failure {
        message: format!("cannot read {}: {e}", path.display()),
        code: EXIT_NO_INPUT,
    })
}

fn replay_failed(path: &Path, e: replay::ReplayError) -> Failure {
    match e {
        replay::ReplayError::Io(e) => Failure {
            message: format!("cannot read {}: {e}", path.display()),
            code: EXIT_NO_INPUT,
        },
        replay::ReplayError::Format(e) => Failure {
            message: format!("{}: {e}", path.display()),
            code: EXIT_BAD_MODULE,
        },
    }
}

/// Failure for a damaged trace file, after what could be read was used.
fn damaged(path: &Path, e: &ruchy_trace::ruchy_trace_core::Error) -> Failure {
    Failure {
        message: format!("{}: {e}; everything before it was read", path.display()),
        code: EXIT_BAD_MODULE,
    }
}

/// Calls shorter than a threshold, by call number (entries in order).
#[derive(Default)]
struct ShortCalls {
    threshold_us: u64,
    bits: Vec<u64>,
    next: usize,
    stack: Vec<usize>,
}

impl ShortCalls {
    fn call_of(&mut self, e: &Event<'_>) -> usize {
        if e.kind == EventKind::Enter {
            self.stack.push(self.next);
            self.next += 1;
            self.next - 1
        } else {
            self.stack.pop().unwrap_or(usize::MAX)
        }
    }

    fn is_short(&self, call: usize) -> bool {
        self.bits
            .get(call / 64)
            .is_some_and(|w| w & (1 << (call % 64)) != 0)
    }
}

impl Visitor for ShortCalls {
    fn event(&mut self, _: &Trace, e: &Event<'_>) {
        let call = self.call_of(e);
        if e.kind != EventKind::Enter && e.duration_us.is_some_and(|d| d < self.threshold_us) {
            if self.bits.len() <= call / 64 {
                self.bits.resize(call / 64 + 1, 0);
            }
            self.bits[call / 64] |= 1 << (call % 64);
        }
    }
}

/// Formats the events a replay's filters let through.
struct Printer {
    formatter: Box<dyn Formatter>,
    filters: Vec<Filter>,
    depth: Option<u32>,
    short: Option<ShortCalls>,
    calls: ShortCalls,
    buf: String,
    out: Box<dyn std::io::Write>,
    error: Option<std::io::Error>,
}

impl Printer {
    fn shown(&self, e: &Event<'_>) -> bool {
        let names = [e.function.name.as_str(), e.function.raw_name.as_str()];
        let m = |f: &Filter| names.iter().any(|n| glob::matches(&f.pattern, n));
        let includes = self.filters.iter().filter(|f| f.include);
        let any_include = self.filters.iter().any(|f| f.include);
        (!any_include || includes.clone().any(m))
            && !self.filters.iter().any(|f| !f.include && m(f))
    }

    fn flush(&mut self) {
        if let Err(e) = self.out.write_all(self.buf.as_bytes()) {
            self.error.get_or_insert(e);
        }
        self.buf.clear();
    }
}

impl Visitor for Printer {
    fn begin(&mut self, t: &Trace) {
        self.formatter.begin(t, &mut self.buf);
    }

    fn event(&mut self, t: &Trace, e: &Event<'_>) {
        let call = self.calls.call_of(e);
        let short = self.short.as_ref().is_some_and(|s| s.is_short(call));
        if short || self.depth.is_some_and(|d| e.depth > d) || !self.shown(e) {
            return;
        }
        self.formatter.event(t, e, &mut self.buf);
        if self.buf.len() > 1 << 16 {
            self.flush();
        }
    }

    fn end(&mut self, t: &Trace) {
        self.formatter.end(t, &t.stats(), &mut self.buf);
        self.flush();
        if let Err(e) = self.out.flush() {
            self.error.get_or_insert(e);
        }
    }
}

fn replay(args: ReplayArgs) -> Result<ExitCode, Failure> {
    let filters = args
        .filters
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let bad = |e| replay_failed(&args.file, e);
    // Hiding short calls needs their durations before their entries: a
    // first pass finds them.
    let short = match args.time_threshold {
        Some(d) => {
            let mut s = ShortCalls {
                threshold_us: d.as_micros() as u64,
                ..ShortCalls::default()
            };
            replay::replay(open_trace_file(&args.file)?, &mut s).map_err(bad)?;
            Some(ShortCalls {
                stack: Vec::new(),
                next: 0,
                ..s
            })
        }
        None => None,
    };
    let out: Box<dyn std::io::Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| Failure {
                message: format!("cannot create {}: {e}", p.display()),
                code: EXIT_IO,
            },
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let text = TextOptions {
        indent: args.indent,
        ..TextOptions::default()
    };
    let mut printer = Printer {
        formatter: output::formatter(args.format, text),
        filters,
        depth: args.depth,
        short,
        calls: ShortCalls::default(),
        buf: String::with_capacity(1 << 17),
        out,
        error: None,
    };
    let seen = replay::replay(open_trace_file(&args.file)?, &mut printer).map_err(bad)?;
    if let Some(e) = printer.error {
        return Err(Failure {
            message: format!("cannot write the replay: {e}"),
            code: EXIT_IO,
        });
    }
    match &seen.damage {
        Some(e) => Err(damaged(&args.file, e)),
        None => Ok(ExitCode::SUCCESS),
    }
}

struct Profiler {
    profile: Option<Profile>,
    timed: bool,
}

impl Visitor for Profiler {
    fn begin(&mut self, t: &Trace) {
        self.timed = t.table.options.timestamps;
        self.profile = Some(Profile::new(
            t.table.functions.iter().map(|f| f.name.clone()),
        ));
    }

    fn event(&mut self, _: &Trace, e: &Event<'_>) {
        if let Some(p) = &mut self.profile {
            p.event(e);
        }
    }
}

fn profile_of(
    path: &Path,
) -> Result<(Profile, bool, Option<ruchy_trace::ruchy_trace_core::Error>), Failure> {
    let mut p = Profiler {
        profile: None,
        timed: false,
    };
    let seen =
        replay::replay(open_trace_file(path)?, &mut p).map_err(|e| replay_failed(path, e))?;
    Ok((
        p.profile
            .unwrap_or_else(|| Profile::new(std::iter::empty())),
        p.timed,
        seen.damage,
    ))
}

fn micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.3} s", us as f64 / 1e6)
    } else if us >= 1000 {
        format!("{:.3} ms", us as f64 / 1e3)
    } else {
        format!("{us} us")
    }
}

fn report(args: ReportArgs) -> Result<ExitCode, Failure> {
    let (profile, timed, damage) = profile_of(&args.file)?;
    let mut rows = profile.report();
    let key = |f: &ruchy_trace::ruchy_trace_core::profile::FunctionStats| match args.sort {
        SortKey::Calls => f.calls,
        SortKey::Total => f.total_us,
        SortKey::SelfTime => f.self_us,
        SortKey::Avg => f.avg_us(),
        SortKey::Min => f.min_us,
        SortKey::Max => f.max_us,
        SortKey::Name => 0,
    };
    if args.sort == SortKey::Name {
        rows.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name)));
    }
    println!(
        "{:>12} {:>12} {:>12} {:>12} {:>12} {:>12}  function",
        "calls", "total", "self", "avg", "min", "max"
    );
    for f in &rows {
        let t = |v: u64| if timed { micros(v) } else { "-".into() };
        println!(
            "{:>12} {:>12} {:>12} {:>12} {:>12} {:>12}  {}",
            f.calls,
            t(f.total_us),
            t(f.self_us),
            t(f.avg_us()),
            t(f.min_us),
            t(f.max_us),
            f.name
        );
    }
    if timed {
        println!(
            "# outermost calls took {} in all; the self times add up to it",
            micros(profile.root_total_us())
        );
    }
    match &damage {
        Some(e) => Err(damaged(&args.file, e)),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn graph(args: GraphArgs) -> Result<ExitCode, Failure> {
    let (profile, timed, damage) = profile_of(&args.file)?;
    let mut out = String::new();
    tree_lines(&profile, 0, 0, timed, &mut out);
    print!("{out}");
    let write = |path: &Path, text: &str| {
        output::write_file(path, |w| w.write_all(text.as_bytes())).map_err(|e| Failure {
            message: format!("cannot write {}: {e}", path.display()),
            code: EXIT_IO,
        })
    };
    if let Some(p) = &args.folded {
        write(p, &profile.folded(timed))?;
    }
    if let Some(p) = &args.svg {
        write(p, &output::flame_svg(&profile, timed))?;
    }
    match &damage {
        Some(e) => Err(damaged(&args.file, e)),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn tree_lines(p: &Profile, node: usize, depth: usize, timed: bool, out: &mut String) {
    use std::fmt::Write as _;
    let n = &p.nodes[node];
    if node != 0 {
        let name = p
            .functions
            .get(n.id as usize)
            .map_or("?", |f| f.name.as_str());
        let _ = write!(
            out,
            "{}{name}  [{} call{}",
            "  ".repeat(depth - 1),
            n.calls,
            if n.calls == 1 { "" } else { "s" }
        );
        if timed {
            let _ = write!(
                out,
                ", total {}, self {}",
                micros(n.total_us),
                micros(n.self_us)
            );
        }
        out.push_str("]\n");
    }
    for &child in n.children.values() {
        tree_lines(p, child, depth + 1, timed, out);
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode, Failure> {
    if !args.dir.join("index.html").exists() {
        return Err(Failure {
            message: format!(
                "{} has no index.html: serve the repository's www/ (--dir)",
                args.dir.display()
            ),
            code: EXIT_NO_INPUT,
        });
    }
    if !args.dir.join("pkg").exists() {
        eprintln!(
            "ruchy-trace: note: {}/pkg is missing: build the page with www/build.sh",
            args.dir.display()
        );
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", args.port)).map_err(|e| Failure {
        message: format!("cannot listen on 127.0.0.1:{}: {e}", args.port),
        code: EXIT_IO,
    })?;
    let addr = listener.local_addr().map_err(|e| Failure {
        message: e.to_string(),
        code: EXIT_IO,
    })?;
    println!("serving {} on http://{addr}/", args.dir.display());
    let _ = std::io::stdout().flush();
    crate::serve::serve(listener, args.dir, compile_source);
    Ok(ExitCode::SUCCESS)
}

/// The compile endpoint: a Ruchy program's text to wasm.
fn compile_source(text: &str) -> Result<Vec<u8>, (u16, String)> {
    let dir = std::env::temp_dir().join(format!(
        "ruchy-trace-serve-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| (500, e.to_string()))?;
    let src = dir.join("editor.ruchy");
    let result = std::fs::write(&src, text)
        .map_err(|e| (500, e.to_string()))
        .and_then(|()| {
            compile_ruchy(&src).map_err(|f| {
                (
                    if f.message.contains("not installed") {
                        501
                    } else {
                        422
                    },
                    f.message,
                )
            })
        });
    let _ = std::fs::remove_dir_all(&dir);
    result
}
