//! Decoded trace events.

use crate::record;
use crate::table::FunctionInfo;
use crate::value::Value;

/// Why a frame was closed by the host rather than by its own exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The guest trapped while the frame was open.
    Trapped,
    /// The guest exited the process (WASI `proc_exit`) while it was open.
    Exited,
    /// The run was interrupted (time-out, fuel) while it was open.
    Interrupted,
    /// Its exit was not kept (the ring kept the oldest events and filled up).
    Lost,
}

impl CloseReason {
    /// A short word for the reason: `trapped`, `exited`, `interrupted`, `lost`.
    pub fn word(self) -> &'static str {
        match self {
            CloseReason::Trapped => "trapped",
            CloseReason::Exited => "exited",
            CloseReason::Interrupted => "interrupted",
            CloseReason::Lost => "lost",
        }
    }
}

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A call began; values are the arguments.
    Enter,
    /// A call returned; values are the results.
    Exit,
    /// A call left through a tail call; it has no results of its own.
    TailExit,
    /// A call was closed by the host; it has no results.
    Closed(CloseReason),
}

impl EventKind {
    /// Whether this event ends a call.
    pub fn is_exit(self) -> bool {
        !matches!(self, EventKind::Enter)
    }
}

/// One decoded event.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// Function id (index into the function table).
    pub id: u32,
    /// The function.
    pub function: &'a FunctionInfo,
    /// Microseconds since the trace started, when recorded.
    pub timestamp_us: Option<u64>,
    /// Call depth: 0 for the outermost traced call.
    pub depth: u32,
    /// For exits: microseconds since the matching entry, when both are known.
    pub duration_us: Option<u64>,
    pub(crate) values: &'a [u8],
}

impl<'a> Event<'a> {
    /// The arguments of an entry or the results of an exit.
    pub fn values(&self) -> impl Iterator<Item = Value> + 'a {
        let types: &'a [_] = match self.kind {
            EventKind::Enter => &self.function.params,
            EventKind::Exit => &self.function.results,
            _ => &[],
        };
        record::values(types, self.values)
    }
}
