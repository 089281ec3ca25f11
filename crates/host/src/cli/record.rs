//! `ruchy-trace record`: run like `run`, streaming the trace to a
//! `.rtrace` file.

use super::exit::{self, Failure};
use super::flags::GuestFlags;
use clap::Args;
use ruchy_trace::RunOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// `record`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    #[command(flatten)]
    guest: GuestFlags,
    /// The `.rtrace` file to write, as the program runs.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "trace-output",
        value_name = "FILE"
    )]
    output: PathBuf,
}

impl Opts {
    /// Runs the guest, recording its trace; the status is the guest's.
    pub fn run(self) -> Result<ExitCode, Failure> {
        // Every event goes to the file; nothing reads a ring afterwards.
        let options = RunOptions {
            capacity: 0,
            ..self.guest.run_options()
        };
        let outcome = super::run::execute(&self.guest, &options, Some(&self.output), None)?;
        exit::guest_status(&outcome.trace.end)
    }
}
