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
#![deny(missing_docs)]

mod analysis;
mod body;
mod dwarf;
mod error;
pub mod imports;
mod lowering;
mod names;
mod rewrite;
pub mod ruchy;
mod select;

pub use error::Error;
pub use select::{Filter, Scope};
pub use ruchy_trace_core::{FunctionTable, Strategy, TraceOptions};

/// What to instrument and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Record layout and delivery.
    pub options: TraceOptions,
    /// The program's own functions, or every function.
    pub scope: Scope,
    /// Name filters applied after the scope, in order (see [`Filter`]).
    pub filters: Vec<Filter>,
    /// Read DWARF for source names, types and locations, and decode values
    /// in source terms (strings and structs read from guest memory at the
    /// time of the call, through a host hook). Without it, wasm types only.
    pub source_values: bool,
    /// Ruchy sources of the program: locations in the transpiled `X.rs`
    /// move to `fun NAME` in `X.ruchy`.
    pub ruchy_sources: Vec<ruchy::RuchySource>,
    /// Trace calls to imported functions too, as import calls (see
    /// [`imports`]). Name filters apply to them as `MODULE::FIELD`.
    pub imports: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            options: TraceOptions::default(),
            scope: Scope::default(),
            filters: Vec::new(),
            source_values: true,
            ruchy_sources: Vec::new(),
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

/// Instruments `wasm` according to `config`.
pub fn instrument(wasm: &[u8], config: &Config) -> Result<Instrumented, Error> {
    let wrapped;
    let (wasm, wrappers) = if config.imports {
        analysis::check_header(wasm)?;
        wrapped = imports::wrap(wasm)?;
        (&wrapped.bytes[..], &wrapped.wrappers[..])
    } else {
        (wasm, &[][..])
    };
    let module = analysis::analyze(wasm)?;
    let mut selection = select::select(&module, config, wrappers.len())?;
    imports::select(&module, config, wrappers, &mut selection)?;
    let mut table = ruchy_trace_core::FunctionTable {
        options: config.options,
        program: module
            .program
            .as_ref()
            .map(|p| p.krate.clone())
            .unwrap_or_default(),
        functions: selection.functions.clone(),
        types: selection.types.clone(),
    };
    ruchy::relocate(&mut table, &config.ruchy_sources);
    let mut notes = Vec::new();
    let bytes = rewrite::rewrite(wasm, &module, &selection, &table, &mut notes)?;
    let mut validator = wasmparser::Validator::new();
    validator
        .validate_all(&bytes)
        .map_err(|e| Error::Internal(format!("instrumented module does not validate: {e}")))?;
    Ok(Instrumented {
        bytes,
        table,
        notes,
    })
}

/// Reads the function table an instrumented module carries, or `None` when
/// the module is not instrumented.
pub fn read_table(wasm: &[u8]) -> Result<Option<FunctionTable>, Error> {
    analysis::check_header(wasm)?;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(Error::invalid)?;
        if let wasmparser::Payload::CustomSection(c) = payload {
            if c.name() == ruchy_trace_core::table::SECTION_NAME {
                return ruchy_trace_core::FunctionTable::decode(c.data())
                    .map(Some)
                    .map_err(|e| Error::BadTable(e.to_string()));
            }
        }
    }
    Ok(None)
}
