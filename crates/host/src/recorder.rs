//! The store-side half of tracing: the ring, and the imports that feed it.

use crate::clock::micros_since;
use std::sync::Arc;
use std::time::Instant;
use tracer_core::record::{self, RecordKind};
use tracer_core::{FunctionTable, Ring, ValType, Value};
use wasmtime::{Caller, Extern, Linker, Module, Val};

/// Hook records are batched before they reach the ring, like inline ones.
const HOOK_BATCH_BYTES: usize = 64 * 1024;

/// What a store holds for tracing.
pub struct Recorder {
    pub ring: Ring,
    table: Arc<FunctionTable>,
    staging: Vec<u8>,
    pub epoch: Instant,
    /// The first malformed thing the guest handed over, if any.
    pub error: Option<tracer_core::Error>,
}

impl Recorder {
    pub fn new(table: Arc<FunctionTable>, ring: Ring, epoch: Instant) -> Recorder {
        Recorder { ring, table, staging: Vec::new(), epoch, error: None }
    }

    fn push(&mut self, bytes: &[u8]) {
        if let Err(e) = self.ring.push(bytes) {
            self.error.get_or_insert(e);
        }
    }

    /// Moves batched hook records into the ring.
    pub fn drain_staging(&mut self) {
        let staging = std::mem::take(&mut self.staging);
        self.push(&staging);
        self.staging = staging;
        self.staging.clear();
    }

    /// Takes one hook call's parameters: header, depth (sampled entries),
    /// then the recorded values.
    fn hook(&mut self, params: &[Val]) {
        let header = params.first().and_then(Val::i32).unwrap_or(-1) as u32;
        let id = header >> 2;
        let Some(function) = self.table.functions.get(id as usize) else {
            self.error.get_or_insert(tracer_core::Error::UnknownFunction { id, offset: 0 });
            return;
        };
        let kind = match header & 3 {
            0 => RecordKind::Enter,
            1 => RecordKind::Exit,
            _ => RecordKind::TailExit,
        };
        let mut rest = &params[1..];
        let depth = if self.table.options.sample > 1 && kind == RecordKind::Enter {
            let d = rest.first().and_then(Val::i32).unwrap_or(0) as u32;
            rest = &rest[1..];
            Some(d)
        } else {
            None
        };
        let types: &[ValType] = match kind {
            RecordKind::Enter => &function.params,
            RecordKind::Exit => &function.results,
            RecordKind::TailExit => &[],
        };
        let mut values = rest.iter();
        let values: Vec<Value> = types
            .iter()
            .map(|&t| {
                if t.record_size() == 0 {
                    return Value::Unrecorded(t);
                }
                match values.next() {
                    Some(Val::I32(v)) => Value::I32(*v),
                    Some(Val::I64(v)) => Value::I64(*v),
                    Some(Val::F32(v)) => Value::F32(f32::from_bits(*v)),
                    Some(Val::F64(v)) => Value::F64(f64::from_bits(*v)),
                    _ => Value::Unrecorded(t),
                }
            })
            .collect();
        let timestamp = self.table.options.timestamps.then(|| micros_since(self.epoch));
        record::write_record(&mut self.staging, id, kind, timestamp, depth, &values);
        if self.staging.len() >= HOOK_BATCH_BYTES {
            self.drain_staging();
        }
    }

    /// Copies the staging area `[STAGING_BASE, end)` of the trace memory.
    fn take_staging(&mut self, memory: &[u8], end: i32) {
        let start = record::STAGING_BASE as usize;
        let end = (end as u32 as usize).min(memory.len());
        if end > start {
            self.push(&memory[start..end]);
        }
    }
}

/// Something the store's data can lend its recorder.
pub trait HasRecorder: 'static {
    /// The recorder.
    fn recorder(&mut self) -> &mut Recorder;
}

/// Defines every `ruchy_trace` import the module asks for.
pub fn link<T: HasRecorder>(linker: &mut Linker<T>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports() {
        if import.module() != record::HOOK_MODULE {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else {
            continue;
        };
        if import.name() == record::FLUSH_IMPORT {
            linker.func_wrap(record::HOOK_MODULE, record::FLUSH_IMPORT, |mut caller: Caller<'_, T>, end: i32| -> i32 {
                flush(&mut caller, end);
                record::STAGING_BASE as i32
            })?;
        } else {
            linker.func_new(record::HOOK_MODULE, import.name(), ty, |mut caller, params, _results| {
                caller.data_mut().recorder().hook(params);
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn flush<T: HasRecorder>(caller: &mut Caller<'_, T>, end: i32) {
    if let Some(Extern::Memory(memory)) = caller.get_export(record::MEMORY_EXPORT) {
        let (data, state) = memory.data_and_store_mut(caller);
        state.recorder().take_staging(data, end);
    }
}

/// Takes what is left in the staging area (or hook batch) after the guest
/// stopped, however it stopped.
pub fn final_flush<T: HasRecorder>(store: &mut wasmtime::Store<T>, instance: &wasmtime::Instance) {
    let memory = instance.get_memory(&mut *store, record::MEMORY_EXPORT);
    let ptr = instance.get_global(&mut *store, record::PTR_EXPORT);
    if let (Some(memory), Some(ptr)) = (memory, ptr) {
        let end = ptr.get(&mut *store).i32().unwrap_or(0);
        let (data, state) = memory.data_and_store_mut(&mut *store);
        state.recorder().take_staging(data, end);
        let _ = ptr.set(&mut *store, Val::I32(record::STAGING_BASE as i32));
    }
    store.data_mut().recorder().drain_staging();
}
