//! Chrome Trace Event Format, for Perfetto UI, `chrome://tracing` and
//! speedscope.
//!
//! ```text
//! {"traceEvents": [
//! {"name": "process_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "fibonacci"}},
//! {"name": "fibonacci", "cat": "wasm", "ph": "B", "ts": 5, "pid": 1, "tid": 1, "args": {"i64": 5}},
//! {"name": "fibonacci", "cat": "wasm", "ph": "E", "ts": 7, "pid": 1, "tid": 1, "args": {"result": 5}}
//! ],
//! "displayTimeUnit": "ns",
//! "otherData": {"program": "fibonacci", "total_events": 2, "kept_events": 2, "dropped_events": 0,
//!   "clock_resolution_us": 100, "unmatched_exits": 0}}
//! ```
//!
//! Every call is a `B`/`E` pair. `ts` is the event's timestamp in
//! microseconds since the trace started or, in traces without timestamps,
//! the event's position in the trace, which keeps the order. Entry `args`
//! name each argument by its parameter name or, without one, by its type
//! (`i64`, then `i64#1` for a second one). Exit `args` hold the `result`
//! (an array for several), `"tail_call": true` or `"closed": "trapped"`
//! (or `exited`, `interrupted`, `lost`). Calls out of the guest (traced
//! imports) are in category `import` instead of `wasm`; a known WASI
//! call's `args` are its decoded values (`"fd": 1, "iovs": ["5\n"]`), and
//! its exit's the errno (`"result": 8, "errno": "EBADF"`) and what the
//! call wrote back (`"nwritten": 2`).
//!
//! The output always balances: an exit whose entry was not emitted (a
//! keep-newest ring dropped it) is skipped, and entries still open at the
//! end are closed at the last timestamp.

use super::util::{
    param_name, push_i64, push_json_str, push_optional_u32, push_u64, push_value_json,
};
use super::Formatter;
use crate::decode::{Stats, Trace};
use crate::event::{Event, EventKind};
use crate::table::FunctionInfo;
use crate::wasi;
use alloc::string::String;
use alloc::vec::Vec;

/// The Chrome pieces of one function, built on its first event.
#[derive(Debug)]
struct Pieces {
    /// `{"name": "fib", "cat": "wasm", "ph": "B", "ts": `
    begin: String,
    /// `{"name": "fib", "cat": "wasm", "ph": "E", "ts": `
    end: String,
    /// Per parameter: `"n": ` (the key of its argument, unique).
    keys: Vec<String>,
}

impl Pieces {
    fn new(f: &FunctionInfo) -> Pieces {
        let mut begin = String::from("{\"name\": ");
        push_json_str(&mut begin, &f.name);
        // Calls out of the guest get their own category, so viewers can
        // colour or filter them apart from the program's own calls.
        begin.push_str(if f.import.is_some() {
            ", \"cat\": \"import\", \"ph\": \""
        } else {
            ", \"cat\": \"wasm\", \"ph\": \""
        });
        let mut end = begin.clone();
        begin.push_str("B\", \"ts\": ");
        end.push_str("E\", \"ts\": ");
        let mut names: Vec<String> = Vec::with_capacity(f.params.len());
        for (i, t) in f.params.iter().enumerate() {
            let base = param_name(&f.param_names, i).unwrap_or(t.name());
            let mut key = String::from(base);
            // `result`, `tail_call` and `closed` are free to use: entries
            // never carry them. Make keys unique within the call.
            if names.contains(&key) {
                key.push('#');
                push_u64(&mut key, i as u64);
            }
            names.push(key);
        }
        let keys = names
            .iter()
            .map(|n| {
                let mut k = String::new();
                push_json_str(&mut k, n);
                k.push_str(": ");
                k
            })
            .collect();
        Pieces { begin, end, keys }
    }
}

/// Renders a trace in the Chrome Trace Event Format; see the
/// [module](self) docs.
#[derive(Debug, Default)]
pub struct ChromeFormatter {
    pieces: Vec<Option<Pieces>>,
    /// Ids of the emitted entries still open, innermost last.
    open: Vec<u32>,
    /// Events seen, the `ts` of traces without timestamps.
    ordinal: u64,
    /// The last `ts` written.
    last_ts: u64,
    /// Exits skipped because their entry was not emitted.
    skipped: u64,
}

impl ChromeFormatter {
    /// A Chrome trace formatter.
    pub fn new() -> ChromeFormatter {
        ChromeFormatter::default()
    }

    #[inline]
    fn pieces(&mut self, id: u32, f: &FunctionInfo) -> &Pieces {
        let i = id as usize;
        if i >= self.pieces.len() {
            self.pieces.resize_with(i + 1, || None);
        }
        self.pieces[i].get_or_insert_with(|| Pieces::new(f))
    }
}

/// Writes `, "pid": 1, "tid": 1, "args": {`.
const AFTER_TS: &str = ", \"pid\": 1, \"tid\": 1, \"args\": {";

impl Formatter for ChromeFormatter {
    fn begin(&mut self, trace: &Trace, out: &mut String) {
        self.pieces.clear();
        self.pieces
            .resize_with(trace.table.functions.len(), || None);
        self.open.clear();
        self.ordinal = 0;
        self.last_ts = 0;
        self.skipped = 0;
        out.push_str("{\"traceEvents\": [\n");
        out.push_str("{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 1, \"args\": {\"name\": ");
        push_json_str(
            out,
            if trace.table.program.is_empty() {
                "wasm"
            } else {
                &trace.table.program
            },
        );
        out.push_str("}}");
    }

    fn event(&mut self, trace: &Trace, event: &Event<'_>, out: &mut String) {
        let ts = event.timestamp_us.unwrap_or(self.ordinal);
        self.ordinal += 1;
        if event.kind.is_exit() {
            if self.open.pop().is_none() {
                self.skipped += 1;
                return;
            }
        } else {
            self.open.push(event.id);
        }
        self.last_ts = ts;
        let p = self.pieces(event.id, event.function);
        out.push_str(",\n");
        match event.kind {
            EventKind::Enter | EventKind::Exit if wasi::known(event.function).is_some() => {
                out.push_str(if event.kind == EventKind::Enter {
                    &p.begin
                } else {
                    &p.end
                });
                push_u64(out, ts);
                out.push_str(AFTER_TS);
                if let Some(call) = wasi::decode(event, trace.table.limits) {
                    if let Some(e) = call.errno {
                        out.push_str("\"result\": ");
                        push_i64(out, i64::from(e));
                    }
                    call.push_members_json(out, call.errno.is_none());
                }
            }
            EventKind::Enter => {
                out.push_str(&p.begin);
                push_u64(out, ts);
                out.push_str(AFTER_TS);
                for (i, v) in event.values().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match p.keys.get(i) {
                        Some(k) => out.push_str(k),
                        None => out.push_str("\"?\": "),
                    }
                    push_value_json(out, v, unrecorded(v.ty()));
                }
            }
            EventKind::Exit => {
                out.push_str(&p.end);
                push_u64(out, ts);
                out.push_str(AFTER_TS);
                let n = event.function.results.len();
                if n > 0 {
                    out.push_str("\"result\": ");
                    if n > 1 {
                        out.push('[');
                    }
                    for (i, v) in event.values().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        push_value_json(out, v, unrecorded(v.ty()));
                    }
                    if n > 1 {
                        out.push(']');
                    }
                }
            }
            EventKind::TailExit => {
                out.push_str(&p.end);
                push_u64(out, ts);
                out.push_str(AFTER_TS);
                out.push_str("\"tail_call\": true");
            }
            EventKind::Closed(reason) => {
                out.push_str(&p.end);
                push_u64(out, ts);
                out.push_str(AFTER_TS);
                out.push_str("\"closed\": \"");
                out.push_str(reason.word());
                out.push('"');
            }
        }
        out.push_str("}}");
    }

    fn end(&mut self, trace: &Trace, stats: &Stats, out: &mut String) {
        // The decoder closes every frame itself; this only matters when the
        // events stopped early (a decoding error).
        while let Some(id) = self.open.pop() {
            let ts = self.last_ts;
            if let Some(f) = trace.table.functions.get(id as usize) {
                let p = self.pieces(id, f);
                out.push_str(",\n");
                out.push_str(&p.end);
                push_u64(out, ts);
                out.push_str(AFTER_TS);
                out.push_str("\"closed\": \"lost\"}}");
            }
        }
        out.push_str("\n],\n\"displayTimeUnit\": \"ns\",\n\"otherData\": {\"program\": ");
        push_json_str(out, &trace.table.program);
        out.push_str(", \"total_events\": ");
        push_u64(out, stats.total_events);
        out.push_str(", \"kept_events\": ");
        push_u64(out, stats.kept_events);
        out.push_str(", \"dropped_events\": ");
        push_u64(out, stats.dropped_events);
        out.push_str(", \"clock_resolution_us\": ");
        push_optional_u32(out, trace.clock_resolution_us);
        out.push_str(", \"unmatched_exits\": ");
        push_u64(out, self.skipped);
        out.push_str("}}\n");
    }
}

/// How a value a host could not read shows: `"<v128>"`, `"<ref>"`.
fn unrecorded(t: crate::value::ValType) -> &'static str {
    match t {
        crate::value::ValType::V128 => "\"<v128>\"",
        crate::value::ValType::Ref => "\"<ref>\"",
        _ => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::testutil::*;
    use super::*;
    use crate::decode::RunEnd;
    use crate::record::RecordKind::*;
    use crate::record::RecordLayout;
    use crate::ring::{OverflowPolicy, Ring};
    use crate::value::{ValType, Value};
    use alloc::string::ToString;
    use alloc::vec;
    use serde_json::{json, Value as J};

    fn doc(t: &Trace) -> J {
        let out = render(&mut ChromeFormatter::new(), t);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Checks that B and E events nest properly, with matching names and
    /// non-decreasing timestamps; returns the number of pairs.
    fn check_balanced(d: &J) -> usize {
        let mut stack = Vec::new();
        let mut pairs = 0;
        let mut last = 0;
        for e in d["traceEvents"].as_array().unwrap() {
            let ph = e["ph"].as_str().unwrap();
            if ph == "M" {
                continue;
            }
            let ts = e["ts"].as_u64().unwrap();
            assert!(ts >= last, "ts went back: {e}");
            last = ts;
            assert_eq!(e["pid"], 1);
            assert_eq!(e["tid"], 1);
            assert_eq!(e["cat"], "wasm");
            match ph {
                "B" => stack.push(e["name"].as_str().unwrap().to_string()),
                "E" => {
                    assert_eq!(
                        stack.pop().as_deref(),
                        e["name"].as_str(),
                        "unbalanced E: {e}"
                    );
                    pairs += 1;
                }
                _ => panic!("unexpected phase {ph}"),
            }
        }
        assert!(stack.is_empty(), "open B events left: {stack:?}");
        pairs
    }

    #[test]
    fn fib_trace() {
        let t = trace(table(true), &fib_records(), RunEnd::Returned, None);
        let out = render(&mut ChromeFormatter::new(), &t);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], r#"{"traceEvents": ["#);
        assert_eq!(
            lines[1],
            r#"{"name": "process_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "fibonacci"}},"#
        );
        assert_eq!(
            lines[2],
            r#"{"name": "main", "cat": "wasm", "ph": "B", "ts": 0, "pid": 1, "tid": 1, "args": {}},"#
        );
        assert_eq!(
            lines[3],
            r#"{"name": "fibonacci", "cat": "wasm", "ph": "B", "ts": 5, "pid": 1, "tid": 1, "args": {"i64": 2}},"#
        );
        assert_eq!(
            lines[5],
            r#"{"name": "fibonacci", "cat": "wasm", "ph": "E", "ts": 12, "pid": 1, "tid": 1, "args": {"result": 1}},"#
        );
        assert_eq!(
            lines[9],
            r#"{"name": "main", "cat": "wasm", "ph": "E", "ts": 1600, "pid": 1, "tid": 1, "args": {}}"#
        );
        assert_eq!(lines[10], "],");
        let d: J = serde_json::from_str(&out).unwrap();
        assert_eq!(check_balanced(&d), 4);
        assert_eq!(d["displayTimeUnit"], "ns");
        assert_eq!(d["otherData"]["program"], "fibonacci");
        assert_eq!(d["otherData"]["dropped_events"], 0);
    }

    #[test]
    fn values_names_and_ordinals() {
        let recs = vec![
            (PAIR, Enter, 0, vec![Value::F64(0.5), Value::I32(-3)]),
            (PAIR, Exit, 0, vec![Value::I32(4), Value::F64(f64::NAN)]),
            (
                SIMD,
                Enter,
                0,
                vec![
                    Value::V128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
                    Value::I32(7),
                ],
            ),
            (SIMD, Exit, 0, vec![Value::V128(u128::MAX)]),
            (MAIN, Enter, 0, vec![]),
            (MAIN, TailExit, 0, vec![]),
        ];
        let mut tb = table(false);
        tb.functions[FIB as usize].params = vec![ValType::I64, ValType::I64];
        let mut recs2 = recs.clone();
        recs2.push((FIB, Enter, 0, vec![Value::I64(1), Value::I64(2)]));
        let d = doc(&trace(tb, &recs2, RunEnd::Returned, None));
        assert_eq!(check_balanced(&d), 4);
        let e = d["traceEvents"].as_array().unwrap();
        assert_eq!(e[1]["args"], json!({"x": 0.5, "y": -3}));
        assert_eq!(e[2]["args"], json!({"result": [4, "NaN"]}));
        assert_eq!(
            e[3]["args"],
            json!({"v128": "0x0102030405060708090a0b0c0d0e0f10", "i32": 7})
        );
        assert_eq!(
            e[4]["args"],
            json!({"result": "0xffffffffffffffffffffffffffffffff"})
        );
        assert_eq!(e[6]["args"], json!({"tail_call": true}));
        assert_eq!(e[7]["args"], json!({"i64": 1, "i64#1": 2}));
        assert_eq!(e[8]["args"], json!({"closed": "lost"}));
        // Without timestamps, ts is the event's position.
        let ts: Vec<u64> = e[1..].iter().map(|e| e["ts"].as_u64().unwrap()).collect();
        assert_eq!(ts, [0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn trapped_run_closes_frames() {
        let t = trace(
            table(true),
            &fib_records()[..3],
            RunEnd::Trapped("unreachable".to_string()),
            Some(40),
        );
        let d = doc(&t);
        assert_eq!(check_balanced(&d), 3);
        let e = d["traceEvents"].as_array().unwrap();
        assert_eq!(
            e[4],
            json!({"name": "fibonacci", "cat": "wasm", "ph": "E", "ts": 40, "pid": 1, "tid": 1, "args": {"closed": "trapped"}})
        );
        assert_eq!(e[6]["name"], "main");
    }

    /// Writes the fib(n) recursion (with a main around it) into `out`, one
    /// chunk per `chunk` records.
    fn fib_chunks(n: i64, chunk: usize) -> (crate::table::FunctionTable, Vec<Vec<u8>>, usize) {
        fn go(n: i64, clock: &mut u32, recs: &mut Vec<Rec>) -> i64 {
            *clock += 1;
            recs.push((FIB, Enter, *clock, vec![Value::I64(n)]));
            let r = if n < 2 {
                n
            } else {
                go(n - 1, clock, recs) + go(n - 2, clock, recs)
            };
            *clock += 1;
            recs.push((FIB, Exit, *clock, vec![Value::I64(r)]));
            r
        }
        let tb = table(true);
        let mut recs = vec![(MAIN, Enter, 0, vec![])];
        let mut clock = 0;
        go(n, &mut clock, &mut recs);
        recs.push((MAIN, Exit, clock + 1, vec![]));
        let chunks = recs.chunks(chunk).map(|c| bytes(&tb, c)).collect();
        (tb, chunks, recs.len())
    }

    #[test]
    fn balances_with_a_keep_newest_ring_that_dropped_entries() {
        for capacity in [1u64, 2, 3, 7, 10, 25, 51] {
            for chunk in [1usize, 3, 16] {
                let (tb, chunks, total) = fib_chunks(6, chunk);
                let mut ring =
                    Ring::new(RecordLayout::new(&tb), capacity, OverflowPolicy::KeepNewest);
                for c in &chunks {
                    ring.push(c).unwrap();
                }
                let recorded = ring.finish().unwrap();
                assert_eq!(recorded.kept, capacity);
                assert_eq!(recorded.lost as usize, total - capacity as usize);
                // Kept events start mid-recursion: some exits lost their entry.
                assert!(!recorded.start.open.is_empty() || capacity == 1);
                let t = Trace::new(tb, recorded, RunEnd::Returned, EPOCH, None);
                let d = doc(&t);
                let pairs = check_balanced(&d);
                let enters = t
                    .events()
                    .filter(|e| e.as_ref().unwrap().kind == EventKind::Enter)
                    .count();
                assert_eq!(pairs, enters, "capacity {capacity}, chunk {chunk}");
                assert_eq!(d["otherData"]["dropped_events"], (total as u64 - capacity));
            }
        }
    }

    #[test]
    fn balances_with_a_keep_oldest_ring_and_while_trapped() {
        for capacity in [1u64, 4, 9, 20] {
            let (tb, chunks, _) = fib_chunks(5, 4);
            let mut ring = Ring::new(RecordLayout::new(&tb), capacity, OverflowPolicy::KeepOldest);
            for c in &chunks {
                ring.push(c).unwrap();
            }
            let t = Trace::new(
                tb,
                ring.finish().unwrap(),
                RunEnd::Trapped("x".to_string()),
                EPOCH,
                Some(1000),
            );
            let d = doc(&t);
            check_balanced(&d);
            let last = d["traceEvents"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["args"], json!({"closed": "lost"}));
        }
    }

    #[test]
    fn closes_what_a_partial_stream_left_open() {
        let t = trace(table(true), &fib_records()[..2], RunEnd::Returned, None);
        let mut f = ChromeFormatter::new();
        let mut out = String::new();
        f.begin(&t, &mut out);
        for e in t.events().take(2) {
            f.event(&t, &e.unwrap(), &mut out);
        }
        f.end(&t, &t.stats(), &mut out);
        let d: J = serde_json::from_str(&out).unwrap();
        assert_eq!(check_balanced(&d), 2);
    }

    #[test]
    fn escapes_program_and_names() {
        let mut tb = table(true);
        tb.program = String::new();
        tb.functions[MAIN as usize].name = "a\"b\\\u{0}".to_string();
        let t = trace(
            tb,
            &[(MAIN, Enter, 0, vec![]), (MAIN, Exit, 1, vec![])],
            RunEnd::Returned,
            None,
        );
        let d = doc(&t);
        assert_eq!(d["traceEvents"][0]["args"]["name"], "wasm");
        assert_eq!(d["traceEvents"][1]["name"], "a\"b\\\u{0}");
        assert_eq!(check_balanced(&d), 1);
    }
}
