//! Calls out of the guest, traced as import calls through the wrappers the
//! import pre-pass adds (`Config::imports`).

use ruchy_trace::ruchy_trace_core::format::{
    ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
};
use ruchy_trace::ruchy_trace_core::{CloseReason, EventKind, Trace, ValType, Value};
use ruchy_trace::ruchy_trace_instrument::{Config, Scope, Strategy, TraceOptions};
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
    let program = Tracer::new(false).unwrap().load(wasm, config).unwrap();
    let outcome = program
        .run(
            &wasi(),
            &RunOptions {
                capture_output: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
    (outcome.trace, outcome.stdout)
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
/// `module::field` with WASI's parameter names and the stream `fd` names,
/// JSON `import_enter` and
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
    let enter = text
        .lines()
        .find(|l| l.starts_with("-> wasi_snapshot_preview1::fd_write("))
        .expect("fd_write entry line");
    assert!(
        enter.starts_with("-> wasi_snapshot_preview1::fd_write(fd: i32 = 1 <stdout>, iovs: i32 = "),
        "{enter}"
    );
    assert!(
        enter.contains(", iovs_len: i32 = 1, nwritten: i32 = "),
        "{enter}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<- wasi_snapshot_preview1::fd_write() = 0")),
        "{text}"
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
    let program = Tracer::new(false)
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
/// inside `main`, decoded, one level deeper; without `--imports` the trace
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
            "  -> wasi_snapshot_preview1::fd_write(fd: i32 = 1 <stdout>, iovs: i32 = 1048296, iovs_len: i32 = 1, nwritten: i32 = 1048292)",
            "  <- wasi_snapshot_preview1::fd_write() = 0",
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

/// A recorded `.rtrace` keeps import calls: replayed as JSON, the
/// `fd_write` pair is `import_enter` / `import_exit` with its arguments.
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
    assert_eq!(imports[0]["args"][0]["name"], "fd");
    assert_eq!(imports[0]["args"][0]["value"], 1);
    assert_eq!(imports[1]["type"], "import_exit");
    assert_eq!(imports[1]["returns"][0]["value"], 0);
    assert_eq!(imports[0]["depth"], imports[1]["depth"]);
}
