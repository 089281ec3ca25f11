//! Trace files: writing them while a program runs, and reading them back
//! piece by piece, so a trace larger than memory replays in bounded memory.

use crate::recorder::RecordSink;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use ruchy_trace_core::decode::{RunEnd, StreamState, Trace};
use ruchy_trace_core::ring::Recorded;
use ruchy_trace_core::rtrace::{
    block_head, table_length, Block, BlockDecoder, Ending, TraceWriter, BLOCK_HEAD_BYTES,
    HEADER_BYTES,
};
use ruchy_trace_core::{Event, FunctionTable};

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
        Ok(TraceFile {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            writer: None,
        })
    }
}

fn invalid(e: ruchy_trace_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl RecordSink for TraceFile {
    fn start(&mut self, table: &FunctionTable, epoch_unix_us: u64) -> io::Result<()> {
        let (writer, header) = TraceWriter::new(table, epoch_unix_us);
        self.writer = Some(writer);
        self.out.write_all(&header)
    }

    fn records(&mut self, chunk: &[u8]) -> io::Result<()> {
        let Some(w) = &mut self.writer else {
            return Ok(());
        };
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
    pub damage: Option<ruchy_trace_core::Error>,
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

/// Reads exactly `buf.len()` bytes at `offset`, or says the file ends
/// there.
fn read_at<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    offset: u64,
    what: &'static str,
) -> Result<(), ReplayError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(ReplayError::Format(ruchy_trace_core::Error::Truncated {
                    what,
                    offset: offset as usize + got,
                }))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReplayError::Io(e)),
        }
    }
    Ok(())
}

/// Why a trace file could not be replayed at all.
#[derive(Debug)]
pub enum ReplayError {
    /// It could not be read.
    Io(io::Error),
    /// Its header or table is damaged.
    Format(ruchy_trace_core::Error),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Io(e) => e.fmt(f),
            ReplayError::Format(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<ruchy_trace_core::Error> for ReplayError {
    fn from(e: ruchy_trace_core::Error) -> Self {
        ReplayError::Format(e)
    }
}

/// The end block, found by hopping from block head to block head.
fn find_ending<R: Read + Seek>(r: &mut R, start: u64) -> Result<Option<Ending>, ReplayError> {
    let mut at = start;
    let mut head = [0u8; BLOCK_HEAD_BYTES];
    loop {
        r.seek(SeekFrom::Start(at)).map_err(ReplayError::Io)?;
        if read_at(r, &mut head, at, "block").is_err() {
            return Ok(None);
        }
        let (kind, len) = block_head(&head);
        if BlockDecoder::is_end(kind) {
            let mut payload = vec![0; len.min(1 << 20)];
            if read_at(r, &mut payload, at + BLOCK_HEAD_BYTES as u64, "end block").is_err() {
                return Ok(None);
            }
            let mut probe = BlockDecoder::placeholder();
            return Ok(
                match probe.decode(kind, &payload, at as usize + BLOCK_HEAD_BYTES) {
                    Ok(Block::End(e)) => Some(e),
                    _ => None,
                },
            );
        }
        at += (BLOCK_HEAD_BYTES + len) as u64;
    }
}

/// Reads a trace file and hands every event to `visitor`, in order; frames
/// the run left open are closed at the end. Memory stays bounded by one
/// block: the file is read a block at a time.
pub fn replay<R: Read + Seek>(
    mut source: R,
    visitor: &mut dyn Visitor,
) -> Result<Replayed, ReplayError> {
    let mut head = [0u8; HEADER_BYTES];
    read_at(&mut source, &mut head, 0, "trace file header")?;
    let table_len = table_length(&head)?;
    let mut header = head.to_vec();
    header.resize(HEADER_BYTES + table_len, 0);
    read_at(
        &mut source,
        &mut header[HEADER_BYTES..],
        HEADER_BYTES as u64,
        "function table",
    )?;
    let mut decoder = BlockDecoder::new(&header)?;
    let table = decoder.table.clone();
    let epoch = decoder.epoch_unix_us;
    let piece = |chunks: Vec<Vec<u8>>,
                 start: StreamState,
                 continues: bool,
                 end: RunEnd,
                 end_us: Option<u64>,
                 kept: u64| {
        let recorded = Recorded {
            chunks,
            start,
            kept,
            continues,
            ..Recorded::default()
        };
        Trace::new(table.clone(), recorded, end, epoch, end_us)
    };
    // Formats that state how the run ended before the events learn it from
    // the end block, read ahead.
    let first_block = header.len() as u64;
    let told = find_ending(&mut source, first_block)?;
    source
        .seek(SeekFrom::Start(first_block))
        .map_err(ReplayError::Io)?;
    let mut source = io::BufReader::with_capacity(1 << 20, source);
    let (told_end, told_us) = match &told {
        Some(e) => (e.end.clone(), Some(e.end_us)),
        None => (RunEnd::Interrupted("trace file cut short".into()), None),
    };
    visitor.begin(&piece(
        Vec::new(),
        StreamState::default(),
        true,
        told_end,
        told_us,
        0,
    ));
    let mut kept = 0u64;
    let mut state = StreamState::default();
    let mut seen = Replayed::default();
    let mut ending = None;
    let mut at = first_block;
    let mut payload = Vec::new();
    loop {
        let mut bh = [0u8; BLOCK_HEAD_BYTES];
        match source.read(&mut bh[..1]) {
            Ok(0) => {
                seen.damage = Some(ruchy_trace_core::Error::Truncated {
                    what: "trace file (no end block)",
                    offset: at as usize,
                });
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(ReplayError::Io(e)),
        }
        // A block cut short is damage at the block's start: everything
        // before it was read.
        let cut = ruchy_trace_core::Error::Truncated {
            what: "trace block",
            offset: at as usize,
        };
        let mut block_bytes = || -> Result<usize, ReplayError> {
            read_at(&mut source, &mut bh[1..], at + 1, "trace block")?;
            let (_, len) = block_head(&bh);
            payload.resize(len, 0);
            read_at(
                &mut source,
                &mut payload,
                at + BLOCK_HEAD_BYTES as u64,
                "trace block",
            )?;
            Ok(len)
        };
        let len = match block_bytes() {
            Ok(len) => len,
            Err(ReplayError::Format(_)) => {
                seen.damage = Some(cut);
                break;
            }
            Err(e) => return Err(e),
        };
        let kind = bh[0];
        let block = decoder.decode(kind, &payload, at as usize + BLOCK_HEAD_BYTES);
        at += (BLOCK_HEAD_BYTES + len) as u64;
        match block {
            Ok(Block::Records(records)) => {
                let trace = piece(
                    vec![records],
                    state.clone(),
                    true,
                    RunEnd::Returned,
                    None,
                    0,
                );
                let mut events = trace.events();
                for e in events.by_ref() {
                    visitor.event(&trace, &e?);
                    seen.events += 1;
                    kept += 1;
                }
                state = events.state().clone();
            }
            Ok(Block::End(e)) => {
                ending = Some(e);
                break;
            }
            Err(e) => {
                seen.damage = Some(e);
                break;
            }
        }
    }
    // Close what is still open: as the run ended, or as interrupted when
    // the file was cut before saying.
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
