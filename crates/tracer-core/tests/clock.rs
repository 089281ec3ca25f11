//! Timestamps as the decoder reads them: a record may carry a timestamp a
//! little older than the record before it (inline records read a clock cell
//! a host thread keeps, hook records the host's clock), and that must never
//! be read as the 32-bit microsecond clock wrapping forward.

use ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace_core::record::write_record;
use ruchy_trace_core::ring::Recorded;
use ruchy_trace_core::{
    FunctionInfo, FunctionTable, RecordKind, Strategy, TraceOptions, ValType, Value,
};

fn table() -> FunctionTable {
    FunctionTable {
        options: TraceOptions {
            strategy: Strategy::Inline,
            timestamps: true,
            ..TraceOptions::default()
        },
        program: "prog".into(),
        functions: ["outer", "inner"]
            .iter()
            .enumerate()
            .map(|(i, name)| FunctionInfo {
                wasm_index: i as u32,
                raw_name: name.to_string(),
                name: name.to_string(),
                params: vec![ValType::I64],
                results: vec![ValType::I64],
                param_names: Vec::new(),
                location: None,
                source: None,
                import: None,
            })
            .collect(),
        ..FunctionTable::default()
    }
}

/// (timestamp, duration) of every event of records written with these
/// (function id, kind, timestamp).
fn decode(records: &[(u32, RecordKind, u32)]) -> Vec<(Option<u64>, Option<u64>)> {
    let mut bytes = Vec::new();
    for &(id, kind, t) in records {
        write_record(&mut bytes, id, kind, Some(t), None, &[Value::I64(7)], None);
    }
    let trace = Trace::new(
        table(),
        Recorded::from_bytes(bytes, records.len() as u64),
        RunEnd::Returned,
        0,
        None,
    );
    trace
        .events()
        .map(|e| {
            let e = e.expect("decodes");
            (e.timestamp_us, e.duration_us)
        })
        .collect()
}

/// An exit stamped 1 us before the entry it closes (the clock cell lagging
/// the host clock a hook record read) lasts 0 us and keeps the clock where
/// it was, rather than lasting 2^32 us (4294967.296 ms); the next record
/// times from there.
#[test]
fn a_timestamp_one_microsecond_back_holds_the_clock() {
    let events = decode(&[
        (0, RecordKind::Enter, 100),
        (1, RecordKind::Enter, 150),
        (1, RecordKind::Exit, 149),
        (0, RecordKind::Exit, 160),
    ]);
    assert_eq!(
        events,
        vec![
            (Some(100), None),
            (Some(150), None),
            (Some(150), Some(0)),
            (Some(160), Some(60)),
        ]
    );
}

/// The clock still wraps forward: a timestamp past 2^32 us reads as
/// later than the one before the wrap, and a gap of an hour between two
/// records reads as an hour.
#[test]
fn the_clock_wraps_forward_past_two_to_the_32_microseconds() {
    let wrap = 1u64 << 32;
    let hour = 3_600_000_000u32;
    let events = decode(&[
        (0, RecordKind::Enter, 4_000_000_000),
        (1, RecordKind::Enter, 4_294_967_000),
        (1, RecordKind::Exit, 1_000),
        (0, RecordKind::Exit, 1_000 + hour),
    ]);
    assert_eq!(
        events,
        vec![
            (Some(4_000_000_000), None),
            (Some(4_294_967_000), None),
            (Some(wrap + 1_000), Some(wrap + 1_000 - 4_294_967_000)),
            (
                Some(wrap + 1_000 + u64::from(hour)),
                Some(wrap + 1_000 + u64::from(hour) - 4_000_000_000)
            ),
        ]
    );
}
