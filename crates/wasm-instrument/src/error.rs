//! Why a module could not be instrumented.

use std::fmt;

/// Why a module could not be instrumented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input does not start with the WebAssembly magic number.
    NotWasm,
    /// The input is a component, not a core module.
    Component,
    /// The input is not a valid module.
    Invalid {
        /// The parser's or validator's message.
        message: String,
        /// Byte offset of the problem.
        offset: usize,
    },
    /// The module uses a feature the rewrite cannot keep correct yet.
    Unsupported {
        /// The feature, in words.
        feature: String,
    },
    /// The module already carries a ruchy-trace function table.
    AlreadyInstrumented,
    /// The module already uses a name the instrumentation needs.
    NameClash(String),
    /// A filter pattern is malformed.
    BadFilter(String),
    /// The module's ruchy-trace table could not be read.
    BadTable(String),
    /// The rewrite produced something wrong: a bug in ruchy-trace.
    Internal(String),
}

impl Error {
    pub(crate) fn invalid(e: wasmparser::BinaryReaderError) -> Error {
        Error::Invalid {
            message: e.message().to_string(),
            offset: e.offset(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotWasm => write!(f, "not a WebAssembly module (no \\0asm magic number)"),
            Error::Component => write!(
                f,
                "this is a WebAssembly component; ruchy-trace instruments core modules only"
            ),
            Error::Invalid { message, offset } => {
                write!(f, "invalid WebAssembly module: {message} (at byte offset {offset:#x})")
            }
            Error::Unsupported { feature } => {
                write!(f, "cannot instrument this module yet: it uses {feature}")
            }
            Error::AlreadyInstrumented => write!(
                f,
                "module is already instrumented by ruchy-trace (it has a `ruchy-trace` section); run it directly"
            ),
            Error::NameClash(name) => write!(f, "module already uses the name `{name}` that ruchy-trace needs"),
            Error::BadFilter(p) => write!(f, "bad filter pattern `{p}`"),
            Error::BadTable(e) => write!(f, "unreadable ruchy-trace function table: {e}"),
            Error::Internal(e) => write!(f, "internal error (please report): {e}"),
        }
    }
}

impl std::error::Error for Error {}
