//! The bounded ring a host fills with records.
//!
//! Records arrive in chunks (a flushed staging area, or a batch of hook
//! records) and are copied in whole; the ring never parses a chunk on the
//! way in unless it must count what it drops. Its bound is in events and is
//! enforced exactly by [`Ring::finish`]: until then it keeps whole chunks
//! that are guaranteed to hold at least `capacity` events.

use crate::decode::StreamState;
use crate::error::Error;
use crate::record::{RecordLayout, Records};
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Which events survive when more arrive than the ring holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Keep the most recent events (a flight recorder).
    #[default]
    KeepNewest,
    /// Keep the first events and count the rest as lost.
    KeepOldest,
}

/// A bounded store of records.
pub struct Ring {
    layout: RecordLayout,
    capacity: u64,
    policy: OverflowPolicy,
    chunks: VecDeque<Vec<u8>>,
    retained_bytes: u64,
    /// Decoder state after every record dropped from the front.
    dropped_state: StreamState,
    lost: u64,
    /// Keep-oldest only: enough events are held; later chunks are counted.
    full: bool,
    offset: u64,
}

/// The records a ring kept, trimmed to its capacity.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The kept records, in order.
    pub bytes: Vec<u8>,
    /// Decoder state before the first kept record: frames opened by records
    /// that were dropped, and the clock at that point.
    pub start: StreamState,
    /// Number of kept events.
    pub kept: u64,
    /// Number of events recorded but not kept.
    pub lost: u64,
    /// Events were lost after the kept ones (keep-oldest overflowed), so
    /// frames still open at the end were cut, not left running.
    pub cut_at_end: bool,
}

impl Ring {
    /// A ring holding at most `capacity` events of the given layout.
    pub fn new(layout: RecordLayout, capacity: u64, policy: OverflowPolicy) -> Ring {
        Ring {
            layout,
            capacity,
            policy,
            chunks: VecDeque::new(),
            retained_bytes: 0,
            dropped_state: StreamState::default(),
            lost: 0,
            full: false,
            offset: 0,
        }
    }

    /// The layout records are read with.
    pub fn layout(&self) -> &RecordLayout {
        &self.layout
    }

    fn guaranteed_bytes(&self) -> u64 {
        self.capacity.saturating_mul(u64::from(self.layout.max_record_size()))
    }

    /// Appends a chunk of whole records.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        let base = self.offset as usize;
        self.offset += bytes.len() as u64;
        if self.full || self.capacity == 0 {
            self.full = true;
            let mut n = 0;
            for r in Records::new(&self.layout, bytes, base) {
                r?;
                n += 1;
            }
            self.lost += n;
            return Ok(());
        }
        self.chunks.push_back(bytes.into());
        self.retained_bytes += bytes.len() as u64;
        let need = self.guaranteed_bytes();
        match self.policy {
            OverflowPolicy::KeepNewest => {
                while self.chunks.len() > 1 && self.retained_bytes - self.chunks[0].len() as u64 >= need {
                    let front = self.chunks.pop_front().unwrap_or_default();
                    self.retained_bytes -= front.len() as u64;
                    for r in Records::new(&self.layout, &front, 0) {
                        self.dropped_state.apply(&r?);
                        self.lost += 1;
                    }
                }
            }
            OverflowPolicy::KeepOldest => {
                if self.retained_bytes >= need {
                    self.full = true;
                }
            }
        }
        Ok(())
    }

    /// Trims to exactly `capacity` events and hands the records over.
    pub fn finish(self) -> Result<Recorded, Error> {
        let mut bytes = Vec::with_capacity(self.retained_bytes as usize);
        for c in &self.chunks {
            bytes.extend_from_slice(c);
        }
        let mut ends = Vec::new();
        let mut it = Records::new(&self.layout, &bytes, 0);
        while let Some(r) = it.next() {
            r?;
            ends.push(it.position());
        }
        let total = ends.len() as u64;
        let mut start = self.dropped_state;
        let mut lost = self.lost;
        let mut cut_at_end = self.full && self.lost > 0;
        if total > self.capacity {
            let excess = (total - self.capacity) as usize;
            lost += excess as u64;
            match self.policy {
                OverflowPolicy::KeepNewest => {
                    let cut = ends[excess - 1];
                    for r in Records::new(&self.layout, &bytes[..cut], 0) {
                        start.apply(&r?);
                    }
                    bytes.drain(..cut);
                }
                OverflowPolicy::KeepOldest => {
                    let keep = self.capacity as usize;
                    let cut = if keep == 0 { 0 } else { ends[keep - 1] };
                    bytes.truncate(cut);
                    cut_at_end = true;
                }
            }
        }
        Ok(Recorded { bytes, start, kept: total.min(self.capacity), lost, cut_at_end })
    }
}
