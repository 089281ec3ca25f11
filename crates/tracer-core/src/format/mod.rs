//! Renderers of a [`Trace`](crate::decode::Trace): text, JSON and Chrome trace.
//!
//! Formatters stream: the host calls [`Formatter::begin`], then
//! [`Formatter::event`] per event, then [`Formatter::end`], writing the
//! string buffer out whenever it grows large, so no format needs the whole
//! rendering in memory.

use crate::decode::{Stats, Trace};
use crate::event::Event;
use alloc::string::String;

pub mod chrome;
pub mod json;
pub mod text;
pub(crate) mod util;

pub use chrome::ChromeFormatter;
pub use json::{JsonFormatter, JsonOptions, JSON_FORMAT_VERSION};
pub use text::{TextFormatter, TextOptions};

/// Streams a trace into text.
pub trait Formatter {
    /// Writes whatever precedes the events.
    fn begin(&mut self, trace: &Trace, out: &mut String);
    /// Writes one event.
    fn event(&mut self, trace: &Trace, event: &Event<'_>, out: &mut String);
    /// Writes whatever follows the events.
    fn end(&mut self, trace: &Trace, stats: &Stats, out: &mut String);
}
