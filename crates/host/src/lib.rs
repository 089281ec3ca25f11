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
#![deny(missing_docs)]

mod clock;
mod error;
pub mod recorder;
mod render;
pub mod replay;
mod run;
mod writer;

pub use clock::Clock;
pub use error::HostError;
pub use recorder::{HasRecorder, RecordSink, Recorder};
pub use render::TextSink;
pub use run::{Entry, Outcome, Program, RunOptions, Tracer, TracerBuilder};
pub use ruchy_trace_core;
pub use ruchy_trace_instrument;
