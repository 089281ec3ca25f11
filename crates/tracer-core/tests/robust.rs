//! The decoders take bytes another stage wrote, which may be anything: a
//! corrupt custom section, or records from a guest that scribbled over its
//! trace memory. Whatever the bytes, decoding gives events or an error, and
//! never panics. Deterministic: a simple PRNG over fixed seeds.

use ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace_core::format::{
    ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
};
use ruchy_trace_core::record::write_record;
use ruchy_trace_core::{
    FunctionInfo, FunctionTable, Location, OverflowPolicy, RecordKind, RecordLayout, Ring,
    Strategy, TraceOptions, ValType, Value,
};

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const TYPES: [ValType; 6] = [
    ValType::I32,
    ValType::I64,
    ValType::F32,
    ValType::F64,
    ValType::V128,
    ValType::Ref,
];

fn random_table(rng: &mut Rng) -> FunctionTable {
    let n = 1 + rng.below(6) as usize;
    let types = |rng: &mut Rng| {
        (0..rng.below(4))
            .map(|_| TYPES[rng.below(6) as usize])
            .collect::<Vec<_>>()
    };
    FunctionTable {
        options: TraceOptions {
            strategy: if rng.below(2) == 0 {
                Strategy::Inline
            } else {
                Strategy::Hooks
            },
            timestamps: rng.below(2) == 0,
            sample: 1 + rng.below(3) as u32,
            ..TraceOptions::default()
        },
        program: "prog".into(),
        functions: (0..n)
            .map(|i| FunctionInfo {
                wasm_index: i as u32,
                raw_name: format!("_ZN4prog1f{i}E"),
                name: format!("f{i}\"\n\u{1b}"),
                params: types(rng),
                results: types(rng),
                param_names: Vec::new(),
                location: (rng.below(2) == 0).then(|| Location {
                    file: "prog.rs".into(),
                    line: 1,
                    column: 1,
                }),
                source: None,
                import: None,
            })
            .collect(),
        ..FunctionTable::default()
    }
}

fn random_value(rng: &mut Rng, t: ValType) -> Value {
    match t {
        ValType::I32 => Value::I32(rng.next() as i32),
        ValType::I64 => Value::I64(rng.next() as i64),
        ValType::F32 => Value::F32(f32::from_bits(rng.next() as u32)),
        ValType::F64 => Value::F64(f64::from_bits(rng.next())),
        ValType::V128 => Value::V128(u128::from(rng.next()) << 64 | u128::from(rng.next())),
        ValType::Ref => Value::Ref {
            null: rng.next() & 1 == 0,
        },
    }
}

/// Mostly well-formed records (random calls and returns, not necessarily
/// balanced), with some garbage: flipped bytes, cut records, bad ids.
fn random_chunk(rng: &mut Rng, table: &FunctionTable) -> Vec<u8> {
    let mut out = Vec::new();
    let layout = RecordLayout::new(table);
    for _ in 0..rng.below(40) {
        let id = rng.below(table.functions.len() as u64) as u32;
        let f = &table.functions[id as usize];
        let kind =
            [RecordKind::Enter, RecordKind::Exit, RecordKind::TailExit][rng.below(3) as usize];
        let ts = layout.timestamps().then(|| rng.next() as u32 % 1_000_000);
        let depth = (layout.depth() && kind == RecordKind::Enter).then(|| rng.next() as u32);
        let types = match kind {
            RecordKind::Enter => &f.params,
            RecordKind::Exit => &f.results,
            RecordKind::TailExit => &Vec::new(),
        };
        let values: Vec<Value> = types.iter().map(|&t| random_value(rng, t)).collect();
        write_record(&mut out, id, kind, ts, depth, &values, None);
    }
    match rng.below(8) {
        0 if !out.is_empty() => {
            let at = rng.below(out.len() as u64) as usize;
            out[at] ^= 1 + rng.below(255) as u8;
        }
        1 if !out.is_empty() => {
            let len = rng.below(out.len() as u64) as usize;
            out.truncate(len);
        }
        2 => {
            let n = rng.below(64) as usize;
            out.extend(rng.bytes(n));
        }
        _ => {}
    }
    out
}

/// Decodes every event and renders the trace in every format; returns
/// whether an error was met. Whatever the records, a trace that decodes
/// without error never leaves a frame open: every entry is matched by an
/// exit, a tail exit or a frame the decoder closes (stray exits of frames
/// entered before the kept records may outnumber them).
fn decode_all(trace: &Trace) -> bool {
    let mut failed = false;
    let mut balance = 0i64;
    for e in trace.events() {
        match e {
            Ok(e) => {
                let _ = e.values().count();
                balance += if e.kind.is_exit() { -1 } else { 1 };
            }
            Err(_) => failed = true,
        }
    }
    assert!(
        failed || balance <= 0,
        "{balance} frame(s) entered and never closed"
    );
    let stats = trace.stats();
    let formatters: [&mut dyn Formatter; 4] = [
        // Indented: a record's depth (sampled modules) sets the indentation,
        // and a corrupt one is capped (see the regression test below).
        &mut TextFormatter::new(TextOptions {
            indent: true,
            ..TextOptions::default()
        }),
        &mut JsonFormatter::new(JsonOptions::default()),
        &mut JsonFormatter::lines(),
        &mut ChromeFormatter::new(),
    ];
    for f in formatters {
        let mut out = String::new();
        f.begin(trace, &mut out);
        for e in trace.events().flatten() {
            f.event(trace, &e, &mut out);
        }
        f.end(trace, &stats, &mut out);
    }
    failed
}

#[test]
fn arbitrary_bytes_never_panic_the_table_decoder() {
    for seed in 0..20_000u64 {
        let mut rng = Rng::new(seed);
        let n = rng.below(200) as usize;
        let mut bytes = rng.bytes(n);
        // Half the time, start like a real table so the fields get read.
        if seed % 2 == 0 && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(b"RTFT");
            bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
        }
        let _ = FunctionTable::decode(&bytes);
    }
}

#[test]
fn damaged_tables_decode_or_fail_cleanly() {
    for seed in 0..3_000u64 {
        let mut rng = Rng::new(seed);
        let table = random_table(&mut rng);
        let bytes = table.encode();
        assert_eq!(
            FunctionTable::decode(&bytes).as_ref(),
            Ok(&table),
            "round trip, seed {seed}"
        );
        for len in 0..bytes.len() {
            assert!(
                FunctionTable::decode(&bytes[..len]).is_err(),
                "prefix {len} of seed {seed} decoded"
            );
        }
        for _ in 0..8 {
            let mut flipped = bytes.clone();
            let at = rng.below(bytes.len() as u64) as usize;
            flipped[at] ^= 1 + rng.below(255) as u8;
            if let Ok(t) = FunctionTable::decode(&flipped) {
                // Whatever decoded is usable: a layout can be made of it.
                let _ = RecordLayout::new(&t).max_record_size();
            }
        }
    }
}

#[test]
fn arbitrary_records_never_panic_the_ring_or_the_decoder() {
    let mut errors = 0;
    let runs = 3_000u64;
    for seed in 0..runs {
        let mut rng = Rng::new(seed);
        let table = random_table(&mut rng);
        let capacity = [0, 1, 3, 10, 1000][rng.below(5) as usize];
        let policy = if rng.below(2) == 0 {
            OverflowPolicy::KeepNewest
        } else {
            OverflowPolicy::KeepOldest
        };
        let mut ring = Ring::new(RecordLayout::new(&table), capacity, policy);
        let mut pushed = Ok(());
        for _ in 0..rng.below(6) {
            let chunk = if rng.below(10) == 0 {
                let n = rng.below(100) as usize;
                rng.bytes(n)
            } else {
                random_chunk(&mut rng, &table)
            };
            pushed = ring.push(&chunk);
            if pushed.is_err() {
                break;
            }
        }
        if pushed.is_err() {
            errors += 1;
            continue;
        }
        let recorded = match ring.finish() {
            Ok(r) => r,
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        let end = [
            RunEnd::Returned,
            RunEnd::Exited(3),
            RunEnd::Trapped("wasm trap: unreachable\nsecond line".into()),
            RunEnd::Interrupted("time".into()),
        ][rng.below(4) as usize]
            .clone();
        let end_us = (rng.below(2) == 0).then(|| rng.next() >> 1);
        let trace = Trace::new(table, recorded, end, rng.next() >> 8, end_us);
        errors += decode_all(&trace) as usize;
    }
    // Most inputs are damaged somewhere; some must come through whole.
    assert!(
        errors > 0 && errors < runs as usize,
        "{errors} of {runs} failed"
    );
}

#[test]
fn records_decoded_against_the_wrong_table_fail_cleanly() {
    for seed in 0..2_000u64 {
        let mut rng = Rng::new(seed);
        let writer = random_table(&mut rng);
        let reader = random_table(&mut rng);
        let mut ring = Ring::new(
            RecordLayout::new(&reader),
            1 << 20,
            OverflowPolicy::KeepNewest,
        );
        let chunk = random_chunk(&mut rng, &writer);
        if ring.push(&chunk).is_err() {
            continue;
        }
        if let Ok(recorded) = ring.finish() {
            decode_all(&Trace::new(reader, recorded, RunEnd::Returned, 0, None));
        }
    }
}

/// A ring given each chunk's record count (as the staging cursor gives it)
/// keeps and loses exactly what a ring counting each chunk itself does:
/// same kept records from the same offset, same counts, same decoder state
/// before the first kept record, whatever the capacity, policy and chunks.
/// A ring lent the chunks (`push_slice`, which passes the records it will
/// drop where they lie) keeps the same records, counts and state too, in
/// chunks of its own. Runs whose chunks do not count (damaged ones) are
/// left out, and their number is asserted, so nothing is skipped in
/// silence.
#[test]
fn a_ring_given_counts_keeps_what_a_ring_counting_itself_keeps() {
    let runs = 3_000u64;
    let mut compared = 0;
    let mut damaged = 0;
    'runs: for seed in 0..runs {
        let mut rng = Rng::new(seed);
        let table = random_table(&mut rng);
        let capacity = [0, 1, 3, 10, 40, 1000][rng.below(6) as usize];
        let policy = if rng.below(2) == 0 {
            OverflowPolicy::KeepNewest
        } else {
            OverflowPolicy::KeepOldest
        };
        let layout = RecordLayout::new(&table);
        let mut counting = Ring::new(layout.clone(), capacity, policy);
        let mut given = Ring::new(layout.clone(), capacity, policy);
        let mut lent = Ring::new(layout.clone(), capacity, policy);
        for _ in 0..1 + rng.below(8) {
            let chunk = random_chunk(&mut rng, &table);
            let Ok(n) = ruchy_trace_core::record::count_records(&layout, &chunk, 0) else {
                damaged += 1;
                continue 'runs;
            };
            counting.push(&chunk).unwrap();
            lent.push_slice(&chunk, n).unwrap();
            given.push_counted(chunk, Some(n)).unwrap();
        }
        let (a, b) = (counting.finish().unwrap(), given.finish().unwrap());
        assert_eq!(a.chunks, b.chunks, "seed {seed}");
        assert_eq!(a.first_offset, b.first_offset, "seed {seed}");
        let c = lent.finish().unwrap();
        assert_eq!(
            c.slices().collect::<Vec<_>>().concat(),
            a.slices().collect::<Vec<_>>().concat(),
            "seed {seed}"
        );
        for r in [&b, &c] {
            assert_eq!((a.kept, a.lost), (r.kept, r.lost), "seed {seed}");
            assert_eq!(a.cut_at_end, r.cut_at_end, "seed {seed}");
            assert_eq!(
                format!("{:?}", a.start),
                format!("{:?}", r.start),
                "seed {seed}"
            );
        }
        compared += 1;
    }
    assert_eq!((compared, damaged), (912, 2088), "compared, damaged");
}

/// Regression: a sampled module's entry record carries its depth, which the
/// indented text format used as the indentation; a corrupt depth of 4e9
/// made one line 8 GB long. The indentation is capped at `MAX_INDENT`
/// levels, so the line stays short.
#[test]
fn a_corrupt_depth_indents_at_most_max_indent_levels() {
    use ruchy_trace_core::format::text::MAX_INDENT;
    let table = FunctionTable {
        options: TraceOptions {
            sample: 2,
            timestamps: false,
            ..TraceOptions::default()
        },
        program: "prog".into(),
        functions: vec![FunctionInfo {
            wasm_index: 0,
            raw_name: "f".into(),
            name: "f".into(),
            params: Vec::new(),
            results: Vec::new(),
            param_names: Vec::new(),
            location: None,
            source: None,
            import: None,
        }],
        ..FunctionTable::default()
    };
    let mut records = Vec::new();
    write_record(
        &mut records,
        0,
        RecordKind::Enter,
        None,
        Some(u32::MAX),
        &[],
        None,
    );
    let layout = RecordLayout::new(&table);
    let mut ring = Ring::new(layout, 10, OverflowPolicy::KeepNewest);
    ring.push(&records).unwrap();
    let trace = Trace::new(table, ring.finish().unwrap(), RunEnd::Returned, 0, None);
    let mut f = TextFormatter::new(TextOptions {
        indent: true,
        ..TextOptions::default()
    });
    let mut out = String::new();
    let events: Vec<_> = trace.events().map(Result::unwrap).collect();
    assert_eq!(events[0].depth, u32::MAX, "the depth is the record's");
    f.event(&trace, &events[0], &mut out);
    let indent = out.len() - out.trim_start_matches(' ').len();
    assert_eq!(indent, 2 * MAX_INDENT as usize, "{out:?}");
}

/// Inputs the fuzz targets once found a failure with, each run through
/// the same steps as the target that found it.
const REGRESSIONS: &[(&str, &[u8])] = &[(
    "decode_table-exponential-fields",
    include_bytes!("regressions/decode_table-exponential-fields.bin"),
)];

/// The table whose enum fields referred to a few types many times over
/// (the `decode_table` target timed out on it: asking whether a function's
/// arguments need guest memory walked every path through the types)
/// decodes, re-encodes to itself and lays out its records.
#[test]
fn fuzz_regressions_decode_and_lay_out() {
    for (name, bytes) in REGRESSIONS {
        let table = FunctionTable::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = FunctionTable::decode(&table.encode()).expect("re-encoded table decodes");
        assert_eq!(again, table, "{name}");
        let _ = ruchy_trace_core::RecordLayout::new(&table).max_record_size();
    }
}
