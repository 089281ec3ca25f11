//! The shared vocabulary of ruchy-trace.
//!
//! Every other crate depends on this one and it depends on none of them: it
//! knows nothing of wasmtime, browsers or wasmparser. It defines
//!
//! * the [`FunctionTable`] an instrumented module carries in its
//!   `ruchy-trace` custom section ([`table`]),
//! * the binary record format the instrumented code (or a host hook) writes
//!   ([`record`]),
//! * the bounded [`Ring`] a host fills with records ([`ring`]),
//! * the [`Decoder`] that turns records back into typed [`Event`]s
//!   ([`decode`]),
//! * [`Relocate`](relocate::Relocate), which moves functions of generated
//!   code back to their source, and its Ruchy implementation ([`ruchy`]),
//! * and the formatters that render events as text, JSON or a Chrome trace
//!   ([`format`]).
//!
//! # Example
//!
//! What a host does with the records a traced `fib(1)` leaves: keep them in
//! a ring, decode them against the module's table, render them.
//!
//! ```
//! use ruchy_trace_core::decode::RunEnd;
//! use ruchy_trace_core::format::{render_to_string, TextFormatter, TextOptions};
//! use ruchy_trace_core::record::write_record;
//! use ruchy_trace_core::{
//!     FunctionInfo, FunctionTable, OverflowPolicy, RecordKind, RecordLayout, Ring, Trace,
//!     TraceOptions, ValType, Value,
//! };
//!
//! let table = FunctionTable {
//!     options: TraceOptions { timestamps: false, ..TraceOptions::default() },
//!     functions: vec![FunctionInfo {
//!         wasm_index: 0,
//!         raw_name: "fib".into(),
//!         name: "fib".into(),
//!         params: vec![ValType::I64],
//!         results: vec![ValType::I64],
//!         param_names: Vec::new(),
//!         location: None,
//!         source: None,
//!         import: None,
//!     }],
//!     ..FunctionTable::default()
//! };
//! // The records the instrumented code writes: entry with the argument,
//! // exit with the result.
//! let mut records = Vec::new();
//! write_record(&mut records, 0, RecordKind::Enter, None, None, &[Value::I64(1)], None);
//! write_record(&mut records, 0, RecordKind::Exit, None, None, &[Value::I64(1)], None);
//!
//! let mut ring = Ring::new(RecordLayout::new(&table), 1024, OverflowPolicy::KeepNewest);
//! ring.push(&records)?;
//! let trace = Trace::new(table, ring.finish()?, RunEnd::Returned, 0, None);
//! let (text, damage) = render_to_string(&mut TextFormatter::new(TextOptions::default()), &trace);
//! assert!(damage.is_none());
//! assert_eq!(
//!     text.lines().take(2).collect::<Vec<_>>(),
//!     ["-> fib(i64=1)", "<- fib() = 1"]
//! );
//! # Ok::<(), ruchy_trace_core::Error>(())
//! ```
#![no_std]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

extern crate alloc;

pub mod capture;
pub mod decode;
pub mod error;
pub mod event;
pub mod filter;
pub mod format;
pub mod glob;
mod leb128;
pub mod profile;
pub mod record;
pub mod relocate;
pub mod ring;
pub mod rtrace;
pub mod ruchy;
pub mod source;
pub mod stream;
pub mod table;
pub mod value;
pub mod wasi;

pub use decode::{Decoder, Trace};
pub use error::Error;
pub use event::{CloseReason, Event, EventKind};
pub use record::{RecordKind, RecordLayout};
pub use ring::{OverflowPolicy, Ring};
pub use table::{FunctionInfo, FunctionTable, Import, Location, Strategy, TraceOptions};
pub use value::{ValType, Value};
