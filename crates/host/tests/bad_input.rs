//! Hostile and broken input: truncated modules, flipped bytes, components,
//! already instrumented modules and modules that use our names. Each is an
//! error (one clear line and status 65 from the CLI) or a valid result, and
//! never a panic.

mod common;
use common::*;

use ruchy_trace::ruchy_trace_instrument::{self, Config, Error, Scope};
use std::path::PathBuf;

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = temp(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A small module with a section of every kind the rewrite touches.
const SMALL: &str = r#"
(module
  (type $bin (func (param i32 i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (import "env" "g" (global $g i32))
  (table 4 funcref)
  (memory 1 2)
  (global $counter (mut i32) (i32.const 0))
  (export "main" (func $main))
  (export "mem" (memory 0))
  (start $init)
  (elem (i32.const 0) $add $sub $pick)
  (data (i32.const 16) "hello")
  (func $init global.get $g global.set $counter)
  (func $add (type $bin) local.get 0 local.get 1 i32.add)
  (func $sub (type $bin) (block local.get 0 br_if 0 i32.const 0 return) local.get 0 local.get 1 i32.sub)
  (func $pick (type $bin)
    (block (block (block local.get 0 br_table 0 1 2) i32.const 1 return) i32.const 2 return) i32.const 3)
  (func $pair (param i64) (result i64 i32) local.get 0 i32.const 7)
  (func $main (param i32) (result i32)
    local.get 0 call $log
    i64.const 1 call $pair drop drop
    local.get 0 i32.const 1 local.get 0 call_indirect (type $bin)))
"#;

fn small() -> Vec<u8> {
    wat::parse_str(SMALL).unwrap()
}

fn all() -> Config {
    Config {
        scope: Scope::All,
        ..Config::default()
    }
}

/// Instruments `wasm`; the result must be an error of the kinds broken
/// input gives, or a module that validates. Returns whether it was refused.
fn instrument_checked(wasm: &[u8], what: &str) -> bool {
    let input_valid = wasmparser::Validator::new().validate_all(wasm).is_ok();
    match ruchy_trace_instrument::instrument(wasm, &all()) {
        Ok(out) => {
            wasmparser::Validator::new()
                .validate_all(&out.bytes)
                .unwrap_or_else(|e| panic!("{what}: output invalid: {e}"));
            assert!(input_valid, "{what}: an invalid module was instrumented");
            false
        }
        Err(Error::Internal(e)) => panic!("{what}: internal error: {e}"),
        Err(Error::Invalid { offset, .. }) if input_valid && in_custom_section(wasm, offset) => {
            // Known: a corrupt `name` section (which the validator does not
            // check) makes the rewrite refuse a module wasmtime would run.
            true
        }
        Err(e @ (Error::NotWasm | Error::Component | Error::Invalid { .. })) => {
            assert!(
                !input_valid || matches!(e, Error::Component),
                "{what}: a valid module refused as {e}"
            );
            true
        }
        Err(_) => true,
    }
}

/// Whether `offset` falls inside a custom section of `wasm`.
fn in_custom_section(wasm: &[u8], offset: usize) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).any(|p| match p {
        Ok(wasmparser::Payload::CustomSection(c)) => {
            (c.range().start..=c.range().end).contains(&offset)
        }
        _ => false,
    })
}

#[test]
fn every_prefix_of_a_small_module_is_an_error_or_a_valid_module() {
    let wasm = small();
    let mut refused = 0;
    for len in 0..wasm.len() {
        refused += instrument_checked(&wasm[..len], &format!("prefix of {len} bytes")) as usize;
        // The table reader sees the same prefixes.
        let _ = ruchy_trace_instrument::read_table(&wasm[..len]);
    }
    // Only prefixes that end exactly at a section boundary are modules.
    assert!(
        refused + 20 > wasm.len(),
        "{refused} of {} refused",
        wasm.len()
    );
}

#[test]
fn every_prefix_of_an_instrumented_module_reads_or_fails_cleanly() {
    let out = ruchy_trace_instrument::instrument(&small(), &all()).unwrap();
    for len in 0..out.bytes.len() {
        if let Ok(Some(table)) = ruchy_trace_instrument::read_table(&out.bytes[..len]) {
            assert_eq!(table, out.table, "prefix of {len} bytes");
        }
        let _ = ruchy_trace_instrument::instrument(&out.bytes[..len], &all());
    }
}

#[test]
fn prefixes_of_a_large_fixture_are_errors() {
    let wasm = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bench/fib_bench.wasm"),
    )
    .unwrap();
    // Every section boundary (and its neighbours), plus an even spread.
    let mut cuts: Vec<usize> = (0..200).map(|i| i * wasm.len() / 200).collect();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let Some((_, range)) = payload.unwrap().as_section() {
            for c in [
                range.start - 1,
                range.start,
                range.start + 1,
                range.end - 1,
                range.end,
            ] {
                cuts.push(c.min(wasm.len() - 1));
            }
        }
    }
    cuts.sort();
    cuts.dedup();
    for len in cuts {
        instrument_checked(&wasm[..len], &format!("fib_bench prefix of {len} bytes"));
    }
}

#[test]
fn truncated_modules_fail_on_the_command_line_with_65() {
    let wasm = small();
    let step = wasm.len() / 20;
    for len in (0..wasm.len()).step_by(step.max(1)) {
        let path = write(&format!("prefix-{len}.wasm"), &wasm[..len]);
        let out = ruchy_trace(&["run", "--invoke", "main", path.to_str().unwrap(), "--", "1"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "prefix of {len}: {err}");
        assert_eq!(err.lines().count(), 1, "prefix of {len}: {err}");
        assert!(err.starts_with("ruchy-trace: error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// xorshift64*: a deterministic source of test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn flip(wasm: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = wasm.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len());
        bytes[at] ^= 1 + rng.below(255) as u8;
    }
    bytes
}

#[test]
fn flipped_bytes_in_a_small_module_never_panic() {
    let wasm = small();
    let mut refused = 0;
    for seed in 1..=4000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let bytes = flip(&wasm, &mut rng);
        refused += instrument_checked(&bytes, &format!("seed {seed}")) as usize;
    }
    assert!(refused > 1000, "most flips break the module: {refused}");
}

#[test]
fn flipped_bytes_in_a_large_fixture_never_panic() {
    let wasm = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bench/fib_bench.wasm"),
    )
    .unwrap();
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        instrument_checked(&flip(&wasm, &mut rng), &format!("fib_bench seed {seed}"));
    }
}

/// Byte flips aimed inside each custom section of a Ruchy build: its DWARF
/// (`.debug_info`, `.debug_line`, `.debug_abbrev`, `.debug_str`, ...) and
/// its `name` section, which the instrumenter reads for names, source
/// locations and source-level types. Random flips over the whole module
/// rarely land in the small ones. Instrumented both ways (own functions,
/// which decodes the DWARF, and every function): an error of the kinds
/// broken input gives or a module that validates, never a panic.
#[test]
fn flipped_bytes_in_dwarf_and_name_sections_never_panic() {
    let wasm = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/structs.wasm"),
    )
    .unwrap();
    let sections: Vec<(String, std::ops::Range<usize>)> = wasmparser::Parser::new(0)
        .parse_all(&wasm)
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::CustomSection(c) => {
                Some((c.name().to_string(), c.data_offset()..c.range().end))
            }
            _ => None,
        })
        .collect();
    let names: Vec<&str> = sections.iter().map(|(n, _)| n.as_str()).collect();
    for needed in [
        "name",
        ".debug_info",
        ".debug_line",
        ".debug_abbrev",
        ".debug_str",
    ] {
        assert!(
            names.contains(&needed),
            "structs.wasm lacks {needed}: {names:?}"
        );
    }
    let own = Config::default();
    for (name, range) in &sections {
        for seed in 1..=12u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut bytes = wasm.clone();
            for _ in 0..1 + rng.below(4) {
                let at = range.start + rng.below(range.len());
                bytes[at] ^= 1 + rng.below(255) as u8;
            }
            let what = format!("{name} seed {seed}");
            instrument_checked(&bytes, &what);
            match ruchy_trace_instrument::instrument(&bytes, &own) {
                Ok(out) => {
                    wasmparser::Validator::new()
                        .validate_all(&out.bytes)
                        .unwrap_or_else(|e| panic!("{what}: output invalid: {e}"));
                }
                Err(Error::Internal(e)) => panic!("{what}: internal error: {e}"),
                Err(_) => {}
            }
        }
    }
}

#[test]
fn flipped_bytes_in_an_instrumented_module_never_panic() {
    let out = ruchy_trace_instrument::instrument(&small(), &all()).unwrap();
    for seed in 1..=2000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let bytes = flip(&out.bytes, &mut rng);
        let _ = ruchy_trace_instrument::read_table(&bytes);
        if let Err(Error::Internal(e)) = ruchy_trace_instrument::instrument(&bytes, &all()) {
            panic!("seed {seed}: {e}");
        }
    }
}

#[test]
fn a_component_is_refused_clearly() {
    let component = wat::parse_str("(component (core module (func (export \"f\"))))").unwrap();
    assert_eq!(
        ruchy_trace_instrument::instrument(&component, &all()).unwrap_err(),
        Error::Component
    );
    let path = write("component.wasm", &component);
    assert_one_line_error(
        &ruchy_trace(&["run", path.to_str().unwrap()]),
        65,
        "component",
    );
    let out = temp("component.out.wasm");
    assert_one_line_error(
        &ruchy_trace(&[
            "instrument",
            path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]),
        65,
        "component",
    );
    assert!(!out.exists(), "nothing written");
}

const ADDER: &str = r#"(module
  (func $add (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "main") (param i32) (result i32) local.get 0 local.get 0 call $add))"#;

#[test]
fn an_instrumented_module_is_refused_by_instrument_and_run_as_is() {
    let once = ruchy_trace_instrument::instrument(&wat::parse_str(ADDER).unwrap(), &all()).unwrap();
    assert_eq!(
        ruchy_trace_instrument::instrument(&once.bytes, &all()).unwrap_err(),
        Error::AlreadyInstrumented
    );
    let path = write("adder.traced.wasm", &once.bytes);
    let again = temp("adder.twice.wasm");
    assert_one_line_error(
        &ruchy_trace(&[
            "instrument",
            path.to_str().unwrap(),
            "-o",
            again.to_str().unwrap(),
        ]),
        65,
        "already instrumented",
    );
    let run = ruchy_trace(&[
        "run",
        "--invoke",
        "main",
        "--no-timestamps",
        path.to_str().unwrap(),
        "--",
        "21",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), "42\n");
    let err = text(&run.stderr);
    assert_eq!(
        err.lines().filter(|l| l.contains("-> ")).count(),
        2,
        "traced once, not twice: {err}"
    );
}

/// Appends a custom section.
fn with_custom(mut wasm: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    wasm.push(0);
    leb(body.len(), &mut wasm);
    wasm.extend_from_slice(&body);
    wasm
}

#[test]
fn a_corrupt_table_section_is_one_line() {
    let wasm = with_custom(
        wat::parse_str(ADDER).unwrap(),
        "ruchy-trace",
        b"\x01garbage",
    );
    assert!(matches!(
        ruchy_trace_instrument::read_table(&wasm),
        Err(Error::BadTable(_))
    ));
    let path = write("bad-table.wasm", &wasm);
    assert_one_line_error(
        &ruchy_trace(&["run", "--invoke", "main", path.to_str().unwrap(), "--", "1"]),
        65,
        "ruchy-trace function table",
    );
}

#[test]
fn modules_using_our_names_are_refused_with_a_name_clash() {
    for (wat, name) in [
        (
            r#"(module (import "ruchy_trace" "flush" (func)) (func (export "main")))"#,
            "ruchy_trace.flush",
        ),
        (
            r#"(module (import "ruchy_trace" "enter_i32" (func (param i32))) (func (export "main")))"#,
            "ruchy_trace.enter_i32",
        ),
        (
            r#"(module (import "ruchy_trace" "clock" (global i32)) (func (export "main")))"#,
            "ruchy_trace.clock",
        ),
        (
            r#"(module (memory (export "__ruchy_trace_memory") 1) (func (export "main")))"#,
            "__ruchy_trace_memory",
        ),
        (
            r#"(module (func (export "__ruchy_trace_enabled")) (func (export "main")))"#,
            "__ruchy_trace_enabled",
        ),
    ] {
        let wasm = wat::parse_str(wat).unwrap();
        assert_eq!(
            ruchy_trace_instrument::instrument(&wasm, &all()).unwrap_err(),
            Error::NameClash(name.to_string()),
            "{wat}"
        );
        let path = write("clash.wasm", &wasm);
        assert_one_line_error(
            &ruchy_trace(&["run", "--invoke", "main", path.to_str().unwrap()]),
            65,
            &format!("already uses the name `{name}`"),
        );
    }
}

/// A module made to look instrumented, whose `main(n)` writes one entry
/// record of itself into the staging area and hands it over with a flush
/// whose cursor claims `n` records.
fn forged_count_module() -> Vec<u8> {
    let honest = ruchy_trace_instrument::instrument(
        &wat::parse_str(r#"(module (func (export "main") (param i64) (result i64) local.get 0))"#)
            .unwrap(),
        &all(),
    )
    .unwrap();
    let table: String = honest
        .table
        .encode()
        .iter()
        .map(|b| format!("\\{b:02x}"))
        .collect();
    wat::parse_str(format!(
        r#"(module
  (import "ruchy_trace" "flush" (func $flush (param i64) (result i64)))
  (memory (export "__ruchy_trace_memory") 1)
  (global (export "__ruchy_trace_enabled") (mut i32) (i32.const 1))
  (global (export "__ruchy_trace_ptr") (mut i64) (i64.const 64))
  (func (export "main") (param i64) (result i64)
    (i32.store (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0))
    (i64.store (i32.const 72) (local.get 0))
    (drop (call $flush (i64.or (i64.const 80) (i64.shl (local.get 0) (i64.const 32)))))
    (i64.const 0))
  (@custom "ruchy-trace" "{table}"))"#
    ))
    .unwrap()
}

/// The record count a flush claims is checked against what the flushed
/// bytes can hold: a count no 16 bytes of this table's records can be (0,
/// or 2^32 - 1) is one clear line and status 70, whatever the ring keeps;
/// a count they can be is taken at its word, as records are.
#[test]
fn a_flush_claiming_an_impossible_record_count_is_one_clear_line() {
    let path = write("forged-count.wasm", &forged_count_module());
    let run = |claimed: &str, buffer: &str| {
        ruchy_trace(&[
            "run",
            "--invoke",
            "main",
            "--buffer-size",
            buffer,
            path.to_str().unwrap(),
            "--",
            claimed,
        ])
    };
    for claimed in ["0", "4294967295"] {
        for buffer in ["16", "1", "0"] {
            assert_one_line_error(&run(claimed, buffer), 70, "invalid record count");
        }
    }
    let honest = run("1", "16");
    assert!(honest.status.success(), "{}", text(&honest.stderr));
    let err = text(&honest.stderr);
    assert!(err.contains("-> main(i64=1)"), "{err}");
    assert!(err.contains("# events: 1 kept, 0 lost"), "{err}");
    let two = text(&run("2", "16").stderr);
    assert!(two.contains("# events: 2 kept, 0 lost"), "{two}");
}
