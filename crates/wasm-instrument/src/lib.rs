//! Rewrites a core WebAssembly module so that every selected function
//! reports its entry, with its arguments, and its exit, with its results.
//!
//! The output module carries the [`FunctionTable`] a host needs to decode
//! its records in the `ruchy-trace` custom section, so a trace can be read
//! with nothing but the instrumented module. How records reach the host is
//! chosen by [`TraceOptions::strategy`]:
//!
//! * [`Strategy::Inline`]: the instrumented code writes records itself into a
//!   memory the module defines and exports, and calls the `ruchy_trace.flush`
//!   import only when its staging area is full;
//! * [`Strategy::Hooks`]: every record is a call to a `ruchy_trace.enter_*`,
//!   `exit_*` or `tail_exit` import, the contract any engine understands.
//!
//! See `ruchy_trace_core::record` for the names and the record layout both
//! strategies share.
//!
//! # Example
//!
//! ```
//! use ruchy_trace_instrument::{instrument, prepare, read_table, Config, Filters, Scope};
//!
//! let wasm = wat::parse_str(r#"(module
//!     (func $double (export "double") (param i64) (result i64)
//!         (i64.add (local.get 0) (local.get 0)))
//!     (func $helper (export "helper")))"#)?;
//! let config = Config {
//!     scope: Scope::All,
//!     filters: Filters::parse(["!helper"])?,
//!     ..Config::default()
//! };
//! let out = instrument(&wasm, &config)?;
//! let names: Vec<&str> = out.table.functions.iter().map(|f| f.name.as_str()).collect();
//! assert_eq!(names, ["double"]);
//! // The table travels in the module, and a module already instrumented
//! // is taken as it is.
//! assert_eq!(read_table(&out.bytes)?, Some(out.table.clone()));
//! assert_eq!(prepare(&out.bytes, &config)?.bytes, out.bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod analysis;
mod body;
mod dwarf;
mod error;
pub mod imports;
mod lowering;
mod names;
mod parallel;
mod plan;
mod rewrite;
mod select;

pub use error::Error;
pub use ruchy_trace_core::filter::{BadFilter, Filter, Filters};
pub use ruchy_trace_core::relocate::Relocate;
pub use ruchy_trace_core::source::Limits;
pub use ruchy_trace_core::{FunctionTable, Strategy, TraceOptions};
pub use select::Scope;
use std::sync::Arc;

/// What to instrument and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Record layout and delivery.
    pub options: TraceOptions,
    /// The program's own functions, or every function.
    pub scope: Scope,
    /// Name filters applied after the scope, to the names the relocators
    /// give as well as the Rust names (see [`Filters`]).
    pub filters: Filters,
    /// Read DWARF for source names, types and locations, and decode values
    /// in source terms (strings and structs read from guest memory at the
    /// time of the call, through a host hook). Without it, wasm types only.
    pub source_values: bool,
    /// Sources the program was generated from: each renames and relocates
    /// the functions it defines (for Ruchy,
    /// `ruchy_trace_core::ruchy::RuchySource`), in order.
    pub relocators: Vec<Arc<dyn Relocate>>,
    /// How much of each string, sequence and map is read and shown.
    pub limits: Limits,
    /// Trace calls to imported functions too, as import calls (see
    /// [`imports`]). Name filters apply to them as `MODULE::FIELD`.
    pub imports: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            options: TraceOptions::default(),
            scope: Scope::default(),
            filters: Filters::default(),
            source_values: true,
            relocators: Vec::new(),
            limits: Limits::default(),
            imports: false,
        }
    }
}

/// An instrumented module.
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten module, valid and ready to run.
    pub bytes: Vec<u8>,
    /// The table it carries.
    pub table: FunctionTable,
    /// Things the rewrite did that a user should know (e.g. stripped debug
    /// information).
    pub notes: Vec<String>,
}

/// Instruments `wasm` according to `config`, using every core.
pub fn instrument(wasm: &[u8], config: &Config) -> Result<Instrumented, Error> {
    instrument_with_jobs(wasm, config, 0)
}

/// Instruments `wasm` according to `config`, validating and rewriting
/// function bodies on up to `jobs` threads (0: one per core).
///
/// The input is validated once: each function body as it is read for the
/// rewrite. The output is not validated again (that would cost as much as
/// the rewrite) except in debug builds; the test suites validate every
/// module they instrument.
pub fn instrument_with_jobs(
    wasm: &[u8],
    config: &Config,
    jobs: usize,
) -> Result<Instrumented, Error> {
    let wrapped;
    let (wasm, wrappers) = if config.imports {
        check_header(wasm)?;
        wrapped = imports::wrap(wasm)?;
        (&wrapped.bytes[..], &wrapped.wrappers[..])
    } else {
        (wasm, &[][..])
    };
    let mut module = analysis::analyze(wasm)?;
    let mut selection = select::select(&module, config, wrappers.len())?;
    select::relocate_and_filter(&module, config, &mut selection);
    imports::select(&module, config, wrappers, &mut selection)?;
    // Only selection reads the demangled names; the rewrite's peak memory
    // is lower without them.
    module.demangled = Default::default();
    let table = ruchy_trace_core::FunctionTable {
        options: config.options,
        program: module
            .program
            .as_ref()
            .map(|p| p.krate.clone())
            .unwrap_or_default(),
        // Moved, not copied: the rewrite reads them from the table.
        functions: std::mem::take(&mut selection.functions),
        types: std::mem::take(&mut selection.types),
        limits: config.limits,
    };
    let mut notes = Vec::new();
    let bytes = rewrite::rewrite(wasm, module, selection, &table, jobs, &mut notes)?;
    #[cfg(debug_assertions)]
    wasmparser::Validator::new()
        .validate_all(&bytes)
        .map_err(|e| Error::Internal(format!("instrumented module does not validate: {e}")))?;
    Ok(Instrumented {
        bytes,
        table,
        notes,
    })
}

/// The trace's name for a wasmparser value type.
pub fn val_type(t: wasmparser::ValType) -> ruchy_trace_core::ValType {
    select::convert(t)
}

/// What [`prepare`] notes when it takes a module that is already
/// instrumented as it is.
pub const ALREADY_INSTRUMENTED_NOTE: &str = "module is already instrumented; running it as it is";

/// Makes `wasm` ready for a tracing host: instruments it, or, when it
/// already carries a ruchy-trace table, takes it as it is (and says so in
/// its notes). Every host loads modules through this.
pub fn prepare(wasm: &[u8], config: &Config) -> Result<Instrumented, Error> {
    prepare_with_jobs(wasm, config, 0)
}

/// Like [`prepare`], instrumenting on up to `jobs` threads (see
/// [`instrument_with_jobs`]).
pub fn prepare_with_jobs(wasm: &[u8], config: &Config, jobs: usize) -> Result<Instrumented, Error> {
    match read_table(wasm)? {
        Some(table) => Ok(Instrumented {
            bytes: wasm.to_vec(),
            table,
            notes: vec![ALREADY_INSTRUMENTED_NOTE.to_string()],
        }),
        None => instrument_with_jobs(wasm, config, jobs),
    }
}

/// Checks that `wasm` starts like a core WebAssembly module: not empty,
/// the `\0asm` magic number, and not a component. Everything past the
/// header is left to the validator.
pub fn check_header(wasm: &[u8]) -> Result<(), Error> {
    if wasm.is_empty() {
        return Err(Error::Empty);
    }
    if wasm.len() < 4 || &wasm[..4] != b"\0asm" {
        return Err(Error::NotWasm);
    }
    if wasmparser::Parser::is_component(wasm) {
        return Err(Error::Component);
    }
    Ok(())
}

/// Reads the function table an instrumented module carries, or `None` when
/// the module is not instrumented.
pub fn read_table(wasm: &[u8]) -> Result<Option<FunctionTable>, Error> {
    check_header(wasm)?;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(Error::invalid)?;
        if let wasmparser::Payload::CustomSection(c) = payload {
            if c.name() == ruchy_trace_core::table::SECTION_NAME {
                return ruchy_trace_core::FunctionTable::decode(c.data())
                    .map(Some)
                    .map_err(Error::BadTable);
            }
        }
    }
    Ok(None)
}
