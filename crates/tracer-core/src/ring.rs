//! The bounded ring a host fills with records.
//!
//! Records arrive in chunks (a flushed staging area, or a batch of hook
//! records) and are copied in whole; the ring never parses a chunk on the
//! way in unless it must count what it drops. Its bound is in events and is
//! enforced exactly by [`Ring::finish`]: until then it keeps whole chunks
//! that are guaranteed to hold at least `capacity` events.

use crate::error::Error;
use crate::record::{count_records, pass_records, RecordLayout};
use crate::stream::StreamState;
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
#[derive(Debug)]
pub struct Ring {
    layout: RecordLayout,
    capacity: u64,
    policy: OverflowPolicy,
    chunks: VecDeque<Vec<u8>>,
    retained_bytes: u64,
    /// Events per retained chunk, where counted: always when records vary
    /// in size (snapshots), where bytes no longer bound the event count;
    /// otherwise when the chunk is likely to be kept (see
    /// [`Ring::push_chunk`]), so [`Ring::finish`] need not walk it.
    chunk_events: VecDeque<Option<u64>>,
    /// Events in the retained chunks, when records vary in size.
    retained_events: u64,
    /// Decoder state after every record dropped from the front.
    dropped_state: StreamState,
    lost: u64,
    /// Keep-oldest only: enough events are held; later chunks are counted.
    full: bool,
    offset: u64,
    /// Buffers of dropped chunks, kept for reuse: fresh memory costs a page
    /// fault per page, which would dominate the cost of a record.
    spare: Vec<Vec<u8>>,
}

/// The records a ring kept, trimmed to its capacity.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The kept records, in order, in the chunks they arrived in; the first
    /// chunk's records start at `first_offset`.
    pub chunks: Vec<Vec<u8>>,
    /// Where the first kept record starts in the first chunk.
    pub first_offset: usize,
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
    /// More records follow in another piece (streaming replay): frames
    /// still open at the end stay open rather than being closed.
    pub continues: bool,
}

impl Recorded {
    /// Kept records in one chunk, nothing lost.
    pub fn from_bytes(bytes: Vec<u8>, kept: u64) -> Recorded {
        Recorded {
            chunks: alloc::vec![bytes],
            kept,
            ..Recorded::default()
        }
    }

    /// Bytes taken by the kept records.
    pub fn byte_len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum::<usize>() - self.first_offset
    }

    /// The kept records' bytes, chunk by chunk.
    pub fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().enumerate().map(|(i, c)| {
            if i == 0 {
                &c[self.first_offset.min(c.len())..]
            } else {
                &c[..]
            }
        })
    }
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
            chunk_events: VecDeque::new(),
            retained_events: 0,
            dropped_state: StreamState::default(),
            lost: 0,
            full: false,
            offset: 0,
            spare: Vec::new(),
        }
    }

    /// Most events the ring keeps.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The layout records are read with.
    pub fn layout(&self) -> &RecordLayout {
        &self.layout
    }

    fn guaranteed_bytes(&self) -> u64 {
        self.capacity
            .saturating_mul(u64::from(self.layout.max_record_size()))
    }

    /// An empty buffer to fill and hand back with [`Ring::push_chunk`]: one
    /// the ring no longer needs, when it has one.
    pub fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.spare.pop()
    }

    /// Appends a chunk of whole records, copying them.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut chunk = self.take_spare().unwrap_or_default();
        chunk.extend_from_slice(bytes);
        self.push_chunk(chunk)
    }

    fn recycle(&mut self, mut chunk: Vec<u8>) {
        chunk.clear();
        self.spare.push(chunk);
    }

    /// Appends a chunk of whole records, taking the buffer.
    pub fn push_chunk(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        self.push_counted(chunk, None)
    }

    /// Like [`Ring::push_chunk`], for a chunk whose records were counted
    /// as they were written (the staging cursor's count): the ring takes
    /// the count rather than read the chunk to count. A count no chunk of
    /// this length can hold (each record takes at least its header and
    /// timestamp, and, snapshots aside, at most the largest record) is an
    /// error; a count within those bounds is taken at its word, like the
    /// records themselves.
    pub fn push_counted(&mut self, chunk: Vec<u8>, records: Option<u64>) -> Result<(), Error> {
        let base = self.offset as usize;
        if let Some(n) = records {
            self.check_count(chunk.len(), n)?;
        }
        if chunk.is_empty() {
            self.recycle(chunk);
            return Ok(());
        }
        self.offset += chunk.len() as u64;
        if self.full || self.capacity == 0 {
            self.full = true;
            let counted = match records {
                Some(n) => Ok(n),
                None => count_records(&self.layout, &chunk, base),
            };
            self.recycle(chunk);
            self.lost += counted?;
            return Ok(());
        }
        let counted = self.layout.has_snapshots();
        // A chunk smaller than the ring's bound is counted now, on the
        // thread that takes chunks while the guest runs, so finishing the
        // ring need not walk it. A chunk that alone fills the ring is left
        // uncounted: the next chunk would drop it, and dropping walks it.
        let n = match records {
            Some(n) => Some(n),
            None if counted || (chunk.len() as u64) < self.guaranteed_bytes() => {
                Some(count_records(&self.layout, &chunk, base)?)
            }
            None => None,
        };
        self.chunk_events.push_back(n);
        if counted {
            self.retained_events += n.unwrap_or(0);
        }
        self.retained_bytes += chunk.len() as u64;
        self.chunks.push_back(chunk);
        let need = self.guaranteed_bytes();
        // Whether the ring holds at least `capacity` events without its
        // oldest chunk.
        let enough_without_front = |r: &Ring| {
            if counted {
                r.retained_events - r.chunk_events[0].unwrap_or(0) >= r.capacity
            } else {
                r.retained_bytes - r.chunks[0].len() as u64 >= need
            }
        };
        match self.policy {
            OverflowPolicy::KeepNewest => {
                while self.chunks.len() > 1 && enough_without_front(self) {
                    self.drop_front()?;
                }
            }
            OverflowPolicy::KeepOldest => {
                if (counted && self.retained_events >= self.capacity)
                    || (!counted && self.retained_bytes >= need)
                {
                    self.full = true;
                }
            }
        }
        Ok(())
    }

    /// Like [`Ring::push_counted`], for records the ring is lent rather
    /// than given (a staging area still in the guest's memory): a ring that
    /// keeps no more events only counts them; otherwise it copies them into
    /// a buffer of its own.
    pub fn push_slice(&mut self, bytes: &[u8], records: u64) -> Result<(), Error> {
        if self.full || self.capacity == 0 {
            self.check_count(bytes.len(), records)?;
            self.offset += bytes.len() as u64;
            self.full = true;
            self.lost += records;
            return Ok(());
        }
        let mut bytes = bytes;
        let mut records = records;
        if self.policy == OverflowPolicy::KeepNewest && records > self.capacity {
            // These records alone outnumber the ring: every chunk held
            // now, and all but the newest `capacity` of these, would be
            // dropped. Pass them where they lie, and copy only the rest.
            self.check_count(bytes.len(), records)?;
            while !self.chunks.is_empty() {
                self.drop_front()?;
            }
            let excess = records - self.capacity;
            let (passed, used) =
                self.dropped_state
                    .skip_some(&self.layout, bytes, self.offset as usize, excess)?;
            if passed < excess {
                return Err(Error::Invalid {
                    what: "record count",
                    offset: self.offset as usize,
                });
            }
            self.lost += passed;
            self.offset += used as u64;
            bytes = &bytes[used..];
            records = self.capacity;
        }
        let mut chunk = self.take_spare().unwrap_or_default();
        chunk.extend_from_slice(bytes);
        self.push_counted(chunk, Some(records))
    }

    /// Drops the oldest chunk, passing its records to keep track of the
    /// frames they open and close.
    fn drop_front(&mut self) -> Result<(), Error> {
        let front = self.chunks.pop_front().unwrap_or_default();
        if let (Some(Some(n)), true) = (self.chunk_events.pop_front(), self.layout.has_snapshots())
        {
            self.retained_events -= n;
        }
        self.retained_bytes -= front.len() as u64;
        let dropped = self.dropped_state.skip(&self.layout, &front, 0);
        self.recycle(front);
        self.lost += dropped?;
        Ok(())
    }

    /// Whether `len` bytes can hold `records` records: each takes at least
    /// its header and timestamp and, snapshots aside, at most the largest
    /// record.
    fn check_count(&self, len: usize, records: u64) -> Result<(), Error> {
        let len = len as u64;
        let smallest = self.layout.values_offset(crate::record::RecordKind::Exit) as u64;
        let fewest = match self.layout.has_snapshots() {
            true => u64::from(len > 0),
            false => len.div_ceil(u64::from(self.layout.max_record_size()).max(1)),
        };
        if records < fewest || records > len / smallest {
            return Err(Error::Invalid {
                what: "record count",
                offset: self.offset as usize,
            });
        }
        Ok(())
    }

    /// Trims to exactly `capacity` events and hands the records over.
    pub fn finish(self) -> Result<Recorded, Error> {
        let mut total = 0;
        let mut base = 0;
        for (c, counted) in self.chunks.iter().zip(&self.chunk_events) {
            total += match counted {
                Some(n) => *n,
                None => count_records(&self.layout, c, base)?,
            };
            base += c.len();
        }
        // Where the `n`th record (from 1) ends: (chunk index, byte end).
        let end_of = |n: usize| -> Result<(usize, usize), Error> {
            let mut seen = 0;
            let mut base = 0;
            for (i, c) in self.chunks.iter().enumerate() {
                let (passed, end) = pass_records(&self.layout, c, base, (n - seen) as u64)?;
                seen += passed as usize;
                if seen == n {
                    return Ok((i, end));
                }
                base += c.len();
            }
            Err(Error::Invalid {
                what: "record count",
                offset: 0,
            })
        };
        let cut = match (total > self.capacity, self.policy) {
            (false, _) => None,
            (true, OverflowPolicy::KeepNewest) => Some(end_of((total - self.capacity) as usize)?),
            (true, OverflowPolicy::KeepOldest) if self.capacity == 0 => None,
            (true, OverflowPolicy::KeepOldest) => Some(end_of(self.capacity as usize)?),
        };
        let mut chunks: Vec<Vec<u8>> = self.chunks.into_iter().collect();
        let mut start = self.dropped_state;
        let mut lost = self.lost;
        let mut cut_at_end = self.full && self.lost > 0;
        let mut first_offset = 0;
        if total > self.capacity {
            let excess = (total - self.capacity) as usize;
            lost += excess as u64;
            match self.policy {
                OverflowPolicy::KeepNewest => {
                    let (chunk, cut) = cut.expect("found above");
                    for c in &chunks[..chunk] {
                        start.skip(&self.layout, c, 0)?;
                    }
                    start.skip(&self.layout, &chunks[chunk][..cut], 0)?;
                    chunks.drain(..chunk);
                    first_offset = cut;
                }
                OverflowPolicy::KeepOldest => {
                    match cut {
                        None => chunks.clear(),
                        Some((chunk, cut)) => {
                            chunks.truncate(chunk + 1);
                            chunks[chunk].truncate(cut);
                        }
                    }
                    cut_at_end = true;
                }
            }
        }
        Ok(Recorded {
            chunks,
            first_offset,
            start,
            kept: total.min(self.capacity),
            lost,
            cut_at_end,
            continues: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::util::testutil::{bytes, fib_records, table};

    /// A count handed in with a chunk stands for the chunk's records: a
    /// ring that keeps nothing counts them as lost, and a ring that keeps
    /// them ends as it would have after counting them itself.
    #[test]
    fn a_counted_chunk_is_taken_at_its_count() {
        let t = table(true);
        let raw = bytes(&t, &fib_records());
        let n = fib_records().len() as u64;
        let mut none = Ring::new(RecordLayout::new(&t), 0, OverflowPolicy::KeepNewest);
        none.push_counted(raw.clone(), Some(n)).unwrap();
        none.push_counted(raw.clone(), Some(n)).unwrap();
        let kept = none.finish().unwrap();
        assert_eq!((kept.kept, kept.lost), (0, 2 * n));
        for capacity in [3, 1 << 20] {
            let finish = |count: Option<u64>| {
                let mut ring = Ring::new(RecordLayout::new(&t), capacity, Default::default());
                ring.push_counted(raw.clone(), count).unwrap();
                ring.push_counted(raw.clone(), count).unwrap();
                let r = ring.finish().unwrap();
                (r.chunks, r.first_offset, r.start, r.kept, r.lost)
            };
            assert_eq!(finish(Some(n)), finish(None), "capacity {capacity}");
        }
    }
}
