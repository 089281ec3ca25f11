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
    let (bytes, Summary { table, notes }) =
        instrument_to(wasm, config, jobs, rewrite::Destination::Memory)?;
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

/// Somewhere [`instrument_into`] can write a module as it is produced: a
/// writer that can go back (a file).
pub trait Output: std::io::Write + std::io::Seek {}
impl<T: std::io::Write + std::io::Seek> Output for T {}

/// What [`instrument_into`] reports besides the module it wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The table the written module carries.
    pub table: FunctionTable,
    /// Things the rewrite did that a user should know.
    pub notes: Vec<String>,
}

/// Like [`instrument_with_jobs`], writing the module to `out` as it is
/// produced rather than returning it: the rewritten code section, most of
/// a module, never exists whole in memory. `out` is written from where it
/// stands, and sought back once, to fill in the code section's size.
pub fn instrument_into(
    wasm: &[u8],
    config: &Config,
    jobs: usize,
    out: &mut dyn Output,
) -> Result<Summary, Error> {
    instrument_to(wasm, config, jobs, rewrite::Destination::Stream(out)).map(|(_, s)| s)
}

fn instrument_to(
    wasm: &[u8],
    config: &Config,
    jobs: usize,
    destination: rewrite::Destination<'_>,
) -> Result<(Vec<u8>, Summary), Error> {
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
    let bytes = rewrite::rewrite(
        wasm,
        module,
        selection,
        &table,
        jobs,
        destination,
        &mut notes,
    )?;
    Ok((bytes, Summary { table, notes }))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that takes `room` bytes in all, then fails every write.
    struct Full {
        file: std::io::Cursor<Vec<u8>>,
        written: usize,
        room: usize,
    }

    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.written + buf.len() > self.room {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "disk full",
                ));
            }
            self.written += buf.len();
            self.file.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl std::io::Seek for Full {
        fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
            self.file.seek(to)
        }
    }

    /// A writer that fails part way, before the code section, inside it,
    /// or after it, makes `instrument_into` return [`Error::Write`] with
    /// the writer's error kind; with room enough it holds exactly the
    /// module `instrument` returns.
    #[test]
    fn a_failing_writer_is_a_write_error() {
        let wasm = wat::parse_str(
            r#"(module (func (export "f") (param i32) (result i32) local.get 0)
                       (data (i32.const 0) "x") (memory 1))"#,
        )
        .unwrap();
        let whole = instrument(&wasm, &Config::default()).unwrap().bytes;
        let mut failures = 0;
        for room in 0..whole.len() {
            let mut out = Full {
                file: Default::default(),
                written: 0,
                room,
            };
            match instrument_into(&wasm, &Config::default(), 1, &mut out) {
                Err(Error::Write { kind, .. }) => {
                    assert_eq!(kind, std::io::ErrorKind::StorageFull, "room {room}");
                    failures += 1;
                }
                other => panic!("room {room}: {other:?}"),
            }
        }
        assert_eq!(failures, whole.len());
        // With room for every byte written, the sought-back size included.
        let mut out = Full {
            file: Default::default(),
            written: 0,
            room: whole.len() + 5,
        };
        instrument_into(&wasm, &Config::default(), 1, &mut out).unwrap();
        assert_eq!(out.file.into_inner(), whole);
    }
}
