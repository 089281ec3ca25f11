//! The `.rtrace` file: a recorded trace that can be replayed, reported and
//! graphed without running the program again.
//!
//! ```text
//! "RTRC" u32 version
//! u64 epoch (µs since the Unix epoch)  u32 table length  table bytes
//! blocks, each: u8 kind, u32 payload length, payload
//!   'R' records, compacted: per record a LEB128 header, the timestamp as
//!       a LEB128 delta from the previous one, the depth (sampled entries),
//!       each value zigzag-LEB128 (floats as their bits), a snapshot as a
//!       LEB128 length and its bytes
//!   'E' the end: u64 end time (µs), u64 events lost, u8 how the run ended
//!       (0 returned, 1 exited + i32, 2 trapped + text, 3 interrupted + text)
//! ```
//!
//! Blocks are written as records arrive, so a trace larger than memory
//! streams to disk, and a reader of a file cut short (a crash, a kill) gets
//! every complete block and an error naming the offset of the damage.

use crate::decode::{RunEnd, StreamState};
use crate::error::Error;
use crate::record::{self, RecordKind, RecordLayout, Records};
use crate::table::FunctionTable;
use crate::value::{ValType, Value};
use alloc::string::String;
use alloc::vec::Vec;

const MAGIC: &[u8; 4] = b"RTRC";
const VERSION: u32 = 1;
const BLOCK_RECORDS: u8 = b'R';
const BLOCK_END: u8 = b'E';

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Writes `.rtrace` bytes; the caller sends them wherever it likes.
#[derive(Debug)]
pub struct TraceWriter {
    layout: RecordLayout,
    table: FunctionTable,
    clock: u32,
}

impl TraceWriter {
    /// A writer for records of `table`; returns it and the file header.
    pub fn new(table: &FunctionTable, epoch_unix_us: u64) -> (TraceWriter, Vec<u8>) {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&epoch_unix_us.to_le_bytes());
        let t = table.encode();
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(&t);
        (
            TraceWriter {
                layout: RecordLayout::new(table),
                table: table.clone(),
                clock: 0,
            },
            out,
        )
    }

    /// A block holding the records in `chunk` (whole records, as a ring
    /// receives them).
    pub fn block(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Error> {
        let mut payload = Vec::with_capacity(chunk.len() / 3);
        for r in Records::new(&self.layout, chunk, 0) {
            let r = r?;
            leb(&mut payload, u64::from(record::header(r.id, r.kind)));
            if let Some(t) = r.timestamp {
                leb(&mut payload, u64::from(t.wrapping_sub(self.clock)));
                self.clock = t;
            }
            if let Some(d) = r.depth {
                leb(&mut payload, u64::from(d));
            }
            let f = &self.table.functions[r.id as usize];
            let types: &[ValType] = match r.kind {
                RecordKind::Enter => &f.params,
                RecordKind::Exit => &f.results,
                RecordKind::TailExit => &[],
            };
            for v in record::values(types, r.values) {
                match v {
                    Value::I32(x) => leb(&mut payload, zigzag(i64::from(x))),
                    Value::I64(x) => leb(&mut payload, zigzag(x)),
                    Value::F32(x) => leb(&mut payload, u64::from(x.to_bits())),
                    Value::F64(x) => leb(&mut payload, x.to_bits()),
                    Value::Unrecorded(_) => {}
                }
            }
            if self.layout.snapshot_of(record::header(r.id, r.kind)) {
                leb(&mut payload, r.snapshot.len() as u64);
                payload.extend_from_slice(r.snapshot);
            }
        }
        let mut out = Vec::with_capacity(payload.len() + 5);
        out.push(BLOCK_RECORDS);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// The closing block.
    pub fn end(&self, end: &RunEnd, end_us: u64, lost: u64) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&end_us.to_le_bytes());
        p.extend_from_slice(&lost.to_le_bytes());
        let text = |p: &mut Vec<u8>, kind: u8, s: &str| {
            p.push(kind);
            p.extend_from_slice(&(s.len() as u32).to_le_bytes());
            p.extend_from_slice(s.as_bytes());
        };
        match end {
            RunEnd::Returned => p.push(0),
            RunEnd::Exited(c) => {
                p.push(1);
                p.extend_from_slice(&c.to_le_bytes());
            }
            RunEnd::Trapped(m) => text(&mut p, 2, m),
            RunEnd::Interrupted(m) => text(&mut p, 3, m),
        }
        let mut out = vec_with_header(BLOCK_END, p.len());
        out.extend_from_slice(&p);
        out
    }
}

fn vec_with_header(kind: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 5);
    out.push(kind);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

/// The end of a recorded run, as the file's last block tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// How the run ended.
    pub end: RunEnd,
    /// When, in µs since the trace started.
    pub end_us: u64,
    /// Events the recording host lost before writing them.
    pub lost: u64,
}

/// What a reader yields, block by block.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Records, expanded back to the record format.
    Records(Vec<u8>),
    /// The end of the run.
    End(Ending),
}

/// Reads `.rtrace` bytes.
#[derive(Debug)]
pub struct TraceReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The function table.
    pub table: FunctionTable,
    /// Wall-clock start of the trace, µs since the Unix epoch.
    pub epoch_unix_us: u64,
    decoder: BlockDecoder,
    failed: bool,
    ended: bool,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl Cursor<'_> {
    fn leb(&mut self) -> Result<u64, Error> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(Error::Truncated {
                    what: "compacted record",
                    offset: self.base + self.pos,
                });
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                break;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Invalid {
            what: "compacted record",
            offset: self.base + self.pos,
        })
    }
}

/// Bytes of the fixed part of the header, before the table.
pub const HEADER_BYTES: usize = 20;
/// Bytes of a block's head (kind and payload length).
pub const BLOCK_HEAD_BYTES: usize = 5;

/// The length of the table that follows the fixed header in `head` (its
/// first [`HEADER_BYTES`] bytes), after checking magic and version.
pub fn table_length(head: &[u8]) -> Result<usize, Error> {
    if head.len() < HEADER_BYTES {
        return Err(Error::Truncated {
            what: "trace file header",
            offset: head.len(),
        });
    }
    if &head[..4] != MAGIC {
        return Err(Error::Invalid {
            what: "trace file magic (not an .rtrace file)",
            offset: 0,
        });
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if version != VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    Ok(u32::from_le_bytes([head[16], head[17], head[18], head[19]]) as usize)
}

/// A block's kind and payload length, from its head.
pub fn block_head(head: &[u8; BLOCK_HEAD_BYTES]) -> (u8, usize) {
    (
        head[0],
        u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize,
    )
}

/// Turns blocks back into records, one at a time, for readers that fetch
/// blocks themselves (from a file, in bounded memory).
#[derive(Debug)]
pub struct BlockDecoder {
    /// The function table.
    pub table: FunctionTable,
    /// Wall-clock start of the trace, µs since the Unix epoch.
    pub epoch_unix_us: u64,
    layout: RecordLayout,
    clock: u32,
}

impl BlockDecoder {
    /// A decoder for the file whose header and table are `header` (the
    /// first [`HEADER_BYTES`] + table length bytes).
    pub fn new(header: &[u8]) -> Result<BlockDecoder, Error> {
        let len = table_length(header)?;
        let epoch_unix_us = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let table_bytes = header
            .get(HEADER_BYTES..HEADER_BYTES + len)
            .ok_or(Error::Truncated {
                what: "function table",
                offset: header.len(),
            })?;
        let table = FunctionTable::decode(table_bytes)?;
        let layout = RecordLayout::new(&table);
        Ok(BlockDecoder {
            table,
            epoch_unix_us,
            layout,
            clock: 0,
        })
    }

    /// Decodes the block of `kind` whose payload starts at file offset
    /// `base`.
    pub fn decode(&mut self, kind: u8, payload: &[u8], base: usize) -> Result<Block, Error> {
        match kind {
            BLOCK_RECORDS => self.expand(payload, base).map(Block::Records),
            BLOCK_END => parse_end(payload).map(Block::End).ok_or(Error::Invalid {
                what: "end block",
                offset: base - BLOCK_HEAD_BYTES,
            }),
            _ => Err(Error::Invalid {
                what: "trace block kind",
                offset: base - BLOCK_HEAD_BYTES,
            }),
        }
    }

    /// A decoder with an empty table: enough to read an end block.
    pub fn placeholder() -> BlockDecoder {
        let table = FunctionTable::default();
        BlockDecoder {
            layout: RecordLayout::new(&table),
            table,
            epoch_unix_us: 0,
            clock: 0,
        }
    }

    /// Whether `kind` is the end block's.
    pub fn is_end(kind: u8) -> bool {
        kind == BLOCK_END
    }
}

impl<'a> TraceReader<'a> {
    /// Reads the header.
    pub fn new(bytes: &'a [u8]) -> Result<TraceReader<'a>, Error> {
        let len = table_length(bytes)?;
        let decoder = BlockDecoder::new(bytes)?;
        Ok(TraceReader {
            bytes,
            pos: HEADER_BYTES + len,
            table: decoder.table.clone(),
            epoch_unix_us: decoder.epoch_unix_us,
            decoder,
            failed: false,
            ended: false,
        })
    }
}

impl BlockDecoder {
    fn expand(&mut self, payload: &[u8], base: usize) -> Result<Vec<u8>, Error> {
        let mut c = Cursor {
            bytes: payload,
            pos: 0,
            base,
        };
        let mut out = Vec::with_capacity(payload.len() * 4);
        while c.pos < payload.len() {
            let at = base + c.pos;
            let header = u32::try_from(c.leb()?).map_err(|_| Error::Invalid {
                what: "record header",
                offset: at,
            })?;
            let id = header >> 2;
            let Some(f) = self.table.functions.get(id as usize) else {
                return Err(Error::UnknownFunction { id, offset: at });
            };
            let kind = match header & 3 {
                0 => RecordKind::Enter,
                1 => RecordKind::Exit,
                2 => RecordKind::TailExit,
                _ => {
                    return Err(Error::Invalid {
                        what: "record kind",
                        offset: at,
                    })
                }
            };
            let timestamp = if self.layout.timestamps() {
                self.clock = self.clock.wrapping_add(c.leb()? as u32);
                Some(self.clock)
            } else {
                None
            };
            let depth = if self.layout.depth() && kind == RecordKind::Enter {
                Some(c.leb()? as u32)
            } else {
                None
            };
            let types: &[ValType] = match kind {
                RecordKind::Enter => &f.params,
                RecordKind::Exit => &f.results,
                RecordKind::TailExit => &[],
            };
            let mut values = Vec::with_capacity(types.len());
            for &t in types {
                values.push(match t {
                    ValType::I32 => Value::I32(unzigzag(c.leb()?) as i32),
                    ValType::I64 => Value::I64(unzigzag(c.leb()?)),
                    ValType::F32 => Value::F32(f32::from_bits(c.leb()? as u32)),
                    ValType::F64 => Value::F64(f64::from_bits(c.leb()?)),
                    other => Value::Unrecorded(other),
                });
            }
            let snapshot = if self.layout.snapshot_of(header) {
                let n = c.leb()? as usize;
                let s = payload.get(c.pos..c.pos + n).ok_or(Error::Truncated {
                    what: "record snapshot",
                    offset: base + c.pos,
                })?;
                c.pos += n;
                Some(s)
            } else {
                None
            };
            record::write_record(&mut out, id, kind, timestamp, depth, &values, snapshot);
        }
        Ok(out)
    }
}

impl TraceReader<'_> {
    /// The end block, found by skipping over the others without decoding
    /// them; `None` when the file has none (it was cut).
    pub fn ending(&self) -> Option<Ending> {
        let mut at = self.pos;
        while let Some(head) = self.bytes.get(at..at + 5) {
            let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
            let payload = self.bytes.get(at + 5..at + 5 + len)?;
            if head[0] == BLOCK_END {
                return parse_end(payload);
            }
            at += 5 + len;
        }
        None
    }

    /// The next block; `None` after the end block or the end of the bytes.
    /// A damaged or cut block is an error naming its offset, after which
    /// reading stops.
    pub fn next_block(&mut self) -> Option<Result<Block, Error>> {
        if self.failed || self.ended {
            return None;
        }
        let at = self.pos;
        if at >= self.bytes.len() {
            // Every complete file ends with an end block.
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: "trace file (no end block)",
                offset: at,
            }));
        }
        let mut fail = |e| {
            self.failed = true;
            Some(Err(e))
        };
        let Some(head) = self.bytes.get(at..at + 5) else {
            return fail(Error::Truncated {
                what: "trace block",
                offset: at,
            });
        };
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let Some(payload) = self.bytes.get(at + 5..at + 5 + len) else {
            return fail(Error::Truncated {
                what: "trace block",
                offset: at,
            });
        };
        self.pos = at + 5 + len;
        let block = self.decoder.decode(head[0], payload, at + 5);
        match &block {
            Ok(Block::End(_)) => self.ended = true,
            Ok(_) => {}
            Err(_) => self.failed = true,
        }
        Some(block)
    }
}

fn parse_end(p: &[u8]) -> Option<Ending> {
    let end_us = u64::from_le_bytes(p.get(0..8)?.try_into().ok()?);
    let lost = u64::from_le_bytes(p.get(8..16)?.try_into().ok()?);
    let text = |p: &[u8]| -> Option<String> {
        let n = u32::from_le_bytes(p.get(17..21)?.try_into().ok()?) as usize;
        Some(String::from_utf8_lossy(p.get(21..21 + n)?).into_owned())
    };
    let end = match *p.get(16)? {
        0 => RunEnd::Returned,
        1 => RunEnd::Exited(i32::from_le_bytes(p.get(17..21)?.try_into().ok()?)),
        2 => RunEnd::Trapped(text(p)?),
        3 => RunEnd::Interrupted(text(p)?),
        _ => return None,
    };
    Some(Ending { end, end_us, lost })
}

/// Decoder state carried from block to block when replaying in pieces.
pub type Carry = StreamState;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::util::testutil::{bytes, fib_records, table};

    #[test]
    fn round_trip_and_damage() {
        let t = table(true);
        let raw = bytes(&t, &fib_records());
        let (mut w, mut file) = TraceWriter::new(&t, 1_000_000);
        let layout = RecordLayout::new(&t);
        let mut it = Records::new(&layout, &raw, 0);
        for _ in 0..5 {
            it.next().unwrap().unwrap();
        }
        let (a, b) = raw.split_at(it.position());
        let (ba, bb) = (w.block(a).unwrap(), w.block(b).unwrap());
        assert!(
            ba.len() + bb.len() < raw.len() / 2,
            "compacted: {} vs {}",
            ba.len() + bb.len(),
            raw.len()
        );
        file.extend(ba);
        file.extend(bb);
        file.extend(w.end(&RunEnd::Trapped("boom".into()), 99, 3));
        let mut r = TraceReader::new(&file).unwrap();
        assert_eq!(r.epoch_unix_us, 1_000_000);
        let mut back = Vec::new();
        let mut ending = None;
        while let Some(b) = r.next_block() {
            match b.unwrap() {
                Block::Records(x) => back.extend(x),
                Block::End(e) => ending = Some(e),
            }
        }
        assert_eq!(back, raw, "records survive byte for byte");
        assert_eq!(
            ending,
            Some(Ending {
                end: RunEnd::Trapped("boom".into()),
                end_us: 99,
                lost: 3
            })
        );
        // Every cut gives the complete blocks before it and an error after.
        for cut in 21..file.len() - 1 {
            let mut r = match TraceReader::new(&file[..cut]) {
                Ok(r) => r,
                Err(_) => continue,
            };
            let mut saw_error = false;
            while let Some(b) = r.next_block() {
                if let Err(e) = b {
                    saw_error = true;
                    assert!(alloc::format!("{e}").contains("offset"));
                }
            }
            assert!(saw_error, "cut at {cut} went unnoticed");
        }
    }
}
