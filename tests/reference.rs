//! The independent reference the differential suites check recorded values
//! against: caller-side logging.
//!
//! ruchy-trace rewrites every function to report its own entry and exit
//! (callee side). This module rewrites the *caller* instead, and shares no
//! code with `ruchy-trace-instrument`: before every `call`, `call_indirect`,
//! `call_ref` and `return_call*` it stores the arguments in fresh locals and
//! hands the callee and each argument to a host import, then puts the
//! arguments back and calls; after a (non-tail) call it does the same with
//! the results. Floats cross as their bit patterns (NaN payloads survive),
//! a `v128` as its two 64-bit halves, a reference as whether it is null.
//!
//! A run of the reference module gives a log of calls as the callers saw
//! them. [`expected`] turns that log, with the calls the host made itself
//! (the invoked exports, with the engine's own arguments and results), into
//! the callee-side events each instrumented instance must have recorded.
#![allow(dead_code)]

use std::collections::HashMap;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    BlockType, CodeSection, EntityType, ExportKind, ExportSection, Function, HeapType,
    ImportSection, Instruction, RefType, TypeSection,
};
use wasmparser::{FunctionBody, Operator, Parser, Payload, TypeRef, ValType};

/// The import module of the log functions.
pub const MODULE: &str = "ruchy_trace_reference";
/// `call(tail: i32, function: i32)`: a direct call of `function` (an index
/// of the original module) follows.
pub const CALL: &str = "call";
/// `call_ref(tail: i32, callee: funcref, type: i32)`: an indirect call
/// follows; null when the table slot is out of bounds or empty, and the
/// callee not entered when its type does not match `type` (the call then
/// traps). `type` is -1 for `call_ref`, whose type the validator checked.
pub const CALL_REF: &str = "call_ref";
/// `return()`: the innermost call returned; its results follow.
pub const RETURN: &str = "return";
/// `value(type: i32, low: i64, high: i64)`: one argument or result.
pub const VALUE: &str = "value";
/// Every function `i` is exported as `FUNC_EXPORT` + `i`, so the host can
/// tell which function an indirect callee is.
pub const FUNC_EXPORT: &str = "__reference_func_";
/// For each type `t` a `call_indirect` names, a function of that type
/// (its body traps) is exported as `TYPE_EXPORT` + `t`: the host checks an
/// indirect callee's type against it, as the engine does before entering.
pub const TYPE_EXPORT: &str = "__reference_type_";

/// The `type` of a logged value.
pub mod ty {
    pub const I32: u8 = 0;
    pub const I64: u8 = 1;
    pub const F32: u8 = 2;
    pub const F64: u8 = 3;
    pub const V128: u8 = 4;
    pub const REF: u8 = 5;
}

/// One logged value: its type and its bits (`is null` for a reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub ty: u8,
    pub low: u64,
    pub high: u64,
}

/// Who was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callee {
    /// A function index of the calling instance's original module.
    Index(u32),
    /// A function reference, by its `Func::to_raw` address (0 for null).
    Ref(usize),
}

/// One entry of the caller-side log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A call is about to happen, from `instance` (the order in which the
    /// reference side instantiated it) or, for `instance: None`, from the
    /// host.
    Call {
        instance: Option<usize>,
        tail: bool,
        callee: Callee,
        args: Vec<Logged>,
    },
    /// The innermost call returned these results.
    Return { results: Vec<Logged> },
}

/// A value as the log holds it.
pub fn logged(v: &wasmtime::Val) -> Logged {
    use wasmtime::Val;
    let (ty, low, high) = match v {
        Val::I32(x) => (ty::I32, *x as u32 as u64, 0),
        Val::I64(x) => (ty::I64, *x as u64, 0),
        Val::F32(x) => (ty::F32, u64::from(*x), 0),
        Val::F64(x) => (ty::F64, *x, 0),
        Val::V128(x) => {
            let x = x.as_u128();
            (ty::V128, x as u64, (x >> 64) as u64)
        }
        Val::FuncRef(r) => (ty::REF, r.is_none() as u64, 0),
        Val::ExternRef(r) => (ty::REF, r.is_none() as u64, 0),
        Val::AnyRef(r) => (ty::REF, r.is_none() as u64, 0),
        Val::ExnRef(r) => (ty::REF, r.is_none() as u64, 0),
        Val::ContRef(r) => (ty::REF, r.is_none() as u64, 0),
    };
    Logged { ty, low, high }
}

/// What the rewrite learned about the original module.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Function imports, in order.
    pub imported_functions: Vec<(String, String)>,
    /// Index of the start function, if any.
    pub start: Option<u32>,
    /// Function index of every exported function, by export name.
    pub exports: HashMap<String, u32>,
    /// Number of defined functions.
    pub defined: u32,
}

/// Maps function indices of the original module to the rewritten one: the
/// log imports come after the module's own function imports.
struct Shift {
    imported: u32,
}

/// Log imports added: `call`, `call_ref`, `return`, `value`.
const ADDED: u32 = 4;

impl Reencode for Shift {
    type Error = std::convert::Infallible;
    fn function_index(&mut self, f: u32) -> Result<u32, reencode::Error<Self::Error>> {
        Ok(if f >= self.imported { f + ADDED } else { f })
    }
}

type Sig = (Vec<ValType>, Vec<ValType>);

/// Rewrites `wasm` to log every call at its call site. The result behaves
/// as the original does, apart from calling the log imports.
pub fn instrument(wasm: &[u8]) -> Result<(Vec<u8>, Shape), String> {
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    // First pass: types, function types, tables.
    let mut sigs: Vec<Option<Sig>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut table64: Vec<bool> = Vec::new();
    let mut indirect_types = std::collections::BTreeSet::new();
    let mut shape = Shape::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::TypeSection(r) => {
                for group in r {
                    for sub in group.map_err(err)?.into_types() {
                        sigs.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                Some((f.params().to_vec(), f.results().to_vec()))
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.map_err(err)?;
                    match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            func_types.push(t);
                            shape
                                .imported_functions
                                .push((import.module.into(), import.name.into()));
                        }
                        TypeRef::Table(t) => table64.push(t.table64),
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t.map_err(err)?);
                    shape.defined += 1;
                }
            }
            Payload::TableSection(r) => {
                for t in r {
                    table64.push(t.map_err(err)?.ty.table64);
                }
            }
            Payload::StartSection { func, .. } => shape.start = Some(func),
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().map_err(err)?;
                while !ops.eof() {
                    match ops.read().map_err(err)? {
                        Operator::CallIndirect { type_index, .. }
                        | Operator::ReturnCallIndirect { type_index, .. } => {
                            indirect_types.insert(type_index);
                        }
                        _ => {}
                    }
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(err)?;
                    if e.kind == wasmparser::ExternalKind::Func {
                        shape.exports.insert(e.name.into(), e.index);
                    }
                }
            }
            _ => {}
        }
    }
    let imported = shape.imported_functions.len() as u32;
    let sig_of_type = |t: u32| -> Result<&Sig, String> {
        sigs.get(t as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("type {t} is not a function type"))
    };
    // The log imports' types, appended after the module's own.
    let first_added_type = sigs.len() as u32;
    let log_types: [(&[wasm_encoder::ValType], &str); ADDED as usize] = [
        (
            &[wasm_encoder::ValType::I32, wasm_encoder::ValType::I32],
            CALL,
        ),
        (
            &[
                wasm_encoder::ValType::I32,
                wasm_encoder::ValType::FUNCREF,
                wasm_encoder::ValType::I32,
            ],
            CALL_REF,
        ),
        (&[], RETURN),
        (
            &[
                wasm_encoder::ValType::I32,
                wasm_encoder::ValType::I64,
                wasm_encoder::ValType::I64,
            ],
            VALUE,
        ),
    ];
    let (call_fn, call_ref_fn, return_fn, value_fn) =
        (imported, imported + 1, imported + 2, imported + 3);

    let mut shift = Shift { imported };
    let mut module = wasm_encoder::Module::new();
    let mut types_done = false;
    let mut imports_done = false;
    let mut exports_done = false;
    let mut bodies = 0u32;
    let mut code = CodeSection::new();
    let re = |e: reencode::Error<std::convert::Infallible>| e.to_string();
    let add_types = |module: &mut wasm_encoder::Module, ts: &mut TypeSection| {
        for (params, _) in &log_types {
            ts.ty().function(params.iter().copied(), []);
        }
        module.section(ts);
    };
    let add_imports = |ts: &mut ImportSection| {
        for (i, (_, name)) in log_types.iter().enumerate() {
            ts.import(
                MODULE,
                name,
                EntityType::Function(first_added_type + i as u32),
            );
        }
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(err)?;
        // The log imports need a type section and an import section, in
        // their places, even when the module has neither.
        let later = !matches!(
            payload,
            Payload::Version { .. }
                | Payload::TypeSection(_)
                | Payload::ImportSection(_)
                | Payload::CustomSection(_)
                | Payload::End(_)
        );
        if (later || matches!(payload, Payload::ImportSection(_) | Payload::End(_))) && !types_done
        {
            add_types(&mut module, &mut TypeSection::new());
            types_done = true;
        }
        if (later || matches!(payload, Payload::End(_))) && !imports_done {
            let mut is = ImportSection::new();
            add_imports(&mut is);
            module.section(&is);
            imports_done = true;
        }
        // Every defined function is exported, in an export section of
        // its own when the module has none.
        let after_exports = matches!(
            payload,
            Payload::StartSection { .. }
                | Payload::ElementSection(_)
                | Payload::DataCountSection { .. }
                | Payload::CodeSectionStart { .. }
                | Payload::DataSection(_)
                | Payload::End(_)
        );
        if after_exports && !exports_done {
            let mut s = ExportSection::new();
            export_functions(&mut s, imported, shape.defined, &indirect_types);
            module.section(&s);
            exports_done = true;
        }
        match payload {
            Payload::Version { .. } | Payload::End(_) => {}
            // Names and other custom sections index the original module:
            // dropped, the reference has no use for them.
            Payload::CustomSection(_) => {}
            Payload::TypeSection(r) => {
                let mut ts = TypeSection::new();
                reencode::utils::parse_type_section(&mut shift, &mut ts, r).map_err(re)?;
                add_types(&mut module, &mut ts);
                types_done = true;
            }
            Payload::ImportSection(r) => {
                let mut is = ImportSection::new();
                reencode::utils::parse_import_section(&mut shift, &mut is, r).map_err(re)?;
                add_imports(&mut is);
                module.section(&is);
                imports_done = true;
            }
            Payload::FunctionSection(r) => {
                let mut s = wasm_encoder::FunctionSection::new();
                reencode::utils::parse_function_section(&mut shift, &mut s, r).map_err(re)?;
                for &t in &indirect_types {
                    s.function(t);
                }
                module.section(&s);
            }
            Payload::TableSection(r) => {
                let mut s = wasm_encoder::TableSection::new();
                reencode::utils::parse_table_section(&mut shift, &mut s, r).map_err(re)?;
                module.section(&s);
            }
            Payload::MemorySection(r) => {
                let mut s = wasm_encoder::MemorySection::new();
                reencode::utils::parse_memory_section(&mut shift, &mut s, r).map_err(re)?;
                module.section(&s);
            }
            Payload::TagSection(r) => {
                let mut s = wasm_encoder::TagSection::new();
                reencode::utils::parse_tag_section(&mut shift, &mut s, r).map_err(re)?;
                module.section(&s);
            }
            Payload::GlobalSection(r) => {
                let mut s = wasm_encoder::GlobalSection::new();
                reencode::utils::parse_global_section(&mut shift, &mut s, r).map_err(re)?;
                module.section(&s);
            }
            Payload::ExportSection(r) => {
                let mut s = ExportSection::new();
                reencode::utils::parse_export_section(&mut shift, &mut s, r).map_err(re)?;
                export_functions(&mut s, imported, shape.defined, &indirect_types);
                module.section(&s);
                exports_done = true;
            }
            Payload::StartSection { func, .. } => {
                module.section(&wasm_encoder::StartSection {
                    function_index: shift.function_index(func).map_err(re)?,
                });
            }
            Payload::ElementSection(r) => {
                let mut s = wasm_encoder::ElementSection::new();
                reencode::utils::parse_element_section(&mut shift, &mut s, r).map_err(re)?;
                module.section(&s);
            }
            Payload::DataCountSection { count, .. } => {
                module.section(&wasm_encoder::DataCountSection { count });
            }
            Payload::CodeSectionStart { .. } => {}
            Payload::CodeSectionEntry(body) => {
                let index = imported + bodies;
                bodies += 1;
                let params = &sig_of_type(func_types[index as usize])?.0;
                let f = rewrite_body(
                    &mut shift,
                    &body,
                    params,
                    &Context {
                        sigs: &sigs,
                        func_types: &func_types,
                        table64: &table64,
                        call_fn,
                        call_ref_fn,
                        return_fn,
                        value_fn,
                    },
                )?;
                code.function(&f);
                if bodies == shape.defined {
                    for _ in &indirect_types {
                        let mut f = Function::new([]);
                        f.instruction(&Instruction::Unreachable);
                        f.instruction(&Instruction::End);
                        code.function(&f);
                    }
                    module.section(&code);
                }
            }
            Payload::DataSection(r) => {
                let mut s = wasm_encoder::DataSection::new();
                reencode::utils::parse_data_section(&mut shift, &mut s, r).map_err(re)?;
                module.section(&s);
            }
            other => return Err(format!("unexpected section {other:?}")),
        }
    }
    let bytes = module.finish();
    Ok((bytes, shape))
}

fn export_functions(
    s: &mut ExportSection,
    imported: u32,
    defined: u32,
    indirect_types: &std::collections::BTreeSet<u32>,
) {
    let mut shift = Shift { imported };
    for f in 0..imported + defined {
        let index = shift.function_index(f).unwrap_or(f);
        s.export(&format!("{FUNC_EXPORT}{f}"), ExportKind::Func, index);
    }
    for (k, t) in indirect_types.iter().enumerate() {
        let helper = imported + ADDED + defined + k as u32;
        s.export(&format!("{TYPE_EXPORT}{t}"), ExportKind::Func, helper);
    }
}

struct Context<'a> {
    sigs: &'a [Option<Sig>],
    func_types: &'a [u32],
    table64: &'a [bool],
    call_fn: u32,
    call_ref_fn: u32,
    return_fn: u32,
    value_fn: u32,
}

impl<'a> Context<'a> {
    fn sig_of_type(&self, t: u32) -> Result<&'a Sig, String> {
        self.sigs
            .get(t as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("type {t} is not a function type"))
    }
    fn sig_of_function(&self, f: u32) -> Result<&'a Sig, String> {
        let t = *self
            .func_types
            .get(f as usize)
            .ok_or_else(|| format!("no function {f}"))?;
        self.sig_of_type(t)
    }
}

/// Locals the rewrite adds to one function, after its own.
struct Locals {
    next: u32,
    added: Vec<(u32, wasm_encoder::ValType)>,
}

impl Locals {
    fn fresh(&mut self, shift: &mut Shift, t: ValType) -> Result<u32, String> {
        let t = shift.val_type(t).map_err(|e| e.to_string())?;
        Ok(self.fresh_encoded(t))
    }
    fn fresh_encoded(&mut self, t: wasm_encoder::ValType) -> u32 {
        self.added.push((1, t));
        self.next += 1;
        self.next - 1
    }
}

/// The caller-side rewrite of one body.
fn rewrite_body(
    shift: &mut Shift,
    body: &FunctionBody<'_>,
    params: &[ValType],
    cx: &Context<'_>,
) -> Result<Function, String> {
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    let mut own = Vec::new();
    let mut next = params.len() as u32;
    for local in body.get_locals_reader().map_err(err)? {
        let (n, t) = local.map_err(err)?;
        own.push((n, shift.val_type(t).map_err(|e| e.to_string())?));
        next += n;
    }
    let mut locals = Locals {
        next,
        added: Vec::new(),
    };
    let mut out = Out(Vec::new());
    let mut ops = body.get_operators_reader().map_err(err)?;
    while !ops.eof() {
        let op = ops.read().map_err(err)?;
        let (tail, callee, sig, target): (bool, Option<u32>, &Sig, Option<Target>) = match &op {
            Operator::Call { function_index } => (
                false,
                Some(*function_index),
                cx.sig_of_function(*function_index)?,
                None,
            ),
            Operator::ReturnCall { function_index } => (
                true,
                Some(*function_index),
                cx.sig_of_function(*function_index)?,
                None,
            ),
            Operator::CallIndirect {
                type_index,
                table_index,
            }
            | Operator::ReturnCallIndirect {
                type_index,
                table_index,
            } => (
                matches!(op, Operator::ReturnCallIndirect { .. }),
                None,
                cx.sig_of_type(*type_index)?,
                Some(Target::Table(*table_index, *type_index)),
            ),
            Operator::CallRef { type_index } | Operator::ReturnCallRef { type_index } => (
                matches!(op, Operator::ReturnCallRef { .. }),
                None,
                cx.sig_of_type(*type_index)?,
                Some(Target::Ref(*type_index)),
            ),
            _ => {
                let ins = shift.instruction(op.clone()).map_err(|e| e.to_string())?;
                out.push(ins);
                continue;
            }
        };
        // The callee operand, on top of the arguments for indirect calls.
        let target_local = match target {
            Some(Target::Table(t, _)) => {
                let index_ty = if cx.table64.get(t as usize).copied().unwrap_or(false) {
                    ValType::I64
                } else {
                    ValType::I32
                };
                let l = locals.fresh(shift, index_ty)?;
                out.push(Instruction::LocalSet(l));
                Some((l, index_ty))
            }
            Some(Target::Ref(type_index)) => {
                let l = locals.fresh_encoded(wasm_encoder::ValType::Ref(RefType {
                    nullable: true,
                    heap_type: HeapType::Concrete(type_index),
                }));
                out.push(Instruction::LocalSet(l));
                Some((l, ValType::I32))
            }
            None => None,
        };
        let args = save(&mut locals, shift, &sig.0, &mut out)?;
        out.push(Instruction::I32Const(tail as i32));
        match (callee, target, target_local) {
            (Some(f), _, _) => {
                out.push(Instruction::I32Const(f as i32));
                out.push(Instruction::Call(cx.call_fn));
            }
            (None, Some(Target::Table(t, type_index)), Some((l, index_ty))) => {
                // A slot out of bounds makes the call trap; reading it must
                // not trap first (the trap would differ), so it is checked.
                out.push(Instruction::LocalGet(l));
                out.push(Instruction::TableSize(t));
                out.push(if index_ty == ValType::I64 {
                    Instruction::I64LtU
                } else {
                    Instruction::I32LtU
                });
                out.push(Instruction::If(BlockType::Result(
                    wasm_encoder::ValType::FUNCREF,
                )));
                out.push(Instruction::LocalGet(l));
                out.push(Instruction::TableGet(t));
                out.push(Instruction::Else);
                out.push(Instruction::RefNull(HeapType::FUNC));
                out.push(Instruction::End);
                out.push(Instruction::I32Const(type_index as i32));
                out.push(Instruction::Call(cx.call_ref_fn));
            }
            (None, Some(Target::Ref(_)), Some((l, _))) => {
                out.push(Instruction::LocalGet(l));
                out.push(Instruction::I32Const(-1));
                out.push(Instruction::Call(cx.call_ref_fn));
            }
            _ => unreachable!("every call has a callee"),
        }
        log_values(&args, &sig.0, cx, &mut out);
        for &l in &args {
            out.push(Instruction::LocalGet(l));
        }
        if let Some((l, _)) = target_local {
            out.push(Instruction::LocalGet(l));
        }
        let ins = shift.instruction(op.clone()).map_err(|e| e.to_string())?;
        out.push(ins);
        if !tail {
            let results = save(&mut locals, shift, &sig.1, &mut out)?;
            out.push(Instruction::Call(cx.return_fn));
            log_values(&results, &sig.1, cx, &mut out);
            for &l in &results {
                out.push(Instruction::LocalGet(l));
            }
        }
    }
    let all: Vec<_> = own.into_iter().chain(locals.added).collect();
    let mut f = Function::new(all);
    f.raw(out.0);
    Ok(f)
}

#[derive(Clone, Copy)]
enum Target {
    /// Table and type of a `call_indirect`.
    Table(u32, u32),
    Ref(u32),
}

/// Pops values of `types` off the stack into fresh locals; returns them in
/// stack order.
fn save(
    locals: &mut Locals,
    shift: &mut Shift,
    types: &[ValType],
    out: &mut Out,
) -> Result<Vec<u32>, String> {
    let mut ls = Vec::new();
    for &t in types {
        ls.push(locals.fresh(shift, t)?);
    }
    for &l in ls.iter().rev() {
        out.push(Instruction::LocalSet(l));
    }
    Ok(ls)
}

/// Hands each local to `value`, as its type and bits.
fn log_values(ls: &[u32], types: &[ValType], cx: &Context<'_>, out: &mut Out) {
    for (&l, &t) in ls.iter().zip(types) {
        let code = match t {
            ValType::I32 => ty::I32,
            ValType::I64 => ty::I64,
            ValType::F32 => ty::F32,
            ValType::F64 => ty::F64,
            ValType::V128 => ty::V128,
            ValType::Ref(_) => ty::REF,
        };
        out.push(Instruction::I32Const(i32::from(code)));
        out.push(Instruction::LocalGet(l));
        match t {
            ValType::I32 => {
                out.push(Instruction::I64ExtendI32U);
                out.push(Instruction::I64Const(0));
            }
            ValType::I64 => out.push(Instruction::I64Const(0)),
            ValType::F32 => {
                out.push(Instruction::I32ReinterpretF32);
                out.push(Instruction::I64ExtendI32U);
                out.push(Instruction::I64Const(0));
            }
            ValType::F64 => {
                out.push(Instruction::I64ReinterpretF64);
                out.push(Instruction::I64Const(0));
            }
            ValType::V128 => {
                out.push(Instruction::I64x2ExtractLane(0));
                out.push(Instruction::LocalGet(l));
                out.push(Instruction::I64x2ExtractLane(1));
            }
            ValType::Ref(_) => {
                out.push(Instruction::RefIsNull);
                out.push(Instruction::I64ExtendI32U);
                out.push(Instruction::I64Const(0));
            }
        }
        out.push(Instruction::Call(cx.value_fn));
    }
}

/// Encoded instructions of one body.
struct Out(Vec<u8>);

impl Out {
    fn push(&mut self, ins: Instruction<'_>) {
        wasm_encoder::Encode::encode(&ins, &mut self.0);
    }
}

/// What the reference side knows of its instances, to tell which function
/// a call reached.
#[derive(Default)]
pub struct World {
    /// `Func::to_raw` addresses of functions, by the instance (in order of
    /// instantiation) and function index that define them.
    functions: HashMap<usize, (usize, u32)>,
    /// Addresses of host functions (no instance traces them).
    host: std::collections::HashSet<usize>,
    /// Per instance: where each of its function imports leads (`None`: a
    /// host function).
    imports: Vec<Vec<Option<(usize, u32)>>>,
}

impl World {
    /// Where a call from `instance` to `callee` lands: a function of an
    /// instance, the host (`None`), or an error when the address is not
    /// known.
    fn resolve(
        &self,
        instance: Option<usize>,
        callee: Callee,
    ) -> Result<Option<(usize, u32)>, String> {
        match (instance, callee) {
            (_, Callee::Ref(0)) => Ok(None),
            (Some(x), Callee::Index(f)) => {
                let imports = &self.imports[x];
                Ok(match imports.get(f as usize) {
                    Some(&to) => to,
                    None => Some((x, f)),
                })
            }
            (None, Callee::Index(f)) => {
                Err(format!("host call of function {f} without an instance"))
            }
            (_, Callee::Ref(raw)) => match self.functions.get(&raw) {
                Some(&to) => Ok(Some(to)),
                None if self.host.contains(&raw) => Ok(None),
                None => Err(format!("callee at {raw:#x} is no known function")),
            },
        }
    }

    /// Starts an instance whose module is `shape`, linked by `linker`: its
    /// imports are resolved now. Returns its number.
    pub fn begin_instance<T>(
        &mut self,
        store: &mut wasmtime::Store<T>,
        linker: &wasmtime::Linker<T>,
        shape: &Shape,
    ) -> usize {
        let mut imports = Vec::new();
        for (module, name) in &shape.imported_functions {
            let to = match linker.get(&mut *store, module, name) {
                Ok(wasmtime::Extern::Func(f)) => {
                    let raw = f.to_raw(&mut *store) as usize;
                    let to = self.functions.get(&raw).copied();
                    if to.is_none() {
                        self.host.insert(raw);
                    }
                    to
                }
                _ => None,
            };
            imports.push(to);
        }
        self.imports.push(imports);
        self.imports.len() - 1
    }

    /// Learns the addresses of every function of instance `x`, from the
    /// exports the rewrite added.
    pub fn learn_functions<T>(
        &mut self,
        store: &mut wasmtime::Store<T>,
        instance: &wasmtime::Instance,
        x: usize,
        shape: &Shape,
    ) {
        let total = shape.imported_functions.len() as u32 + shape.defined;
        for f in 0..total {
            let Some(func) = instance.get_func(&mut *store, &format!("{FUNC_EXPORT}{f}")) else {
                continue;
            };
            let raw = func.to_raw(&mut *store) as usize;
            match self.resolve(Some(x), Callee::Index(f)) {
                Ok(Some(to)) => {
                    self.functions.insert(raw, to);
                }
                _ => {
                    self.host.insert(raw);
                }
            }
        }
    }

    /// Learns the address of a host function.
    pub fn learn_host(&mut self, raw: usize) {
        self.host.insert(raw);
    }

    /// Whether `raw` is the address of a host function.
    pub fn is_host(&self, raw: usize) -> bool {
        self.host.contains(&raw)
    }
}

/// Defines the log imports of reference instance `instance`; entries go to
/// the log `log` lends.
pub fn link<T: 'static>(
    linker: &mut wasmtime::Linker<T>,
    instance: usize,
    log: impl Fn(&mut T) -> &mut Vec<LogEntry> + Copy + Send + Sync + 'static,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        CALL,
        move |mut c: wasmtime::Caller<'_, T>, tail: i32, f: i32| {
            log(c.data_mut()).push(LogEntry::Call {
                instance: Some(instance),
                tail: tail != 0,
                callee: Callee::Index(f as u32),
                args: Vec::new(),
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        CALL_REF,
        move |mut c: wasmtime::Caller<'_, T>, tail: i32, f: Option<wasmtime::Func>, ty: i32| {
            let expected = (ty >= 0)
                .then(|| c.get_export(&format!("{TYPE_EXPORT}{ty}")))
                .flatten()
                .and_then(|e| e.into_func())
                .map(|helper| helper.ty(&c));
            let entered = match (&f, expected) {
                (Some(f), Some(expected)) => f.ty(&c).matches(&expected),
                (f, _) => f.is_some(),
            };
            let raw = match f {
                Some(f) if entered => f.to_raw(&mut c) as usize,
                _ => 0,
            };
            log(c.data_mut()).push(LogEntry::Call {
                instance: Some(instance),
                tail: tail != 0,
                callee: Callee::Ref(raw),
                args: Vec::new(),
            })
        },
    )?;
    linker.func_wrap(MODULE, RETURN, move |mut c: wasmtime::Caller<'_, T>| {
        log(c.data_mut()).push(LogEntry::Return {
            results: Vec::new(),
        })
    })?;
    linker.func_wrap(
        MODULE,
        VALUE,
        move |mut c: wasmtime::Caller<'_, T>, ty: i32, low: i64, high: i64| {
            let v = Logged {
                ty: ty as u8,
                low: low as u64,
                high: high as u64,
            };
            match log(c.data_mut()).last_mut() {
                Some(LogEntry::Call { args, .. }) => args.push(v),
                Some(LogEntry::Return { results }) => results.push(v),
                None => {}
            }
        },
    )?;
    Ok(())
}

/// An event a traced instance must have recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Function `function` (original index) entered with these arguments.
    Enter { function: u32, args: Vec<Logged> },
    /// The innermost frame returned these results.
    Exit { results: Vec<Logged> },
    /// The innermost frame tail-called.
    TailExit,
    /// The innermost frame was closed by the host (a trap).
    Closed,
}

/// The callee-side events the caller-side `log` implies, per instance.
/// `trapped`: the run ended in a trap, so frames still open are closed;
/// otherwise every call must have returned.
pub fn expected(
    log: &[LogEntry],
    world: &World,
    trapped: bool,
) -> Result<HashMap<usize, Vec<Expected>>, String> {
    let mut out: HashMap<usize, Vec<Expected>> = HashMap::new();
    let mut stack: Vec<Option<(usize, u32)>> = Vec::new();
    for entry in log {
        match entry {
            LogEntry::Call {
                instance,
                tail,
                callee,
                args,
            } => {
                let to = world.resolve(*instance, *callee)?;
                if *tail {
                    match stack.pop() {
                        Some(Some((y, _))) => out.entry(y).or_default().push(Expected::TailExit),
                        Some(None) => {}
                        None => return Err("a tail call with no frame to replace".into()),
                    }
                }
                if let Some((y, f)) = to {
                    out.entry(y).or_default().push(Expected::Enter {
                        function: f,
                        args: args.clone(),
                    });
                }
                stack.push(to);
            }
            LogEntry::Return { results } => match stack.pop() {
                Some(Some((y, _))) => out.entry(y).or_default().push(Expected::Exit {
                    results: results.clone(),
                }),
                Some(None) => {}
                None => return Err("a return with no call".into()),
            },
        }
    }
    if !trapped && !stack.is_empty() {
        return Err(format!(
            "{} call(s) never returned though the run did",
            stack.len()
        ));
    }
    while let Some(frame) = stack.pop() {
        if let Some((y, _)) = frame {
            out.entry(y).or_default().push(Expected::Closed);
        }
    }
    Ok(out)
}

/// What a comparison covered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Compared {
    /// Calls whose entries matched.
    pub calls: u64,
    /// Recorded values compared bit for bit (a reference by whether it is
    /// null).
    pub values: u64,
    /// How many of `values` were `v128` or references.
    pub vectors_and_references: u64,
}

impl std::ops::AddAssign for Compared {
    fn add_assign(&mut self, o: Compared) {
        self.calls += o.calls;
        self.values += o.values;
        self.vectors_and_references += o.vectors_and_references;
    }
}

/// Whether a recorded value is the logged one, bit for bit: a `v128` all
/// 16 bytes, a reference whether it is null.
fn same_value(recorded: &ruchy_trace::ruchy_trace_core::Value, logged: &Logged) -> bool {
    use ruchy_trace::ruchy_trace_core::Value;
    match (recorded, logged.ty) {
        (Value::I32(x), ty::I32) => u64::from(*x as u32) == logged.low,
        (Value::I64(x), ty::I64) => *x as u64 == logged.low,
        (Value::F32(x), ty::F32) => u64::from(x.to_bits()) == logged.low,
        (Value::F64(x), ty::F64) => x.to_bits() == logged.low,
        (Value::V128(x), ty::V128) => *x == u128::from(logged.low) | u128::from(logged.high) << 64,
        (Value::Ref { null }, ty::REF) => *null == (logged.low != 0),
        _ => false,
    }
}

/// Whether recorded values are the logged ones ([`same_value`]), counting
/// those compared in `c`.
fn same_values(
    c: &mut Compared,
    got: &[ruchy_trace::ruchy_trace_core::Value],
    want: &[Logged],
) -> bool {
    if got.len() != want.len() {
        return false;
    }
    for (g, w) in got.iter().zip(want) {
        if !same_value(g, w) {
            return false;
        }
        c.values += 1;
        if matches!(w.ty, ty::V128 | ty::REF) {
            c.vectors_and_references += 1;
        }
    }
    true
}

/// Compares one instance's recorded events with the expected ones.
///
/// `exhausted`: the run ran out of stack. The reference's frames and the
/// instrumented ones differ in size, so the two runs run out at different
/// depths: events are compared up to the first frame either side closes,
/// and the rest (more entries on one side, then the closes) is not.
pub fn compare(
    recorded: &[ruchy_trace::ruchy_trace_core::Event<'_>],
    expected: &[Expected],
    exhausted: bool,
) -> Result<Compared, String> {
    use ruchy_trace::ruchy_trace_core::EventKind;
    // Import calls are checked against what the host saw
    // ([`compare_imports`]); callers log only calls between functions.
    let own: Vec<ruchy_trace::ruchy_trace_core::Event<'_>> = recorded
        .iter()
        .filter(|e| e.function.import.is_none())
        .copied()
        .collect();
    let recorded = &own[..];
    let (recorded, expected) = if exhausted {
        let r = recorded
            .iter()
            .position(|e| matches!(e.kind, EventKind::Closed(_)))
            .unwrap_or(recorded.len());
        let x = expected
            .iter()
            .position(|e| *e == Expected::Closed)
            .unwrap_or(expected.len());
        let n = r.min(x);
        (&recorded[..n], &expected[..n])
    } else {
        (recorded, expected)
    };
    let mut c = Compared::default();
    for (i, (e, x)) in recorded.iter().zip(expected).enumerate() {
        let got: Vec<ruchy_trace::ruchy_trace_core::Value> = e.values().collect();
        let ok = match (&e.kind, x) {
            (EventKind::Enter, Expected::Enter { function, args }) => {
                e.function.wasm_index == *function && same_values(&mut c, &got, args)
            }
            (EventKind::Exit, Expected::Exit { results }) => same_values(&mut c, &got, results),
            (EventKind::TailExit, Expected::TailExit) => true,
            (EventKind::Closed(_), Expected::Closed) => true,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "event {i}: recorded {:?} of function {} with {:?}, the callers logged {x:?}",
                e.kind, e.function.wasm_index, got
            ));
        }
        if matches!(e.kind, EventKind::Enter) {
            c.calls += 1;
        }
    }
    if recorded.len() != expected.len() {
        return Err(format!(
            "{} event(s) recorded, the callers logged {}",
            recorded.len(),
            expected.len()
        ));
    }
    Ok(c)
}

/// A call of a host function, as the host function saw it: its name, the
/// arguments it received, and the results it returned (`None` when it
/// failed, or a call it made back into the guest did).
#[derive(Debug, Clone, PartialEq)]
pub struct HostCall {
    pub name: String,
    pub args: Vec<Logged>,
    pub results: Option<Vec<Logged>>,
}

/// Compares the import calls an instance recorded (`Config::imports`)
/// with the calls host functions saw coming from it, in order: every
/// recorded entry of an import `is_host` names has the next seen call's
/// arguments, every exit the results that call returned, every such frame
/// the host closed a call that failed; and as many calls were recorded as
/// were seen. Events of the program's own functions are skipped (see
/// [`compare`]), as are calls of imports another instance defines (their
/// callee's own events are compared there).
pub fn compare_imports(
    recorded: &[ruchy_trace::ruchy_trace_core::Event<'_>],
    seen: &[HostCall],
    is_host: impl Fn(&ruchy_trace::ruchy_trace_core::Import) -> bool,
) -> Result<Compared, String> {
    use ruchy_trace::ruchy_trace_core::{EventKind, Value};
    let mut c = Compared::default();
    let mut open: Vec<usize> = Vec::new();
    let mut next = 0usize;
    for e in recorded
        .iter()
        .filter(|e| e.function.import.as_ref().is_some_and(&is_host))
    {
        let got: Vec<Value> = e.values().collect();
        match e.kind {
            EventKind::Enter => {
                let s = seen.get(next).ok_or_else(|| {
                    format!(
                        "import call {next} of `{}` recorded, the host saw {}",
                        e.function.name,
                        seen.len()
                    )
                })?;
                if !same_values(&mut c, &got, &s.args) {
                    return Err(format!(
                        "import call {next}: recorded `{}` with {got:?}, the host saw {s:?}",
                        e.function.name
                    ));
                }
                open.push(next);
                next += 1;
                c.calls += 1;
            }
            EventKind::Exit => {
                let k = open.pop().ok_or("an import exit without its entry")?;
                let ok = match &seen[k].results {
                    Some(want) => same_values(&mut c, &got, want),
                    None => false,
                };
                if !ok {
                    return Err(format!(
                        "import call {k}: recorded results {got:?}, the host saw {:?}",
                        seen[k]
                    ));
                }
            }
            EventKind::Closed(_) => {
                let k = open.pop().ok_or("an import closed without its entry")?;
                if seen[k].results.is_some() {
                    return Err(format!(
                        "import call {k} closed by the host, though it returned: {:?}",
                        seen[k]
                    ));
                }
            }
            EventKind::TailExit => return Err("an import call left by a tail call".into()),
        }
    }
    if next != seen.len() {
        return Err(format!(
            "{next} import call(s) recorded, the host saw {}",
            seen.len()
        ));
    }
    Ok(c)
}
