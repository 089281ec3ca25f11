//! The binary record format, and the contract between instrumented code and
//! the hosts that collect its records.
//!
//! A record is a little-endian `u32` header `id << 2 | kind`, then, when the
//! module was instrumented with timestamps, a `u32` timestamp in microseconds
//! since the trace started (wrapping), then, for entries of a sampled module,
//! a `u32` call depth, then the values: the arguments of an entry or the
//! results of an exit, each in [`ValType::record_size`] bytes. A tail exit
//! carries no values. Fibonacci's `i64 -> i64` therefore costs 16 bytes per
//! event with timestamps and 12 without. A function whose arguments (or
//! result) live in guest memory (strings, structs behind pointers) has a
//! snapshot appended to those records: a `u32` length, then that many bytes
//! (see [`crate::source::Snapshot`]; an exit's starts with the result's
//! address).

use crate::error::Error;
use crate::table::FunctionTable;
use crate::value::{ValType, Value};
use alloc::vec::Vec;

/// Import module of the hooks and of the flush call.
pub const HOOK_MODULE: &str = "ruchy_trace";
/// Import taking a full staging area: `flush(cursor: i64) -> i64` receives
/// the staging cursor (see [`PTR_EXPORT`]) and returns the one to go on
/// with, normally [`EMPTY_STAGING`].
pub const FLUSH_IMPORT: &str = "flush";
/// Import returning the clock (`now() -> i32`, microseconds since the trace
/// started): sampled modules read it per traced event, since their events
/// are too rare to pay for a clock thread.
pub const NOW_IMPORT: &str = "now";
/// Whether inline code of a module with these options reads the clock
/// through [`NOW_IMPORT`] rather than the clock cell a host thread keeps.
pub fn clock_by_call(options: &crate::TraceOptions) -> bool {
    options.timestamps && options.sample > 1
}
/// Prefix of entry hooks; the suffix spells the parameter types (see
/// [`hook_name`]).
pub const ENTER_HOOK_PREFIX: &str = "enter";
/// Prefix of exit hooks.
pub const EXIT_HOOK_PREFIX: &str = "exit";
/// The hook called before a tail call leaves a function: `tail_exit(header)`.
pub const TAIL_EXIT_HOOK: &str = "tail_exit";
/// Exported memory holding the clock cell and the staging area.
pub const MEMORY_EXPORT: &str = "__ruchy_trace_memory";
/// The guest's own memory 0, exported again so hosts can read values that
/// live in it (only when some traced function needs that).
pub const GUEST_MEMORY_EXPORT: &str = "__ruchy_trace_guest_memory";
/// Exported mutable `i32` global: the run-time switch (non-zero traces).
pub const ENABLED_EXPORT: &str = "__ruchy_trace_enabled";
/// Exported mutable `i64` global, the staging cursor: its low 32 bits are
/// where the next inline record goes, its high 32 bits how many records
/// the staging area holds. The instrumented code bumps both with one add
/// per record, so a host learns a flush's record count without reading
/// the records (see [`StagingCursor`]).
pub const PTR_EXPORT: &str = "__ruchy_trace_ptr";
/// Exported mutable `i32` global: the call depth in sampled modules.
pub const DEPTH_EXPORT: &str = "__ruchy_trace_depth";
/// Byte address of the `u32` clock cell the host keeps fresh (microseconds
/// since the trace started).
pub const CLOCK_ADDRESS: u32 = 0;
/// Byte address where the staging area starts; the clock cell has the cache
/// line before it to itself.
pub const STAGING_BASE: u32 = 64;
/// The staging cursor of an empty staging area.
pub const EMPTY_STAGING: i64 = STAGING_BASE as i64;
/// What the staging cursor gains per record besides the record's size.
pub const CURSOR_RECORD: i64 = 1 << 32;

/// The staging cursor ([`PTR_EXPORT`], the argument of [`FLUSH_IMPORT`])
/// taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagingCursor {
    /// One past the last byte written.
    pub end: u32,
    /// Records written since the staging area was last emptied.
    pub records: u32,
}

impl StagingCursor {
    /// Reads a cursor's two halves.
    pub fn from_bits(cursor: i64) -> StagingCursor {
        StagingCursor {
            end: cursor as u32,
            records: (cursor >> 32) as u32,
        }
    }
}

/// Name of the hook taking records of the given kind for the given value
/// types: `enter_i64_f64`, `exit_i32`, `enter` for no recorded values.
/// A hook receives a `v128` as two `i64` halves (low first: JavaScript
/// cannot take a `v128`) and a reference as an `i32`, 1 when it is null.
pub fn hook_name(kind: RecordKind, types: &[ValType]) -> alloc::string::String {
    let mut name = alloc::string::String::from(match kind {
        RecordKind::Enter => ENTER_HOOK_PREFIX,
        RecordKind::Exit => EXIT_HOOK_PREFIX,
        RecordKind::TailExit => TAIL_EXIT_HOOK,
    });
    for t in types {
        name.push('_');
        name.push_str(t.name());
    }
    name
}

/// What a record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// The function was entered; the values are its arguments.
    Enter = 0,
    /// The function returned; the values are its results.
    Exit = 1,
    /// The function left by a tail call; no values.
    TailExit = 2,
}

/// The header word of a record.
pub const fn header(id: u32, kind: RecordKind) -> u32 {
    (id << 2) | kind as u32
}

/// Largest function id a header can carry.
pub const MAX_FUNCTION_ID: u32 = u32::MAX >> 2;

/// Sizes of the records of one function table.
#[derive(Debug, Clone)]
pub struct RecordLayout {
    timestamps: bool,
    depth: bool,
    /// Record size by whole header (`id << 2 | kind`), 0 where no record
    /// has that header: one load sizes a record, which is what walking
    /// records of varying sizes costs per record.
    by_header: Vec<u32>,
    /// Per function id: whether entries, exits carry a snapshot.
    snapshots: Vec<(bool, bool)>,
    max: u32,
    /// The size of every entry and exit record, when they all have the
    /// same (see [`RecordLayout::uniform_size`]).
    uniform: Option<u32>,
}

impl RecordLayout {
    /// Computes record sizes for `table`.
    pub fn new(table: &FunctionTable) -> RecordLayout {
        let timestamps = table.options.timestamps;
        let depth = table.options.sample > 1;
        let fixed = 4 + if timestamps { 4 } else { 0 };
        let sum = |t: &[ValType]| t.iter().map(|t| t.record_size() as u32).sum::<u32>();
        let sizes: Vec<(u32, u32)> = table
            .functions
            .iter()
            .map(|f| {
                (
                    fixed + if depth { 4 } else { 0 } + sum(&f.params),
                    fixed + sum(&f.results),
                )
            })
            .collect();
        let max = sizes
            .iter()
            .map(|&(a, b)| a.max(b))
            .max()
            .unwrap_or(fixed)
            .max(fixed);
        let snapshots = table
            .functions
            .iter()
            .map(|f| {
                (
                    f.entry_snapshot(&table.types),
                    f.exit_snapshot(&table.types),
                )
            })
            .collect::<Vec<(bool, bool)>>();
        let uniform = match sizes.first() {
            Some(&(size, _))
                if snapshots.iter().all(|&(a, b)| !a && !b)
                    && sizes.iter().all(|&(a, b)| a == size && b == size) =>
            {
                Some(size)
            }
            _ => None,
        };
        let by_header = sizes
            .into_iter()
            .flat_map(|(enter, exit)| [enter, exit, fixed, 0])
            .collect();
        RecordLayout {
            timestamps,
            depth,
            by_header,
            snapshots,
            max,
            uniform,
        }
    }

    /// Whether any record can carry a snapshot (so sizes vary).
    pub fn has_snapshots(&self) -> bool {
        self.snapshots.iter().any(|&(a, b)| a || b)
    }

    /// Whether records of this header carry a snapshot after their values.
    #[inline]
    pub fn snapshot_of(&self, header: u32) -> bool {
        match (self.snapshots.get((header >> 2) as usize), header & 3) {
            (Some(&(enter, _)), 0) => enter,
            (Some(&(_, exit)), 1) => exit,
            _ => false,
        }
    }

    /// The size every entry and exit record has, when all have the same
    /// and none carries a snapshot (fibonacci's `i64 -> i64`, or any table
    /// whose functions agree): readers then step through runs of records
    /// at a fixed stride, so where the next record starts does not wait on
    /// reading this one. Tail exits are shorter and break a run.
    pub fn uniform_size(&self) -> Option<usize> {
        self.uniform.map(|s| s as usize)
    }

    /// Whether `header` starts an entry or an exit of a known function: in
    /// a layout with a [`RecordLayout::uniform_size`], a record of that
    /// size. Tests the header alone, without looking its size up.
    #[inline(always)]
    pub fn is_entry_or_exit(&self, header: u32) -> bool {
        entry_or_exit(header, self.function_count())
    }

    /// Whether records carry timestamps.
    pub fn timestamps(&self) -> bool {
        self.timestamps
    }

    /// Whether entry records carry a depth.
    pub fn depth(&self) -> bool {
        self.depth
    }

    /// The largest record any function of the table produces, snapshots
    /// aside.
    pub fn max_record_size(&self) -> u32 {
        self.max
    }

    /// Number of functions the layout knows.
    #[inline(always)]
    pub fn function_count(&self) -> usize {
        self.snapshots.len()
    }

    /// Size of the record starting with `header`, if its id is known and its
    /// kind valid.
    #[inline]
    pub fn size_of(&self, header: u32) -> Option<usize> {
        match self.by_header.get(usize::try_from(header).ok()?) {
            Some(&size) if size != 0 => Some(size as usize),
            _ => None,
        }
    }

    /// Offset of the values within a record of this kind.
    pub fn values_offset(&self, kind: RecordKind) -> usize {
        4 + if self.timestamps { 4 } else { 0 }
            + if self.depth && kind == RecordKind::Enter {
                4
            } else {
                0
            }
    }
}

/// One record, not yet interpreted against the function table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// What the record reports.
    pub kind: RecordKind,
    /// Function id (index into the function table).
    pub id: u32,
    /// The wrapping microsecond timestamp, when recorded.
    pub timestamp: Option<u32>,
    /// Call depth, on entries of sampled modules.
    pub depth: Option<u32>,
    /// The values' bytes.
    pub values: &'a [u8],
    /// The guest-memory snapshot, for functions that carry one (else empty).
    pub snapshot: &'a [u8],
}

/// Whether `header` is an entry or an exit of one of `functions`
/// functions ([`RecordLayout::is_entry_or_exit`], for a loop that keeps
/// the count in a register).
#[inline(always)]
pub(crate) fn entry_or_exit(header: u32, functions: usize) -> bool {
    header & 2 == 0 && ((header >> 2) as usize) < functions
}

/// The little-endian `u32` at `at`: one bounds check and one load, where
/// indexing the four bytes one by one costs four of each.
#[inline(always)]
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// Asks for the chunk's bytes a kilobyte past the start of `rest` to be
/// brought into the cache. A chunk arrives from the thread that ran the
/// guest and is read once, front to back (compacted, or skipped when a ring
/// drops it); with the hint, recording fib(32) took 8% less processor time.
#[inline(always)]
pub(crate) fn prefetch(rest: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const AHEAD: usize = 1024;
        // SAFETY: a prefetch is a hint that never faults, whatever the
        // address, and SSE is part of every x86_64 processor.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(rest.as_ptr().wrapping_add(AHEAD).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = rest;
}

/// Iterates over the records in a byte slice. Stops at the first error.
#[derive(Debug)]
pub struct Records<'a> {
    layout: &'a RecordLayout,
    bytes: &'a [u8],
    pos: usize,
    base_offset: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    /// Reads `bytes` with `layout`; errors report offsets plus `base_offset`.
    pub fn new(layout: &'a RecordLayout, bytes: &'a [u8], base_offset: usize) -> Self {
        Records {
            layout,
            bytes,
            pos: 0,
            base_offset,
            failed: false,
        }
    }

    /// Byte position of the next record within the slice.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Records<'a> {
    /// The timestamp and depth of the record at `at` (an entry when
    /// `enter`), where the layout has them, and where its values start.
    #[inline(always)]
    fn stamps(&self, at: usize, enter: bool) -> (Option<u32>, Option<u32>, usize) {
        let mut p = at + 4;
        let timestamp = self.layout.timestamps.then(|| {
            p += 4;
            read_u32(self.bytes, p - 4)
        });
        let depth = (self.layout.depth && enter).then(|| {
            p += 4;
            read_u32(self.bytes, p - 4)
        });
        (timestamp, depth, p)
    }

    /// The next record when it is an entry or exit of a layout whose
    /// records all take `stride` bytes ([`RecordLayout::uniform_size`]):
    /// read without looking its size up. `None` at anything else (a tail
    /// exit, the end, a fault), which [`Records::next`] then reads.
    #[inline(always)]
    pub fn next_uniform(&mut self, stride: usize) -> Option<RawRecord<'a>> {
        let at = self.pos;
        if self.failed || self.bytes.len().saturating_sub(at) < stride {
            return None;
        }
        let header = read_u32(self.bytes, at);
        if !self.layout.is_entry_or_exit(header) {
            return None;
        }
        let enter = header & 3 == RecordKind::Enter as u32;
        let (timestamp, depth, p) = self.stamps(at, enter);
        self.pos = at + stride;
        Some(RawRecord {
            kind: if enter {
                RecordKind::Enter
            } else {
                RecordKind::Exit
            },
            id: header >> 2,
            timestamp,
            depth,
            values: &self.bytes[p..at + stride],
            snapshot: &self.bytes[..0],
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawRecord<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let at = self.pos;
        let offset = self.base_offset + at;
        let fail = |this: &mut Self, e| {
            this.failed = true;
            Some(Err(e))
        };
        if self.bytes.len() - at < 4 {
            return fail(
                self,
                Error::Truncated {
                    what: "record header",
                    offset,
                },
            );
        }
        let header = read_u32(self.bytes, at);
        let Some(size) = self.layout.size_of(header) else {
            if (header >> 2) as usize >= self.layout.function_count() {
                return fail(
                    self,
                    Error::UnknownFunction {
                        id: header >> 2,
                        offset,
                    },
                );
            }
            return fail(
                self,
                Error::Invalid {
                    what: "record kind",
                    offset,
                },
            );
        };
        if self.bytes.len() - at < size {
            return fail(
                self,
                Error::Truncated {
                    what: "record",
                    offset,
                },
            );
        }
        let (snapshot, total) = if self.layout.snapshot_of(header) {
            if self.bytes.len() - at < size + 4 {
                return fail(
                    self,
                    Error::Truncated {
                        what: "record snapshot",
                        offset,
                    },
                );
            }
            let len = read_u32(self.bytes, at + size) as usize;
            if self.bytes.len() - at - size - 4 < len {
                return fail(
                    self,
                    Error::Truncated {
                        what: "record snapshot",
                        offset,
                    },
                );
            }
            (
                &self.bytes[at + size + 4..at + size + 4 + len],
                size + 4 + len,
            )
        } else {
            (&self.bytes[..0], size)
        };
        let kind = match header & 3 {
            0 => RecordKind::Enter,
            1 => RecordKind::Exit,
            _ => RecordKind::TailExit,
        };
        let (timestamp, depth, p) = self.stamps(at, kind == RecordKind::Enter);
        self.pos = at + total;
        Some(Ok(RawRecord {
            kind,
            id: header >> 2,
            timestamp,
            depth,
            values: &self.bytes[p..at + size],
            snapshot,
        }))
    }
}

/// Appends a record to `out`, the way instrumented code would write it.
/// Hosts of the hook path use this so both paths produce the same bytes.
pub fn write_record(
    out: &mut Vec<u8>,
    id: u32,
    kind: RecordKind,
    timestamp: Option<u32>,
    depth: Option<u32>,
    values: &[Value],
    snapshot: Option<&[u8]>,
) {
    out.extend_from_slice(&header(id, kind).to_le_bytes());
    if let Some(t) = timestamp {
        out.extend_from_slice(&t.to_le_bytes());
    }
    if let Some(d) = depth {
        out.extend_from_slice(&d.to_le_bytes());
    }
    for v in values {
        v.write(out);
    }
    if let Some(s) = snapshot {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
}

/// Decodes the values of a record, given their types.
pub fn values<'a>(types: &'a [ValType], mut bytes: &'a [u8]) -> impl Iterator<Item = Value> + 'a {
    types.iter().map(move |&t| {
        let v = Value::read(t, bytes);
        bytes = &bytes[t.record_size()..];
        v
    })
}

/// How many records of `stride` bytes follow one another from `pos`, at
/// most `most`. The addresses read do not depend on what is read there,
/// so the processor reads ahead instead of waiting on each header.
#[inline(always)]
pub fn uniform_run(
    layout: &RecordLayout,
    bytes: &[u8],
    pos: usize,
    stride: usize,
    most: u64,
) -> usize {
    let fit = ((bytes.len() - pos) / stride).min(usize::try_from(most).unwrap_or(usize::MAX));
    (0..fit)
        .take_while(|&k| layout.is_entry_or_exit(read_u32(bytes, pos + k * stride)))
        .count()
}

/// Steps over at most `most` records of `bytes` (whose records carry no
/// snapshots) by their headers alone; returns how many it passed and the
/// bytes they took. Stops early at the end or at a header it cannot size,
/// which the full reader ([`Records`]) then names the fault of.
pub fn step_records(layout: &RecordLayout, bytes: &[u8], most: u64) -> (u64, usize) {
    let mut count = 0;
    let mut pos = 0;
    while count < most {
        if let Some(stride) = layout.uniform_size() {
            let run = uniform_run(layout, bytes, pos, stride, most - count);
            pos += run * stride;
            count += run as u64;
            if count == most {
                break;
            }
        }
        // A record of another size (a tail exit), or the end.
        if bytes.len() - pos < 4 {
            break;
        }
        match layout.size_of(read_u32(bytes, pos)) {
            Some(size) if bytes.len() - pos >= size => pos += size,
            _ => break,
        }
        count += 1;
    }
    (count, pos)
}

/// Counts the records in `bytes`; errors report offsets plus
/// `base_offset`. Reads only headers where records have fixed sizes.
pub fn count_records(
    layout: &RecordLayout,
    bytes: &[u8],
    base_offset: usize,
) -> Result<u64, Error> {
    pass_records(layout, bytes, base_offset, u64::MAX).map(|(count, _)| count)
}

/// Passes at most `most` records of `bytes`, reading only headers where
/// records have fixed sizes; returns how many it passed and the bytes they
/// took. Errors report offsets plus `base_offset`.
pub fn pass_records(
    layout: &RecordLayout,
    bytes: &[u8],
    base_offset: usize,
    most: u64,
) -> Result<(u64, usize), Error> {
    let (mut count, pos) = if layout.has_snapshots() {
        (0, 0)
    } else {
        step_records(layout, bytes, most)
    };
    // Records with snapshots, or the one the full reader names the fault of.
    let mut records = Records::new(layout, &bytes[pos..], base_offset + pos);
    while count < most {
        let Some(r) = records.next() else { break };
        r?;
        count += 1;
    }
    Ok((count, pos + records.position()))
}
