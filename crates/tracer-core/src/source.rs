//! Source-level types and values: what debug information says a function's
//! parameters and results are (`n: i64`, `p: Point`, `name: String`), how
//! they were lowered to wasm values, and how to read them back — from the
//! recorded wasm values and, for anything behind a pointer, from a snapshot
//! of the guest memory the host took at the moment of the call.
//!
//! One walker reads values for both: a host runs it against live guest
//! memory, recording every byte it reads into a [`Snapshot`]; the decoder
//! later runs it against that snapshot and gets the same value. A read the
//! memory cannot satisfy gives [`SourceValue::Unreadable`], never a guess.

use crate::value::Value;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Longest string shown, in bytes; longer ones are cut with an ellipsis.
pub const MAX_STRING_BYTES: u32 = 64;
/// Most elements of a sequence shown.
pub const MAX_ELEMENTS: u32 = 8;
/// Deepest nesting followed through pointers and fields.
pub const MAX_DEPTH: u32 = 6;
/// Most type nodes one walk visits, reading a value or counting a type's
/// scalar leaves. Types come from debug information a module carries, and a
/// forged table can make types refer to each other many times over (or to
/// themselves): without this, one walk could take exponential time.
pub const MAX_TYPE_VISITS: u32 = 1 << 12;
/// Most hash-map buckets scanned for entries: the control bytes of a
/// larger table are not read past this many.
pub const MAX_MAP_BUCKETS: u32 = 1 << 12;

/// How much of a value is read from guest memory and shown. The recorder
/// reads with the limits the trace was made with, and the decoder shows
/// with the same, so a cut value is always marked as cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest string shown, in bytes.
    pub max_string: u32,
    /// Most elements of a sequence, or entries of a map, shown.
    pub max_elements: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_string: MAX_STRING_BYTES,
            max_elements: MAX_ELEMENTS,
        }
    }
}

/// One variant of an [`TypeKind::Enum`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name (`Some`, `Circle`).
    pub name: String,
    /// The tag value that selects it; `None` for the variant every other
    /// tag value selects (the data-carrying variant of a niche layout).
    pub discr: Option<u64>,
    /// Its fields: name (`__0`, `__1`… for tuple variants), byte offset
    /// from the start of the enum, type.
    pub fields: Vec<(String, u32, TypeId)>,
}

/// Index into [`FunctionTable::types`](crate::FunctionTable::types).
pub type TypeId = u32;

/// The shape of a source type, enough to read values of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// An integer of `bytes` bytes (1, 2, 4, 8 or 16).
    Int {
        /// Whether it is signed.
        signed: bool,
        /// Size in bytes.
        bytes: u8,
    },
    /// A float of 4 or 8 bytes.
    Float {
        /// Size in bytes.
        bytes: u8,
    },
    /// A boolean (one byte in memory, an `i32` as a value).
    Bool,
    /// A Unicode scalar value (four bytes).
    Char,
    /// The unit type `()`, or any zero-sized type.
    Unit,
    /// A struct with named fields at byte offsets.
    Struct {
        /// Fields: name, byte offset, type.
        fields: Vec<(String, u32, TypeId)>,
    },
    /// An owned UTF-8 string (`String`): pointer and length inside it.
    Str {
        /// Offset of the data pointer.
        ptr: u32,
        /// Offset of the length.
        len: u32,
    },
    /// A string slice `&str`: data pointer at 0, length at 4.
    StrRef,
    /// A slice `&[T]`: data pointer at 0, length at 4.
    Slice {
        /// Element type.
        elem: TypeId,
    },
    /// A growable vector (`Vec<T>`): pointer and length inside it.
    Vec {
        /// Element type.
        elem: TypeId,
        /// Offset of the data pointer.
        ptr: u32,
        /// Offset of the length.
        len: u32,
    },
    /// A thin pointer or reference to a value of the target type.
    Pointer {
        /// The pointee.
        target: TypeId,
    },
    /// A sum type (an enum, `Option`, `Result`), from DWARF's variant part
    /// or a C-like enumeration.
    Enum {
        /// Offset and size in bytes of the tag; `None` when there is only
        /// one variant.
        tag: Option<(u32, u8)>,
        /// The variants.
        variants: Vec<Variant>,
    },
    /// A hash map in hashbrown's layout (`HashMap`, `HashSet`): entries
    /// sit before the control bytes, one control byte per bucket, with the
    /// high bit clear for a full bucket.
    HashMap {
        /// Offset of the control-bytes pointer.
        ctrl: u32,
        /// Offset of the bucket mask (bucket count - 1).
        mask: u32,
        /// Offset of the entry count.
        items: u32,
        /// The entry type: a `(K, V)` tuple for a map, `K` for a set.
        entry: TypeId,
    },
    /// A `BTreeMap`: a tree of nodes, each holding up to 11 keys and values
    /// in arrays; an internal node also holds one more child pointer than
    /// keys. Entries are read in key order.
    BTreeMap {
        /// Offset of the root node's address (0 when the map is empty).
        root: u32,
        /// Offset of the root's height (0: the root is a leaf).
        height: u32,
        /// Offset of the entry count.
        length: u32,
        /// Offset of the key array in a node.
        keys: u32,
        /// Offset of the value array in a node.
        vals: u32,
        /// Offset of a node's `u16` key count.
        len: u32,
        /// Offset of an internal node's child pointers.
        edges: u32,
        /// The key type.
        key: TypeId,
        /// The value type.
        value: TypeId,
    },
    /// Something this version cannot read; shown by its name.
    Opaque,
}

/// For an enum that Rust passes as a pair of scalars (tag, payload) — every
/// variant carries at most one field, all of the same scalar type — that
/// type; `Some(None)` for an enum with no payload at all (passed as its tag).
pub fn enum_payload(types: &[SourceType], variants: &[Variant]) -> Option<Option<TypeId>> {
    let mut payload: Option<TypeId> = None;
    for v in variants {
        match v.fields.as_slice() {
            [] => {}
            [(_, _, ty)] => {
                let t = types.get(*ty as usize)?;
                let scalar = matches!(
                    t.kind,
                    TypeKind::Int { .. } | TypeKind::Float { .. } | TypeKind::Bool | TypeKind::Char
                ) && t.size <= 8;
                match payload {
                    _ if !scalar => return None,
                    Some(p) if types.get(p as usize).map(|p| &p.kind) != Some(&t.kind) => {
                        return None
                    }
                    _ => payload = Some(*ty),
                }
            }
            _ => return None,
        }
    }
    Some(payload)
}

/// A source type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceType {
    /// Its name as the program spells it (`i64`, `String`, `Point`).
    pub name: String,
    /// Size in bytes.
    pub size: u32,
    /// Its shape.
    pub kind: TypeKind,
}

/// How a source parameter became wasm parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// The value's scalars are wasm parameters `first..first + count`
    /// (count 0 for zero-sized values, 2 for pairs such as `&str` or a
    /// two-field struct).
    Scalars {
        /// First wasm parameter.
        first: u32,
        /// How many.
        count: u32,
    },
    /// The value sits in memory at the address wasm parameter `param` holds.
    Indirect {
        /// The wasm parameter holding the address.
        param: u32,
    },
}

/// How a source result came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultLowering {
    /// As the wasm results.
    Direct,
    /// Written to memory at the address wasm parameter `param` held.
    Indirect {
        /// The wasm parameter holding the address.
        param: u32,
    },
}

/// A parameter as the source declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceParam {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// Where its value travels.
    pub lowering: Lowering,
}

/// A function's signature as the source declares it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceSignature {
    /// Parameters, in source order.
    pub params: Vec<SourceParam>,
    /// The result type and how it returns, unless it is `()`.
    pub result: Option<(TypeId, ResultLowering)>,
}

impl SourceSignature {
    /// Whether reading the arguments needs guest memory.
    pub fn entry_reads_memory(&self, types: &[SourceType]) -> bool {
        self.params
            .iter()
            .any(|p| matches!(p.lowering, Lowering::Indirect { .. }) || needs_memory(types, p.ty))
    }

    /// Whether reading the result needs guest memory.
    pub fn exit_reads_memory(&self, types: &[SourceType]) -> bool {
        match self.result {
            Some((_, ResultLowering::Indirect { .. })) => true,
            Some((ty, ResultLowering::Direct)) => needs_memory(types, ty),
            None => false,
        }
    }
}

/// Whether a memory-backed type is among `ty` and the types its fields
/// reach within [`MAX_DEPTH`] levels. Breadth first, each type visited once
/// at its shallowest level, so a table whose types share fields costs its
/// size and no more.
fn needs_memory(types: &[SourceType], ty: TypeId) -> bool {
    // Most parameters are a scalar or a string: answered without the
    // search's buffers.
    match types.get(ty as usize).map(|t| &t.kind) {
        Some(TypeKind::Struct { .. } | TypeKind::Enum { .. }) => {}
        Some(kind) => return is_memory_backed(kind),
        None => return false,
    }
    let mut seen = alloc::vec![false; types.len()];
    let mut level = alloc::vec![ty];
    for _ in 0..=MAX_DEPTH {
        let mut next = Vec::new();
        for ty in level {
            let Some(t) = types.get(ty as usize) else {
                continue;
            };
            if core::mem::replace(&mut seen[ty as usize], true) {
                continue;
            }
            match &t.kind {
                TypeKind::Struct { fields } => next.extend(fields.iter().map(|&(_, _, f)| f)),
                TypeKind::Enum { variants, .. } => next.extend(
                    variants
                        .iter()
                        .flat_map(|v| v.fields.iter().map(|&(_, _, f)| f)),
                ),
                kind if is_memory_backed(kind) => return true,
                _ => {}
            }
        }
        level = next;
    }
    false
}

/// Whether a value of this kind lives (partly) behind a pointer.
fn is_memory_backed(kind: &TypeKind) -> bool {
    matches!(
        kind,
        TypeKind::Str { .. }
            | TypeKind::StrRef
            | TypeKind::Slice { .. }
            | TypeKind::Vec { .. }
            | TypeKind::Pointer { .. }
            | TypeKind::HashMap { .. }
            | TypeKind::BTreeMap { .. }
    )
}

/// A value read back in source terms.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceValue {
    /// A signed integer.
    Int(i128),
    /// An unsigned integer.
    UInt(u128),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A character (or the raw value, when it is not a valid one).
    Char(u32),
    /// `()`.
    Unit,
    /// Text, possibly cut: the shown part and the full length in bytes.
    Str {
        /// The bytes shown (lossily decoded).
        text: String,
        /// Full length in bytes.
        len: u32,
    },
    /// A struct: its type name and fields.
    Struct {
        /// Type name.
        name: String,
        /// Field names and values.
        fields: Vec<(String, SourceValue)>,
    },
    /// A value of a sum type.
    Enum {
        /// The type name to qualify the variant with (`Shape`), empty for
        /// `Option` and `Result`, whose variants Ruchy writes bare.
        name: String,
        /// The variant.
        variant: String,
        /// Its fields (`__0`, `__1`… for a tuple variant).
        fields: Vec<(String, SourceValue)>,
    },
    /// A tuple.
    Tuple(Vec<SourceValue>),
    /// A map: its first entries and its full entry count.
    Map {
        /// Entries shown, in the table's order.
        entries: Vec<(SourceValue, SourceValue)>,
        /// Full entry count.
        len: u32,
    },
    /// A set: its first elements and its full element count.
    Set {
        /// Elements shown, in the table's order.
        items: Vec<SourceValue>,
        /// Full element count.
        len: u32,
    },
    /// A sequence: the first elements and the full length.
    Seq {
        /// Elements shown.
        items: Vec<SourceValue>,
        /// Full length.
        len: u32,
    },
    /// What a reference points to.
    Ref(Box<SourceValue>),
    /// Memory at this address could not be read: a bad pointer.
    Unreadable(u32),
    /// A value of a type this version cannot show.
    Opaque(String),
}

/// Guest memory as the walker sees it.
pub trait Memory {
    /// `len` bytes at `addr`, or `None` when out of bounds (or not captured).
    fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]>;
}

/// Bytes read from guest memory at call time: `(address, bytes)` regions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    regions: Vec<(u32, Vec<u8>)>,
}

impl Snapshot {
    /// Serializes as `count, (addr, len, bytes)*`, little-endian `u32`s.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.regions.len() as u32).to_le_bytes());
        for (addr, bytes) in &self.regions {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }

    /// Reads what [`Snapshot::encode`] wrote; `None` if malformed.
    pub fn decode(mut bytes: &[u8]) -> Option<Snapshot> {
        let u32_at = |b: &mut &[u8]| -> Option<u32> {
            let v = u32::from_le_bytes(b.get(..4)?.try_into().ok()?);
            *b = &b[4..];
            Some(v)
        };
        let n = u32_at(&mut bytes)?;
        let mut regions = Vec::new();
        for _ in 0..n {
            let addr = u32_at(&mut bytes)?;
            let len = u32_at(&mut bytes)? as usize;
            regions.push((addr, bytes.get(..len)?.to_vec()));
            bytes = &bytes[len..];
        }
        Some(Snapshot { regions })
    }
}

impl Memory for Snapshot {
    fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]> {
        let end = addr.checked_add(len)?;
        self.regions.iter().find_map(|(a, b)| {
            let off = addr.checked_sub(*a)? as usize;
            (end as usize - *a as usize <= b.len()).then(|| &b[off..off + len as usize])
        })
    }
}

/// Wraps live memory, keeping a copy of every successful read.
pub struct Recording<M> {
    /// The memory read.
    pub inner: M,
    /// What was read.
    pub snapshot: Snapshot,
}

impl<M> core::fmt::Debug for Recording<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Recording")
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

impl<M: Memory> Memory for Recording<M> {
    fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]> {
        let bytes = self.inner.read(addr, len)?.to_vec();
        self.snapshot.regions.push((addr, bytes));
        self.snapshot.regions.last().map(|(_, b)| &b[..])
    }
}

/// Where a value to read is.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// In memory at this address.
    Memory(u32),
    /// Spread over these wasm values (in order of the type's scalar leaves).
    Scalars(&'a [Value]),
}

fn le(bytes: &[u8]) -> u128 {
    let mut v = 0u128;
    for (i, b) in bytes.iter().enumerate().take(16) {
        v |= u128::from(*b) << (8 * i);
    }
    v
}

fn value_bits(v: &Value) -> u128 {
    match *v {
        Value::I32(x) => x as u32 as u128,
        Value::I64(x) => x as u64 as u128,
        Value::F32(x) => x.to_bits() as u128,
        Value::F64(x) => x.to_bits() as u128,
        Value::V128(x) => x,
        Value::Ref { null } => u128::from(null),
        Value::Unrecorded(_) => 0,
    }
}

/// Number of scalar leaves a type spreads over when passed by value, or
/// `None` when it is not passed in scalars (or would take more than
/// [`MAX_TYPE_VISITS`] types to count, as only a cyclic or forged table does).
pub fn leaf_count(types: &[SourceType], ty: TypeId) -> Option<u32> {
    leaves(types, ty, &mut { MAX_TYPE_VISITS })
}

/// [`leaf_count`], taking each type it visits from `visits`.
fn leaves(types: &[SourceType], ty: TypeId, visits: &mut u32) -> Option<u32> {
    let t = types.get(ty as usize)?;
    *visits = visits.checked_sub(1)?;
    Some(match &t.kind {
        TypeKind::Int { bytes: 16, .. } => 2,
        TypeKind::Int { .. }
        | TypeKind::Float { .. }
        | TypeKind::Bool
        | TypeKind::Char
        | TypeKind::Pointer { .. } => 1,
        TypeKind::Unit => 0,
        TypeKind::StrRef | TypeKind::Slice { .. } => 2,
        TypeKind::Struct { fields } => {
            let mut n = 0u32;
            for &(_, _, f) in fields {
                n = n.checked_add(leaves(types, f, visits)?)?;
            }
            n
        }
        TypeKind::Str { .. } | TypeKind::Vec { .. } => 3,
        TypeKind::Enum { variants, .. } => match enum_payload(types, variants)? {
            None => 1,
            Some(_) => 2,
        },
        TypeKind::HashMap { .. } | TypeKind::BTreeMap { .. } | TypeKind::Opaque => return None,
    })
}

/// Reads a value of type `ty` at `place`, within the default [`Limits`].
pub fn read_value(
    types: &[SourceType],
    ty: TypeId,
    place: Place<'_>,
    mem: &mut dyn Memory,
) -> SourceValue {
    read_value_within(types, ty, place, mem, Limits::default())
}

/// Reads a value of type `ty` at `place`, reading at most what `limits`
/// allow of strings and sequences.
pub fn read_value_within(
    types: &[SourceType],
    ty: TypeId,
    place: Place<'_>,
    mem: &mut dyn Memory,
    limits: Limits,
) -> SourceValue {
    Walker {
        types,
        mem,
        limits,
        visits: MAX_TYPE_VISITS,
    }
    .read(ty, place, 0)
}

struct Walker<'t, 'm> {
    types: &'t [SourceType],
    mem: &'m mut dyn Memory,
    limits: Limits,
    /// Type nodes this value may still visit; past them a value shows as
    /// its type's name, as one nested deeper than [`MAX_DEPTH`] does. A
    /// value then has at most this many parts, plus the cut fields of the
    /// structs being read when it ran out: [`MAX_DEPTH`] structs at most.
    visits: u32,
}

fn masked(raw: u128, bytes: u32) -> u128 {
    if bytes >= 16 {
        raw
    } else {
        raw & ((1u128 << (bytes * 8)) - 1)
    }
}

impl Walker<'_, '_> {
    fn bits(&mut self, place: Place<'_>, size: u32) -> Result<u128, SourceValue> {
        match place {
            Place::Scalars(vals) => vals
                .first()
                .map(value_bits)
                .ok_or(SourceValue::Opaque(String::from("?"))),
            Place::Memory(addr) => self
                .mem
                .read(addr, size)
                .map(le)
                .ok_or(SourceValue::Unreadable(addr)),
        }
    }

    /// A `u32` at `addr`, if readable.
    fn word(&mut self, addr: u32) -> Option<u32> {
        self.mem.read(addr, 4).map(|b| le(b) as u32)
    }

    fn read(&mut self, ty: TypeId, place: Place<'_>, depth: u32) -> SourceValue {
        let types = self.types;
        let Some(t) = types.get(ty as usize) else {
            return SourceValue::Opaque(String::from("?"));
        };
        if self.visits == 0 {
            return SourceValue::Opaque(t.name.clone());
        }
        self.visits -= 1;
        if depth > MAX_DEPTH {
            return SourceValue::Opaque(t.name.clone());
        }
        match &t.kind {
            TypeKind::Int { signed, bytes } => {
                let raw = match (place, *bytes) {
                    (Place::Scalars(v), 16) if v.len() >= 2 => {
                        Ok(value_bits(&v[0]) | (value_bits(&v[1]) << 64))
                    }
                    _ => self.bits(place, u32::from(*bytes)),
                };
                match raw {
                    Err(e) => e,
                    Ok(raw) => {
                        let width = u32::from(*bytes) * 8;
                        let m = masked(raw, u32::from(*bytes));
                        if *signed {
                            let shift = 128 - width;
                            SourceValue::Int(((m << shift) as i128) >> shift)
                        } else {
                            SourceValue::UInt(m)
                        }
                    }
                }
            }
            TypeKind::Float { bytes } => match self.bits(place, u32::from(*bytes)) {
                Err(e) => e,
                Ok(raw) if *bytes == 4 => SourceValue::Float(f64::from(f32::from_bits(raw as u32))),
                Ok(raw) => SourceValue::Float(f64::from_bits(raw as u64)),
            },
            TypeKind::Bool => match self.bits(place, 1) {
                Err(e) => e,
                Ok(raw) => SourceValue::Bool(raw & 1 != 0),
            },
            TypeKind::Char => match self.bits(place, 4) {
                Err(e) => e,
                Ok(raw) => SourceValue::Char(raw as u32),
            },
            TypeKind::Unit => SourceValue::Unit,
            TypeKind::Struct { fields } => {
                let fields = self.fields(fields, place, depth);
                if t.name.starts_with('(') {
                    SourceValue::Tuple(fields.into_iter().map(|(_, v)| v).collect())
                } else {
                    SourceValue::Struct {
                        name: t.name.clone(),
                        fields,
                    }
                }
            }
            TypeKind::Enum { tag, variants } => self.variant(t, *tag, variants, place, depth),
            TypeKind::Str { ptr, len } => match place {
                Place::Memory(addr) => {
                    match (
                        self.word(addr.wrapping_add(*ptr)),
                        self.word(addr.wrapping_add(*len)),
                    ) {
                        (Some(p), Some(l)) => self.text(p, l),
                        _ => SourceValue::Unreadable(addr),
                    }
                }
                Place::Scalars(_) => SourceValue::Opaque(t.name.clone()),
            },
            TypeKind::StrRef | TypeKind::Slice { .. } => {
                let (p, l) = match place {
                    Place::Scalars(v) if v.len() >= 2 => {
                        (value_bits(&v[0]) as u32, value_bits(&v[1]) as u32)
                    }
                    Place::Scalars(_) => return SourceValue::Opaque(t.name.clone()),
                    Place::Memory(addr) => match (self.word(addr), self.word(addr.wrapping_add(4)))
                    {
                        (Some(p), Some(l)) => (p, l),
                        _ => return SourceValue::Unreadable(addr),
                    },
                };
                match &t.kind {
                    TypeKind::Slice { elem } => self.seq(*elem, p, l, depth),
                    _ => self.text(p, l),
                }
            }
            TypeKind::Vec { elem, ptr, len } => match place {
                Place::Memory(addr) => {
                    match (
                        self.word(addr.wrapping_add(*ptr)),
                        self.word(addr.wrapping_add(*len)),
                    ) {
                        (Some(p), Some(l)) => self.seq(*elem, p, l, depth),
                        _ => SourceValue::Unreadable(addr),
                    }
                }
                Place::Scalars(_) => SourceValue::Opaque(t.name.clone()),
            },
            TypeKind::HashMap {
                ctrl,
                mask,
                items,
                entry,
            } => match place {
                Place::Memory(addr) => {
                    let words = (
                        self.word(addr.wrapping_add(*ctrl)),
                        self.word(addr.wrapping_add(*mask)),
                        self.word(addr.wrapping_add(*items)),
                    );
                    match words {
                        (Some(c), Some(m), Some(n)) => match self.map(*entry, c, m, n, depth) {
                            // A hashbrown set is a map to `()`.
                            SourceValue::Map { entries, len } if t.name.starts_with("HashSet<") => {
                                SourceValue::Set {
                                    items: entries.into_iter().map(|(k, _)| k).collect(),
                                    len,
                                }
                            }
                            other => other,
                        },
                        _ => SourceValue::Unreadable(addr),
                    }
                }
                Place::Scalars(_) => SourceValue::Opaque(t.name.clone()),
            },
            TypeKind::BTreeMap {
                root,
                height,
                length,
                ..
            } => match place {
                Place::Memory(addr) => {
                    let words = (
                        self.word(addr.wrapping_add(*root)),
                        self.word(addr.wrapping_add(*height)),
                        self.word(addr.wrapping_add(*length)),
                    );
                    match words {
                        (Some(r), Some(h), Some(n)) => self.btree(&t.kind, r, h, n, depth),
                        _ => SourceValue::Unreadable(addr),
                    }
                }
                Place::Scalars(_) => SourceValue::Opaque(t.name.clone()),
            },
            TypeKind::Pointer { target } => match self.bits(place, 4) {
                Err(e) => e,
                Ok(p) => {
                    let size = types.get(*target as usize).map_or(0, |t| t.size);
                    if size > 0 && self.mem.read(p as u32, size).is_none() {
                        return SourceValue::Ref(Box::new(SourceValue::Unreadable(p as u32)));
                    }
                    SourceValue::Ref(Box::new(self.read(
                        *target,
                        Place::Memory(p as u32),
                        depth + 1,
                    )))
                }
            },
            TypeKind::Opaque => SourceValue::Opaque(t.name.clone()),
        }
    }

    /// Fields at their offsets from `place`, or spread over its scalars.
    fn fields(
        &mut self,
        fields: &[(String, u32, TypeId)],
        place: Place<'_>,
        depth: u32,
    ) -> Vec<(String, SourceValue)> {
        let mut out = Vec::new();
        let mut leaf = 0usize;
        for (name, offset, fty) in fields {
            let v = match place {
                Place::Memory(addr) => {
                    self.read(*fty, Place::Memory(addr.wrapping_add(*offset)), depth + 1)
                }
                Place::Scalars(vals) => {
                    let n = leaves(self.types, *fty, &mut self.visits).unwrap_or(0) as usize;
                    let part = vals.get(leaf..leaf + n).unwrap_or(&[]);
                    leaf += n;
                    self.read(*fty, Place::Scalars(part), depth + 1)
                }
            };
            out.push((name.clone(), v));
        }
        out
    }

    /// The variant the tag selects, with its fields. In scalars, an enum
    /// is its tag followed by its one payload (see [`enum_payload`]).
    fn variant(
        &mut self,
        t: &SourceType,
        tag: Option<(u32, u8)>,
        variants: &[Variant],
        place: Place<'_>,
        depth: u32,
    ) -> SourceValue {
        let value = match (tag, place) {
            (None, _) => None,
            (Some((offset, bytes)), Place::Memory(addr)) => {
                match self.bits(Place::Memory(addr.wrapping_add(offset)), u32::from(bytes)) {
                    Ok(v) => Some(masked(v, u32::from(bytes))),
                    Err(e) => return e,
                }
            }
            (Some((_, bytes)), Place::Scalars(vals)) => match vals.first() {
                Some(v) => Some(masked(value_bits(v), u32::from(bytes))),
                None => return SourceValue::Opaque(t.name.clone()),
            },
        };
        let chosen = variants
            .iter()
            .find(|v| v.discr.is_some() && v.discr.map(u128::from) == value)
            .or_else(|| variants.iter().find(|v| v.discr.is_none() || tag.is_none()));
        let Some(v) = chosen else {
            return SourceValue::Opaque(t.name.clone());
        };
        let fields = match place {
            Place::Memory(_) => self.fields(&v.fields, place, depth),
            Place::Scalars(vals) => match (v.fields.first(), vals.get(1..)) {
                (Some((name, _, fty)), Some(rest)) => {
                    alloc::vec![(
                        name.clone(),
                        self.read(*fty, Place::Scalars(rest), depth + 1)
                    )]
                }
                _ => Vec::new(),
            },
        };
        let qualified = !(t.name.starts_with("Option<") || t.name.starts_with("Result<"));
        SourceValue::Enum {
            name: if qualified {
                t.name.clone()
            } else {
                String::new()
            },
            variant: v.name.clone(),
            fields,
        }
    }

    fn text(&mut self, ptr: u32, len: u32) -> SourceValue {
        let shown = len.min(self.limits.max_string);
        match self.mem.read(ptr, shown) {
            Some(bytes) => {
                // Cut at a character boundary, not inside one.
                let text = match core::str::from_utf8(bytes) {
                    Ok(s) => String::from(s),
                    Err(e) if e.error_len().is_none() => {
                        String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
                    }
                    Err(_) => String::from_utf8_lossy(bytes).into_owned(),
                };
                SourceValue::Str { text, len }
            }
            None => SourceValue::Unreadable(ptr),
        }
    }

    fn seq(&mut self, elem: TypeId, ptr: u32, len: u32, depth: u32) -> SourceValue {
        let size = self.types.get(elem as usize).map(|t| t.size).unwrap_or(0);
        let items = (0..len.min(self.limits.max_elements))
            .map(|i| {
                self.read(
                    elem,
                    Place::Memory(ptr.wrapping_add(i.wrapping_mul(size))),
                    depth + 1,
                )
            })
            .collect();
        SourceValue::Seq { items, len }
    }

    /// The first entries of a hashbrown table: bucket `i` is full when its
    /// control byte has the high bit clear, and its entry is the `i + 1`th
    /// entry-sized slot below the control bytes.
    fn map(&mut self, entry: TypeId, ctrl: u32, mask: u32, items: u32, depth: u32) -> SourceValue {
        let size = self.types.get(entry as usize).map_or(0, |t| t.size);
        let mut entries = Vec::new();
        let buckets = mask.saturating_add(1).min(MAX_MAP_BUCKETS);
        if items > 0 && size > 0 {
            let Some(control) = self.mem.read(ctrl, buckets).map(<[u8]>::to_vec) else {
                return SourceValue::Unreadable(ctrl);
            };
            for (i, c) in control.iter().enumerate() {
                if entries.len() as u32 >= self.limits.max_elements.min(items) {
                    break;
                }
                if c & 0x80 != 0 {
                    continue;
                }
                let at = ctrl.wrapping_sub((i as u32 + 1).wrapping_mul(size));
                let (k, v) = match self.read(entry, Place::Memory(at), depth + 1) {
                    SourceValue::Tuple(mut kv) if kv.len() == 2 => {
                        let v = kv.pop().unwrap_or(SourceValue::Unit);
                        (kv.pop().unwrap_or(SourceValue::Unit), v)
                    }
                    key => (key, SourceValue::Unit),
                };
                entries.push((k, v));
            }
        }
        SourceValue::Map {
            entries,
            len: items,
        }
    }
}

/// Where a walk through a `BTreeMap` is: the entries read so far, how many
/// are wanted, and how many more nodes may be visited.
struct TreeWalk {
    entries: Vec<(SourceValue, SourceValue)>,
    wanted: u32,
    visits: u32,
}

impl Walker<'_, '_> {
    /// The first entries of a `BTreeMap` in key order, from its root node
    /// `root` of height `height`; `length` is its entry count.
    fn btree(
        &mut self,
        kind: &TypeKind,
        root: u32,
        height: u32,
        length: u32,
        depth: u32,
    ) -> SourceValue {
        let mut walk = TreeWalk {
            entries: Vec::new(),
            wanted: length.min(self.limits.max_elements),
            visits: MAX_TREE_NODES,
        };
        if root != 0 && length > 0 {
            if height > MAX_TREE_HEIGHT {
                return SourceValue::Unreadable(root);
            }
            if let Err(addr) = self.tree_node(kind, root, height, &mut walk, depth) {
                return SourceValue::Unreadable(addr);
            }
        }
        SourceValue::Map {
            entries: walk.entries,
            len: length,
        }
    }

    /// Reads the entries under `node` in order (for an internal node, child
    /// `i`, then entry `i`, and the last child last) until enough are read;
    /// `Err` names an address that could not be read or holds no node.
    fn tree_node(
        &mut self,
        kind: &TypeKind,
        node: u32,
        height: u32,
        walk: &mut TreeWalk,
        depth: u32,
    ) -> Result<(), u32> {
        let TypeKind::BTreeMap {
            keys,
            vals,
            len,
            edges,
            key,
            value,
            ..
        } = *kind
        else {
            return Err(node);
        };
        if walk.visits == 0 {
            return Err(node);
        }
        walk.visits -= 1;
        let count = self
            .mem
            .read(node.wrapping_add(len), 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or(node)?;
        if count > BTREE_CAPACITY {
            return Err(node);
        }
        let size = |ty: TypeId| self.types.get(ty as usize).map_or(0, |t| t.size);
        let (key_size, value_size) = (size(key), size(value));
        for i in 0..=count {
            if walk.entries.len() as u32 >= walk.wanted {
                return Ok(());
            }
            if height > 0 {
                let child = self
                    .word(node.wrapping_add(edges).wrapping_add(4 * i))
                    .ok_or(node)?;
                self.tree_node(kind, child, height - 1, walk, depth)?;
            }
            if i < count && (walk.entries.len() as u32) < walk.wanted {
                let k = self.read(
                    key,
                    Place::Memory(node.wrapping_add(keys).wrapping_add(i * key_size)),
                    depth + 1,
                );
                let v = self.read(
                    value,
                    Place::Memory(node.wrapping_add(vals).wrapping_add(i * value_size)),
                    depth + 1,
                );
                walk.entries.push((k, v));
            }
        }
        Ok(())
    }
}

/// Keys a `BTreeMap` node holds at most (Rust's `B` is 6: `2 * B - 1`).
const BTREE_CAPACITY: u32 = 11;
/// Deepest `BTreeMap` read: 11 entries per node make a tree of height 32
/// hold more entries than a 32-bit memory can.
const MAX_TREE_HEIGHT: u32 = 32;
/// Nodes read for one `BTreeMap` at most, however its memory is damaged.
const MAX_TREE_NODES: u32 = 4096;

/// `…(+N more)` after the `shown` items of `len`, when some were left out.
fn more(f: &mut fmt::Formatter<'_>, shown: usize, len: u32) -> fmt::Result {
    if (len as usize) > shown {
        if shown > 0 {
            f.write_str(", ")?;
        }
        write!(f, "…(+{} more)", len as usize - shown)?;
    }
    Ok(())
}

impl fmt::Display for SourceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceValue::Int(v) => write!(f, "{v}"),
            SourceValue::UInt(v) => write!(f, "{v}"),
            // Debug keeps the `.0` of integral floats, as Ruchy prints them.
            SourceValue::Float(v) => write!(f, "{v:?}"),
            SourceValue::Bool(b) => write!(f, "{b}"),
            SourceValue::Char(c) => match char::from_u32(*c) {
                Some(ch) => write!(f, "{:?}", ch),
                None => write!(f, "<invalid char {c:#x}>"),
            },
            SourceValue::Unit => f.write_str("()"),
            SourceValue::Str { text, len } => {
                f.write_char('"')?;
                for ch in text.chars() {
                    match ch {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        '\r' => f.write_str("\\r")?,
                        c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')?;
                if (*len as usize) > text.len() {
                    write!(f, "…(+{} more bytes)", *len as usize - text.len())?;
                }
                Ok(())
            }
            SourceValue::Struct { name, fields } => {
                write!(f, "{name} {{ ")?;
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}: {v}")?;
                }
                f.write_str(" }")
            }
            SourceValue::Seq { items, len } => {
                f.write_char('[')?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                more(f, items.len(), *len)?;
                f.write_char(']')
            }
            SourceValue::Enum {
                name,
                variant,
                fields,
            } => {
                if !name.is_empty() {
                    write!(f, "{name}::")?;
                }
                f.write_str(variant)?;
                if fields.is_empty() {
                    return Ok(());
                }
                if fields.iter().all(|(n, _)| n.starts_with("__")) {
                    f.write_char('(')?;
                    for (i, (_, v)) in fields.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{v}")?;
                    }
                    return f.write_char(')');
                }
                f.write_str(" { ")?;
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}: {v}")?;
                }
                f.write_str(" }")
            }
            SourceValue::Tuple(items) => {
                f.write_char('(')?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                if items.len() == 1 {
                    f.write_char(',')?;
                }
                f.write_char(')')
            }
            SourceValue::Set { items, len } => {
                f.write_char('{')?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                more(f, items.len(), *len)?;
                f.write_char('}')
            }
            SourceValue::Map { entries, len } => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                more(f, entries.len(), *len)?;
                f.write_char('}')
            }
            SourceValue::Ref(v) => write!(f, "&{v}"),
            SourceValue::Unreadable(addr) => write!(f, "<unreadable {addr:#x}>"),
            SourceValue::Opaque(name) => write!(f, "<{name}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;

    struct Flat(Vec<u8>);
    impl Memory for Flat {
        fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]> {
            self.0.get(addr as usize..addr as usize + len as usize)
        }
    }

    fn types() -> Vec<SourceType> {
        vec![
            SourceType {
                name: "i64".into(),
                size: 8,
                kind: TypeKind::Int {
                    signed: true,
                    bytes: 8,
                },
            },
            SourceType {
                name: "Point".into(),
                size: 16,
                kind: TypeKind::Struct {
                    fields: vec![("x".into(), 0, 0), ("y".into(), 8, 0)],
                },
            },
            SourceType {
                name: "String".into(),
                size: 12,
                kind: TypeKind::Str { ptr: 4, len: 8 },
            },
            SourceType {
                name: "bool".into(),
                size: 1,
                kind: TypeKind::Bool,
            },
            SourceType {
                name: "&str".into(),
                size: 8,
                kind: TypeKind::StrRef,
            },
        ]
    }

    #[test]
    fn pairs_strings_and_bad_pointers() {
        let t = types();
        let mut mem = Flat(vec![0; 64]);
        let v = read_value(
            &t,
            1,
            Place::Scalars(&[Value::I64(3), Value::I64(-4)]),
            &mut mem,
        );
        assert_eq!(v.to_string(), "Point { x: 3, y: -4 }");
        assert_eq!(
            read_value(&t, 3, Place::Scalars(&[Value::I32(1)]), &mut mem).to_string(),
            "true"
        );
        // A String at 16 whose bytes ("Ada") are at 40.
        mem.0[20..24].copy_from_slice(&40u32.to_le_bytes());
        mem.0[24..28].copy_from_slice(&3u32.to_le_bytes());
        mem.0[40..43].copy_from_slice(b"Ada");
        let mut rec = Recording {
            inner: Flat(mem.0.clone()),
            snapshot: Snapshot::default(),
        };
        let live = read_value(&t, 2, Place::Memory(16), &mut rec);
        assert_eq!(live.to_string(), "\"Ada\"");
        // The snapshot alone reproduces the value, after a round trip.
        let mut bytes = Vec::new();
        rec.snapshot.encode(&mut bytes);
        let mut snap = Snapshot::decode(&bytes).unwrap();
        assert_eq!(read_value(&t, 2, Place::Memory(16), &mut snap), live);
        // A pointer past the end of memory reads as unreadable, not garbage.
        let v = read_value(
            &t,
            4,
            Place::Scalars(&[Value::I32(0x7fff_0000), Value::I32(5)]),
            &mut mem,
        );
        assert_eq!(format!("{v}"), "<unreadable 0x7fff0000>");
        // Long strings are cut, with their length.
        mem.0[24..28].copy_from_slice(&1000u32.to_le_bytes());
        let long = read_value(
            &t,
            4,
            Place::Scalars(&[Value::I32(0), Value::I32(40)]),
            &mut mem,
        );
        assert!(matches!(long, SourceValue::Str { len: 40, .. }));
        assert!(Snapshot::decode(&[1, 0, 0, 0, 9]).is_none());
    }

    fn variant(name: &str, discr: Option<u64>, fields: Vec<(String, u32, TypeId)>) -> Variant {
        Variant {
            name: name.into(),
            discr,
            fields,
        }
    }

    /// Types 5..: Option<i64>, Shape, (i64, i64), Vec<i64>, HashMap<i64, i64>.
    fn sum_types() -> Vec<SourceType> {
        let mut t = types();
        t.push(SourceType {
            name: "Option<i64>".into(),
            size: 16,
            kind: TypeKind::Enum {
                tag: Some((0, 8)),
                variants: vec![
                    variant("None", Some(0), vec![]),
                    variant("Some", Some(1), vec![("__0".into(), 8, 0)]),
                ],
            },
        });
        t.push(SourceType {
            name: "Shape".into(),
            size: 24,
            kind: TypeKind::Enum {
                tag: Some((0, 8)),
                variants: vec![
                    variant("Circle", Some(0), vec![("r".into(), 8, 10)]),
                    variant("Square", Some(1), vec![("__0".into(), 8, 10)]),
                ],
            },
        });
        t.push(SourceType {
            name: "(i64, i64)".into(),
            size: 16,
            kind: TypeKind::Struct {
                fields: vec![("__0".into(), 0, 0), ("__1".into(), 8, 0)],
            },
        });
        t.push(SourceType {
            name: "Vec<i64>".into(),
            size: 12,
            kind: TypeKind::Vec {
                elem: 0,
                ptr: 4,
                len: 8,
            },
        });
        t.push(SourceType {
            name: "HashMap<i64, i64>".into(),
            size: 16,
            kind: TypeKind::HashMap {
                ctrl: 0,
                mask: 4,
                items: 12,
                entry: 7,
            },
        });
        t.push(SourceType {
            name: "f64".into(),
            size: 8,
            kind: TypeKind::Float { bytes: 8 },
        });
        t
    }

    #[test]
    fn enums_tuples_maps_and_cut_values() {
        let t = sum_types();
        assert_eq!(
            enum_payload(
                &t,
                match &t[5].kind {
                    TypeKind::Enum { variants, .. } => variants,
                    _ => unreachable!(),
                }
            ),
            Some(Some(0))
        );
        let mut mem = Flat(vec![0; 512]);
        // Option<i64> as the scalar pair Rust passes it in.
        let some = read_value(
            &t,
            5,
            Place::Scalars(&[Value::I64(1), Value::I64(5)]),
            &mut mem,
        );
        assert_eq!(some.to_string(), "Some(5)");
        let none = read_value(
            &t,
            5,
            Place::Scalars(&[Value::I64(0), Value::I64(9)]),
            &mut mem,
        );
        assert_eq!(none.to_string(), "None");
        // Shape::Circle { r: 1.5 } in memory at 0.
        mem.0[8..16].copy_from_slice(&1.5f64.to_le_bytes());
        let circle = read_value(&t, 6, Place::Memory(0), &mut mem);
        assert_eq!(circle.to_string(), "Shape::Circle { r: 1.5 }");
        mem.0[0] = 1;
        assert_eq!(
            read_value(&t, 6, Place::Memory(0), &mut mem).to_string(),
            "Shape::Square(1.5)"
        );
        // An unknown tag is not guessed at.
        mem.0[0] = 7;
        assert_eq!(
            read_value(&t, 6, Place::Memory(0), &mut mem).to_string(),
            "<Shape>"
        );
        // (17, 5).
        mem.0[32..40].copy_from_slice(&17i64.to_le_bytes());
        mem.0[40..48].copy_from_slice(&5i64.to_le_bytes());
        assert_eq!(
            read_value(&t, 7, Place::Memory(32), &mut mem).to_string(),
            "(17, 5)"
        );
        // A Vec<i64> of 10 elements at 100, shown to 3 of them.
        mem.0[68..72].copy_from_slice(&100u32.to_le_bytes());
        mem.0[72..76].copy_from_slice(&10u32.to_le_bytes());
        for i in 0..10u32 {
            let at = 100 + 8 * i as usize;
            mem.0[at..at + 8].copy_from_slice(&i64::from(i * i).to_le_bytes());
        }
        let limits = Limits {
            max_string: 2,
            max_elements: 3,
        };
        let v = read_value_within(&t, 8, Place::Memory(64), &mut mem, limits);
        assert_eq!(v.to_string(), "[0, 1, 4, …(+7 more)]");
        // A map of 4 buckets at control bytes 300 (two full: 1 and 3),
        // entries of 16 bytes below them.
        mem.0[200..204].copy_from_slice(&300u32.to_le_bytes());
        mem.0[204..208].copy_from_slice(&3u32.to_le_bytes());
        mem.0[212..216].copy_from_slice(&2u32.to_le_bytes());
        mem.0[300..304].copy_from_slice(&[0xff, 0x01, 0xff, 0x02]);
        for (bucket, k, v) in [(1usize, 7i64, 70i64), (3, 8, 80)] {
            let at = 300 - (bucket + 1) * 16;
            mem.0[at..at + 8].copy_from_slice(&k.to_le_bytes());
            mem.0[at + 8..at + 16].copy_from_slice(&v.to_le_bytes());
        }
        let m = read_value(&t, 9, Place::Memory(200), &mut mem);
        assert_eq!(m.to_string(), "{7: 70, 8: 80}");
        let one = Limits {
            max_string: 64,
            max_elements: 1,
        };
        let m = read_value_within(&t, 9, Place::Memory(200), &mut mem, one);
        assert_eq!(m.to_string(), "{7: 70, …(+1 more)}");
        // A string cut at 2 bytes says how many more there were.
        mem.0[400..405].copy_from_slice(b"hello");
        let s = read_value_within(
            &t,
            4,
            Place::Scalars(&[Value::I32(400), Value::I32(5)]),
            &mut mem,
            limits,
        );
        assert_eq!(s.to_string(), "\"he\"…(+3 more bytes)");
    }
    /// Values in `v`, itself included.
    fn nodes(v: &SourceValue) -> usize {
        1 + match v {
            SourceValue::Struct { fields, .. } | SourceValue::Enum { fields, .. } => {
                fields.iter().map(|(_, f)| nodes(f)).sum()
            }
            SourceValue::Tuple(items)
            | SourceValue::Set { items, .. }
            | SourceValue::Seq { items, .. } => items.iter().map(nodes).sum(),
            SourceValue::Map { entries, .. } => {
                entries.iter().map(|(k, v)| nodes(k) + nodes(v)).sum()
            }
            SourceValue::Ref(inner) => nodes(inner),
            _ => 0,
        }
    }

    /// Type 0 is a struct of `fanout` fields of type 1, type 1 one of
    /// `fanout` fields of type 2, and so on `levels` deep; the last type
    /// is `leaf`.
    fn fanned(fanout: u32, levels: u32, leaf: SourceType) -> Vec<SourceType> {
        let mut t: Vec<SourceType> = (0..levels)
            .map(|l| SourceType {
                name: format!("L{l}"),
                size: 8 * fanout,
                kind: TypeKind::Struct {
                    fields: (0..fanout)
                        .map(|i| (format!("f{i}"), 8 * i, l + 1))
                        .collect(),
                },
            })
            .collect();
        t.push(leaf);
        t
    }

    /// A struct that holds itself has no scalar leaves to count, needs no
    /// memory, and reads as a value of at most `MAX_TYPE_VISITS` parts
    /// plus the cut fields of the `MAX_DEPTH + 1` structs being read when
    /// the visits ran out, from memory or from scalars.
    #[test]
    fn a_struct_that_holds_itself_is_walked_within_bounds() {
        let t = vec![SourceType {
            name: "Loop".into(),
            size: 8,
            kind: TypeKind::Struct {
                fields: (0..40).map(|i| (format!("f{i}"), 0, 0)).collect(),
            },
        }];
        assert_eq!(leaf_count(&t, 0), None);
        assert!(!needs_memory(&t, 0));
        let mut mem = Flat(vec![0; 64]);
        let scalars = [Value::I64(1); 4];
        for place in [Place::Memory(0), Place::Scalars(&scalars)] {
            let v = read_value(&t, 0, place, &mut mem);
            let n = nodes(&v);
            let cut = (MAX_DEPTH as usize + 1) * 40;
            assert!(n > 40 && n <= MAX_TYPE_VISITS as usize + cut, "{n} parts");
        }
    }

    /// Types that share their fields many times over (64 fields, 10
    /// levels: 64^10 paths) are answered by visiting each type once:
    /// memory is needed exactly when the shared leaf within `MAX_DEPTH`
    /// levels is a `String`, and a value reads in at most
    /// `MAX_TYPE_VISITS` parts plus cut fields (as above), cut parts
    /// showing their type's name.
    #[test]
    fn types_sharing_fields_many_times_over_are_walked_within_bounds() {
        let int = types().remove(0);
        let string = types().remove(2);
        assert!(!needs_memory(&fanned(64, 10, int.clone()), 0));
        assert!(!needs_memory(&fanned(64, MAX_DEPTH + 1, string.clone()), 0));
        assert!(needs_memory(&fanned(64, MAX_DEPTH, string), 0));
        let t = fanned(64, 10, int);
        assert_eq!(leaf_count(&t, 0), None);
        assert_eq!(leaf_count(&t, 9), Some(64));
        assert_eq!(leaf_count(&t, 8), None, "64 * 64 leaves take more visits");
        let mut mem = Flat(vec![0; 1 << 16]);
        let v = read_value(&t, 0, Place::Memory(0), &mut mem);
        let cut = (MAX_DEPTH as usize + 1) * 64;
        assert!(
            nodes(&v) <= MAX_TYPE_VISITS as usize + cut,
            "{} parts",
            nodes(&v)
        );
        assert!(v.to_string().contains("<L"), "{v}");
    }
}
