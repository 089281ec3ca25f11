//! The corpus (`tests/fixtures/corpus/`): Ruchy programs written as Ruchy
//! users write them, each traced through its compiled wasm with its
//! `.ruchy` source and compared, call for call and value for value, with
//! Ruchy's own interpreter trace of the same program. Where the two differ
//! for a reason of the interpreter's or the toolchain's, the difference is
//! listed in [`KNOWN`] with why, and the test checks that it still occurs.

use ruchy_trace::ruchy_trace_core::format::{
    Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
};
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use ruchy_trace::ruchy_trace_core::source::Limits;
use ruchy_trace::ruchy_trace_core::{EventKind, Trace};
use ruchy_trace::ruchy_trace_instrument::Config;
use ruchy_trace::{Outcome, Tracer};
use ruchy_trace_tests::{parse_interp_trace, run_wasi, squash, InterpEvent};
use std::path::PathBuf;

/// How many programs the corpus holds.
const CORPUS_SIZE: usize = 50;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus")
}

fn programs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .expect("corpus directory")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".ruchy")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

fn text(name: &str, ext: &str) -> String {
    let path = corpus().join(format!("{name}.{ext}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The instrumenter's configuration for a corpus program: its `.ruchy`
/// source and transpiled `.rs` for names and locations.
fn config(name: &str, limits: Limits) -> Config {
    Config {
        relocators: vec![RuchySource {
            file: format!("{name}.ruchy"),
            text: text(name, "ruchy"),
            transpiled: Some(text(name, "rs")),
        }
        .shared()],
        limits,
        ..Config::default()
    }
}

fn trace(tracer: &Tracer, name: &str, limits: Limits) -> Outcome {
    let wasm = std::fs::read(corpus().join(format!("{name}.wasm"))).expect("wasm");
    run_wasi(tracer, &wasm, Some(&config(name, limits)))
}

/// Limits wide enough that no value of the corpus is cut.
const WIDE: Limits = Limits {
    max_string: 4096,
    max_elements: 4096,
};

/// One call or return as we traced it: the function's shown name, and its
/// arguments (or result) rendered as the text format renders them.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    enter: bool,
    name: String,
    values: Vec<String>,
}

fn calls(trace: &Trace) -> Vec<Call> {
    let types = &trace.table.types;
    trace
        .events()
        .map(|e| e.expect("decodes"))
        .filter(|e| matches!(e.kind, EventKind::Enter | EventKind::Exit))
        .map(|e| Call {
            enter: e.kind == EventKind::Enter,
            name: e.function.name.clone(),
            values: e
                .source_values_within(types, trace.table.limits)
                .unwrap_or_else(|| panic!("{}: no source values", e.function.name))
                .iter()
                .map(|a| a.value.to_string())
                .collect(),
        })
        .collect()
}

/// Why and how a program's trace differs from the interpreter's.
#[derive(Debug, Clone, Copy)]
enum Difference {
    /// Calls of this function (by our name) have no line in the
    /// interpreter's trace.
    Untraced(&'static str),
    /// The interpreter names this function's calls by another name.
    Named {
        ours: &'static str,
        theirs: &'static str,
    },
    /// A value the interpreter spells differently: the text `ours` in our
    /// rendering stands for `theirs` in the interpreter's.
    Spelled {
        ours: &'static str,
        theirs: &'static str,
    },
    /// The interpreter's trace stops after this many of our events (it
    /// fails where the compiled program does not, or earlier).
    StopsAfter(usize),
    /// Our event at this index (after the differences above it in the
    /// list) has this value where the interpreter has another: the
    /// compiled program computes something else than the interpreter.
    Computes {
        event: usize,
        ours: &'static str,
        theirs: &'static str,
    },
    /// The interpreter shows `Ok(v)`/`Err(v)` as the object
    /// `{__type: "Message", data: [v], type: "Ok"}`.
    ResultAsObject,
}

use Difference::*;

/// Every difference between a corpus program's trace and the
/// interpreter's, with why.
const KNOWN: &[(&str, Difference, &str)] = &[
    // Ruchy's interpreter traces calls through a plain name only (`f(x)`):
    // `Type::f(…)` and method calls (`x.f()`) have no line in its trace.
    (
        "assoc_fn",
        Untraced("Point::origin"),
        "Type::f() calls are not traced",
    ),
    (
        "assoc_fn",
        Untraced("Point::at"),
        "Type::f() calls are not traced",
    ),
    (
        "methods_impl",
        Untraced("Counter::new"),
        "Type::f() calls are not traced",
    ),
    (
        "methods_impl",
        Untraced("Counter::bumped"),
        "method calls are not traced",
    ),
    (
        "methods_impl",
        Untraced("Counter::value"),
        "method calls are not traced",
    ),
    (
        "methods_same_name",
        Untraced("Circle::area"),
        "method calls are not traced",
    ),
    (
        "methods_same_name",
        Untraced("Rect::area"),
        "method calls are not traced",
    ),
    (
        "struct_mutate",
        Untraced("Account::deposit"),
        "method calls are not traced",
    ),
    (
        "struct_mutate",
        Untraced("Account::balance"),
        "method calls are not traced",
    ),
    // A script's statements run without a `main` in the interpreter; the
    // transpiler wraps them in one.
    (
        "top_level",
        Untraced("main"),
        "the interpreter has no main for a script",
    ),
    (
        "closure_top_level",
        Untraced("main"),
        "the interpreter has no main for a script",
    ),
    // The interpreter names a call by the name it is called through (the
    // parameter `f`), we by the closure's definition (`let double = …`).
    (
        "closure_hof",
        Named {
            ours: "double",
            theirs: "f",
        },
        "named at the call site",
    ),
    // A function pointer argument: the interpreter shows `<function>`; we
    // cannot read a closure behind a `fn` pointer and show `&<?>`.
    (
        "closure_hof",
        Spelled {
            ours: "&<?>",
            theirs: "<function>",
        },
        "function values",
    ),
    // A returned closure has no `let` of its own: we name it by where it
    // is defined, the interpreter by the variable it is called through.
    (
        "closure_return",
        Named {
            ours: "<closure in make_doubler at closure_return.ruchy:6>",
            theirs: "double",
        },
        "named at the call site",
    ),
    (
        "closure_return",
        Spelled {
            ours: "&<?>",
            theirs: "<function>",
        },
        "function values",
    ),
    // Ruchy's interpreter has chars as one-character strings.
    (
        "chars",
        Spelled {
            ours: "'",
            theirs: "\"",
        },
        "chars are strings in the interpreter",
    ),
    // The interpreter shows a variant without its enum's name.
    (
        "enum_unit",
        Spelled {
            ours: "Color::",
            theirs: "",
        },
        "variants unqualified",
    ),
    (
        "enum_payload",
        Spelled {
            ours: "Shape::",
            theirs: "",
        },
        "variants unqualified",
    ),
    (
        "result_return",
        ResultAsObject,
        "the interpreter's Result is an object",
    ),
    (
        "result_question",
        ResultAsObject,
        "the interpreter's Result is an object",
    ),
    // The interpreter shows struct fields sorted by name; we show them in
    // declaration order.
    (
        "nested_struct",
        Spelled {
            ours: "Line { start: Point { x: 0, y: 0 }, end: Point { x: 3, y: 4 } }",
            theirs: "Line {end: Point {x: 3, y: 4}, start: Point {x: 0, y: 0}}",
        },
        "fields sorted by name",
    ),
    (
        "struct_string_field",
        Spelled {
            ours: "Person { name: \"Ada\", age: 36 }",
            theirs: "Person {age: 36, name: \"Ada\"}",
        },
        "fields sorted by name",
    ),
    // Interpreter gaps: it fails where the compiled program runs on.
    // `arr.iter()`: "Unknown array method: iter".
    (
        "closure_iter",
        StopsAfter(2),
        "no iter() on arrays in the interpreter",
    ),
    // `Shape::Circle { r: 1.5 }`: "Undefined struct type: Shape::Circle".
    (
        "enum_struct_variant",
        StopsAfter(1),
        "no struct variants in the interpreter",
    ),
    // `HashMap::new()`: "Cannot access field 'new' on type string".
    (
        "hashmap_count",
        StopsAfter(1),
        "no HashMap in the interpreter",
    ),
    // `BTreeMap::new()`: "Undefined variable: BTreeMap".
    ("btreemap", StopsAfter(1), "no BTreeMap in the interpreter"),
    // `HashSet::new()`: "Undefined variable: HashSet".
    ("hashset", StopsAfter(1), "no HashSet in the interpreter"),
    // The transpiler turns `!(a && b)` into `!a && b`: the compiled xor of
    // (true, false) is false, the interpreted one true.
    (
        "bool_logic",
        Computes {
            event: 2,
            ours: "false",
            theirs: "true",
        },
        "miscompiled by the transpiler",
    ),
];

fn squash_all(v: &[String]) -> Vec<String> {
    v.iter().map(|s| squash(s)).collect()
}

/// Every call and every value of every corpus program equals the
/// interpreter's, once the differences in [`KNOWN`] are applied; and every
/// difference listed there still occurs.
#[test]
fn corpus_traces_match_the_interpreter() {
    let tracer = Tracer::new().unwrap();
    let mut used = vec![false; KNOWN.len()];
    let mut compared_values = 0usize;
    let mut mismatches = Vec::new();
    for name in programs() {
        let outcome = trace(&tracer, &name, WIDE);
        let mut ours = calls(&outcome.trace);
        let known: Vec<(usize, Difference)> = KNOWN
            .iter()
            .enumerate()
            .filter(|(_, (p, _, _))| *p == name)
            .map(|(i, (_, d, _))| (i, *d))
            .collect();
        for &(i, d) in &known {
            match d {
                Untraced(f) => {
                    let before = ours.len();
                    ours.retain(|c| c.name != f);
                    used[i] |= ours.len() < before;
                }
                Named { ours: o, theirs } => {
                    for c in ours.iter_mut().filter(|c| c.name == o) {
                        c.name = theirs.to_string();
                        used[i] = true;
                    }
                }
                Spelled { ours: o, theirs } => {
                    for v in ours.iter_mut().flat_map(|c| c.values.iter_mut()) {
                        if v.contains(o) {
                            *v = v.replace(o, theirs);
                            used[i] = true;
                        }
                    }
                }
                StopsAfter(n) => {
                    used[i] = ours.len() > n;
                    ours.truncate(n);
                }
                Computes {
                    event,
                    ours: o,
                    theirs,
                } => {
                    if let Some(v) = ours.get_mut(event).and_then(|c| c.values.first_mut()) {
                        if v == o {
                            *v = theirs.to_string();
                            used[i] = true;
                        }
                    }
                }
                ResultAsObject => {
                    for v in ours.iter_mut().flat_map(|c| c.values.iter_mut()) {
                        for tag in ["Ok", "Err"] {
                            let inner = v
                                .strip_prefix(tag)
                                .and_then(|r| r.strip_prefix('('))
                                .and_then(|r| r.strip_suffix(')'));
                            if let Some(inner) = inner {
                                *v = format!(
                                    "{{__type: \"Message\", data: [{inner}], type: \"{tag}\"}}"
                                );
                                used[i] = true;
                                break;
                            }
                        }
                    }
                }
            }
        }
        let interp = parse_interp_trace(&text(&name, "interp.txt"));
        let theirs: Vec<Call> = interp
            .iter()
            .map(|e| match e {
                InterpEvent::Enter { name, args } => Call {
                    enter: true,
                    name: name.clone(),
                    values: args.iter().map(|(v, _)| v.clone()).collect(),
                },
                InterpEvent::Exit { name, value } => Call {
                    enter: false,
                    name: name.clone(),
                    values: if value.1 == "nil" {
                        Vec::new()
                    } else {
                        vec![value.0.clone()]
                    },
                },
            })
            .collect();
        let render = |cs: &[Call]| {
            cs.iter()
                .map(|c| {
                    format!(
                        "{} {}({})",
                        if c.enter { "->" } else { "<-" },
                        c.name,
                        squash_all(&c.values).join(", ")
                    )
                })
                .collect::<Vec<_>>()
        };
        let (ours_text, theirs_text) = (render(&ours), render(&theirs));
        if ours_text != theirs_text {
            mismatches.push(format!(
                "{name}: ours\n  {}\ninterpreter's\n  {}",
                ours_text.join("\n  "),
                theirs_text.join("\n  ")
            ));
        }
        compared_values += ours.iter().map(|c| c.values.len()).sum::<usize>();
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
    let stale: Vec<_> = KNOWN
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(k, _)| k)
        .collect();
    assert!(
        stale.is_empty(),
        "known differences that no longer occur: {stale:#?}"
    );
    // Arguments and results compared, over the whole corpus.
    assert_eq!(compared_values, 258);
}

/// The corpus holds exactly [`CORPUS_SIZE`] programs, each with its
/// transpiled Rust, its wasm, the interpreter's trace and exit status.
#[test]
fn every_program_has_its_compiled_files() {
    let names = programs();
    assert_eq!(names.len(), CORPUS_SIZE, "{names:?}");
    for n in &names {
        for ext in ["rs", "wasm", "interp.txt", "interp.exit"] {
            assert!(
                corpus().join(format!("{n}.{ext}")).exists(),
                "{n}.{ext} missing"
            );
        }
    }
}

/// Every traced function of every program is located in its `.ruchy`
/// file, at a line that defines it (its `fun`/`fn` name, a closure's `|`,
/// or, for the `main` the transpiler writes around top-level statements,
/// the first statement).
#[test]
fn every_traced_function_is_located_in_its_ruchy_source() {
    let tracer = Tracer::new().unwrap();
    for name in programs() {
        let outcome = trace(&tracer, &name, Limits::default());
        let file = format!("{name}.ruchy");
        let lines: Vec<String> = text(&name, "ruchy").lines().map(str::to_string).collect();
        for f in &outcome.trace.table.functions {
            let loc = f
                .location
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: {} has no location", f.name));
            assert_eq!(loc.file, file, "{name}: {} at {loc:?}", f.name);
            let line = &lines[loc.line as usize - 1];
            let at = &line[loc.column as usize - 1..];
            let short = f.name.rsplit("::").next().unwrap_or(&f.name);
            assert!(
                at.starts_with(short) || at.starts_with('|') || f.name == "main",
                "{name}: {} located at {}:{} `{line}`",
                f.name,
                loc.line,
                loc.column
            );
        }
    }
}

/// The function named `name` in a program's table.
fn located(outcome: &Outcome, name: &str) -> (u32, u32) {
    let f = outcome
        .trace
        .table
        .functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| {
            let all: Vec<_> = outcome
                .trace
                .table
                .functions
                .iter()
                .map(|f| &f.name)
                .collect();
            panic!("no {name} in {all:?}")
        });
    let l = f.location.as_ref().expect("located");
    (l.line, l.column)
}

/// Closures, methods and the synthesized `main` carry the names and lines
/// a Ruchy programmer knows them by.
#[test]
fn names_are_as_in_ruchy() {
    let tracer = Tracer::new().unwrap();
    let t = |name: &str| trace(&tracer, name, Limits::default());
    // A `let`-bound closure is its binding, at its `|`; its environment is
    // not an argument.
    let closure_let = t("closure_let");
    assert_eq!(located(&closure_let, "add"), (3, 15));
    let first = calls(&closure_let.trace);
    assert!(first.contains(&Call {
        enter: true,
        name: "add".into(),
        values: vec!["5".into(), "10".into()]
    }));
    // The same in a script, and the script's `main` at its first statement.
    let script = t("closure_top_level");
    assert_eq!(located(&script, "inc"), (2, 11));
    assert_eq!(located(&script, "main"), (2, 1));
    assert_eq!(located(&t("top_level"), "main"), (7, 1));
    // A closure bound to nothing is named by where it is.
    let iter = t("closure_iter");
    let anonymous = "<closure in count_big at closure_iter.ruchy:5>";
    assert_eq!(located(&iter, anonymous), (5, 21));
    assert!(calls(&iter.trace).contains(&Call {
        enter: true,
        name: anonymous.into(),
        values: vec!["&&2".into()]
    }));
    // Two methods of one name in two `impl` blocks.
    let methods = t("methods_same_name");
    assert_eq!(located(&methods, "Circle::area"), (12, 9));
    assert_eq!(located(&methods, "Rect::area"), (18, 9));
    assert_eq!(located(&t("assoc_fn"), "Point::origin"), (8, 9));
    // `fn` like `fun`.
    assert_eq!(located(&t("fn_keyword"), "cube"), (8, 4));
}

fn render(formatter: &mut dyn Formatter, trace: &Trace) -> String {
    let mut out = String::new();
    formatter.begin(trace, &mut out);
    for e in trace.events() {
        formatter.event(trace, &e.expect("decodes"), &mut out);
    }
    formatter.end(trace, &trace.stats(), &mut out);
    out
}

/// The values of sum types, tuples, maps and nested structs, as the text
/// format shows them.
#[test]
fn values_are_as_in_ruchy() {
    let tracer = Tracer::new().unwrap();
    let shown = |name: &str| {
        let outcome = trace(&tracer, name, Limits::default());
        render(
            &mut TextFormatter::new(TextOptions::default()),
            &outcome.trace,
        )
    };
    let expect = [
        ("option_return", "= Some(5)"),
        ("option_return", "= None"),
        ("option_param", "x: Option<i64> = Some(5)"),
        ("option_param", "x: Option<i64> = None"),
        ("result_return", "= Ok(30)"),
        ("result_return", "= Err(\"bad input\")"),
        ("result_question", "= Err(\"not positive\")"),
        ("enum_struct_variant", "s: Shape = Shape::Circle { r: 1.5 }"),
        ("enum_payload", "s: Shape = Shape::Square(2.0)"),
        ("enum_unit", "c: Color = Color::Red"),
        ("tuple_return", "= (3, 2)"),
        ("tuple_param", "p: (i64, i64) = (1, 2)"),
        (
            "nested_struct",
            "l: Line = Line { start: Point { x: 0, y: 0 }, end: Point { x: 3, y: 4 } }",
        ),
        ("floats_special", "a: f64 = 0.0, b: f64 = 0.0"),
        ("floats_special", "x: f64 = NaN"),
        ("floats_special", "x: f64 = -inf"),
        ("hashmap_count", "\"pear\": 5"),
        // 20 entries over three nodes, read in key order, cut after 8.
        (
            "btreemap",
            "m: BTreeMap<i64, String> = {3: \"v\", 6: \"v\", 9: \"v\", 12: \"v\", \
             15: \"v\", 18: \"v\", 21: \"v\", 24: \"v\", …(+12 more)}",
        ),
        ("hashset", "s: HashSet<i64> = {7}, x: i64 = 7"),
        ("vec_long", ", 7, …(+92 more)]"),
        ("string_long", "…(+6 more bytes)"),
    ];
    for (program, text) in expect {
        let out = shown(program);
        assert!(out.contains(text), "{program}: no `{text}` in\n{out}");
    }
}

/// A cut vector or string says so in JSON, with its full length; the
/// limits are the table's.
#[test]
fn cut_values_say_so_in_json() {
    let tracer = Tracer::new().unwrap();
    let json = |limits| {
        let outcome = trace(&tracer, "vec_long", limits);
        render(
            &mut JsonFormatter::new(JsonOptions::default()),
            &outcome.trace,
        )
    };
    let cut = json(Limits::default());
    assert!(
        cut.contains(r#"{"items": [0, 1, 2, 3, 4, 5, 6, 7], "len": 100, "truncated": true}"#),
        "{cut}"
    );
    let three = json(Limits {
        max_string: 64,
        max_elements: 3,
    });
    assert!(
        three.contains(r#"{"items": [0, 1, 2], "len": 100, "truncated": true}"#),
        "{three}"
    );
    let whole = json(WIDE);
    assert!(
        !whole.contains("truncated"),
        "nothing is cut within wide limits"
    );
    assert!(whole.contains(", 98, 99]"), "{whole}");
}

/// A `BTreeMap` of 20 entries (a root and two leaves) is read in key
/// order: cut, it says so in JSON with its full length; within wide
/// limits every entry is there, in order.
#[test]
fn a_btreemap_is_read_in_key_order() {
    let tracer = Tracer::new().unwrap();
    let traced = |limits, formatter: &mut dyn Formatter| {
        let outcome = trace(&tracer, "btreemap", limits);
        render(formatter, &outcome.trace)
    };
    let json = traced(
        Limits::default(),
        &mut JsonFormatter::new(JsonOptions::default()),
    );
    assert!(
        json.contains(r#"[24, "v"]], "len": 20, "truncated": true}"#),
        "{json}"
    );
    let whole = traced(WIDE, &mut TextFormatter::new(TextOptions::default()));
    let keys: Vec<String> = (1..=20).map(|k| format!("{}: \"v\"", k * 3)).collect();
    let want = format!("m: BTreeMap<i64, String> = {{{}}}", keys.join(", "));
    assert!(whole.contains(&want), "no `{want}` in\n{whole}");
}
