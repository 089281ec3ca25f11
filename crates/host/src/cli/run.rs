//! `ruchy-trace run`: instrument, run, and write the trace.

use super::exit::{self, Failure};
use super::flags::{FormatFlags, GuestFlags};
use crate::output::{self, PendingFile};
use clap::Args;
use ruchy_trace::replay::TraceFile;
use ruchy_trace::ruchy_trace_core::decode::RunEnd;
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use ruchy_trace::ruchy_trace_core::FunctionTable;
use ruchy_trace::{FormatSink, Outcome, RecordSink, RunOptions, Tracer};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `run`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    #[command(flatten)]
    guest: GuestFlags,
    /// Where to write the trace (default: stderr, after the guest ends).
    /// Every event is written, as the guest runs, unless --buffer-size
    /// asks for a ring. Written to a temporary file renamed into place, so
    /// a crash never leaves a partial trace.
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
        let text = self.format.text();
        let format = self.format.format;
        let cannot_write = |path: &Path, e: std::io::Error| {
            Failure::new(
                exit::IO,
                format!("cannot write the trace to {}: {e}", path.display()),
            )
        };
        let streamed = match &self.output {
            Some(path) if self.guest.buffer_size.is_none() => Some((
                path,
                PendingFile::create(path).map_err(|e| cannot_write(path, e))?,
            )),
            _ => None,
        };
        let sink = match &streamed {
            Some((path, file)) => {
                let out = file.writer().map_err(|e| cannot_write(path, e))?;
                let make = Box::new(move || output::formatter(format, text));
                let sink = FormatSink::new(make, out, self.guest.select.jobs);
                Some(Box::new(sink) as Box<dyn RecordSink>)
            }
            None => None,
        };
        let mut options = self.guest.run_options();
        if streamed.is_some() {
            // Every event goes to the file; the ring keeps none.
            options.capacity = 0;
        }
        let outcome = execute(&self.guest, &options, self.record.as_deref(), sink)?;
        let written = match (streamed, &self.output) {
            (Some((path, file)), _) => file.commit().map_err(|e| cannot_write(path, e)),
            (None, Some(path)) => {
                output::write_file(path, |w| output::render(&outcome.trace, format, text, w))
                    .map_err(|e| cannot_write(path, e))
            }
            (None, None) => {
                let stderr = std::io::stderr();
                let mut lock = std::io::BufWriter::new(stderr.lock());
                output::render(&outcome.trace, format, text, &mut lock)
                    .map_err(|e| Failure::new(exit::IO, format!("cannot write the trace: {e}")))
            }
        };
        written?;
        exit::guest_status(&outcome.trace.end)
    }
}

/// Loads, instruments and runs the guest, streaming its records to the
/// `.rtrace` file `record` and to `sink` when given, and prints an invoked
/// export's results on stdout.
pub(super) fn execute(
    guest: &GuestFlags,
    options: &RunOptions,
    record: Option<&Path>,
    sink: Option<Box<dyn RecordSink>>,
) -> Result<Outcome, Failure> {
    let (wasm, ruchy_sources) = super::load_program(&guest.module)?;
    let config = ruchy_trace::ruchy_trace_instrument::Config {
        relocators: ruchy_sources.into_iter().map(RuchySource::shared).collect(),
        ..guest.select.config()?
    };
    let tracer = Tracer::builder()
        .timeouts(guest.timeout.is_some())
        .fuel(guest.fuel.is_some())
        .clock(guest.clock.into())
        .jobs(guest.select.jobs)
        .build()?;
    let program = tracer.load(&wasm, &config)?;
    let entry = guest.entry()?;
    let mut sinks: Vec<Box<dyn RecordSink>> = sink.into_iter().collect();
    if let Some(path) = record {
        sinks.push(Box::new(TraceFile::create(path).map_err(|e| {
            Failure::new(exit::IO, format!("cannot create {}: {e}", path.display()))
        })?));
    }
    let sink = match sinks.len() {
        0 => None,
        1 => sinks.pop(),
        _ => Some(Box::new(Sinks(sinks)) as Box<dyn RecordSink>),
    };
    let outcome = program.run_with(&entry, options, sink)?;
    for r in &outcome.results {
        println!("{r}");
    }
    Ok(outcome)
}

/// Several sinks fed the same records, in order.
struct Sinks(Vec<Box<dyn RecordSink>>);

impl RecordSink for Sinks {
    fn start(
        &mut self,
        table: &FunctionTable,
        epoch_unix_us: u64,
        clock_resolution_us: Option<u32>,
    ) -> std::io::Result<()> {
        self.0
            .iter_mut()
            .try_for_each(|s| s.start(table, epoch_unix_us, clock_resolution_us))
    }

    fn records(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.records(chunk))
    }

    fn finish(&mut self, end: &RunEnd, end_us: u64) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.finish(end, end_us))
    }
}
