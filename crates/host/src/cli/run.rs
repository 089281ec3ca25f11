//! `ruchy-trace run`: instrument, run, and write the trace.

use super::exit::{self, Failure};
use super::flags::{FormatFlags, GuestFlags};
use crate::output;
use clap::Args;
use ruchy_trace::replay::TraceFile;
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use ruchy_trace::{Outcome, RecordSink, Tracer};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `run`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    #[command(flatten)]
    guest: GuestFlags,
    /// Where to write the trace (default: stderr). Written to a temporary
    /// file renamed into place, so a crash never leaves a partial trace.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "trace-output",
        value_name = "FILE"
    )]
    output: Option<PathBuf>,
    #[command(flatten)]
    format: FormatFlags,
    /// Also stream the trace to this `.rtrace` file (see `record`).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

impl Opts {
    /// Runs the guest and writes its trace; the status is the guest's.
    pub fn run(self) -> Result<ExitCode, Failure> {
        let outcome = execute(&self.guest, self.record.as_deref())?;
        let text = self.format.text();
        let format = self.format.format;
        let written = match &self.output {
            Some(path) => {
                output::write_file(path, |w| output::render(&outcome.trace, format, text, w))
                    .map_err(|e| format!("cannot write the trace to {}: {e}", path.display()))
            }
            None => {
                let stderr = std::io::stderr();
                let mut lock = std::io::BufWriter::new(stderr.lock());
                output::render(&outcome.trace, format, text, &mut lock)
                    .map_err(|e| format!("cannot write the trace: {e}"))
            }
        };
        written.map_err(|message| Failure::new(exit::IO, message))?;
        exit::guest_status(&outcome.trace.end)
    }
}

/// Loads, instruments and runs the guest, streaming its records to `record`
/// when given, and prints an invoked export's results on stdout.
pub(super) fn execute(guest: &GuestFlags, record: Option<&Path>) -> Result<Outcome, Failure> {
    let (wasm, ruchy_sources) = super::load_program(&guest.module)?;
    let config = ruchy_trace::ruchy_trace_instrument::Config {
        relocators: ruchy_sources.into_iter().map(RuchySource::shared).collect(),
        ..guest.select.config()?
    };
    let tracer = Tracer::with_fuel(guest.timeout.is_some(), guest.fuel.is_some())?;
    let program = tracer.load(&wasm, &config)?;
    let entry = guest.entry()?;
    let sink = match record {
        Some(path) => Some(Box::new(TraceFile::create(path).map_err(|e| {
            Failure::new(exit::IO, format!("cannot create {}: {e}", path.display()))
        })?) as Box<dyn RecordSink>),
        None => None,
    };
    let outcome = program.run_with(&entry, &guest.run_options(), sink)?;
    for r in &outcome.results {
        println!("{r}");
    }
    Ok(outcome)
}
