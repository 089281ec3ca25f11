//! A function table (from an arbitrary, valid encoding) and arbitrary
//! record chunks through the ring and the decoder, then every formatter:
//! events or an error, never a panic.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace_core::format::{render_to_string, ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions};
use ruchy_trace_core::{FunctionTable, OverflowPolicy, RecordLayout, Ring};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(table_len) = u.int_in_range(0..=512usize) else { return };
    let Ok(table_bytes) = u.bytes(table_len) else { return };
    let Ok(table) = FunctionTable::decode(table_bytes) else { return };
    let capacity: u64 = u.int_in_range(0..=64).unwrap_or(8);
    let policy = if u.arbitrary().unwrap_or(false) { OverflowPolicy::KeepOldest } else { OverflowPolicy::KeepNewest };
    let mut ring = Ring::new(RecordLayout::new(&table), capacity, policy);
    while let Ok(chunk) = u.arbitrary::<&[u8]>() {
        if chunk.is_empty() || ring.push(chunk).is_err() {
            break;
        }
    }
    let Ok(recorded) = ring.finish() else { return };
    let trace = Trace::new(table, recorded, RunEnd::Trapped("trap".into()), 0, Some(1));
    for e in trace.events() {
        if e.is_err() {
            break;
        }
    }
    let formatters: [&mut dyn Formatter; 3] = [
        &mut TextFormatter::new(TextOptions::default()),
        &mut JsonFormatter::new(JsonOptions::default()),
        &mut ChromeFormatter::new(),
    ];
    for f in formatters {
        let _ = render_to_string(f, &trace);
    }
});
