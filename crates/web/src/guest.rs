//! Records of calls whose values live in guest memory, taken while the
//! call happens.
//!
//! The page's hooks write plain records themselves; a call whose record
//! needs a snapshot (a `String`, a struct passed by address, an sret
//! result) comes here instead with the hook's parameters and a view of the
//! guest memory. The bytes are read by the same walker the native host
//! uses ([`ruchy_trace_core::capture`]); JavaScript only hands them over.

use js_sys::{Array, Function, Uint8Array};
use ruchy_trace_core::record::{self, RecordKind};
use ruchy_trace_core::source::Memory;
use ruchy_trace_core::{capture, FunctionTable, RecordLayout, ValType, Value};
use wasm_bindgen::JsValue;

/// The guest's linear memory, seen through a JS `Uint8Array` over its
/// buffer; each read copies just the bytes asked for.
#[derive(Debug)]
pub struct JsMemory {
    view: Uint8Array,
    len: u32,
    buf: Vec<u8>,
}

impl JsMemory {
    /// A view of `view`, the guest memory's whole buffer.
    pub fn new(view: Uint8Array) -> JsMemory {
        let len = view.length();
        JsMemory {
            view,
            len,
            buf: Vec::new(),
        }
    }
}

impl Memory for JsMemory {
    fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]> {
        let end = addr.checked_add(len)?;
        if end > self.len {
            return None;
        }
        self.buf.resize(len as usize, 0);
        self.view.subarray(addr, end).copy_to(&mut self.buf);
        Some(&self.buf)
    }
}

/// A wasm value as a hook received it from JavaScript.
fn value_of(t: ValType, v: Option<JsValue>) -> Value {
    let Some(v) = v else {
        return Value::Unrecorded(t);
    };
    match t {
        ValType::I32 => v
            .as_f64()
            .map_or(Value::Unrecorded(t), |x| Value::I32(x as i32)),
        ValType::I64 => i64::try_from(v).map_or(Value::Unrecorded(t), Value::I64),
        ValType::F32 => v
            .as_f64()
            .map_or(Value::Unrecorded(t), |x| Value::F32(x as f32)),
        ValType::F64 => v.as_f64().map_or(Value::Unrecorded(t), Value::F64),
        ValType::Ref => v
            .as_f64()
            .map_or(Value::Unrecorded(t), |x| Value::Ref { null: x != 0.0 }),
        // Two halves; see `hook_record`.
        ValType::V128 => Value::Unrecorded(t),
    }
}

/// A value a hook received after the recorded ones: an `i32` (a number) or
/// an `i64` (a BigInt).
fn extra_value(v: &JsValue) -> Option<Value> {
    match v.as_f64() {
        Some(x) => Some(Value::I32(x as i32)),
        None => i64::try_from(v.clone()).ok().map(Value::I64),
    }
}

/// Appends the record of one hook call to `out`: `params` are the hook's
/// parameters as the guest passed them (header, depth of a sampled entry,
/// values, then what the hook takes besides: for an exit returned through
/// memory, its address);
/// `clock` the trace clock in µs, when the trace has timestamps, read after
/// the memory as the native host does, so reading is never timed as the
/// guest's; `memory` the guest memory, when the module exports it.
pub fn hook_record(
    table: &FunctionTable,
    layout: &RecordLayout,
    params: &Array,
    clock: Option<&Function>,
    memory: Option<Uint8Array>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let header = params
        .get(0)
        .as_f64()
        .ok_or("hook called without a header")? as u32;
    let id = header >> 2;
    let function = table
        .functions
        .get(id as usize)
        .ok_or_else(|| format!("hook record of unknown function {id}"))?;
    let kind = match header & 3 {
        0 => RecordKind::Enter,
        1 => RecordKind::Exit,
        _ => RecordKind::TailExit,
    };
    let mut rest = params.iter().skip(1);
    let depth = if table.options.sample > 1 && kind == RecordKind::Enter {
        Some(rest.next().and_then(|d| d.as_f64()).unwrap_or(0.0) as u32)
    } else {
        None
    };
    let types: &[ValType] = match kind {
        RecordKind::Enter => &function.params,
        RecordKind::Exit => &function.results,
        RecordKind::TailExit => &[],
    };
    // A v128 comes as two i64 halves, low first (JavaScript cannot take a
    // v128).
    let values: Vec<Value> = types
        .iter()
        .map(|&t| match t {
            ValType::V128 => {
                let low = value_of(ValType::I64, rest.next());
                match (low, value_of(ValType::I64, rest.next())) {
                    (Value::I64(l), Value::I64(h)) => {
                        Value::V128(u128::from(l as u64) | u128::from(h as u64) << 64)
                    }
                    _ => Value::Unrecorded(t),
                }
            }
            _ => value_of(t, rest.next()),
        })
        .collect();
    // What the hook received after the recorded values: an sret exit's
    // result address, or a WASI call's arguments at its exit.
    let extra: Vec<Value> = rest.filter_map(|v| extra_value(&v)).collect();
    let snapshot = layout.snapshot_of(header).then(|| {
        let view = memory.unwrap_or_else(|| Uint8Array::new_with_length(0));
        capture::snapshot_of_hook(table, id, kind, &values, &extra, JsMemory::new(view))
    });
    let timestamp = clock.map(|now| {
        now.call0(&JsValue::NULL)
            .ok()
            .and_then(|t| t.as_f64())
            .unwrap_or(0.0) as u32
    });
    record::write_record(
        out,
        id,
        kind,
        timestamp,
        depth,
        &values,
        snapshot.as_deref(),
    );
    Ok(())
}
