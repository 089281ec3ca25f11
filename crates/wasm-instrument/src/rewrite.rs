//! The second pass: re-encodes the module with the hook imports, the trace
//! memory and globals added, every function index shifted past the new
//! imports, instrumented bodies, and the function table appended.

use crate::analysis::ModuleInfo;
use crate::body;
use crate::error::Error;
use crate::plan::Plan;
use crate::select::Selection;
use ruchy_trace_core::record;
use ruchy_trace_core::FunctionTable;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    ConstExpr, CustomSection, EntityType, ExportKind, ExportSection, GlobalSection, GlobalType,
    ImportSection, MemorySection, MemoryType, Module, SectionId, TypeSection,
};
use wasmparser::FuncValidatorAllocations;

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

/// Where the rewritten module goes.
pub enum Destination<'w> {
    /// Into memory, returned whole.
    Memory,
    /// Written as it is produced, code section body by body, so the output
    /// never exists whole in memory; the writer goes back once, to fill in
    /// the code section's size.
    Stream(&'w mut dyn crate::Output),
}

struct Rewriter<'a, 'w> {
    /// Where the output goes.
    destination: Destination<'w>,
    /// The input module.
    wasm: &'a [u8],
    module: &'a ModuleInfo<'a>,
    selection: &'a Selection,
    table: &'a FunctionTable,
    added: Plan,
    /// Threads rewriting function bodies.
    jobs: usize,
    /// The output up to and including the rewritten code section, taken
    /// out of the re-encoder's module just before the code section (see
    /// [`Rewriter::parse_code_section`]); empty once written to a streamed
    /// destination, and `None` in a module without a code section.
    head: Option<Vec<u8>>,
    /// Whether the function table's custom section is in the output.
    table_written: bool,
    /// Sections the hook still has to create because the input lacks them.
    missing: Vec<SectionId>,
    notes: Vec<String>,
    stripped_debug: bool,
}

/// Rewrites `wasm`, instrumenting `selection`, using up to `jobs` threads
/// for function bodies, into `destination`; returns the output when that is
/// memory. Takes the analysis and the selection to free them before the
/// output's last part is joined, where memory use peaks.
pub fn rewrite(
    wasm: &[u8],
    module: ModuleInfo<'_>,
    selection: Selection,
    table: &FunctionTable,
    jobs: usize,
    destination: Destination<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>, Error> {
    let added = Plan::new(&module, table)?;
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
        destination,
        wasm,
        module: &module,
        selection: &selection,
        table,
        added,
        jobs,
        head: None,
        table_written: false,
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
    let head = rewriter.head.take();
    let destination = std::mem::replace(&mut rewriter.destination, Destination::Memory);
    drop(rewriter);
    drop(module);
    drop(selection);
    let tail = out.finish();
    match destination {
        Destination::Memory => Ok(match head {
            Some(head) => join(head, &tail),
            None => tail,
        }),
        Destination::Stream(w) => {
            // Everything up to the end of the code section is written
            // already (`head` is what is left of it, nothing); a module
            // without a code section is written here whole.
            let rest = match head {
                Some(_) => after_code_section(&tail),
                None => &tail[..],
            };
            w.write_all(rest).map_err(Error::write)?;
            w.flush().map_err(Error::write)?;
            Ok(Vec::new())
        }
    }
}

/// The module's bytes before the code section are moved out of the
/// re-encoder's module at the code section, which then starts again with
/// only the 8-byte preamble; the re-encoder writes an empty code section
/// there, which the rewritten one in `head` replaces.
const PREAMBLE: usize = 8;

/// What `wasm_encoder` writes for a code section with no bodies.
const EMPTY_CODE_SECTION: [u8; 3] = [SectionId::Code as u8, 1, 0];

/// The output: `head` (everything up to the rewritten code section)
/// followed by the sections the re-encoder wrote after it into `tail`.
fn join(mut head: Vec<u8>, tail: &[u8]) -> Vec<u8> {
    head.extend_from_slice(after_code_section(tail));
    head
}

/// What the re-encoder wrote into `tail` after its empty code section.
fn after_code_section(tail: &[u8]) -> &[u8] {
    let after = PREAMBLE + EMPTY_CODE_SECTION.len();
    debug_assert_eq!(tail.get(PREAMBLE..after), Some(&EMPTY_CODE_SECTION[..]));
    &tail[after..]
}

impl Rewriter<'_, '_> {
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
            let mutable_i64 = GlobalType {
                val_type: wasm_encoder::ValType::I64,
                ..mutable_i32
            };
            globals.global(mutable_i64, &ConstExpr::i64_const(record::EMPTY_STAGING));
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

impl Reencode for Rewriter<'_, '_> {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> ReResult<u32> {
        Ok(self.added.function_index(func))
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

    /// Rewrites every body, `jobs` at a time, straight into the output
    /// (`head`): each piece of bodies is appended as soon as those before
    /// it are, then freed, so the rewritten bodies exist once in memory,
    /// in the output. The section's size is written as a 5-byte LEB128
    /// before the bodies and filled in after them.
    fn parse_code_section(
        &mut self,
        _code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> ReResult {
        let section_offset = section.range().start;
        let input_size = section.range().len();
        let bodies = section.into_iter().collect::<Result<Vec<_>, _>>()?;
        let first = self.module.imported_functions;
        let (plan, table, module, selection) =
            (&self.added, self.table, self.module, self.selection);
        let wasm = self.wasm;
        let missing = |index: u32| {
            reencode::Error::UserError(Error::Internal(format!(
                "function {index} has a body but no type"
            )))
        };
        let encode_one = |i: usize,
                          body: &wasmparser::FunctionBody<'_>,
                          allocs: FuncValidatorAllocations,
                          out: &mut Vec<u8>|
         -> ReResult<FuncValidatorAllocations> {
            let index = first + i as u32;
            let name = || module.function_name(index);
            let validator = module
                .body_validators
                .get(i)
                .and_then(|v| v.lock().unwrap_or_else(|e| e.into_inner()).take())
                .ok_or_else(|| missing(index))?;
            let (reader, locals) = body::BodyReader::new(wasm, body, validator, allocs)?;
            let (f, allocs) = match selection.ids.get(&index) {
                Some(&id) => {
                    let sig = module
                        .signatures
                        .get(index as usize)
                        .ok_or_else(|| missing(index))?;
                    body::instrument(plan, table, sig, id, reader, locals, name)?
                }
                None => body::plain(plan, reader, locals, name)?,
            };
            wasm_encoder::Encode::encode(&f, out);
            Ok(allocs)
        };
        if bodies.len() != module.body_validators.len() {
            return Err(reencode::Error::UserError(Error::Invalid {
                message: "function and code section counts are inconsistent".into(),
                offset: section_offset,
            }));
        }
        let mut head = self.head.take().ok_or_else(|| {
            reencode::Error::UserError(Error::Internal(
                "the code section came without its section hook".into(),
            ))
        })?;
        let streaming = matches!(self.destination, Destination::Stream(_));
        if !streaming {
            head.reserve(input_size + input_size / 4 + 16);
        }
        head.push(SectionId::Code as u8);
        let size_at = head.len();
        head.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x00]);
        let bodies_at = head.len();
        leb128_u32(&mut head, bodies.len() as u32);
        let mut section_size = (head.len() - bodies_at) as u64;
        // The first error writing a streamed piece; later pieces are not
        // written.
        let mut failed: Option<std::io::Error> = None;
        // Where a streamed output starts.
        let mut start = 0;
        if let Destination::Stream(w) = &mut self.destination {
            match w
                .stream_position()
                .and_then(|at| w.write_all(&head).map(|()| at))
            {
                Ok(at) => start = at,
                Err(e) => failed = Some(e),
            }
            head = Vec::new();
        }
        let destination = &mut self.destination;
        crate::parallel::for_each_piece(
            &bodies,
            self.jobs,
            |range| {
                let mut out = Vec::new();
                let mut allocs = FuncValidatorAllocations::default();
                for i in range {
                    allocs = encode_one(i, &bodies[i], allocs, &mut out)?;
                }
                Ok::<_, reencode::Error<Error>>(out)
            },
            |piece| {
                section_size += piece.len() as u64;
                match destination {
                    Destination::Memory => head.extend_from_slice(&piece),
                    Destination::Stream(w) if failed.is_none() => {
                        if let Err(e) = w.write_all(&piece) {
                            failed = Some(e);
                        }
                    }
                    Destination::Stream(_) => {}
                }
            },
        )?;
        let size = u32::try_from(section_size).map_err(|_| {
            reencode::Error::UserError(Error::Internal(
                "the rewritten code section is over 4 GiB".into(),
            ))
        })?;
        let size = padded_leb128_u32(size);
        match &mut self.destination {
            Destination::Memory => head[size_at..size_at + 5].copy_from_slice(&size),
            Destination::Stream(w) => {
                let patched = failed.map_or_else(
                    || {
                        let end = w.stream_position()?;
                        w.seek(std::io::SeekFrom::Start(start + size_at as u64))?;
                        w.write_all(&size)?;
                        w.seek(std::io::SeekFrom::Start(end))?;
                        Ok(())
                    },
                    Err,
                );
                patched.map_err(|e| reencode::Error::UserError(Error::write(e)))?;
            }
        }
        self.head = Some(head);
        Ok(())
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
        // After the sections added above: they precede the code section.
        // The table goes just before the code section (or at the end of a
        // module without one): readers look for it by name, and written
        // early it is encoded and freed before the bodies fill memory.
        if before == Some(SectionId::Code) || (before.is_none() && !self.table_written) {
            let data = self.table.encode();
            module.section(&CustomSection {
                name: ruchy_trace_core::table::SECTION_NAME.into(),
                data: data.into(),
            });
            self.table_written = true;
        }
        if before == Some(SectionId::Code) {
            self.head = Some(std::mem::replace(module, Module::new()).finish());
        }
        Ok(())
    }
}

/// `v` as a LEB128 of exactly five bytes, as a size written before what
/// it measures is known.
fn padded_leb128_u32(v: u32) -> [u8; 5] {
    let mut out = [0u8; 5];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = ((v >> (7 * i)) & 0x7f) as u8 | if i < 4 { 0x80 } else { 0 };
    }
    out
}

fn leb128_u32(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
