//! `ruchy-trace instrument`: write the instrumented module, to run in any
//! host.

use super::exit::Failure;
use super::flags::SelectFlags;
use clap::Args;
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use ruchy_trace::ruchy_trace_instrument;
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
        let out = ruchy_trace_instrument::instrument_with_jobs(&wasm, &config, self.select.jobs)?;
        for note in &out.notes {
            eprintln!("ruchy-trace: note: {note}");
        }
        crate::output::write_file(&self.output, |w| w.write_all(&out.bytes))
            .map_err(|e| Failure::write(&self.output, e))?;
        eprintln!(
            "ruchy-trace: instrumented {} function(s); wrote {}",
            out.table.functions.len(),
            self.output.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
