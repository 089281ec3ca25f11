//! Calls out of the guest, traced as import calls through the wrappers the
//! import pre-pass adds (`Config::imports`).

use ruchy_trace::ruchy_trace_core::decode::RunEnd;
use ruchy_trace::ruchy_trace_core::format::{
    ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
};
use ruchy_trace::ruchy_trace_core::wasi::{self, WasiValue};
use ruchy_trace::ruchy_trace_core::{CloseReason, EventKind, Trace, ValType, Value};
use ruchy_trace::ruchy_trace_instrument::{Config, Limits, Scope, Strategy, TraceOptions};
use ruchy_trace::{Entry, RunOptions, Tracer};

/// One event, reduced to what the tests compare.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    kind: EventKind,
    name: String,
    import: bool,
    depth: u32,
    values: Vec<Value>,
}

fn events(trace: &Trace) -> Vec<Seen> {
    trace
        .events()
        .map(Result::unwrap)
        .map(|e| Seen {
            kind: e.kind,
            name: e.function.name.clone(),
            import: e.function.import.is_some(),
            depth: e.depth,
            values: e.values().collect(),
        })
        .collect()
}

fn wasi() -> Entry {
    Entry::Wasi {
        args: vec!["prog".into()],
        env: Vec::new(),
        dirs: Vec::new(),
    }
}

fn run(wasm: &[u8], config: &Config) -> (Trace, Vec<u8>) {
    let (trace, stdout, _) = run_capturing(wasm, config);
    (trace, stdout)
}

fn fibonacci() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/fibonacci.wasm"
    ))
    .unwrap()
}

fn with_imports(strategy: Strategy) -> Config {
    Config {
        options: TraceOptions {
            strategy,
            ..TraceOptions::default()
        },
        imports: true,
        ..Config::default()
    }
}

fn render(f: &mut dyn Formatter, trace: &Trace) -> String {
    let mut out = String::new();
    f.begin(trace, &mut out);
    for e in trace.events() {
        f.event(trace, &e.unwrap(), &mut out);
    }
    f.end(trace, &trace.stats(), &mut out);
    out
}

/// With import tracing on, fibonacci's `fd_write` calls appear inside
/// `main`'s frame, one level deeper than the caller that made them, each
/// entry directly followed by its own exit with one i32 result, on both
/// delivery paths; the program's own events are exactly those of a run
/// with import tracing off.
#[test]
fn fd_write_calls_sit_inside_main_and_leave_own_events_unchanged() {
    let wasm = fibonacci();
    let (plain, plain_out) = run(&wasm, &Config::default());
    assert_eq!(plain_out, b"5\n");
    assert!(plain.table.functions.iter().all(|f| f.import.is_none()));
    let plain = events(&plain);
    for strategy in [Strategy::Inline, Strategy::Hooks] {
        let (trace, out) = run(&wasm, &with_imports(strategy));
        assert_eq!(out, b"5\n", "{strategy:?}");
        let seen = events(&trace);
        let own: Vec<Seen> = seen.iter().filter(|e| !e.import).cloned().collect();
        // Depths of own events are unchanged too: imports are leaves.
        assert_eq!(own, plain, "{strategy:?}: own events differ");
        let main_enter = seen
            .iter()
            .position(|e| e.name == "main" && e.kind == EventKind::Enter)
            .expect("main is traced");
        let main_exit = seen
            .iter()
            .position(|e| e.name == "main" && e.kind == EventKind::Exit)
            .expect("main returns");
        let writes: Vec<usize> = seen
            .iter()
            .enumerate()
            .filter(|(_, e)| e.name == "wasi_snapshot_preview1::fd_write")
            .map(|(i, _)| i)
            .collect();
        assert!(!writes.is_empty(), "{strategy:?}: no fd_write traced");
        assert_eq!(writes.len() % 2, 0, "{strategy:?}: unbalanced fd_write");
        for pair in writes.chunks(2) {
            let (enter, exit) = (&seen[pair[0]], &seen[pair[1]]);
            assert_eq!(pair[1], pair[0] + 1, "{strategy:?}: fd_write calls nothing");
            assert!(enter.import && exit.import);
            assert_eq!(enter.kind, EventKind::Enter);
            assert_eq!(exit.kind, EventKind::Exit);
            assert!(
                main_enter < pair[0] && pair[1] < main_exit,
                "{strategy:?}: fd_write outside main"
            );
            assert!(enter.depth > seen[main_enter].depth);
            assert_eq!(enter.depth, exit.depth);
            // fd_write(fd, iovs, iovs_len, nwritten) -> errno, fd 1.
            assert_eq!(enter.values.len(), 4);
            assert_eq!(enter.values[0], Value::I32(1), "written to stdout");
            assert_eq!(exit.values, vec![Value::I32(0)], "errno success");
            // The caller is the nearest open own frame one level up.
            let caller = seen[..pair[0]]
                .iter()
                .rev()
                .find(|e| e.depth + 1 == enter.depth)
                .unwrap();
            assert_eq!(caller.kind, EventKind::Enter);
            assert!(!caller.import);
        }
    }
}

/// Import calls are their own kind of event in every format: text shows
/// `module::field` with WASI's decoded values (fibonacci's one write:
/// `"5\n"` to stdout, 2 bytes written), JSON `import_enter` and
/// `import_exit`, Chrome category `import`.
#[test]
fn formats_show_import_calls_as_their_own_kind() {
    let (trace, _) = run(&fibonacci(), &with_imports(Strategy::Inline));
    let text = render(
        &mut TextFormatter::new(TextOptions {
            indent: false,
            timestamps: false,
        }),
        &trace,
    );
    // Without durations, which vary.
    let writes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" wasi_snapshot_preview1::fd_write("))
        .map(|l| {
            l.strip_suffix("ms]")
                .and_then(|l| l.rsplit_once(" ["))
                .map_or(l, |(line, _)| line)
        })
        .collect();
    assert_eq!(
        writes,
        [
            r#"-> wasi_snapshot_preview1::fd_write(fd: 1 <stdout>, iovs: ["5\n"])"#,
            "<- wasi_snapshot_preview1::fd_write() = 0 (nwritten: 2)",
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&render(
        &mut JsonFormatter::new(JsonOptions::default()),
        &trace,
    ))
    .unwrap();
    let events = json["events"].as_array().unwrap();
    let kinds = |name: &str| -> Vec<&str> {
        events
            .iter()
            .filter(|e| e["name"] == name)
            .map(|e| e["type"].as_str().unwrap())
            .collect()
    };
    let writes = kinds("wasi_snapshot_preview1::fd_write");
    assert!(!writes.is_empty());
    assert!(writes
        .chunks(2)
        .all(|p| p == ["import_enter", "import_exit"]));
    assert_eq!(kinds("main"), ["function_enter", "function_exit"]);
    let chrome: serde_json::Value =
        serde_json::from_str(&render(&mut ChromeFormatter::default(), &trace)).unwrap();
    for e in chrome["traceEvents"].as_array().unwrap() {
        match e["name"].as_str().unwrap() {
            "process_name" => {}
            n if n.starts_with("wasi_snapshot_preview1::") => assert_eq!(e["cat"], "import"),
            _ => assert_eq!(e["cat"], "wasm"),
        }
    }
}

/// An import the WASI table does not know is traced under its
/// `module::field` name with its wasm signature and no parameter names, so
/// its values show wasm-typed.
#[test]
fn unknown_import_shows_wasm_typed_values() {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "note" (func $note (param i64) (result f32)))
            (func (export "run") (result f32) (call $note (i64.const -2))))"#,
    )
    .unwrap();
    let program = Tracer::new()
        .unwrap()
        .load(
            &wasm,
            &Config {
                scope: Scope::All,
                ..with_imports(Strategy::Hooks)
            },
        )
        .unwrap();
    let mut imports = program
        .table()
        .functions
        .iter()
        .filter(|f| f.import.is_some());
    let note = imports.next().unwrap();
    assert_eq!(note.name, "env::note");
    assert!(note.param_names.is_empty());
    assert!(imports.next().is_none());
    assert_eq!(note.params, [ValType::I64]);
    assert_eq!(note.results, [ValType::F32]);
}

/// `proc_exit` called three frames deep ends the run inside the host call:
/// the host closes the import frame first, then its callers innermost
/// first, all as exited, on both delivery paths.
#[test]
fn proc_exit_inside_nested_frames_closes_them_in_order() {
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func $inner (param i32) (call $exit (local.get 0)))
            (func $middle (call $inner (i32.const 3)))
            (func $outer (call $middle))
            (func (export "_start") (call $outer)))"#,
    )
    .unwrap();
    for strategy in [Strategy::Inline, Strategy::Hooks] {
        let config = Config {
            scope: Scope::All,
            ..with_imports(strategy)
        };
        let (trace, _) = run(&wasm, &config);
        let seen: Vec<(EventKind, String, u32)> = events(&trace)
            .into_iter()
            .map(|e| (e.kind, e.name, e.depth))
            .collect();
        let exited = EventKind::Closed(CloseReason::Exited);
        let names = ["_start", "$outer", "$middle", "$inner"];
        let name_of = |i: usize| {
            seen.iter()
                .filter(|(k, _, d)| *k == EventKind::Enter && *d == i as u32)
                .map(|(_, n, _)| n.clone())
                .next()
                .unwrap()
        };
        // Names of unnamed-by-export functions come from the name section.
        assert_eq!(name_of(0), names[0], "{strategy:?}: {seen:?}");
        let frames: Vec<String> = (0..4).map(name_of).collect();
        let mut expected: Vec<(EventKind, String, u32)> = frames
            .iter()
            .enumerate()
            .map(|(d, n)| (EventKind::Enter, n.clone(), d as u32))
            .collect();
        expected.push((
            EventKind::Enter,
            "wasi_snapshot_preview1::proc_exit".into(),
            4,
        ));
        expected.push((exited, "wasi_snapshot_preview1::proc_exit".into(), 4));
        for d in (0..4).rev() {
            expected.push((exited, frames[d].clone(), d as u32));
        }
        assert_eq!(seen, expected, "{strategy:?}");
        let proc_exit = trace
            .events()
            .map(Result::unwrap)
            .find(|e| e.function.import.is_some() && e.kind == EventKind::Enter)
            .unwrap();
        assert_eq!(proc_exit.values().collect::<Vec<_>>(), [Value::I32(3)]);
    }
}

fn ruchy_trace(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ruchy-trace"))
        .args(args)
        .output()
        .expect("runs ruchy-trace")
}

const FIBONACCI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/fibonacci.wasm"
);

/// `ruchy-trace run --imports` shows the one `fd_write` that prints `5`
/// inside `main`, one level deeper, with the bytes it wrote and the count
/// the host wrote back; without `--imports` the trace
/// has no import call at all.
#[test]
fn cli_run_with_imports_shows_fd_write_inside_main() {
    let lines = |args: &[&str]| -> Vec<String> {
        let out = ruchy_trace(args);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, b"5\n");
        String::from_utf8(out.stderr)
            .unwrap()
            .lines()
            .filter(|l| !l.contains("fibonacci("))
            .map(String::from)
            .collect()
    };
    let with = lines(&["run", "--imports", "--no-timestamps", "--indent", FIBONACCI]);
    assert_eq!(
        with,
        [
            "-> main() <fibonacci.ruchy:8:5>",
            r#"  -> wasi_snapshot_preview1::fd_write(fd: 1 <stdout>, iovs: ["5\n"])"#,
            "  <- wasi_snapshot_preview1::fd_write() = 0 (nwritten: 2)",
            "<- main()",
            "# events: 34 kept, 0 lost",
        ]
    );
    let without = lines(&["run", "--no-timestamps", "--indent", FIBONACCI]);
    assert_eq!(
        without,
        [
            "-> main() <fibonacci.ruchy:8:5>",
            "<- main()",
            "# events: 32 kept, 0 lost",
        ]
    );
}

/// A recorded `.rtrace` keeps import calls and what was read at the time
/// of the call: replayed as JSON, the `fd_write` pair is `import_enter`
/// with the bytes written / `import_exit` with the errno's name and
/// `nwritten`.
#[test]
fn cli_record_and_replay_keep_import_calls() {
    let path =
        std::env::temp_dir().join(format!("ruchy-trace-imports-{}.rtrace", std::process::id()));
    let path = path.to_str().unwrap();
    let out = ruchy_trace(&["record", "--imports", "-o", path, FIBONACCI]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ruchy_trace(&["replay", "--format", "json", path]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(path).ok();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .or_else(|_| serde_json::from_slice(&out.stderr))
        .unwrap();
    let imports: Vec<&serde_json::Value> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "wasi_snapshot_preview1::fd_write")
        .collect();
    assert_eq!(imports.len(), 2);
    assert_eq!(imports[0]["type"], "import_enter");
    assert_eq!(
        imports[0]["args"],
        serde_json::json!([
            {"name": "fd", "value": 1, "stream": "stdout"},
            {"name": "iovs", "value": ["5\n"]},
        ])
    );
    assert_eq!(imports[1]["type"], "import_exit");
    assert_eq!(imports[1]["returns"][0]["value"], 0);
    assert_eq!(imports[1]["returns"][0]["errno"], "SUCCESS");
    assert_eq!(
        imports[1]["outputs"],
        serde_json::json!([{"name": "nwritten", "value": 2}])
    );
    assert_eq!(imports[0]["depth"], imports[1]["depth"]);
}

/// The bytes every traced `fd_write` to `fd` wrote, in trace order: the
/// buffers decoded at entry, cut to the `nwritten` its exit read back.
fn written(trace: &Trace, fd: i64) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut calls = 0;
    let mut pending: Option<(i64, Vec<u8>)> = None;
    for e in trace.events().map(Result::unwrap) {
        let Some(call) = wasi::decode(&e, trace.table.limits) else {
            continue;
        };
        if call.function.name != "fd_write" {
            continue;
        }
        let value = |name: &str| {
            call.args
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.value.clone())
        };
        match e.kind {
            EventKind::Enter => {
                let Some(WasiValue::Fd(f)) = value("fd") else {
                    panic!("fd_write without fd: {call:?}")
                };
                let Some(iovs @ WasiValue::List { .. }) = value("iovs") else {
                    panic!("fd_write without iovs: {call:?}")
                };
                assert!(!iovs.is_cut(), "cut although the limits are large");
                let WasiValue::List { items, .. } = iovs else {
                    unreachable!()
                };
                let mut bytes = Vec::new();
                for item in items {
                    let WasiValue::Bytes { data, .. } = item else {
                        panic!("unreadable iovec: {item:?}")
                    };
                    bytes.extend_from_slice(&data);
                }
                assert!(pending.replace((f, bytes)).is_none(), "nested fd_write");
            }
            _ => {
                let (f, bytes) = pending.take().expect("fd_write exit without entry");
                assert_eq!(call.errno, Some(0), "fd_write failed");
                let Some(WasiValue::UInt(n)) = value("nwritten") else {
                    panic!("fd_write exit without nwritten: {call:?}")
                };
                if f == fd {
                    out.extend_from_slice(&bytes[..n as usize]);
                    calls += 1;
                }
            }
        }
    }
    (out, calls)
}

/// Every fixture (the eight programs of `tests/fixtures/` and the 50 of
/// its corpus), run with import tracing on the inline and the hook path:
/// the bytes of its traced `fd_write` calls to descriptor 1, concatenated
/// in trace order and cut to each call's `nwritten`, are exactly what the
/// guest wrote to stdout, and those to descriptor 2 exactly its stderr:
/// 116 runs, every one printing, 198 `fd_write` calls in all.
#[test]
fn every_fixture_fd_write_bytes_equal_its_stdout_and_stderr() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
    let mut modules: Vec<std::path::PathBuf> = ["", "/corpus"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(format!("{dir}{sub}")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    modules.sort();
    assert_eq!(modules.len(), 58, "fixtures: {modules:?}");
    let limits = Limits {
        max_string: 1 << 20,
        max_elements: 1 << 10,
    };
    let (mut runs, mut printing, mut calls) = (0, 0, 0);
    for path in &modules {
        let wasm = std::fs::read(path).unwrap();
        for strategy in [Strategy::Inline, Strategy::Hooks] {
            let config = Config {
                limits,
                ..with_imports(strategy)
            };
            let (trace, stdout, stderr) = run_capturing(&wasm, &config);
            let name = format!("{} {strategy:?}", path.display());
            let (out, n) = written(&trace, 1);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&stdout),
                "{name}: stdout"
            );
            assert_eq!(out, stdout, "{name}: stdout bytes");
            let (err, m) = written(&trace, 2);
            assert_eq!(err, stderr, "{name}: stderr bytes");
            runs += 1;
            printing += usize::from(n + m > 0);
            calls += n + m;
        }
    }
    eprintln!("{runs} runs, {printing} printing, {calls} fd_write calls compared");
    assert_eq!(runs, 116);
    // Every fixture prints: a program without output would compare nothing.
    assert_eq!(printing, 116);
    assert_eq!(calls, 198, "fd_write calls compared");
}

fn run_capturing(wasm: &[u8], config: &Config) -> (Trace, Vec<u8>, Vec<u8>) {
    let program = Tracer::new().unwrap().load(wasm, config).unwrap();
    let outcome = program
        .run(
            &wasi(),
            &RunOptions {
                capture_output: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
    (outcome.trace, outcome.stdout, outcome.stderr)
}

/// `proc_exit(7)` called from the bottom of a 300-deep recursion ends the
/// run inside the host call: the import's frame is closed first, then
/// every one of the 301 recursive frames innermost first, then `_start`,
/// all as exited, with `proc_exit(code: 7)` decoded, on both delivery
/// paths; the run ends with status 7.
#[test]
fn proc_exit_from_deep_recursion_closes_every_frame_innermost_first() {
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func $down (param i32)
                (if (i32.eqz (local.get 0))
                    (then (call $exit (i32.const 7)))
                    (else (call $down (i32.sub (local.get 0) (i32.const 1))))))
            (func (export "_start") (call $down (i32.const 300))))"#,
    )
    .unwrap();
    for strategy in [Strategy::Inline, Strategy::Hooks] {
        let config = Config {
            scope: Scope::All,
            ..with_imports(strategy)
        };
        let (trace, _) = run(&wasm, &config);
        assert_eq!(trace.end, RunEnd::Exited(7), "{strategy:?}");
        let seen: Vec<(EventKind, String, u32)> = events(&trace)
            .into_iter()
            .map(|e| (e.kind, e.name, e.depth))
            .collect();
        let exited = EventKind::Closed(CloseReason::Exited);
        let down = seen[1].1.clone();
        let exit = "wasi_snapshot_preview1::proc_exit".to_string();
        let mut expected = vec![(EventKind::Enter, "_start".to_string(), 0)];
        expected.extend((1..=301).map(|d| (EventKind::Enter, down.clone(), d)));
        expected.push((EventKind::Enter, exit.clone(), 302));
        expected.push((exited, exit, 302));
        expected.extend((1..=301).rev().map(|d| (exited, down.clone(), d)));
        expected.push((exited, "_start".to_string(), 0));
        assert_eq!(seen.len(), 606, "{strategy:?}");
        assert_eq!(seen, expected, "{strategy:?}");
        let text = render(
            &mut TextFormatter::new(TextOptions {
                indent: false,
                timestamps: false,
            }),
            &trace,
        );
        let exit: Vec<&str> = text.lines().filter(|l| l.contains("proc_exit(")).collect();
        assert_eq!(exit.len(), 2, "{strategy:?}: {text}");
        assert_eq!(exit[0], "-> wasi_snapshot_preview1::proc_exit(code: 7)");
        assert!(
            exit[1].starts_with("<- wasi_snapshot_preview1::proc_exit() [exited]"),
            "{strategy:?}: {}",
            exit[1]
        );
    }
}
