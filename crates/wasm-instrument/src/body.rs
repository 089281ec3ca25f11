//! Rewriting one function body.
//!
//! The original body is wrapped in a block whose label takes the place of
//! the function's own: every branch that left the function (`br`, `br_if`,
//! `br_table`, `br_on_*` to the outermost label) and falling off the end now
//! lands after that block, where the exit is reported once. `return` becomes
//! a branch to the same place. A tail call cannot return through us, so it
//! reports a tail exit just before it leaves. A trap runs no wasm code at
//! all: the host closes the frames it leaves open.

use crate::analysis::Signature;
use crate::error::Error;
use crate::plan::Plan;
use ruchy_trace_core::record::{self, RecordKind};
use ruchy_trace_core::{FunctionTable, Strategy, ValType};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{BlockType, Function, Instruction, MemArg};
use wasmparser::{
    FuncToValidate, FuncValidator, FuncValidatorAllocations, FunctionBody, Operator,
    ValidatorResources,
};

type ReResult<T> = Result<T, reencode::Error<Error>>;

fn unsupported<T>(feature: &str, function: &dyn Fn() -> String) -> ReResult<T> {
    Err(reencode::Error::UserError(Error::Unsupported {
        feature: format!("{feature} (in function `{}`)", function()),
    }))
}

/// Control flow the exit reporting cannot follow yet. Exceptions unwind
/// frames without running their exit code, and so does stack switching;
/// such modules are refused rather than traced wrongly.
fn refuse_unsupported(op: &Operator<'_>, function: &dyn Fn() -> String) -> ReResult<()> {
    match op {
        Operator::Try { .. }
        | Operator::Catch { .. }
        | Operator::CatchAll
        | Operator::Delegate { .. }
        | Operator::Throw { .. }
        | Operator::Rethrow { .. }
        | Operator::ThrowRef
        | Operator::TryTable { .. } => unsupported("exception handling", function),
        Operator::ContNew { .. }
        | Operator::ContBind { .. }
        | Operator::Suspend { .. }
        | Operator::Resume { .. }
        | Operator::ResumeThrow { .. }
        | Operator::ResumeThrowRef { .. }
        | Operator::Switch { .. } => unsupported("stack switching", function),
        _ => Ok(()),
    }
}

/// A function body read once: each operator is validated as it is read,
/// and the bytes of operators the rewrite keeps are copied as they are,
/// never decoded into instructions and encoded again.
pub struct BodyReader<'a> {
    ops: wasmparser::OperatorsReader<'a>,
    validator: FuncValidator<ValidatorResources>,
    /// The whole module: operator offsets are positions in it.
    wasm: &'a [u8],
    /// Start of the operator bytes read but not yet copied.
    pending: usize,
}

fn invalid<T>(e: wasmparser::BinaryReaderError) -> ReResult<T> {
    Err(reencode::Error::UserError(Error::invalid(e)))
}

impl<'a> BodyReader<'a> {
    /// Starts reading `body` (of the module `wasm`), validating it with
    /// `func`; returns the reader and the body's locals.
    pub fn new(
        wasm: &'a [u8],
        body: &FunctionBody<'a>,
        func: FuncToValidate<ValidatorResources>,
        allocs: FuncValidatorAllocations,
    ) -> ReResult<(BodyReader<'a>, Vec<(u32, wasmparser::ValType)>)> {
        let mut validator = func.into_validator(allocs);
        let mut locals = Vec::new();
        let mut reader = body.get_locals_reader()?;
        for _ in 0..reader.get_count() {
            let offset = reader.original_position();
            let (count, ty) = reader.read()?;
            if let Err(e) = validator.define_locals(offset, count, ty) {
                return invalid(e);
            }
            locals.push((count, ty));
        }
        let mut binary = reader.get_binary_reader();
        binary.set_features(*validator.features());
        let ops = wasmparser::OperatorsReader::new(binary);
        let pending = ops.original_position();
        Ok((
            BodyReader {
                ops,
                validator,
                wasm,
                pending,
            },
            locals,
        ))
    }

    /// Validates operators up to the next one the rewrite must see (see
    /// [`rewrite_may_change`]) and returns it with its offset; `None` at
    /// the end of the body. The others are validated without being decoded
    /// into an [`Operator`], and stay in place to be copied.
    fn next(&mut self) -> ReResult<Option<(Operator<'a>, usize)>> {
        while !self.ops.eof() {
            let offset = self.ops.original_position();
            if !rewrite_may_change(self.wasm[offset]) {
                if let Err(e) = self
                    .ops
                    .visit_operator(&mut self.validator.visitor(offset))?
                {
                    return invalid(e);
                }
                continue;
            }
            let (op, offset) = self.ops.read_with_offset()?;
            if let Err(e) = self.validator.op(offset, &op) {
                return invalid(e);
            }
            return Ok(Some((op, offset)));
        }
        Ok(None)
    }

    /// Copies the kept operators before the one just read (at `offset`),
    /// which the caller replaces.
    fn replace(&mut self, offset: usize, f: &mut Function) {
        f.raw(self.wasm[self.pending..offset].iter().copied());
        self.pending = self.ops.original_position();
    }

    /// Copies what is left, checks the body ended where it should, and
    /// returns the validator's allocations for the next body.
    fn finish(mut self, f: &mut Function) -> ReResult<FuncValidatorAllocations> {
        let end = self.ops.original_position();
        f.raw(self.wasm[self.pending..end].iter().copied());
        self.ops.finish()?;
        let ended = self
            .ops
            .get_binary_reader()
            .finish_expression(&self.validator.visitor(end));
        if let Err(e) = ended {
            return invalid(e);
        }
        Ok(self.validator.into_allocations())
    }
}

/// Whether an operator starting with this byte may be rewritten, refused,
/// or change the block depth: blocks and `end`, exception handling (0x06 to
/// 0x0a, 0x18, 0x19, 0x1f), `return`, calls, `ref.func`, and stack
/// switching (0xe0 and up). Prefixed operators (0xfb to 0xfe) name no
/// function and leave no frame.
fn rewrite_may_change(opcode: u8) -> bool {
    matches!(
        opcode,
        0x02..=0x04 | 0x06..=0x0b | 0x0f | 0x10 | 0x12 | 0x13 | 0x15 | 0x18 | 0x19 | 0x1f | 0xd2
            | 0xe0..=0xef
    )
}

/// Rewrites a body that is not instrumented: only function indices shift.
/// It must not unwind through instrumented frames either.
pub fn plain(
    plan: &Plan,
    mut reader: BodyReader<'_>,
    locals: Vec<(u32, wasmparser::ValType)>,
    name: impl Fn() -> String,
) -> ReResult<(Function, FuncValidatorAllocations)> {
    let mut shift = plan.shift();
    let locals = locals
        .into_iter()
        .map(|(n, t)| Ok((n, shift.val_type(t)?)))
        .collect::<ReResult<Vec<_>>>()?;
    let mut f = Function::new(locals);
    while let Some((op, offset)) = reader.next()? {
        refuse_unsupported(&op, &name)?;
        if shifts_function_index(&op) {
            reader.replace(offset, &mut f);
            f.instruction(&shift.instruction(op)?);
        }
    }
    let allocs = reader.finish(&mut f)?;
    Ok((f, allocs))
}

/// Whether the operator names a function, whose index the added imports
/// shift. (Types, globals, memories and tables the rewrite adds come after
/// the module's own, so no other index moves.)
fn shifts_function_index(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Call { .. } | Operator::ReturnCall { .. } | Operator::RefFunc { .. }
    )
}

/// Locals the probes use, appended after the function's own.
struct ProbeLocals {
    /// 0: not counted; 1: counted for depth but not traced; 2 (or 1 when
    /// not sampling): traced.
    traced: u32,
    /// The staging cursor, `i64` (inline strategy).
    cursor: u32,
    /// The cursor's address half: where this record goes.
    ptr: u32,
    /// Scratch for the sampling countdown.
    scratch: u32,
    /// One local per result, to hold results while the exit is reported.
    results: Vec<u32>,
}

struct Probe<'r> {
    plan: &'r Plan,
    table: &'r FunctionTable,
    id: u32,
    params: Vec<ValType>,
    results: Vec<ValType>,
    locals: ProbeLocals,
    /// Entries, exits go through a hook even on the inline path, because
    /// the host must read guest memory at that moment.
    entry_hook: bool,
    exit_hook: bool,
    /// Local holding the result address, saved at entry, for an exit hook
    /// that reads a result returned through memory.
    result_address: Option<u32>,
}

/// The values a hook for this record receives after the header (and depth):
/// the recorded arguments or results, and for an exit that reads a result
/// from memory, the result's address.
pub fn hook_types(
    f: &ruchy_trace_core::FunctionInfo,
    types: &[ruchy_trace_core::source::SourceType],
    kind: RecordKind,
) -> Vec<ValType> {
    match kind {
        RecordKind::Enter => f.params.clone(),
        RecordKind::Exit => {
            let mut t = f.results.clone();
            if result_address_param(f, types).is_some() {
                t.push(ValType::I32);
            }
            if ruchy_trace_core::wasi::exit_reads_memory(f) {
                // Where the call wrote its results back.
                t.extend_from_slice(&f.params);
            }
            t
        }
        RecordKind::TailExit => Vec::new(),
    }
}

/// The wasm parameter holding the result's address, when the exit reads
/// the result from memory.
pub fn result_address_param(
    f: &ruchy_trace_core::FunctionInfo,
    types: &[ruchy_trace_core::source::SourceType],
) -> Option<u32> {
    match f.source.as_ref()?.result {
        Some((_, ruchy_trace_core::source::ResultLowering::Indirect { param }))
            if f.exit_snapshot(types) =>
        {
            Some(param)
        }
        _ => None,
    }
}

impl Probe<'_> {
    fn sampled(&self) -> bool {
        self.table.options.sample > 1
    }

    fn traced_value(&self) -> i32 {
        if self.sampled() {
            2
        } else {
            1
        }
    }

    /// Writes one record (entry: arguments from the parameters; exit: from
    /// the result locals).
    fn write(&self, f: &mut Function, kind: RecordKind) {
        let values: Vec<(u32, ValType)> = match kind {
            RecordKind::Enter => self
                .params
                .iter()
                .enumerate()
                .map(|(i, &t)| (i as u32, t))
                .collect(),
            RecordKind::Exit => self
                .locals
                .results
                .iter()
                .copied()
                .zip(self.results.iter().copied())
                .collect(),
            RecordKind::TailExit => Vec::new(),
        };
        let depth = self.sampled() && kind == RecordKind::Enter;
        let header = record::header(self.id, kind) as i32;
        let added = &self.plan;
        let options = &self.table.options;
        let via_hook = options.strategy == Strategy::Hooks
            || (kind == RecordKind::Enter && self.entry_hook)
            || (kind == RecordKind::Exit && self.exit_hook);
        match via_hook {
            true => {
                let info = &self.table.functions[self.id as usize];
                let types = hook_types(info, &self.table.types, kind);
                f.instruction(&Instruction::I32Const(header));
                if depth {
                    f.instruction(&Instruction::GlobalGet(
                        added.depth.expect("sampled modules have a depth"),
                    ));
                }
                for &(local, t) in &values {
                    f.instruction(&Instruction::LocalGet(local));
                    match t {
                        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 => {}
                        ValType::V128 => {
                            f.instruction(&Instruction::I64x2ExtractLane(0));
                            f.instruction(&Instruction::LocalGet(local));
                            f.instruction(&Instruction::I64x2ExtractLane(1));
                        }
                        ValType::Ref => {
                            f.instruction(&Instruction::RefIsNull);
                        }
                    }
                }
                if kind == RecordKind::Exit {
                    if let Some(local) = self.result_address {
                        f.instruction(&Instruction::LocalGet(local));
                    }
                    if ruchy_trace_core::wasi::exit_reads_memory(info) {
                        // An import wrapper never changes its parameters.
                        for p in 0..info.params.len() as u32 {
                            f.instruction(&Instruction::LocalGet(p));
                        }
                    }
                }
                let hook = added.functions[&record::hook_name(kind, &types)];
                f.instruction(&Instruction::Call(hook));
            }
            false => {
                let memory = added.memory.expect("inline modules have a trace memory");
                let ptr_global = added.ptr.expect("inline modules have a pointer");
                let p = self.locals.ptr;
                let limit = self.plan.staging_limit;
                let arg = |offset: u32, align: u32| MemArg {
                    offset: offset.into(),
                    align,
                    memory_index: memory,
                };
                let cursor = self.locals.cursor;
                f.instruction(&Instruction::GlobalGet(ptr_global));
                f.instruction(&Instruction::LocalTee(cursor));
                f.instruction(&Instruction::I32WrapI64);
                f.instruction(&Instruction::LocalTee(p));
                f.instruction(&Instruction::I32Const(limit as i32));
                f.instruction(&Instruction::I32GtU);
                f.instruction(&Instruction::If(BlockType::Empty));
                f.instruction(&Instruction::LocalGet(cursor));
                f.instruction(&Instruction::Call(added.functions[record::FLUSH_IMPORT]));
                f.instruction(&Instruction::LocalTee(cursor));
                f.instruction(&Instruction::I32WrapI64);
                f.instruction(&Instruction::LocalSet(p));
                f.instruction(&Instruction::End);
                f.instruction(&Instruction::LocalGet(p));
                f.instruction(&Instruction::I32Const(header));
                f.instruction(&Instruction::I32Store(arg(0, 2)));
                let mut offset = 4;
                if options.timestamps {
                    f.instruction(&Instruction::LocalGet(p));
                    if record::clock_by_call(options) {
                        f.instruction(&Instruction::Call(added.functions[record::NOW_IMPORT]));
                    } else {
                        f.instruction(&Instruction::I32Const(record::CLOCK_ADDRESS as i32));
                        f.instruction(&Instruction::I32Load(arg(0, 2)));
                    }
                    f.instruction(&Instruction::I32Store(arg(offset, 2)));
                    offset += 4;
                }
                if depth {
                    f.instruction(&Instruction::LocalGet(p));
                    f.instruction(&Instruction::GlobalGet(
                        added.depth.expect("sampled modules have a depth"),
                    ));
                    f.instruction(&Instruction::I32Store(arg(offset, 2)));
                    offset += 4;
                }
                for &(local, t) in &values {
                    f.instruction(&Instruction::LocalGet(p));
                    f.instruction(&Instruction::LocalGet(local));
                    if t == ValType::Ref {
                        f.instruction(&Instruction::RefIsNull);
                    }
                    f.instruction(&match t {
                        ValType::I32 | ValType::Ref => Instruction::I32Store(arg(offset, 0)),
                        ValType::I64 => Instruction::I64Store(arg(offset, 0)),
                        ValType::F32 => Instruction::F32Store(arg(offset, 0)),
                        ValType::F64 => Instruction::F64Store(arg(offset, 0)),
                        ValType::V128 => Instruction::V128Store(arg(offset, 0)),
                    });
                    offset += t.record_size() as u32;
                }
                // One add moves the address past this record and counts it.
                f.instruction(&Instruction::LocalGet(cursor));
                f.instruction(&Instruction::I64Const(
                    i64::from(offset) + record::CURSOR_RECORD,
                ));
                f.instruction(&Instruction::I64Add);
                f.instruction(&Instruction::GlobalSet(ptr_global));
            }
        }
    }

    /// Decides whether this call is traced, and reports the entry if so.
    fn entry(&self, f: &mut Function) {
        let added = &self.plan;
        let traced = self.locals.traced;
        if !self.sampled() {
            f.instruction(&Instruction::GlobalGet(added.enabled));
            f.instruction(&Instruction::LocalTee(traced));
            f.instruction(&Instruction::If(BlockType::Empty));
            self.write(f, RecordKind::Enter);
            f.instruction(&Instruction::End);
            return;
        }
        let countdown = added.countdown.expect("sampled modules have a countdown");
        let depth = added.depth.expect("sampled modules have a depth");
        let scratch = self.locals.scratch;
        f.instruction(&Instruction::GlobalGet(added.enabled));
        f.instruction(&Instruction::If(BlockType::Empty));
        f.instruction(&Instruction::GlobalGet(countdown));
        f.instruction(&Instruction::I32Const(-1));
        f.instruction(&Instruction::I32Add);
        f.instruction(&Instruction::LocalTee(scratch));
        f.instruction(&Instruction::GlobalSet(countdown));
        f.instruction(&Instruction::LocalGet(scratch));
        f.instruction(&Instruction::I32Eqz);
        f.instruction(&Instruction::If(BlockType::Empty));
        f.instruction(&Instruction::I32Const(self.table.options.sample as i32));
        f.instruction(&Instruction::GlobalSet(countdown));
        f.instruction(&Instruction::I32Const(2));
        f.instruction(&Instruction::LocalSet(traced));
        self.write(f, RecordKind::Enter);
        f.instruction(&Instruction::Else);
        f.instruction(&Instruction::I32Const(1));
        f.instruction(&Instruction::LocalSet(traced));
        f.instruction(&Instruction::End);
        f.instruction(&Instruction::GlobalGet(depth));
        f.instruction(&Instruction::I32Const(1));
        f.instruction(&Instruction::I32Add);
        f.instruction(&Instruction::GlobalSet(depth));
        f.instruction(&Instruction::End);
    }

    /// Reports an exit (results already in their locals) or a tail exit.
    fn exit(&self, f: &mut Function, kind: RecordKind) {
        let traced = self.locals.traced;
        f.instruction(&Instruction::LocalGet(traced));
        f.instruction(&Instruction::If(BlockType::Empty));
        if self.sampled() {
            let depth = self.plan.depth.expect("sampled modules have a depth");
            f.instruction(&Instruction::GlobalGet(depth));
            f.instruction(&Instruction::I32Const(-1));
            f.instruction(&Instruction::I32Add);
            f.instruction(&Instruction::GlobalSet(depth));
            f.instruction(&Instruction::LocalGet(traced));
            f.instruction(&Instruction::I32Const(self.traced_value()));
            f.instruction(&Instruction::I32Eq);
            f.instruction(&Instruction::If(BlockType::Empty));
            self.write(f, kind);
            f.instruction(&Instruction::End);
        } else {
            self.write(f, kind);
        }
        f.instruction(&Instruction::End);
    }
}

/// Instruments one function body: `sig` is its wasm signature, `id` its
/// record id in `table`, `name` names it in errors.
pub fn instrument(
    plan: &Plan,
    table: &FunctionTable,
    sig: &Signature,
    id: u32,
    mut reader: BodyReader<'_>,
    body_locals: Vec<(u32, wasmparser::ValType)>,
    name: impl Fn() -> String,
) -> ReResult<(Function, FuncValidatorAllocations)> {
    let info = &table.functions[id as usize];
    let mut shift = plan.shift();

    let mut locals = Vec::new();
    let mut next_local = sig.params.len() as u32;
    for (count, ty) in body_locals {
        next_local += count;
        locals.push((count, shift.val_type(ty)?));
    }
    let mut fresh = |ty: wasm_encoder::ValType, locals: &mut Vec<(u32, wasm_encoder::ValType)>| {
        locals.push((1, ty));
        next_local += 1;
        next_local - 1
    };
    let traced = fresh(wasm_encoder::ValType::I32, &mut locals);
    let cursor = fresh(wasm_encoder::ValType::I64, &mut locals);
    let ptr = fresh(wasm_encoder::ValType::I32, &mut locals);
    let scratch = fresh(wasm_encoder::ValType::I32, &mut locals);
    let mut results = Vec::new();
    for &t in &sig.results {
        let t = shift.val_type(t)?;
        results.push(fresh(t, &mut locals));
    }
    let types = &table.types;
    let result_param = result_address_param(info, types);
    let result_address = result_param.map(|_| fresh(wasm_encoder::ValType::I32, &mut locals));
    let wrapper = match sig.results.as_slice() {
        [] => BlockType::Empty,
        [t] => BlockType::Result(shift.val_type(*t)?),
        many => BlockType::FunctionType(plan.block_types[many]),
    };

    let mut f = Function::new(locals);
    let probe = Probe {
        plan,
        table,
        id,
        params: info.params.clone(),
        results: info.results.clone(),
        locals: ProbeLocals {
            traced,
            cursor,
            ptr,
            scratch,
            results,
        },
        entry_hook: info.entry_snapshot(types),
        exit_hook: info.exit_snapshot(types),
        result_address,
    };
    if let (Some(param), Some(local)) = (result_param, result_address) {
        f.instruction(&Instruction::LocalGet(param));
        f.instruction(&Instruction::LocalSet(local));
    }
    probe.entry(&mut f);
    f.instruction(&Instruction::Block(wrapper));

    // Blocks open inside the wrapper; `return` branches this far out.
    let mut depth: u32 = 0;
    while let Some((op, offset)) = reader.next()? {
        refuse_unsupported(&op, &name)?;
        match op {
            Operator::Return => {
                reader.replace(offset, &mut f);
                f.instruction(&Instruction::Br(depth));
            }
            Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. } => {
                reader.replace(offset, &mut f);
                probe.exit(&mut f, RecordKind::TailExit);
                f.instruction(&shift.instruction(op)?);
            }
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                depth += 1;
            }
            Operator::End if depth == 0 => {
                // The function's own end closes the wrapper; the exit is
                // reported after it, with the results on the stack.
                reader.replace(offset, &mut f);
                f.instruction(&Instruction::End);
                for &local in probe.locals.results.iter().rev() {
                    f.instruction(&Instruction::LocalSet(local));
                }
                probe.exit(&mut f, RecordKind::Exit);
                for &local in &probe.locals.results {
                    f.instruction(&Instruction::LocalGet(local));
                }
                f.instruction(&Instruction::End);
            }
            Operator::End => {
                depth -= 1;
            }
            ref other if shifts_function_index(other) => {
                reader.replace(offset, &mut f);
                f.instruction(&shift.instruction(op)?);
            }
            _ => {}
        }
    }
    let allocs = reader.finish(&mut f)?;
    Ok((f, allocs))
}
