//! The strace-style text format, one line per event:
//!
//! ```text
//! [1761761183.405413] -> fibonacci(i64=5) <fibonacci.ruchy:1:5>
//! [1761761183.405438] <- fibonacci() = 1 [0.002ms]
//! ```

use super::util::{
    param_name, push_duration_and_end, push_i64, push_micros_and_bracket, push_u64, push_value_text,
};
use super::Formatter;
use crate::decode::{RunEnd, Stats, StreamState, Trace};
use crate::event::{Event, EventKind};
use crate::source::{SourceType, SourceValue};
use crate::table::FunctionInfo;
use crate::value::{ValType, Value};
use crate::wasi;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

/// Most levels of indentation shown.
pub const MAX_INDENT: u32 = 256;

/// Choices of the text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Indent each arrow by two spaces per call depth.
    pub indent: bool,
    /// Start each line with the wall-clock time `[secs.micros]` when the
    /// trace has timestamps.
    pub timestamps: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            indent: false,
            timestamps: true,
        }
    }
}

/// The text pieces of one function, built on its first event.
#[derive(Debug)]
struct Pieces {
    /// `-> name(`
    enter: String,
    /// `<- name()`
    exit: String,
    /// ` <file:line:col>`, or empty.
    location: String,
    /// Per parameter: `i64=` or `n: i64 = `.
    labels: Vec<String>,
    /// Per source parameter, when the source signature is known:
    /// `n: i64 = `.
    source_labels: Vec<String>,
    /// Whether the function's events read as its wasm values alone (no
    /// source signature, not a WASI call): lines built from the pieces
    /// below, without asking how to read the values.
    plain: bool,
    /// Per parameter, what comes before its value: `-> name(i64=` for the
    /// first, `, y: i32 = ` for the others.
    before_value: Vec<String>,
    /// `)`, the location, the line's end.
    enter_end: String,
    /// `<- name() = `: the exit of a function with one result.
    exit_with_value: String,
}

impl Pieces {
    fn new(f: &FunctionInfo, types: &[SourceType]) -> Pieces {
        let mut enter = String::with_capacity(f.name.len() + 4);
        enter.push_str("-> ");
        enter.push_str(&f.name);
        enter.push('(');
        let mut exit = String::with_capacity(f.name.len() + 5);
        exit.push_str("<- ");
        exit.push_str(&f.name);
        exit.push_str("()");
        let mut location = String::new();
        if let Some(l) = &f.location {
            location.push_str(" <");
            location.push_str(&l.file);
            location.push(':');
            push_u64(&mut location, u64::from(l.line));
            if l.column != 0 {
                location.push(':');
                push_u64(&mut location, u64::from(l.column));
            }
            location.push('>');
        }
        let labels: Vec<String> = f
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut s = String::new();
                match param_name(&f.param_names, i) {
                    Some(n) => {
                        s.push_str(n);
                        s.push_str(": ");
                        s.push_str(t.name());
                        s.push_str(" = ");
                    }
                    None => {
                        s.push_str(t.name());
                        s.push('=');
                    }
                }
                s
            })
            .collect();
        let source_labels = f
            .source
            .iter()
            .flat_map(|sig| &sig.params)
            .map(|p| {
                let mut s = String::new();
                s.push_str(&p.name);
                s.push_str(": ");
                s.push_str(types.get(p.ty as usize).map_or("?", |t| t.name.as_str()));
                s.push_str(" = ");
                s
            })
            .collect();
        let before_value = labels
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let mut s = String::from(if i == 0 { enter.as_str() } else { ", " });
                s.push_str(label);
                s
            })
            .collect();
        let mut enter_end = String::from(")");
        enter_end.push_str(&location);
        enter_end.push('\n');
        let mut exit_with_value = exit.clone();
        exit_with_value.push_str(" = ");
        Pieces {
            plain: f.source.is_none() && wasi::known(f).is_none(),
            before_value,
            enter_end,
            exit_with_value,
            enter,
            exit,
            location,
            labels,
            source_labels,
        }
    }
}

/// Renders a trace as strace-style text.
///
/// Entries read `-> name(i64=5)` (or `-> name(n: i64 = 5)` when the
/// parameter's name is known) followed by ` <file:line:col>` when the
/// function's location is; exits read `<- name() = 1`, `<- name() = (1, 2.0)`
/// or `<- name()`, tail exits `<- name() [tail call]`, frames closed by the
/// host `<- name() [trapped]` (or `exited`, `interrupted`, `lost`), each
/// followed by ` [0.002ms]` when the call's duration is known. A trace
/// whose host stated how fine its timestamps are starts with
/// `# clock resolution: 100 us`. A summary
/// `# events: K kept, L lost` and how the run ended close the text. Calls
/// out of the guest read `-> module::field(...)`; known WASI functions
/// (see [`crate::wasi`]) show their values as read from guest memory:
/// `-> wasi_snapshot_preview1::fd_write(fd: 1 <stdout>, iovs: ["5\n"])`,
/// `<- wasi_snapshot_preview1::fd_write() = 0 (nwritten: 2)`, failing
/// errnos by name (`= 8 EBADF`).
#[derive(Debug, Default)]
pub struct TextFormatter {
    options: TextOptions,
    pieces: Vec<Option<Pieces>>,
    epoch_unix_us: u64,
    /// `[secs.` of the last timestamp written, and its second: consecutive
    /// events almost always share the second, so only the microseconds are
    /// formatted anew.
    second: Option<u64>,
    second_text: String,
    /// The last time written, and its whole `[secs.micros] `: a clock
    /// that ticks every 100 us stamps runs of thousands of events alike.
    stamp_us: Option<u64>,
    stamp: String,
}

impl TextFormatter {
    /// A text formatter with the given options.
    pub fn new(options: TextOptions) -> TextFormatter {
        TextFormatter {
            options,
            pieces: Vec::new(),
            epoch_unix_us: 0,
            second: None,
            second_text: String::new(),
            stamp_us: None,
            stamp: String::new(),
        }
    }

    /// The options in use.
    pub fn options(&self) -> TextOptions {
        self.options
    }

    #[inline]
    fn pieces(&mut self, id: u32, f: &FunctionInfo, types: &[SourceType]) -> &Pieces {
        let i = id as usize;
        if i >= self.pieces.len() {
            self.pieces.resize_with(i + 1, || None);
        }
        self.pieces[i].get_or_insert_with(|| Pieces::new(f, types))
    }
}

/// Appends a source value as Ruchy shows it; integers that fit 64 bits
/// (nearly all) without the formatting machinery.
#[inline]
fn push_source_text(out: &mut String, v: &SourceValue) {
    match *v {
        SourceValue::Int(x) if i64::try_from(x).is_ok() => push_i64(out, x as i64),
        SourceValue::UInt(x) if u64::try_from(x).is_ok() => push_u64(out, x as u64),
        ref other => {
            let _ = write!(out, "{other}");
        }
    }
}

impl Formatter for TextFormatter {
    fn begin(&mut self, trace: &Trace, out: &mut String) {
        if let Some(us) = trace.clock_resolution_us {
            out.push_str("# clock resolution: ");
            push_u64(out, u64::from(us));
            out.push_str(" us\n");
        }
        self.pieces.clear();
        self.pieces
            .resize_with(trace.table.functions.len(), || None);
        self.epoch_unix_us = trace.epoch_unix_us;
    }

    #[inline]
    fn event(&mut self, trace: &Trace, event: &Event<'_>, out: &mut String) {
        let options = self.options;
        let epoch = self.epoch_unix_us;
        if options.timestamps {
            if let Some(t) = event.timestamp_us {
                let us = epoch.wrapping_add(t);
                if self.stamp_us != Some(us) {
                    self.stamp_us = Some(us);
                    let second = us / 1_000_000;
                    if self.second != Some(second) {
                        self.second = Some(second);
                        self.second_text.clear();
                        self.second_text.push('[');
                        push_u64(&mut self.second_text, second);
                        self.second_text.push('.');
                    }
                    self.stamp.clear();
                    self.stamp.push_str(&self.second_text);
                    push_micros_and_bracket(&mut self.stamp, us % 1_000_000);
                }
                out.push_str(&self.stamp);
            }
        }
        if options.indent {
            // Deeper than this, indentation stops helping; a corrupt
            // depth must not make a line gigabytes long.
            for _ in 0..event.depth.min(MAX_INDENT) {
                out.push_str("  ");
            }
        }
        let types = &trace.table.types;
        let p = self.pieces(event.id, event.function, types);
        if p.plain {
            match event.kind {
                EventKind::Enter => {
                    let mut bytes = event.values;
                    for (&t, before) in event.function.params.iter().zip(&p.before_value) {
                        out.push_str(before);
                        push_raw_value_text(out, t, bytes);
                        bytes = &bytes[t.record_size()..];
                    }
                    if event.function.params.is_empty() {
                        out.push_str(&p.enter);
                    }
                    out.push_str(&p.enter_end);
                    return;
                }
                EventKind::Exit if event.function.results.len() == 1 => {
                    out.push_str(&p.exit_with_value);
                    push_raw_value_text(out, event.function.results[0], event.values);
                    end_exit_line(out, event.duration_us);
                    return;
                }
                _ => {}
            }
        }
        if let Some(call) = wasi::decode(event, trace.table.limits) {
            if event.kind == EventKind::Enter {
                out.push_str(&p.enter);
                call.push_args_text(out);
                out.push_str(")\n");
                return;
            }
            out.push_str(&p.exit);
            call.push_exit_text(out);
            end_exit_line(out, event.duration_us);
            return;
        }
        if event.function.source.is_some()
            && matches!(event.kind, EventKind::Enter | EventKind::Exit)
        {
            if event.kind == EventKind::Enter {
                out.push_str(&p.enter);
                let mut i = 0;
                event.each_source_value(types, trace.table.limits, |a| {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match p.source_labels.get(i) {
                        Some(label) => out.push_str(label),
                        None => {
                            out.push_str(a.name);
                            out.push_str(": ? = ");
                        }
                    }
                    push_source_text(out, &a.value);
                    i += 1;
                });
                out.push(')');
                out.push_str(&p.location);
                out.push('\n');
                return;
            }
            out.push_str(&p.exit);
            event.each_source_value(types, trace.table.limits, |a| {
                out.push_str(" = ");
                push_source_text(out, &a.value);
            });
            end_exit_line(out, event.duration_us);
            return;
        }
        match event.kind {
            EventKind::Enter => {
                out.push_str(&p.enter);
                for (i, v) in event.values().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if let Some(label) = p.labels.get(i) {
                        out.push_str(label);
                    }
                    push_value_text(out, v);
                }
                out.push(')');
                out.push_str(&p.location);
                out.push('\n');
                return;
            }
            EventKind::Exit => {
                out.push_str(&p.exit);
                match event.function.results.len() {
                    0 => {}
                    1 => {
                        out.push_str(" = ");
                        for v in event.values() {
                            push_value_text(out, v);
                        }
                    }
                    _ => {
                        out.push_str(" = (");
                        for (i, v) in event.values().enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            push_value_text(out, v);
                        }
                        out.push(')');
                    }
                }
            }
            EventKind::TailExit => {
                out.push_str(&p.exit);
                out.push_str(" [tail call]");
            }
            EventKind::Closed(reason) => {
                out.push_str(&p.exit);
                out.push_str(" [");
                out.push_str(reason.word());
                out.push(']');
            }
        }
        end_exit_line(out, event.duration_us);
    }

    fn resume(&mut self, _events_before: u64, _start: &StreamState) -> bool {
        // A line depends on its event alone.
        true
    }

    fn end(&mut self, trace: &Trace, stats: &Stats, out: &mut String) {
        out.push_str("# events: ");
        push_u64(out, stats.kept_events);
        out.push_str(" kept, ");
        push_u64(out, stats.dropped_events);
        out.push_str(" lost\n");
        let (head, message) = match &trace.end {
            RunEnd::Returned => return,
            RunEnd::Exited(code) => {
                out.push_str("# exited with status ");
                if *code < 0 {
                    out.push('-');
                }
                push_u64(out, u64::from(code.unsigned_abs()));
                out.push('\n');
                return;
            }
            RunEnd::Trapped(m) => ("# trapped: ", m),
            RunEnd::Interrupted(m) => ("# interrupted: ", m),
        };
        out.push_str(head);
        // Keep every line of a multi-line message a comment.
        for (i, line) in message.trim_end().split('\n').enumerate() {
            if i > 0 {
                out.push_str("\n#   ");
            }
            out.push_str(line.trim_end_matches('\r'));
        }
        out.push('\n');
    }
}

/// Appends the value of type `t` at the front of `bytes` (as a record
/// holds it), integers read and written in place.
#[inline(always)]
fn push_raw_value_text(out: &mut String, t: ValType, bytes: &[u8]) {
    match t {
        ValType::I64 => {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[..8]);
            push_i64(out, i64::from_le_bytes(word));
        }
        ValType::I32 => {
            let mut word = [0; 4];
            word.copy_from_slice(&bytes[..4]);
            push_i64(out, i64::from(i32::from_le_bytes(word)));
        }
        _ => push_value_text(out, Value::read(t, bytes)),
    }
}

/// Ends an exit's line: its duration, when the trace has timestamps.
#[inline(always)]
fn end_exit_line(out: &mut String, duration_us: Option<u64>) {
    match duration_us {
        Some(d) => push_duration_and_end(out, d),
        None => out.push('\n'),
    }
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

    fn lines(out: &str) -> Vec<&str> {
        out.lines().collect()
    }

    #[test]
    fn fib_nested() {
        let t = trace(table(true), &fib_records(), RunEnd::Returned, None);
        let out = render(&mut TextFormatter::default(), &t);
        assert_eq!(
            lines(&out),
            [
                "[1761761183.405413] -> main()",
                "[1761761183.405418] -> fibonacci(i64=2) <fibonacci.ruchy:1:5>",
                "[1761761183.405423] -> fibonacci(i64=1) <fibonacci.ruchy:1:5>",
                "[1761761183.405425] <- fibonacci() = 1 [0.002ms]",
                "[1761761183.405428] -> fibonacci(i64=0) <fibonacci.ruchy:1:5>",
                "[1761761183.405430] <- fibonacci() = 0 [0.002ms]",
                "[1761761183.406943] <- fibonacci() = 1 [1.525ms]",
                "[1761761183.407013] <- main() [1.600ms]",
                "# events: 8 kept, 0 lost",
            ]
        );
    }

    /// Events stamped alike share one time, and a time that crosses into
    /// the next second is written whole.
    #[test]
    fn times_repeat_and_cross_seconds() {
        let recs = vec![
            (MAIN, Enter, 0, vec![]),
            (FIB, Enter, 0, vec![Value::I64(1)]),
            (FIB, Exit, 594_586, vec![Value::I64(1)]),
            (FIB, Enter, 594_587, vec![Value::I64(0)]),
            (FIB, Exit, 594_587, vec![Value::I64(0)]),
            (MAIN, Exit, 1_594_587, vec![]),
        ];
        let t = trace(table(true), &recs, RunEnd::Returned, None);
        let out = render(&mut TextFormatter::default(), &t);
        let times: Vec<&str> = lines(&out).iter().map(|l| &l[..20]).collect();
        assert_eq!(
            times[..6],
            [
                "[1761761183.405413] ",
                "[1761761183.405413] ",
                "[1761761183.999999] ",
                "[1761761184.000000] ",
                "[1761761184.000000] ",
                "[1761761185.000000] ",
            ]
        );
    }

    #[test]
    fn indent_and_no_timestamps() {
        let t = trace(table(false), &fib_records(), RunEnd::Returned, None);
        let out = render(
            &mut TextFormatter::new(TextOptions {
                indent: true,
                timestamps: true,
            }),
            &t,
        );
        assert_eq!(
            lines(&out),
            [
                "-> main()",
                "  -> fibonacci(i64=2) <fibonacci.ruchy:1:5>",
                "    -> fibonacci(i64=1) <fibonacci.ruchy:1:5>",
                "    <- fibonacci() = 1",
                "    -> fibonacci(i64=0) <fibonacci.ruchy:1:5>",
                "    <- fibonacci() = 0",
                "  <- fibonacci() = 1",
                "<- main()",
                "# events: 8 kept, 0 lost",
            ]
        );
        // Timestamps switched off by option, indented after the time otherwise.
        let t = trace(table(true), &fib_records()[..2], RunEnd::Returned, None);
        let out = render(
            &mut TextFormatter::new(TextOptions {
                indent: false,
                timestamps: false,
            }),
            &t,
        );
        assert!(
            out.starts_with("-> main()\n-> fibonacci(i64=2) <fibonacci.ruchy:1:5>\n<- fibonacci() [lost] [0.000ms]\n"),
            "{out}"
        );
        let out = render(
            &mut TextFormatter::new(TextOptions {
                indent: true,
                timestamps: true,
            }),
            &t,
        );
        assert!(
            out.contains("\n[1761761183.405418]   -> fibonacci(i64=2)"),
            "{out}"
        );
    }

    #[test]
    fn multi_value_and_param_names() {
        let recs = vec![
            (PAIR, Enter, 1, vec![Value::F64(2.0), Value::I32(-3)]),
            (
                PAIR,
                Exit,
                1501,
                vec![Value::I32(i32::MIN), Value::F64(0.1)],
            ),
            (PAIR, Enter, 2000, vec![Value::F64(f64::NAN), Value::I32(0)]),
            (PAIR, Exit, 2000, vec![Value::I32(7), Value::F64(-1e300)]),
        ];
        let t = trace(table(true), &recs, RunEnd::Returned, None);
        let out = render(&mut TextFormatter::default(), &t);
        assert_eq!(
            lines(&out),
            [
                "[1761761183.405414] -> pair(x: f64 = 2.0, y: i32 = -3) <lib.ruchy:12>",
                "[1761761183.406914] <- pair() = (-2147483648, 0.1) [1.500ms]",
                "[1761761183.407413] -> pair(x: f64 = NaN, y: i32 = 0) <lib.ruchy:12>",
                "[1761761183.407413] <- pair() = (7, -1e300) [0.000ms]",
                "# events: 4 kept, 0 lost",
            ]
        );
    }

    #[test]
    fn v128_in_hex() {
        let recs = vec![
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
        ];
        let mut tb = table(true);
        let out = render(
            &mut TextFormatter::default(),
            &trace(tb.clone(), &recs, RunEnd::Returned, None),
        );
        assert_eq!(
            lines(&out),
            [
                "[1761761183.405416] -> simd(v128=0x0102030405060708090a0b0c0d0e0f10, i32=7)",
                "[1761761183.405417] <- simd() = 0xffffffffffffffffffffffffffffffff [0.001ms]",
                "# events: 2 kept, 0 lost",
            ]
        );
        tb.functions[SIMD as usize].param_names = vec!["v".to_string(), "".to_string()];
        let out = render(
            &mut TextFormatter::default(),
            &trace(tb, &recs, RunEnd::Returned, None),
        );
        assert!(
            out.starts_with("[1761761183.405416] -> simd(v: v128 = 0x0102030405060708090a0b0c0d0e0f10, i32=7)\n"),
            "{out}"
        );
    }

    #[test]
    fn trapped_with_open_frames() {
        let recs = &fib_records()[..3];
        let t = trace(
            table(true),
            recs,
            RunEnd::Trapped("wasm trap: unreachable\nbacktrace: x".to_string()),
            Some(40),
        );
        let out = render(
            &mut TextFormatter::new(TextOptions {
                indent: true,
                timestamps: true,
            }),
            &t,
        );
        assert_eq!(
            lines(&out),
            [
                "[1761761183.405413] -> main()",
                "[1761761183.405418]   -> fibonacci(i64=2) <fibonacci.ruchy:1:5>",
                "[1761761183.405423]     -> fibonacci(i64=1) <fibonacci.ruchy:1:5>",
                "[1761761183.405453]     <- fibonacci() [trapped] [0.030ms]",
                "[1761761183.405453]   <- fibonacci() [trapped] [0.035ms]",
                "[1761761183.405453] <- main() [trapped] [0.040ms]",
                "# events: 3 kept, 0 lost",
                "# trapped: wasm trap: unreachable",
                "#   backtrace: x",
            ]
        );
    }

    #[test]
    fn tail_calls_and_run_ends() {
        let recs = vec![(MAIN, Enter, 0, vec![]), (MAIN, TailExit, 2500, vec![])];
        let t = trace(table(true), &recs, RunEnd::Exited(3), None);
        let out = render(&mut TextFormatter::default(), &t);
        assert_eq!(
            lines(&out),
            [
                "[1761761183.405413] -> main()",
                "[1761761183.407913] <- main() [tail call] [2.500ms]",
                "# events: 2 kept, 0 lost",
                "# exited with status 3",
            ]
        );
        let t = trace(
            table(false),
            &recs[..1],
            RunEnd::Interrupted("time limit".to_string()),
            None,
        );
        let out = render(&mut TextFormatter::default(), &t);
        assert_eq!(
            lines(&out),
            [
                "-> main()",
                "<- main() [interrupted]",
                "# events: 1 kept, 0 lost",
                "# interrupted: time limit"
            ]
        );
        let t = trace(table(false), &[], RunEnd::Exited(-1), None);
        assert_eq!(
            render(&mut TextFormatter::default(), &t),
            "# events: 0 kept, 0 lost\n# exited with status -1\n"
        );
    }

    #[test]
    fn reused_formatter_forgets_the_previous_table() {
        let mut f = TextFormatter::default();
        let t = trace(table(false), &fib_records()[1..2], RunEnd::Returned, None);
        render(&mut f, &t);
        let mut other = table(false);
        other.functions[FIB as usize].name = "fib2".to_string();
        let out = render(
            &mut f,
            &trace(other, &fib_records()[1..2], RunEnd::Returned, None),
        );
        assert!(out.starts_with("-> fib2(i64=2)"), "{out}");
    }
}
