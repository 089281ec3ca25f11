//! `ruchy-trace replay`: print a recorded trace, filtered after the fact.

use super::exit::{self, Failure};
use super::flags::{parse_duration, FilterFlags, FormatFlags};
use super::recorded;
use crate::output;
use clap::Args;
use ruchy_trace::replay::Visitor;
use ruchy_trace::ruchy_trace_core::decode::Trace;
use ruchy_trace::ruchy_trace_core::filter::Filters;
use ruchy_trace::ruchy_trace_core::format::Rendering;
use ruchy_trace::ruchy_trace_core::{Event, EventKind};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `replay`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    /// The `.rtrace` file.
    file: PathBuf,
    #[command(flatten)]
    filters: FilterFlags,
    /// Hide calls deeper than N (0 is the outermost).
    #[arg(long, value_name = "N")]
    depth: Option<u32>,
    /// Hide calls shorter than this (e.g. 10us, 2ms), like uftrace.
    #[arg(long = "time-threshold", value_name = "DURATION", value_parser = parse_duration)]
    time_threshold: Option<Duration>,
    /// Where to write (default: stdout).
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "trace-output",
        value_name = "FILE"
    )]
    output: Option<PathBuf>,
    #[command(flatten)]
    format: FormatFlags,
}

impl Opts {
    /// Prints the events the filters let through.
    pub fn run(self) -> Result<ExitCode, Failure> {
        let filters = self.filters.parse()?;
        // Hiding short calls needs their durations before their entries: a
        // first pass finds them.
        let short = match self.time_threshold {
            Some(d) => {
                let mut s = ShortCalls {
                    threshold_us: d.as_micros() as u64,
                    ..ShortCalls::default()
                };
                recorded::replay_file(&self.file, &mut s)?;
                Some(ShortCalls {
                    stack: Vec::new(),
                    next: 0,
                    ..s
                })
            }
            None => None,
        };
        let mut seen = None;
        let written = output::write_to(self.output.as_deref(), |out| {
            let mut formatter = output::formatter(self.format.format, self.format.text());
            let mut printer = Printer {
                rendering: Rendering::new(formatter.as_mut()),
                filters,
                depth: self.depth,
                short,
                calls: ShortCalls::default(),
                out,
                error: None,
            };
            let result = recorded::replay_file(&self.file, &mut printer);
            let failed = result.is_err();
            seen = Some(result);
            match printer.error {
                // A file that could not be read leaves nothing in place.
                _ if failed => Err(std::io::Error::other("the trace file cannot be read")),
                Some(e) => Err(e),
                None => Ok(()),
            }
        });
        let seen = seen.expect("the replay ran")?;
        written.map_err(|e| Failure::new(exit::IO, format!("cannot write the replay: {e}")))?;
        recorded::damage_status(&self.file, &seen)
    }
}

/// Calls shorter than a threshold, by call number (entries in order).
#[derive(Default)]
struct ShortCalls {
    threshold_us: u64,
    bits: Vec<u64>,
    next: usize,
    stack: Vec<usize>,
}

impl ShortCalls {
    fn call_of(&mut self, e: &Event<'_>) -> usize {
        if e.kind == EventKind::Enter {
            self.stack.push(self.next);
            self.next += 1;
            self.next - 1
        } else {
            self.stack.pop().unwrap_or(usize::MAX)
        }
    }

    fn is_short(&self, call: usize) -> bool {
        self.bits
            .get(call / 64)
            .is_some_and(|w| w & (1 << (call % 64)) != 0)
    }
}

impl Visitor for ShortCalls {
    fn event(&mut self, _: &Trace, e: &Event<'_>) {
        let call = self.call_of(e);
        if e.kind != EventKind::Enter && e.duration_us.is_some_and(|d| d < self.threshold_us) {
            if self.bits.len() <= call / 64 {
                self.bits.resize(call / 64 + 1, 0);
            }
            self.bits[call / 64] |= 1 << (call % 64);
        }
    }
}

/// Formats the events a replay's filters let through.
struct Printer<'a> {
    rendering: Rendering<'a>,
    filters: Filters,
    depth: Option<u32>,
    short: Option<ShortCalls>,
    calls: ShortCalls,
    out: &'a mut dyn Write,
    error: Option<std::io::Error>,
}

impl Printer<'_> {
    fn flush(&mut self, all: bool) {
        let out = &mut self.out;
        if let Err(e) = self
            .rendering
            .flush(all, &mut |s| out.write_all(s.as_bytes()))
        {
            self.error.get_or_insert(e);
        }
    }
}

impl Visitor for Printer<'_> {
    fn begin(&mut self, t: &Trace) {
        self.rendering.begin(t);
    }

    fn event(&mut self, t: &Trace, e: &Event<'_>) {
        let call = self.calls.call_of(e);
        let short = self.short.as_ref().is_some_and(|s| s.is_short(call));
        let names = [e.function.name.as_str(), e.function.raw_name.as_str()];
        if short || self.depth.is_some_and(|d| e.depth > d) || !self.filters.allows(&names) {
            return;
        }
        self.rendering.event(t, e);
        self.flush(false);
    }

    fn end(&mut self, t: &Trace) {
        self.rendering.end(t, &t.stats());
        self.flush(true);
        if let Err(e) = self.out.flush() {
            self.error.get_or_insert(e);
        }
    }
}
