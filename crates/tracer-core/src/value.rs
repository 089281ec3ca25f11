//! WebAssembly value types and the values a trace carries.

/// A WebAssembly value type as far as the trace cares.
///
/// Numbers and vectors are recorded bit for bit. A reference's bits mean
/// nothing outside its instance, so what is recorded of it is whether it is
/// null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector, recorded as its 16 bytes.
    V128,
    /// Any reference type, recorded as whether it is null (an `i32`).
    Ref,
}

impl ValType {
    /// Bytes this type occupies in a record.
    pub const fn record_size(self) -> usize {
        match self {
            ValType::I32 | ValType::F32 | ValType::Ref => 4,
            ValType::I64 | ValType::F64 => 8,
            ValType::V128 => 16,
        }
    }

    /// The wasm spelling of the type (`i64`, `f64`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::Ref => "ref",
        }
    }

    pub(crate) const fn code(self) -> u8 {
        match self {
            ValType::I32 => 0,
            ValType::I64 => 1,
            ValType::F32 => 2,
            ValType::F64 => 3,
            ValType::V128 => 4,
            ValType::Ref => 5,
        }
    }

    pub(crate) const fn from_code(code: u8) -> Option<ValType> {
        Some(match code {
            0 => ValType::I32,
            1 => ValType::I64,
            2 => ValType::F32,
            3 => ValType::F64,
            4 => ValType::V128,
            5 => ValType::Ref,
            _ => return None,
        })
    }
}

/// One recorded argument or result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
    /// A 128-bit vector: its 16 bytes, little endian (lane 0 lowest).
    V128(u128),
    /// A reference: whether it is null.
    Ref {
        /// The reference is null.
        null: bool,
    },
    /// A value a host could not read (a hook that was not given it).
    Unrecorded(ValType),
}

impl Value {
    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            Value::I32(_) => ValType::I32,
            Value::I64(_) => ValType::I64,
            Value::F32(_) => ValType::F32,
            Value::F64(_) => ValType::F64,
            Value::V128(_) => ValType::V128,
            Value::Ref { .. } => ValType::Ref,
            Value::Unrecorded(t) => *t,
        }
    }

    /// Parses `text` (surrounding spaces ignored) as a value of type `ty`:
    /// integers in decimal, signed or unsigned (`4294967295` is the `i32`
    /// -1), floats as Rust writes them (`1.5`, `-0`, `inf`, `NaN`). This is
    /// how every host reads arguments given as text.
    pub fn parse(text: &str, ty: ValType) -> Result<Value, BadValue> {
        let t = text.trim();
        let bad = || BadValue::NotA { text: t.into(), ty };
        Ok(match ty {
            ValType::I32 => Value::I32(
                t.parse::<i32>()
                    .or_else(|_| t.parse::<u32>().map(|v| v as i32))
                    .map_err(|_| bad())?,
            ),
            ValType::I64 => Value::I64(
                t.parse::<i64>()
                    .or_else(|_| t.parse::<u64>().map(|v| v as i64))
                    .map_err(|_| bad())?,
            ),
            ValType::F32 => Value::F32(t.parse::<f32>().map_err(|_| bad())?),
            ValType::F64 => Value::F64(t.parse::<f64>().map_err(|_| bad())?),
            ValType::V128 | ValType::Ref => return Err(BadValue::NotText(ty)),
        })
    }

    /// Reads a value of type `ty` from the front of `bytes` (little endian).
    /// `bytes` must hold at least `ty.record_size()` bytes.
    #[inline]
    pub(crate) fn read(ty: ValType, bytes: &[u8]) -> Value {
        let b4 = |b: &[u8]| [b[0], b[1], b[2], b[3]];
        let b8 = |b: &[u8]| [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        let b16 = |b: &[u8]| {
            let mut x = [0; 16];
            x.copy_from_slice(&b[..16]);
            x
        };
        match ty {
            ValType::I32 => Value::I32(i32::from_le_bytes(b4(bytes))),
            ValType::I64 => Value::I64(i64::from_le_bytes(b8(bytes))),
            ValType::F32 => Value::F32(f32::from_le_bytes(b4(bytes))),
            ValType::F64 => Value::F64(f64::from_le_bytes(b8(bytes))),
            ValType::V128 => Value::V128(u128::from_le_bytes(b16(bytes))),
            ValType::Ref => Value::Ref {
                null: i32::from_le_bytes(b4(bytes)) != 0,
            },
        }
    }

    /// Appends the value the way a record holds it (see
    /// [`ValType::record_size`]); a value that was not read is written as
    /// zero bytes of its size, so the record keeps its layout.
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        match *self {
            Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
            Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
            Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
            Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
            Value::V128(x) => out.extend_from_slice(&x.to_le_bytes()),
            Value::Ref { null } => out.extend_from_slice(&i32::from(null).to_le_bytes()),
            Value::Unrecorded(t) => out.extend_from_slice(&[0; 16][..t.record_size()]),
        }
    }
}

/// Text that [`Value::parse`] cannot read as the type asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    /// The text is not a value of the type.
    NotA {
        /// The text, trimmed.
        text: alloc::string::String,
        /// The type asked for.
        ty: ValType,
    },
    /// Values of this type have no text form (`v128`, references).
    NotText(ValType),
}

impl core::fmt::Display for BadValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BadValue::NotA { text, ty } => {
                write!(f, "argument `{text}` is not a valid {}", ty.name())
            }
            BadValue::NotText(ty) => write!(f, "a {} argument cannot be given as text", ty.name()),
        }
    }
}

impl core::error::Error for BadValue {}

#[cfg(test)]
mod parse_tests {
    use super::{BadValue, ValType, Value};
    use alloc::string::ToString;

    /// Integers read signed or unsigned, floats as Rust writes them, with
    /// spaces around ignored; anything else names the text and the type.
    #[test]
    fn text_to_values() {
        assert_eq!(Value::parse(" 30 ", ValType::I64), Ok(Value::I64(30)));
        assert_eq!(Value::parse("4294967295", ValType::I32), Ok(Value::I32(-1)));
        assert_eq!(Value::parse("-7", ValType::I32), Ok(Value::I32(-7)));
        assert_eq!(Value::parse("1.5", ValType::F32), Ok(Value::F32(1.5)));
        assert_eq!(Value::parse("-0.25", ValType::F64), Ok(Value::F64(-0.25)));
        let e = Value::parse("x1", ValType::I64).unwrap_err();
        assert_eq!(e.to_string(), "argument `x1` is not a valid i64");
        assert_eq!(
            Value::parse("4294967296", ValType::I32),
            Err(BadValue::NotA {
                text: "4294967296".into(),
                ty: ValType::I32
            })
        );
        assert_eq!(
            Value::parse("0", ValType::V128),
            Err(BadValue::NotText(ValType::V128))
        );
    }
}
