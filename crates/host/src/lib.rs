//! Runs WebAssembly under wasmtime with ruchy-trace's instrumentation and
//! collects its call trace.
//!
//! The shape follows wasmtime's embedding API: a [`Tracer`] owns the
//! engine; [`Tracer::load`] instruments (unless the module already is) and
//! compiles a module into a [`Program`]; [`Program::run`] instantiates it in
//! a fresh store, links the trace hooks (and WASI preview 1 for
//! [`Entry::Wasi`]), calls the entry point and returns the [`Outcome`]: how
//! the guest ended and its decoded [`ruchy_trace_core::Trace`]. A guest that traps,
//! exits or is interrupted still yields its trace, with open frames closed.
//!
//! # Example
//!
//! ```
//! use ruchy_trace::ruchy_trace_instrument::{Config, Scope};
//! use ruchy_trace::{Entry, RunOptions, Tracer};
//!
//! let wasm = wat::parse_str(r#"(module
//!     (func $double (export "double") (param i64) (result i64)
//!         (i64.add (local.get 0) (local.get 0))))"#)?;
//! let tracer = Tracer::new()?;
//! let program = tracer.load(&wasm, &Config { scope: Scope::All, ..Config::default() })?;
//! let entry = Entry::Invoke { name: "double".into(), args: vec!["21".into()] };
//! let outcome = program.run(&entry, &RunOptions::default())?;
//! assert_eq!(outcome.results, ["42"]);
//! // The call's entry, with its argument, and its exit, with its result.
//! let events = outcome
//!     .trace
//!     .events()
//!     .map(|e| e.map(|e| (e.kind, e.values().collect::<Vec<_>>())))
//!     .collect::<Result<Vec<_>, _>>()?;
//! use ruchy_trace::ruchy_trace_core::{EventKind, Value};
//! assert_eq!(
//!     events,
//!     [(EventKind::Enter, vec![Value::I64(21)]), (EventKind::Exit, vec![Value::I64(42)])]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod clock;
pub mod compile;
mod error;
pub mod recorder;
mod render;
pub mod replay;
mod run;
pub mod serve;
mod writer;

pub use clock::Clock;
pub use error::{chain as error_chain, HostError};
pub use recorder::{HasRecorder, RecordSink, Recorder};
pub use render::{FormatSink, MakeFormatter};
pub use ruchy_trace_core;
pub use ruchy_trace_instrument;
pub use run::{Entry, Outcome, Program, RunOptions, Tracer, TracerBuilder};
