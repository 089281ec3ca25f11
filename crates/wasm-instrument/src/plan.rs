//! What the rewrite adds to a module, decided once before any body is
//! rewritten: the hook imports and their types, block types for wrappers,
//! the trace memory and globals, and the numbers every probe shares.
//!
//! Bodies are rewritten from this plan alone (in parallel), so nothing a
//! probe needs is computed per function.

use crate::analysis::ModuleInfo;
use crate::body;
use crate::error::Error;
use ruchy_trace_core::record::{self, RecordKind};
use ruchy_trace_core::{FunctionTable, RecordLayout, Strategy, ValType};
use std::collections::HashMap;
use wasm_encoder::reencode::{self, Reencode, RoundtripReencoder};

/// Indices of everything the instrumentation adds, as seen by the new
/// module, and what every probe needs to know.
#[derive(Debug, Default)]
pub struct Plan {
    /// Imported functions added, in order: (name, type index).
    pub imports: Vec<(String, u32)>,
    /// Function index of each hook or of `flush`, by import name.
    pub functions: HashMap<String, u32>,
    /// New function types, appended after the module's own.
    pub types: Vec<(Vec<wasm_encoder::ValType>, Vec<wasm_encoder::ValType>)>,
    /// Block types for wrappers of multi-result functions, by result list.
    pub block_types: HashMap<Vec<wasmparser::ValType>, u32>,
    /// The trace memory (inline strategy).
    pub memory: Option<u32>,
    /// Whether the guest's memory 0 is exported for hosts to read values.
    pub guest_memory: bool,
    /// The run-time switch global.
    pub enabled: u32,
    /// The record pointer global (inline strategy).
    pub ptr: Option<u32>,
    /// The sampling countdown global (sampled modules).
    pub countdown: Option<u32>,
    /// The call depth global (sampled modules).
    pub depth: Option<u32>,
    /// Function indices below this stay; the others shift past the imports
    /// added.
    pub imported_functions: u32,
    /// Highest address a record may start at without flushing first: the
    /// staging area's end less the largest record of the table.
    pub staging_limit: u32,
}

/// The hook parameters that carry a value of type `t` (see
/// [`record::hook_name`]): a `v128` as two `i64`, a reference's null-ness
/// as an `i32`.
fn hook_params(t: ValType) -> &'static [wasm_encoder::ValType] {
    use wasm_encoder::ValType as E;
    match t {
        ValType::I32 | ValType::Ref => &[E::I32],
        ValType::I64 => &[E::I64],
        ValType::F32 => &[E::F32],
        ValType::F64 => &[E::F64],
        ValType::V128 => &[E::I64, E::I64],
    }
}

impl Plan {
    fn add_type(
        &mut self,
        module: &ModuleInfo<'_>,
        params: Vec<wasm_encoder::ValType>,
        results: Vec<wasm_encoder::ValType>,
    ) -> u32 {
        if let Some(i) = self
            .types
            .iter()
            .position(|(p, r)| *p == params && *r == results)
        {
            return module.type_count + i as u32;
        }
        self.types.push((params, results));
        module.type_count + self.types.len() as u32 - 1
    }

    fn add_import(
        &mut self,
        module: &ModuleInfo<'_>,
        name: String,
        params: Vec<wasm_encoder::ValType>,
        results: Vec<wasm_encoder::ValType>,
    ) {
        if self.functions.contains_key(&name) {
            return;
        }
        let ty = self.add_type(module, params, results);
        self.functions.insert(
            name.clone(),
            module.imported_functions + self.imports.len() as u32,
        );
        self.imports.push((name, ty));
    }

    /// Plans the additions for instrumenting the functions of `table` in
    /// `module`.
    pub fn new(module: &ModuleInfo<'_>, table: &FunctionTable) -> Result<Plan, Error> {
        use wasm_encoder::ValType::I32;
        let options = &table.options;
        let sampled = options.sample > 1;
        let max_record = RecordLayout::new(table).max_record_size();
        let mut plan = Plan {
            imported_functions: module.imported_functions,
            staging_limit: (record::STAGING_BASE + options.staging_bytes)
                .saturating_sub(max_record),
            ..Plan::default()
        };
        let recorded = |t: &[ValType]| -> Vec<wasm_encoder::ValType> {
            t.iter().flat_map(|&t| hook_params(t)).copied().collect()
        };
        let types = &table.types;
        if options.strategy == Strategy::Inline {
            plan.add_import(
                module,
                record::FLUSH_IMPORT.into(),
                vec![wasm_encoder::ValType::I64],
                vec![wasm_encoder::ValType::I64],
            );
            if record::clock_by_call(options) {
                plan.add_import(module, record::NOW_IMPORT.into(), vec![], vec![I32]);
            }
        }
        for f in &table.functions {
            let hooks = options.strategy == Strategy::Hooks;
            if hooks || f.entry_snapshot(types) {
                let mut params = vec![I32];
                if sampled {
                    params.push(I32);
                }
                let values = body::hook_types(f, types, RecordKind::Enter);
                params.extend(recorded(&values));
                plan.add_import(
                    module,
                    record::hook_name(RecordKind::Enter, &values),
                    params,
                    vec![],
                );
            }
            if hooks || f.exit_snapshot(types) {
                let values = body::hook_types(f, types, RecordKind::Exit);
                let mut params = vec![I32];
                params.extend(recorded(&values));
                plan.add_import(
                    module,
                    record::hook_name(RecordKind::Exit, &values),
                    params,
                    vec![],
                );
            }
        }
        if options.strategy == Strategy::Hooks && !table.functions.is_empty() {
            plan.add_import(
                module,
                record::hook_name(RecordKind::TailExit, &[]),
                vec![I32],
                vec![],
            );
        }
        if module.memory_count > 0
            && table
                .functions
                .iter()
                .any(|f| f.entry_snapshot(types) || f.exit_snapshot(types))
        {
            plan.guest_memory = true;
        }
        for f in &table.functions {
            let results = &module.signatures[f.wasm_index as usize].results;
            if results.len() > 1 && !plan.block_types.contains_key(results) {
                let mut rt = RoundtripReencoder;
                let encoded = results
                    .iter()
                    .map(|&t| rt.val_type(t))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let index = plan.add_type(module, vec![], encoded);
                plan.block_types.insert(results.clone(), index);
            }
        }
        let mut next_global = module.global_count;
        let mut global = || {
            next_global += 1;
            next_global - 1
        };
        plan.enabled = global();
        if options.strategy == Strategy::Inline {
            plan.memory = Some(module.memory_count);
            plan.ptr = Some(global());
        }
        if sampled {
            plan.countdown = Some(global());
            plan.depth = Some(global());
        }
        Ok(plan)
    }

    /// The new index of function `func` of the input module.
    pub fn function_index(&self, func: u32) -> u32 {
        if func < self.imported_functions {
            func
        } else {
            func + self.imports.len() as u32
        }
    }

    /// A re-encoder that applies the plan's index shift and nothing else:
    /// what every body needs, without borrowing the module's rewriter.
    pub fn shift(&self) -> IndexShift<'_> {
        IndexShift(self)
    }
}

/// Re-encodes instructions and types with function indices shifted as the
/// plan says.
pub struct IndexShift<'p>(&'p Plan);

impl Reencode for IndexShift<'_> {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<Error>> {
        Ok(self.0.function_index(func))
    }
}
