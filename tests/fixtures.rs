//! Every Ruchy fixture, traced through wasm, against Ruchy's own interpreter
//! trace of the same program; and the guest's behaviour with and without
//! tracing, on both delivery paths.

use ruchy_trace::ruchy_trace_core::decode::RunEnd;
use ruchy_trace::ruchy_trace_core::{EventKind, Strategy, TraceOptions};
use ruchy_trace::ruchy_trace_instrument::{self, Config};
use ruchy_trace::Tracer;
use ruchy_trace_tests::*;

fn config(strategy: Strategy) -> Config {
    Config {
        options: TraceOptions {
            strategy,
            ..TraceOptions::default()
        },
        ..Config::default()
    }
}

#[test]
fn there_are_enough_fixtures() {
    let names = ruchy_fixtures();
    assert!(names.len() >= 6, "{names:?}");
    for n in &names {
        for ext in ["rs", "wasm", "interp.txt"] {
            assert!(
                fixtures().join(format!("{n}.{ext}")).exists(),
                "{n}.{ext} missing"
            );
        }
    }
}

/// Every argument and return value equals, value for value, the one in
/// Ruchy's interpreter trace: integers, floats, bools, strings and structs,
/// decoded through the module's debug information (strings and structs
/// read from guest memory at the time of the call).
#[test]
fn user_calls_match_the_interpreter_trace() {
    let tracer = Tracer::new().unwrap();
    for name in ruchy_fixtures() {
        let interp =
            parse_interp_trace(&String::from_utf8(read(&format!("{name}.interp.txt"))).unwrap());
        assert!(!interp.is_empty(), "{name}: interpreter trace is empty");
        let outcome = run_wasi(
            &tracer,
            &read(&format!("{name}.wasm")),
            Some(&config(Strategy::Inline)),
        );
        let ours: Vec<Seen> = seen(&outcome)
            .into_iter()
            .filter(|s| !matches!(s.kind, EventKind::Closed(_)))
            .collect();
        assert_eq!(
            ours.len(),
            interp.len(),
            "{name}: {} events traced, interpreter has {}\nours: {ours:#?}",
            ours.len(),
            interp.len()
        );
        let mut compared = 0;
        for (i, (o, t)) in ours.iter().zip(&interp).enumerate() {
            let source = o
                .source
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: event {i} ({}) has no source values", o.name));
            match t {
                InterpEvent::Enter { name: n, args } => {
                    assert_eq!(
                        (o.kind, &o.name),
                        (EventKind::Enter, n),
                        "{name}: event {i}"
                    );
                    let theirs: Vec<String> = args.iter().map(|(v, _)| squash(v)).collect();
                    let mine: Vec<String> = source.iter().map(|v| squash(v)).collect();
                    assert_eq!(mine, theirs, "{name}: event {i}: arguments of {n}");
                    compared += args.len();
                }
                InterpEvent::Exit {
                    name: n,
                    value: (v, ty),
                } => {
                    assert_eq!((o.kind, &o.name), (EventKind::Exit, n), "{name}: event {i}");
                    if ty == "nil" {
                        assert!(
                            source.is_empty(),
                            "{name}: event {i}: nil traced as {source:?}"
                        );
                    } else {
                        assert_eq!(
                            source.iter().map(|v| squash(v)).collect::<Vec<_>>(),
                            [squash(v)],
                            "{name}: event {i}: {n} returned"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 0, "{name}: no value was compared");
    }
}

/// A build stripped of its debug information and names records the same
/// calls, at the same depths, with the same wasm values as the full build
/// (whose values the test above checks against the interpreter); only the
/// names (exports and `func[N]`) and the source-level values are lost.
#[test]
fn stripped_builds_record_the_same_wasm_values_as_full_builds() {
    let tracer = Tracer::new().unwrap();
    let all = |strategy| Config {
        scope: ruchy_trace_instrument::Scope::All,
        ..config(strategy)
    };
    for name in ruchy_fixtures() {
        let full = read(&format!("{name}.wasm"));
        let wasm = strip(&full);
        wasmparser::Validator::new().validate_all(&wasm).unwrap();
        let plain = run_wasi(&tracer, &wasm, None);
        let outcome = run_wasi(&tracer, &wasm, Some(&all(Strategy::Inline)));
        assert_eq!(plain.stdout, outcome.stdout, "{name}: stdout");
        assert_eq!(plain.trace.end, outcome.trace.end, "{name}: end");
        let events = seen(&outcome);
        assert!(events.len() > 10, "{name}: {} events", events.len());
        assert!(
            events.iter().all(|e| e.source.is_none()),
            "{name}: no debug information, no source values"
        );
        let named = |n: &str| n.starts_with("func[") || n == "_start" || n == "__main_void";
        assert!(
            events.iter().all(|e| named(&e.name)),
            "{name}: no names but exports either"
        );
        let full_events = seen(&run_wasi(&tracer, &full, Some(&all(Strategy::Inline))));
        let shape = |v: &[Seen]| -> Vec<(EventKind, u32, Vec<Option<u128>>)> {
            v.iter()
                .map(|e| (e.kind, e.depth, e.values.iter().map(bits).collect()))
                .collect()
        };
        assert_eq!(
            shape(&events),
            shape(&full_events),
            "{name}: stripped and full builds record different calls or values"
        );
    }
}

/// A recorded value's bits (floats compared bit for bit, NaNs included).
fn bits(v: &ruchy_trace::ruchy_trace_core::Value) -> Option<u128> {
    use ruchy_trace::ruchy_trace_core::Value;
    match v {
        Value::I32(x) => Some(u128::from(*x as u32)),
        Value::I64(x) => Some(u128::from(*x as u64)),
        Value::F32(x) => Some(u128::from(x.to_bits())),
        Value::F64(x) => Some(u128::from(x.to_bits())),
        Value::V128(x) => Some(*x),
        Value::Ref { null } => Some(u128::from(*null)),
        Value::Unrecorded(_) => None,
    }
}

#[test]
fn instrumented_fixtures_validate_and_behave_the_same() {
    let tracer = Tracer::new().unwrap();
    for name in ruchy_fixtures() {
        let wasm = read(&format!("{name}.wasm"));
        for scope in [
            ruchy_trace_instrument::Scope::Own,
            ruchy_trace_instrument::Scope::All,
        ] {
            for strategy in [Strategy::Inline, Strategy::Hooks] {
                let cfg = Config {
                    scope,
                    ..config(strategy)
                };
                let out = ruchy_trace_instrument::instrument(&wasm, &cfg).unwrap();
                wasmparser::Validator::new()
                    .validate_all(&out.bytes)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        let plain = run_wasi(&tracer, &wasm, None);
        let traced = run_wasi(&tracer, &wasm, Some(&config(Strategy::Inline)));
        assert_eq!(
            String::from_utf8_lossy(&plain.stdout),
            String::from_utf8_lossy(&traced.stdout),
            "{name}: stdout"
        );
        assert_eq!(
            plain.trace.end, traced.trace.end,
            "{name}: how the guest ended"
        );
        assert!(
            !plain.stdout.is_empty(),
            "{name}: the program printed nothing"
        );
        let everything = run_wasi(
            &tracer,
            &wasm,
            Some(&Config {
                scope: ruchy_trace_instrument::Scope::All,
                ..config(Strategy::Inline)
            }),
        );
        assert_eq!(
            plain.stdout, everything.stdout,
            "{name}: stdout with every function traced"
        );
        assert_eq!(
            plain.trace.end, everything.trace.end,
            "{name}: end with every function traced"
        );
        assert!(
            everything.trace.stats().kept_events > traced.trace.stats().kept_events,
            "{name}: --all traced no more"
        );
    }
}

/// The inline fast path and the host-hook path produce the same events, in
/// the same order, with the same values (timestamps aside), with every
/// function traced and with sampling.
#[test]
fn fast_path_and_hook_path_traces_are_identical() {
    let tracer = Tracer::new().unwrap();
    for name in ruchy_fixtures() {
        let wasm = read(&format!("{name}.wasm"));
        for (scope, sample) in [
            (ruchy_trace_instrument::Scope::Own, 1),
            (ruchy_trace_instrument::Scope::All, 1),
            (ruchy_trace_instrument::Scope::All, 7),
        ] {
            let make = |strategy| Config {
                scope,
                options: TraceOptions {
                    strategy,
                    sample,
                    ..TraceOptions::default()
                },
                ..Config::default()
            };
            let inline = run_wasi(&tracer, &wasm, Some(&make(Strategy::Inline)));
            let hooks = run_wasi(&tracer, &wasm, Some(&make(Strategy::Hooks)));
            let (a, b) = (seen(&inline), seen(&hooks));
            assert!(!a.is_empty(), "{name}: nothing traced");
            assert_eq!(
                a.len(),
                b.len(),
                "{name} {scope:?} sample {sample}: event counts"
            );
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(x, y, "{name} {scope:?} sample {sample}: event {i}");
            }
            assert_eq!(inline.trace.stats(), hooks.trace.stats(), "{name}: stats");
            assert_eq!(inline.stdout, hooks.stdout, "{name}: stdout");
        }
    }
}

#[test]
fn the_panicking_fixture_closes_its_frames_as_trapped() {
    let tracer = Tracer::new().unwrap();
    let outcome = run_wasi(
        &tracer,
        &read("panic.wasm"),
        Some(&config(Strategy::Inline)),
    );
    let RunEnd::Trapped(msg) = &outcome.trace.end else {
        panic!("did not trap: {:?}", outcome.trace.end)
    };
    assert!(msg.contains("unreachable"), "{msg}");
    let events = seen(&outcome);
    let closed: Vec<&str> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Closed(ruchy_trace::ruchy_trace_core::CloseReason::Trapped)
        })
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(closed, ["check", "outer", "main"]);
    let enters = events.iter().filter(|e| e.kind == EventKind::Enter).count();
    let exits = events.iter().filter(|e| e.kind != EventKind::Enter).count();
    assert_eq!(enters, exits, "every frame is closed");
    assert!(
        String::from_utf8_lossy(&outcome.stderr).contains("panicked"),
        "the guest's panic message passes through"
    );
}
