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
            timestamps: layout.timestamps(),
            depths: layout.depth(),
        };
        frames.top = frames.open.len();
        let mut count = 0;
        let mut pos = 0;
        while count < most {
            if let Some(stride) = layout.uniform_size() {
                let fit = ((bytes.len() - pos) / stride)
                    .min(usize::try_from(most - count).unwrap_or(usize::MAX));
                let mut k = 0;
                while k < fit {
                    let header = read_u32(bytes, pos);
                    if !layout.is_entry_or_exit(header) {
                        break;
                    }
                    frames.place(bytes, pos, header);
                    pos += stride;
                    k += 1;
                }
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
    timestamps: bool,
    depths: bool,
}

impl Frames {
    /// Places the record at `at` (whose size was checked) on the stack.
    #[inline(always)]
    fn place(&mut self, bytes: &[u8], at: usize, header: u32) {
        let enter = header & 3 == RecordKind::Enter as u32;
        let mut field = at + 4;
        if self.timestamps {
            self.clock_us = advance(self.clock_us, read_u32(bytes, field));
            field += 4;
        }
        let depth = if self.depths && enter {
            read_u32(bytes, field)
        } else {
            self.top as u32
        };
        if self.top == self.open.len() {
            self.open.push(OpenFrame {
                id: 0,
                entered_us: None,
                depth: 0,
            });
        }
        self.open[self.top] = OpenFrame {
            id: header >> 2,
            entered_us: self.timestamps.then_some(self.clock_us),
            depth,
        };
        self.top = if enter {
            self.top + 1
        } else {
            self.top.saturating_sub(1)
        };
    }
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
