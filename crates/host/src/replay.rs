//! Trace files: writing them while a program runs, and reading them back
//! piece by piece, so a trace larger than memory replays in bounded memory.

use crate::recorder::RecordSink;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use tracer_core::decode::{RunEnd, StreamState, Trace};
use tracer_core::ring::Recorded;
use tracer_core::rtrace::{Block, TraceReader, TraceWriter};
use tracer_core::{Event, FunctionTable};

/// Streams records into an `.rtrace` file. It is written in place, block by
/// block: a run that dies leaves a file whose complete blocks replay and
/// whose reader reports where it was cut.
pub struct TraceFile {
    out: BufWriter<File>,
    writer: Option<TraceWriter>,
}

impl TraceFile {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> io::Result<TraceFile> {
        Ok(TraceFile { out: BufWriter::with_capacity(1 << 20, File::create(path)?), writer: None })
    }
}

fn invalid(e: tracer_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl RecordSink for TraceFile {
    fn start(&mut self, table: &FunctionTable, epoch_unix_us: u64) -> io::Result<()> {
        let (writer, header) = TraceWriter::new(table, epoch_unix_us);
        self.writer = Some(writer);
        self.out.write_all(&header)
    }

    fn records(&mut self, chunk: &[u8]) -> io::Result<()> {
        let Some(w) = &mut self.writer else { return Ok(()) };
        let block = w.block(chunk).map_err(invalid)?;
        self.out.write_all(&block)
    }

    fn finish(&mut self, end: &RunEnd, end_us: u64) -> io::Result<()> {
        if let Some(w) = &self.writer {
            self.out.write_all(&w.end(end, end_us, 0))?;
        }
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

/// What a replay saw.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Events read.
    pub events: u64,
    /// Where the file was damaged or cut, after which nothing was read.
    pub damage: Option<tracer_core::Error>,
}

/// What a replay hands its events to.
pub trait Visitor {
    /// First, with a trace holding no records (for the table and metadata).
    fn begin(&mut self, _trace: &Trace) {}
    /// Every event, in order, with the piece of the trace it belongs to.
    fn event(&mut self, trace: &Trace, event: &Event<'_>);
    /// Last, with the last piece, whose stats count every record.
    fn end(&mut self, _trace: &Trace) {}
}

/// Reads a trace file and hands every event to `visitor`, in order; frames
/// the run left open are closed at the end. Memory stays bounded by one
/// block.
pub fn replay(bytes: &[u8], visitor: &mut dyn Visitor) -> Result<Replayed, tracer_core::Error> {
    let mut reader = TraceReader::new(bytes)?;
    let table = reader.table.clone();
    let epoch = reader.epoch_unix_us;
    let piece = |chunks: Vec<Vec<u8>>, start: StreamState, continues: bool, end: RunEnd, end_us: Option<u64>, kept: u64| {
        let recorded = Recorded { chunks, start, kept, continues, ..Recorded::default() };
        Trace::new(table.clone(), recorded, end, epoch, end_us)
    };
    // Formats that state how the run ended before the events learn it from
    // the end block, read ahead.
    let told = reader.ending();
    let (told_end, told_us) = match &told {
        Some(e) => (e.end.clone(), Some(e.end_us)),
        None => (RunEnd::Interrupted("trace file cut short".into()), None),
    };
    visitor.begin(&piece(Vec::new(), StreamState::default(), true, told_end, told_us, 0));
    let mut kept = 0u64;
    let mut state = StreamState::default();
    let mut seen = Replayed::default();
    let mut ending = None;
    while let Some(block) = reader.next_block() {
        match block {
            Ok(Block::Records(records)) => {
                let trace = piece(vec![records], state.clone(), true, RunEnd::Returned, None, 0);
                let mut events = trace.events();
                for e in events.by_ref() {
                    visitor.event(&trace, &e?);
                    seen.events += 1;
                    kept += 1;
                }
                state = events.state().clone();
            }
            Ok(Block::End(e)) => ending = Some(e),
            Err(e) => {
                seen.damage = Some(e);
                break;
            }
        }
    }
    // Close what is still open: as the run ended, or as lost when the file
    // was cut before saying.
    let (run_end, end_us, lost) = match ending {
        Some(e) => (e.end, Some(e.end_us), e.lost),
        None => (RunEnd::Interrupted("trace file cut short".into()), None, 0),
    };
    let mut last = piece(Vec::new(), state, false, run_end, end_us, 0);
    for e in last.events() {
        visitor.event(&last, &e?);
        seen.events += 1;
    }
    last.recorded.kept = kept;
    last.recorded.lost = lost;
    visitor.end(&last);
    Ok(seen)
}
