//! Decoded trace events.

use crate::record;
use crate::source::{
    self, Limits, Lowering, Place, ResultLowering, Snapshot, SourceType, SourceValue, TypeId,
};
use crate::table::FunctionInfo;
use crate::value::Value;
use alloc::vec::Vec;

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
    pub(crate) snapshot: &'a [u8],
}

/// One argument or result in source terms.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceArg<'a> {
    /// Parameter name (empty for a result).
    pub name: &'a str,
    /// Its type.
    pub ty: TypeId,
    /// Its value as read at the time of the call.
    pub value: SourceValue,
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

    /// The arguments (entry) or the result (exit) in source terms, when the
    /// function's source signature is known; `types` is the table's.
    pub fn source_values(&self, types: &[SourceType]) -> Option<Vec<SourceArg<'a>>> {
        self.source_values_within(types, Limits::default())
    }

    /// Like [`Event::source_values`], with the limits the trace was
    /// recorded with (the table's).
    pub fn source_values_within(
        &self,
        types: &[SourceType],
        limits: Limits,
    ) -> Option<Vec<SourceArg<'a>>> {
        let mut out = Vec::new();
        self.each_source_value(types, limits, |a| out.push(a))
            .then_some(out)
    }

    /// Hands each argument (entry) or result (exit) in source terms to
    /// `visit`, in order, when the function's source signature is known,
    /// and returns whether it is. Values that need no guest memory (the
    /// scalars most calls pass) are read without allocating.
    pub fn each_source_value(
        &self,
        types: &[SourceType],
        limits: Limits,
        mut visit: impl FnMut(SourceArg<'a>),
    ) -> bool {
        let Some(sig) = self.function.source.as_ref() else {
            return false;
        };
        let read = |ty, place, memory: &mut Snapshot| {
            source::read_value_within(types, ty, place, memory, limits)
        };
        let opaque = |ty: TypeId| {
            SourceValue::Opaque(
                types
                    .get(ty as usize)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
            )
        };
        // The wasm values, on the stack for any signature short enough.
        let mut inline = [Value::I32(0); INLINE_VALUES];
        let spilled: Vec<Value>;
        let count = self.values().count();
        let wasm: &[Value] = if count <= INLINE_VALUES {
            for (slot, v) in inline.iter_mut().zip(self.values()) {
                *slot = v;
            }
            &inline[..count]
        } else {
            spilled = self.values().collect();
            &spilled
        };
        match self.kind {
            EventKind::Enter => {
                let mut memory = Snapshot::decode(self.snapshot).unwrap_or_default();
                for p in &sig.params {
                    let value = match p.lowering {
                        Lowering::Scalars { first, count } => {
                            let vals = wasm
                                .get(first as usize..(first + count) as usize)
                                .unwrap_or(&[]);
                            read(p.ty, Place::Scalars(vals), &mut memory)
                        }
                        Lowering::Indirect { param } => match wasm.get(param as usize) {
                            Some(Value::I32(addr)) => {
                                read(p.ty, Place::Memory(*addr as u32), &mut memory)
                            }
                            _ => opaque(p.ty),
                        },
                    };
                    visit(SourceArg {
                        name: &p.name,
                        ty: p.ty,
                        value,
                    });
                }
            }
            EventKind::Exit => {
                let Some((ty, lowering)) = sig.result else {
                    return true;
                };
                let value = match lowering {
                    ResultLowering::Direct => {
                        let mut memory = Snapshot::decode(self.snapshot).unwrap_or_default();
                        read(ty, Place::Scalars(wasm), &mut memory)
                    }
                    ResultLowering::Indirect { .. } => {
                        let addr = self
                            .snapshot
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        let mut memory = Snapshot::decode(self.snapshot.get(4..).unwrap_or(&[]))
                            .unwrap_or_default();
                        match addr {
                            Some(addr) => read(ty, Place::Memory(addr), &mut memory),
                            None => opaque(ty),
                        }
                    }
                };
                visit(SourceArg {
                    name: "",
                    ty,
                    value,
                });
            }
            _ => return false,
        }
        true
    }
}

/// Wasm values of one event read without allocating; a signature with
/// more spills to the heap.
const INLINE_VALUES: usize = 16;
