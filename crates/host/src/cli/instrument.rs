//! `ruchy-trace instrument`: write the instrumented module, to run in any
//! host.

use super::exit::Failure;
use super::flags::SelectFlags;
use crate::output::PendingFile;
use clap::Args;
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use ruchy_trace::ruchy_trace_instrument;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `instrument`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    /// The module to instrument.
    input: PathBuf,
    /// Where to write the instrumented module.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: PathBuf,
    #[command(flatten)]
    select: SelectFlags,
}

impl Opts {
    /// Instruments the module and writes it.
    pub fn run(self) -> Result<ExitCode, Failure> {
        let (wasm, ruchy_sources) = super::load_program(&self.input)?;
        let config = ruchy_trace_instrument::Config {
            relocators: ruchy_sources.into_iter().map(RuchySource::shared).collect(),
            ..self.select.config()?
        };
        let failed = |e: std::io::Error| Failure::write(&self.output, e);
        let file = PendingFile::create(&self.output).map_err(failed)?;
        // Into a file, the module is written as it is produced, so it never
        // exists whole in memory; into a pipe, it is written once done.
        let summary = match file.seekable_writer().map_err(failed)? {
            Some(mut w) => {
                let summary = ruchy_trace_instrument::instrument_into(
                    &wasm,
                    &config,
                    self.select.jobs,
                    &mut w,
                )
                .map_err(|e| match e {
                    ruchy_trace_instrument::Error::Write { message, .. } => {
                        Failure::write(&self.output, message)
                    }
                    e => Failure::from(e),
                })?;
                w.into_inner().map_err(|e| failed(e.into_error()))?;
                summary
            }
            None => {
                let out =
                    ruchy_trace_instrument::instrument_with_jobs(&wasm, &config, self.select.jobs)?;
                let mut w = file.writer().map_err(failed)?;
                w.write_all(&out.bytes)
                    .and_then(|()| w.flush())
                    .map_err(failed)?;
                ruchy_trace_instrument::Summary {
                    table: out.table,
                    notes: out.notes,
                }
            }
        };
        file.commit().map_err(failed)?;
        for note in &summary.notes {
            eprintln!("ruchy-trace: note: {note}");
        }
        eprintln!(
            "ruchy-trace: instrumented {} function(s); wrote {}",
            summary.table.functions.len(),
            self.output.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
