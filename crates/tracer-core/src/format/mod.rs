//! Renderers of a [`Trace`](crate::decode::Trace): text, JSON and Chrome trace.
//!
//! Formatters stream: the host calls [`Formatter::begin`], then
//! [`Formatter::event`] per event, then [`Formatter::end`], writing the
//! string buffer out whenever it grows large, so no format needs the whole
//! rendering in memory.

use crate::decode::{Stats, StreamState, Trace};
use crate::event::Event;
use alloc::string::String;
use core::fmt;

pub mod chrome;
pub mod json;
pub mod text;
pub(crate) mod util;

pub use util::push_json_str;

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
    /// Writes every event of `trace` ([`Trace::events`]), as
    /// [`Formatter::event`] would one at a time; a record that cannot be
    /// decoded stops it and is returned. Called on a trait object, this
    /// is one call for a whole piece of a trace, inside which every event
    /// goes to the formatter's own `event` directly.
    fn events(&mut self, trace: &Trace, out: &mut String) -> Result<(), crate::Error> {
        for event in trace.events() {
            self.event(trace, &event?, out);
        }
        Ok(())
    }
    /// Prepares to render a piece of a trace cut into pieces (a trace
    /// rendered while it is recorded, piece by piece on several threads):
    /// the piece follows `events_before` events, and the stack and clock
    /// at its start are `start`. Returns whether this formatter renders
    /// such a piece exactly as it would have rendered it in sequence; a
    /// formatter that returns `false` (the default) must see every piece,
    /// in order.
    fn resume(&mut self, _events_before: u64, _start: &StreamState) -> bool {
        false
    }
    /// Whether what [`Formatter::begin`] writes depends on how the run
    /// ended ([`Trace::end`]), so it can only be written after the run.
    fn begins_with_the_end(&self) -> bool {
        false
    }
}

/// How much rendered text is held before it is handed out to be written.
pub const FLUSH_BYTES: usize = 1 << 16;

/// A formatter and the text it has rendered but not yet handed out: the
/// one buffering policy every host uses, whether events come from a whole
/// [`Trace`] ([`render`]) or one at a time from a replay.
pub struct Rendering<'f> {
    formatter: &'f mut dyn Formatter,
    text: String,
}

impl fmt::Debug for Rendering<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendering")
            .field("pending_bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl<'f> Rendering<'f> {
    /// Starts rendering with `formatter`.
    pub fn new(formatter: &'f mut dyn Formatter) -> Rendering<'f> {
        Rendering {
            formatter,
            text: String::with_capacity(2 * FLUSH_BYTES),
        }
    }

    /// Renders whatever precedes the events.
    pub fn begin(&mut self, trace: &Trace) {
        self.formatter.begin(trace, &mut self.text);
    }

    /// Renders one event.
    pub fn event(&mut self, trace: &Trace, event: &Event<'_>) {
        self.formatter.event(trace, event, &mut self.text);
    }

    /// Renders whatever follows the events.
    pub fn end(&mut self, trace: &Trace, stats: &Stats) {
        self.formatter.end(trace, stats, &mut self.text);
    }

    /// Hands the rendered text to `write` once more than [`FLUSH_BYTES`]
    /// are held (or always, with `all`), and empties it.
    pub fn flush<E>(
        &mut self,
        all: bool,
        write: &mut impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        if all || self.text.len() > FLUSH_BYTES {
            let result = write(&self.text);
            self.text.clear();
            result?;
        }
        Ok(())
    }
}

/// Why [`render`] stopped.
#[derive(Debug)]
pub enum RenderError<E> {
    /// A record could not be decoded. The events before it were rendered
    /// and the document was ended.
    Decode(crate::Error),
    /// `write` failed.
    Write(E),
}

impl<E: fmt::Display> fmt::Display for RenderError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Decode(e) => write!(f, "corrupt trace records: {e}"),
            RenderError::Write(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for RenderError<E> {}

/// Renders every event of `trace` with `formatter`, handing the text to
/// `write` in pieces of about [`FLUSH_BYTES`]. A record that cannot be
/// decoded stops the events; the document is still ended (so JSON stays
/// well-formed) and the error returned.
pub fn render<E>(
    formatter: &mut dyn Formatter,
    trace: &Trace,
    mut write: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), RenderError<E>> {
    let mut r = Rendering::new(formatter);
    r.begin(trace);
    let mut damage = None;
    for event in trace.events() {
        match event {
            Ok(e) => r.event(trace, &e),
            Err(e) => {
                damage = Some(e);
                break;
            }
        }
        r.flush(false, &mut write).map_err(RenderError::Write)?;
    }
    r.end(trace, &trace.stats());
    r.flush(true, &mut write).map_err(RenderError::Write)?;
    match damage {
        Some(e) => Err(RenderError::Decode(e)),
        None => Ok(()),
    }
}

/// Renders the whole of `trace` into a string; a record that cannot be
/// decoded ends the events early (see [`render`]) and is returned with the
/// text.
pub fn render_to_string(
    formatter: &mut dyn Formatter,
    trace: &Trace,
) -> (String, Option<crate::Error>) {
    let mut text = String::new();
    let result = render(formatter, trace, |s| {
        text.push_str(s);
        Ok::<(), core::convert::Infallible>(())
    });
    let damage = match result {
        Ok(()) => None,
        Err(RenderError::Decode(e)) => Some(e),
        Err(RenderError::Write(never)) => match never {},
    };
    (text, damage)
}
