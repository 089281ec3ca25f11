//! Errors of the host library.

/// Why a program could not be loaded or run. A guest that traps or exits is
/// not an error: it is an [`Outcome`](crate::Outcome).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The module could not be instrumented.
    #[error(transparent)]
    Instrument(#[from] ruchy_trace_instrument::Error),
    /// wasmtime could not be configured.
    #[error("cannot configure wasmtime")]
    Engine(#[source] wasmtime::Error),
    /// wasmtime refused to compile the module.
    #[error("wasmtime cannot compile the module")]
    Compile(#[source] wasmtime::Error),
    /// The module could not be instantiated (e.g. an import nothing provides).
    #[error("cannot instantiate the module")]
    Instantiate(#[source] wasmtime::Error),
    /// A directory given to the guest could not be opened.
    #[error("cannot grant the guest the directory {host}")]
    Preopen {
        /// The directory on this machine.
        host: String,
        /// Why it could not be opened.
        #[source]
        source: wasmtime::Error,
    },
    /// `--invoke` of a module that needs WASI, which an invoked export runs
    /// without.
    #[error(
        "the module imports `{module}::{name}`, but --invoke runs without WASI; run its `_start` instead (leave out --invoke)"
    )]
    NeedsWasi {
        /// The import's module, `wasi_snapshot_preview1` or similar.
        module: String,
        /// The imported function.
        name: String,
    },
    /// The export to call does not exist or is not a function.
    #[error("the module has no exported function `{name}` ({})", exports_list(.available))]
    MissingExport {
        /// The export asked for.
        name: String,
        /// The function exports the module has.
        available: Vec<String>,
    },
    /// Arguments given for `--invoke` do not fit the export's parameters.
    #[error("{0}")]
    BadArguments(String),
    /// The trace records could not be decoded.
    #[error("corrupt trace records")]
    Trace(#[from] ruchy_trace_core::Error),
    /// A trace file could not be written.
    #[error("cannot write the trace file")]
    Io(#[from] std::io::Error),
}

fn exports_list(available: &[String]) -> String {
    if available.is_empty() {
        "it exports no functions".to_string()
    } else {
        format!("exported functions: {}", available.join(", "))
    }
}

/// An error and its causes, `outer: inner: innermost`: what the CLI prints
/// and what `serve` answers with.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
