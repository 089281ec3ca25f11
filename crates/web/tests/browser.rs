//! Tests of the browser host, run in headless Chromium by
//! `wasm-bindgen-test-runner` (see `ci/browser-tests.sh`).
#![cfg(target_arch = "wasm32")]

use ruchy_trace_web::{instrument, run, RunResult};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const FIBONACCI: &[u8] = include_bytes!("../../../tests/fixtures/fibonacci.wasm");
const PANIC: &[u8] = include_bytes!("../../../tests/fixtures/panic.wasm");

fn options(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

async fn run_ok(bytes: &[u8], json: &str) -> RunResult {
    match run(bytes.to_vec(), options(json)).await {
        Ok(r) => r,
        Err(e) => panic!("run failed: {:?}", JsValue::from(e)),
    }
}

async fn run_err(bytes: &[u8], json: &str) -> String {
    match run(bytes.to_vec(), options(json)).await {
        Ok(_) => panic!("run should have failed"),
        Err(e) => {
            let v = JsValue::from(e);
            js_sys::Reflect::get(&v, &"message".into())
                .unwrap()
                .as_string()
                .unwrap()
        }
    }
}

fn first_line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines().find(|l| l.contains(needle)).unwrap_or("")
}

#[wasm_bindgen_test]
async fn fibonacci_with_hooks() {
    let r = run_ok(FIBONACCI, r#"{"strategy": "hooks"}"#).await;
    assert_eq!(r.stdout(), "5\n");
    assert_eq!(r.end(), "returned");
    assert_eq!(r.exit_code(), Some(0));
    assert_eq!(r.calls("fibonacci"), 15.0);
    let text = r.text(false, false);
    assert!(
        first_line_with(&text, "-> fibonacci(").starts_with("-> fibonacci(n: i64 = 5)"),
        "{text}"
    );
    assert!(text.contains("<- fibonacci() = 5"), "{text}");
    let wasm_types = run_ok(FIBONACCI, r#"{"wasmTypes": true}"#).await;
    let text = wasm_types.text(false, false);
    assert!(
        first_line_with(&text, "-> fibonacci(").starts_with("-> fibonacci(i64=5)"),
        "{text}"
    );
}

#[wasm_bindgen_test]
async fn fibonacci_inline_fast_path_gives_the_same_calls() {
    let r = run_ok(FIBONACCI, r#"{"strategy": "inline"}"#).await;
    assert_eq!(r.stdout(), "5\n");
    assert_eq!(r.calls("fibonacci"), 15.0);
    let hooks = run_ok(FIBONACCI, r#"{"strategy": "hooks", "timestamps": false}"#).await;
    let inline = run_ok(FIBONACCI, r#"{"strategy": "inline", "timestamps": false}"#).await;
    assert_eq!(hooks.text(true, false), inline.text(true, false));
}

#[wasm_bindgen_test]
async fn formats_are_valid_json() {
    let r = run_ok(FIBONACCI, "{}").await;
    let json = js_sys::JSON::parse(&r.json()).expect("JSON trace parses");
    let events = js_sys::Reflect::get(&json, &"events".into()).unwrap();
    assert!(js_sys::Array::from(&events).length() >= 30);
    let chrome = js_sys::JSON::parse(&r.chrome()).expect("Chrome trace parses");
    assert!(chrome.is_object());
}

#[wasm_bindgen_test]
async fn sampling_switch_and_ring_size() {
    let off = run_ok(FIBONACCI, r#"{"enabled": false}"#).await;
    assert_eq!(off.kept(), 0.0);
    assert_eq!(off.stdout(), "5\n");
    let sampled = run_ok(FIBONACCI, r#"{"sample": 3}"#).await;
    assert!(sampled.calls("fibonacci") < 15.0 && sampled.calls("fibonacci") > 0.0);
    let small = run_ok(FIBONACCI, r#"{"capacity": 10}"#).await;
    assert_eq!(small.kept(), 10.0);
    assert!(small.lost() > 0.0);
    let filtered = run_ok(FIBONACCI, r#"{"filter": "!fibonacci"}"#).await;
    assert_eq!(filtered.calls("fibonacci"), 0.0);
}

#[wasm_bindgen_test]
async fn plain_run_is_not_traced() {
    let r = run_ok(FIBONACCI, r#"{"plain": true}"#).await;
    assert!(!r.instrumented());
    assert_eq!(r.stdout(), "5\n");
    assert_eq!(r.kept(), 0.0);
}

#[wasm_bindgen_test]
async fn trap_closes_open_frames() {
    let r = run_ok(PANIC, "{}").await;
    assert_eq!(r.end(), "trapped");
    assert!(r.stderr().contains("value too large"), "{}", r.stderr());
    assert_eq!(r.stdout(), "3\n");
    let text = r.text(false, false);
    assert!(text.contains("<- check() [trapped]"), "{text}");
}

#[wasm_bindgen_test]
async fn bad_input_is_a_clear_error() {
    let msg = run_err(b"hello, I am a text file\n", "{}").await;
    assert!(msg.contains("not a WebAssembly module"), "{msg}");
    let msg = run_err(b"", "{}").await;
    assert!(msg.contains("empty"), "{msg}");
    let msg = run_err(&FIBONACCI[..FIBONACCI.len() / 2], "{}").await;
    assert!(msg.contains("invalid WebAssembly module"), "{msg}");
    let msg = run_err(FIBONACCI, r#"{"strategy": "fast"}"#).await;
    assert!(msg.contains("strategy"), "{msg}");
    // Still works after errors.
    assert_eq!(run_ok(FIBONACCI, "{}").await.calls("fibonacci"), 15.0);
}

#[wasm_bindgen_test]
fn instrument_reports_the_table() {
    let out =
        instrument(FIBONACCI, JsValue::UNDEFINED).unwrap_or_else(|_| panic!("instrument failed"));
    assert!(out.function_names().iter().any(|n| n == "fibonacci"));
    assert_eq!(&out.bytes()[..4], b"\0asm");
}

const FIB_BENCH: &[u8] = include_bytes!("../../../tests/fixtures/bench/fib_bench.wasm");

#[wasm_bindgen_test]
async fn invoke_an_export_with_typed_arguments() {
    let r = run_ok(
        FIB_BENCH,
        r#"{"invoke": "run", "invokeArgs": ["20"], "scope": "all"}"#,
    )
    .await;
    assert_eq!(r.results(), vec!["6765".to_string()]);
    assert_eq!(r.calls("fibonacci"), 21891.0);
    let msg = run_err(FIB_BENCH, r#"{"invoke": "nope"}"#).await;
    assert!(
        msg.contains("no function `nope`") && msg.contains("run"),
        "{msg}"
    );
    let msg = run_err(FIB_BENCH, r#"{"invoke": "run", "invokeArgs": ["x"]}"#).await;
    assert!(msg.contains("not a valid i64"), "{msg}");
}

const STRINGS: &[u8] = include_bytes!("../../../tests/fixtures/strings.wasm");
const STRINGS_RUCHY: &str = include_str!("../../../tests/fixtures/strings.ruchy");
const STRUCTS: &[u8] = include_bytes!("../../../tests/fixtures/structs.wasm");
const STRUCTS_RUCHY: &str = include_str!("../../../tests/fixtures/structs.ruchy");
const VALUES: &[u8] = include_bytes!("../../../tests/fixtures/values/values.wasm");

fn with_source(strategy: &str, source: &str, name: &str) -> String {
    let o = js_sys::Object::new();
    let set = |k: &str, v: &str| js_sys::Reflect::set(&o, &k.into(), &v.into()).unwrap();
    set("strategy", strategy);
    js_sys::Reflect::set(&o, &"timestamps".into(), &false.into()).unwrap();
    set("source", source);
    set("sourceName", name);
    js_sys::JSON::stringify(&o).unwrap().as_string().unwrap()
}

/// Strings and structs are read from guest memory while the call happens,
/// by the native host's walker: the lines are the ones `ruchy-trace run
/// --no-timestamps` prints for the same fixtures, on both delivery paths.
#[wasm_bindgen_test]
async fn strings_and_structs_read_from_guest_memory_as_the_cli_does() {
    for strategy in ["hooks", "inline"] {
        let r = run_ok(
            STRINGS,
            &with_source(strategy, STRINGS_RUCHY, "strings.ruchy"),
        )
        .await;
        assert_eq!(r.stdout(), "Hello, Ada!\nHELLO, BOB!\n");
        let text = r.text(false, false);
        for line in [
            r#"-> greet(name: String = "Ada") <strings.ruchy:1:5>"#,
            r#"<- greet() = "Hello, Ada!""#,
            r#"-> shout(s: String = "Hello, Bob!") <strings.ruchy:5:5>"#,
            r#"<- shout() = "HELLO, BOB!""#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{strategy}: no line {line:?} in\n{text}"
            );
        }
        let r = run_ok(
            STRUCTS,
            &with_source(strategy, STRUCTS_RUCHY, "structs.ruchy"),
        )
        .await;
        let text = r.text(false, false);
        for line in [
            "-> manhattan(p: Point = Point { x: 3, y: -4 }) <structs.ruchy:6:5>",
            "<- manhattan() = 7",
            "-> shift(p: Point = Point { x: 1, y: 2 }, dx: i64 = 5) <structs.ruchy:10:5>",
            "<- shift() = Point { x: 6, y: 2 }",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{strategy}: no line {line:?} in\n{text}"
            );
        }
    }
}

/// A pointer into nowhere reads as `<unreadable 0x…>` and the run goes on,
/// as on the native host.
#[wasm_bindgen_test]
async fn a_corrupted_pointer_reads_as_unreadable() {
    let r = run_ok(
        VALUES,
        r#"{"invoke": "run", "invokeArgs": ["3"], "filter": "!*abs*", "timestamps": false}"#,
    )
    .await;
    assert_eq!(r.results(), vec!["14".to_string()]);
    let text = r.text(false, false);
    assert!(
        text.lines()
            .any(|l| l == "-> ignore(p: &Point = &<unreadable 0x7ffffff0>) <values.rs:18>"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "-> norm1(p: &Point = &Point { x: 3, y: -4 }) <values.rs:26>"),
        "{text}"
    );
}

/// The page's per-function table is `ruchy_trace_core::profile`'s: a
/// recursive function's total counts every call (15 nested fibonacci
/// calls add up to more than the outermost call), and the self times add
/// up to the outermost calls' time.
#[wasm_bindgen_test]
async fn the_function_table_is_the_core_profile() {
    let r = run_ok(FIBONACCI, "{}").await;
    let json = js_sys::JSON::parse(&r.functions_json()).unwrap();
    let get = |v: &JsValue, k: &str| js_sys::Reflect::get(v, &k.into()).unwrap();
    let functions = js_sys::Array::from(&get(&json, "functions"));
    let report = js_sys::Array::from(&get(&json, "report"));
    let row = report
        .iter()
        .find(|row| {
            let id = get(row, "id").as_f64().unwrap() as u32;
            get(&functions.get(id), "name").as_string().as_deref() == Some("fibonacci")
        })
        .expect("a fibonacci row");
    assert_eq!(get(&row, "calls").as_f64(), Some(15.0));
    let self_sum: f64 = report
        .iter()
        .map(|r| get(&r, "self_us").as_f64().unwrap())
        .sum();
    assert_eq!(self_sum, get(&json, "root_total_us").as_f64().unwrap());
    let fib_location = functions
        .iter()
        .find(|f| get(f, "name").as_string().as_deref() == Some("fibonacci"))
        .unwrap();
    assert_eq!(get(&fib_location, "line").as_f64(), Some(1.0));
}

/// A JS exception thrown by a host import through instrumented frames:
/// the trace closes those frames, and the run ends exactly as it does
/// uninstrumented (same message, same output).
#[wasm_bindgen_test]
async fn an_exception_from_a_host_import_closes_the_frames_it_unwinds() {
    let wasm = wat::parse_str(
        r#"(module
          (import "env" "boom" (func $boom (param i32)))
          (func $inner (param i32) (call $boom (local.get 0)))
          (func $outer (param i32) (call $inner (i32.add (local.get 0) (i32.const 1))))
          (func (export "run") (param i32) (call $outer (local.get 0))))"#,
    )
    .unwrap();
    let ended = |plain: bool| {
        let o = js_sys::Object::new();
        let env = js_sys::Object::new();
        let boom =
            js_sys::Function::new_with_args("n", "throw new Error('host import failed on ' + n)");
        js_sys::Reflect::set(&env, &"boom".into(), &boom).unwrap();
        let imports = js_sys::Object::new();
        js_sys::Reflect::set(&imports, &"env".into(), &env).unwrap();
        js_sys::Reflect::set(&o, &"imports".into(), &imports).unwrap();
        js_sys::Reflect::set(&o, &"invoke".into(), &"run".into()).unwrap();
        let args = js_sys::Array::of1(&"41".into());
        js_sys::Reflect::set(&o, &"invokeArgs".into(), &args).unwrap();
        js_sys::Reflect::set(&o, &"plain".into(), &plain.into()).unwrap();
        run(wasm.clone(), o.into())
    };
    let plain = match ended(true).await {
        Ok(r) => r,
        Err(e) => panic!("plain run failed: {:?}", JsValue::from(e)),
    };
    let traced = match ended(false).await {
        Ok(r) => r,
        Err(e) => panic!("traced run failed: {:?}", JsValue::from(e)),
    };
    assert_eq!(plain.summary(), "trapped: host import failed on 42");
    assert_eq!(traced.summary(), plain.summary());
    assert_eq!(traced.results(), plain.results());
    let text = traced.text(false, false);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("-> run(i32=41)"), "{text}");
    assert!(lines[1].starts_with("-> outer(i32=41)"), "{text}");
    assert!(lines[2].starts_with("-> inner(i32=42)"), "{text}");
    assert!(lines[3].starts_with("<- inner() [trapped]"), "{text}");
    assert!(lines[4].starts_with("<- outer() [trapped]"), "{text}");
    assert!(lines[5].starts_with("<- run() [trapped]"), "{text}");
}

#[wasm_bindgen_test]
async fn a_sampled_module_with_timestamps_reads_the_page_clock() {
    // Sampled inline code reads the clock through the `now` import.
    let r = run_ok(
        FIB_BENCH,
        r#"{"invoke": "run", "invokeArgs": ["20"], "scope": "all", "strategy": "inline", "sample": 100, "timestamps": true}"#,
    )
    .await;
    assert_eq!(r.results(), vec!["6765".to_string()]);
    let calls = r.calls("fibonacci");
    assert!((200.0..=230.0).contains(&calls), "{calls} sampled calls");
    let text = r.text(false, true);
    let stamped = text
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("fibonacci("))
        .count();
    assert_eq!(stamped as f64, 2.0 * calls, "{text}");
}

#[wasm_bindgen_test]
async fn calls_out_to_the_wasi_shim_are_traced_on_both_paths() {
    for strategy in ["hooks", "inline"] {
        let r = run_ok(
            FIBONACCI,
            &format!(r#"{{"strategy": "{strategy}", "traceImports": true}}"#),
        )
        .await;
        assert_eq!(r.stdout(), "5\n");
        assert_eq!(
            r.calls("wasi_snapshot_preview1::fd_write"),
            1.0,
            "{strategy}"
        );
        let text = r.text(true, false);
        let write = first_line_with(&text, "-> wasi_snapshot_preview1::fd_write(");
        assert!(write.contains("1 <stdout>"), "{strategy}: {text}");
        // At the depth where it happens: inside main, after the fibonacci calls.
        assert!(write.starts_with("  ->"), "{strategy}: {text}");
        assert!(
            text.contains("<- wasi_snapshot_preview1::fd_write() = 0"),
            "{strategy}: {text}"
        );
        let without = run_ok(FIBONACCI, &format!(r#"{{"strategy": "{strategy}"}}"#)).await;
        assert_eq!(without.calls("wasi_snapshot_preview1::fd_write"), 0.0);
    }
}
