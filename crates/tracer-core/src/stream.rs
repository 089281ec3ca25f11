//! What a reader of the record stream knows at a point in it: the open
//! frames and the clock. The ring (for the records it drops) and the
//! decoder (for the ones it keeps) both advance it, so they agree on depths
//! and durations; it sits below both.

use crate::error::Error;
use crate::record::{RawRecord, RecordKind, RecordLayout, Records};
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

impl StreamState {
    /// Advances past one record.
    #[inline]
    pub fn apply(&mut self, r: &RawRecord<'_>) -> Placed {
        let timestamp_us = r.timestamp.map(|t| {
            self.clock_us += u64::from(t.wrapping_sub(self.clock_us as u32));
            self.clock_us
        });
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
        let mut count = 0;
        let mut pos = 0;
        if !layout.has_snapshots() {
            let timestamps = layout.timestamps();
            let depths = layout.depth();
            while bytes.len() - pos >= 4 && count < most {
                let header = read_u32(bytes, pos);
                let Some(size) = layout.size_of(header) else {
                    break;
                };
                if bytes.len() - pos < size {
                    break;
                }
                let mut field = pos + 4;
                if timestamps {
                    let t = read_u32(bytes, field);
                    self.clock_us += u64::from(t.wrapping_sub(self.clock_us as u32));
                    field += 4;
                }
                if header & 3 == RecordKind::Enter as u32 {
                    let depth = if depths {
                        read_u32(bytes, field)
                    } else {
                        self.open.len() as u32
                    };
                    self.open.push(OpenFrame {
                        id: header >> 2,
                        entered_us: timestamps.then_some(self.clock_us),
                        depth,
                    });
                } else {
                    self.open.pop();
                }
                pos += size;
                count += 1;
            }
        }
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

#[inline]
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
