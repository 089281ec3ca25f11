//! Errors raised while reading the function table or trace records.

use core::fmt;

/// What went wrong while decoding bytes produced by another stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ended before a complete item could be read.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Byte offset at which more input was needed.
        offset: usize,
    },
    /// A field held a value that is not allowed.
    Invalid {
        /// What was being read.
        what: &'static str,
        /// Byte offset of the offending field.
        offset: usize,
    },
    /// The function table was written by a newer, incompatible version.
    UnsupportedVersion(u32),
    /// A record names a function id the table does not have.
    UnknownFunction {
        /// The id found in the record.
        id: u32,
        /// Byte offset of the record.
        offset: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { what, offset } => {
                write!(f, "{what} is truncated at byte offset {offset}")
            }
            Error::Invalid { what, offset } => write!(f, "invalid {what} at byte offset {offset}"),
            Error::UnsupportedVersion(v) => write!(
                f,
                "function table format version {v} is not supported by this version of ruchy-trace"
            ),
            Error::UnknownFunction { id, offset } => {
                write!(
                    f,
                    "record at byte offset {offset} names unknown function id {id}"
                )
            }
        }
    }
}

impl core::error::Error for Error {}
