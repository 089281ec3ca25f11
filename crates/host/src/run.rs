//! Loading, instantiating and running a traced program.

use crate::clock::{micros_since, Clock, Ticker};
use crate::error::HostError;
use crate::recorder::{self, HasRecorder, RecordSink, Recorder};
use ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace_core::record;
use ruchy_trace_core::{FunctionTable, OverflowPolicy, RecordLayout, Ring, Strategy};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wasmtime::{
    Config, Engine, Instance, Linker, Module, ResourceLimiter, Store, Trap, Val, ValType,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// Owns the wasmtime engine programs are compiled and run with.
pub struct Tracer {
    engine: Engine,
    interruptible: bool,
    metered: bool,
    clock: Clock,
    jobs: usize,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("interruptible", &self.interruptible)
            .field("metered", &self.metered)
            .field("clock", &self.clock)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Tracer`]: `Tracer::builder().timeouts(true).fuel(true).build()`.
#[derive(Debug, Clone, Default)]
pub struct TracerBuilder {
    timeouts: bool,
    fuel: bool,
    clock: Clock,
    jobs: usize,
}

impl TracerBuilder {
    /// Enables epoch interruption so runs can have a [`RunOptions::timeout`];
    /// it costs a check on every loop back-edge and function entry, so it
    /// is off unless asked.
    pub fn timeouts(mut self, on: bool) -> Self {
        self.timeouts = on;
        self
    }

    /// Makes the engine consume fuel so runs can be limited with
    /// [`RunOptions::fuel`]; it costs a counter update per basic block, so
    /// it is off unless asked.
    pub fn fuel(mut self, on: bool) -> Self {
        self.fuel = on;
        self
    }

    /// How the clock inline records read is kept fresh (default: a
    /// sleeping ticker, see [`Clock`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Threads that validate and rewrite function bodies when a module is
    /// instrumented (0, the default: one per core).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Creates the engine.
    pub fn build(self) -> Result<Tracer, HostError> {
        let mut config = Config::new();
        config.epoch_interruption(self.timeouts);
        config.consume_fuel(self.fuel);
        let engine = Engine::new(&config).map_err(HostError::Engine)?;
        Ok(Tracer {
            engine,
            interruptible: self.timeouts,
            metered: self.fuel,
            clock: self.clock,
            jobs: self.jobs,
        })
    }
}

/// An instrumented, compiled module.
pub struct Program {
    engine: Engine,
    module: Module,
    table: Arc<FunctionTable>,
    interruptible: bool,
    metered: bool,
    clock: Clock,
    /// What instrumenting did that a user should know.
    pub notes: Vec<String>,
    /// The instrumented bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("functions", &self.table.functions.len())
            .field("clock", &self.clock)
            .field("notes", &self.notes)
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// What to call.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A WASI preview 1 command: `_start`, with arguments (the first is the
    /// program name), environment variables and preopened directories
    /// (host path, guest path). The guest sees nothing else of the host.
    Wasi {
        /// `argv`, program name first.
        args: Vec<String>,
        /// Environment variables.
        env: Vec<(String, String)>,
        /// Directories to grant: (host path, guest path).
        dirs: Vec<(String, String)>,
    },
    /// An exported function, called without WASI, with arguments parsed from
    /// text according to its parameter types.
    Invoke {
        /// Export name.
        name: String,
        /// Arguments, as text.
        args: Vec<String>,
    },
}

/// Limits and ring settings of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Ring capacity, in events.
    pub capacity: u64,
    /// Which events the ring keeps when full.
    pub policy: OverflowPolicy,
    /// Whether tracing starts switched on.
    pub enabled: bool,
    /// Wall-clock limit for the guest.
    pub timeout: Option<Duration>,
    /// Cap on each guest memory, in bytes.
    pub max_memory: Option<usize>,
    /// Fuel the guest may burn (about one unit per wasm instruction) before
    /// it is interrupted; needs a [`Tracer::with_fuel`] engine.
    pub fuel: Option<u64>,
    /// Keep a WASI guest's stdout and stderr in the [`Outcome`] instead of
    /// passing them through to this process's.
    pub capture_output: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            capacity: 1 << 22,
            policy: OverflowPolicy::KeepNewest,
            enabled: true,
            timeout: None,
            max_memory: None,
            fuel: None,
            capture_output: false,
        }
    }
}

/// How a run ended, with its trace.
#[derive(Debug)]
pub struct Outcome {
    /// The decoded trace; `trace.end` says how the guest ended.
    pub trace: Trace,
    /// For [`Entry::Invoke`]: the results, rendered as text.
    pub results: Vec<String>,
    /// How long the entry point ran (instantiation and decoding excluded).
    pub elapsed: Duration,
    /// The guest's stdout, when [`RunOptions::capture_output`] was set.
    pub stdout: Vec<u8>,
    /// The guest's stderr, when [`RunOptions::capture_output`] was set.
    pub stderr: Vec<u8>,
}

/// Most bytes kept of each captured guest stream.
const CAPTURE_LIMIT: usize = 64 << 20;

struct StoreData {
    recorder: Recorder,
    wasi: Option<WasiP1Ctx>,
    limits: MemoryCap,
}

impl HasRecorder for StoreData {
    fn recorder(&mut self) -> &mut Recorder {
        &mut self.recorder
    }
}

impl Tracer {
    /// A builder for a tracer; every option starts off.
    pub fn builder() -> TracerBuilder {
        TracerBuilder::default()
    }

    /// A tracer with every option off: `Tracer::builder().build()`.
    pub fn new() -> Result<Tracer, HostError> {
        Tracer::builder().build()
    }

    /// Instruments `wasm` (unless it already carries a ruchy-trace table)
    /// and compiles it.
    pub fn load(
        &self,
        wasm: &[u8],
        config: &ruchy_trace_instrument::Config,
    ) -> Result<Program, HostError> {
        let out = ruchy_trace_instrument::prepare_with_jobs(wasm, config, self.jobs)?;
        self.compile(out.bytes, out.table, out.notes)
    }

    /// Compiles a module as it is, without instrumenting it: for measuring
    /// against the original. Its trace is empty.
    pub fn load_plain(&self, wasm: &[u8]) -> Result<Program, HostError> {
        ruchy_trace_instrument::read_table(wasm)?;
        self.compile(wasm.to_vec(), FunctionTable::default(), Vec::new())
    }

    fn compile(
        &self,
        bytes: Vec<u8>,
        table: FunctionTable,
        notes: Vec<String>,
    ) -> Result<Program, HostError> {
        let module = Module::new(&self.engine, &bytes).map_err(HostError::Compile)?;
        Ok(Program {
            engine: self.engine.clone(),
            module,
            table: Arc::new(table),
            interruptible: self.interruptible,
            metered: self.metered,
            clock: self.clock,
            notes,
            bytes,
        })
    }
}

fn classify(err: &wasmtime::Error) -> RunEnd {
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return RunEnd::Exited(exit.0);
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => RunEnd::Interrupted("time limit reached".into()),
        Some(Trap::OutOfFuel) => RunEnd::Interrupted("fuel exhausted".into()),
        Some(trap) => RunEnd::Trapped(trap.to_string()),
        None => RunEnd::Trapped(format!("{:#}", err)),
    }
}

fn parse_arg(text: &str, ty: &ValType) -> Result<Val, String> {
    use ruchy_trace_core::value::{ValType as T, Value};
    let ty = match ty {
        ValType::I32 => T::I32,
        ValType::I64 => T::I64,
        ValType::F32 => T::F32,
        ValType::F64 => T::F64,
        ValType::V128 => T::V128,
        ValType::Ref(_) => T::Ref,
    };
    Ok(match Value::parse(text, ty).map_err(|e| e.to_string())? {
        Value::I32(v) => Val::I32(v),
        Value::I64(v) => Val::I64(v),
        Value::F32(v) => Val::F32(v.to_bits()),
        Value::F64(v) => Val::F64(v.to_bits()),
        v @ (Value::V128(_) | Value::Ref { .. } | Value::Unrecorded(_)) => {
            return Err(ruchy_trace_core::value::BadValue::NotText(v.ty()).to_string())
        }
    })
}

fn render_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(x) => f32::from_bits(*x).to_string(),
        Val::F64(x) => f64::from_bits(*x).to_string(),
        Val::V128(x) => format!("{:#034x}", x.as_u128()),
        _ => "<ref>".to_string(),
    }
}

impl Program {
    /// The function table the instrumented module carries.
    pub fn table(&self) -> &FunctionTable {
        &self.table
    }

    /// The compiled module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Runs the program once, in a fresh store.
    pub fn run(&self, entry: &Entry, options: &RunOptions) -> Result<Outcome, HostError> {
        self.run_with(entry, options, None)
    }

    /// Runs the program once, also streaming every record to `sink` (a
    /// trace file) as it arrives.
    pub fn run_with(
        &self,
        entry: &Entry,
        options: &RunOptions,
        mut sink: Option<Box<dyn RecordSink>>,
    ) -> Result<Outcome, HostError> {
        let epoch = Instant::now();
        let epoch_unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        if let Some(s) = &mut sink {
            s.start(&self.table, epoch_unix_us, self.clock_resolution_us())
                .map_err(HostError::Io)?;
        }
        let capture = options.capture_output.then(|| {
            (
                MemoryOutputPipe::new(CAPTURE_LIMIT),
                MemoryOutputPipe::new(CAPTURE_LIMIT),
            )
        });
        let mut store = self.store(entry, options, sink, epoch, capture.as_ref())?;
        let linker = self.linker(entry)?;
        self.check_entry(entry)?;
        let (end, results, elapsed) =
            self.instantiate_and_call(&mut store, &linker, entry, options, epoch)?;
        let end_us = micros_since(epoch) as u64;
        let recorded = store.into_data().recorder.finish(&end, end_us)?;
        let mut trace = Trace::new(
            (*self.table).clone(),
            recorded,
            end,
            epoch_unix_us,
            Some(end_us),
        );
        trace.clock_resolution_us = self.clock_resolution_us();
        let (stdout, stderr) = match capture {
            Some((out, err)) => (out.contents().to_vec(), err.contents().to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Outcome {
            trace,
            results,
            elapsed,
            stdout,
            stderr,
        })
    }

    /// The resolution of the timestamps this program's records carry, when
    /// they carry any.
    fn clock_resolution_us(&self) -> Option<u32> {
        let options = &self.table.options;
        if !options.timestamps {
            None
        } else if options.strategy == Strategy::Inline && !record::clock_by_call(options) {
            Some(self.clock.resolution_us())
        } else {
            // Read per event from the host's clock.
            Some(1)
        }
    }

    /// A fresh store: the recorder and its ring, the WASI context for
    /// [`Entry::Wasi`] (its output captured when asked), limits and fuel.
    fn store(
        &self,
        entry: &Entry,
        options: &RunOptions,
        sink: Option<Box<dyn RecordSink>>,
        epoch: Instant,
        capture: Option<&(MemoryOutputPipe, MemoryOutputPipe)>,
    ) -> Result<Store<StoreData>, HostError> {
        let layout = RecordLayout::new(&self.table);
        let ring = Ring::new(layout, options.capacity, options.policy);
        let trace_memory = (self.table.options.strategy == Strategy::Inline).then(|| {
            (u64::from(record::STAGING_BASE) + u64::from(self.table.options.staging_bytes))
                .div_ceil(65536) as usize
                * 65536
        });
        let limits = MemoryCap {
            max_memory: options.max_memory,
            trace_memory,
        };
        let wasi = match entry {
            Entry::Wasi { args, env, dirs } => {
                let mut b = WasiCtxBuilder::new();
                match capture {
                    Some((out, err)) => {
                        b.stdout(out.clone()).stderr(err.clone());
                    }
                    None => {
                        b.inherit_stdio();
                    }
                }
                b.args(args).envs(env);
                for (host, guest) in dirs {
                    b.preopened_dir(host, guest, FsPerms::ReadWrite)
                        .map_err(|source| HostError::Preopen {
                            host: host.clone(),
                            source,
                        })?;
                }
                Some(b.build_p1())
            }
            Entry::Invoke { .. } => None,
        };
        let mut recorder = Recorder::new(self.table.clone(), ring, epoch);
        recorder.set_sink(sink);
        recorder.start_writer_thread();
        let mut store = Store::new(
            &self.engine,
            StoreData {
                recorder,
                wasi,
                limits,
            },
        );
        store.limiter(|d| &mut d.limits);
        if self.metered {
            store
                .set_fuel(options.fuel.unwrap_or(u64::MAX))
                .map_err(HostError::Instantiate)?;
        }
        Ok(store)
    }

    /// The trace hooks, and WASI preview 1 for [`Entry::Wasi`].
    fn linker(&self, entry: &Entry) -> Result<Linker<StoreData>, HostError> {
        let mut linker: Linker<StoreData> = Linker::new(&self.engine);
        recorder::link(&mut linker, &self.module).map_err(HostError::Instantiate)?;
        if matches!(entry, Entry::Wasi { .. }) {
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |d: &mut StoreData| {
                d.wasi.as_mut().expect("WASI context")
            })
            .map_err(HostError::Instantiate)?;
        }
        Ok(linker)
    }

    /// Refuses an [`Entry::Invoke`] of a function the module does not
    /// export, or of a module that needs WASI.
    fn check_entry(&self, entry: &Entry) -> Result<(), HostError> {
        let Entry::Invoke { name, .. } = entry else {
            return Ok(());
        };
        if self
            .module
            .get_export(name)
            .and_then(|e| e.func().cloned())
            .is_none()
        {
            return Err(HostError::MissingExport {
                name: name.clone(),
                available: self.function_exports(),
            });
        }
        if let Some(import) = self
            .module
            .imports()
            .find(|i| i.module().starts_with("wasi"))
        {
            return Err(HostError::NeedsWasi {
                module: import.module().to_string(),
                name: import.name().to_string(),
            });
        }
        Ok(())
    }

    /// Instantiates the module, switches tracing on or off, calls the entry
    /// point under the time limit, and takes the records left in the
    /// staging area however the guest stopped: how it ended, its results,
    /// and how long the call took.
    fn instantiate_and_call(
        &self,
        store: &mut Store<StoreData>,
        linker: &Linker<StoreData>,
        entry: &Entry,
        options: &RunOptions,
        epoch: Instant,
    ) -> Result<(RunEnd, Vec<String>, Duration), HostError> {
        let _watchdog = match (options.timeout, self.interruptible) {
            (Some(limit), true) => {
                store.set_epoch_deadline(1);
                Some(Watchdog::start(self.engine.clone(), limit))
            }
            _ => {
                store.set_epoch_deadline(u64::MAX);
                None
            }
        };
        let instance = match linker.instantiate(&mut *store, &self.module) {
            Err(e)
                if e.downcast_ref::<Trap>().is_some() || e.downcast_ref::<I32Exit>().is_some() =>
            {
                return Ok((classify(&e), Vec::new(), Duration::ZERO));
            }
            Err(e) => return Err(HostError::Instantiate(e)),
            Ok(instance) => instance,
        };
        if let Some(g) = instance.get_global(&mut *store, record::ENABLED_EXPORT) {
            let _ = g.set(&mut *store, Val::I32(options.enabled as i32));
        }
        let called = self.call(store, &instance, entry, epoch);
        recorder::final_flush(store, &instance);
        called
    }

    fn call(
        &self,
        store: &mut Store<StoreData>,
        instance: &Instance,
        entry: &Entry,
        epoch: Instant,
    ) -> Result<(RunEnd, Vec<String>, Duration), HostError> {
        let (name, args) = match entry {
            Entry::Wasi { .. } => ("_start", &[][..]),
            Entry::Invoke { name, args } => (name.as_str(), args.as_slice()),
        };
        let Some(func) = instance.get_func(&mut *store, name) else {
            return Err(HostError::MissingExport {
                name: name.to_string(),
                available: self.function_exports(),
            });
        };
        let ty = func.ty(&*store);
        if ty.params().len() != args.len() {
            return Err(HostError::BadArguments(format!(
                "`{name}` takes {} argument(s) ({}), {} given",
                ty.params().len(),
                ty.params()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                args.len()
            )));
        }
        let params = args
            .iter()
            .zip(ty.params())
            .map(|(a, t)| parse_arg(a, &t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(HostError::BadArguments)?;
        let mut results = vec![Val::I32(0); ty.results().len()];
        // Nothing reads the clock while tracing is off.
        let tickers = if self.enabled_at_start(store, instance) {
            self.start_clock(store, instance, epoch)
        } else {
            None
        };
        let started = Instant::now();
        let outcome = func.call(&mut *store, &params, &mut results);
        let took = started.elapsed();
        drop(tickers);
        Ok(match outcome {
            Ok(()) => (
                RunEnd::Returned,
                results.iter().map(render_val).collect(),
                took,
            ),
            Err(e) => (classify(&e), Vec::new(), took),
        })
    }

    fn enabled_at_start(&self, store: &mut Store<StoreData>, instance: &Instance) -> bool {
        instance
            .get_global(&mut *store, record::ENABLED_EXPORT)
            .is_none_or(|g| g.get(&mut *store).i32().unwrap_or(1) != 0)
    }

    fn function_exports(&self) -> Vec<String> {
        self.module
            .exports()
            .filter(|e| e.ty().func().is_some() && !e.name().starts_with("__ruchy_trace"))
            .map(|e| e.name().to_string())
            .collect()
    }

    fn start_clock(
        &self,
        store: &mut Store<StoreData>,
        instance: &Instance,
        epoch: Instant,
    ) -> Option<Ticker> {
        let options = &self.table.options;
        if !(options.timestamps && options.strategy == Strategy::Inline)
            || record::clock_by_call(options)
        {
            return None;
        }
        let memory = instance.get_memory(&mut *store, record::MEMORY_EXPORT)?;
        if memory.data_size(&*store) < record::STAGING_BASE as usize {
            return None;
        }
        let cell =
            unsafe { memory.data_ptr(&*store).add(record::CLOCK_ADDRESS as usize) } as *mut u32;
        // SAFETY: the trace memory has a fixed maximum, so wasmtime never
        // moves it, and the ticker is dropped before the store.
        Some(unsafe { Ticker::start(cell, epoch, self.clock) })
    }
}

/// `--max-memory`: caps every guest memory, but not the trace memory the
/// instrumentation adds (its fixed size is created once, at instantiation).
struct MemoryCap {
    max_memory: Option<usize>,
    trace_memory: Option<usize>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let Some(cap) = self.max_memory else {
            return Ok(true);
        };
        let is_trace_memory = current == 0
            && self
                .trace_memory
                .is_some_and(|t| desired == t && maximum == Some(t));
        Ok(desired <= cap || is_trace_memory)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Interrupts the engine's stores once a time limit passes.
struct Watchdog {
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    fn start(engine: Engine, limit: Duration) -> Watchdog {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                if start.elapsed() >= limit {
                    engine.increment_epoch();
                    return;
                }
                std::thread::sleep(Duration::from_millis(5).min(limit));
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
