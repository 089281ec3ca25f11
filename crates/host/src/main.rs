//! `ruchy-trace`: see `ruchy-trace --help`.

mod cli;
mod output;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("ruchy-trace: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
