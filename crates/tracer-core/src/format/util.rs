//! Writing helpers shared by the formatters: integers without `core::fmt`,
//! floats, fixed-point times and JSON strings and values.

use crate::source::SourceValue;
use crate::value::{ValType, Value};
use alloc::string::String;
use core::fmt::Write;

/// Two-digit decimal pairs "00" to "99".
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the ASCII bytes of `digits` (decimal digits and the ASCII
/// punctuation around them) to `out`.
#[inline(always)]
fn push_ascii(out: &mut String, digits: &[u8]) {
    debug_assert!(digits.is_ascii());
    // SAFETY: the callers' buffers hold ASCII only, which is valid UTF-8;
    // skipping the check matters at millions of lines.
    unsafe { out.as_mut_vec() }.extend_from_slice(digits);
}

/// Appends `n` in decimal.
#[inline(always)]
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        let r = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i] = PAIRS[r];
        buf[i + 1] = PAIRS[r + 1];
    }
    if n >= 10 {
        let r = n as usize * 2;
        i -= 2;
        buf[i] = PAIRS[r];
        buf[i + 1] = PAIRS[r + 1];
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    push_ascii(out, &buf[i..]);
}

/// Appends `n` as a JSON value: the number, or `null`.
pub(crate) fn push_optional_u32(out: &mut String, n: Option<u32>) {
    match n {
        Some(n) => push_u64(out, u64::from(n)),
        None => out.push_str("null"),
    }
}

/// Appends `n` in decimal.
#[inline(always)]
pub(crate) fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends the microseconds of a second, six digits, and the `] ` that
/// closes a text line's time: one store of eight bytes.
#[inline]
pub(crate) fn push_micros_and_bracket(out: &mut String, micros: u64) {
    let mut buf = *b"000000] ";
    let mut n = micros % 1_000_000;
    for i in [4, 2, 0] {
        let r = (n % 100) as usize * 2;
        n /= 100;
        buf[i] = PAIRS[r];
        buf[i + 1] = PAIRS[r + 1];
    }
    push_ascii(out, &buf);
}

/// Appends ` [1.500ms]` and the line's end for a duration in
/// microseconds (milliseconds with three decimals), as one piece.
#[inline]
pub(crate) fn push_duration_and_end(out: &mut String, us: u64) {
    // " [" + at most 17 digits of milliseconds + ".000ms]\n".
    let mut buf = [0u8; 32];
    let end = buf.len();
    buf[end - 8..].copy_from_slice(b".000ms]\n");
    let mut n = us % 1000;
    buf[end - 5] = b'0' + (n % 10) as u8;
    n /= 10;
    buf[end - 6] = b'0' + (n % 10) as u8;
    buf[end - 7] = b'0' + (n / 10) as u8;
    let mut i = end - 8;
    let mut ms = us / 1000;
    loop {
        i -= 1;
        buf[i] = b'0' + (ms % 10) as u8;
        ms /= 10;
        if ms == 0 {
            break;
        }
    }
    buf[i - 2..i].copy_from_slice(b" [");
    push_ascii(out, &buf[i - 2..]);
}

/// Appends `us * 1000` in decimal, exactly even past `u64`.
#[inline]
pub(crate) fn push_us_as_ns(out: &mut String, us: u64) {
    match us.checked_mul(1000) {
        Some(ns) => push_u64(out, ns),
        None => {
            let _ = write!(out, "{}", u128::from(us) * 1000);
        }
    }
}

/// Appends a float the way Rust's `{:?}` spells it: the shortest text that
/// reads back to the same value, integral values with one decimal (`2.0`),
/// exponents for very large and very small magnitudes (`1e300`), `NaN`,
/// `inf`, `-inf`.
#[inline]
pub(crate) fn push_f64(out: &mut String, x: f64) {
    let _ = write!(out, "{x:?}");
}

/// Like [`push_f64`] for `f32` (shortest text for the `f32` value).
#[inline]
pub(crate) fn push_f32(out: &mut String, x: f32) {
    let _ = write!(out, "{x:?}");
}

/// Appends a `v128` as `0x` and its 32 hex digits, lane 0's byte last.
pub(crate) fn push_v128(out: &mut String, x: u128) {
    let _ = write!(out, "{x:#034x}");
}

/// How a reference shows: `null`, or `ref` for any other.
pub(crate) const fn ref_text(null: bool) -> &'static str {
    if null {
        "null"
    } else {
        "ref"
    }
}

/// Appends a value for people: integers in decimal, floats per
/// [`push_f64`], a `v128` per [`push_v128`], a reference per [`ref_text`],
/// values a host could not read as `<TYPE>`.
#[inline]
pub(crate) fn push_value_text(out: &mut String, v: Value) {
    match v {
        Value::I32(x) => push_i64(out, i64::from(x)),
        Value::I64(x) => push_i64(out, x),
        Value::F32(x) => push_f32(out, x),
        Value::F64(x) => push_f64(out, x),
        Value::V128(x) => push_v128(out, x),
        Value::Ref { null } => out.push_str(ref_text(null)),
        Value::Unrecorded(t) => {
            out.push('<');
            out.push_str(t.name());
            out.push('>');
        }
    }
}

/// Appends a value as a JSON value: integers and finite floats as numbers,
/// non-finite floats as the strings `"NaN"`, `"inf"`, `"-inf"`, a `v128`
/// as the string `"0x…"` (see [`push_v128`]), a null reference as `null`
/// and any other as `"ref"`, and values a host could not read as
/// `unrecorded` (already JSON text, e.g. `null`).
#[inline]
pub(crate) fn push_value_json(out: &mut String, v: Value, unrecorded: &str) {
    match v {
        Value::I32(x) => push_i64(out, i64::from(x)),
        Value::I64(x) => push_i64(out, x),
        Value::F32(x) => {
            if x.is_finite() {
                push_f32(out, x);
            } else {
                out.push('"');
                push_f32(out, x);
                out.push('"');
            }
        }
        Value::F64(x) => {
            if x.is_finite() {
                push_f64(out, x);
            } else {
                out.push('"');
                push_f64(out, x);
                out.push('"');
            }
        }
        Value::V128(x) => {
            out.push('"');
            push_v128(out, x);
            out.push('"');
        }
        Value::Ref { null: true } => out.push_str("null"),
        Value::Ref { null: false } => out.push_str("\"ref\""),
        Value::Unrecorded(_) => out.push_str(unrecorded),
    }
}

/// Appends `s` as a JSON string, quotes included. Quotes and backslashes
/// are escaped with a backslash, other control characters as `\u00XX`.
pub fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        // `b` is ASCII, so `i` is a character boundary.
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            _ => {
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `{"type_info": {"name": "TYPE"}, "value": ` for each type: the start of
/// a JSON value object.
pub(crate) const fn json_value_head(t: ValType) -> &'static str {
    match t {
        ValType::I32 => r#"{"type_info": {"name": "i32"}, "value": "#,
        ValType::I64 => r#"{"type_info": {"name": "i64"}, "value": "#,
        ValType::F32 => r#"{"type_info": {"name": "f32"}, "value": "#,
        ValType::F64 => r#"{"type_info": {"name": "f64"}, "value": "#,
        ValType::V128 => r#"{"type_info": {"name": "v128"}, "value": "#,
        ValType::Ref => r#"{"type_info": {"name": "ref"}, "value": "#,
    }
}

/// The parameter name at `index`, unless absent or empty.
#[inline]
pub(crate) fn param_name(names: &[String], index: usize) -> Option<&str> {
    names
        .get(index)
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

/// Appends `", "` before every item but the first.
fn comma(out: &mut String, i: usize) {
    if i > 0 {
        out.push_str(", ");
    }
}

/// Appends a source value as JSON: numbers, strings, booleans, objects for
/// structs, arrays for tuples and sequences, `{"variant", "fields"}` for
/// enums, `{"entries": [[k, v], …], "len"}` for maps and `{"set": […],
/// "len"}` for sets. A value that was
/// cut is an object with `"truncated": true` and its full `"len"`; what
/// cannot be read is an object saying so.
pub(crate) fn push_source_json(out: &mut String, v: &SourceValue) {
    match v {
        SourceValue::Int(x) => {
            let _ = write!(out, "{x}");
        }
        SourceValue::UInt(x) => {
            let _ = write!(out, "{x}");
        }
        SourceValue::Float(x) if x.is_finite() => push_f64(out, *x),
        SourceValue::Float(x) => {
            out.push('"');
            push_f64(out, *x);
            out.push('"');
        }
        SourceValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        SourceValue::Char(c) => push_json_str(
            out,
            &char::from_u32(*c).map(String::from).unwrap_or_default(),
        ),
        SourceValue::Unit => out.push_str("null"),
        SourceValue::Str { text, len } => {
            if (*len as usize) > text.len() {
                out.push_str("{\"text\": ");
                push_json_str(out, text);
                let _ = write!(out, ", \"len\": {len}, \"truncated\": true}}");
            } else {
                push_json_str(out, text);
            }
        }
        SourceValue::Struct { fields, .. } => push_json_fields(out, fields),
        SourceValue::Enum {
            variant, fields, ..
        } => {
            out.push_str("{\"variant\": ");
            push_json_str(out, variant);
            if !fields.is_empty() {
                out.push_str(", \"fields\": ");
                if fields.iter().all(|(n, _)| n.starts_with("__")) {
                    out.push('[');
                    for (i, (_, fv)) in fields.iter().enumerate() {
                        comma(out, i);
                        push_source_json(out, fv);
                    }
                    out.push(']');
                } else {
                    push_json_fields(out, fields);
                }
            }
            out.push('}');
        }
        SourceValue::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                comma(out, i);
                push_source_json(out, item);
            }
            out.push(']');
        }
        SourceValue::Seq { items, len } => {
            let cut = (*len as usize) > items.len();
            if cut {
                out.push_str("{\"items\": ");
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                comma(out, i);
                push_source_json(out, item);
            }
            out.push(']');
            if cut {
                let _ = write!(out, ", \"len\": {len}, \"truncated\": true}}");
            }
        }
        SourceValue::Set { items, len } => {
            out.push_str("{\"set\": [");
            for (i, item) in items.iter().enumerate() {
                comma(out, i);
                push_source_json(out, item);
            }
            let _ = write!(out, "], \"len\": {len}");
            if (*len as usize) > items.len() {
                out.push_str(", \"truncated\": true");
            }
            out.push('}');
        }
        SourceValue::Map { entries, len } => {
            out.push_str("{\"entries\": [");
            for (i, (k, v)) in entries.iter().enumerate() {
                comma(out, i);
                out.push('[');
                push_source_json(out, k);
                out.push_str(", ");
                push_source_json(out, v);
                out.push(']');
            }
            let _ = write!(out, "], \"len\": {len}");
            if (*len as usize) > entries.len() {
                out.push_str(", \"truncated\": true");
            }
            out.push('}');
        }
        SourceValue::Ref(inner) => push_source_json(out, inner),
        SourceValue::Unreadable(addr) => {
            let _ = write!(out, "{{\"unreadable\": {addr}}}");
        }
        SourceValue::Opaque(name) => {
            out.push_str("{\"opaque\": ");
            push_json_str(out, name);
            out.push('}');
        }
    }
}

fn push_json_fields(out: &mut String, fields: &[(String, SourceValue)]) {
    out.push('{');
    for (i, (name, fv)) in fields.iter().enumerate() {
        comma(out, i);
        push_json_str(out, name);
        out.push_str(": ");
        push_source_json(out, fv);
    }
    out.push('}');
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Hand-built traces for the formatter tests.

    use crate::decode::{RunEnd, Trace};
    use crate::format::Formatter;
    use crate::record::{write_record, RecordKind, RecordLayout};
    use crate::ring::{OverflowPolicy, Recorded, Ring};
    use crate::table::{FunctionInfo, FunctionTable, Location, Strategy, TraceOptions};
    use crate::value::{ValType, Value};
    use alloc::string::{String, ToString};
    use alloc::vec;
    use alloc::vec::Vec;

    /// Wall clock of the test traces' start.
    pub const EPOCH: u64 = 1_761_761_183_405_413;

    /// Function ids of [`table`].
    pub const FIB: u32 = 0;
    pub const PAIR: u32 = 1;
    pub const SIMD: u32 = 2;
    pub const MAIN: u32 = 3;

    fn function(
        name: &str,
        params: &[ValType],
        results: &[ValType],
        names: &[&str],
        loc: Option<(&str, u32, u32)>,
    ) -> FunctionInfo {
        FunctionInfo {
            wasm_index: 10,
            raw_name: name.to_string(),
            name: name.to_string(),
            params: params.to_vec(),
            results: results.to_vec(),
            param_names: names.iter().map(|n| n.to_string()).collect(),
            location: loc.map(|(file, line, column)| Location {
                file: file.to_string(),
                line,
                column,
            }),
            source: None,
            import: None,
        }
    }

    /// fibonacci (i64 -> i64, no parameter names), pair ((x: f64, y: i32)
    /// -> (i32, f64)), simd ((v128, i32) -> v128), main (() -> ()).
    pub fn table(timestamps: bool) -> FunctionTable {
        use ValType::*;
        FunctionTable {
            options: TraceOptions {
                strategy: Strategy::Inline,
                timestamps,
                sample: 1,
                staging_bytes: 4096,
            },
            program: "fibonacci".to_string(),
            functions: vec![
                function(
                    "fibonacci",
                    &[I64],
                    &[I64],
                    &[],
                    Some(("fibonacci.ruchy", 1, 5)),
                ),
                function(
                    "pair",
                    &[F64, I32],
                    &[I32, F64],
                    &["x", "y"],
                    Some(("lib.ruchy", 12, 0)),
                ),
                function("simd", &[V128, I32], &[V128], &[], None),
                function("main", &[], &[], &[], None),
            ],
            types: Vec::new(),
            limits: Default::default(),
        }
    }

    /// One record to write: (id, kind, timestamp, values).
    pub type Rec = (u32, RecordKind, u32, Vec<Value>);

    /// The bytes of `records` for `table`.
    pub fn bytes(table: &FunctionTable, records: &[Rec]) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, kind, ts, values) in records {
            let ts = table.options.timestamps.then_some(*ts);
            write_record(&mut out, *id, *kind, ts, None, values, None);
        }
        out
    }

    /// A trace that kept all of `records`.
    pub fn trace(table: FunctionTable, records: &[Rec], end: RunEnd, end_us: Option<u64>) -> Trace {
        let b = bytes(&table, records);
        let layout = RecordLayout::new(&table);
        let mut ring = Ring::new(layout, 1 << 20, OverflowPolicy::KeepNewest);
        ring.push(&b).unwrap();
        let recorded: Recorded = ring.finish().unwrap();
        assert_eq!(recorded.kept as usize, records.len());
        Trace::new(table, recorded, end, EPOCH, end_us)
    }

    /// main -> fibonacci(2) -> fibonacci(1), fibonacci(0).
    pub fn fib_records() -> Vec<Rec> {
        use RecordKind::*;
        vec![
            (MAIN, Enter, 0, vec![]),
            (FIB, Enter, 5, vec![Value::I64(2)]),
            (FIB, Enter, 10, vec![Value::I64(1)]),
            (FIB, Exit, 12, vec![Value::I64(1)]),
            (FIB, Enter, 15, vec![Value::I64(0)]),
            (FIB, Exit, 17, vec![Value::I64(0)]),
            (FIB, Exit, 1530, vec![Value::I64(1)]),
            (MAIN, Exit, 1600, vec![]),
        ]
    }

    /// Runs `f` over every event of `trace`.
    pub fn render<F: Formatter>(f: &mut F, trace: &Trace) -> String {
        let mut out = String::new();
        f.begin(trace, &mut out);
        for e in trace.events() {
            f.event(trace, &e.unwrap(), &mut out);
        }
        f.end(trace, &trace.stats(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        f(&mut out);
        out
    }

    #[test]
    fn integers() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            u64::MAX,
            1 << 53,
        ] {
            assert_eq!(s(|o| push_u64(o, n)), n.to_string());
        }
        for n in [0i64, -1, -10, 42, i64::MIN, i64::MAX] {
            assert_eq!(s(|o| push_i64(o, n)), n.to_string());
        }
        assert_eq!(s(|o| push_duration_and_end(o, 2)), " [0.002ms]\n");
        assert_eq!(s(|o| push_duration_and_end(o, 1500)), " [1.500ms]\n");
        assert_eq!(
            s(|o| push_duration_and_end(o, 123_456_789)),
            " [123456.789ms]\n"
        );
        assert_eq!(
            s(|o| push_duration_and_end(o, u64::MAX)),
            " [18446744073709551.615ms]\n"
        );
        assert_eq!(s(|o| push_micros_and_bracket(o, 7)), "000007] ");
        assert_eq!(s(|o| push_micros_and_bracket(o, 999_999)), "999999] ");
        assert_eq!(s(|o| push_us_as_ns(o, 5)), "5000");
        assert_eq!(s(|o| push_us_as_ns(o, u64::MAX)), "18446744073709551615000");
    }

    #[test]
    fn floats() {
        let f = |x: f64| s(|o| push_f64(o, x));
        assert_eq!(f(2.0), "2.0");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(-0.5), "-0.5");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(1e300), "1e300");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
        assert_eq!(s(|o| push_f32(o, 0.1)), "0.1");
        assert_eq!(s(|o| push_f32(o, 3.0)), "3.0");
        for x in [
            0.1,
            1.0 / 3.0,
            1e-7,
            123456789.125,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(f(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(
            s(|o| push_value_json(o, Value::F64(f64::INFINITY), "null")),
            "\"inf\""
        );
        assert_eq!(
            s(|o| push_value_json(o, Value::F32(f32::NAN), "null")),
            "\"NaN\""
        );
        assert_eq!(
            s(|o| push_value_json(o, Value::Unrecorded(ValType::Ref), "null")),
            "null"
        );
        assert_eq!(
            s(|o| push_value_json(o, Value::Ref { null: true }, "\"x\"")),
            "null"
        );
        assert_eq!(
            s(|o| push_value_json(o, Value::Ref { null: false }, "null")),
            "\"ref\""
        );
        let v = Value::V128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        assert_eq!(
            s(|o| push_value_json(o, v, "null")),
            "\"0x0102030405060708090a0b0c0d0e0f10\""
        );
        assert_eq!(
            s(|o| push_value_text(o, Value::V128(1))),
            "0x00000000000000000000000000000001"
        );
        assert_eq!(s(|o| push_value_text(o, Value::Ref { null: true })), "null");
        assert_eq!(s(|o| push_value_text(o, Value::Ref { null: false })), "ref");
    }

    #[test]
    fn json_strings() {
        let j = |x: &str| s(|o| push_json_str(o, x));
        assert_eq!(j("plain"), "\"plain\"");
        assert_eq!(j("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(j("\n\t\u{1}\u{1f}"), r#""\u000a\u0009\u0001\u001f""#);
        assert_eq!(j("é<∑>\u{7f}"), "\"é<∑>\u{7f}\"");
        assert_eq!(j(""), "\"\"");
    }

    /// A cut vector, string or map says so in JSON with its full length;
    /// enums carry their variant, tuples are arrays.
    #[test]
    fn cut_values_say_so_in_json() {
        use crate::source::SourceValue as V;
        use alloc::vec;
        let json = |v: &V| s(|o| push_source_json(o, v));
        let seq = V::Seq {
            items: vec![V::Int(2), V::Int(3)],
            len: 94,
        };
        assert_eq!(
            json(&seq),
            r#"{"items": [2, 3], "len": 94, "truncated": true}"#
        );
        let whole = V::Seq {
            items: vec![V::Int(2)],
            len: 1,
        };
        assert_eq!(json(&whole), "[2]");
        let text = V::Str {
            text: "ab".into(),
            len: 10,
        };
        assert_eq!(
            json(&text),
            r#"{"text": "ab", "len": 10, "truncated": true}"#
        );
        let map = V::Map {
            entries: vec![(
                V::Str {
                    text: "a".into(),
                    len: 1,
                },
                V::Int(1),
            )],
            len: 3,
        };
        assert_eq!(
            json(&map),
            r#"{"entries": [["a", 1]], "len": 3, "truncated": true}"#
        );
        let some = V::Enum {
            name: String::new(),
            variant: "Some".into(),
            fields: vec![("__0".into(), V::Int(5))],
        };
        assert_eq!(json(&some), r#"{"variant": "Some", "fields": [5]}"#);
        let circle = V::Enum {
            name: "Shape".into(),
            variant: "Circle".into(),
            fields: vec![("r".into(), V::Float(f64::NAN))],
        };
        assert_eq!(
            json(&circle),
            r#"{"variant": "Circle", "fields": {"r": "NaN"}}"#
        );
        assert_eq!(json(&V::Tuple(vec![V::Int(1), V::Bool(true)])), "[1, true]");
    }
}
