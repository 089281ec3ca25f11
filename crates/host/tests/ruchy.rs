//! The CLI on Ruchy programs of the corpus: names and locations from the
//! `.ruchy` beside the module, the value limits, and where compiles are
//! cached.

mod common;

use common::{fixture, ruchy_trace, text};

/// `run` on a `.wasm` with its `.ruchy` and `.rs` beside it names a
/// `let`-bound closure by its binding, at its line in the `.ruchy`.
#[test]
fn a_closure_is_named_and_located_as_in_ruchy() {
    let wasm = fixture("corpus/closure_let.wasm");
    let out = ruchy_trace(&["run", "--no-timestamps", wasm.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "15\n3\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("-> add(a: i64 = 5, b: i64 = 10) <closure_let.ruchy:3:15>"),
        "{err}"
    );
}

/// `--max-elements` and `--max-string` set how much of a value is shown,
/// and what was left out is counted in the text and in JSON.
#[test]
fn value_limits_are_flags() {
    let wasm = fixture("corpus/vec_long.wasm");
    let out = ruchy_trace(&[
        "run",
        "--no-timestamps",
        "--max-elements",
        "3",
        wasm.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains("count(v: Vec<i64> = [0, 1, 2, …(+97 more)])"),
        "{err}"
    );
    let out = ruchy_trace(&[
        "run",
        "--format",
        "json",
        "--max-elements",
        "2",
        wasm.to_str().unwrap(),
    ]);
    let json = text(&out.stderr);
    assert!(
        json.contains(r#"{"items": [0, 1], "len": 100, "truncated": true}"#),
        "{json}"
    );
    let wasm = fixture("corpus/string_long.wasm");
    let out = ruchy_trace(&[
        "run",
        "--no-timestamps",
        "--max-string",
        "9",
        wasm.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains(r#"shout(s: String = "the quick"…(+61 more bytes))"#),
        "{err}"
    );
}

/// `run --help` says where compiled Ruchy programs are cached.
#[test]
fn help_says_where_compiles_are_cached() {
    let out = ruchy_trace(&["run", "--help"]);
    let help = text(&out.stdout);
    assert!(help.contains("$RUCHY_TRACE_CACHE"), "{help}");
    assert!(help.contains("~/.cache/ruchy-trace"), "{help}");
}
