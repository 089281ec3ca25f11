//! The function table: what a host needs to decode a trace, carried by the
//! instrumented module itself in the [`SECTION_NAME`] custom section.

use crate::error::Error;
use crate::source::{
    Limits, Lowering, ResultLowering, SourceParam, SourceSignature, SourceType, TypeKind, Variant,
};
use crate::value::ValType;
use alloc::string::String;
use alloc::vec::Vec;

/// Name of the custom section that holds the encoded [`FunctionTable`].
pub const SECTION_NAME: &str = "ruchy-trace";

const MAGIC: &[u8; 4] = b"RTFT";
/// Version 5: value limits (3) and import calls (4) in the table; WASI
/// calls read guest memory, and `v128` and reference values are recorded
/// (5). Older tables are refused, not misread.
const VERSION: u32 = 5;

/// How the instrumented code hands records to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Records are written by the instrumented code into a memory the module
    /// exports; the host is called only to take a full staging area.
    Inline,
    /// Every record is a call to a host hook import (the portable contract).
    Hooks,
}

/// Choices made at instrumentation time that shape the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOptions {
    /// How records reach the host.
    pub strategy: Strategy,
    /// Whether every record carries a microsecond timestamp.
    pub timestamps: bool,
    /// Trace one call in `sample`; 1 traces every call. When above 1, entry
    /// records also carry the call depth, because sampled calls alone no
    /// longer tell it.
    pub sample: u32,
    /// Size in bytes of the staging area of the [`Strategy::Inline`] path.
    pub staging_bytes: u32,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            strategy: Strategy::Inline,
            timestamps: true,
            sample: 1,
            staging_bytes: 1 << 20,
        }
    }
}

/// A place in source code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name as it should be shown.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
}

/// One traced function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionInfo {
    /// Index of the function in the original module's function index space
    /// (for an import call: its wrapper's index, after the module's own
    /// functions).
    pub wasm_index: u32,
    /// The name as found in the module (mangled, if it was).
    pub raw_name: String,
    /// The name to show: demangled, without hash, without the program's own
    /// crate prefix.
    pub name: String,
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
    /// Parameter names, when debug information gave them (may be empty).
    pub param_names: Vec<String>,
    /// Where the function is defined, when known.
    pub location: Option<Location>,
    /// The source signature, when debug information gave one that matches
    /// the wasm signature; types index [`FunctionTable::types`].
    pub source: Option<SourceSignature>,
    /// For a wrapper that stands for a call out of the guest: the imported
    /// function it calls. Its events are import calls, not the program's.
    pub import: Option<Import>,
}

/// An imported function, named as the module imports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The import's module name, e.g. `wasi_snapshot_preview1`.
    pub module: String,
    /// The import's field name, e.g. `fd_write`.
    pub field: String,
}

impl FunctionInfo {
    /// Whether its entry records carry a snapshot of guest memory.
    pub fn entry_snapshot(&self, types: &[SourceType]) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| s.entry_reads_memory(types))
            || crate::wasi::entry_reads_memory(self)
    }

    /// Whether its exit records carry a snapshot of guest memory.
    pub fn exit_snapshot(&self, types: &[SourceType]) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| s.exit_reads_memory(types))
            || crate::wasi::exit_reads_memory(self)
    }
}

/// Everything needed to decode the records of one instrumented module.
///
/// Record function ids are indices into [`FunctionTable::functions`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionTable {
    /// Choices made at instrumentation time.
    pub options: TraceOptions,
    /// The program's name when known (the crate or file name).
    pub program: String,
    /// The traced functions; a record's function id indexes this list.
    pub functions: Vec<FunctionInfo>,
    /// Source types the functions' signatures refer to.
    pub types: Vec<SourceType>,
    /// How much of each value the recorder reads and the formatters show.
    pub limits: Limits,
}

impl FunctionTable {
    /// Encodes the table as the payload of the [`SECTION_NAME`] section.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        let o = &self.options;
        w.u32(match o.strategy {
            Strategy::Inline => 0,
            Strategy::Hooks => 1,
        });
        w.u32(o.timestamps as u32);
        w.u32(o.sample);
        w.u32(o.staging_bytes);
        w.str(&self.program);
        w.u32(self.functions.len() as u32);
        for f in &self.functions {
            w.u32(f.wasm_index);
            w.str(&f.raw_name);
            w.str(&f.name);
            w.types(&f.params);
            w.types(&f.results);
            w.u32(f.param_names.len() as u32);
            for n in &f.param_names {
                w.str(n);
            }
            match &f.location {
                None => w.u32(0),
                Some(l) => {
                    w.u32(1);
                    w.str(&l.file);
                    w.u32(l.line);
                    w.u32(l.column);
                }
            }
            match &f.source {
                None => w.u32(0),
                Some(sig) => {
                    w.u32(1);
                    w.u32(sig.params.len() as u32);
                    for p in &sig.params {
                        w.str(&p.name);
                        w.u32(p.ty);
                        match p.lowering {
                            Lowering::Scalars { first, count } => {
                                w.u32(0);
                                w.u32(first);
                                w.u32(count);
                            }
                            Lowering::Indirect { param } => {
                                w.u32(1);
                                w.u32(param);
                            }
                        }
                    }
                    match sig.result {
                        None => w.u32(0),
                        Some((ty, ResultLowering::Direct)) => {
                            w.u32(1);
                            w.u32(ty);
                        }
                        Some((ty, ResultLowering::Indirect { param })) => {
                            w.u32(2);
                            w.u32(ty);
                            w.u32(param);
                        }
                    }
                }
            }
            match &f.import {
                None => w.u32(0),
                Some(i) => {
                    w.u32(1);
                    w.str(&i.module);
                    w.str(&i.field);
                }
            }
        }
        w.u32(self.types.len() as u32);
        for t in &self.types {
            w.str(&t.name);
            w.u32(t.size);
            match &t.kind {
                TypeKind::Int { signed, bytes } => {
                    w.u32(0);
                    w.u32(*signed as u32);
                    w.u32(u32::from(*bytes));
                }
                TypeKind::Float { bytes } => {
                    w.u32(1);
                    w.u32(u32::from(*bytes));
                }
                TypeKind::Bool => w.u32(2),
                TypeKind::Char => w.u32(3),
                TypeKind::Unit => w.u32(4),
                TypeKind::Struct { fields } => {
                    w.u32(5);
                    w.u32(fields.len() as u32);
                    for (n, off, ty) in fields {
                        w.str(n);
                        w.u32(*off);
                        w.u32(*ty);
                    }
                }
                TypeKind::Str { ptr, len } => {
                    w.u32(6);
                    w.u32(*ptr);
                    w.u32(*len);
                }
                TypeKind::StrRef => w.u32(7),
                TypeKind::Slice { elem } => {
                    w.u32(8);
                    w.u32(*elem);
                }
                TypeKind::Vec { elem, ptr, len } => {
                    w.u32(9);
                    w.u32(*elem);
                    w.u32(*ptr);
                    w.u32(*len);
                }
                TypeKind::Pointer { target } => {
                    w.u32(10);
                    w.u32(*target);
                }
                TypeKind::Opaque => w.u32(11),
                TypeKind::Enum { tag, variants } => {
                    w.u32(12);
                    match tag {
                        None => w.u32(0),
                        Some((offset, bytes)) => {
                            w.u32(1);
                            w.u32(*offset);
                            w.u32(u32::from(*bytes));
                        }
                    }
                    w.u32(variants.len() as u32);
                    for v in variants {
                        w.str(&v.name);
                        match v.discr {
                            None => w.u32(0),
                            Some(d) => {
                                w.u32(1);
                                w.u32(d as u32);
                                w.u32((d >> 32) as u32);
                            }
                        }
                        w.u32(v.fields.len() as u32);
                        for (n, off, ty) in &v.fields {
                            w.str(n);
                            w.u32(*off);
                            w.u32(*ty);
                        }
                    }
                }
                TypeKind::HashMap {
                    ctrl,
                    mask,
                    items,
                    entry,
                } => {
                    w.u32(13);
                    w.u32(*ctrl);
                    w.u32(*mask);
                    w.u32(*items);
                    w.u32(*entry);
                }
                TypeKind::BTreeMap {
                    root,
                    height,
                    length,
                    keys,
                    vals,
                    len,
                    edges,
                    key,
                    value,
                } => {
                    w.u32(14);
                    for x in [root, height, length, keys, vals, len, edges, key, value] {
                        w.u32(*x);
                    }
                }
            }
        }
        w.u32(self.limits.max_string);
        w.u32(self.limits.max_elements);
        w.0
    }

    /// Decodes a table written by [`FunctionTable::encode`].
    pub fn decode(bytes: &[u8]) -> Result<FunctionTable, Error> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4, "function table magic")? != MAGIC {
            return Err(Error::Invalid {
                what: "function table magic",
                offset: 0,
            });
        }
        let version = r.u32("function table version")?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let at = r.pos;
        let strategy = match r.u32("strategy")? {
            0 => Strategy::Inline,
            1 => Strategy::Hooks,
            _ => {
                return Err(Error::Invalid {
                    what: "strategy",
                    offset: at,
                })
            }
        };
        let timestamps = r.u32("timestamps flag")? != 0;
        let at = r.pos;
        let sample = r.u32("sample rate")?;
        if sample == 0 {
            return Err(Error::Invalid {
                what: "sample rate",
                offset: at,
            });
        }
        let staging_bytes = r.u32("staging size")?;
        let program = r.str("program name")?;
        let count = r.u32("function count")?;
        let mut functions = Vec::new();
        for _ in 0..count {
            let wasm_index = r.u32("function index")?;
            let raw_name = r.str("function name")?;
            let name = r.str("function name")?;
            let params = r.types()?;
            let results = r.types()?;
            let n = r.u32("parameter name count")?;
            let mut param_names = Vec::new();
            for _ in 0..n {
                param_names.push(r.str("parameter name")?);
            }
            let at = r.pos;
            let location = match r.u32("location flag")? {
                0 => None,
                1 => Some(Location {
                    file: r.str("location file")?,
                    line: r.u32("location line")?,
                    column: r.u32("location column")?,
                }),
                _ => {
                    return Err(Error::Invalid {
                        what: "location flag",
                        offset: at,
                    })
                }
            };
            let at = r.pos;
            let source = match r.u32("source flag")? {
                0 => None,
                1 => {
                    let n = r.u32("source parameter count")?;
                    let mut sp = Vec::new();
                    for _ in 0..n {
                        let name = r.str("source parameter name")?;
                        let ty = r.u32("source parameter type")?;
                        let at = r.pos;
                        let lowering = match r.u32("lowering")? {
                            0 => Lowering::Scalars {
                                first: r.u32("lowering")?,
                                count: r.u32("lowering")?,
                            },
                            1 => Lowering::Indirect {
                                param: r.u32("lowering")?,
                            },
                            _ => {
                                return Err(Error::Invalid {
                                    what: "lowering",
                                    offset: at,
                                })
                            }
                        };
                        sp.push(SourceParam { name, ty, lowering });
                    }
                    let at = r.pos;
                    let result = match r.u32("source result")? {
                        0 => None,
                        1 => Some((r.u32("source result")?, ResultLowering::Direct)),
                        2 => Some((
                            r.u32("source result")?,
                            ResultLowering::Indirect {
                                param: r.u32("source result")?,
                            },
                        )),
                        _ => {
                            return Err(Error::Invalid {
                                what: "source result",
                                offset: at,
                            })
                        }
                    };
                    Some(SourceSignature { params: sp, result })
                }
                _ => {
                    return Err(Error::Invalid {
                        what: "source flag",
                        offset: at,
                    })
                }
            };
            let at = r.pos;
            let import = match r.u32("import flag")? {
                0 => None,
                1 => Some(Import {
                    module: r.str("import module")?,
                    field: r.str("import field")?,
                }),
                _ => {
                    return Err(Error::Invalid {
                        what: "import flag",
                        offset: at,
                    })
                }
            };
            functions.push(FunctionInfo {
                wasm_index,
                raw_name,
                name,
                params,
                results,
                param_names,
                location,
                source,
                import,
            });
        }
        let count = r.u32("type count")?;
        let mut types = Vec::new();
        for _ in 0..count {
            let name = r.str("type name")?;
            let size = r.u32("type size")?;
            let at = r.pos;
            let small =
                |v: u32, what| u8::try_from(v).map_err(|_| Error::Invalid { what, offset: at });
            let kind = match r.u32("type kind")? {
                0 => TypeKind::Int {
                    signed: r.u32("int type")? != 0,
                    bytes: small(r.u32("int type")?, "int type")?,
                },
                1 => TypeKind::Float {
                    bytes: small(r.u32("float type")?, "float type")?,
                },
                2 => TypeKind::Bool,
                3 => TypeKind::Char,
                4 => TypeKind::Unit,
                5 => {
                    let n = r.u32("field count")?;
                    let mut fields = Vec::new();
                    for _ in 0..n {
                        fields.push((
                            r.str("field name")?,
                            r.u32("field offset")?,
                            r.u32("field type")?,
                        ));
                    }
                    TypeKind::Struct { fields }
                }
                6 => TypeKind::Str {
                    ptr: r.u32("string type")?,
                    len: r.u32("string type")?,
                },
                7 => TypeKind::StrRef,
                8 => TypeKind::Slice {
                    elem: r.u32("slice type")?,
                },
                9 => TypeKind::Vec {
                    elem: r.u32("vec type")?,
                    ptr: r.u32("vec type")?,
                    len: r.u32("vec type")?,
                },
                10 => TypeKind::Pointer {
                    target: r.u32("pointer type")?,
                },
                11 => TypeKind::Opaque,
                12 => {
                    let tag = match r.u32("enum tag")? {
                        0 => None,
                        _ => Some((r.u32("enum tag")?, small(r.u32("enum tag")?, "enum tag")?)),
                    };
                    let n = r.u32("variant count")?;
                    let mut variants = Vec::new();
                    for _ in 0..n {
                        let name = r.str("variant name")?;
                        let discr = match r.u32("variant tag")? {
                            0 => None,
                            _ => {
                                let lo = r.u32("variant tag")?;
                                Some(u64::from(lo) | (u64::from(r.u32("variant tag")?) << 32))
                            }
                        };
                        let m = r.u32("field count")?;
                        let mut fields = Vec::new();
                        for _ in 0..m {
                            fields.push((
                                r.str("field name")?,
                                r.u32("field offset")?,
                                r.u32("field type")?,
                            ));
                        }
                        variants.push(Variant {
                            name,
                            discr,
                            fields,
                        });
                    }
                    TypeKind::Enum { tag, variants }
                }
                13 => TypeKind::HashMap {
                    ctrl: r.u32("map type")?,
                    mask: r.u32("map type")?,
                    items: r.u32("map type")?,
                    entry: r.u32("map type")?,
                },
                14 => TypeKind::BTreeMap {
                    root: r.u32("tree map type")?,
                    height: r.u32("tree map type")?,
                    length: r.u32("tree map type")?,
                    keys: r.u32("tree map type")?,
                    vals: r.u32("tree map type")?,
                    len: r.u32("tree map type")?,
                    edges: r.u32("tree map type")?,
                    key: r.u32("tree map type")?,
                    value: r.u32("tree map type")?,
                },
                _ => {
                    return Err(Error::Invalid {
                        what: "type kind",
                        offset: at,
                    })
                }
            };
            types.push(SourceType { name, size, kind });
        }
        // Every type reference must resolve, so readers can index freely.
        let n = types.len() as u32;
        let bad_ref = |ty: u32| ty >= n;
        let type_refs_ok = types.iter().all(|t| match &t.kind {
            TypeKind::Struct { fields } => fields.iter().all(|f| !bad_ref(f.2)),
            TypeKind::Slice { elem } | TypeKind::Vec { elem, .. } => !bad_ref(*elem),
            TypeKind::Pointer { target } => !bad_ref(*target),
            TypeKind::Enum { variants, .. } => variants
                .iter()
                .all(|v| v.fields.iter().all(|f| !bad_ref(f.2))),
            TypeKind::HashMap { entry, .. } => !bad_ref(*entry),
            TypeKind::BTreeMap { key, value, .. } => !bad_ref(*key) && !bad_ref(*value),
            _ => true,
        }) && functions.iter().all(|f| {
            f.source.as_ref().is_none_or(|s| {
                s.params.iter().all(|p| !bad_ref(p.ty)) && s.result.is_none_or(|(t, _)| !bad_ref(t))
            })
        });
        if !type_refs_ok {
            return Err(Error::Invalid {
                what: "type reference",
                offset: r.pos,
            });
        }
        let limits = Limits {
            max_string: r.u32("string limit")?,
            max_elements: r.u32("element limit")?,
        };
        Ok(FunctionTable {
            limits,
            options: TraceOptions {
                strategy,
                timestamps,
                sample,
                staging_bytes,
            },
            program,
            functions,
            types,
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, mut v: u32) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn types(&mut self, t: &[ValType]) {
        self.u32(t.len() as u32);
        self.0.extend(t.iter().map(|t| t.code()));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Truncated {
                what,
                offset: self.bytes.len(),
            }),
        }
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let start = self.pos;
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.take(1, what)?[0];
            if shift == 28 && b > 0x0f {
                return Err(Error::Invalid {
                    what,
                    offset: start,
                });
            }
            v |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Invalid {
            what,
            offset: start,
        })
    }
    fn str(&mut self, what: &'static str) -> Result<String, Error> {
        let len = self.u32(what)? as usize;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| Error::Invalid { what, offset: at })
    }
    fn types(&mut self) -> Result<Vec<ValType>, Error> {
        let n = self.u32("type count")? as usize;
        let at = self.pos;
        let codes = self.take(n, "types")?;
        codes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                ValType::from_code(c).ok_or(Error::Invalid {
                    what: "value type",
                    offset: at + i,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn sample() -> FunctionTable {
        FunctionTable {
            options: TraceOptions {
                strategy: Strategy::Hooks,
                timestamps: false,
                sample: 7,
                staging_bytes: 4096,
            },
            program: "fibonacci".to_string(),
            functions: vec![FunctionInfo {
                wasm_index: 300,
                raw_name: "_ZN9fibonacci9fibonacci17h0123456789abcdefE".to_string(),
                name: "fibonacci".to_string(),
                params: vec![ValType::I64, ValType::V128],
                results: vec![ValType::F64],
                param_names: vec!["n".to_string()],
                location: Some(Location {
                    file: "fibonacci.ruchy".to_string(),
                    line: 1,
                    column: 5,
                }),
                source: Some(SourceSignature {
                    params: vec![SourceParam {
                        name: "n".to_string(),
                        ty: 0,
                        lowering: Lowering::Scalars { first: 0, count: 1 },
                    }],
                    result: Some((1, ResultLowering::Indirect { param: 3 })),
                }),
                import: None,
            }],
            limits: Limits {
                max_string: 100,
                max_elements: 3,
            },
            types: vec![
                SourceType {
                    name: "i64".to_string(),
                    size: 8,
                    kind: TypeKind::Int {
                        signed: true,
                        bytes: 8,
                    },
                },
                SourceType {
                    name: "P".to_string(),
                    size: 16,
                    kind: TypeKind::Struct {
                        fields: vec![("x".to_string(), 0, 0)],
                    },
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let t = sample();
        assert_eq!(FunctionTable::decode(&t.encode()).unwrap(), t);
    }

    /// An import call's module and field survive encoding.
    #[test]
    fn round_trips_an_import() {
        let mut t = sample();
        t.functions[0].import = Some(Import {
            module: "wasi_snapshot_preview1".to_string(),
            field: "fd_write".to_string(),
        });
        assert_eq!(FunctionTable::decode(&t.encode()).unwrap(), t);
    }

    /// A version this decoder does not know is refused, not misread.
    #[test]
    fn refuses_unknown_versions() {
        let mut bytes = sample().encode();
        bytes[4] = 6;
        assert_eq!(
            FunctionTable::decode(&bytes),
            Err(Error::UnsupportedVersion(6))
        );
        // Version 4 tables recorded no v128 or reference values.
        bytes[4] = 4;
        assert_eq!(
            FunctionTable::decode(&bytes),
            Err(Error::UnsupportedVersion(4))
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(
                FunctionTable::decode(&bytes[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
    }
}
