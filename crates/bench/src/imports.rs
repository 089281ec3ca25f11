//! The cost of tracing calls out of the guest (`--imports`): a program
//! that prints in a loop (`tests/fixtures/bench/print_loop.ruchy`, one
//! `fd_write` per line), run uninstrumented, traced without and with
//! import calls, round-robin in one process.

use super::{fail, measure, median, ms, ratio, read, Cost};
use ruchy_trace::ruchy_trace_core::{OverflowPolicy, Strategy, TraceOptions};
use ruchy_trace::ruchy_trace_instrument::{self, Config};
use ruchy_trace::{Entry, RunOptions, Tracer};

const PRINT_MODULE: &str = "tests/fixtures/bench/print_loop.wasm";

/// Lines the program prints: 0 to 9999, then the `()` ruchy's transpiler
/// prints after the loop.
const LINES: u64 = 10_001;

/// Prints the table: one row per variant, then the cost per traced
/// import call, the difference between tracing with and without
/// `--imports` divided by the import calls traced.
pub fn print_rows(reps: usize) {
    let wasm = read(PRINT_MODULE);
    let tracer = Tracer::builder()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let instrument = |imports: bool, strategy: Strategy| {
        let config = Config {
            options: TraceOptions {
                strategy,
                ..TraceOptions::default()
            },
            imports,
            ..Config::default()
        };
        ruchy_trace_instrument::instrument(&wasm, &config)
            .unwrap_or_else(|e| fail(&e.to_string()))
            .bytes
    };
    let variants: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("uninstrumented", None),
        (
            "own functions traced, `--imports` off",
            Some(instrument(false, Strategy::Inline)),
        ),
        (
            "own functions and import calls traced, `--imports` (inline)",
            Some(instrument(true, Strategy::Inline)),
        ),
        (
            "own functions and import calls traced, `--imports --hooks`",
            Some(instrument(true, Strategy::Hooks)),
        ),
    ];
    let entry = Entry::Wasi {
        args: vec!["print_loop".into()],
        env: Vec::new(),
        dirs: Vec::new(),
    };
    let options = RunOptions {
        capacity: 1 << 20,
        policy: OverflowPolicy::KeepNewest,
        capture_output: true,
        ..RunOptions::default()
    };
    let mut costs: Vec<Vec<Cost>> = vec![Vec::new(); variants.len()];
    let mut counts = vec![(0u64, 0u64); variants.len()];
    for _ in 0..reps {
        for (i, (label, bytes)) in variants.iter().enumerate() {
            let program = match bytes {
                None => tracer.load_plain(&wasm),
                Some(b) => tracer.load(b, &Config::default()),
            }
            .unwrap_or_else(|e| fail(&e.to_string()));
            let (out, cost) = measure(|| program.run(&entry, &options));
            let out = out.unwrap_or_else(|e| fail(&format!("{label}: {e}")));
            let lines = out.stdout.iter().filter(|&&b| b == b'\n').count() as u64;
            if lines != LINES {
                fail(&format!("{label}: printed {lines} lines, not {LINES}"));
            }
            let imports = out
                .trace
                .events()
                .filter(|e| e.as_ref().is_ok_and(|e| e.function.import.is_some()))
                .count() as u64;
            counts[i] = (out.trace.stats().total_events, imports / 2);
            costs[i].push(cost);
        }
    }
    let t: Vec<Cost> = costs.iter().map(|c| median(c)).collect();
    println!(
        "Import calls (`--imports`): `{PRINT_MODULE}` prints {LINES} lines, one `fd_write` each; ratios against its uninstrumented run, median of {reps}:"
    );
    println!();
    println!("| scenario | wall | CPU (all threads) | wall ratio | CPU ratio | events | import calls traced |");
    println!("|---|---|---|---|---|---|---|");
    for (i, (label, _)) in variants.iter().enumerate() {
        println!(
            "| print loop: {label} | {} | {} | {} | {} | {} | {} |",
            ms(t[i].wall),
            ms(t[i].cpu),
            ratio(t[i].wall, t[0].wall),
            ratio(t[i].cpu, t[0].cpu),
            counts[i].0,
            counts[i].1,
        );
    }
    for (i, path) in [(2, "inline"), (3, "hooks")] {
        let calls = counts[i].1.max(1) as f64;
        let per = |on: std::time::Duration, off: std::time::Duration| {
            (on.as_secs_f64() - off.as_secs_f64()) * 1e9 / calls
        };
        println!(
            "| cost per traced import call ({path}; with `--imports` minus without, over {} calls) | {:.0} ns | {:.0} ns | | | | |",
            counts[i].1,
            per(t[i].wall, t[1].wall),
            per(t[i].cpu, t[1].cpu),
        );
    }
    println!();
}
