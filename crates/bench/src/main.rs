//! `ruchy-trace-bench`: ruchy-trace's overhead, measured side by side with
//! the uninstrumented module in one run, printed as tables.
//!
//! Every cost is reported twice: wall time, and the CPU time of the whole
//! process (every thread, from `getrusage`), so a helper thread's work is
//! never hidden by the wall clock.
//!
//! * `ruchy-trace-bench` (or `fib`): in-process rows over the recursive
//!   fibonacci of `tests/fixtures/fibonacci.ruchy`, variants compiled anew
//!   and run round-robin, medians compared with the uninstrumented module;
//!   then whole-process rows running the `ruchy-trace` binary as a user
//!   would, against a process that runs the module uninstrumented.
//! * `ruchy-trace-bench instrument FILE...`: `ruchy-trace instrument` on each
//!   module, whole process, against Binaryen's `wasm-opt --log-execution`
//!   on the same modules, round-robin (the modules of
//!   `scripts/fetch-npm-modules.sh`).

use clap::{Args, Parser, Subcommand};
use ruchy_trace::ruchy_trace_core::format::{render, TextFormatter, TextOptions};
use ruchy_trace::ruchy_trace_core::{OverflowPolicy, Strategy, TraceOptions};
use ruchy_trace::ruchy_trace_instrument::{self, Config, Filters, Scope};
use ruchy_trace::{Clock, Entry, Outcome, Program, RunOptions, Tracer};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod browser;
mod imports;

const FIB_MODULE: &str = "tests/fixtures/bench/fib_bench.wasm";
const RUCHY_MODULE: &str = "tests/fixtures/fibonacci.wasm";

/// Measures ruchy-trace's overhead against the uninstrumented module, wall
/// and CPU time, side by side in one run.
#[derive(Parser)]
#[command(name = "ruchy-trace-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command_>,
    #[command(flatten)]
    fib: FibArgs,
}

#[derive(Subcommand)]
enum Command_ {
    /// The fibonacci table (the default).
    Fib(FibArgs),
    /// Only the whole-process rows of the fibonacci table: the
    /// `ruchy-trace` binary run as a user runs it.
    WholeProcess(FibArgs),
    /// Instrumenting real modules: `ruchy-trace instrument` against
    /// `wasm-opt --log-execution`, whole process, wall and CPU time, peak
    /// memory.
    Instrument(InstrumentArgs),
    /// Runs `EXPORT(N)` of MODULE uninstrumented and exits: the baseline
    /// process of the whole-process rows.
    #[command(hide = true)]
    Plain {
        module: PathBuf,
        export: String,
        n: i64,
    },
}

#[derive(Args, Clone)]
struct FibArgs {
    /// fib(N) for the in-process rows.
    #[arg(long, default_value_t = 30)]
    n: i64,
    /// fib(N) for the whole-process rows (run through the CLI).
    #[arg(long = "cli-n", default_value_t = 32)]
    cli_n: i64,
    /// Repetitions of every variant; medians are reported.
    #[arg(long, default_value_t = 11)]
    reps: usize,
    /// The `ruchy-trace` binary for the whole-process rows (default: next
    /// to this one; `cargo build --release -p ruchy-trace` builds it).
    #[arg(long, value_name = "PATH")]
    cli: Option<PathBuf>,
    /// Also measure the browser rows in headless Chromium (the page in
    /// `crates/bench/browser/`, served by `ruchy-trace serve`'s server).
    #[arg(long)]
    browser: bool,
    /// Measure only the browser rows (implies --browser).
    #[arg(long = "browser-only")]
    browser_only: bool,
}

#[derive(Args)]
struct InstrumentArgs {
    /// Modules to instrument.
    #[arg(required = true)]
    modules: Vec<PathBuf>,
    /// Repetitions of each command; medians are reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// The `ruchy-trace` binary (default: next to this one).
    #[arg(long, value_name = "PATH")]
    cli: Option<PathBuf>,
}

fn fail(msg: &str) -> ! {
    eprintln!("ruchy-trace-bench: error: {msg}");
    std::process::exit(2)
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None => fib(&cli.fib),
        Some(Command_::Fib(args)) => fib(&args),
        Some(Command_::WholeProcess(args)) => whole_process_rows(&args),
        Some(Command_::Instrument(args)) => instrument(&args),
        Some(Command_::Plain { module, export, n }) => plain(&module, &export, n),
    }
}

/// The repository root, so the harness runs from any directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap_or_else(|e| fail(&format!("cannot read {rel}: {e}")))
}

/// The `ruchy-trace` binary: as given, or next to this executable.
fn cli_binary(given: &Option<PathBuf>) -> Option<PathBuf> {
    let path = match given {
        Some(p) => p.clone(),
        None => std::env::current_exe().ok()?.with_file_name("ruchy-trace"),
    };
    path.is_file().then_some(path)
}

/// Wall time and the CPU time (user + system, every thread) it took.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)
}

/// CPU time this process has used so far, all threads.
fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    timeval(ru.ru_utime) + timeval(ru.ru_stime)
}

/// Runs `f`, measuring it.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Cost) {
    let cpu = process_cpu();
    let start = Instant::now();
    let out = f();
    let wall = start.elapsed();
    (
        out,
        Cost {
            wall,
            cpu: process_cpu().saturating_sub(cpu),
        },
    )
}

/// What a child process cost: wall, CPU (all its threads), peak RSS.
struct ChildCost {
    cost: Cost,
    peak_rss_kb: u64,
    success: bool,
}

/// Runs `cmd` to completion and measures it with `wait4`, which reaps the
/// child (so `Child::wait` is never called).
#[allow(clippy::zombie_processes)]
fn measure_child(cmd: &mut Command) -> ChildCost {
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot start {cmd:?}: {e}")));
    let mut status = 0;
    // SAFETY: wait4 on our own child fills the status and usage given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    if r < 0 {
        fail(&format!("waiting for {cmd:?} failed"));
    }
    ChildCost {
        cost: Cost {
            wall,
            cpu: timeval(ru.ru_utime) + timeval(ru.ru_stime),
        },
        peak_rss_kb: ru.ru_maxrss as u64,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

/// Medians of wall and CPU time, taken separately.
fn median(costs: &[Cost]) -> Cost {
    let pick = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    Cost {
        wall: pick(costs.iter().map(|c| c.wall).collect()),
        cpu: pick(costs.iter().map(|c| c.cpu).collect()),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}

/// One variant of the fibonacci module and how it is run.
enum Variant {
    /// Ours, through [`Program::run`]; `tracer` picks the clock; `plain`
    /// is the uninstrumented module.
    Traced {
        tracer: usize,
        plain: bool,
        options: RunOptions,
    },
    /// Binaryen's `--log-execution` output, run with a counting host hook.
    Binaryen,
    /// The uninstrumented module run under wasmtime's guest profiler,
    /// sampling every millisecond.
    #[cfg(feature = "guest-profiler")]
    Profiled,
}

struct Scenario {
    label: &'static str,
    target: &'static str,
    variant: Variant,
    /// The bytes compiled anew every repetition.
    bytes: Vec<u8>,
    costs: Vec<Cost>,
    last: Option<(Vec<String>, Option<Outcome>, u64)>,
}

fn run_options(capacity: u64, enabled: bool) -> RunOptions {
    RunOptions {
        capacity,
        policy: OverflowPolicy::KeepNewest,
        enabled,
        ..RunOptions::default()
    }
}

fn config(strategy: Strategy, timestamps: bool, sample: u32, filters: &[&str]) -> Config {
    Config {
        options: TraceOptions {
            strategy,
            timestamps,
            sample,
            ..TraceOptions::default()
        },
        scope: Scope::All,
        filters: Filters::parse(filters.iter().copied()).expect("valid filters"),
        ..Config::default()
    }
}

/// Calls in fib(n): the recursion's nodes plus `run` itself.
fn fib_calls(n: i64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..=n {
        (a, b) = (b, a + b);
    }
    2 * a - 1
}

fn fib(args: &FibArgs) {
    let wasm = read(FIB_MODULE);
    let calls = fib_calls(args.n);
    if args.browser_only {
        browser::print_rows(&wasm, args.n, args.reps, calls);
        return;
    }
    let tracers = [
        Tracer::builder().build(),
        Tracer::builder().clock(Clock::Spin).build(),
    ]
    .map(|t| t.unwrap_or_else(|e| fail(&e.to_string())));
    let instrument = |c: &Config| {
        ruchy_trace_instrument::instrument(&wasm, c)
            .unwrap_or_else(|e| fail(&e.to_string()))
            .bytes
    };
    // Two events per call; sized so the ring keeps every event.
    let capacity = 2 * calls + 16;
    let entry = Entry::Invoke {
        name: "run".into(),
        args: vec![args.n.to_string()],
    };
    let traced = |tracer, enabled| Variant::Traced {
        tracer,
        plain: false,
        options: run_options(capacity, enabled),
    };
    let full = instrument(&config(Strategy::Inline, true, 1, &[]));
    let mut scenarios = vec![
        (
            "uninstrumented",
            "-",
            Variant::Traced {
                tracer: 0,
                plain: true,
                options: run_options(capacity, true),
            },
            wasm.clone(),
        ),
        (
            "full tracing, args + results + timestamps (inline, default clock: 100 us ticker)",
            "<= 3.0x",
            traced(0, true),
            full.clone(),
        ),
        (
            "full tracing, args + results + 1 us timestamps (inline, --clock spin)",
            "-",
            traced(1, true),
            full.clone(),
        ),
        (
            "full tracing, no timestamps (inline)",
            "<= 2.2x",
            traced(0, true),
            instrument(&config(Strategy::Inline, false, 1, &[])),
        ),
        (
            "instrumented, switched off at run time",
            "<= 1.03x",
            traced(0, false),
            full,
        ),
        (
            "--trace-sample 1000",
            "<= 1.10x",
            traced(0, true),
            instrument(&config(Strategy::Inline, true, 1000, &[])),
        ),
        (
            "fibonacci excluded by --filter at instrument time",
            "1.00x",
            traced(0, true),
            instrument(&config(Strategy::Inline, true, 1, &["!*fibonacci*"])),
        ),
        (
            "full tracing through host hooks (portable path)",
            "-",
            traced(0, true),
            instrument(&config(Strategy::Hooks, true, 1, &[])),
        ),
    ]
    .into_iter()
    .map(|(label, target, variant, bytes)| Scenario {
        label,
        target,
        variant,
        bytes,
        costs: Vec::new(),
        last: None,
    })
    .collect::<Vec<_>>();
    match binaryen_log_execution(&wasm) {
        Ok(bytes) => scenarios.push(Scenario {
            label: "peer: Binaryen `wasm-opt --log-execution` (entries, loop headers and returns, no values), counting host hook",
            target: "-",
            variant: Variant::Binaryen,
            bytes,
            costs: Vec::new(),
            last: None,
        }),
        Err(why) => eprintln!("ruchy-trace-bench: Binaryen row not run: {why}"),
    }
    #[cfg(feature = "guest-profiler")]
    scenarios.push(Scenario {
        label: "peer: wasmtime `GuestProfiler`, uninstrumented, sampling every 1 ms",
        target: "-",
        variant: Variant::Profiled,
        bytes: wasm.clone(),
        costs: Vec::new(),
        last: None,
    });

    // One warm-up round, then round-robin so drift hits every scenario
    // alike. Each repetition compiles every variant anew: where the code
    // lands in memory moves a call-bound loop by tens of percent, and fresh
    // placements let the medians average that out instead of baking one in.
    for rep in 0..=args.reps {
        for s in scenarios.iter_mut() {
            let (result, cost) = run_variant(&tracers, s, &entry, args.n);
            if rep > 0 {
                s.costs.push(cost);
            }
            s.last = Some(result);
        }
    }

    let base = median(&scenarios[0].costs);
    let base_result = scenarios[0].last.as_ref().expect("ran").0.clone();
    println!(
        "ruchy-trace benchmark: fib({}) = {} calls, wasmtime, in process, median of {} runs each, side by side",
        args.n, calls, args.reps
    );
    println!();
    println!("| scenario | wall | CPU (all threads) | wall ratio | CPU ratio | target | events | ns per event (wall) |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut full_trace = None;
    for (i, s) in scenarios.iter_mut().enumerate() {
        let t = median(&s.costs);
        let (results, outcome, events) = s.last.take().expect("ran");
        // Every variant must compute what the original does.
        assert_eq!(
            results, base_result,
            "{}: result differs from the uninstrumented module",
            s.label
        );
        // Per-event cost means something only where most calls were traced.
        let per_event = if events >= calls && i > 0 {
            format!(
                "{:.2}",
                (t.wall.as_secs_f64() - base.wall.as_secs_f64()) * 1e9 / events as f64
            )
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s.label,
            ms(t.wall),
            ms(t.cpu),
            ratio(t.wall, base.wall),
            ratio(t.cpu, base.cpu),
            s.target,
            events,
            per_event
        );
        if i == 1 {
            full_trace = outcome;
        }
    }

    #[cfg(not(feature = "guest-profiler"))]
    println!("| peer: wasmtime `GuestProfiler`, sampling every 1 ms | not run: build with `--features guest-profiler` | | | | | | |");

    if args.browser {
        browser::print_rows(&wasm, args.n, args.reps, calls);
    }

    let full = full_trace.expect("full tracing ran");
    let stats = full.trace.stats();
    let bytes = full.trace.recorded.byte_len() as f64 / stats.kept_events.max(1) as f64;
    println!(
        "| bytes per event in the ring (full tracing) | {bytes:.2} B | | | | <= 16 | {} | |",
        stats.kept_events
    );
    instrument_fixture_rows(args.reps);
    rendering_row(&full);
    println!();
    imports::print_rows(args.reps);
    whole_process_rows(args);
}

/// Compiles and runs one scenario's variant once: its results, its outcome
/// (ours only), how many events (or hook calls) it produced, and its cost.
fn run_variant(
    tracers: &[Tracer],
    s: &Scenario,
    entry: &Entry,
    n: i64,
) -> ((Vec<String>, Option<Outcome>, u64), Cost) {
    match &s.variant {
        Variant::Traced {
            tracer,
            plain,
            options,
        } => {
            let tracer = &tracers[*tracer];
            // Instrumented bytes carry their table and are run as they are.
            let program: Program = if *plain {
                tracer.load_plain(&s.bytes)
            } else {
                tracer.load(&s.bytes, &Config::default())
            }
            .unwrap_or_else(|e| fail(&e.to_string()));
            let (out, cost) = measure(|| program.run(entry, options));
            let out = out.unwrap_or_else(|e| fail(&e.to_string()));
            let events = out.trace.stats().total_events;
            ((out.results.clone(), Some(out), events), cost)
        }
        Variant::Binaryen => {
            let (results, count, cost) = binaryen_run(&s.bytes, n);
            ((results, None, count), cost)
        }
        #[cfg(feature = "guest-profiler")]
        Variant::Profiled => {
            let (results, samples, cost) = profiled_run(&s.bytes, n);
            ((results, None, samples), cost)
        }
    }
}

fn instrument_fixture_rows(reps: usize) {
    let ruchy = read(RUCHY_MODULE);
    for (label, scope) in [
        ("own functions", Scope::Own),
        ("every function", Scope::All),
    ] {
        let cfg = Config {
            scope,
            ..Config::default()
        };
        let mut costs = Vec::new();
        let mut count = 0;
        for _ in 0..reps {
            let (out, cost) = measure(|| {
                ruchy_trace_instrument::instrument(&ruchy, &cfg)
                    .unwrap_or_else(|e| fail(&e.to_string()))
            });
            costs.push(cost);
            count = out.table.functions.len();
        }
        let t = median(&costs);
        println!(
            "| instrumenting the {:.1} MB Ruchy fibonacci module, {label} ({count}) | {} | {} | | | <= 30 ms | | |",
            ruchy.len() as f64 / 1e6,
            ms(t.wall),
            ms(t.cpu),
        );
    }
}

fn rendering_row(full: &Outcome) {
    let stats = full.trace.stats();
    let mut costs = Vec::new();
    for _ in 0..3 {
        let (_, cost) = measure(|| {
            let mut f = TextFormatter::new(TextOptions::default());
            let mut total = 0usize;
            render(&mut f, &full.trace, |s| {
                total += s.len();
                Ok::<(), Infallible>(())
            })
            .expect("the bench's own trace decodes");
            std::hint::black_box(total);
        });
        costs.push(cost);
    }
    let t = median(&costs);
    println!(
        "| rendering the text format, one thread (decode included) | {:.1} M events/s | {} | | | >= 20 M events/s | {} | {:.1} |",
        stats.kept_events as f64 / t.wall.as_secs_f64() / 1e6,
        ms(t.cpu),
        stats.kept_events,
        t.wall.as_secs_f64() * 1e9 / stats.kept_events as f64
    );
}

/// Rows that run the `ruchy-trace` binary as a user would, whole process,
/// against a process running the same export uninstrumented.
fn whole_process_rows(args: &FibArgs) {
    let Some(cli) = cli_binary(&args.cli) else {
        println!("Whole-process rows not run: no `ruchy-trace` binary next to this one (cargo build --release -p ruchy-trace).");
        return;
    };
    let module = root().join(FIB_MODULE);
    let n = args.cli_n.to_string();
    let dir = std::env::temp_dir().join(format!("ruchy-trace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&e.to_string()));
    let trace_txt = dir.join("trace.txt");
    let trace_rtrace = dir.join("trace.rtrace");
    let me = std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string()));
    let run = |extra: &[&str], out: &Path| -> Command {
        let mut c = Command::new(&cli);
        c.arg("run")
            .arg("--invoke")
            .arg("run")
            .args(extra)
            .arg("-o")
            .arg(out)
            .arg(&module)
            .arg("--")
            .arg(&n)
            .stdout(Stdio::null());
        c
    };
    let mut rows: Vec<(&str, &str, Command)> = vec![
        (
            "uninstrumented (a process that compiles and runs the module)",
            "-",
            {
                let mut c = Command::new(&me);
                c.arg("plain")
                    .arg(&module)
                    .arg("run")
                    .arg(&n)
                    .stdout(Stdio::null());
                c
            },
        ),
        (
            "`run --buffer-size 16 -o /dev/null`",
            "<= 3.0x",
            run(&["--buffer-size", "16"], Path::new("/dev/null")),
        ),
        (
            "`run -o trace.txt` (text)",
            "<= 20x, nothing lost",
            run(&[], &trace_txt),
        ),
        ("`record -o trace.rtrace`", "<= 4.0x", {
            let mut c = Command::new(&cli);
            c.arg("record")
                .arg("--invoke")
                .arg("run")
                .arg("-o")
                .arg(&trace_rtrace)
                .arg(&module)
                .arg("--")
                .arg(&n)
                .stdout(Stdio::null());
            c
        }),
    ];
    let mut costs: Vec<Vec<Cost>> = rows.iter().map(|_| Vec::new()).collect();
    for rep in 0..=args.reps.min(5) {
        for (i, (label, _, cmd)) in rows.iter_mut().enumerate() {
            cmd.stderr(Stdio::null());
            let c = measure_child(cmd);
            if !c.success {
                fail(&format!("{label} failed"));
            }
            if rep > 0 {
                costs[i].push(c.cost);
            }
        }
    }
    let lost = text_trace_lost(&trace_txt);
    let _ = std::fs::remove_dir_all(&dir);
    let calls = fib_calls(args.cli_n);
    println!(
        "Whole process, fib({}) = {} calls ({} events), `ruchy-trace` as a user runs it, median of {} runs each:",
        args.cli_n,
        calls,
        2 * calls,
        args.reps.min(5)
    );
    println!();
    println!("| command | wall | CPU (all threads) | wall ratio | CPU ratio | target |");
    println!("|---|---|---|---|---|---|");
    let base = median(&costs[0]);
    for (i, (label, target, _)) in rows.iter().enumerate() {
        let t = median(&costs[i]);
        let note = if i == 2 {
            format!(" ({lost})")
        } else {
            String::new()
        };
        println!(
            "| {label}{note} | {} | {} | {} | {} | {target} |",
            ms(t.wall),
            ms(t.cpu),
            ratio(t.wall, base.wall),
            ratio(t.cpu, base.cpu),
        );
    }
    let t = median(&costs[2]);
    println!(
        "| events rendered per second by `run -o trace.txt` | {:.1} M/s | | | | >= 20 M/s |",
        2.0 * calls as f64 / t.wall.as_secs_f64() / 1e6
    );
}

/// The `# events: K kept, L lost` summary of a text trace.
fn text_trace_lost(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| l.starts_with("# events:"))
        .map(|l| l.trim_start_matches("# ").to_string())
        .unwrap_or_else(|| "no summary line".into())
}

/// `ruchy-trace-bench plain`: compiles and runs the export uninstrumented.
fn plain(module: &Path, export: &str, n: i64) {
    let bytes = std::fs::read(module).unwrap_or_else(|e| fail(&e.to_string()));
    let tracer = Tracer::builder()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let program = tracer
        .load_plain(&bytes)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let out = program
        .run(
            &Entry::Invoke {
                name: export.into(),
                args: vec![n.to_string()],
            },
            &RunOptions::default(),
        )
        .unwrap_or_else(|e| fail(&e.to_string()));
    for r in out.results {
        println!("{r}");
    }
}

/// Binaryen's `--log-execution` pass (a host call at every function entry
/// and loop header) applied to `wasm`.
fn binaryen_log_execution(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir().join(format!("ruchy-trace-bench-wo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let input = dir.join("in.wasm");
    let output = dir.join("out.wasm");
    std::fs::write(&input, wasm).map_err(|e| e.to_string())?;
    let status = Command::new("wasm-opt")
        .arg("--log-execution")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status()
        .map_err(|e| format!("wasm-opt not installed ({e}); apt-get install binaryen"))?;
    let logged = std::fs::read(&output);
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(format!("wasm-opt failed: {status}"));
    }
    logged.map_err(|e| e.to_string())
}

fn binaryen_run(logged: &[u8], n: i64) -> (Vec<String>, u64, Cost) {
    use wasmtime::{Engine, Linker, Module, Store};
    let engine = Engine::default();
    let module = Module::new(&engine, logged).unwrap_or_else(|e| fail(&e.to_string()));
    let ((result, count), cost) = measure(|| {
        let mut store = Store::new(&engine, 0u64);
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                "env",
                "log_execution",
                |mut c: wasmtime::Caller<'_, u64>, _id: i32| *c.data_mut() += 1,
            )
            .unwrap_or_else(|e| fail(&e.to_string()));
        let instance = linker
            .instantiate(&mut store, &module)
            .unwrap_or_else(|e| fail(&e.to_string()));
        let run = instance
            .get_typed_func::<i64, i64>(&mut store, "run")
            .unwrap_or_else(|e| fail(&e.to_string()));
        let result = run
            .call(&mut store, n)
            .unwrap_or_else(|e| fail(&e.to_string()));
        (result, *store.data())
    });
    (vec![result.to_string()], count, cost)
}

#[cfg(feature = "guest-profiler")]
/// Runs `run(n)` under wasmtime's guest profiler: an epoch deadline every
/// millisecond, at which the profiler takes a sample of the guest's stack.
/// Returns the samples taken.
fn profiled_run(wasm: &[u8], n: i64) -> (Vec<String>, u64, Cost) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use wasmtime::{
        Config as EngineConfig, Engine, GuestProfiler, Linker, Module, Store, UpdateDeadline,
    };
    const INTERVAL: Duration = Duration::from_millis(1);
    let mut cfg = EngineConfig::new();
    cfg.epoch_interruption(true);
    let engine = Engine::new(&cfg).unwrap_or_else(|e| fail(&e.to_string()));
    let module = Module::new(&engine, wasm).unwrap_or_else(|e| fail(&e.to_string()));
    struct Data {
        profiler: Option<GuestProfiler>,
        samples: u64,
        last: Instant,
    }
    let ((result, samples), cost) = measure(|| {
        let profiler = GuestProfiler::new(
            &engine,
            "fib",
            INTERVAL,
            vec![("fib".to_string(), module.clone())],
        )
        .unwrap_or_else(|e| fail(&e.to_string()));
        let mut store = Store::new(
            &engine,
            Data {
                profiler: Some(profiler),
                samples: 0,
                last: Instant::now(),
            },
        );
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let now = Instant::now();
            let mut profiler = ctx.data_mut().profiler.take().expect("profiler");
            let delta = now - ctx.data().last;
            profiler.sample(&ctx, delta);
            let data = ctx.data_mut();
            data.profiler = Some(profiler);
            data.samples += 1;
            data.last = now;
            Ok(UpdateDeadline::Continue(1))
        });
        let done = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(INTERVAL);
                    engine.increment_epoch();
                }
            })
        };
        let linker = Linker::new(&engine);
        let instance = linker
            .instantiate(&mut store, &module)
            .unwrap_or_else(|e| fail(&e.to_string()));
        let run = instance
            .get_typed_func::<i64, i64>(&mut store, "run")
            .unwrap_or_else(|e| fail(&e.to_string()));
        let result = run
            .call(&mut store, n)
            .unwrap_or_else(|e| fail(&e.to_string()));
        done.store(true, Ordering::Relaxed);
        let _ = ticker.join();
        // The profile is built as a user of the profiler would get it.
        let mut profile = Vec::new();
        if let Some(p) = store.data_mut().profiler.take() {
            let _ = p.finish(&mut profile);
        }
        std::hint::black_box(profile.len());
        (result, store.data().samples)
    });
    (vec![result.to_string()], samples, cost)
}

/// `ruchy-trace-bench instrument`: each module instrumented by
/// `ruchy-trace instrument` (every function, the default inline path) and
/// by `wasm-opt --all-features --log-execution`, whole process,
/// round-robin.
fn instrument(args: &InstrumentArgs) {
    let Some(cli) = cli_binary(&args.cli) else {
        fail("no `ruchy-trace` binary next to this one (cargo build --release -p ruchy-trace), or give --cli");
    };
    let dir = std::env::temp_dir().join(format!("ruchy-trace-bench-in-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&e.to_string()));
    let out = dir.join("out.wasm");
    struct Row {
        name: String,
        size: u64,
        ours: Vec<Cost>,
        peer: Vec<Cost>,
        ours_rss: u64,
        peer_rss: u64,
    }
    let mut rows: Vec<Row> = args
        .modules
        .iter()
        .map(|m| Row {
            name: m
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size: std::fs::metadata(m)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", m.display())))
                .len(),
            ours: Vec::new(),
            peer: Vec::new(),
            ours_rss: 0,
            peer_rss: 0,
        })
        .collect();
    for _ in 0..args.reps {
        for (m, row) in args.modules.iter().zip(rows.iter_mut()) {
            let ours = measure_child(
                Command::new(&cli)
                    .arg("instrument")
                    .arg("--all")
                    .arg(m)
                    .arg("-o")
                    .arg(&out)
                    .stderr(Stdio::null()),
            );
            if !ours.success {
                fail(&format!("ruchy-trace instrument {} failed", m.display()));
            }
            row.ours.push(ours.cost);
            row.ours_rss = row.ours_rss.max(ours.peak_rss_kb);
            let peer = measure_child(
                Command::new("wasm-opt")
                    // Real modules use bulk memory, sign extension and
                    // more: Binaryen refuses them unless told.
                    .arg("--all-features")
                    .arg("--log-execution")
                    .arg(m)
                    .arg("-o")
                    .arg(&out)
                    .stderr(Stdio::null()),
            );
            if !peer.success {
                fail(&format!(
                    "wasm-opt --log-execution {} failed (is binaryen installed?)",
                    m.display()
                ));
            }
            row.peer.push(peer.cost);
            row.peer_rss = row.peer_rss.max(peer.peak_rss_kb);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "Instrumenting every function, whole process, median of {} runs each ({} cores):",
        args.reps,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| module | size | ruchy-trace wall | CPU | peak RSS | wasm-opt --log-execution wall | CPU | peak RSS | faster (wall) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut ours_total, mut peer_total) = (Cost::default(), Cost::default());
    for r in &rows {
        let (o, p) = (median(&r.ours), median(&r.peer));
        ours_total.wall += o.wall;
        ours_total.cpu += o.cpu;
        peer_total.wall += p.wall;
        peer_total.cpu += p.cpu;
        println!(
            "| {} | {:.1} MB | {} | {} | {:.1} MB ({:.2}x the module) | {} | {} | {:.1} MB | {} |",
            r.name,
            r.size as f64 / 1e6,
            ms(o.wall),
            ms(o.cpu),
            r.ours_rss as f64 / 1e3,
            r.ours_rss as f64 * 1e3 / r.size as f64,
            ms(p.wall),
            ms(p.cpu),
            r.peer_rss as f64 / 1e3,
            ratio(p.wall, o.wall),
        );
    }
    let size: u64 = rows.iter().map(|r| r.size).sum();
    println!(
        "| all {} | {:.1} MB | {} | {} | | {} | {} | | {} (target >= 10x) |",
        rows.len(),
        size as f64 / 1e6,
        ms(ours_total.wall),
        ms(ours_total.cpu),
        ms(peer_total.wall),
        ms(peer_total.cpu),
        ratio(peer_total.wall, ours_total.wall),
    );
}
