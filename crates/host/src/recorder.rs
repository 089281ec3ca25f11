//! The store-side half of tracing: the ring, and the imports that feed it.
//!
//! [`Program`](crate::Program) uses these for its runs; an embedder with its
//! own `Linker` and `Store` (several instances, its own imports) uses them
//! directly: put a [`Recorder`] in the store's data, implement
//! [`HasRecorder`], call [`link`] before instantiating and [`final_flush`]
//! when the guest stops, then [`Recorder::finish`], which ends the run.

use crate::clock::micros_since;
use crate::error::HostError;
use crate::writer::{Writer, Written};
use ruchy_trace_core::capture;
use ruchy_trace_core::decode::RunEnd;
use ruchy_trace_core::record::{self, RecordKind};
use ruchy_trace_core::source;
use ruchy_trace_core::{FunctionTable, RecordLayout, Ring, Strategy, ValType, Value};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{AsContextMut, Caller, Extern, Global, Linker, Memory, Module, Val};

/// Records gather in chunks of this size before they reach the ring; big
/// enough for huge pages, so filling fresh memory costs a fault per 2 MiB
/// rather than per 4 KiB.
const CHUNK_BYTES: usize = 4 << 20;

/// A buffer for records, backed by huge pages where the system allows.
fn fresh_chunk() -> Vec<u8> {
    let chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = chunk.as_ptr() as usize;
        let aligned = start.next_multiple_of(HUGE);
        let end = (start + CHUNK_BYTES) & !(HUGE - 1);
        if end > aligned {
            // SAFETY: advice on memory this Vec owns; it changes how pages
            // are backed, never their contents.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    end - aligned,
                    libc::MADV_HUGEPAGE,
                )
            };
        }
    }
    chunk
}

/// Somewhere records stream to as they arrive (a trace file), besides the
/// ring.
pub trait RecordSink: Send {
    /// Called once, before any record, with the trace's table, when it
    /// started (µs since the Unix epoch) and how fine its timestamps are
    /// (µs; `None` without timestamps).
    fn start(
        &mut self,
        table: &FunctionTable,
        epoch_unix_us: u64,
        clock_resolution_us: Option<u32>,
    ) -> std::io::Result<()>;
    /// A chunk of whole records.
    fn records(&mut self, chunk: &[u8]) -> std::io::Result<()>;
    /// Called once, after the last record.
    fn finish(&mut self, end: &RunEnd, end_us: u64) -> std::io::Result<()>;
}

/// What a store holds for tracing.
pub struct Recorder {
    /// Record sizes of the table.
    layout: RecordLayout,
    table: Arc<FunctionTable>,
    /// The chunk being filled.
    current: Vec<u8>,
    /// How many records `current` holds: the guest counts those it stages
    /// (see [`record::PTR_EXPORT`]), so no one reads a record to count it.
    current_records: u64,
    /// Largest record the table's functions write.
    max_record: usize,
    /// When the trace started; timestamps count from here.
    pub epoch: Instant,
    /// The first malformed thing the guest handed over, if any.
    pub error: Option<ruchy_trace_core::Error>,
    /// Where full chunks go.
    delivery: Delivery,
    /// Each flushed staging area goes to the ring as a chunk of its own,
    /// on this thread (see [`Recorder::start_writer_thread`]).
    chunk_per_flush: bool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("functions", &self.table.functions.len())
            .field("pending_bytes", &self.current.len())
            .field("epoch", &self.epoch)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Where the recorder's full chunks go: to the ring (and sink) on this
/// thread, or to a writer thread that owns them.
enum Delivery {
    Here(Box<Written>),
    Thread(Writer),
}

impl Recorder {
    /// A recorder for a module instrumented with `table`, filling `ring`
    /// on the thread that runs the guest.
    pub fn new(table: Arc<FunctionTable>, ring: Ring, epoch: Instant) -> Recorder {
        let max_record = ring.layout().max_record_size() as usize;
        Recorder {
            layout: ring.layout().clone(),
            table,
            current: Vec::new(),
            current_records: 0,
            max_record,
            epoch,
            error: None,
            delivery: Delivery::Here(Box::new(Written {
                ring,
                sink: None,
                error: None,
                sink_error: None,
            })),
            chunk_per_flush: false,
        }
    }

    /// Also streams every record to `sink` (a trace file), as chunks fill.
    /// Set it before [`Recorder::start_writer_thread`]; afterwards the
    /// writer owns the sink and this does nothing.
    pub fn set_sink(&mut self, sink: Option<Box<dyn RecordSink>>) {
        if let Delivery::Here(w) = &mut self.delivery {
            w.sink = sink;
        }
    }

    /// Moves the ring and the sink to a writer thread: from then on, the
    /// guest's thread only hands whole chunks over.
    ///
    /// Except for a ring with no sink that keeps fewer events than one
    /// staging area holds (`--buffer-size 16`): it drops nearly every
    /// record, and only reads each to track the open frames. That is
    /// cheapest straight after the guest wrote the records, while they are
    /// in this core's cache, so such a ring stays on this thread and takes
    /// each flushed staging area where it lies, rather than have the
    /// records copied into big chunks for another core to read cold.
    ///
    /// (`record`'s compaction, though light too, stays on the writer
    /// thread: on this thread it cost as much CPU as the copy it saved and
    /// added itself to the guest's wall time.)
    pub fn start_writer_thread(&mut self) {
        if let Delivery::Here(w) = &self.delivery {
            let kept_bytes = w.ring.capacity().saturating_mul(self.max_record as u64);
            if w.sink.is_none()
                && self.table.options.strategy == Strategy::Inline
                && kept_bytes <= u64::from(self.table.options.staging_bytes)
            {
                self.chunk_per_flush = true;
                return;
            }
        }
        let placeholder = Delivery::Here(Box::new(Written {
            ring: Ring::new(self.layout.clone(), 0, Default::default()),
            sink: None,
            error: None,
            sink_error: None,
        }));
        self.delivery = match std::mem::replace(&mut self.delivery, placeholder) {
            Delivery::Here(w) if w.error.is_none() && w.sink_error.is_none() => {
                let w = *w;
                Delivery::Thread(Writer::start(w.ring, w.sink))
            }
            other => other,
        };
    }

    /// Makes room for `bytes` more in the current chunk, handing a full one
    /// over.
    fn reserve(&mut self, bytes: usize) {
        if self.current.len() + bytes <= self.current.capacity() {
            return;
        }
        self.drain_staging();
        let spare = match &mut self.delivery {
            Delivery::Here(w) => w.ring.take_spare(),
            Delivery::Thread(t) => t.spare(),
        };
        self.current = spare.unwrap_or_else(fresh_chunk);
        self.current.reserve(bytes);
    }

    /// Hands the chunk being filled over.
    pub fn drain_staging(&mut self) {
        let chunk = std::mem::take(&mut self.current);
        let records = std::mem::take(&mut self.current_records);
        if chunk.is_empty() {
            return;
        }
        match &mut self.delivery {
            Delivery::Here(w) => w.take(chunk, records),
            Delivery::Thread(t) => t.send(chunk, records),
        }
    }

    /// Ends recording once the guest stopped (after [`final_flush`]): hands
    /// the last chunk over, tells the sink how the run ended, and returns
    /// what the ring kept; or the first malformed record the guest handed
    /// over, or the first error writing to the sink.
    pub fn finish(
        mut self,
        end: &RunEnd,
        end_us: u64,
    ) -> Result<ruchy_trace_core::ring::Recorded, HostError> {
        self.drain_staging();
        let written = match self.delivery {
            Delivery::Here(w) => *w,
            Delivery::Thread(t) => t.finish(),
        };
        if let Some(e) = self.error.or(written.error) {
            return Err(HostError::Trace(e));
        }
        if let Some(e) = written.sink_error {
            return Err(HostError::Io(e));
        }
        if let Some(mut s) = written.sink {
            s.finish(end, end_us).map_err(HostError::Io)?;
        }
        Ok(written.ring.finish()?)
    }

    /// Takes one hook call's parameters: header, depth (sampled entries),
    /// then the recorded values (and, for an exit whose result is in
    /// memory, its address). `memory` is the guest's, for functions whose
    /// values must be read from it now.
    fn hook(&mut self, params: &[Val], memory: Option<&[u8]>) {
        let header = params.first().and_then(Val::i32).unwrap_or(-1) as u32;
        let id = header >> 2;
        let Some(function) = self.table.functions.get(id as usize) else {
            self.error
                .get_or_insert(ruchy_trace_core::Error::UnknownFunction { id, offset: 0 });
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
        let recorded = hook_values(types, &mut values);
        let snapshot = self.layout.snapshot_of(header).then(|| {
            let extra: Vec<Value> = values.filter_map(extra_value).collect();
            self.snapshot(id, kind, &recorded, &extra, memory.unwrap_or(&[]))
        });
        let timestamp = self
            .table
            .options
            .timestamps
            .then(|| micros_since(self.epoch));
        self.reserve(self.max_record + snapshot.as_ref().map_or(0, |s| s.len() + 4));
        self.current_records += 1;
        record::write_record(
            &mut self.current,
            id,
            kind,
            timestamp,
            depth,
            &recorded,
            snapshot.as_deref(),
        );
    }

    /// Reads the arguments (or result) of function `id` from guest memory
    /// as they are now, keeping every byte read.
    fn snapshot(
        &self,
        id: u32,
        kind: RecordKind,
        values: &[Value],
        extra: &[Value],
        memory: &[u8],
    ) -> Vec<u8> {
        capture::snapshot_of_hook(&self.table, id, kind, values, extra, GuestMemory(memory))
    }

    /// Copies the staging area `[STAGING_BASE, end)` of the trace memory,
    /// holding the number of records the cursor says.
    fn take_staging(&mut self, memory: &[u8], cursor: i64) {
        let cursor = record::StagingCursor::from_bits(cursor);
        let start = record::STAGING_BASE as usize;
        let end = (cursor.end as usize).min(memory.len());
        if end <= start {
            return;
        }
        if self.chunk_per_flush {
            // Hook records gathered so far came first.
            self.drain_staging();
            if let Delivery::Here(w) = &mut self.delivery {
                w.take_slice(&memory[start..end], u64::from(cursor.records));
            }
        } else {
            self.reserve(end - start);
            self.current.extend_from_slice(&memory[start..end]);
            self.current_records += u64::from(cursor.records);
        }
    }
}

/// The values a hook received for `types`, in record form: a `v128` comes
/// as two `i64` halves, low first, a reference as an `i32` that is 1 when
/// it is null (see [`record::hook_name`]). Leaves `params` at what follows
/// them.
pub fn hook_values<'a>(
    types: &[ValType],
    params: &mut impl Iterator<Item = &'a Val>,
) -> Vec<Value> {
    types
        .iter()
        .map(|&t| match (t, params.next()) {
            (ValType::I32, Some(Val::I32(v))) => Value::I32(*v),
            (ValType::I64, Some(Val::I64(v))) => Value::I64(*v),
            (ValType::F32, Some(Val::F32(v))) => Value::F32(f32::from_bits(*v)),
            (ValType::F64, Some(Val::F64(v))) => Value::F64(f64::from_bits(*v)),
            (ValType::Ref, Some(Val::I32(v))) => Value::Ref { null: *v != 0 },
            (ValType::V128, Some(Val::I64(low))) => match params.next() {
                Some(Val::I64(high)) => {
                    Value::V128(u128::from(*low as u64) | u128::from(*high as u64) << 64)
                }
                _ => Value::Unrecorded(t),
            },
            _ => Value::Unrecorded(t),
        })
        .collect()
}

/// A value a hook received after the recorded ones (a result address, a
/// WASI call's arguments at its exit).
fn extra_value(v: &Val) -> Option<Value> {
    match v {
        Val::I32(v) => Some(Value::I32(*v)),
        Val::I64(v) => Some(Value::I64(*v)),
        _ => None,
    }
}

/// Guest memory as the value reader sees it.
struct GuestMemory<'m>(&'m [u8]);

impl source::Memory for GuestMemory<'_> {
    fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]> {
        self.0
            .get(addr as usize..(addr as usize).checked_add(len as usize)?)
    }
}

/// Something the store's data can lend its recorder.
pub trait HasRecorder: 'static {
    /// The recorder.
    fn recorder(&mut self) -> &mut Recorder;
}

/// Defines every `ruchy_trace` import the module asks for.
pub fn link<T: HasRecorder>(linker: &mut Linker<T>, module: &Module) -> wasmtime::Result<()> {
    link_to(linker, module, T::recorder)
}

/// Like [`link`], for a store holding several recorders (several
/// instrumented instances that call each other, each with its own function
/// table): `recorder` lends the one this module's records go to.
pub fn link_to<T: 'static>(
    linker: &mut Linker<T>,
    module: &Module,
    recorder: impl Fn(&mut T) -> &mut Recorder + Copy + Send + Sync + 'static,
) -> wasmtime::Result<()> {
    for import in module.imports() {
        if import.module() != record::HOOK_MODULE {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else {
            continue;
        };
        if import.name() == record::NOW_IMPORT {
            linker.func_wrap(
                record::HOOK_MODULE,
                record::NOW_IMPORT,
                move |mut caller: Caller<'_, T>| -> i32 {
                    micros_since(recorder(caller.data_mut()).epoch) as i32
                },
            )?;
        } else if import.name() == record::FLUSH_IMPORT {
            linker.func_wrap(
                record::HOOK_MODULE,
                record::FLUSH_IMPORT,
                move |mut caller: Caller<'_, T>, cursor: i64| -> i64 {
                    flush(&mut caller, cursor, recorder);
                    record::EMPTY_STAGING
                },
            )?;
        } else {
            linker.func_new(
                record::HOOK_MODULE,
                import.name(),
                ty,
                move |mut caller, params, _results| {
                    hook(&mut caller, params, recorder);
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

fn hook<T>(caller: &mut Caller<'_, T>, params: &[Val], recorder: impl Fn(&mut T) -> &mut Recorder) {
    if recorder(caller.data_mut()).table.options.strategy == Strategy::Inline {
        // Records staged inline come before this one.
        let memory = caller.get_export(record::MEMORY_EXPORT);
        if let (Some(Extern::Memory(memory)), Some(Extern::Global(ptr))) =
            (memory, caller.get_export(record::PTR_EXPORT))
        {
            take_staged(&mut *caller, memory, ptr, &recorder);
        }
    }
    let header = params.first().and_then(Val::i32).unwrap_or(-1) as u32;
    let reads_memory = recorder(caller.data_mut()).layout.snapshot_of(header);
    let memory = if reads_memory {
        caller.get_export(record::GUEST_MEMORY_EXPORT)
    } else {
        None
    };
    match memory {
        Some(Extern::Memory(memory)) => {
            let (data, state) = memory.data_and_store_mut(caller);
            recorder(state).hook(params, Some(data));
        }
        _ => recorder(caller.data_mut()).hook(params, None),
    }
}

fn flush<T>(caller: &mut Caller<'_, T>, cursor: i64, recorder: impl Fn(&mut T) -> &mut Recorder) {
    if let Some(Extern::Memory(memory)) = caller.get_export(record::MEMORY_EXPORT) {
        let (data, state) = memory.data_and_store_mut(caller);
        let recorder = recorder(state);
        recorder.take_staging(data, cursor);
        // The clock thread ticks every 100 us, and a busy machine may not
        // run it for longer: a flush is a moment the host runs anyway, so
        // it brings the clock cell up to date too.
        let at = record::CLOCK_ADDRESS as usize;
        if let Some(cell) = data.get_mut(at..at + 4) {
            let now = micros_since(recorder.epoch);
            // SAFETY: 4 bytes of the trace memory, which starts page
            // aligned; the clock thread stores to the same cell atomically.
            unsafe { std::sync::atomic::AtomicU32::from_ptr(cell.as_mut_ptr().cast::<u32>()) }
                .store(now, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Takes what is left in the staging area (or hook batch) after the guest
/// stopped, however it stopped.
pub fn final_flush<T: HasRecorder>(store: &mut wasmtime::Store<T>, instance: &wasmtime::Instance) {
    final_flush_to(store, instance, T::recorder)
}

/// Like [`final_flush`], into the recorder `recorder` lends (see
/// [`link_to`]).
pub fn final_flush_to<T>(
    store: &mut wasmtime::Store<T>,
    instance: &wasmtime::Instance,
    recorder: impl Fn(&mut T) -> &mut Recorder,
) {
    let memory = instance.get_memory(&mut *store, record::MEMORY_EXPORT);
    let ptr = instance.get_global(&mut *store, record::PTR_EXPORT);
    if let (Some(memory), Some(ptr)) = (memory, ptr) {
        take_staged(&mut *store, memory, ptr, &recorder);
    }
    recorder(store.data_mut()).drain_staging();
}

/// Hands the records staged inline in `memory` up to the cursor in `ptr`
/// to the recorder and empties the staging area: from a hook (the guest
/// is running) or after the guest stopped.
fn take_staged<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    memory: Memory,
    ptr: Global,
    recorder: impl Fn(&mut T) -> &mut Recorder,
) {
    let cursor = ptr.get(&mut store).i64().unwrap_or(record::EMPTY_STAGING);
    let (data, state) = memory.data_and_store_mut(store.as_context_mut());
    recorder(state).take_staging(data, cursor);
    let _ = ptr.set(&mut store, Val::I64(record::EMPTY_STAGING));
}
