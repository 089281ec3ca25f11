//! `ruchy-trace-bench`: ruchy-trace's overhead, measured side by side with
//! the uninstrumented module in one run, printed as one table.
//!
//! Every scenario calls the same export (`run(n)`, the recursive fibonacci
//! of `tests/fixtures/fibonacci.ruchy`) of a variant of the same module;
//! variants are compiled anew and run round-robin, `--reps` times each, and
//! the median time of the call is compared with the median of the
//! uninstrumented module.
//! Usage: `cargo run --release -p ruchy-trace-bench -- [--n 30] [--reps 11]`.

use ruchy_trace::ruchy_trace_core::format::{Formatter, TextFormatter, TextOptions};
use ruchy_trace::ruchy_trace_core::{OverflowPolicy, Strategy, TraceOptions};
use ruchy_trace::ruchy_trace_instrument::{self, Config, Filter, Scope};
use ruchy_trace::{Entry, Outcome, Program, RunOptions, Tracer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod browser;

const FIB_MODULE: &str = "tests/fixtures/bench/fib_bench.wasm";
const RUCHY_MODULE: &str = "tests/fixtures/fibonacci.wasm";

struct Args {
    n: i64,
    reps: usize,
    /// Also measure the browser rows in headless Chromium.
    browser: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        n: 30,
        reps: 11,
        browser: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--n" => {
                args.n = value("--n")
                    .parse()
                    .unwrap_or_else(|_| fail("--n takes an integer"))
            }
            "--reps" => {
                args.reps = value("--reps")
                    .parse()
                    .unwrap_or_else(|_| fail("--reps takes an integer"))
            }
            "--browser" => args.browser = true,
            "-h" | "--help" => {
                println!("usage: ruchy-trace-bench [--n N (default 30)] [--reps R (default 11)] [--browser (Chromium rows too)]");
                std::process::exit(0);
            }
            other => fail(&format!("unknown argument `{other}` (try --help)")),
        }
    }
    args
}

fn fail(msg: &str) -> ! {
    eprintln!("ruchy-trace-bench: error: {msg}");
    std::process::exit(2)
}

/// The repository root, so the harness runs from any directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap_or_else(|e| fail(&format!("cannot read {rel}: {e}")))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Scenario {
    label: &'static str,
    target: &'static str,
    program: Program,
    options: RunOptions,
    times: Vec<Duration>,
    last: Option<Outcome>,
}

fn options(capacity: u64, enabled: bool) -> RunOptions {
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
        filters: filters
            .iter()
            .map(|f| Filter::parse(f).expect("valid filter"))
            .collect(),
        ..Config::default()
    }
}

fn main() {
    let args = parse_args();
    let wasm = read(FIB_MODULE);
    let tracer = Tracer::new(false).unwrap_or_else(|e| fail(&e.to_string()));
    let load = |c: &Config| {
        tracer
            .load(&wasm, c)
            .unwrap_or_else(|e| fail(&e.to_string()))
    };
    // Two events per call; sized so the ring keeps every event.
    let calls = {
        let (mut a, mut b) = (0u64, 1u64);
        for _ in 0..=args.n {
            (a, b) = (b, a + b);
        }
        2 * a - 1
    };
    let capacity = 2 * calls + 16;
    let entry = Entry::Invoke {
        name: "run".into(),
        args: vec![args.n.to_string()],
    };

    let mut scenarios = vec![
        Scenario {
            label: "uninstrumented",
            target: "-",
            program: tracer
                .load_plain(&wasm)
                .unwrap_or_else(|e| fail(&e.to_string())),
            options: options(capacity, true),
            times: vec![],
            last: None,
        },
        Scenario {
            label: "full tracing, args + results + 1 us timestamps (inline)",
            target: "<= 4.0x",
            program: load(&config(Strategy::Inline, true, 1, &[])),
            options: options(capacity, true),
            times: vec![],
            last: None,
        },
        Scenario {
            label: "full tracing, no timestamps (inline)",
            target: "<= 2.5x",
            program: load(&config(Strategy::Inline, false, 1, &[])),
            options: options(capacity, true),
            times: vec![],
            last: None,
        },
        Scenario {
            label: "instrumented, switched off at run time",
            target: "<= 1.03x",
            program: load(&config(Strategy::Inline, true, 1, &[])),
            options: options(capacity, false),
            times: vec![],
            last: None,
        },
        Scenario {
            label: "--trace-sample 1000",
            target: "<= 1.10x",
            program: load(&config(Strategy::Inline, true, 1000, &[])),
            options: options(capacity, true),
            times: vec![],
            last: None,
        },
        Scenario {
            label: "fibonacci excluded by --filter at instrument time",
            target: "1.00x",
            program: load(&config(Strategy::Inline, true, 1, &["!*fibonacci*"])),
            options: options(capacity, true),
            times: vec![],
            last: None,
        },
        Scenario {
            label: "full tracing through host hooks (portable path)",
            target: "-",
            program: load(&config(Strategy::Hooks, true, 1, &[])),
            options: options(capacity, true),
            times: vec![],
            last: None,
        },
    ];

    // Warm up once, then round-robin so drift hits every scenario alike.
    for s in scenarios.iter_mut() {
        s.program
            .run(&entry, &s.options)
            .unwrap_or_else(|e| fail(&e.to_string()));
    }
    // Each repetition compiles every variant anew: where the code lands in
    // memory moves a call-bound loop by tens of percent, and fresh
    // placements let the medians average that out instead of baking one in.
    for _ in 0..args.reps {
        for (i, s) in scenarios.iter_mut().enumerate() {
            let fresh = if i == 0 {
                tracer.load_plain(&wasm)
            } else {
                tracer.load(&s.program.bytes, &Config::default())
            };
            s.program = fresh.unwrap_or_else(|e| fail(&e.to_string()));
            let out = s
                .program
                .run(&entry, &s.options)
                .unwrap_or_else(|e| fail(&e.to_string()));
            s.times.push(out.elapsed);
            s.last = Some(out);
        }
    }
    let peer = binaryen_peer(&wasm, &tracer, &args);

    let base = median(scenarios[0].times.clone());
    let base_result = scenarios[0]
        .last
        .as_ref()
        .map(|o| o.results.clone())
        .unwrap_or_default();
    println!(
        "ruchy-trace benchmark: fib({}) = {} calls, wasmtime, median of {} runs each, side by side",
        args.n, calls, args.reps
    );
    println!();
    println!("| scenario | time | ratio | target | events | ns per event |");
    println!("|---|---|---|---|---|---|");
    let mut full_trace = None;
    for (i, s) in scenarios.iter_mut().enumerate() {
        let t = median(s.times.clone());
        let out = s.last.take().expect("ran");
        assert_eq!(
            out.results, base_result,
            "{}: result differs from the uninstrumented module",
            s.label
        );
        let events = out.trace.stats().total_events;
        // Per-event cost means something only where most calls were traced.
        let per_event = if events >= calls && i > 0 {
            format!(
                "{:.2}",
                (t.as_secs_f64() - base.as_secs_f64()) * 1e9 / events as f64
            )
        } else {
            "-".into()
        };
        println!(
            "| {} | {:.2} ms | {:.2}x | {} | {} | {} |",
            s.label,
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() / base.as_secs_f64(),
            s.target,
            events,
            per_event
        );
        if i == 1 {
            full_trace = Some(out);
        }
    }
    if let Some((t, events)) = peer {
        println!(
            "| peer: Binaryen `wasm-opt --log-execution`, host hook counting | {:.2} ms | {:.2}x | - | {} | {:.2} |",
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() / base.as_secs_f64(),
            events,
            (t.as_secs_f64() - base.as_secs_f64()) * 1e9 / events as f64
        );
    } else {
        println!("| peer: Binaryen `wasm-opt --log-execution` | not run: wasm-opt not installed (apt-get install binaryen) | | | | |");
    }

    if args.browser {
        browser::print_rows(&wasm, args.n, args.reps, calls);
    }

    let full = full_trace.expect("full tracing ran");
    let stats = full.trace.stats();
    let bytes = full.trace.recorded.byte_len() as f64 / stats.kept_events.max(1) as f64;
    println!(
        "| bytes per event in the ring (full tracing) | {bytes:.2} B | | <= 16 | {} | |",
        stats.kept_events
    );

    let ruchy = read(RUCHY_MODULE);
    for (label, scope) in [
        ("own functions", Scope::Own),
        ("every function", Scope::All),
    ] {
        let cfg = Config {
            scope,
            ..Config::default()
        };
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..args.reps {
            let t = Instant::now();
            let out =
                ruchy_trace_instrument::instrument(&ruchy, &cfg).unwrap_or_else(|e| fail(&e.to_string()));
            times.push(t.elapsed());
            count = out.table.functions.len();
        }
        println!(
            "| instrumenting the {:.1} MB Ruchy fibonacci module, {label} ({count}), median | {:.2} ms | | <= 30 ms | | |",
            ruchy.len() as f64 / 1e6,
            median(times).as_secs_f64() * 1e3
        );
    }

    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut f = TextFormatter::new(TextOptions::default());
        let mut out = String::with_capacity(1 << 17);
        let mut total = 0usize;
        f.begin(&full.trace, &mut out);
        for e in full.trace.events() {
            f.event(&full.trace, &e.expect("decodes"), &mut out);
            if out.len() > 1 << 16 {
                total += out.len();
                out.clear();
            }
        }
        f.end(&full.trace, &stats, &mut out);
        total += out.len();
        std::hint::black_box(total);
        times.push(t.elapsed());
    }
    let t = median(times);
    println!(
        "| rendering the text format (decode included) | {:.1} M events/s | | >= 5 M events/s | {} | {:.1} |",
        stats.kept_events as f64 / t.as_secs_f64() / 1e6,
        stats.kept_events,
        t.as_secs_f64() * 1e9 / stats.kept_events as f64
    );
}

/// Binaryen's `--log-execution` pass (a host call at every function entry
/// and loop header), run on the same module with a counting host hook.
fn binaryen_peer(wasm: &[u8], _tracer: &Tracer, args: &Args) -> Option<(Duration, u64)> {
    let dir = std::env::temp_dir().join(format!("ruchy-trace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let input = dir.join("in.wasm");
    let output = dir.join("out.wasm");
    std::fs::write(&input, wasm).ok()?;
    let status = Command::new("wasm-opt")
        .arg("--log-execution")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status()
        .ok()?;
    let logged = std::fs::read(&output).ok();
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return None;
    }
    let logged = logged?;
    use wasmtime::{Engine, Linker, Module, Store};
    let engine = Engine::default();
    let module = Module::new(&engine, &logged).ok()?;
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..=args.reps {
        let mut store = Store::new(&engine, 0u64);
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                "env",
                "log_execution",
                |mut c: wasmtime::Caller<'_, u64>, _id: i32| *c.data_mut() += 1,
            )
            .ok()?;
        let instance = linker.instantiate(&mut store, &module).ok()?;
        let run = instance
            .get_typed_func::<i64, i64>(&mut store, "run")
            .ok()?;
        let t = Instant::now();
        run.call(&mut store, args.n).ok()?;
        times.push(t.elapsed());
        count = *store.data();
    }
    times.remove(0);
    Some((median(times), count))
}
