//! What a reader of the record stream knows at a point in it: the open
//! frames and the clock. The ring (for the records it drops) and the
//! decoder (for the ones it keeps) both advance it, so they agree on depths
//! and durations; it sits below both.

use crate::error::Error;
use crate::record::{read_u32, RawRecord, RecordKind, RecordLayout, Records};
use alloc::vec::Vec;

/// A frame whose entry was seen and whose exit was not (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFrame {
    /// Function id.
    pub id: u32,
    /// When it was entered, in microseconds since the trace started.
    pub entered_us: Option<u64>,
    /// Its depth.
    pub depth: u32,
}

/// What a reader of the record stream knows at a point in it: the open
/// frames and the clock. Shared by the ring (for records it drops) and the
/// decoder, so both agree on depths and durations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Open frames, outermost first.
    pub open: Vec<OpenFrame>,
    /// The last timestamp seen, unwrapped to 64 bits.
    pub clock_us: u64,
}

/// Where a record sits once the stack is taken into account.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    /// Unwrapped timestamp.
    pub timestamp_us: Option<u64>,
    /// Call depth.
    pub depth: u32,
    /// For exits, time since the matching entry.
    pub duration_us: Option<u64>,
}

/// How far back a timestamp may lie behind the one before it and still be
/// read as a step back rather than as the clock wrapping forward.
///
/// Inline records read a clock cell a host thread updates, while hook
/// records (and flushes) read the host's clock directly, so a record can
/// carry a timestamp a few microseconds older than the record before it.
/// Read as a wrapping forward step, that would add 2^32 us (71.6 minutes)
/// to the clock; read as a step back, the clock holds still. 2^24 us
/// (16.8 s) covers any such lag, even a clock thread descheduled for long,
/// and leaves forward gaps of up to 71.3 minutes between two records.
pub const MAX_STEP_BACK_US: u32 = 1 << 24;

impl StreamState {
    /// Moves the clock to the wrapping timestamp `t` and returns it
    /// unwrapped. A timestamp slightly older than the clock (see
    /// [`MAX_STEP_BACK_US`]) leaves the clock where it is, so time never
    /// runs backwards and durations never wrap.
    #[inline]
    pub fn advance_clock(&mut self, t: u32) -> u64 {
        self.clock_us = advance(self.clock_us, t);
        self.clock_us
    }

    /// Advances past one record.
    #[inline]
    pub fn apply(&mut self, r: &RawRecord<'_>) -> Placed {
        let timestamp_us = r.timestamp.map(|t| self.advance_clock(t));
        match r.kind {
            RecordKind::Enter => {
                let depth = r.depth.unwrap_or(self.open.len() as u32);
                self.open.push(OpenFrame {
                    id: r.id,
                    entered_us: timestamp_us,
                    depth,
                });
                Placed {
                    timestamp_us,
                    depth,
                    duration_us: None,
                }
            }
            RecordKind::Exit | RecordKind::TailExit => match self.open.pop() {
                Some(f) => Placed {
                    timestamp_us,
                    depth: f.depth,
                    duration_us: match (timestamp_us, f.entered_us) {
                        (Some(t), Some(e)) => Some(t.saturating_sub(e)),
                        _ => None,
                    },
                },
                None => Placed {
                    timestamp_us,
                    depth: 0,
                    duration_us: None,
                },
            },
        }
    }
}

impl StreamState {
    /// Advances past every record of `bytes` (errors report offsets plus
    /// `base_offset`) and returns how many there were.
    ///
    /// This is what a ring does with the records it drops, so it reads no
    /// more of a record than its header, timestamp and depth: about a
    /// nanosecond a record, where decoding it whole costs several.
    pub fn skip(
        &mut self,
        layout: &RecordLayout,
        bytes: &[u8],
        base_offset: usize,
    ) -> Result<u64, Error> {
        self.skip_some(layout, bytes, base_offset, u64::MAX)
            .map(|(count, _)| count)
    }

    /// Like [`StreamState::skip`], but stops after `most` records; returns
    /// how many it passed and the bytes they took.
    pub fn skip_some(
        &mut self,
        layout: &RecordLayout,
        bytes: &[u8],
        base_offset: usize,
        most: u64,
    ) -> Result<(u64, usize), Error> {
        let (mut count, pos) = if layout.has_snapshots() {
            (0, 0)
        } else {
            self.skip_sized(layout, bytes, most)
        };
        // Records with snapshots, or whatever stopped the loop above (the
        // end, or a record the full reader will name the fault of).
        let mut records = Records::new(layout, &bytes[pos..], base_offset + pos);
        while count < most {
            let Some(r) = records.next() else { break };
            self.apply(&r?);
            count += 1;
        }
        Ok((count, pos + records.position()))
    }
}

impl StreamState {
    /// [`StreamState::skip_some`] for records without snapshots, reading
    /// headers, timestamps and depths only. Frames live in `open` up to
    /// `top`; a record writes the slot at `top` whatever its kind and then
    /// moves `top`, so the stack costs no branch on the kind (the branch
    /// the processor would mispredict on every turn of a recursion).
    fn skip_sized(&mut self, layout: &RecordLayout, bytes: &[u8], most: u64) -> (u64, usize) {
        let mut frames = Frames {
            open: core::mem::take(&mut self.open),
            top: 0,
            clock_us: self.clock_us,
            fields: Fields {
                timestamps: layout.timestamps(),
                depths: layout.depth(),
            },
        };
        frames.top = frames.open.len();
        let mut count = 0;
        let mut pos = 0;
        while count < most {
            if let Some(stride) = layout.uniform_size() {
                let room = usize::try_from(most - count).unwrap_or(usize::MAX);
                let run = &bytes[pos..];
                let functions = layout.function_count();
                let k = match (frames.fields.timestamps, frames.fields.depths) {
                    (false, false) => {
                        frames.place_run::<false, false>(run, stride, room, functions)
                    }
                    (true, false) => frames.place_run::<true, false>(run, stride, room, functions),
                    (false, true) => frames.place_run::<false, true>(run, stride, room, functions),
                    (true, true) => frames.place_run::<true, true>(run, stride, room, functions),
                };
                pos += k * stride;
                count += k as u64;
                if count == most {
                    break;
                }
            }
            // A record of another size (a tail exit), or the end.
            if bytes.len() - pos < 4 {
                break;
            }
            let header = read_u32(bytes, pos);
            match layout.size_of(header) {
                Some(size) if bytes.len() - pos >= size => {
                    frames.place(bytes, pos, header);
                    pos += size;
                }
                _ => break,
            }
            count += 1;
        }
        frames.open.truncate(frames.top);
        self.open = frames.open;
        self.clock_us = frames.clock_us;
        (count, pos)
    }
}

/// The open frames as [`StreamState::skip_sized`] keeps them: live up to
/// `top`, the slots above it free to be written.
struct Frames {
    open: Vec<OpenFrame>,
    top: usize,
    clock_us: u64,
    fields: Fields,
}

/// Which fields records carry before their values, besides the header.
#[derive(Clone, Copy)]
struct Fields {
    timestamps: bool,
    /// Entries only.
    depths: bool,
}

impl Frames {
    /// Places the entries and exits of `stride` bytes each at the start of
    /// `bytes`, at most `most`, stopping at any other record; returns how
    /// many. [`Frames::place`] for a layout of one record size, with the
    /// layout's choices made once (`TIMESTAMPS`, `DEPTHS`) and the stack
    /// and clock in registers: it runs where a ring drops whole chunks.
    // Its own function, so its loop gets the registers to itself.
    #[inline(never)]
    fn place_run<const TIMESTAMPS: bool, const DEPTHS: bool>(
        &mut self,
        bytes: &[u8],
        stride: usize,
        most: usize,
        functions: usize,
    ) -> usize {
        if stride < 4 + 4 * usize::from(TIMESTAMPS) + 4 * usize::from(DEPTHS) {
            return 0;
        }
        let (mut top, mut clock_us) = (self.top, self.clock_us);
        let open = &mut self.open;
        let mut placed = 0;
        for record in bytes.chunks_exact(stride).take(most) {
            crate::record::prefetch(record);
            let header = read_u32(record, 0);
            if !crate::record::entry_or_exit(header, functions) {
                break;
            }
            // An entry or an exit (the test above): bit 0 tells which.
            let enter = header & 1 == 0;
            (top, clock_us) = place_record(
                open,
                top,
                clock_us,
                record,
                header,
                enter,
                Fields {
                    timestamps: TIMESTAMPS,
                    depths: DEPTHS,
                },
            );
            placed += 1;
        }
        self.top = top;
        self.clock_us = clock_us;
        placed
    }

    /// Places the record at `at` (whose size was checked) on the stack.
    #[inline(always)]
    fn place(&mut self, bytes: &[u8], at: usize, header: u32) {
        (self.top, self.clock_us) = place_record(
            &mut self.open,
            self.top,
            self.clock_us,
            &bytes[at..],
            header,
            header & 3 == RecordKind::Enter as u32,
            self.fields,
        );
    }
}

/// Places the record that starts `record` (with header `header`; `enter`
/// when it is an entry) on the stack `open`, live up to `top`, with the
/// clock at `clock_us`; returns the new top and clock. What both of
/// [`Frames`]' loops do per record: a record writes the slot at `top`
/// whatever its kind and then moves `top`, so the stack costs no branch on
/// the kind.
#[inline(always)]
fn place_record(
    open: &mut Vec<OpenFrame>,
    top: usize,
    mut clock_us: u64,
    record: &[u8],
    header: u32,
    enter: bool,
    fields: Fields,
) -> (usize, u64) {
    let mut field = 4;
    if fields.timestamps {
        clock_us = advance(clock_us, read_u32(record, field));
        field += 4;
    }
    let depth = if fields.depths && enter {
        read_u32(record, field)
    } else {
        top as u32
    };
    if top == open.len() {
        open.push(OpenFrame {
            id: 0,
            entered_us: None,
            depth: 0,
        });
    }
    open[top] = OpenFrame {
        id: header >> 2,
        entered_us: fields.timestamps.then_some(clock_us),
        depth,
    };
    let top = if enter {
        top + 1
    } else {
        top.saturating_sub(1)
    };
    (top, clock_us)
}

/// The clock at `clock_us` moved to the wrapping timestamp `t` (see
/// [`MAX_STEP_BACK_US`]).
#[inline(always)]
fn advance(clock_us: u64, t: u32) -> u64 {
    let step = t.wrapping_sub(clock_us as u32);
    if step <= u32::MAX - MAX_STEP_BACK_US {
        clock_us + u64::from(step)
    } else {
        clock_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::util::testutil::{table, FIB, MAIN};
    use crate::record::{write_record, Records};
    use crate::Value;
    use alloc::vec;

    /// Skipping (which takes runs of one record size in a loop of its own)
    /// leaves the stack and clock exactly where applying the records one
    /// by one does, and passes the same bytes: with and without timestamps
    /// and depths, in a layout of one record size and in one of several,
    /// across tail exits and clock steps back, whatever the stopping point.
    #[test]
    fn skipping_places_what_applying_each_record_places() {
        let mut compared = 0;
        for timestamps in [false, true] {
            for sampled in [false, true] {
                for mixed in [false, true] {
                    let mut t = table(timestamps);
                    if !mixed {
                        t.functions.truncate(1);
                    }
                    t.options.sample = if sampled { 7 } else { 1 };
                    if sampled {
                        // An entry's depth takes the 4 bytes its argument
                        // gives up: still one record size.
                        t.functions[0].params = vec![crate::ValType::I32];
                    }
                    let layout = RecordLayout::new(&t);
                    assert_eq!(layout.uniform_size().is_some(), !mixed);
                    let mut bytes = Vec::new();
                    let (mut depth, mut clock, mut x) = (0u32, 0u32, 0x9e37_79b9_u64);
                    for i in 0..3000i64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let kind = match (depth, x % 9) {
                            (0, _) | (_, 0..=3) => RecordKind::Enter,
                            (_, 4..=7) => RecordKind::Exit,
                            _ => RecordKind::TailExit,
                        };
                        let id = if mixed && x % 5 == 0 { MAIN } else { FIB };
                        let values = match (id, kind) {
                            (FIB, RecordKind::Enter) if sampled => vec![Value::I32(i as i32)],
                            (FIB, RecordKind::Enter | RecordKind::Exit) => vec![Value::I64(i)],
                            _ => vec![],
                        };
                        // Mostly forward, now and then a little back.
                        clock = if x % 11 == 0 {
                            clock.wrapping_sub(3)
                        } else {
                            clock.wrapping_add((x % 1000) as u32)
                        };
                        let d = (sampled && kind == RecordKind::Enter).then_some(depth);
                        write_record(
                            &mut bytes,
                            id,
                            kind,
                            timestamps.then_some(clock),
                            d,
                            &values,
                            None,
                        );
                        depth = match kind {
                            RecordKind::Enter => depth + 1,
                            _ => depth - 1,
                        };
                    }
                    for most in [0, 1, 17, 1000, u64::MAX] {
                        let mut skipped = StreamState::default();
                        let (n, used) = skipped.skip_some(&layout, &bytes, 0, most).unwrap();
                        let mut applied = StreamState::default();
                        let mut records = Records::new(&layout, &bytes, 0);
                        for _ in 0..n {
                            applied.apply(&records.next().unwrap().unwrap());
                        }
                        assert_eq!(n, most.min(3000));
                        assert_eq!(used, records.position());
                        assert_eq!(
                            skipped, applied,
                            "timestamps {timestamps}, sampled {sampled}, mixed {mixed}, most {most}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 40);
    }
}
