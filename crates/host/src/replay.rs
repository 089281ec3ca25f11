//! Trace files: writing them while a program runs, and reading them back
//! piece by piece, so a trace larger than memory replays in bounded memory.

use crate::recorder::RecordSink;
use ruchy_trace_core::decode::RunEnd;
use ruchy_trace_core::rtrace::{ReadError, TraceReader, TraceSource, TraceWriter};
use ruchy_trace_core::FunctionTable;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Streams records into an `.rtrace` file. It is written in place, block by
/// block: a run that dies leaves a file whose complete blocks replay and
/// whose reader reports where it was cut.
pub struct TraceFile {
    out: BufWriter<File>,
    writer: Option<TraceWriter>,
    /// The blocks of the last chunk, the buffer kept from chunk to chunk.
    blocks: Vec<u8>,
}

impl std::fmt::Debug for TraceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceFile")
            .field("started", &self.writer.is_some())
            .finish_non_exhaustive()
    }
}

impl TraceFile {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> io::Result<TraceFile> {
        Ok(TraceFile {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            writer: None,
            blocks: Vec::new(),
        })
    }
}

fn invalid(e: ruchy_trace_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl RecordSink for TraceFile {
    fn start(
        &mut self,
        table: &FunctionTable,
        epoch_unix_us: u64,
        clock_resolution_us: Option<u32>,
    ) -> io::Result<()> {
        let (writer, header) = TraceWriter::new(table, epoch_unix_us, clock_resolution_us);
        self.writer = Some(writer);
        self.out.write_all(&header)
    }

    fn records(&mut self, chunk: &[u8]) -> io::Result<()> {
        let Some(w) = &mut self.writer else {
            return Ok(());
        };
        self.blocks.clear();
        w.write_block(chunk, &mut self.blocks).map_err(invalid)?;
        self.out.write_all(&self.blocks)
    }

    fn finish(&mut self, end: &RunEnd, end_us: u64) -> io::Result<()> {
        if let Some(w) = &self.writer {
            self.out.write_all(&w.end(end, end_us, 0))?;
        }
        // Not forced to the disk: a crash of this process leaves every
        // block written in the system's cache, and waiting on the disk
        // would add its latency to every run.
        self.out.flush()
    }
}

pub use ruchy_trace_core::rtrace::{Replayed, Visitor};

/// A trace file as the core reader's source: positional reads over a
/// buffered reader, which seeks only when the reader jumps (once, back from
/// the end block to the first).
struct FileSource<R: Read + Seek> {
    inner: io::BufReader<R>,
    at: u64,
}

impl<R: Read + Seek> TraceSource for FileSource<R> {
    type Error = io::Error;

    fn size(&mut self) -> io::Result<u64> {
        let size = self.inner.seek(SeekFrom::End(0))?;
        self.at = self.inner.seek(SeekFrom::Start(0))?;
        Ok(size)
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if offset != self.at {
            self.inner.seek(SeekFrom::Start(offset))?;
        }
        // Past the end only when the file shrank while being read: an I/O
        // error, not damage.
        self.inner.read_exact(buf)?;
        self.at = offset + buf.len() as u64;
        Ok(())
    }
}

/// Why a trace file could not be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// It could not be read.
    #[error(transparent)]
    Io(io::Error),
    /// Its header or table is damaged.
    #[error(transparent)]
    Format(ruchy_trace_core::Error),
}

impl From<ReadError<io::Error>> for ReplayError {
    fn from(e: ReadError<io::Error>) -> Self {
        match e {
            ReadError::Source(e) => ReplayError::Io(e),
            ReadError::Format(e) => ReplayError::Format(e),
        }
    }
}

/// Reads a trace file and hands every event to `visitor`, in order; frames
/// the run left open are closed at the end. Memory stays bounded by one
/// block: the file is read a block at a time by the core's
/// [`TraceReader`], which checks every length the file states before
/// allocating.
pub fn replay<R: Read + Seek>(
    source: R,
    visitor: &mut dyn Visitor,
) -> Result<Replayed, ReplayError> {
    let source = FileSource {
        inner: io::BufReader::with_capacity(1 << 20, source),
        at: 0,
    };
    Ok(TraceReader::new(source)?.replay(visitor)?)
}
