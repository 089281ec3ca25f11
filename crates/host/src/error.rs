//! Errors of the host library.

use std::fmt;

/// Why a program could not be loaded or run. A guest that traps or exits is
/// not an error: it is an [`Outcome`](crate::Outcome).
#[derive(Debug)]
pub enum HostError {
    /// The module could not be instrumented.
    Instrument(ruchy_trace_instrument::Error),
    /// wasmtime refused to compile the module.
    Compile(String),
    /// The module could not be instantiated (e.g. an import nothing provides).
    Instantiate(String),
    /// The export to call does not exist or is not a function.
    MissingExport {
        /// The export asked for.
        name: String,
        /// The function exports the module has.
        available: Vec<String>,
    },
    /// Arguments given for `--invoke` do not fit the export's parameters.
    BadArguments(String),
    /// The trace records could not be decoded.
    Trace(ruchy_trace_core::Error),
    /// A trace file could not be written.
    Io(std::io::Error),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Instrument(e) => e.fmt(f),
            HostError::Compile(e) => write!(f, "wasmtime cannot compile the module: {e}"),
            HostError::Instantiate(e) => write!(f, "cannot instantiate the module: {e}"),
            HostError::MissingExport { name, available } => {
                write!(f, "the module has no exported function `{name}`")?;
                if available.is_empty() {
                    write!(f, " (it exports no functions)")
                } else {
                    write!(f, " (exported functions: {})", available.join(", "))
                }
            }
            HostError::BadArguments(e) => write!(f, "{e}"),
            HostError::Trace(e) => write!(f, "corrupt trace records: {e}"),
            HostError::Io(e) => write!(f, "cannot write the trace file: {e}"),
        }
    }
}

impl std::error::Error for HostError {}

impl From<ruchy_trace_instrument::Error> for HostError {
    fn from(e: ruchy_trace_instrument::Error) -> Self {
        HostError::Instrument(e)
    }
}

impl From<ruchy_trace_core::Error> for HostError {
    fn from(e: ruchy_trace_core::Error) -> Self {
        HostError::Trace(e)
    }
}
