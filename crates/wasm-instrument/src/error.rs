//! Why a module could not be instrumented.

/// Why a module could not be instrumented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is empty.
    #[error("the input is empty, not a WebAssembly module")]
    Empty,
    /// The input does not start with the WebAssembly magic number.
    #[error("not a WebAssembly module (no \\0asm magic number)")]
    NotWasm,
    /// The input is a component, not a core module.
    #[error("this is a WebAssembly component; ruchy-trace instruments core modules only")]
    Component,
    /// The input is not a valid module.
    #[error("invalid WebAssembly module: {message} (at byte offset {offset:#x})")]
    Invalid {
        /// The parser's or validator's message.
        message: String,
        /// Byte offset of the problem.
        offset: usize,
    },
    /// The module uses a feature the rewrite cannot keep correct yet.
    #[error("cannot instrument this module yet: it uses {feature}")]
    Unsupported {
        /// The feature, in words.
        feature: String,
    },
    /// The module already carries a ruchy-trace function table.
    #[error("module is already instrumented by ruchy-trace (it has a `ruchy-trace` section); run it directly")]
    AlreadyInstrumented,
    /// The module already uses a name the instrumentation needs.
    #[error("module already uses the name `{0}` that ruchy-trace needs")]
    NameClash(String),
    /// The module's ruchy-trace table could not be read.
    #[error("unreadable ruchy-trace function table")]
    BadTable(#[source] ruchy_trace_core::Error),
    /// The instrumented module could not be written where it was streamed
    /// to (see [`crate::instrument_into`]).
    #[error("cannot write the instrumented module: {message}")]
    Write {
        /// What kind of I/O error it was.
        kind: std::io::ErrorKind,
        /// The error's message.
        message: String,
    },
    /// The rewrite produced something wrong: a bug in ruchy-trace.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn write(e: std::io::Error) -> Error {
        Error::Write {
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    pub(crate) fn invalid(e: wasmparser::BinaryReaderError) -> Error {
        Error::Invalid {
            message: e.message().to_string(),
            offset: e.offset(),
        }
    }
}
