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
//! * and the formatters that render events as text, JSON or a Chrome trace
//!   ([`format`]).
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod decode;
pub mod error;
pub mod event;
pub mod format;
pub mod glob;
pub mod profile;
pub mod record;
pub mod ring;
pub mod rtrace;
pub mod source;
pub mod table;
pub mod value;

pub use decode::{Decoder, Trace};
pub use error::Error;
pub use event::{CloseReason, Event, EventKind};
pub use record::{RecordKind, RecordLayout};
pub use ring::{OverflowPolicy, Ring};
pub use table::{FunctionInfo, FunctionTable, Import, Location, Strategy, TraceOptions};
pub use value::{ValType, Value};
