//! The second pass: re-encodes the module with the hook imports, the trace
//! memory and globals added, every function index shifted past the new
//! imports, instrumented bodies, and the function table appended.

use crate::analysis::ModuleInfo;
use crate::body;
use crate::error::Error;
use crate::select::Selection;
use std::collections::HashMap;
use ruchy_trace_core::record::{self, RecordKind};
use ruchy_trace_core::{FunctionTable, Strategy, ValType};
use wasm_encoder::reencode::{self, Reencode, RoundtripReencoder};
use wasm_encoder::{
    ConstExpr, CustomSection, EntityType, ExportKind, ExportSection, GlobalSection, GlobalType,
    ImportSection, MemorySection, MemoryType, Module, SectionId, TypeSection,
};

/// Indices of everything the instrumentation adds, as seen by the new module.
#[derive(Debug, Default)]
pub struct Added {
    /// Imported functions, in order: (name, type index).
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
    pub enabled: u32,
    pub ptr: Option<u32>,
    pub countdown: Option<u32>,
    pub depth: Option<u32>,
}

fn encoder_type(t: ValType) -> wasm_encoder::ValType {
    match t {
        ValType::I32 => wasm_encoder::ValType::I32,
        ValType::I64 => wasm_encoder::ValType::I64,
        ValType::F32 => wasm_encoder::ValType::F32,
        ValType::F64 => wasm_encoder::ValType::F64,
        ValType::V128 | ValType::Ref => unreachable!("unrecorded types are never passed to hooks"),
    }
}

impl Added {
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

    fn plan(
        module: &ModuleInfo<'_>,
        selection: &Selection,
        table: &FunctionTable,
    ) -> Result<Added, Error> {
        use wasm_encoder::ValType::I32;
        let options = &table.options;
        let sampled = options.sample > 1;
        let mut added = Added::default();
        let recorded = |t: &[ValType]| -> Vec<wasm_encoder::ValType> {
            t.iter()
                .filter(|t| t.record_size() > 0)
                .map(|&t| encoder_type(t))
                .collect()
        };
        let types = &table.types;
        if options.strategy == Strategy::Inline {
            added.add_import(module, record::FLUSH_IMPORT.into(), vec![I32], vec![I32]);
            if record::clock_by_call(options) {
                added.add_import(module, record::NOW_IMPORT.into(), vec![], vec![I32]);
            }
        }
        for f in &selection.functions {
            let hooks = options.strategy == Strategy::Hooks;
            if hooks || f.entry_snapshot(types) {
                let mut params = vec![I32];
                if sampled {
                    params.push(I32);
                }
                let values = body::hook_types(f, types, RecordKind::Enter);
                params.extend(recorded(&values));
                added.add_import(
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
                added.add_import(
                    module,
                    record::hook_name(RecordKind::Exit, &values),
                    params,
                    vec![],
                );
            }
        }
        if options.strategy == Strategy::Hooks && !selection.functions.is_empty() {
            added.add_import(
                module,
                record::hook_name(RecordKind::TailExit, &[]),
                vec![I32],
                vec![],
            );
        }
        if module.memory_count > 0
            && selection
                .functions
                .iter()
                .any(|f| f.entry_snapshot(types) || f.exit_snapshot(types))
        {
            added.guest_memory = true;
        }
        for f in &selection.functions {
            let results = &module.signatures[f.wasm_index as usize].results;
            if results.len() > 1 && !added.block_types.contains_key(results) {
                let mut rt = RoundtripReencoder;
                let encoded = results
                    .iter()
                    .map(|&t| rt.val_type(t))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let index = added.add_type(module, vec![], encoded);
                added.block_types.insert(results.clone(), index);
            }
        }
        let mut next_global = module.global_count;
        let mut global = || {
            next_global += 1;
            next_global - 1
        };
        added.enabled = global();
        if options.strategy == Strategy::Inline {
            added.memory = Some(module.memory_count);
            added.ptr = Some(global());
        }
        if sampled {
            added.countdown = Some(global());
            added.depth = Some(global());
        }
        Ok(added)
    }
}

/// Section order of the binary format, custom sections aside.
fn rank(id: SectionId) -> u8 {
    match id {
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
        _ => 0,
    }
}

pub struct Rewriter<'a> {
    pub module: &'a ModuleInfo<'a>,
    pub selection: &'a Selection,
    pub table: &'a FunctionTable,
    pub added: Added,
    /// Index of the next defined function whose body is re-encoded.
    next_function: u32,
    /// Sections the hook still has to create because the input lacks them.
    missing: Vec<SectionId>,
    notes: Vec<String>,
    stripped_debug: bool,
}

pub fn rewrite(
    wasm: &[u8],
    module: &ModuleInfo<'_>,
    selection: &Selection,
    table: &FunctionTable,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>, Error> {
    let added = Added::plan(module, selection, table)?;
    let mut missing = vec![
        SectionId::Type,
        SectionId::Import,
        SectionId::Global,
        SectionId::Export,
    ];
    if added.memory.is_some() {
        missing.push(SectionId::Memory);
    }
    missing.retain(|s| !module.sections.contains(&(*s as u8)));
    let mut rewriter = Rewriter {
        module,
        selection,
        table,
        added,
        next_function: module.imported_functions,
        missing,
        notes: Vec::new(),
        stripped_debug: false,
    };
    let mut out = Module::new();
    rewriter
        .parse_core_module(&mut out, wasmparser::Parser::new(0), wasm)
        .map_err(|e| match e {
            reencode::Error::UserError(e) => e,
            reencode::Error::ParseError(e) => Error::invalid(e),
            other => Error::Internal(other.to_string()),
        })?;
    notes.append(&mut rewriter.notes);
    Ok(out.finish())
}

impl Rewriter<'_> {
    fn append_types(&self, types: &mut TypeSection) {
        for (params, results) in &self.added.types {
            types
                .ty()
                .function(params.iter().copied(), results.iter().copied());
        }
    }

    fn append_imports(&self, imports: &mut ImportSection) {
        for (name, ty) in &self.added.imports {
            imports.import(record::HOOK_MODULE, name, EntityType::Function(*ty));
        }
    }

    fn append_memories(&self, memories: &mut MemorySection) {
        if self.added.memory.is_some() {
            let bytes =
                u64::from(record::STAGING_BASE) + u64::from(self.table.options.staging_bytes);
            let pages = bytes.div_ceil(65536);
            memories.memory(MemoryType {
                minimum: pages,
                maximum: Some(pages),
                memory64: false,
                shared: false,
                page_size_log2: None,
            });
        }
    }

    fn append_globals(&self, globals: &mut GlobalSection) {
        let mutable_i32 = GlobalType {
            val_type: wasm_encoder::ValType::I32,
            mutable: true,
            shared: false,
        };
        globals.global(mutable_i32, &ConstExpr::i32_const(1));
        if self.added.ptr.is_some() {
            globals.global(
                mutable_i32,
                &ConstExpr::i32_const(record::STAGING_BASE as i32),
            );
        }
        if self.added.countdown.is_some() {
            globals.global(mutable_i32, &ConstExpr::i32_const(1));
            globals.global(mutable_i32, &ConstExpr::i32_const(0));
        }
    }

    fn append_exports(&self, exports: &mut ExportSection) {
        exports.export(
            record::ENABLED_EXPORT,
            ExportKind::Global,
            self.added.enabled,
        );
        if let Some(m) = self.added.memory {
            exports.export(record::MEMORY_EXPORT, ExportKind::Memory, m);
        }
        if let Some(p) = self.added.ptr {
            exports.export(record::PTR_EXPORT, ExportKind::Global, p);
        }
        if let Some(d) = self.added.depth {
            exports.export(record::DEPTH_EXPORT, ExportKind::Global, d);
        }
        if self.added.guest_memory {
            exports.export(record::GUEST_MEMORY_EXPORT, ExportKind::Memory, 0);
        }
    }
}

type ReResult<T = ()> = Result<T, reencode::Error<Error>>;

impl Reencode for Rewriter<'_> {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> ReResult<u32> {
        Ok(if func < self.module.imported_functions {
            func
        } else {
            func + self.added.imports.len() as u32
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> ReResult {
        reencode::utils::parse_type_section(self, types, section)?;
        self.append_types(types);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> ReResult {
        reencode::utils::parse_import_section(self, imports, section)?;
        self.append_imports(imports);
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> ReResult {
        reencode::utils::parse_memory_section(self, memories, section)?;
        self.append_memories(memories);
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> ReResult {
        reencode::utils::parse_global_section(self, globals, section)?;
        self.append_globals(globals);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> ReResult {
        reencode::utils::parse_export_section(self, exports, section)?;
        self.append_exports(exports);
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> ReResult {
        let index = self.next_function;
        self.next_function += 1;
        match self.selection.ids.get(&index) {
            Some(&id) => {
                let f = body::instrument(self, index, id, &func)?;
                code.function(&f);
                Ok(())
            }
            None => {
                body::check_supported(&func, self.function_name(index))?;
                reencode::utils::parse_function_body(self, code, func)
            }
        }
    }

    fn parse_custom_section(
        &mut self,
        module: &mut Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> ReResult {
        let name = section.name();
        // Code offsets in DWARF and source maps go stale once bodies grow;
        // shipping them would point debuggers at the wrong instructions.
        if name.starts_with(".debug_")
            || name == "sourceMappingURL"
            || name == "external_debug_info"
        {
            if !self.stripped_debug {
                self.stripped_debug = true;
                self.notes.push(
                    "removed DWARF debug sections: instrumentation moves code, so their offsets would be wrong"
                        .to_string(),
                );
            }
            return Ok(());
        }
        if let wasmparser::KnownCustom::Name(reader) = section.as_known() {
            // A malformed name section costs the names, never the module:
            // engines ignore it too.
            match self.custom_name_section(reader) {
                Ok(names) => module.section(&names),
                Err(_) => {
                    self.notes
                        .push("dropped a malformed name section".to_string());
                    module
                }
            };
            return Ok(());
        }
        reencode::utils::parse_custom_section(self, module, section)
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> ReResult {
        let mut due: Vec<SectionId> = self
            .missing
            .iter()
            .copied()
            .filter(|&s| before.is_none_or(|b| rank(s) < rank(b)))
            .collect();
        due.sort_by_key(|&s| rank(s));
        self.missing.retain(|s| !due.contains(s));
        for s in due {
            match s {
                SectionId::Type => {
                    let mut types = TypeSection::new();
                    self.append_types(&mut types);
                    module.section(&types);
                }
                SectionId::Import => {
                    let mut imports = ImportSection::new();
                    self.append_imports(&mut imports);
                    module.section(&imports);
                }
                SectionId::Memory => {
                    let mut memories = MemorySection::new();
                    self.append_memories(&mut memories);
                    module.section(&memories);
                }
                SectionId::Global => {
                    let mut globals = GlobalSection::new();
                    self.append_globals(&mut globals);
                    module.section(&globals);
                }
                SectionId::Export => {
                    let mut exports = ExportSection::new();
                    self.append_exports(&mut exports);
                    module.section(&exports);
                }
                _ => {}
            }
        }
        if before.is_none() {
            let data = self.table.encode();
            module.section(&CustomSection {
                name: ruchy_trace_core::table::SECTION_NAME.into(),
                data: data.into(),
            });
        }
        Ok(())
    }
}

impl Rewriter<'_> {
    /// The largest record any instrumented function writes.
    pub fn max_record_size(&self) -> u32 {
        ruchy_trace_core::RecordLayout::new(self.table).max_record_size()
    }

    pub fn function_name(&self, index: u32) -> String {
        self.module
            .raw_names
            .get(&index)
            .cloned()
            .unwrap_or_else(|| format!("func[{index}]"))
    }
}
