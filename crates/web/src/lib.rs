//! The browser host of ruchy-trace.
//!
//! The same instrumenter ([`ruchy_trace_instrument`]) and tracer core
//! ([`ruchy_trace_core`]) as the native host, compiled to wasm and driven from a
//! page. The JavaScript half (`src/host.js`) compiles and runs the
//! instrumented module with a WASI preview1 shim and the `ruchy_trace`
//! imports; records reach the Rust half in batches and land in a
//! [`ruchy_trace_core::Ring`], exactly as on the native host. Calls whose
//! values live in guest memory are recorded by [`guest`], which reads that
//! memory at call time with the native host's walker.
//!
//! From JavaScript:
//!
//! ```js
//! import init, { run } from "./pkg/ruchy_trace_web.js";
//! await init();
//! const result = await run(bytes, { strategy: "hooks", capacity: 1000000 });
//! result.text(true, false); result.json(); result.chrome(); result.stdout();
//! ```
//!
//! The `<ruchy-trace-tab>` element (`js/trace-tab.js`) wraps all of this in
//! a Web Worker and renders the trace, call tree, table and timeline.

#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

use js_sys::{Array, Object, Reflect, Uint8Array};
use ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace_core::format::{
    ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
};
use ruchy_trace_core::{EventKind, FunctionTable, OverflowPolicy, RecordLayout, Ring, Strategy};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

pub mod guest;
mod invoke;
pub mod view;

#[wasm_bindgen(module = "/src/host.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn run_module(
        bytes: &[u8],
        spec: &JsValue,
        sink: &Closure<dyn FnMut(Uint8Array, u32)>,
        capture: &Closure<dyn FnMut(Array, JsValue, JsValue)>,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// Options of [`run`] and [`instrument`], read from a plain JS object whose
/// fields are all optional.
#[derive(Debug, Clone)]
pub struct Options {
    /// `"hooks"` (default: an import call per event, fresh timestamps) or
    /// `"inline"` (records written by the module itself; the clock cell is
    /// refreshed only at flushes and WASI calls, so timestamps are coarse).
    pub strategy: Strategy,
    /// Record timestamps (default true).
    pub timestamps: bool,
    /// Trace one call in `sample` (default 1: every call).
    pub sample: u32,
    /// `"own"` (default) or `"all"` functions.
    pub scope: ruchy_trace_instrument::Scope,
    /// Globs, `GLOB` to include or `!GLOB` to exclude, separated by commas
    /// or spaces.
    pub filters: Vec<ruchy_trace_instrument::Filter>,
    /// Ring capacity in events (default 1,048,576).
    pub capacity: u64,
    /// `"newest"` (default) or `"oldest"`: which events a full ring keeps.
    pub policy: OverflowPolicy,
    /// The run-time switch: whether tracing starts on (default true).
    pub enabled: bool,
    /// Run the module as it is, without instrumenting it (for comparison).
    pub plain: bool,
    /// `argv`, program name first (default `["program"]`).
    pub args: Vec<String>,
    /// Environment, `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// Call this exported function instead of the WASI `_start`.
    pub invoke: Option<String>,
    /// Its arguments, as text (`invokeArgs`).
    pub invoke_args: Vec<String>,
    /// The Ruchy program the module was compiled from (`source`), so
    /// locations point at it.
    pub source: Option<String>,
    /// The file name shown for it (`sourceName`, default `program.ruchy`).
    pub source_name: String,
    /// The Rust the Ruchy program was transpiled to (`transpiled`), which
    /// tells its closures apart as the CLI's `X.rs` beside `X.wasm` does.
    pub transpiled: Option<String>,
    /// Trace the module's calls out to its imports too (`traceImports`), as
    /// `--imports` does: the WASI shim's calls, decoded like strace.
    pub trace_imports: bool,
    /// Record wasm values only (`wasmTypes`), as `--wasm-types` does.
    pub wasm_types: bool,
    /// More imports the module may ask for, `{module: {name: function}}`
    /// (`imports`), besides WASI and the tracer's own.
    pub imports: Option<JsValue>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strategy: Strategy::Hooks,
            timestamps: true,
            sample: 1,
            scope: ruchy_trace_instrument::Scope::Own,
            filters: Vec::new(),
            capacity: 1 << 20,
            policy: OverflowPolicy::KeepNewest,
            enabled: true,
            plain: false,
            args: vec!["program".to_string()],
            env: Vec::new(),
            invoke: None,
            invoke_args: Vec::new(),
            source: None,
            source_name: "program.ruchy".to_string(),
            transpiled: None,
            trace_imports: false,
            wasm_types: false,
            imports: None,
        }
    }
}

fn field(obj: &JsValue, name: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn strings(v: &JsValue) -> Vec<String> {
    Array::from(v)
        .iter()
        .filter_map(|s| s.as_string())
        .collect()
}

impl Options {
    /// Reads options from a JS object; unknown values are errors.
    pub fn from_js(obj: &JsValue) -> Result<Options, String> {
        let mut o = Options::default();
        if let Some(v) = field(obj, "strategy") {
            o.strategy = match v.as_string().as_deref() {
                Some("hooks") => Strategy::Hooks,
                Some("inline") => Strategy::Inline,
                _ => return Err("strategy must be \"hooks\" or \"inline\"".into()),
            };
        }
        if let Some(v) = field(obj, "timestamps") {
            o.timestamps = v.is_truthy();
        }
        if let Some(v) = field(obj, "sample") {
            o.sample = v
                .as_f64()
                .filter(|n| *n >= 1.0 && *n <= u32::MAX as f64)
                .ok_or("sample must be a number >= 1")? as u32;
        }
        if let Some(v) = field(obj, "scope") {
            o.scope = match v.as_string().as_deref() {
                Some("own") => ruchy_trace_instrument::Scope::Own,
                Some("all") => ruchy_trace_instrument::Scope::All,
                _ => return Err("scope must be \"own\" or \"all\"".into()),
            };
        }
        if let Some(v) = field(obj, "filter") {
            let text = v.as_string().ok_or("filter must be a string")?;
            for g in text.split([',', ' ']).filter(|g| !g.is_empty()) {
                o.filters
                    .push(ruchy_trace_instrument::Filter::parse(g).map_err(|e| e.to_string())?);
            }
        }
        if let Some(v) = field(obj, "capacity") {
            o.capacity = v
                .as_f64()
                .filter(|n| *n >= 1.0)
                .ok_or("capacity must be a number >= 1")? as u64;
        }
        if let Some(v) = field(obj, "keep") {
            o.policy = match v.as_string().as_deref() {
                Some("newest") => OverflowPolicy::KeepNewest,
                Some("oldest") => OverflowPolicy::KeepOldest,
                _ => return Err("keep must be \"newest\" or \"oldest\"".into()),
            };
        }
        if let Some(v) = field(obj, "enabled") {
            o.enabled = v.is_truthy();
        }
        if let Some(v) = field(obj, "plain") {
            o.plain = v.is_truthy();
        }
        if let Some(v) = field(obj, "args") {
            o.args = strings(&v);
        }
        if let Some(v) = field(obj, "env") {
            o.env = strings(&v);
        }
        if let Some(v) = field(obj, "invoke") {
            o.invoke =
                Some(v.as_string().ok_or("invoke must be a string")?).filter(|s| !s.is_empty());
        }
        if let Some(v) = field(obj, "invokeArgs") {
            o.invoke_args = Array::from(&v)
                .iter()
                .map(|a| a.as_string().unwrap_or_else(|| format!("{a:?}")))
                .collect();
        }
        if let Some(v) = field(obj, "source") {
            o.source = Some(v.as_string().ok_or("source must be a string")?);
        }
        if let Some(v) = field(obj, "sourceName") {
            o.source_name = v.as_string().ok_or("sourceName must be a string")?;
        }
        if let Some(v) = field(obj, "transpiled") {
            o.transpiled = Some(v.as_string().ok_or("transpiled must be a string")?);
        }
        if let Some(v) = field(obj, "traceImports") {
            o.trace_imports = v.is_truthy();
        }
        o.imports = field(obj, "imports").filter(JsValue::is_object);
        if let Some(v) = field(obj, "wasmTypes") {
            o.wasm_types = v.is_truthy();
        }
        Ok(o)
    }

    fn config(&self) -> ruchy_trace_instrument::Config {
        ruchy_trace_instrument::Config {
            options: ruchy_trace_core::TraceOptions {
                strategy: self.strategy,
                timestamps: self.timestamps,
                sample: self.sample,
                staging_bytes: 1 << 16,
            },
            scope: self.scope,
            filters: self.filters.iter().cloned().collect(),
            source_values: !self.wasm_types,
            relocators: self
                .source
                .iter()
                .map(|text| {
                    ruchy_trace_core::ruchy::RuchySource {
                        file: self.source_name.clone(),
                        text: text.clone(),
                        transpiled: self.transpiled.clone(),
                    }
                    .shared()
                })
                .collect(),
            limits: Default::default(),
            imports: self.trace_imports,
        }
    }
}

/// Checks that `bytes` look like a core WebAssembly module, with a message a
/// person understands when they do not: what the Trace tab shows for a
/// dropped file before anything runs.
///
/// ```
/// use ruchy_trace_web::check_wasm;
///
/// assert_eq!(check_wasm(b"\0asm\x01\0\0\0"), Ok(()));
/// let e = check_wasm(b"hello").unwrap_err();
/// assert_eq!(e, "not a WebAssembly module (no \\0asm magic number)");
/// // A component (layer 1) is refused by name.
/// let e = check_wasm(b"\0asm\x0d\0\x01\0").unwrap_err();
/// assert!(e.contains("component"), "{e}");
/// ```
pub fn check_wasm(bytes: &[u8]) -> Result<(), String> {
    ruchy_trace_instrument::check_header(bytes).map_err(|e| e.to_string())
}

/// A module rewritten by [`instrument`].
#[wasm_bindgen]
#[derive(Debug)]
pub struct Instrumented {
    bytes: Vec<u8>,
    table: FunctionTable,
    notes: Vec<String>,
}

#[wasm_bindgen]
impl Instrumented {
    /// The instrumented module.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
    /// Shown names of the traced functions, by record id.
    #[wasm_bindgen(js_name = functionNames)]
    pub fn function_names(&self) -> Vec<String> {
        self.table
            .functions
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }
    /// What instrumenting did that a person should know.
    pub fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

fn instrument_with(
    bytes: &[u8],
    options: &Options,
) -> Result<ruchy_trace_instrument::Instrumented, String> {
    check_wasm(bytes)?;
    ruchy_trace_instrument::prepare(bytes, &options.config())
        .map_err(|e| format!("cannot instrument this module: {e}"))
}

/// Instruments a module in the page.
#[wasm_bindgen]
pub fn instrument(bytes: &[u8], options: JsValue) -> Result<Instrumented, JsError> {
    let options = Options::from_js(&options).map_err(|e| JsError::new(&e))?;
    let out = instrument_with(bytes, &options).map_err(|e| JsError::new(&e))?;
    Ok(Instrumented {
        bytes: out.bytes,
        table: out.table,
        notes: out.notes,
    })
}

/// A finished run: its trace, its output and how it ended.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RunResult {
    trace: Trace,
    stdout: String,
    stderr: String,
    elapsed_ms: f64,
    finish_ms: f64,
    results: Vec<String>,
    notes: Vec<String>,
    instrumented: bool,
}

fn render<F: Formatter>(mut f: F, trace: &Trace) -> String {
    let (mut out, damage) = ruchy_trace_core::format::render_to_string(&mut f, trace);
    if let Some(err) = damage {
        out.push_str(&format!("# error: {err}\n"));
    }
    out
}

#[wasm_bindgen]
impl RunResult {
    /// The strace-style text trace.
    pub fn text(&self, indent: bool, timestamps: bool) -> String {
        render(
            TextFormatter::new(TextOptions { indent, timestamps }),
            &self.trace,
        )
    }
    /// The JSON trace document.
    pub fn json(&self) -> String {
        render(JsonFormatter::new(JsonOptions::default()), &self.trace)
    }
    /// The Chrome Trace Event document (Perfetto, chrome://tracing).
    pub fn chrome(&self) -> String {
        render(ChromeFormatter::new(), &self.trace)
    }
    /// What the program wrote to stdout.
    pub fn stdout(&self) -> String {
        self.stdout.clone()
    }
    /// What the program wrote to stderr.
    pub fn stderr(&self) -> String {
        self.stderr.clone()
    }
    /// How the run ended: `returned`, `exited`, `trapped`.
    pub fn end(&self) -> String {
        match &self.trace.end {
            RunEnd::Returned => "returned",
            RunEnd::Exited(_) => "exited",
            RunEnd::Trapped(_) => "trapped",
            RunEnd::Interrupted(_) => "interrupted",
        }
        .into()
    }
    /// The exit status (0 when the program returned), or `undefined` when it
    /// trapped.
    #[wasm_bindgen(js_name = exitCode)]
    pub fn exit_code(&self) -> Option<i32> {
        match &self.trace.end {
            RunEnd::Returned => Some(0),
            RunEnd::Exited(c) => Some(*c),
            _ => None,
        }
    }
    /// A sentence on how the run ended, e.g. `trapped: unreachable`.
    pub fn summary(&self) -> String {
        match &self.trace.end {
            RunEnd::Returned => "returned".into(),
            RunEnd::Exited(c) => format!("exited with status {c}"),
            RunEnd::Trapped(m) => format!("trapped: {m}"),
            RunEnd::Interrupted(m) => format!("interrupted: {m}"),
        }
    }
    /// Events kept in the ring.
    pub fn kept(&self) -> f64 {
        self.trace.stats().kept_events as f64
    }
    /// Events recorded but not kept.
    pub fn lost(&self) -> f64 {
        self.trace.stats().dropped_events as f64
    }
    /// Wall time of the `_start` call, in milliseconds.
    #[wasm_bindgen(js_name = elapsedMs)]
    pub fn elapsed_ms(&self) -> f64 {
        self.elapsed_ms
    }
    /// Wall time from the guest's return to the trace being ready (the last
    /// flush, the ring finished), in milliseconds.
    #[wasm_bindgen(js_name = finishMs)]
    pub fn finish_ms(&self) -> f64 {
        self.finish_ms
    }
    /// With `invoke`: the function's results, as text.
    pub fn results(&self) -> Vec<String> {
        self.results.clone()
    }
    /// Whether the module ran instrumented.
    pub fn instrumented(&self) -> bool {
        self.instrumented
    }
    /// What instrumenting did that a person should know.
    pub fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
    /// Number of entries of the function with this shown name.
    pub fn calls(&self, name: &str) -> f64 {
        self.trace
            .events()
            .filter_map(Result::ok)
            .filter(|e| e.kind == EventKind::Enter && e.function.name == name)
            .count() as f64
    }
    /// The per-function table (from [`ruchy_trace_core::profile`]) and the
    /// function table as JSON; see [`view::functions_json`].
    #[wasm_bindgen(js_name = functionsJson)]
    pub fn functions_json(&self) -> String {
        view::functions_json(&self.trace)
    }
    /// The first `limit` calls as JSON, for the call tree and the timeline
    /// (see [`view::calls_json`]).
    #[wasm_bindgen(js_name = callsJson)]
    pub fn calls_json(&self, limit: u32) -> String {
        view::calls_json(&self.trace, limit as usize)
    }
    /// The trace as the tab shows it: indented, each line starting with its
    /// time since the start of the run (see [`view::lines`]).
    pub fn lines(&self) -> String {
        view::lines(&self.trace).0
    }
    /// The function id of each event line of [`RunResult::lines`].
    #[wasm_bindgen(js_name = lineFunctions)]
    pub fn line_functions(&self) -> Vec<u32> {
        view::lines(&self.trace).1
    }
}

fn spec(
    options: &Options,
    layout: &RecordLayout,
    table: &FunctionTable,
    wasm: &[u8],
) -> Result<JsValue, String> {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    set("timestamps", JsValue::from_bool(table.options.timestamps));
    set("sampled", JsValue::from_bool(table.options.sample > 1));
    set(
        "maxRecord",
        JsValue::from_f64(f64::from(layout.max_record_size())),
    );
    set("enabled", JsValue::from_bool(options.enabled));
    set(
        "inline",
        JsValue::from_bool(table.options.strategy == Strategy::Inline),
    );
    let snapshots: Vec<u8> = (0..table.functions.len() as u32 * 4)
        .map(|h| u8::from(layout.snapshot_of(h)))
        .collect();
    if snapshots.contains(&1) {
        set("snapshots", Uint8Array::from(&snapshots[..]).into());
    }
    let list = |v: &[String]| v.iter().map(|s| JsValue::from_str(s)).collect::<Array>();
    set("args", list(&options.args).into());
    set("env", list(&options.env).into());
    if let Some(imports) = &options.imports {
        set("imports", imports.clone());
    }
    if let Some(name) = &options.invoke {
        let (params, _) = invoke::export_signature(wasm, name)?;
        let args = invoke::js_args(name, &params, &options.invoke_args)?;
        set("invoke", JsValue::from_str(name));
        set("invokeArgs", args.into_iter().collect::<Array>().into());
    }
    Ok(o.into())
}

/// Instruments `bytes` (unless `options.plain`, or the module is already
/// instrumented), runs it as a WASI command in the page and returns its
/// trace. Rejects with a readable message when the input is not a module,
/// cannot be instrumented, compiled or linked; a trap or `proc_exit` is not
/// an error but how the run ended ([`RunResult::end`]).
#[wasm_bindgen]
pub async fn run(bytes: Vec<u8>, options: JsValue) -> Result<RunResult, JsError> {
    let options = Options::from_js(&options).map_err(|e| JsError::new(&e))?;
    let (module, table, notes, instrumented) = if options.plain {
        check_wasm(&bytes).map_err(|e| JsError::new(&e))?;
        (bytes, FunctionTable::default(), Vec::new(), false)
    } else {
        let out = instrument_with(&bytes, &options).map_err(|e| JsError::new(&e))?;
        (out.bytes, out.table, out.notes, true)
    };
    let layout = RecordLayout::new(&table);
    let ring = Rc::new(RefCell::new(Ring::new(
        layout.clone(),
        options.capacity,
        options.policy,
    )));
    let error: Rc<RefCell<Option<String>>> = Rc::default();
    let sink = {
        let ring = ring.clone();
        let error = error.clone();
        // The records come counted: by the module's staging cursor, or by
        // the hooks that batched them.
        Closure::<dyn FnMut(Uint8Array, u32)>::new(move |chunk: Uint8Array, records: u32| {
            let mut ring = ring.borrow_mut();
            let buffer = copy_chunk(&chunk, ring.take_spare().unwrap_or_default());
            if let Err(e) = ring.push_counted(buffer, Some(u64::from(records))) {
                error.borrow_mut().get_or_insert(e.to_string());
            }
        })
    };
    let table = Rc::new(table);
    let capture = {
        let ring = ring.clone();
        let error = error.clone();
        let table = table.clone();
        let mut record = Vec::new();
        Closure::<dyn FnMut(Array, JsValue, JsValue)>::new(
            move |params: Array, clock: JsValue, memory: JsValue| {
                record.clear();
                let clock = clock.dyn_into::<js_sys::Function>().ok();
                let memory = memory.dyn_into::<Uint8Array>().ok();
                let pushed = guest::hook_record(
                    &table,
                    &layout,
                    &params,
                    clock.as_ref(),
                    memory,
                    &mut record,
                )
                .and_then(|()| ring.borrow_mut().push(&record).map_err(|e| e.to_string()));
                if let Err(e) = pushed {
                    error.borrow_mut().get_or_insert(e);
                }
            },
        )
    };
    let spec = spec(&options, &RecordLayout::new(&table), &table, &module)
        .map_err(|e| JsError::new(&e))?;
    let promise = run_module(&module, &spec, &sink, &capture).map_err(js_error)?;
    let result = JsFuture::from(promise).await.map_err(js_error)?;
    drop(sink);
    drop(capture);
    if let Some(e) = error.borrow_mut().take() {
        return Err(JsError::new(&format!(
            "the module wrote malformed trace records: {e}"
        )));
    }
    let get = |k: &str| field(&result, k);
    let returned_at = get("returnedAt")
        .and_then(|v| v.as_f64())
        .unwrap_or_else(performance_now);
    let end = match get("end").and_then(|v| v.as_string()).as_deref() {
        Some("exited") => {
            RunEnd::Exited(get("code").and_then(|v| v.as_f64()).unwrap_or(0.0) as i32)
        }
        Some("trapped") => RunEnd::Trapped(
            get("message")
                .and_then(|v| v.as_string())
                .unwrap_or_default(),
        ),
        _ => RunEnd::Returned,
    };
    let end_us = get("endUs").and_then(|v| v.as_f64()).map(|v| v as u64);
    // The clock starts just before the guest's entry; its origin in Unix time.
    let epoch_unix_us = get("epochUs")
        .and_then(|v| v.as_f64())
        .unwrap_or_else(|| js_sys::Date::now() * 1000.0) as u64;
    let ring = Rc::try_unwrap(ring)
        .map_err(|_| JsError::new("internal: ring still shared"))?
        .into_inner();
    let recorded = ring
        .finish()
        .map_err(|e| JsError::new(&format!("the module wrote malformed trace records: {e}")))?;
    let trace = Trace::new(
        Rc::try_unwrap(table).unwrap_or_else(|t| (*t).clone()),
        recorded,
        end,
        epoch_unix_us,
        end_us,
    );
    Ok(RunResult {
        trace,
        finish_ms: performance_now() - returned_at,
        stdout: get("stdout")
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        stderr: get("stderr")
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        elapsed_ms: get("elapsedMs").and_then(|v| v.as_f64()).unwrap_or(0.0),
        results: get("results").map(|v| strings(&v)).unwrap_or_default(),
        notes,
        instrumented,
    })
}

/// `chunk`'s bytes in `buffer` (emptied first): one copy, straight from the
/// guest's memory into ours, the only one a record makes on its way to the
/// ring.
fn copy_chunk(chunk: &Uint8Array, mut buffer: Vec<u8>) -> Vec<u8> {
    let len = chunk.length() as usize;
    buffer.clear();
    buffer.reserve(len);
    let copied = chunk
        .copy_to_uninit(&mut buffer.spare_capacity_mut()[..len])
        .len();
    // SAFETY: `copy_to_uninit` initialized the first `copied` (= `len`)
    // bytes of the spare capacity.
    unsafe { buffer.set_len(copied) };
    buffer
}

/// `performance.now()` of the page or worker, 0 where there is none.
fn performance_now() -> f64 {
    let global = js_sys::global();
    let Ok(performance) = Reflect::get(&global, &JsValue::from_str("performance")) else {
        return 0.0;
    };
    Reflect::get(&performance, &JsValue::from_str("now"))
        .ok()
        .and_then(|now| now.dyn_into::<js_sys::Function>().ok())
        .and_then(|now| now.call0(&performance).ok())
        .and_then(|t| t.as_f64())
        .unwrap_or(0.0)
}

fn js_error(e: JsValue) -> JsError {
    let msg = Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into());
    JsError::new(&msg)
}

/// Opens a recorded `.rtrace` file (`ruchy-trace record`) as a finished
/// run, so the tab shows what the native host recorded. Rejects with a
/// readable message when the bytes are not a trace file; a file cut short
/// shows what it holds up to the damage, with a note.
#[wasm_bindgen(js_name = openTrace)]
pub fn open_trace(bytes: &[u8]) -> Result<RunResult, JsError> {
    use ruchy_trace_core::rtrace::{Block, TraceReader};
    if bytes.get(..4) != Some(b"RTRC") {
        return Err(JsError::new(
            "this is not a ruchy-trace trace file: a .rtrace file starts with RTRC",
        ));
    }
    let mut reader = TraceReader::new(bytes)
        .map_err(|e| JsError::new(&format!("cannot read this trace file: {e}")))?;
    let table = reader.table.clone();
    let mut ring = Ring::new(
        RecordLayout::new(&table),
        u64::MAX,
        OverflowPolicy::KeepOldest,
    );
    let mut end = RunEnd::Interrupted("the trace file has no end".into());
    let mut end_us = None;
    let mut lost = 0;
    let mut notes = Vec::new();
    while let Some(block) = reader.next_block() {
        match block {
            Ok(Block::Records(records)) => ring
                .push_chunk(records)
                .map_err(|e| JsError::new(&format!("cannot read this trace file: {e}")))?,
            Ok(Block::End(ending)) => {
                end = ending.end;
                end_us = Some(ending.end_us);
                lost = ending.lost;
            }
            Err(e) => {
                notes.push(format!("the trace file is damaged: {e}; shown up to there"));
                break;
            }
        }
    }
    let mut recorded = ring
        .finish()
        .map_err(|e| JsError::new(&format!("cannot read this trace file: {e}")))?;
    recorded.lost += lost;
    Ok(RunResult {
        trace: Trace::new(table, recorded, end, reader.epoch_unix_us, end_us),
        stdout: String::new(),
        stderr: String::new(),
        elapsed_ms: end_us.map_or(0.0, |us| us as f64 / 1000.0),
        finish_ms: 0.0,
        results: Vec::new(),
        notes,
        instrumented: true,
    })
}
