//! JSON output: one document, or JSON Lines for streams too big to hold.
//!
//! The document reads
//!
//! ```text
//! {"metadata": {"program": "fibonacci", "format_version": 1, "timestamps": true,
//!   "clock_resolution_us": 100, "sample": 1, "epoch_unix_us": 1761761183405413,
//!   "end": {"kind": "returned"}},
//! "events": [
//! {"type": "function_enter", "name": "fibonacci", "id": 0, "depth": 0,
//!   "args": [{"type_info": {"name": "i64"}, "value": 5}],
//!   "location": {"file": "fibonacci.ruchy", "line": 1, "column": 5},
//!   "timestamp_ns": 1761761183405413000},
//! {"type": "function_exit", "name": "fibonacci", "id": 0, "depth": 0,
//!   "returns": [{"type_info": {"name": "i64"}, "value": 5}], ...,
//!   "timestamp_ns": 1761761183405438000, "duration_ns": 25000}
//! ],
//! "stats": {"total_events": 2, "kept_events": 2, "dropped_events": 0}}
//! ```
//!
//! with one event per line (the line breaks inside events above are for
//! reading only). Tail exits carry `"tail_call": true` instead of
//! `returns`, frames closed by the host `"closed": "trapped"` (or
//! `exited`, `interrupted`, `lost`). Calls out of the guest (traced
//! imports, named `module::field`) are `import_enter` and `import_exit`
//! events with the same fields; a known WASI call's arguments are its
//! decoded values (`{"name": "fd", "value": 1, "stream": "stdout"}`,
//! `{"name": "iovs", "value": ["5\n"]}`), its exit's `returns` carry the
//! errno's name (`"errno": "EBADF"`) and `outputs` what the call wrote
//! back (`[{"name": "nwritten", "value": 2}]`). Arguments carry `"name"` when the
//! parameter's name is known. Integers are exact JSON numbers, floats
//! numbers or, when not finite, the strings `"NaN"`, `"inf"`, `"-inf"`, a
//! `v128` the string `"0x…"` (32 hex digits, lane 0's byte last), a null
//! reference `null` and any other `"ref"`, and a value a host could not
//! read `null`. `location`,
//! `timestamp_ns` and `duration_ns` are left out when unknown.
//! `clock_resolution_us` is how fine the timestamps are (`null` when the
//! trace has none or its host did not say).
//!
//! In JSON Lines mode the first line is `{"metadata": {...}}`, then one event
//! object per line, then `{"stats": {...}}`: a stream without the stats line
//! was cut.

use super::util::{
    json_value_head, param_name, push_i64, push_json_str, push_optional_u32, push_source_json,
    push_u64, push_us_as_ns, push_value_json,
};
use super::Formatter;
use crate::decode::{RunEnd, Stats, StreamState, Trace};
use crate::event::{Event, EventKind};
use crate::source::{SourceType, TypeKind};
use crate::table::FunctionInfo;
use crate::value::ValType;
use crate::wasi;
use alloc::string::String;
use alloc::vec::Vec;

/// Version of the JSON layout, written as `metadata.format_version`.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Choices of the JSON format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonOptions {
    /// Write JSON Lines (metadata line, one line per event, stats line)
    /// instead of one document.
    pub lines: bool,
}

/// The JSON pieces of one function, built on its first event.
#[derive(Debug)]
struct Pieces {
    /// `"name": "fib", "id": 0, "depth": `
    name_id: String,
    /// `, "location": {...}`, or empty.
    location: String,
    /// Per parameter: the start of its value object, up to `"value": `.
    args: Vec<String>,
}

impl Pieces {
    fn new(id: u32, f: &FunctionInfo) -> Pieces {
        let mut name_id = String::new();
        name_id.push_str("\"name\": ");
        push_json_str(&mut name_id, &f.name);
        name_id.push_str(", \"id\": ");
        push_u64(&mut name_id, u64::from(id));
        name_id.push_str(", \"depth\": ");
        let mut location = String::new();
        if let Some(l) = &f.location {
            location.push_str(", \"location\": {\"file\": ");
            push_json_str(&mut location, &l.file);
            location.push_str(", \"line\": ");
            push_u64(&mut location, u64::from(l.line));
            location.push_str(", \"column\": ");
            push_u64(&mut location, u64::from(l.column));
            location.push('}');
        }
        let args = f
            .params
            .iter()
            .enumerate()
            .map(|(i, &t)| match param_name(&f.param_names, i) {
                Some(n) => {
                    let mut s = String::from("{\"name\": ");
                    push_json_str(&mut s, n);
                    s.push_str(", ");
                    s.push_str(&json_value_head(t)[1..]);
                    s
                }
                None => String::from(json_value_head(t)),
            })
            .collect();
        Pieces {
            name_id,
            location,
            args,
        }
    }
}

/// Renders a trace as JSON or JSON Lines; see the [module](self) docs.
#[derive(Debug, Default)]
pub struct JsonFormatter {
    options: JsonOptions,
    pieces: Vec<Option<Pieces>>,
    epoch_unix_us: u64,
    first: bool,
}

impl JsonFormatter {
    /// A JSON formatter with the given options.
    pub fn new(options: JsonOptions) -> JsonFormatter {
        JsonFormatter {
            options,
            pieces: Vec::new(),
            epoch_unix_us: 0,
            first: true,
        }
    }

    /// A formatter writing JSON Lines.
    pub fn lines() -> JsonFormatter {
        JsonFormatter::new(JsonOptions { lines: true })
    }

    /// The options in use.
    pub fn options(&self) -> JsonOptions {
        self.options
    }
}

/// Writes the `metadata` object.
fn push_metadata(out: &mut String, trace: &Trace) {
    out.push_str("{\"program\": ");
    push_json_str(out, &trace.table.program);
    out.push_str(", \"format_version\": ");
    push_u64(out, u64::from(JSON_FORMAT_VERSION));
    out.push_str(", \"timestamps\": ");
    out.push_str(if trace.table.options.timestamps {
        "true"
    } else {
        "false"
    });
    out.push_str(", \"clock_resolution_us\": ");
    push_optional_u32(out, trace.clock_resolution_us);
    out.push_str(", \"sample\": ");
    push_u64(out, u64::from(trace.table.options.sample));
    out.push_str(", \"epoch_unix_us\": ");
    push_u64(out, trace.epoch_unix_us);
    out.push_str(", \"end\": ");
    match &trace.end {
        RunEnd::Returned => out.push_str("{\"kind\": \"returned\"}"),
        RunEnd::Exited(code) => {
            out.push_str("{\"kind\": \"exited\", \"status\": ");
            push_i64(out, i64::from(*code));
            out.push('}');
        }
        RunEnd::Trapped(m) => {
            out.push_str("{\"kind\": \"trapped\", \"message\": ");
            push_json_str(out, m);
            out.push('}');
        }
        RunEnd::Interrupted(m) => {
            out.push_str("{\"kind\": \"interrupted\", \"message\": ");
            push_json_str(out, m);
            out.push('}');
        }
    }
    out.push('}');
}

/// Writes the `stats` object.
fn push_stats(out: &mut String, stats: &Stats) {
    out.push_str("{\"total_events\": ");
    push_u64(out, stats.total_events);
    out.push_str(", \"kept_events\": ");
    push_u64(out, stats.kept_events);
    out.push_str(", \"dropped_events\": ");
    push_u64(out, stats.dropped_events);
    out.push('}');
}

impl Formatter for JsonFormatter {
    fn begin(&mut self, trace: &Trace, out: &mut String) {
        self.pieces.clear();
        self.pieces
            .resize_with(trace.table.functions.len(), || None);
        self.epoch_unix_us = trace.epoch_unix_us;
        self.first = true;
        out.push_str("{\"metadata\": ");
        push_metadata(out, trace);
        if self.options.lines {
            out.push_str("}\n");
        } else {
            out.push_str(",\n\"events\": [");
        }
    }

    fn event(&mut self, trace: &Trace, event: &Event<'_>, out: &mut String) {
        if !self.options.lines {
            out.push_str(if self.first { "\n" } else { ",\n" });
        }
        self.first = false;
        let epoch = self.epoch_unix_us;
        let i = event.id as usize;
        if i >= self.pieces.len() {
            self.pieces.resize_with(i + 1, || None);
        }
        let p = self.pieces[i].get_or_insert_with(|| Pieces::new(event.id, event.function));
        out.push_str(match (event.kind, event.function.import.is_some()) {
            (EventKind::Enter, false) => "{\"type\": \"function_enter\", ",
            (_, false) => "{\"type\": \"function_exit\", ",
            (EventKind::Enter, true) => "{\"type\": \"import_enter\", ",
            (_, true) => "{\"type\": \"import_exit\", ",
        });
        out.push_str(&p.name_id);
        push_u64(out, u64::from(event.depth));
        let source = event.source_values_within(&trace.table.types, trace.table.limits);
        let call = wasi::decode(event, trace.table.limits);
        match (event.kind, source) {
            (EventKind::Enter, _) if call.is_some() => {
                out.push_str(", \"args\": [");
                call.iter().for_each(|c| c.push_args_json(out));
                out.push(']');
            }
            (EventKind::Exit, _) if call.is_some() => {
                out.push_str(", \"returns\": [");
                if let Some(e) = call.as_ref().and_then(|c| c.errno) {
                    out.push_str(json_value_head(ValType::I32));
                    push_i64(out, i64::from(e));
                    if let Some(name) = wasi::errno_name(e) {
                        out.push_str(", \"errno\": \"");
                        out.push_str(name);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push_str("], \"outputs\": [");
                call.iter().for_each(|c| c.push_args_json(out));
                out.push(']');
            }
            (EventKind::Enter | EventKind::Exit, Some(values)) => {
                out.push_str(if event.kind == EventKind::Enter {
                    ", \"args\": ["
                } else {
                    ", \"returns\": ["
                });
                for (i, a) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('{');
                    if !a.name.is_empty() {
                        out.push_str("\"name\": ");
                        push_json_str(out, a.name);
                        out.push_str(", ");
                    }
                    push_type_info(out, &trace.table.types, a.ty);
                    out.push_str(", \"value\": ");
                    push_source_json(out, &a.value);
                    out.push('}');
                }
                out.push(']');
            }
            (EventKind::Enter, None) => {
                out.push_str(", \"args\": [");
                for (i, v) in event.values().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match p.args.get(i) {
                        Some(head) => out.push_str(head),
                        None => out.push_str(json_value_head(v.ty())),
                    }
                    push_value_json(out, v, "null");
                    out.push('}');
                }
                out.push(']');
            }
            (EventKind::Exit, None) => {
                out.push_str(", \"returns\": [");
                for (i, v) in event.values().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(json_value_head(v.ty()));
                    push_value_json(out, v, "null");
                    out.push('}');
                }
                out.push(']');
            }
            (EventKind::TailExit, _) => out.push_str(", \"tail_call\": true"),
            (EventKind::Closed(reason), _) => {
                out.push_str(", \"closed\": \"");
                out.push_str(reason.word());
                out.push('"');
            }
        }
        out.push_str(&p.location);
        if let Some(t) = event.timestamp_us {
            out.push_str(", \"timestamp_ns\": ");
            push_us_as_ns(out, epoch.saturating_add(t));
        }
        if let Some(d) = event.duration_us {
            out.push_str(", \"duration_ns\": ");
            push_us_as_ns(out, d);
        }
        out.push('}');
        if self.options.lines {
            out.push('\n');
        }
    }

    fn resume(&mut self, events_before: u64, _start: &StreamState) -> bool {
        self.first = events_before == 0;
        true
    }

    fn begins_with_the_end(&self) -> bool {
        true
    }

    fn end(&mut self, _trace: &Trace, stats: &Stats, out: &mut String) {
        if self.options.lines {
            out.push_str("{\"stats\": ");
            push_stats(out, stats);
            out.push_str("}\n");
        } else {
            out.push_str("\n],\n\"stats\": ");
            push_stats(out, stats);
            out.push_str("}\n");
        }
    }
}

/// `"type_info": {"name": "Point", "fields": [{"name": "x", "type": "i64"}]}`.
fn push_type_info(out: &mut String, types: &[SourceType], ty: u32) {
    out.push_str("\"type_info\": {\"name\": ");
    let t = types.get(ty as usize);
    push_json_str(out, t.map_or("?", |t| t.name.as_str()));
    if let Some(SourceType {
        kind: TypeKind::Struct { fields },
        ..
    }) = t
    {
        out.push_str(", \"fields\": [");
        for (i, (name, _, fty)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str("{\"name\": ");
            push_json_str(out, name);
            out.push_str(", \"type\": ");
            push_json_str(
                out,
                types.get(*fty as usize).map_or("?", |t| t.name.as_str()),
            );
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::super::util::testutil::*;
    use super::*;
    use crate::record::RecordKind::*;
    use crate::value::Value;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;
    use serde_json::{json, Value as J};

    fn doc(t: &Trace) -> J {
        let out = render(&mut JsonFormatter::default(), t);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    #[test]
    fn fib_document() {
        let t = trace(table(true), &fib_records(), RunEnd::Returned, None);
        let out = render(&mut JsonFormatter::default(), &t);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1 + 1 + 8 + 2);
        assert_eq!(
            lines[0],
            r#"{"metadata": {"program": "fibonacci", "format_version": 1, "timestamps": true, "clock_resolution_us": null, "sample": 1, "epoch_unix_us": 1761761183405413, "end": {"kind": "returned"}},"#
        );
        assert_eq!(lines[1], r#""events": ["#);
        assert_eq!(
            lines[3],
            r#"{"type": "function_enter", "name": "fibonacci", "id": 0, "depth": 1, "args": [{"type_info": {"name": "i64"}, "value": 2}], "location": {"file": "fibonacci.ruchy", "line": 1, "column": 5}, "timestamp_ns": 1761761183405418000},"#
        );
        assert_eq!(
            lines[5],
            r#"{"type": "function_exit", "name": "fibonacci", "id": 0, "depth": 2, "returns": [{"type_info": {"name": "i64"}, "value": 1}], "location": {"file": "fibonacci.ruchy", "line": 1, "column": 5}, "timestamp_ns": 1761761183405425000, "duration_ns": 2000},"#
        );
        assert_eq!(lines[10], "],");
        assert_eq!(
            lines[11],
            r#""stats": {"total_events": 8, "kept_events": 8, "dropped_events": 0}}"#
        );

        let d: J = serde_json::from_str(&out).unwrap();
        let events = d["events"].as_array().unwrap();
        assert_eq!(events.len(), 8);
        assert_eq!(
            events[0],
            json!({"type": "function_enter", "name": "main", "id": 3, "depth": 0, "args": [], "timestamp_ns": 1761761183405413000u64})
        );
        assert_eq!(
            events[7],
            json!({"type": "function_exit", "name": "main", "id": 3, "depth": 0, "returns": [], "timestamp_ns": 1761761183407013000u64, "duration_ns": 1600000})
        );
        assert_eq!(d["stats"]["kept_events"], 8);
    }

    #[test]
    fn values_names_and_vectors() {
        let recs = vec![
            (PAIR, Enter, 1, vec![Value::F64(2.0), Value::I32(-3)]),
            (
                PAIR,
                Exit,
                2,
                vec![Value::I32(i32::MIN), Value::F64(f64::NEG_INFINITY)],
            ),
            (
                SIMD,
                Enter,
                3,
                vec![
                    Value::V128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
                    Value::I32(7),
                ],
            ),
            (SIMD, Exit, 4, vec![Value::V128(u128::MAX)]),
            (FIB, Enter, 5, vec![Value::I64(i64::MIN)]),
            (FIB, Exit, 6, vec![Value::I64(i64::MAX)]),
        ];
        let d = doc(&trace(table(false), &recs, RunEnd::Exited(3), None));
        assert_eq!(d["metadata"]["end"], json!({"kind": "exited", "status": 3}));
        assert_eq!(d["metadata"]["timestamps"], false);
        let e = d["events"].as_array().unwrap();
        assert_eq!(
            e[0]["args"],
            json!([{"name": "x", "type_info": {"name": "f64"}, "value": 2.0}, {"name": "y", "type_info": {"name": "i32"}, "value": -3}])
        );
        assert_eq!(
            e[0]["location"],
            json!({"file": "lib.ruchy", "line": 12, "column": 0})
        );
        assert!(e[0].get("timestamp_ns").is_none());
        assert!(e[1].get("duration_ns").is_none());
        assert_eq!(
            e[1]["returns"],
            json!([{"type_info": {"name": "i32"}, "value": -2147483648i64}, {"type_info": {"name": "f64"}, "value": "-inf"}])
        );
        assert_eq!(
            e[2]["args"],
            json!([{"type_info": {"name": "v128"}, "value": "0x0102030405060708090a0b0c0d0e0f10"}, {"type_info": {"name": "i32"}, "value": 7}])
        );
        assert!(e[2].get("location").is_none());
        assert_eq!(
            e[3]["returns"],
            json!([{"type_info": {"name": "v128"}, "value": "0xffffffffffffffffffffffffffffffff"}])
        );
        // i64 extremes are exact.
        assert_eq!(e[4]["args"][0]["value"].as_i64(), Some(i64::MIN));
        assert_eq!(e[5]["returns"][0]["value"].as_i64(), Some(i64::MAX));
    }

    #[test]
    fn trapped_tail_and_closed() {
        let recs = vec![
            (MAIN, Enter, 0, vec![]),
            (FIB, Enter, 1, vec![Value::I64(3)]),
            (FIB, TailExit, 2, vec![]),
            (FIB, Enter, 3, vec![Value::I64(2)]),
        ];
        let msg = "trap: \"unreachable\"\n\tat \\fib\u{1}";
        let d = doc(&trace(
            table(true),
            &recs,
            RunEnd::Trapped(msg.to_string()),
            Some(10),
        ));
        assert_eq!(
            d["metadata"]["end"],
            json!({"kind": "trapped", "message": msg})
        );
        let e = d["events"].as_array().unwrap();
        assert_eq!(e.len(), 6);
        assert_eq!(e[2]["tail_call"], true);
        assert_eq!(e[2]["type"], "function_exit");
        assert!(e[2].get("returns").is_none());
        assert_eq!(e[4]["closed"], "trapped");
        assert_eq!(e[4]["name"], "fibonacci");
        assert_eq!(e[4]["duration_ns"], 7000);
        assert_eq!(e[5]["closed"], "trapped");
        assert_eq!(e[5]["name"], "main");
        assert_eq!(e[5]["depth"], 0);
        let d = doc(&trace(
            table(true),
            &recs[..1],
            RunEnd::Interrupted("fuel".to_string()),
            None,
        ));
        assert_eq!(
            d["metadata"]["end"],
            json!({"kind": "interrupted", "message": "fuel"})
        );
        assert_eq!(d["events"][1]["closed"], "interrupted");
    }

    #[test]
    fn json_lines() {
        let t = trace(table(true), &fib_records(), RunEnd::Returned, None);
        let out = render(&mut JsonFormatter::lines(), &t);
        let lines: Vec<J> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 10);
        assert_eq!(lines[0].as_object().unwrap().len(), 1);
        assert_eq!(lines[0]["metadata"]["program"], "fibonacci");
        assert_eq!(lines[1]["name"], "main");
        assert_eq!(lines[2]["args"][0]["value"], 2);
        assert_eq!(
            lines[9],
            json!({"stats": {"total_events": 8, "kept_events": 8, "dropped_events": 0}})
        );
        // Same events as the document.
        let d = doc(&t);
        assert_eq!(d["events"].as_array().unwrap()[..], lines[1..9]);
    }

    #[test]
    fn escapes_names_and_handles_empty_traces() {
        let mut tb = table(true);
        tb.program = "a\"b\\c\nd\u{7}é".to_string();
        tb.functions[FIB as usize].name = "<T as \"Q\">::f\t".to_string();
        tb.functions[FIB as usize].param_names = vec!["n\"".to_string()];
        tb.functions[FIB as usize].location.as_mut().unwrap().file = "C:\\src\\f.ruchy".to_string();
        let recs = vec![
            (FIB, Enter, 0, vec![Value::I64(1)]),
            (FIB, Exit, 1, vec![Value::I64(1)]),
        ];
        let t = trace(tb.clone(), &recs, RunEnd::Returned, None);
        let out = render(&mut JsonFormatter::default(), &t);
        assert!(
            out.contains(r#""program": "a\"b\\c\u000ad\u0007é""#),
            "{out}"
        );
        let d: J = serde_json::from_str(&out).unwrap();
        assert_eq!(d["metadata"]["program"], tb.program.as_str());
        assert_eq!(d["events"][0]["name"], "<T as \"Q\">::f\t");
        assert_eq!(d["events"][0]["args"][0]["name"], "n\"");
        assert_eq!(d["events"][0]["location"]["file"], "C:\\src\\f.ruchy");
        for l in render(&mut JsonFormatter::lines(), &t).lines() {
            serde_json::from_str::<J>(l).unwrap();
        }

        let empty = trace(table(true), &[], RunEnd::Returned, None);
        let d = doc(&empty);
        assert_eq!(d["events"], json!([]));
        let out = render(&mut JsonFormatter::lines(), &empty);
        assert_eq!(out.lines().count(), 2);
    }
}
