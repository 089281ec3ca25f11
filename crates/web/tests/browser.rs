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
        first_line_with(&text, "-> fibonacci(").starts_with("-> fibonacci(i64=5)"),
        "{text}"
    );
    assert!(text.contains("<- fibonacci() = 5"), "{text}");
    let stats = r.function_stats_json();
    assert!(
        stats.contains(r#"{"name":"fibonacci","calls":15,"#),
        "{stats}"
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
