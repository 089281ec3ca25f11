//! Turns kept records back into events, tracking the call stack so exits
//! get their depth and duration, and closing the frames a run left open.

use crate::error::Error;
use crate::event::{CloseReason, Event, EventKind};
use crate::record::{RawRecord, RecordKind, RecordLayout, Records};
use crate::ring::Recorded;
use crate::table::FunctionTable;
use alloc::string::String;

pub use crate::stream::{OpenFrame, Placed, StreamState};

/// How the traced run ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunEnd {
    /// The entry point returned.
    #[default]
    Returned,
    /// The guest exited with this status.
    Exited(i32),
    /// The guest trapped; the message names the trap.
    Trapped(String),
    /// The host stopped the guest (time-out, fuel); the message says why.
    Interrupted(String),
}

/// A finished trace: the function table, the kept records and how the run
/// ended. Everything a formatter needs.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The function table of the instrumented module.
    pub table: FunctionTable,
    /// Record sizes for the table.
    pub layout: RecordLayout,
    /// The kept records.
    pub recorded: Recorded,
    /// How the run ended.
    pub end: RunEnd,
    /// Wall-clock time when the trace started, in microseconds since the
    /// Unix epoch; record timestamps are relative to it.
    pub epoch_unix_us: u64,
    /// Microseconds since the trace started at which the run ended, used to
    /// time frames the host closes.
    pub end_us: Option<u64>,
    /// How fine the record timestamps are, in microseconds, when the host
    /// that recorded them said.
    pub clock_resolution_us: Option<u32>,
}

/// Totals over a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Events written by the guest (kept and lost).
    pub total_events: u64,
    /// Events kept.
    pub kept_events: u64,
    /// Events written but not kept, because the ring was full.
    pub dropped_events: u64,
}

impl Trace {
    /// Builds a trace from what a ring kept.
    pub fn new(
        table: FunctionTable,
        recorded: Recorded,
        end: RunEnd,
        epoch_unix_us: u64,
        end_us: Option<u64>,
    ) -> Trace {
        let layout = RecordLayout::new(&table);
        Trace {
            table,
            layout,
            recorded,
            end,
            epoch_unix_us,
            end_us,
            clock_resolution_us: None,
        }
    }

    /// Event counts.
    pub fn stats(&self) -> Stats {
        Stats {
            total_events: self.recorded.kept + self.recorded.lost,
            kept_events: self.recorded.kept,
            dropped_events: self.recorded.lost,
        }
    }

    /// The events, in order, followed by host-closed frames.
    pub fn events(&self) -> Decoder<'_> {
        let mut slices = self.recorded.slices();
        let first = slices.next().unwrap_or(&[]);
        Decoder {
            trace: self,
            stride: self.layout.uniform_size(),
            records: Records::new(&self.layout, first, 0),
            consumed: first.len(),
            slices: alloc::boxed::Box::new(slices),
            state: self.recorded.start.clone(),
            closing: false,
        }
    }

    /// Why frames still open at the end are closed.
    pub fn close_reason(&self) -> CloseReason {
        match &self.end {
            RunEnd::Trapped(_) => CloseReason::Trapped,
            RunEnd::Exited(_) => CloseReason::Exited,
            RunEnd::Interrupted(_) => CloseReason::Interrupted,
            RunEnd::Returned => CloseReason::Lost,
        }
    }
}

impl<'a> Decoder<'a> {
    /// The stack and clock after the events read so far: where the next
    /// piece of a streamed trace starts.
    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// The event of record `r`, the stack moved past it.
    #[inline(always)]
    fn event_of(&mut self, r: RawRecord<'a>) -> Result<Event<'a>, Error> {
        let placed = self.state.apply(&r);
        let Some(function) = self.trace.table.functions.get(r.id as usize) else {
            return Err(Error::UnknownFunction {
                id: r.id,
                offset: 0,
            });
        };
        Ok(Event {
            kind: match r.kind {
                RecordKind::Enter => EventKind::Enter,
                RecordKind::Exit => EventKind::Exit,
                RecordKind::TailExit => EventKind::TailExit,
            },
            id: r.id,
            function,
            timestamp_us: placed.timestamp_us,
            depth: placed.depth,
            duration_us: placed.duration_us,
            values: r.values,
            snapshot: r.snapshot,
        })
    }
}

/// Iterator over a trace's events; see [`Trace::events`].
pub struct Decoder<'a> {
    trace: &'a Trace,
    /// The size of every entry and exit, when they all have one.
    stride: Option<usize>,
    records: Records<'a>,
    /// Bytes of the chunks before the current one, for error offsets.
    consumed: usize,
    slices: alloc::boxed::Box<dyn Iterator<Item = &'a [u8]> + 'a>,
    state: StreamState,
    closing: bool,
}

impl core::fmt::Debug for Decoder<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decoder")
            .field("consumed", &self.consumed)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

impl<'a> Iterator for Decoder<'a> {
    type Item = Result<Event<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let functions = &self.trace.table.functions;
        if let Some(r) = self.stride.and_then(|s| self.records.next_uniform(s)) {
            return Some(self.event_of(r));
        }
        while !self.closing {
            match self.records.next() {
                Some(Ok(r)) => return Some(self.event_of(r)),
                Some(Err(e)) => {
                    self.closing = true;
                    return Some(Err(e));
                }
                None => match self.slices.next() {
                    Some(next) => {
                        self.records = Records::new(&self.trace.layout, next, self.consumed);
                        self.consumed += next.len();
                    }
                    None => self.closing = true,
                },
            }
        }
        if self.trace.recorded.continues {
            return None;
        }
        let frame = self.state.open.pop()?;
        let function = functions.get(frame.id as usize)?;
        let reason = if self.trace.recorded.cut_at_end {
            CloseReason::Lost
        } else {
            self.trace.close_reason()
        };
        let timestamp_us = if self.trace.layout.timestamps() {
            Some(
                self.trace
                    .end_us
                    .unwrap_or(self.state.clock_us)
                    .max(self.state.clock_us),
            )
        } else {
            None
        };
        Some(Ok(Event {
            kind: EventKind::Closed(reason),
            id: frame.id,
            function,
            timestamp_us,
            depth: frame.depth,
            duration_us: match (timestamp_us, frame.entered_us) {
                (Some(t), Some(e)) => Some(t.saturating_sub(e)),
                _ => None,
            },
            values: &[],
            snapshot: &[],
        }))
    }
}
