//! The `.rtrace` file: a recorded trace that can be replayed, reported and
//! graphed without running the program again.
//!
//! ```text
//! "RTRC" u32 version
//! u64 epoch (µs since the Unix epoch)  u32 table length
//! u32 clock resolution (µs between distinct timestamps; 0: not stated)
//! table bytes
//! blocks, each: u8 kind, u32 payload length, payload
//!   'R' records, compacted: per record a LEB128 header, the timestamp as
//!       a LEB128 delta from the previous one, the depth (sampled entries),
//!       each value zigzag-LEB128 (floats as their bits; a v128 as two
//!       LEB128 halves, low first; a reference as 1 if null, else 0), a snapshot as a
//!       LEB128 length and its bytes
//!   'E' the end: u64 end time (µs), u64 events lost, u8 how the run ended
//!       (0 returned, 1 exited + i32, 2 trapped + text, 3 interrupted + text)
//! ```
//!
//! Blocks are written as records arrive, so a trace larger than memory
//! streams to disk, and a reader of a file cut short (a crash, a kill) gets
//! every complete block and an error naming the offset of the damage.

use crate::decode::{RunEnd, StreamState, Trace};
use crate::error::Error;
use crate::event::Event;
use crate::leb128::{self, unzigzag, zigzag};
use crate::record::{self, read_u32, RecordKind, RecordLayout, Records};
use crate::ring::Recorded;
use crate::table::FunctionTable;
use crate::value::{ValType, Value};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

const MAGIC: &[u8; 4] = b"RTRC";
/// Version 2 added the clock resolution to the header, and `v128` and
/// reference values (two LEB128 halves; 0 or 1 for null) to the records.
const VERSION: u32 = 2;
const BLOCK_RECORDS: u8 = b'R';
const BLOCK_END: u8 = b'E';

/// A block payload being written: a zeroed buffer kept at least one
/// record wider than what it holds, so each byte is a store rather than a
/// push that checks capacity and length.
#[derive(Debug)]
struct Payload {
    buf: Vec<u8>,
    len: usize,
}

impl Payload {
    fn new(room: usize) -> Payload {
        Payload {
            buf: vec![0; room],
            len: 0,
        }
    }

    /// Makes room for `n` more bytes.
    #[inline(always)]
    fn room(&mut self, n: usize) {
        if self.buf.len() - self.len < n {
            self.buf.resize(self.len + n, 0);
        }
    }

    /// Appends `v` as LEB128, into room made for [`leb128::MAX_BYTES`].
    #[inline(always)]
    fn leb(&mut self, v: u64) {
        self.len += leb128::put(&mut self.buf, self.len, v);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.room(b.len());
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The types of the values a record of function `id` (known to the
/// layout) of `kind` carries.
#[inline(always)]
fn types(table: &FunctionTable, id: u32, kind: RecordKind) -> &[ValType] {
    let f = &table.functions[id as usize];
    match kind {
        RecordKind::Enter => &f.params,
        RecordKind::Exit => &f.results,
        RecordKind::TailExit => &[],
    }
}

/// Writes the values of `types` held in `bytes` (as a record holds them)
/// at `out[at..]` in compacted form: integers zigzag-LEB128, floats as
/// their bits, a `v128` as two halves, a reference as 1 if null. Returns
/// where they end.
#[inline(always)]
fn compact_values(out: &mut [u8], mut at: usize, types: &[ValType], bytes: &[u8]) -> usize {
    let mut from = 0;
    for &t in types {
        let word = || record::read_u32(bytes, from);
        let double = || read_u64(bytes, from);
        let mut leb = |v| at += leb128::put(out, at, v);
        match t {
            ValType::I32 => leb(zigzag(i64::from(word() as i32))),
            ValType::I64 => leb(zigzag(double() as i64)),
            ValType::F32 => leb(u64::from(word())),
            ValType::F64 => leb(double()),
            ValType::V128 => {
                leb(double());
                leb(read_u64(bytes, from + 8));
            }
            ValType::Ref => leb(u64::from(word() != 0)),
        }
        from += t.record_size();
    }
    at
}

/// The bytes of a record [`Run::compact`] reads its fixed fields from: the
/// header, timestamp, depth and a value word at an offset under 16.
const WINDOW: usize = 24;

/// What [`TraceWriter::compact_sized`] works with: the plans it reads
/// records by, the payload buffer it writes, the payload's length and the
/// length it stops at, and the timestamp the next step is from.
struct Run<'a> {
    plans: &'a [Plan],
    types: &'a [ValType],
    out: &'a mut [u8],
    len: usize,
    full: usize,
    clock: u32,
}

impl Run<'_> {
    /// Compacts records from the start of `chunk` (see
    /// [`TraceWriter::compact_sized`]); `STAMPED` when records carry a
    /// timestamp, `DEPTH` when entries carry a depth, `UNIFORM` when every
    /// entry and exit is `stride` bytes.
    /// Leaves the records of the chunk's last [`WINDOW`] bytes to the
    /// caller.
    ///
    /// Most records of most programs are a header, a timestamp step and
    /// one integer, each under 128 and so one byte: such a record is read
    /// from a fixed window without a branch on its kind, tested with one
    /// comparison and stored as one word, in an inner loop. Any other
    /// record leaves that loop and is written field by field.
    #[inline(never)]
    fn compact<const STAMPED: bool, const DEPTH: bool, const UNIFORM: bool>(
        &mut self,
        chunk: &[u8],
        stride: usize,
    ) -> (u64, usize) {
        let depth_at = 4 + 4 * usize::from(STAMPED);
        let depth_shift = 8 + 8 * u32::from(STAMPED);
        let plans = self.plans;
        let out = &mut *self.out;
        // Room for a word at any length under `full`.
        let full = self.full.min(out.len().saturating_sub(8));
        let mut len = self.len;
        let mut clock = self.clock;
        let mut rest = chunk;
        let mut count = 0;
        loop {
            // Records of one word each, until one that is not.
            let wide = loop {
                if len >= full {
                    break None;
                }
                let Some(window) = rest.first_chunk::<WINDOW>() else {
                    break None;
                };
                record::prefetch(rest);
                let header = read_u32(window, 0);
                let Some(plan) = plans.get(header as usize) else {
                    break None;
                };
                // In a layout of one record size, where the next record
                // starts does not wait on looking this one's plan up.
                let size = if UNIFORM && header & 2 == 0 {
                    stride
                } else {
                    plan.size as usize
                };
                let (step, t) = if STAMPED {
                    let t = read_u32(window, 4);
                    (t.wrapping_sub(clock), t)
                } else {
                    (0, clock)
                };
                let depth = if DEPTH {
                    read_u32(window, depth_at) & plan.depth
                } else {
                    0
                };
                // The value word sign-extended from its width, and cleared
                // when the record holds no integer.
                let at = if DEPTH {
                    usize::from(plan.values) & 15
                } else {
                    depth_at
                };
                let word = u64::from_le_bytes(*window[at..].first_chunk().unwrap()) & plan.keep;
                let value = zigzag((word << plan.extend) as i64 >> plan.extend);
                if (u64::from(header | step | depth | plan.wide) | value) >= 0x80 {
                    break Some((header, plan, size, step, t, depth, value));
                }
                // Absent fields are 0, and add nothing to the word.
                let bytes = u64::from(header)
                    | u64::from(step) << 8
                    | u64::from(depth) << depth_shift
                    | value << if DEPTH { plan.value_shift } else { depth_shift };
                out[len..len + 8].copy_from_slice(&bytes.to_le_bytes());
                len += usize::from(plan.small);
                clock = t;
                rest = &rest[size..];
                count += 1;
            };
            let Some((header, plan, size, step, t, depth, value)) = wide else {
                break;
            };
            // A snapshot, or a kind of no record: the caller's.
            if plan.size == 0 || rest.len() < size {
                break;
            }
            len += leb128::put(out, len, u64::from(header));
            if STAMPED {
                len += leb128::put(out, len, u64::from(step));
            }
            if plan.depth != 0 {
                len += leb128::put(out, len, u64::from(depth));
            }
            len = match plan.shape {
                Shape::None => len,
                Shape::I32 | Shape::I64 => len + leb128::put(out, len, value),
                Shape::Other => {
                    let types = &self.types[plan.types.0 as usize..plan.types.1 as usize];
                    compact_values(out, len, types, &rest[usize::from(plan.values)..size])
                }
            };
            clock = t;
            rest = &rest[size..];
            count += 1;
        }
        self.clock = clock;
        self.len = len;
        (count, chunk.len() - rest.len())
    }
}

/// The little-endian `u64` at `at`.
#[inline(always)]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from(record::read_u32(bytes, at)) | u64::from(record::read_u32(bytes, at + 4)) << 32
}

/// Writes `.rtrace` bytes; the caller sends them wherever it likes.
#[derive(Debug)]
pub struct TraceWriter {
    layout: RecordLayout,
    table: FunctionTable,
    clock: u32,
    /// Per header word (`id << 2 | kind`), where its record's fields are.
    plans: Vec<Plan>,
    /// The value types the plans name, side by side.
    plan_types: Vec<ValType>,
    /// The most bytes one compacted record takes, snapshot aside.
    widest: usize,
    /// The payload buffer, kept from block to block.
    payload: Payload,
}

/// Where the fields of a record of one header are, so records without a
/// snapshot are compacted without branching on their kind.
#[derive(Debug, Clone, Copy, Default)]
struct Plan {
    /// The record's size; 0 for a header of no function, or whose records
    /// carry a snapshot (the full reader takes those).
    size: u32,
    /// All ones when a depth follows the timestamp, else 0.
    depth: u32,
    /// Offset of the values.
    values: u8,
    /// All ones when the values are one integer, else 0.
    keep: u64,
    /// 0x80 when the values are not one integer or none (or the record
    /// has a snapshot or names no function), else 0: a bit that sends the
    /// record to the general path of [`Run::compact`].
    wide: u32,
    /// The values' types: a range of [`TraceWriter::plan_types`].
    types: (u32, u32),
    /// The values, when they are one integer or none (most functions of
    /// most programs): written without walking their types.
    shape: Shape,
    /// Bits to sign-extend the value word from: 32 for an `i32`, else 0.
    extend: u32,
    /// Bytes of the compacted record when its header, timestamp step,
    /// depth and value (of a [`Shape`] of one integer or none) are each
    /// under 128: one apiece.
    small: u8,
    /// Where the value's byte is in such a record, in bits.
    value_shift: u32,
}

/// The values of a [`Plan`]'s records at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Shape {
    /// No values.
    None,
    /// One `i32`.
    I32,
    /// One `i64`.
    I64,
    /// Anything else: walk the types.
    #[default]
    Other,
}

/// The most bytes one compacted record of `table`'s functions takes,
/// snapshot aside: a LEB128 header, timestamp, depth and snapshot length,
/// and two per value (a `v128` takes two).
fn widest(table: &FunctionTable) -> usize {
    let values = table
        .functions
        .iter()
        .map(|f| f.params.len().max(f.results.len()))
        .max()
        .unwrap_or(0);
    leb128::MAX_BYTES * (4 + 2 * values)
}

/// The plans of every header of `table`'s functions, and the types they
/// name.
fn plans(table: &FunctionTable, layout: &RecordLayout) -> (Vec<Plan>, Vec<ValType>) {
    let mut plans = Vec::with_capacity(table.functions.len() * 4);
    let mut types = Vec::new();
    for (id, f) in table.functions.iter().enumerate() {
        for kind in [RecordKind::Enter, RecordKind::Exit, RecordKind::TailExit] {
            let header = record::header(id as u32, kind);
            let values: &[ValType] = match kind {
                RecordKind::Enter => &f.params,
                RecordKind::Exit => &f.results,
                RecordKind::TailExit => &[],
            };
            let start = types.len() as u32;
            types.extend_from_slice(values);
            let depth = layout.depth() && kind == RecordKind::Enter;
            let before_value = 1 + u8::from(layout.timestamps()) + u8::from(depth);
            let shape = match values {
                [] => Shape::None,
                [ValType::I32] => Shape::I32,
                [ValType::I64] => Shape::I64,
                _ => Shape::Other,
            };
            let size = match layout.size_of(header) {
                Some(size) if !layout.snapshot_of(header) => size as u32,
                _ => 0,
            };
            plans.push(Plan {
                size,
                depth: if depth { u32::MAX } else { 0 },
                values: layout.values_offset(kind) as u8,
                keep: if matches!(shape, Shape::I32 | Shape::I64) {
                    u64::MAX
                } else {
                    0
                },
                wide: if shape == Shape::Other || size == 0 {
                    0x80
                } else {
                    0
                },
                types: (start, types.len() as u32),
                shape,
                extend: if shape == Shape::I32 { 32 } else { 0 },
                small: before_value + u8::from(!values.is_empty()),
                value_shift: 8 * u32::from(before_value),
            });
        }
        // Kind 3 names no record.
        plans.push(Plan {
            wide: 0x80,
            ..Plan::default()
        });
    }
    (plans, types)
}

impl TraceWriter {
    /// A writer for records of `table`, whose timestamps (if any) are
    /// `clock_resolution_us` fine; returns it and the file header.
    pub fn new(
        table: &FunctionTable,
        epoch_unix_us: u64,
        clock_resolution_us: Option<u32>,
    ) -> (TraceWriter, Vec<u8>) {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&epoch_unix_us.to_le_bytes());
        let t = table.encode();
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        let resolution = clock_resolution_us
            .unwrap_or(0)
            .min(MAX_CLOCK_RESOLUTION_US);
        out.extend_from_slice(&resolution.to_le_bytes());
        out.extend_from_slice(&t);
        let layout = RecordLayout::new(table);
        let (plans, plan_types) = plans(table, &layout);
        let widest = widest(table);
        (
            TraceWriter {
                layout,
                table: table.clone(),
                clock: 0,
                widest,
                payload: Payload::new(SPLIT_BLOCK_BYTES + widest),
                plans,
                plan_types,
            },
            out,
        )
    }

    /// Blocks holding the records in `chunk` (whole records, as a ring
    /// receives them): one, or more when the compacted records pass
    /// [`SPLIT_BLOCK_BYTES`], so no block nears the readers' cap.
    pub fn block(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(chunk.len() / 3 + BLOCK_HEAD_BYTES);
        self.write_block(chunk, &mut out)?;
        Ok(out)
    }

    /// Like [`TraceWriter::block`], appending to `out` (nothing, when the
    /// chunk holds a record it cannot read): a writer that reuses one
    /// buffer for every chunk faults no fresh memory in. Returns how many
    /// records the chunk held.
    pub fn write_block(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<u64, Error> {
        let start = out.len();
        let mut payload = core::mem::replace(&mut self.payload, Payload::new(0));
        payload.len = 0;
        let written = self.compact_into(chunk, &mut payload, out);
        match written {
            Ok(_) if payload.len != 0 || out.len() == start => {
                records_block(out, payload.as_slice())
            }
            Ok(_) => {}
            // Nothing of a chunk that holds a bad record is written.
            Err(_) => out.truncate(start),
        }
        self.payload = payload;
        written
    }

    /// Compacts `chunk` into `payload`, moving each full payload into a
    /// block of `out`.
    fn compact_into(
        &mut self,
        chunk: &[u8],
        payload: &mut Payload,
        out: &mut Vec<u8>,
    ) -> Result<u64, Error> {
        let mut pos = 0;
        let mut count = 0;
        while pos < chunk.len() {
            if payload.len >= SPLIT_BLOCK_BYTES {
                records_block(out, payload.as_slice());
                payload.len = 0;
            }
            payload.room(self.widest);
            // Records of known size straight from their bytes; a record
            // with a snapshot (or one the full reader names the fault of)
            // through the full reader.
            let (passed, used) = self.compact_sized(&chunk[pos..], payload);
            count += passed;
            pos += used;
            if pos == chunk.len()
                || payload.len >= SPLIT_BLOCK_BYTES
                || payload.buf.len() - payload.len < self.widest
            {
                continue;
            }
            let mut records = Records::new(&self.layout, &chunk[pos..], pos);
            let Some(r) = records.next() else { break };
            let r = r?;
            Self::compact_head(&mut self.clock, payload, r.id, r.kind, r.timestamp, r.depth);
            payload.len = compact_values(
                &mut payload.buf,
                payload.len,
                types(&self.table, r.id, r.kind),
                r.values,
            );
            if self.layout.snapshot_of(record::header(r.id, r.kind)) {
                payload.leb(r.snapshot.len() as u64);
                payload.bytes(r.snapshot);
            }
            pos += records.position();
            count += 1;
        }
        Ok(count)
    }

    /// Compacts the records at the start of `chunk` that carry no snapshot
    /// while the payload has room for one more and is under
    /// [`SPLIT_BLOCK_BYTES`], reading each where its header's [`Plan`] says
    /// its fields are rather than decoding it; returns how many it passed
    /// and their bytes.
    /// Stops at a record with a snapshot, or one it cannot size, for
    /// [`Records`] to take or name the fault of.
    fn compact_sized(&mut self, chunk: &[u8], payload: &mut Payload) -> (u64, usize) {
        if payload.buf.len() < self.widest {
            return (0, 0);
        }
        // Room for one more record below the split size.
        let full = SPLIT_BLOCK_BYTES.min(payload.buf.len().saturating_sub(self.widest));
        let mut run = Run {
            plans: &self.plans,
            types: &self.plan_types,
            out: &mut payload.buf,
            len: payload.len,
            full,
            clock: self.clock,
        };
        // One loop per layout shape, so that neither tests it per record.
        let layout = &self.layout;
        let (count, pos) = match (layout.timestamps(), layout.depth(), layout.uniform_size()) {
            (true, false, Some(stride)) => run.compact::<true, false, true>(chunk, stride),
            (true, false, None) => run.compact::<true, false, false>(chunk, 0),
            (true, true, _) => run.compact::<true, true, false>(chunk, 0),
            (false, false, Some(stride)) => run.compact::<false, false, true>(chunk, stride),
            (false, false, None) => run.compact::<false, false, false>(chunk, 0),
            (false, true, _) => run.compact::<false, true, false>(chunk, 0),
        };
        self.clock = run.clock;
        payload.len = run.len;
        (count, pos)
    }

    /// Appends a record's header, timestamp (as a step from `clock`, the
    /// previous one) and depth.
    #[inline(always)]
    fn compact_head(
        clock: &mut u32,
        payload: &mut Payload,
        id: u32,
        kind: RecordKind,
        timestamp: Option<u32>,
        depth: Option<u32>,
    ) {
        payload.leb(u64::from(record::header(id, kind)));
        if let Some(t) = timestamp {
            payload.leb(u64::from(t.wrapping_sub(*clock)));
            *clock = t;
        }
        if let Some(d) = depth {
            payload.leb(u64::from(d));
        }
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

fn records_block(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(BLOCK_RECORDS);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
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
pub const HEADER_BYTES: usize = 24;
/// The coarsest clock resolution a file may state, in µs: a second.
pub const MAX_CLOCK_RESOLUTION_US: u32 = 1_000_000;
/// Bytes of a block's head (kind and payload length).
pub const BLOCK_HEAD_BYTES: usize = 5;
/// The largest function table a reader accepts. A table names every
/// function of a module once; real ones are kilobytes.
pub const MAX_TABLE_BYTES: usize = 64 << 20;
/// The largest block payload a reader accepts. Writers split at
/// [`SPLIT_BLOCK_BYTES`], far below it, so the cap only ever meets a
/// damaged or hostile length.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;
/// A writer starts a new block once a payload reaches this size.
pub const SPLIT_BLOCK_BYTES: usize = 1 << 20;

/// Checks magic and version in the fixed header `head` (its first
/// [`HEADER_BYTES`] bytes) and returns the table length it states.
fn table_length(head: &[u8; HEADER_BYTES]) -> Result<usize, Error> {
    if &head[..4] != MAGIC {
        return Err(Error::Invalid {
            what: "trace file magic (not an .rtrace file)",
            offset: 0,
        });
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if version != VERSION {
        return Err(Error::Invalid {
            what: "trace file version (this ruchy-trace reads version 2)",
            offset: 4,
        });
    }
    Ok(u32::from_le_bytes([head[16], head[17], head[18], head[19]]) as usize)
}

/// Where a [`TraceReader`] gets its bytes: a slice in memory, or a file the
/// host opens. Reads are positional so the reader can hop over blocks to
/// find the end one, then come back.
pub trait TraceSource {
    /// Why the source could not be read (never, for a slice).
    type Error;
    /// The number of bytes the source holds. Every length the file states
    /// is checked against it before anything is allocated.
    fn size(&mut self) -> Result<u64, Self::Error>;
    /// Fills `buf` with the bytes at `offset`. The reader asks only for
    /// bytes below [`TraceSource::size`].
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
}

impl TraceSource for &[u8] {
    type Error = core::convert::Infallible;
    fn size(&mut self) -> Result<u64, Self::Error> {
        Ok(self.len() as u64)
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        let at = offset as usize;
        buf.copy_from_slice(&self[at..at + buf.len()]);
        Ok(())
    }
}

/// Why a [`TraceReader`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError<E> {
    /// The source could not be read.
    Source(E),
    /// The bytes are not a trace, or are damaged or cut at the offset named.
    Format(Error),
}

impl<E> From<Error> for ReadError<E> {
    fn from(e: Error) -> Self {
        ReadError::Format(e)
    }
}

impl<E: core::fmt::Display> core::fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReadError::Source(e) => e.fmt(f),
            ReadError::Format(e) => e.fmt(f),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for ReadError<E> {}

/// Reads an `.rtrace` file block by block, holding one block's payload at a
/// time, so a trace larger than memory replays in bounded memory. Every
/// length in the file is checked against the bytes that remain and against
/// a fixed cap ([`MAX_TABLE_BYTES`], [`MAX_BLOCK_BYTES`]) before a buffer
/// of that size exists.
#[derive(Debug)]
pub struct TraceReader<S: TraceSource> {
    source: S,
    size: u64,
    pos: u64,
    /// The function table.
    pub table: FunctionTable,
    /// Wall-clock start of the trace, µs since the Unix epoch.
    pub epoch_unix_us: u64,
    /// How fine the timestamps are, in µs, when the file states it.
    pub clock_resolution_us: Option<u32>,
    layout: RecordLayout,
    clock: u32,
    payload: Vec<u8>,
    failed: bool,
    ended: bool,
}

/// A block's place in the file, once its stated length has been checked.
struct BlockAt {
    kind: u8,
    /// Offset of the payload.
    payload: u64,
    len: usize,
}

impl<S: TraceSource> TraceReader<S> {
    /// Reads and checks the header and the function table.
    pub fn new(mut source: S) -> Result<TraceReader<S>, ReadError<S::Error>> {
        let size = source.size().map_err(ReadError::Source)?;
        let mut head = [0u8; HEADER_BYTES];
        if size < HEADER_BYTES as u64 {
            return Err(Error::Truncated {
                what: "trace file header",
                offset: size as usize,
            }
            .into());
        }
        source
            .read_exact_at(0, &mut head)
            .map_err(ReadError::Source)?;
        let len = table_length(&head)?;
        let resolution = u32::from_le_bytes([head[20], head[21], head[22], head[23]]);
        if resolution > MAX_CLOCK_RESOLUTION_US {
            return Err(Error::Invalid {
                what: "clock resolution (over one second)",
                offset: 20,
            }
            .into());
        }
        if len > MAX_TABLE_BYTES {
            return Err(Error::Invalid {
                what: "function table length (over the 64 MiB cap)",
                offset: 16,
            }
            .into());
        }
        if (HEADER_BYTES + len) as u64 > size {
            return Err(Error::Truncated {
                what: "function table",
                offset: size as usize,
            }
            .into());
        }
        let mut table_bytes = vec![0u8; len];
        source
            .read_exact_at(HEADER_BYTES as u64, &mut table_bytes)
            .map_err(ReadError::Source)?;
        let table = FunctionTable::decode(&table_bytes)?;
        let mut epoch = [0u8; 8];
        epoch.copy_from_slice(&head[8..16]);
        Ok(TraceReader {
            source,
            size,
            pos: (HEADER_BYTES + len) as u64,
            epoch_unix_us: u64::from_le_bytes(epoch),
            clock_resolution_us: (resolution != 0).then_some(resolution),
            layout: RecordLayout::new(&table),
            table,
            clock: 0,
            payload: Vec::new(),
            failed: false,
            ended: false,
        })
    }

    /// The head of the block at `at`, its length checked against the bytes
    /// left and the cap.
    fn block_at(&mut self, at: u64) -> Result<BlockAt, ReadError<S::Error>> {
        let cut = Error::Truncated {
            what: "trace block",
            offset: at as usize,
        };
        let payload = at + BLOCK_HEAD_BYTES as u64;
        if payload > self.size {
            return Err(cut.into());
        }
        let mut head = [0u8; BLOCK_HEAD_BYTES];
        self.source
            .read_exact_at(at, &mut head)
            .map_err(ReadError::Source)?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_BLOCK_BYTES {
            return Err(Error::Invalid {
                what: "trace block length (over the 16 MiB cap)",
                offset: at as usize,
            }
            .into());
        }
        if payload + len as u64 > self.size {
            return Err(cut.into());
        }
        Ok(BlockAt {
            kind: head[0],
            payload,
            len,
        })
    }

    /// The end block, found by hopping from block head to block head
    /// without decoding the others; `None` when the file has none (it was
    /// cut) or a block on the way is damaged.
    pub fn ending(&mut self) -> Result<Option<Ending>, S::Error> {
        let mut at = self.pos;
        loop {
            let block = match self.block_at(at) {
                Ok(b) => b,
                Err(ReadError::Source(e)) => return Err(e),
                Err(ReadError::Format(_)) => return Ok(None),
            };
            if block.kind == BLOCK_END {
                let mut payload = vec![0u8; block.len];
                self.source.read_exact_at(block.payload, &mut payload)?;
                return Ok(parse_end(&payload));
            }
            at = block.payload + block.len as u64;
        }
    }

    /// The next block; `None` after the end block or an error. A damaged
    /// or cut block is an error naming its offset, after which reading
    /// stops.
    pub fn next_block(&mut self) -> Option<Result<Block, ReadError<S::Error>>> {
        if self.failed || self.ended {
            return None;
        }
        let at = self.pos;
        if at >= self.size {
            // Every complete file ends with an end block.
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: "trace file (no end block)",
                offset: at as usize,
            }
            .into()));
        }
        let block = self.block_at(at).and_then(|b| {
            let mut payload = core::mem::take(&mut self.payload);
            payload.clear();
            payload.resize(b.len, 0);
            self.pos = b.payload + b.len as u64;
            let block = match self.source.read_exact_at(b.payload, &mut payload) {
                Ok(()) => self
                    .decode(b.kind, &payload, b.payload as usize)
                    .map_err(ReadError::Format),
                Err(e) => Err(ReadError::Source(e)),
            };
            self.payload = payload;
            block
        });
        match &block {
            Ok(Block::End(_)) => self.ended = true,
            Ok(_) => {}
            Err(_) => self.failed = true,
        }
        Some(block)
    }

    /// Decodes the block of `kind` whose payload starts at file offset
    /// `base`.
    fn decode(&mut self, kind: u8, payload: &[u8], base: usize) -> Result<Block, Error> {
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

    fn expand(&mut self, payload: &[u8], base: usize) -> Result<Vec<u8>, Error> {
        let mut c = Cursor {
            bytes: payload,
            pos: 0,
            base,
        };
        let mut out = Vec::with_capacity(payload.len().saturating_mul(4));
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
                    ValType::V128 => {
                        let low = c.leb()?;
                        Value::V128(u128::from(low) | u128::from(c.leb()?) << 64)
                    }
                    ValType::Ref => Value::Ref {
                        null: c.leb()? != 0,
                    },
                });
            }
            let snapshot = if self.layout.snapshot_of(header) {
                let n = c.leb()?;
                let s = usize::try_from(n)
                    .ok()
                    .and_then(|n| payload.get(c.pos..c.pos.checked_add(n)?))
                    .ok_or(Error::Truncated {
                        what: "record snapshot",
                        offset: base + c.pos,
                    })?;
                c.pos += s.len();
                Some(s)
            } else {
                None
            };
            record::write_record(&mut out, id, kind, timestamp, depth, &values, snapshot);
        }
        Ok(out)
    }
}

/// What [`TraceReader::replay`] hands its events to.
pub trait Visitor {
    /// First, with a trace holding no records (for the table, the metadata
    /// and how the run ended, read ahead from the end block).
    fn begin(&mut self, _trace: &Trace) {}
    /// Every event, in order, with the piece of the trace it belongs to.
    fn event(&mut self, trace: &Trace, event: &Event<'_>);
    /// Last, with the last piece, whose stats count every record.
    fn end(&mut self, _trace: &Trace) {}
}

/// What a replay saw.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Events handed over, host-closed frames included.
    pub events: u64,
    /// Where the file was damaged or cut, after which nothing was read.
    pub damage: Option<Error>,
}

impl<S: TraceSource> TraceReader<S> {
    /// A piece of the trace: one block's records, decoded from `start`;
    /// only the last piece closes the frames still open.
    fn piece(&self, chunks: Vec<Vec<u8>>, start: StreamState, last: bool, end: &Ending) -> Trace {
        let recorded = Recorded {
            chunks,
            start,
            continues: !last,
            ..Recorded::default()
        };
        let end_us = (end.end_us != u64::MAX).then_some(end.end_us);
        let mut trace = Trace::new(
            self.table.clone(),
            recorded,
            end.end.clone(),
            self.epoch_unix_us,
            end_us,
        );
        trace.clock_resolution_us = self.clock_resolution_us;
        trace
    }

    /// Reads every block and hands every event to `visitor`, in order;
    /// frames the run left open are closed at the end, as the end block
    /// says the run ended, or as interrupted when the file was cut before
    /// it. Damage stops the reading and is reported in
    /// [`Replayed::damage`]; only a source that cannot be read is an error.
    pub fn replay(mut self, visitor: &mut dyn Visitor) -> Result<Replayed, ReadError<S::Error>> {
        // No end block: the run's end time is unknown.
        let cut_short = Ending {
            end: RunEnd::Interrupted("trace file cut short".into()),
            end_us: u64::MAX,
            lost: 0,
        };
        // Formats that state how the run ended before the events learn it
        // from the end block, read ahead.
        let told = self
            .ending()
            .map_err(ReadError::Source)?
            .unwrap_or_else(|| cut_short.clone());
        visitor.begin(&self.piece(Vec::new(), StreamState::default(), false, &told));
        let mut state = StreamState::default();
        let mut seen = Replayed::default();
        let mut kept = 0u64;
        let mut ending = None;
        while let Some(block) = self.next_block() {
            match block {
                Ok(Block::Records(records)) => {
                    let piece = self.piece(vec![records], state.clone(), false, &told);
                    let mut events = piece.events();
                    for e in events.by_ref() {
                        visitor.event(&piece, &e?);
                        seen.events += 1;
                        kept += 1;
                    }
                    state = events.state().clone();
                }
                Ok(Block::End(e)) => ending = Some(e),
                Err(ReadError::Format(e)) => seen.damage = Some(e),
                Err(e) => return Err(e),
            }
        }
        let ending = ending.unwrap_or(cut_short);
        let mut last = self.piece(Vec::new(), state, true, &ending);
        for e in last.events() {
            visitor.event(&last, &e?);
            seen.events += 1;
        }
        last.recorded.kept = kept;
        last.recorded.lost = ending.lost;
        visitor.end(&last);
        Ok(seen)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::util::testutil::{bytes, fib_records, table};

    #[test]
    fn round_trip_and_damage() {
        let t = table(true);
        let raw = bytes(&t, &fib_records());
        let (mut w, mut file) = TraceWriter::new(&t, 1_000_000, Some(100));
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
        let mut r = TraceReader::new(&file[..]).unwrap();
        assert_eq!(r.epoch_unix_us, 1_000_000);
        assert_eq!(r.clock_resolution_us, Some(100));
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
        let file = &file[..];
        for cut in HEADER_BYTES + 1..file.len() - 1 {
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

    /// `v128` values keep all 16 bytes and references their null-ness
    /// through the compacted blocks.
    #[test]
    fn vectors_and_references_round_trip() {
        use crate::format::util::testutil::SIMD;
        use crate::record::RecordKind::{Enter, Exit};
        let mut t = table(true);
        t.functions[SIMD as usize].params = vec![ValType::V128, ValType::Ref, ValType::Ref];
        let recs = vec![
            (
                SIMD,
                Enter,
                1,
                vec![
                    Value::V128(0x8000_0000_0000_0001_7fff_ffff_ffff_fffe),
                    Value::Ref { null: true },
                    Value::Ref { null: false },
                ],
            ),
            (SIMD, Exit, 2, vec![Value::V128(u128::MAX)]),
        ];
        let raw = bytes(&t, &recs);
        let (mut w, mut file) = TraceWriter::new(&t, 0, None);
        file.extend(w.block(&raw).unwrap());
        let mut r = TraceReader::new(&file[..]).unwrap();
        let Some(Ok(Block::Records(back))) = r.next_block() else {
            panic!("no records block");
        };
        assert_eq!(back, raw);
        let layout = RecordLayout::new(&t);
        let values: Vec<Vec<Value>> = Records::new(&layout, &back, 0)
            .map(|r| {
                let r = r.unwrap();
                let f = &t.functions[r.id as usize];
                let types = if r.kind == Enter {
                    &f.params
                } else {
                    &f.results
                };
                record::values(types, r.values).collect()
            })
            .collect();
        let want: Vec<Vec<Value>> = recs.into_iter().map(|r| r.3).collect();
        assert_eq!(values, want);
    }

    /// Records of every shape (values of each type, a tail exit, records
    /// carrying snapshots between records of fixed size) survive the
    /// compacted blocks byte for byte, and a record the layout cannot read
    /// after them is an error at its own offset in the chunk.
    #[test]
    fn mixed_records_round_trip_and_a_bad_one_is_named_at_its_offset() {
        use crate::format::util::testutil::{FIB, MAIN, PAIR, SIMD};
        use crate::record::RecordKind::{Enter, Exit, TailExit};
        use crate::table::{FunctionInfo, Import};
        let mut t = table(true);
        t.functions[SIMD as usize].params = vec![ValType::V128, ValType::Ref, ValType::F32];
        t.functions[PAIR as usize].results = vec![ValType::I32];
        let write = crate::wasi::MODULE;
        t.functions.push(FunctionInfo {
            wasm_index: 0,
            raw_name: "fd_write".into(),
            name: "fd_write".into(),
            params: vec![ValType::I32; 4],
            results: vec![ValType::I32],
            param_names: crate::wasi::param_names(write, "fd_write", 4),
            location: None,
            source: None,
            import: Some(Import {
                module: write.into(),
                field: "fd_write".into(),
            }),
        });
        let fd_write = t.functions.len() as u32 - 1;
        assert!(RecordLayout::new(&t).snapshot_of(record::header(fd_write, Enter)));
        let mut raw = Vec::new();
        let mut rec = |id, kind, ts, values: &[Value], snapshot: Option<&[u8]>| {
            record::write_record(&mut raw, id, kind, Some(ts), None, values, snapshot);
        };
        rec(MAIN, Enter, 3, &[], None);
        rec(FIB, Enter, 4, &[Value::I64(-5)], None);
        rec(FIB, Exit, 4, &[Value::I64(i64::MIN)], None);
        rec(
            PAIR,
            Enter,
            5,
            &[Value::F64(-0.5), Value::I32(i32::MIN)],
            None,
        );
        rec(PAIR, Exit, 6, &[Value::I32(-7)], None);
        rec(fd_write, Enter, 9, &[Value::I32(1); 4], Some(&[1, 2, 3]));
        rec(fd_write, Exit, 2, &[Value::I32(-1)], Some(&[]));
        let simd = [
            Value::V128(u128::MAX - 7),
            Value::Ref { null: true },
            Value::F32(f32::from_bits(0x7fc0_0001)),
        ];
        rec(SIMD, Enter, u32::MAX, &simd, None);
        rec(SIMD, Exit, 0, &[Value::V128(1 << 100)], None);
        rec(MAIN, TailExit, 1, &[], None);
        let good = raw.len();
        raw.extend_from_slice(&record::header(99, Enter).to_le_bytes());
        raw.extend_from_slice(&[0; 12]);
        let (mut w, _) = TraceWriter::new(&t, 0, None);
        assert_eq!(
            w.block(&raw),
            Err(Error::UnknownFunction {
                id: 99,
                offset: good
            })
        );
        let (mut w, mut file) = TraceWriter::new(&t, 0, None);
        file.extend(w.block(&raw[..good]).unwrap());
        let mut r = TraceReader::new(&file[..]).unwrap();
        let Some(Ok(Block::Records(back))) = r.next_block() else {
            panic!("no records block");
        };
        assert_eq!(back, raw[..good]);
    }

    /// LEB128 written without a loop reads back, in as few bytes as the
    /// value needs, at every length's edges.
    #[test]
    fn leb_writes_every_length_in_the_fewest_bytes() {
        for v in leb128::edge_values() {
            let mut p = Payload::new(leb128::MAX_BYTES);
            p.leb(v);
            let fewest = (64 - v.leading_zeros() as usize).div_ceil(7).max(1);
            assert_eq!(p.len, fewest, "{v:#x}");
            let mut c = Cursor {
                bytes: p.as_slice(),
                pos: 0,
                base: 0,
            };
            assert_eq!(c.leb(), Ok(v));
            assert_eq!(c.pos, fewest);
        }
    }

    /// A small xorshift generator: the same records on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[(self.next() % from.len() as u64) as usize]
        }
    }

    /// One record as the reference encoder takes it.
    struct Written {
        header: u32,
        timestamp: Option<u32>,
        depth: Option<u32>,
        values: Vec<Value>,
    }

    /// `records` compacted as the format describes them, field by field,
    /// with [`leb128::reference`]: the oracle for [`TraceWriter`].
    fn reference_payload(records: &[Written]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut clock = 0u32;
        let leb = |out: &mut Vec<u8>, v: u64| out.extend(leb128::reference(v));
        for r in records {
            leb(&mut out, u64::from(r.header));
            if let Some(t) = r.timestamp {
                leb(&mut out, u64::from(t.wrapping_sub(clock)));
                clock = t;
            }
            if let Some(d) = r.depth {
                leb(&mut out, u64::from(d));
            }
            for v in &r.values {
                match *v {
                    Value::I32(x) => leb(&mut out, zigzag(i64::from(x))),
                    Value::I64(x) => leb(&mut out, zigzag(x)),
                    Value::F32(x) => leb(&mut out, u64::from(x.to_bits())),
                    Value::F64(x) => leb(&mut out, x.to_bits()),
                    Value::V128(x) => {
                        leb(&mut out, x as u64);
                        leb(&mut out, (x >> 64) as u64);
                    }
                    Value::Ref { null } => leb(&mut out, u64::from(null)),
                    Value::Unrecorded(_) => unreachable!(),
                }
            }
        }
        out
    }

    /// The payloads of the records blocks in `blocks`, one after another.
    fn payloads(mut blocks: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while !blocks.is_empty() {
            assert_eq!(blocks[0], BLOCK_RECORDS);
            let len = u32::from_le_bytes(blocks[1..5].try_into().unwrap()) as usize;
            out.extend_from_slice(&blocks[5..5 + len]);
            blocks = &blocks[5 + len..];
        }
        out
    }

    /// `count` records of random functions of `table`, kinds, timestamp
    /// steps and values, the values drawn mostly from the edges of
    /// LEB128's lengths; and their bytes as the instrumented code writes
    /// them.
    fn random_records(
        table: &FunctionTable,
        count: usize,
        rng: &mut Rng,
    ) -> (Vec<Written>, Vec<u8>) {
        use crate::record::RecordKind::{Enter, Exit, TailExit};
        let layout = RecordLayout::new(table);
        let ints: [i64; 18] = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            -65,
            127,
            128,
            8191,
            -8193,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            (1 << 55) - 1,
            1 << 56,
            -(1 << 56),
            i64::MIN,
            i64::MAX,
        ];
        let steps = [0, 0, 0, 1, 2, 127, 128, 1 << 20, u32::MAX];
        let (mut records, mut raw) = (Vec::new(), Vec::new());
        let mut ts = 0u32;
        for _ in 0..count {
            let id = (rng.next() % table.functions.len() as u64) as u32;
            let kind = rng.pick(&[Enter, Enter, Exit, Exit, TailExit]);
            let f = &table.functions[id as usize];
            let types: &[ValType] = match kind {
                Enter => &f.params,
                Exit => &f.results,
                TailExit => &[],
            };
            let int = |rng: &mut Rng| {
                if rng.next() % 4 == 0 {
                    rng.next() as i64
                } else {
                    rng.pick(&ints)
                }
            };
            let values: Vec<Value> = types
                .iter()
                .map(|t| match t {
                    ValType::I32 => Value::I32(int(rng) as i32),
                    ValType::I64 => Value::I64(int(rng)),
                    ValType::F32 => Value::F32(f32::from_bits(int(rng) as u32)),
                    ValType::F64 => Value::F64(f64::from_bits(int(rng) as u64)),
                    ValType::V128 => {
                        Value::V128(u128::from(int(rng) as u64) << 64 | u128::from(int(rng) as u64))
                    }
                    ValType::Ref => Value::Ref {
                        null: rng.next() % 2 == 0,
                    },
                })
                .collect();
            ts = ts.wrapping_add(rng.pick(&steps));
            let timestamp = layout.timestamps().then_some(ts);
            let depth = (layout.depth() && kind == Enter).then(|| int(rng) as u32);
            record::write_record(&mut raw, id, kind, timestamp, depth, &values, None);
            records.push(Written {
                header: record::header(id, kind),
                timestamp,
                depth,
                values,
            });
        }
        (records, raw)
    }

    /// Compacted records are the format's encoding, field by field, for
    /// tables whose records all have one size (read at a fixed stride)
    /// and tables of every value type, with and without timestamps and
    /// depths: whether a chunk is written whole or cut into pieces at
    /// random record boundaries (the last records of a piece take the
    /// full reader).
    #[test]
    fn compacted_records_are_the_reference_encoding_for_every_layout() {
        use crate::table::FunctionInfo;
        use ValType::*;
        let function = |params: &[ValType], results: &[ValType]| FunctionInfo {
            wasm_index: 0,
            raw_name: "f".into(),
            name: "f".into(),
            params: params.to_vec(),
            results: results.to_vec(),
            param_names: Vec::new(),
            location: None,
            source: None,
            import: None,
        };
        let uniform = vec![function(&[I64], &[I64]), function(&[I64], &[I64])];
        let every = vec![
            function(&[I64], &[I64]),
            function(&[I32], &[I32]),
            function(&[], &[]),
            function(&[F64, I32], &[F32]),
            function(&[V128, Ref], &[I64]),
            function(&[F32], &[]),
            function(&[I32, I32, I64], &[F64]),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut layouts = 0;
        for functions in [uniform, every] {
            for timestamps in [true, false] {
                for sample in [1, 2] {
                    let mut table = crate::format::util::testutil::table(timestamps);
                    table.functions = functions.clone();
                    table.options.sample = sample;
                    let (records, raw) = random_records(&table, 4000, &mut rng);
                    let want = reference_payload(&records);
                    let (mut w, _) = TraceWriter::new(&table, 0, None);
                    let whole = w.block(&raw).unwrap();
                    assert_eq!(payloads(&whole), want, "{timestamps} {sample}");
                    // The same records in pieces, each ending where a record does.
                    let layout = RecordLayout::new(&table);
                    let mut ends = Records::new(&layout, &raw, 0);
                    let mut bounds = vec![0];
                    while let Some(r) = ends.next() {
                        r.unwrap();
                        if rng.next() % 8 == 0 {
                            bounds.push(ends.position());
                        }
                    }
                    bounds.push(raw.len());
                    let (mut w, _) = TraceWriter::new(&table, 0, None);
                    let mut pieces = Vec::new();
                    for pair in bounds.windows(2) {
                        assert_eq!(
                            w.write_block(&raw[pair[0]..pair[1]], &mut pieces),
                            Ok(Records::new(&layout, &raw[pair[0]..pair[1]], 0).count() as u64)
                        );
                    }
                    assert_eq!(payloads(&pieces), want, "{timestamps} {sample} in pieces");
                    layouts += 1;
                }
            }
        }
        assert_eq!(layouts, 8);
    }

    /// A file of `head` (the fixed header with the stated table length)
    /// followed by `rest`.
    fn with_table_length(len: u32, rest: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(MAGIC);
        f.extend_from_slice(&VERSION.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&100u32.to_le_bytes());
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn a_table_length_past_the_cap_or_the_file_is_refused_before_allocating() {
        let over_cap = with_table_length(u32::MAX, &[0; 8]);
        assert_eq!(
            TraceReader::new(&over_cap[..]).err(),
            Some(ReadError::Format(Error::Invalid {
                what: "function table length (over the 64 MiB cap)",
                offset: 16
            }))
        );
        let past_end = with_table_length(1000, &[0; 8]);
        assert_eq!(
            TraceReader::new(&past_end[..]).err(),
            Some(ReadError::Format(Error::Truncated {
                what: "function table",
                offset: 32
            }))
        );
    }

    #[test]
    fn a_clock_resolution_over_a_second_or_a_version_1_file_is_refused() {
        let mut f = with_table_length(0, &[0; 8]);
        f[20..24].copy_from_slice(&(MAX_CLOCK_RESOLUTION_US + 1).to_le_bytes());
        assert_eq!(
            TraceReader::new(&f[..]).err(),
            Some(ReadError::Format(Error::Invalid {
                what: "clock resolution (over one second)",
                offset: 20
            }))
        );
        f[4..8].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(
            TraceReader::new(&f[..]).err(),
            Some(ReadError::Format(Error::Invalid {
                what: "trace file version (this ruchy-trace reads version 2)",
                offset: 4
            }))
        );
    }

    #[test]
    fn a_block_length_past_the_cap_or_the_file_is_damage_at_that_block() {
        let t = table(true);
        let (w, header) = TraceWriter::new(&t, 0, None);
        let at = header.len();
        for (len, expect) in [
            (
                u32::MAX,
                Error::Invalid {
                    what: "trace block length (over the 16 MiB cap)",
                    offset: at,
                },
            ),
            (
                1000,
                Error::Truncated {
                    what: "trace block",
                    offset: at,
                },
            ),
        ] {
            let mut file = header.clone();
            file.push(BLOCK_RECORDS);
            file.extend_from_slice(&len.to_le_bytes());
            file.extend(w.end(&RunEnd::Returned, 1, 0));
            let mut r = TraceReader::new(&file[..]).unwrap();
            assert_eq!(r.ending(), Ok(None), "no end block is found past it");
            assert_eq!(r.next_block(), Some(Err(ReadError::Format(expect))));
            assert_eq!(r.next_block(), None, "reading stops at the damage");
        }
    }

    #[test]
    fn a_large_chunk_is_written_as_blocks_under_the_split_size() {
        let t = table(true);
        let one = bytes(&t, &fib_records());
        let mut raw = Vec::new();
        while raw.len() < 3 * SPLIT_BLOCK_BYTES * 2 {
            raw.extend_from_slice(&one);
        }
        let (mut w, mut file) = TraceWriter::new(&t, 0, None);
        file.extend(w.block(&raw).unwrap());
        file.extend(w.end(&RunEnd::Returned, 1, 0));
        let mut r = TraceReader::new(&file[..]).unwrap();
        let (mut back, mut blocks) = (Vec::new(), 0);
        while let Some(b) = r.next_block() {
            if let Block::Records(x) = b.unwrap() {
                back.extend(x);
                blocks += 1;
            }
        }
        assert!(blocks > 1, "{blocks} block(s)");
        assert_eq!(back, raw, "records survive the split byte for byte");
    }
}
