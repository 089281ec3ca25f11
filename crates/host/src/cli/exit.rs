//! Exit statuses, and the failure every subcommand returns: a one-line
//! message and the status it maps to.

use ruchy_trace::compile::CompileError;
use ruchy_trace::ruchy_trace_core::decode::RunEnd;
use ruchy_trace::ruchy_trace_instrument;
use ruchy_trace::HostError;
use std::path::Path;
use std::process::ExitCode;

/// A bad command line (clap's own status for usage errors).
pub const USAGE: u8 = 2;
/// The module cannot be used (not wasm, invalid, a component, an
/// unsupported feature, a missing export, bad arguments), or a trace file
/// is damaged.
pub const BAD_MODULE: u8 = 65;
/// An input file cannot be read.
pub const NO_INPUT: u8 = 66;
/// A `.ruchy` program cannot be compiled (no compiler, or it failed).
pub const UNAVAILABLE: u8 = 69;
/// An internal error.
pub const INTERNAL: u8 = 70;
/// Output cannot be written.
pub const IO: u8 = 74;
/// The guest was stopped by `--timeout` or `--fuel`.
pub const TIMEOUT: u8 = 124;
/// The guest trapped (a Rust panic is a trap).
pub const TRAP: u8 = 134;

/// The statuses, as `--help` shows them.
pub const HELP: &str = "\
EXIT STATUS:
    the guest's own    when the guest exits (WASI proc_exit) or returns (0)
    2                  bad command line
    65                 the module cannot be used: not wasm, truncated or invalid,
                       a component, an unsupported feature, a missing export,
                       arguments that do not fit
    66                 an input file cannot be read
    69                 a .ruchy program cannot be compiled (ruchy or the
                       wasm32-wasip1 target missing, or a compile error)
    70                 internal error
    74                 the trace cannot be written
    124                the guest ran past --timeout or --fuel
    134                the guest trapped (a Rust panic is a trap)
In every case where the guest ran, the trace recorded so far is written,
and frames left open are closed as trapped, exited or interrupted.";

/// A failure: the message (one line) and the exit status.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, one line.
    pub message: String,
    /// The exit status.
    pub code: u8,
}

impl Failure {
    /// A failure with status `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code,
        }
    }

    /// A bad command line.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    /// An input file that cannot be read.
    pub fn no_input(path: &Path, e: impl std::fmt::Display) -> Failure {
        Failure::new(NO_INPUT, format!("cannot read {}: {e}", path.display()))
    }

    /// An output file that cannot be written.
    pub fn write(path: &Path, e: impl std::fmt::Display) -> Failure {
        Failure::new(IO, format!("cannot write {}: {e}", path.display()))
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Failure {
        let code = match &e {
            HostError::Trace(_) | HostError::Engine(_) => INTERNAL,
            HostError::Instrument(ruchy_trace_instrument::Error::Internal(_)) => INTERNAL,
            HostError::Instrument(ruchy_trace_instrument::Error::Write { .. }) => IO,
            HostError::Preopen { .. } => NO_INPUT,
            HostError::Io(_) => IO,
            HostError::Instrument(_)
            | HostError::Compile(_)
            | HostError::Instantiate(_)
            | HostError::NeedsWasi { .. }
            | HostError::MissingExport { .. }
            | HostError::BadArguments(_) => BAD_MODULE,
        };
        Failure::new(code, chain(&e))
    }
}

impl From<ruchy_trace_instrument::Error> for Failure {
    fn from(e: ruchy_trace_instrument::Error) -> Failure {
        Failure::from(HostError::from(e))
    }
}

/// A `.ruchy` program that could not be compiled.
pub fn compile_failed(path: &Path, e: CompileError) -> Failure {
    Failure::new(
        UNAVAILABLE,
        format!("cannot compile {}: {}", path.display(), chain(&e)),
    )
}

/// An error and its causes on one line, `outer: inner: innermost`.
pub fn chain(e: &dyn std::error::Error) -> String {
    ruchy_trace::error_chain(e).replace('\n', " ")
}

/// The status for how the guest ended: its own exit status, or a failure
/// naming the trap or interruption.
pub fn guest_status(end: &RunEnd) -> Result<ExitCode, Failure> {
    match end {
        RunEnd::Returned => Ok(ExitCode::SUCCESS),
        RunEnd::Exited(code) => Ok(ExitCode::from(*code as u8)),
        RunEnd::Trapped(msg) => Err(Failure::new(TRAP, format!("guest trapped: {msg}"))),
        RunEnd::Interrupted(msg) => Err(Failure::new(TIMEOUT, format!("guest interrupted: {msg}"))),
    }
}
