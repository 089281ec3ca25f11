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

/// The entered functions of a `run --no-timestamps` trace of a corpus
/// program with `args` before the module, as `name <location>` lines.
fn entered(program: &str, args: &[&str]) -> Vec<String> {
    let wasm = fixture(&format!("corpus/{program}.wasm"));
    let mut all = vec!["run", "--no-timestamps"];
    all.extend_from_slice(args);
    all.push(wasm.to_str().unwrap());
    let out = ruchy_trace(&all);
    text(&out.stderr)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("-> "))
        .map(|l| {
            let name = &l[..l.find('(').unwrap_or(l.len())];
            let at = l.rfind(" <").map_or("", |i| &l[i + 1..]);
            format!("{name} {at}")
        })
        .collect()
}

/// `--filter` sees the names a Ruchy trace shows: a `let`-bound closure by
/// its binding (`add`) and by its Rust name (`main::{{closure}}`), a method
/// as `Type::method`, so two types' `area` are told apart; an exclusion
/// by the Ruchy name drops only that function.
#[test]
fn filters_match_ruchy_names() {
    let add = "add <closure_let.ruchy:3:15>".to_string();
    assert_eq!(
        entered("closure_let", &["--filter", "add"]),
        [add.clone(), add.clone()]
    );
    assert_eq!(
        entered("closure_let", &["--filter", "main::{{closure}}"]),
        [add.clone(), add.clone()]
    );
    assert_eq!(
        entered("closure_let", &["--filter", "!add"]),
        ["main <closure_let.ruchy:2:5>"]
    );
    assert_eq!(
        entered("methods_same_name", &["--filter", "Circle::*"]),
        ["Circle::area <methods_same_name.ruchy:12:9>"]
    );
    assert_eq!(
        entered(
            "methods_same_name",
            &["--filter", "*::area", "--filter", "!Rect::*"]
        ),
        ["Circle::area <methods_same_name.ruchy:12:9>"]
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
