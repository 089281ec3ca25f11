//! Guest faults: a guest that traps, runs forever or asks for too much
//! memory still yields its whole trace, with open frames closed, and the CLI
//! says what happened with a documented status.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Writes the module a WAT text makes to a temporary file.
fn module(name: &str, wat: &str) -> PathBuf {
    let path = temp(&format!("{name}.wasm"));
    std::fs::write(&path, wat::parse_str(wat).expect("valid WAT")).unwrap();
    path
}

/// Runs `--invoke main` on a module, the JSON trace written to a file;
/// returns the process output and the parsed trace.
fn run_json(name: &str, wasm: &Path, extra: &[&str], args: &[&str]) -> (Output, serde_json::Value) {
    let json = temp(&format!("{name}.json"));
    let mut argv = vec![
        "run",
        "--invoke",
        "main",
        "--format",
        "json",
        "-o",
        json.to_str().unwrap(),
    ];
    argv.extend_from_slice(extra);
    argv.push(wasm.to_str().unwrap());
    argv.push("--");
    argv.extend_from_slice(args);
    let out = ruchy_trace(&argv);
    let trace = serde_json::from_slice(&std::fs::read(&json).expect("the trace was written"))
        .expect("complete JSON");
    (out, trace)
}

/// Counts of (entries, exits, frames closed with `reason`), and checks
/// that the trace balances: every entry is matched by an exit or a close.
fn counts(trace: &serde_json::Value, reason: &str) -> (usize, usize, usize) {
    let events = trace["events"].as_array().expect("events");
    let enters = events
        .iter()
        .filter(|e| e["type"] == "function_enter")
        .count();
    let exits = events
        .iter()
        .filter(|e| e["type"] == "function_exit" && e.get("closed").is_none())
        .count();
    let closed = events
        .iter()
        .filter(|e| e.get("closed").is_some_and(|c| c == reason))
        .count();
    let other = events
        .iter()
        .filter(|e| e.get("closed").is_some_and(|c| c != reason))
        .count();
    assert_eq!(other, 0, "frames closed for another reason than {reason}");
    assert_eq!(enters, exits + closed, "entries balance exits");
    assert_eq!(trace["stats"]["dropped_events"], 0, "nothing lost");
    assert_eq!(
        trace["stats"]["total_events"],
        enters + exits,
        "every recorded event is in the trace"
    );
    (enters, exits, closed)
}

/// The last line of stderr, which names how the guest ended.
fn last_line(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    err.lines().last().unwrap_or_default().to_string()
}

const CHAIN: &str = r#"
(module
  (memory 1)
  (func $leaf (param i32) (result i32) local.get 0 i32.const 1 i32.add)
  (func $b (param i32) (result i32) local.get 0 call $leaf drop FAULT)
  (func $a (param i32) (result i32) local.get 0 call $b)
  (func (export "main") (param i32) (result i32) local.get 0 call $leaf drop local.get 0 call $a))
"#;

/// main -> leaf (returns) -> a -> b -> leaf (returns) -> fault in b:
/// 5 entries, 2 exits, 3 frames closed as trapped.
fn chain_traps(name: &str, fault: &str, arg: &str, trap: &str) {
    let wasm = module(name, &CHAIN.replace("FAULT", fault));
    let (out, trace) = run_json(name, &wasm, &[], &[arg]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    let last = last_line(&out);
    assert!(
        last.starts_with("ruchy-trace: error: guest trapped: ") && last.contains(trap),
        "{last}"
    );
    assert_eq!(counts(&trace, "trapped"), (5, 2, 3));
    let events = trace["events"].as_array().unwrap();
    let closed: Vec<&str> = events[7..]
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(closed.len(), 3);
    assert_eq!(closed[2], "main", "outermost frame is closed last");
    assert_eq!(trace["metadata"]["end"]["kind"], "trapped");
    assert!(
        trace["metadata"]["end"]["message"]
            .as_str()
            .unwrap()
            .contains(trap),
        "{}",
        trace["metadata"]["end"]
    );

    // The text trace says the same, on stderr, before the error line.
    let out = ruchy_trace(&[
        "run",
        "--invoke",
        "main",
        "--no-timestamps",
        wasm.to_str().unwrap(),
        "--",
        arg,
    ]);
    assert_eq!(out.status.code(), Some(134));
    let err = text(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.ends_with("[trapped]")).count(),
        3,
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("# trapped: ") && l.contains(trap)),
        "{err}"
    );
    assert!(last_line(&out).contains(trap));
}

#[test]
fn unreachable_closes_the_chain_as_trapped() {
    chain_traps("unreachable", "unreachable", "1", "unreachable");
}

#[test]
fn divide_by_zero_closes_the_chain_as_trapped() {
    chain_traps(
        "div0",
        "i32.const 7 local.get 0 i32.div_s",
        "0",
        "divide by zero",
    );
}

#[test]
fn out_of_bounds_load_closes_the_chain_as_trapped() {
    chain_traps(
        "oob",
        "i32.const 65536 i32.load",
        "0",
        "out of bounds memory access",
    );
}

#[test]
fn stack_overflow_keeps_every_entry_and_closes_every_frame() {
    let wasm = module(
        "recursion",
        r#"(module
             (func $down (param i32) (result i32) local.get 0 i32.const 1 i32.add call $down)
             (func (export "main") (param i32) (result i32) local.get 0 call $down))"#,
    );
    let (out, trace) = run_json("recursion", &wasm, &["--buffer-size", "100000000"], &["0"]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    let last = last_line(&out);
    assert!(last.contains("call stack exhausted"), "{last}");
    let (enters, exits, closed) = counts(&trace, "trapped");
    assert_eq!(exits, 0);
    assert_eq!(closed, enters);
    assert!(enters > 1000, "deep recursion recorded: {enters}");
    // Every entry is there, in order: the argument counts up from 0.
    let events = trace["events"].as_array().unwrap();
    for (i, e) in events[1..enters].iter().enumerate() {
        assert_eq!(e["args"][0]["value"], i as u64, "entry {i} of $down");
    }
}

const SPIN: &str = r#"(module
  (func $tick (param i32) (result i32) local.get 0)
  (func $spin (loop $l br $l))
  (func (export "main")
    (local i32)
    (loop $l
      local.get 0 call $tick i32.const 1 i32.add local.tee 0
      i32.const 10 i32.lt_u br_if $l)
    call $spin))"#;

#[test]
fn an_endless_loop_stops_at_the_timeout() {
    let wasm = module("spin", SPIN);
    let started = std::time::Instant::now();
    let (out, trace) = run_json("spin", &wasm, &["--timeout", "200ms"], &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(
        took < std::time::Duration::from_secs(20),
        "stopped in time: {took:?}"
    );
    let last = last_line(&out);
    assert!(
        last.starts_with("ruchy-trace: error: guest interrupted: "),
        "{last}"
    );
    // main, ten ticks in and out, spin; main and spin left open.
    assert_eq!(counts(&trace, "interrupted"), (12, 10, 2));
    assert_eq!(trace["metadata"]["end"]["kind"], "interrupted");
}

const GROW: &str = r#"
(module
  (memory 1)
  (func $grow (param i32) (result i32) local.get 0 memory.grow)
  (func (export "main") (param i32) (result i32)
    local.get 0 call $grow
    CHECK))
"#;

#[test]
fn max_memory_makes_memory_grow_fail() {
    // Without a cap, growing by 100 pages (6.25 MiB) succeeds: the old size is 1.
    let wasm = module("grow", &GROW.replace("CHECK", ""));
    let (out, trace) = run_json("grow", &wasm, &[], &["100"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1\n");
    assert_eq!(counts(&trace, "none"), (2, 2, 0));

    // With a 4 MiB cap, memory.grow returns -1 and the guest carries on.
    // (The cap also applies to ruchy-trace's own 17-page trace memory, so a
    // cap under 1.06 MiB refuses to instantiate an inline-strategy module.)
    let (out, trace) = run_json("grow-capped", &wasm, &["--max-memory", "4MiB"], &["100"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "-1\n");
    assert_eq!(counts(&trace, "none"), (2, 2, 0));
    let events = trace["events"].as_array().unwrap();
    assert_eq!(
        events[2]["returns"][0]["value"], -1,
        "the trace shows the failed grow"
    );

    // A guest that treats the failure as fatal traps, and says so.
    let fatal = module(
        "grow-fatal",
        &GROW.replace(
            "CHECK",
            "i32.const -1 i32.eq if unreachable end i32.const 0",
        ),
    );
    let (out, trace) = run_json("grow-fatal", &fatal, &["--max-memory", "4MiB"], &["100"]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    assert!(last_line(&out).contains("unreachable"));
    assert_eq!(counts(&trace, "trapped"), (2, 1, 1));
}

#[test]
fn an_endless_loop_stops_when_its_fuel_runs_out() {
    let wasm = module("spin-fuel", SPIN);
    let (out, trace) = run_json("spin-fuel", &wasm, &["--fuel", "100000"], &[]);
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    let last = last_line(&out);
    assert_eq!(
        last,
        "ruchy-trace: error: guest interrupted: fuel exhausted"
    );
    assert_eq!(counts(&trace, "interrupted"), (12, 10, 2));

    // Enough fuel for a program that ends: it just runs.
    let done = module("tick-fuel", &SPIN.replace("call $spin))", "))"));
    let (out, trace) = run_json("tick-fuel", &done, &["--fuel", "100000"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(counts(&trace, "none"), (11, 11, 0));
}
