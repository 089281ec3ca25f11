//! Which functions get instrumented, and the table entries describing them.

use crate::analysis::ModuleInfo;
use crate::error::Error;
use crate::names;
use ruchy_trace_core::{FunctionInfo, ValType};
use std::collections::HashMap;

/// Which functions are candidates before filters apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The program's own functions. For a Rust (or Ruchy) program these are
    /// the functions of the crate that defines `main`; a module whose names
    /// reveal no such crate has every function counted as its own.
    #[default]
    Own,
    /// Every defined function.
    All,
}

/// The instrumented functions.
#[derive(Debug)]
pub struct Selection {
    /// Table entries; the position is the record id.
    pub functions: Vec<FunctionInfo>,
    /// Source types the entries refer to.
    pub types: Vec<ruchy_trace_core::source::SourceType>,
    /// Function index (original module) to record id.
    pub ids: HashMap<u32, u32>,
}

pub fn convert(t: wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(_) => ValType::Ref,
    }
}

/// Selects among the module's own functions, name filters aside (see
/// [`relocate_and_filter`]): the last `wrappers` defined functions are
/// import wrappers, chosen by [`crate::imports::select`] instead.
pub fn select(
    module: &ModuleInfo<'_>,
    config: &crate::Config,
    wrappers: usize,
) -> Result<Selection, Error> {
    let program = module.program.as_ref();
    let mut functions = Vec::new();
    let mut ids = HashMap::new();
    let own_end = (module.signatures.len() - wrappers) as u32;
    for index in module.imported_functions..own_end {
        let raw = module
            .raw_names
            .get(&index)
            .map_or_else(|| format!("func[{index}]"), |n| n.to_string());
        let demangled = module
            .demangled
            .get(&index)
            .cloned()
            .unwrap_or_else(|| raw.clone());
        if config.scope == Scope::Own
            && !names::is_own(&demangled, module.exported.contains(&index), program)
        {
            continue;
        }
        let name = names::display_name(&demangled, program);
        let sig = &module.signatures[index as usize];
        if functions.len() as u32 > ruchy_trace_core::record::MAX_FUNCTION_ID {
            return Err(Error::Unsupported {
                feature: "more functions than a record header can name".into(),
            });
        }
        ids.insert(index, functions.len() as u32);
        functions.push(FunctionInfo {
            wasm_index: index,
            raw_name: raw,
            name,
            params: sig.params.iter().copied().map(convert).collect(),
            results: sig.results.iter().copied().map(convert).collect(),
            param_names: Vec::new(),
            location: None,
            source: None,
            import: None,
        });
    }
    let types = if config.source_values {
        attach_debug_info(module, &mut functions)
    } else {
        Vec::new()
    };
    Ok(Selection {
        functions,
        ids,
        types,
    })
}

/// Gives the selected functions their source names and locations
/// (`config.relocators`), then keeps those the name filters allow. Filters
/// see the name a trace shows (a Ruchy closure's `add`, a method's
/// `Circle::area`) as well as the names before relocation: the shown Rust
/// name, the demangled one and the raw one (`main::{{closure}}`).
pub fn relocate_and_filter(
    module: &ModuleInfo<'_>,
    config: &crate::Config,
    selection: &mut Selection,
) {
    let before: Vec<String> = selection.functions.iter().map(|f| f.name.clone()).collect();
    for r in &config.relocators {
        r.relocate(&mut selection.functions);
    }
    if config.filters.is_empty() {
        return;
    }
    let mut before = before.into_iter();
    selection.functions.retain(|f| {
        let before = before.next().unwrap_or_default();
        let demangled = module
            .demangled
            .get(&f.wasm_index)
            .map_or("", String::as_str);
        let names = [f.name.as_str(), &before, demangled, &f.raw_name];
        config.filters.allows(&names)
    });
    selection.ids = selection
        .functions
        .iter()
        .enumerate()
        .map(|(id, f)| (f.wasm_index, id as u32))
        .collect();
}

/// Adds what DWARF knows to the selected functions: source signatures,
/// parameter names and definition sites. Returns the types they refer to.
fn attach_debug_info(
    module: &ModuleInfo<'_>,
    functions: &mut [FunctionInfo],
) -> Vec<ruchy_trace_core::source::SourceType> {
    if module.debug_sections.is_empty() {
        return Vec::new();
    }
    let wanted: std::collections::HashSet<&str> =
        functions.iter().map(|f| f.raw_name.as_str()).collect();
    let debug = crate::dwarf::read(&module.debug_sections, &wanted);
    for f in functions.iter_mut() {
        let Some(d) = debug.functions.get(&f.raw_name) else {
            continue;
        };
        if let Some(file) = &d.file {
            f.location = Some(ruchy_trace_core::Location {
                file: file.clone(),
                line: d.line,
                column: 0,
            });
        }
        let sig = &module.signatures[f.wasm_index as usize];
        if let Some(source) = crate::lowering::lower(
            &debug.types,
            &d.params,
            d.result,
            d.closure,
            &sig.params,
            &sig.results,
        ) {
            f.param_names = source.params.iter().map(|p| p.name.clone()).collect();
            f.source = Some(source);
        }
    }
    debug.types
}
