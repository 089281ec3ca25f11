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
    /// Something this version cannot read; shown by its name.
    Opaque,
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
        self.params.iter().any(|p| {
            matches!(p.lowering, Lowering::Indirect { .. }) || needs_memory(types, p.ty, 0)
        })
    }

    /// Whether reading the result needs guest memory.
    pub fn exit_reads_memory(&self, types: &[SourceType]) -> bool {
        match self.result {
            Some((_, ResultLowering::Indirect { .. })) => true,
            Some((ty, ResultLowering::Direct)) => needs_memory(types, ty, 0),
            None => false,
        }
    }
}

fn needs_memory(types: &[SourceType], ty: TypeId, depth: u32) -> bool {
    let Some(t) = types.get(ty as usize) else {
        return false;
    };
    if depth > MAX_DEPTH {
        return false;
    }
    match &t.kind {
        TypeKind::Str { .. }
        | TypeKind::StrRef
        | TypeKind::Slice { .. }
        | TypeKind::Vec { .. }
        | TypeKind::Pointer { .. } => true,
        TypeKind::Struct { fields } => fields
            .iter()
            .any(|&(_, _, f)| needs_memory(types, f, depth + 1)),
        _ => false,
    }
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
        Value::Unrecorded(_) => 0,
    }
}

/// Number of scalar leaves a type spreads over when passed by value.
pub fn leaf_count(types: &[SourceType], ty: TypeId) -> Option<u32> {
    let t = types.get(ty as usize)?;
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
            let mut n = 0;
            for &(_, _, f) in fields {
                n += leaf_count(types, f)?;
            }
            n
        }
        TypeKind::Str { .. } | TypeKind::Vec { .. } => 3,
        TypeKind::Opaque => return None,
    })
}

/// Reads a value of type `ty` at `place`.
pub fn read_value(
    types: &[SourceType],
    ty: TypeId,
    place: Place<'_>,
    mem: &mut dyn Memory,
) -> SourceValue {
    read_at(types, ty, place, mem, 0)
}

fn scalar(
    types: &[SourceType],
    ty: TypeId,
    place: Place<'_>,
    mem: &mut dyn Memory,
    size: u32,
) -> Result<u128, SourceValue> {
    let _ = types.get(ty as usize);
    match place {
        Place::Scalars(vals) => vals
            .first()
            .map(value_bits)
            .ok_or(SourceValue::Opaque(String::from("?"))),
        Place::Memory(addr) => mem
            .read(addr, size)
            .map(le)
            .ok_or(SourceValue::Unreadable(addr)),
    }
}

fn read_at(
    types: &[SourceType],
    ty: TypeId,
    place: Place<'_>,
    mem: &mut dyn Memory,
    depth: u32,
) -> SourceValue {
    let Some(t) = types.get(ty as usize) else {
        return SourceValue::Opaque(String::from("?"));
    };
    if depth > MAX_DEPTH {
        return SourceValue::Opaque(t.name.clone());
    }
    let mut bits = |size| scalar(types, ty, place, mem, size);
    match &t.kind {
        TypeKind::Int { signed, bytes } => {
            let raw = match (place, *bytes) {
                (Place::Scalars(v), 16) if v.len() >= 2 => {
                    Ok(value_bits(&v[0]) | (value_bits(&v[1]) << 64))
                }
                _ => bits(u32::from(*bytes)),
            };
            match raw {
                Err(e) => e,
                Ok(raw) => {
                    let width = u32::from(*bytes) * 8;
                    let masked = if width >= 128 {
                        raw
                    } else {
                        raw & ((1u128 << width) - 1)
                    };
                    if *signed {
                        let shift = 128 - width;
                        SourceValue::Int(((masked << shift) as i128) >> shift)
                    } else {
                        SourceValue::UInt(masked)
                    }
                }
            }
        }
        TypeKind::Float { bytes } => match bits(u32::from(*bytes)) {
            Err(e) => e,
            Ok(raw) if *bytes == 4 => SourceValue::Float(f64::from(f32::from_bits(raw as u32))),
            Ok(raw) => SourceValue::Float(f64::from_bits(raw as u64)),
        },
        TypeKind::Bool => match bits(1) {
            Err(e) => e,
            Ok(raw) => SourceValue::Bool(raw & 1 != 0),
        },
        TypeKind::Char => match bits(4) {
            Err(e) => e,
            Ok(raw) => SourceValue::Char(raw as u32),
        },
        TypeKind::Unit => SourceValue::Unit,
        TypeKind::Struct { fields } => {
            let mut out = Vec::new();
            let mut leaf = 0usize;
            for (name, offset, fty) in fields {
                let v = match place {
                    Place::Memory(addr) => read_at(
                        types,
                        *fty,
                        Place::Memory(addr.wrapping_add(*offset)),
                        mem,
                        depth + 1,
                    ),
                    Place::Scalars(vals) => {
                        let n = leaf_count(types, *fty).unwrap_or(0) as usize;
                        let part = vals.get(leaf..leaf + n).unwrap_or(&[]);
                        leaf += n;
                        read_at(types, *fty, Place::Scalars(part), mem, depth + 1)
                    }
                };
                out.push((name.clone(), v));
            }
            SourceValue::Struct {
                name: t.name.clone(),
                fields: out,
            }
        }
        TypeKind::Str { ptr, len } => match place {
            Place::Memory(addr) => {
                let p = mem.read(addr.wrapping_add(*ptr), 4).map(le);
                let l = mem.read(addr.wrapping_add(*len), 4).map(le);
                match (p, l) {
                    (Some(p), Some(l)) => read_text(p as u32, l as u32, mem),
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
                Place::Memory(addr) => match (
                    mem.read(addr, 4).map(le),
                    mem.read(addr.wrapping_add(4), 4).map(le),
                ) {
                    (Some(p), Some(l)) => (p as u32, l as u32),
                    _ => return SourceValue::Unreadable(addr),
                },
            };
            match &t.kind {
                TypeKind::Slice { elem } => read_seq(types, *elem, p, l, mem, depth),
                _ => read_text(p, l, mem),
            }
        }
        TypeKind::Vec { elem, ptr, len } => match place {
            Place::Memory(addr) => {
                let p = mem.read(addr.wrapping_add(*ptr), 4).map(le);
                let l = mem.read(addr.wrapping_add(*len), 4).map(le);
                match (p, l) {
                    (Some(p), Some(l)) => read_seq(types, *elem, p as u32, l as u32, mem, depth),
                    _ => SourceValue::Unreadable(addr),
                }
            }
            Place::Scalars(_) => SourceValue::Opaque(t.name.clone()),
        },
        TypeKind::Pointer { target } => match bits(4) {
            Err(e) => e,
            Ok(p) => {
                let size = types.get(*target as usize).map_or(0, |t| t.size);
                if size > 0 && mem.read(p as u32, size).is_none() {
                    return SourceValue::Ref(Box::new(SourceValue::Unreadable(p as u32)));
                }
                SourceValue::Ref(Box::new(read_at(
                    types,
                    *target,
                    Place::Memory(p as u32),
                    mem,
                    depth + 1,
                )))
            }
        },
        TypeKind::Opaque => SourceValue::Opaque(t.name.clone()),
    }
}

fn read_text(ptr: u32, len: u32, mem: &mut dyn Memory) -> SourceValue {
    let shown = len.min(MAX_STRING_BYTES);
    match mem.read(ptr, shown) {
        Some(bytes) => SourceValue::Str {
            text: String::from_utf8_lossy(bytes).into_owned(),
            len,
        },
        None => SourceValue::Unreadable(ptr),
    }
}

fn read_seq(
    types: &[SourceType],
    elem: TypeId,
    ptr: u32,
    len: u32,
    mem: &mut dyn Memory,
    depth: u32,
) -> SourceValue {
    let size = types.get(elem as usize).map(|t| t.size).unwrap_or(0);
    let items = (0..len.min(MAX_ELEMENTS))
        .map(|i| {
            read_at(
                types,
                elem,
                Place::Memory(ptr.wrapping_add(i.wrapping_mul(size))),
                mem,
                depth + 1,
            )
        })
        .collect();
    SourceValue::Seq { items, len }
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
                    write!(f, "… ({len} bytes)")?;
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
                if (*len as usize) > items.len() {
                    write!(f, ", … ({len} items)")?;
                }
                f.write_char(']')
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
}
