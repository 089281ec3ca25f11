//! Reading DWARF: each function's source name, parameters, types and
//! definition site, before the rewrite makes the code offsets stale.

use gimli::{AttributeValue, EndianSlice, LittleEndian, Unit, UnitOffset};
use ruchy_trace_core::source::{SourceType, TypeId, TypeKind, Variant};
use std::collections::HashMap;

/// Most struct members one search through nested structs looks at. Real
/// collections nest a few levels of a few members; debug information that
/// repeats a struct many times over would otherwise make a search
/// exponential in its depth.
const MAX_MEMBER_VISITS: u32 = 256;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// What the debug information says about one function.
#[derive(Debug, Clone)]
pub struct FunctionDebug {
    /// The defining file, as written in the debug information.
    pub file: Option<String>,
    /// The line of the definition.
    pub line: u32,
    /// Parameter names and types, in source order.
    pub params: Vec<(String, TypeId)>,
    /// The result type, unless `()`.
    pub result: Option<TypeId>,
    /// Whether it is a closure body, whose first wasm parameter (after a
    /// result address) is its environment: not a source parameter.
    pub closure: bool,
}

/// Types and functions from a module's DWARF.
#[derive(Debug, Default)]
pub struct DebugInfo {
    /// Every type a function mentions.
    pub types: Vec<SourceType>,
    /// By linkage (mangled) name.
    pub functions: HashMap<String, FunctionDebug>,
}

/// Reads the DWARF in `sections` (custom section name to contents) for the
/// functions whose linkage names are `wanted`; an unreadable part is
/// skipped, never fatal.
pub fn read(
    sections: &HashMap<String, &[u8]>,
    wanted: &std::collections::HashSet<&str>,
) -> DebugInfo {
    let mut info = DebugInfo::default();
    if !sections.contains_key(".debug_info") {
        return info;
    }
    let load = |id: gimli::SectionId| -> Result<R<'_>, gimli::Error> {
        Ok(EndianSlice::new(
            sections.get(id.name()).copied().unwrap_or(&[]),
            LittleEndian,
        ))
    };
    let Ok(dwarf) = gimli::Dwarf::load(load) else {
        return info;
    };
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let mut reader = UnitReader {
            dwarf: &dwarf,
            unit: &unit,
            info: &mut info,
            memo: HashMap::new(),
            wanted,
        };
        let _ = reader.functions();
    }
    info
}

struct UnitReader<'a, 'i> {
    dwarf: &'a gimli::Dwarf<R<'a>>,
    unit: &'a Unit<R<'a>>,
    info: &'i mut DebugInfo,
    memo: HashMap<UnitOffset, TypeId>,
    wanted: &'i std::collections::HashSet<&'i str>,
}

fn udata(v: Option<AttributeValue<R<'_>>>) -> Option<u64> {
    v.and_then(|v| v.udata_value())
}

/// A tag value as the bits of the tag: negative enumerators keep their
/// two's complement.
fn discr_value(v: Option<AttributeValue<R<'_>>>) -> Option<u64> {
    match v? {
        AttributeValue::Sdata(s) => Some(s as u64),
        other => other.udata_value(),
    }
}

/// The name as a Ruchy programmer writes it: no module paths, no allocator
/// parameters (`alloc::vec::Vec<i64, alloc::alloc::Global>` is `Vec<i64>`).
pub fn source_type_name(raw: &str) -> String {
    let cleaned = raw
        .replace(", alloc::alloc::Global", "")
        .replace(", std::hash::random::RandomState", "");
    let mut out = String::with_capacity(cleaned.len());
    let mut segment = String::new();
    for c in cleaned.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

impl<'a> UnitReader<'a, '_> {
    fn string(&self, v: Option<AttributeValue<R<'a>>>) -> Option<String> {
        let r = self.dwarf.attr_string(self.unit, v?).ok()?;
        Some(r.to_string_lossy().into_owned())
    }

    fn file(&self, index: u64) -> Option<String> {
        let program = self.unit.line_program.as_ref()?;
        let entry = program.header().file(index)?;
        let name = self.string(Some(entry.path_name()))?;
        Some(name.strip_prefix("./").unwrap_or(&name).to_string())
    }

    fn functions(&mut self) -> gimli::Result<()> {
        let mut entries = self.unit.entries();
        let mut current: Option<(String, FunctionDebug, isize)> = None;
        while let Some(e) = entries.next_dfs()? {
            let depth = e.depth();
            if let Some((_, _, d)) = &current {
                if depth <= *d {
                    let (name, f, _) = current.take().expect("checked");
                    self.info.functions.insert(name, f);
                }
            }
            match e.tag() {
                gimli::DW_TAG_subprogram if e.attr(gimli::DW_AT_low_pc).is_some() => {
                    // A method's code refers to its declaration inside the
                    // type (`DW_AT_specification`), which holds its names,
                    // site and result type.
                    let decl = match e.attr_value(gimli::DW_AT_specification) {
                        Some(AttributeValue::UnitRef(d)) => self.unit.entry(d).ok(),
                        _ => None,
                    };
                    let attr = |at| e.attr_value(at).or_else(|| decl.as_ref()?.attr_value(at));
                    // Unmangled (`#[no_mangle]`, C) functions have no linkage
                    // name: their name is the symbol.
                    let Some(linkage) = self
                        .string(attr(gimli::DW_AT_linkage_name))
                        .or_else(|| self.string(attr(gimli::DW_AT_name)))
                    else {
                        continue;
                    };
                    if !self.wanted.contains(linkage.as_str()) {
                        continue;
                    }
                    let file = match attr(gimli::DW_AT_decl_file) {
                        Some(AttributeValue::FileIndex(i)) => self.file(i),
                        other => udata(other).and_then(|i| self.file(i)),
                    };
                    let line = udata(attr(gimli::DW_AT_decl_line)).unwrap_or(0) as u32;
                    let result = match attr(gimli::DW_AT_type) {
                        Some(AttributeValue::UnitRef(off)) => Some(self.ty(off, 0)),
                        _ => None,
                    };
                    let result =
                        result.filter(|&t| self.info.types[t as usize].kind != TypeKind::Unit);
                    let closure = self
                        .string(attr(gimli::DW_AT_name))
                        .is_some_and(|n| n.starts_with("{closure#"));
                    current = Some((
                        linkage,
                        FunctionDebug {
                            file,
                            line,
                            params: Vec::new(),
                            result,
                            closure,
                        },
                        depth,
                    ));
                }
                gimli::DW_TAG_formal_parameter => {
                    if let Some((_, f, d)) = &current {
                        if depth == *d + 1 {
                            let name = self
                                .string(e.attr_value(gimli::DW_AT_name))
                                .unwrap_or_else(|| "_".into());
                            let ty = match e.attr_value(gimli::DW_AT_type) {
                                Some(AttributeValue::UnitRef(off)) => off,
                                _ => continue,
                            };
                            // A closure's environment is not one of its
                            // source parameters.
                            if f.closure && self.is_closure_env(ty) {
                                continue;
                            }
                            let ty = self.ty(ty, 0);
                            if let Some((_, f, _)) = &mut current {
                                f.params.push((name, ty));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some((name, f, _)) = current.take() {
            self.info.functions.insert(name, f);
        }
        Ok(())
    }

    /// Whether `ty` is a closure environment or a pointer to one.
    fn is_closure_env(&self, ty: UnitOffset) -> bool {
        let name_of = |off| {
            self.unit
                .entry(off)
                .ok()
                .and_then(|e| self.string(e.attr_value(gimli::DW_AT_name)))
        };
        let Ok(e) = self.unit.entry(ty) else {
            return false;
        };
        let target = match e.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(t)) if e.tag() == gimli::DW_TAG_pointer_type => t,
            _ => ty,
        };
        name_of(target).is_some_and(|n| n.starts_with("{closure_env#"))
    }

    fn push(&mut self, t: SourceType) -> TypeId {
        self.info.types.push(t);
        self.info.types.len() as TypeId - 1
    }

    fn opaque(&mut self, name: &str) -> TypeId {
        self.push(SourceType {
            name: name.to_string(),
            size: 0,
            kind: TypeKind::Opaque,
        })
    }

    /// The type at `off`, converted once per unit.
    fn ty(&mut self, off: UnitOffset, depth: u32) -> TypeId {
        if let Some(&id) = self.memo.get(&off) {
            return id;
        }
        if depth > 12 {
            return self.opaque("…");
        }
        // A placeholder first, so recursive types end.
        let id = self.opaque("…");
        self.memo.insert(off, id);
        let converted = self.convert(off, depth).unwrap_or(SourceType {
            name: "?".into(),
            size: 0,
            kind: TypeKind::Opaque,
        });
        self.info.types[id as usize] = converted;
        id
    }

    fn children(
        &self,
        off: UnitOffset,
    ) -> gimli::Result<Vec<gimli::DebuggingInformationEntry<R<'a>>>> {
        let mut tree = self.unit.entries_tree(Some(off))?;
        let root = tree.root()?;
        let mut out = Vec::new();
        let mut children = root.children();
        while let Some(child) = children.next()? {
            out.push(child.entry().clone());
        }
        Ok(out)
    }

    fn convert(&mut self, off: UnitOffset, depth: u32) -> gimli::Result<SourceType> {
        let e = self.unit.entry(off)?;
        let raw_name = self
            .string(e.attr_value(gimli::DW_AT_name))
            .unwrap_or_default();
        let name = source_type_name(&raw_name);
        let size = udata(e.attr_value(gimli::DW_AT_byte_size)).unwrap_or(0) as u32;
        let target = |r: &Self| match e.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(t)) => Some(t),
            _ => {
                let _ = r;
                None
            }
        };
        let kind = match e.tag() {
            gimli::DW_TAG_base_type => {
                let enc = match e.attr_value(gimli::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(enc)) => enc,
                    _ => gimli::DW_ATE_signed,
                };
                let bytes = size as u8;
                match enc {
                    _ if size == 0 => TypeKind::Unit,
                    gimli::DW_ATE_boolean => TypeKind::Bool,
                    gimli::DW_ATE_float if size == 4 || size == 8 => TypeKind::Float { bytes },
                    gimli::DW_ATE_UTF if size == 4 => TypeKind::Char,
                    gimli::DW_ATE_signed | gimli::DW_ATE_signed_char
                        if matches!(size, 1 | 2 | 4 | 8 | 16) =>
                    {
                        TypeKind::Int {
                            signed: true,
                            bytes,
                        }
                    }
                    gimli::DW_ATE_unsigned | gimli::DW_ATE_unsigned_char
                        if matches!(size, 1 | 2 | 4 | 8 | 16) =>
                    {
                        TypeKind::Int {
                            signed: false,
                            bytes,
                        }
                    }
                    _ => TypeKind::Opaque,
                }
            }
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => match target(self) {
                Some(t) => TypeKind::Pointer {
                    target: self.ty(t, depth + 1),
                },
                None => TypeKind::Opaque,
            },
            gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type => {
                return match target(self) {
                    Some(t) => {
                        let id = self.ty(t, depth + 1);
                        Ok(self.info.types[id as usize].clone())
                    }
                    None => Ok(SourceType {
                        name,
                        size,
                        kind: TypeKind::Opaque,
                    }),
                };
            }
            gimli::DW_TAG_structure_type => self.structure(off, &name, depth)?,
            gimli::DW_TAG_enumeration_type => self.enumeration(off, size)?,
            _ => TypeKind::Opaque,
        };
        let name = if name.is_empty() {
            "?".to_string()
        } else {
            name
        };
        Ok(SourceType { name, size, kind })
    }

    fn member_offset(e: &gimli::DebuggingInformationEntry<R<'_>>) -> u32 {
        udata(e.attr_value(gimli::DW_AT_data_member_location)).unwrap_or(0) as u32
    }

    /// Offset of the first thin pointer inside a struct, and of its field
    /// named `len`, searching nested structs; `visits` is how many more
    /// members the search may look at.
    fn find_ptr_len(
        &self,
        off: UnitOffset,
        base: u32,
        depth: u32,
        visits: &mut u32,
        ptr: &mut Option<(u32, UnitOffset)>,
        len: &mut Option<u32>,
    ) -> gimli::Result<()> {
        if depth > 8 {
            return Ok(());
        }
        for m in self.children(off)? {
            if m.tag() != gimli::DW_TAG_member {
                continue;
            }
            let Some(left) = visits.checked_sub(1) else {
                return Ok(());
            };
            *visits = left;
            let at = base.wrapping_add(Self::member_offset(&m));
            let mname = self
                .string(m.attr_value(gimli::DW_AT_name))
                .unwrap_or_default();
            let Some(AttributeValue::UnitRef(t)) = m.attr_value(gimli::DW_AT_type) else {
                continue;
            };
            let te = self.unit.entry(t)?;
            if mname == "len" && len.is_none() && te.tag() == gimli::DW_TAG_base_type {
                *len = Some(at);
            }
            match te.tag() {
                gimli::DW_TAG_pointer_type if ptr.is_none() => {
                    if let Some(AttributeValue::UnitRef(p)) = te.attr_value(gimli::DW_AT_type) {
                        *ptr = Some((at, p));
                    }
                }
                gimli::DW_TAG_structure_type => {
                    self.find_ptr_len(t, at, depth + 1, visits, ptr, len)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A C-like enumeration: its enumerators are the tag values of
    /// variants without fields.
    fn enumeration(&mut self, off: UnitOffset, size: u32) -> gimli::Result<TypeKind> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Ok(TypeKind::Opaque);
        }
        let mut variants = Vec::new();
        for c in self.children(off)? {
            if c.tag() != gimli::DW_TAG_enumerator {
                continue;
            }
            let Some(value) = discr_value(c.attr_value(gimli::DW_AT_const_value)) else {
                return Ok(TypeKind::Opaque);
            };
            variants.push(Variant {
                name: self
                    .string(c.attr_value(gimli::DW_AT_name))
                    .unwrap_or_default(),
                discr: Some(value),
                fields: Vec::new(),
            });
        }
        Ok(TypeKind::Enum {
            tag: Some((0, size as u8)),
            variants,
        })
    }

    /// An enum from its variant part: the tag member the part names, and
    /// each variant's fields, whose offsets are from the enum's start.
    fn sum(&mut self, part: UnitOffset, depth: u32) -> gimli::Result<TypeKind> {
        let entry = self.unit.entry(part)?;
        let tag = match entry.attr_value(gimli::DW_AT_discr) {
            Some(AttributeValue::UnitRef(d)) => {
                let m = self.unit.entry(d)?;
                let size = match m.attr_value(gimli::DW_AT_type) {
                    Some(AttributeValue::UnitRef(t)) => {
                        udata(self.unit.entry(t)?.attr_value(gimli::DW_AT_byte_size))
                    }
                    _ => None,
                };
                match size {
                    Some(s @ (1 | 2 | 4 | 8)) => Some((Self::member_offset(&m), s as u8)),
                    _ => return Ok(TypeKind::Opaque),
                }
            }
            _ => None,
        };
        let mut variants = Vec::new();
        for v in self.children(part)? {
            if v.tag() != gimli::DW_TAG_variant {
                continue;
            }
            let discr = discr_value(v.attr_value(gimli::DW_AT_discr_value));
            for m in self.children(v.offset())? {
                if m.tag() != gimli::DW_TAG_member {
                    continue;
                }
                let name = self
                    .string(m.attr_value(gimli::DW_AT_name))
                    .unwrap_or_default();
                let base = Self::member_offset(&m);
                let Some(AttributeValue::UnitRef(t)) = m.attr_value(gimli::DW_AT_type) else {
                    return Ok(TypeKind::Opaque);
                };
                let mut fields = Vec::new();
                for f in self.children(t)? {
                    if f.tag() != gimli::DW_TAG_member {
                        continue;
                    }
                    let Some(AttributeValue::UnitRef(ft)) = f.attr_value(gimli::DW_AT_type) else {
                        return Ok(TypeKind::Opaque);
                    };
                    let fname = self
                        .string(f.attr_value(gimli::DW_AT_name))
                        .unwrap_or_default();
                    let fty = self.ty(ft, depth + 1);
                    fields.push((fname, base + Self::member_offset(&f), fty));
                }
                variants.push(Variant {
                    name,
                    discr,
                    fields,
                });
            }
        }
        Ok(TypeKind::Enum { tag, variants })
    }

    /// A `HashMap`: hashbrown's `RawTable<(K, V)>` inside it, wherever it
    /// is nested, gives the entry type and where its control bytes,
    /// bucket mask and entry count are.
    fn hash_map(&mut self, off: UnitOffset, depth: u32) -> gimli::Result<TypeKind> {
        let Some((base, table)) =
            self.find_struct(off, 0, "RawTable<", 0, &mut { MAX_MEMBER_VISITS })?
        else {
            return Ok(TypeKind::Opaque);
        };
        let Some(entry) = self.template_param(table, "T")? else {
            return Ok(TypeKind::Opaque);
        };
        let Some((inner_at, inner)) =
            self.find_struct(table, base, "RawTableInner", 0, &mut { MAX_MEMBER_VISITS })?
        else {
            return Ok(TypeKind::Opaque);
        };
        let at = |name: &str| -> gimli::Result<Option<u32>> {
            Ok(self.children(inner)?.iter().find_map(|m| {
                (self.string(m.attr_value(gimli::DW_AT_name)).as_deref() == Some(name))
                    .then(|| inner_at + Self::member_offset(m))
            }))
        };
        let (Some(ctrl), Some(mask), Some(items)) = (at("ctrl")?, at("bucket_mask")?, at("items")?)
        else {
            return Ok(TypeKind::Opaque);
        };
        Ok(TypeKind::HashMap {
            ctrl,
            mask,
            items,
            entry: self.ty(entry, depth + 1),
        })
    }

    /// The member reached from the type at `off` by following `names`, one
    /// member per name (a variant such as `Some` counts as a member of its
    /// enum): its offset from `off`'s start, and its type.
    fn member_path(
        &self,
        mut off: UnitOffset,
        names: &[&str],
    ) -> gimli::Result<Option<(u32, UnitOffset)>> {
        let mut at = 0;
        for name in names {
            let mut members = Vec::new();
            for c in self.children(off)? {
                match c.tag() {
                    gimli::DW_TAG_member => members.push(c),
                    gimli::DW_TAG_variant_part => {
                        for v in self.children(c.offset())? {
                            if v.tag() == gimli::DW_TAG_variant {
                                members.extend(self.children(v.offset())?);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let found = members.iter().find(|m| {
                m.tag() == gimli::DW_TAG_member
                    && self.string(m.attr_value(gimli::DW_AT_name)).as_deref() == Some(name)
            });
            let Some(m) = found else {
                return Ok(None);
            };
            let Some(AttributeValue::UnitRef(t)) = m.attr_value(gimli::DW_AT_type) else {
                return Ok(None);
            };
            at += Self::member_offset(m);
            off = t;
        }
        Ok(Some((at, off)))
    }

    /// A `BTreeMap`: the root node and height inside `root`, the entry
    /// count, and where a node keeps its keys, values, key count and (past
    /// the leaf part, an internal node being `#[repr(C)]` leaf then edges)
    /// its children.
    fn btree_map(&mut self, off: UnitOffset, depth: u32) -> gimli::Result<TypeKind> {
        let root = self.member_path(off, &["root", "Some", "__0", "node"])?;
        let height = self.member_path(off, &["root", "Some", "__0", "height"])?;
        let length = self.member_path(off, &["length"])?;
        let (Some((root, non_null)), Some((height, _)), Some((length, _))) = (root, height, length)
        else {
            return Ok(TypeKind::Opaque);
        };
        let Some((_, pointer)) = self.member_path(non_null, &["pointer"])? else {
            return Ok(TypeKind::Opaque);
        };
        let Some(AttributeValue::UnitRef(leaf)) =
            self.unit.entry(pointer)?.attr_value(gimli::DW_AT_type)
        else {
            return Ok(TypeKind::Opaque);
        };
        let leaf_size = udata(self.unit.entry(leaf)?.attr_value(gimli::DW_AT_byte_size));
        let keys = self.member_path(leaf, &["keys"])?;
        let vals = self.member_path(leaf, &["vals"])?;
        let len = self.member_path(leaf, &["len"])?;
        let (Some(leaf_size), Some((keys, _)), Some((vals, _)), Some((len, _))) =
            (leaf_size, keys, vals, len)
        else {
            return Ok(TypeKind::Opaque);
        };
        let (Some(key), Some(value)) = (
            self.template_param(off, "K")?,
            self.template_param(off, "V")?,
        ) else {
            return Ok(TypeKind::Opaque);
        };
        Ok(TypeKind::BTreeMap {
            root,
            height,
            length,
            keys,
            vals,
            len,
            edges: (leaf_size as u32).next_multiple_of(4),
            key: self.ty(key, depth + 1),
            value: self.ty(value, depth + 1),
        })
    }

    /// The first struct member (searching nested structs) whose type name
    /// starts with `prefix`: its offset from `off`'s start plus `base`, and
    /// its type; `visits` is how many more members the search may look at.
    fn find_struct(
        &self,
        off: UnitOffset,
        base: u32,
        prefix: &str,
        depth: u32,
        visits: &mut u32,
    ) -> gimli::Result<Option<(u32, UnitOffset)>> {
        if depth > 6 {
            return Ok(None);
        }
        for m in self.children(off)? {
            if m.tag() != gimli::DW_TAG_member {
                continue;
            }
            let Some(left) = visits.checked_sub(1) else {
                return Ok(None);
            };
            *visits = left;
            let Some(AttributeValue::UnitRef(t)) = m.attr_value(gimli::DW_AT_type) else {
                continue;
            };
            let te = self.unit.entry(t)?;
            if te.tag() != gimli::DW_TAG_structure_type {
                continue;
            }
            let at = base.wrapping_add(Self::member_offset(&m));
            let tname = self
                .string(te.attr_value(gimli::DW_AT_name))
                .unwrap_or_default();
            if tname.starts_with(prefix) {
                return Ok(Some((at, t)));
            }
            if let Some(found) = self.find_struct(t, at, prefix, depth + 1, visits)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn template_param(&self, off: UnitOffset, name: &str) -> gimli::Result<Option<UnitOffset>> {
        for c in self.children(off)? {
            if c.tag() == gimli::DW_TAG_template_type_parameter
                && self.string(c.attr_value(gimli::DW_AT_name)).as_deref() == Some(name)
            {
                if let Some(AttributeValue::UnitRef(t)) = c.attr_value(gimli::DW_AT_type) {
                    return Ok(Some(t));
                }
            }
        }
        Ok(None)
    }

    fn structure(&mut self, off: UnitOffset, name: &str, depth: u32) -> gimli::Result<TypeKind> {
        let children = self.children(off)?;
        if let Some(part) = children
            .iter()
            .find(|c| c.tag() == gimli::DW_TAG_variant_part)
        {
            return self.sum(part.offset(), depth);
        }
        if name.starts_with("HashMap<") || name.starts_with("HashSet<") {
            return self.hash_map(off, depth);
        }
        if name.starts_with("BTreeMap<") {
            return self.btree_map(off, depth);
        }
        if name == "&str" {
            return Ok(TypeKind::StrRef);
        }
        if name.starts_with("&[") || name.starts_with("&mut [") {
            let data = children.iter().find(|c| {
                self.string(c.attr_value(gimli::DW_AT_name)).as_deref() == Some("data_ptr")
            });
            if let Some(AttributeValue::UnitRef(p)) =
                data.and_then(|d| d.attr_value(gimli::DW_AT_type))
            {
                if let Some(AttributeValue::UnitRef(elem)) =
                    self.unit.entry(p)?.attr_value(gimli::DW_AT_type)
                {
                    return Ok(TypeKind::Slice {
                        elem: self.ty(elem, depth + 1),
                    });
                }
            }
            return Ok(TypeKind::Opaque);
        }
        if name == "String" || name.starts_with("Vec<") {
            let (mut ptr, mut len) = (None, None);
            self.find_ptr_len(off, 0, 0, &mut { MAX_MEMBER_VISITS }, &mut ptr, &mut len)?;
            let (Some((ptr, _)), Some(len)) = (ptr, len) else {
                return Ok(TypeKind::Opaque);
            };
            if name == "String" {
                return Ok(TypeKind::Str { ptr, len });
            }
            return Ok(match self.template_param(off, "T")? {
                Some(t) => TypeKind::Vec {
                    elem: self.ty(t, depth + 1),
                    ptr,
                    len,
                },
                None => TypeKind::Opaque,
            });
        }
        let mut fields = Vec::new();
        for m in &children {
            if m.tag() != gimli::DW_TAG_member {
                continue;
            }
            let fname = self
                .string(m.attr_value(gimli::DW_AT_name))
                .unwrap_or_default();
            let Some(AttributeValue::UnitRef(t)) = m.attr_value(gimli::DW_AT_type) else {
                return Ok(TypeKind::Opaque);
            };
            let fty = self.ty(t, depth + 1);
            fields.push((fname, Self::member_offset(m), fty));
        }
        Ok(TypeKind::Struct { fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gimli::write::{self, DwarfUnit, EndianVec, Sections, UnitEntryId};
    use std::collections::HashSet;

    /// A unit holding the struct `X` of 50 members that are all `X`, a
    /// struct named `name` of 50 `X` members and then `len: usize`, and the
    /// function `f(s: <that struct>)`: what `read` finds for `f`.
    fn read_repeated_struct(name: &str) -> (DebugInfo, TypeId) {
        let encoding = gimli::Encoding {
            format: gimli::Format::Dwarf32,
            version: 4,
            address_size: 4,
        };
        let mut dwarf = DwarfUnit::new(encoding);
        let root = dwarf.unit.root();
        let mut add =
            |parent: UnitEntryId, tag, attrs: Vec<(gimli::DwAt, write::AttributeValue)>| {
                let id = dwarf.unit.add(parent, tag);
                for (at, value) in attrs {
                    dwarf.unit.get_mut(id).set(at, value);
                }
                id
            };
        let text = |s: &str| write::AttributeValue::String(s.as_bytes().to_vec());
        let usize_ty = add(
            root,
            gimli::DW_TAG_base_type,
            vec![
                (gimli::DW_AT_name, text("usize")),
                (gimli::DW_AT_byte_size, write::AttributeValue::Udata(4)),
            ],
        );
        let x = add(
            root,
            gimli::DW_TAG_structure_type,
            vec![(gimli::DW_AT_name, text("X"))],
        );
        let outer = add(
            root,
            gimli::DW_TAG_structure_type,
            vec![(gimli::DW_AT_name, text(name))],
        );
        for parent in [x, outer] {
            for i in 0..50 {
                add(
                    parent,
                    gimli::DW_TAG_member,
                    vec![
                        (gimli::DW_AT_name, text(&format!("f{i}"))),
                        (gimli::DW_AT_type, write::AttributeValue::UnitRef(x)),
                    ],
                );
            }
        }
        add(
            outer,
            gimli::DW_TAG_member,
            vec![
                (gimli::DW_AT_name, text("len")),
                (gimli::DW_AT_type, write::AttributeValue::UnitRef(usize_ty)),
            ],
        );
        let f = add(
            root,
            gimli::DW_TAG_subprogram,
            vec![
                (gimli::DW_AT_name, text("f")),
                (
                    gimli::DW_AT_low_pc,
                    write::AttributeValue::Address(write::Address::Constant(0)),
                ),
            ],
        );
        add(
            f,
            gimli::DW_TAG_formal_parameter,
            vec![
                (gimli::DW_AT_name, text("s")),
                (gimli::DW_AT_type, write::AttributeValue::UnitRef(outer)),
            ],
        );
        let mut sections = Sections::new(EndianVec::new(gimli::LittleEndian));
        dwarf.write(&mut sections).expect("DWARF writes");
        let mut owned = HashMap::new();
        sections
            .for_each(|id, data| {
                owned.insert(id.name().to_string(), data.slice().to_vec());
                Ok::<_, ()>(())
            })
            .expect("sections");
        let borrowed = owned.iter().map(|(k, v)| (k.clone(), &v[..])).collect();
        let info = read(&borrowed, &HashSet::from(["f"]));
        let ty = info.functions["f"].params[0].1;
        (info, ty)
    }

    /// A `String` or `HashMap` whose members repeat a struct 50 times over,
    /// 8 levels deep (50^8 paths), is read at once: the search for its
    /// pointer, length or table gives up after `MAX_MEMBER_VISITS`
    /// members, and the type is shown by name, its contents opaque.
    #[test]
    fn a_struct_repeated_many_times_over_is_searched_within_bounds() {
        for name in ["String", "HashMap<i32, i32>"] {
            let (info, ty) = read_repeated_struct(name);
            let t = &info.types[ty as usize];
            assert_eq!((t.name.as_str(), &t.kind), (name, &TypeKind::Opaque));
        }
    }

    #[test]
    fn names_are_spelled_as_in_source() {
        assert_eq!(
            source_type_name("alloc::vec::Vec<i64, alloc::alloc::Global>"),
            "Vec<i64>"
        );
        assert_eq!(
            source_type_name("core::option::Option<alloc::string::String>"),
            "Option<String>"
        );
        assert_eq!(source_type_name("&str"), "&str");
        assert_eq!(source_type_name("Point"), "Point");
    }
}
