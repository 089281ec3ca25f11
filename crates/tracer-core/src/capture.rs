//! Reading a call's values from guest memory while the call happens.
//!
//! A record of a function whose arguments or result live in guest memory
//! (a `String`, a struct passed by address, an sret result) carries a
//! [`Snapshot`] of the bytes the value walker read at call time. Every host
//! takes it here, through its own view of the guest memory, so the native
//! host and the browser host read exactly the same bytes. Calls of known
//! WASI functions are read by [`crate::wasi`]'s table.

use crate::record::RecordKind;
use crate::source::{self, Lowering, Memory, Place, Recording, ResultLowering, Snapshot};
use crate::table::FunctionTable;
use crate::value::Value;
use crate::wasi;
use alloc::vec::Vec;

/// The snapshot bytes of one hook call's record of function `id`:
/// `values` are the record's wasm values, `extra` the values the hook
/// received after them (an sret function's result address; a WASI call's
/// arguments, at its exit). Hosts call this for every record the layout
/// says carries a snapshot.
pub fn snapshot_of_hook<M: Memory>(
    table: &FunctionTable,
    id: u32,
    kind: RecordKind,
    values: &[Value],
    extra: &[Value],
    memory: M,
) -> Vec<u8> {
    let wasi = table
        .functions
        .get(id as usize)
        .filter(|f| wasi::known(f).is_some());
    if let Some(f) = wasi {
        return wasi::snapshot_of_call(f, kind, values, extra, memory, table.limits)
            .unwrap_or_default();
    }
    let result_address = match extra.first() {
        Some(Value::I32(a)) => Some(*a as u32),
        _ => None,
    };
    source_snapshot(table, id, kind, values, result_address, memory)
}

/// What reading one record of a function with a source signature touched:
/// for an entry, its arguments; for an exit, its result (preceded by the
/// result's address when it was returned through memory, `result_address`).
/// Empty when the function has no source signature.
fn source_snapshot<M: Memory>(
    table: &FunctionTable,
    id: u32,
    kind: RecordKind,
    values: &[Value],
    result_address: Option<u32>,
    memory: M,
) -> Vec<u8> {
    let types = &table.types;
    let mut mem = Recording {
        inner: memory,
        snapshot: Snapshot::default(),
    };
    let mut out = Vec::new();
    let Some(sig) = table
        .functions
        .get(id as usize)
        .and_then(|f| f.source.as_ref())
    else {
        return out;
    };
    match kind {
        RecordKind::Enter => {
            for p in &sig.params {
                let place = match p.lowering {
                    Lowering::Scalars { first, count } => Place::Scalars(
                        values
                            .get(first as usize..(first + count) as usize)
                            .unwrap_or(&[]),
                    ),
                    Lowering::Indirect { param } => match values.get(param as usize) {
                        Some(Value::I32(a)) => Place::Memory(*a as u32),
                        _ => continue,
                    },
                };
                source::read_value_within(types, p.ty, place, &mut mem, table.limits);
            }
        }
        _ => {
            if let Some((ty, lowering)) = sig.result {
                let place = match lowering {
                    ResultLowering::Direct => Place::Scalars(values),
                    ResultLowering::Indirect { .. } => {
                        let addr = result_address.unwrap_or(0);
                        out.extend_from_slice(&addr.to_le_bytes());
                        Place::Memory(addr)
                    }
                };
                source::read_value_within(types, ty, place, &mut mem, table.limits);
            }
        }
    }
    mem.snapshot.encode(&mut out);
    out
}
