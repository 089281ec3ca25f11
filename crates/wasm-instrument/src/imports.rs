//! The import pre-pass: routes calls out of the guest through generated
//! wrapper functions, so the main rewrite can trace them like any function.
//!
//! An import has no body to instrument. Every imported function gets one
//! wrapper, appended after the module's own functions (so no existing index
//! moves), whose body passes its parameters to the import and returns what
//! it returns. Every `call`, `return_call` and `ref.func` of an import in
//! code, every import placed in an element segment (so `call_indirect`
//! through a table reaches the wrapper) and every `ref.func` in a global's
//! initializer then names the wrapper instead. Exports of imports and a
//! start function that is an import keep naming the import: they are the
//! module's interface, not calls it makes.

use crate::analysis::ModuleInfo;
use crate::error::Error;
use crate::select::{convert, Selection};
use ruchy_trace_core::{record, wasi, FunctionInfo, Import};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{CodeSection, Function, FunctionSection, Instruction, Module};
use wasmparser::{Parser, Payload, TypeRef};

/// One generated wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapper {
    /// Function index of the wrapper in the wrapped module.
    pub index: u32,
    /// Function index of the import it calls.
    pub import: u32,
    /// The import's module name (e.g. `wasi_snapshot_preview1`).
    pub module: String,
    /// The import's field name (e.g. `fd_write`).
    pub field: String,
}

/// A module whose imports are reached through wrappers.
#[derive(Debug, Clone)]
pub struct Wrapped {
    /// The module with wrappers added and calls redirected.
    pub bytes: Vec<u8>,
    /// The wrappers, in function index order.
    pub wrappers: Vec<Wrapper>,
}

struct ImportedFunction {
    module: String,
    field: String,
    ty: u32,
    params: u32,
}

/// Adds a wrapper per imported function to `wasm` and redirects the calls.
/// A module without a code section, or without imported functions, comes
/// back unchanged with no wrappers.
pub fn wrap(wasm: &[u8]) -> Result<Wrapped, Error> {
    let mut param_counts: Vec<Option<u32>> = Vec::new();
    let mut imported = Vec::new();
    let mut defined = 0u32;
    let mut has_code = false;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(Error::invalid)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(Error::invalid)?.into_types() {
                        param_counts.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                Some(f.params().len() as u32)
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(Error::invalid)?;
                    if let TypeRef::Func(ty) | TypeRef::FuncExact(ty) = import.ty {
                        let params = param_counts
                            .get(ty as usize)
                            .copied()
                            .flatten()
                            .ok_or_else(|| Error::Invalid {
                                message: format!("import type {ty} is not a function type"),
                                offset: 0,
                            })?;
                        imported.push(ImportedFunction {
                            module: import.module.to_string(),
                            field: import.name.to_string(),
                            ty,
                            params,
                        });
                    }
                }
            }
            Payload::FunctionSection(reader) => defined = reader.count(),
            Payload::CodeSectionStart { .. } => has_code = true,
            _ => {}
        }
    }
    let imported_count = imported.len() as u32;
    let wrappers: Vec<Wrapper> = imported
        .iter()
        .enumerate()
        // The tracer's own hooks are refused later with a clear message;
        // wrapping them would only hide the clash.
        .filter(|(_, f)| f.module != record::HOOK_MODULE)
        .enumerate()
        .map(|(n, (i, f))| Wrapper {
            index: imported_count + defined + n as u32,
            import: i as u32,
            module: f.module.clone(),
            field: f.field.clone(),
        })
        .collect();
    if !has_code || wrappers.is_empty() {
        return Ok(Wrapped {
            bytes: wasm.to_vec(),
            wrappers: Vec::new(),
        });
    }
    let mut redirect = vec![None; imported.len()];
    for w in &wrappers {
        redirect[w.import as usize] = Some(w.index);
    }
    let mut pass = Redirect {
        imported: &imported,
        wrappers: &wrappers,
        redirect,
        active: false,
    };
    let mut out = Module::new();
    pass.parse_core_module(&mut out, Parser::new(0), wasm)
        .map_err(|e| match e {
            reencode::Error::UserError(e) => e,
            reencode::Error::ParseError(e) => Error::invalid(e),
            other => Error::Internal(other.to_string()),
        })?;
    Ok(Wrapped {
        bytes: out.finish(),
        wrappers,
    })
}

/// Adds the wrappers that pass the name filters to `selection`, as import
/// calls named `MODULE::FIELD`. Filters see that name and the bare field.
pub(crate) fn select(
    module: &ModuleInfo<'_>,
    config: &crate::Config,
    wrappers: &[Wrapper],
    selection: &mut Selection,
) -> Result<(), Error> {
    for w in wrappers {
        let name = format!("{}::{}", w.module, w.field);
        if !config.filters.allows(&[name.as_str(), w.field.as_str()]) {
            continue;
        }
        let id = selection.functions.len() as u32;
        if id > record::MAX_FUNCTION_ID {
            return Err(Error::Unsupported {
                feature: "more functions than a record header can name".into(),
            });
        }
        let sig = &module.signatures[w.index as usize];
        selection.ids.insert(w.index, id);
        selection.functions.push(FunctionInfo {
            wasm_index: w.index,
            raw_name: name.clone(),
            name,
            params: sig.params.iter().copied().map(convert).collect(),
            results: sig.results.iter().copied().map(convert).collect(),
            // Known WASI calls are decoded from guest memory unless the
            // trace asks for wasm values only: the names mark them.
            param_names: if config.source_values {
                wasi::param_names(&w.module, &w.field, sig.params.len())
            } else {
                Vec::new()
            },
            location: None,
            source: None,
            import: Some(Import {
                module: w.module.clone(),
                field: w.field.clone(),
            }),
        });
    }
    Ok(())
}

struct Redirect<'a> {
    imported: &'a [ImportedFunction],
    wrappers: &'a [Wrapper],
    /// Wrapper of each imported function, by import index.
    redirect: Vec<Option<u32>>,
    /// Whether function references are being read in a place that calls or
    /// stores them (code, element segments, global initializers).
    active: bool,
}

type ReResult<T = ()> = Result<T, reencode::Error<Error>>;

impl Redirect<'_> {
    fn redirecting<T>(&mut self, f: impl FnOnce(&mut Self) -> ReResult<T>) -> ReResult<T> {
        self.active = true;
        let r = f(self);
        self.active = false;
        r
    }
}

impl Reencode for Redirect<'_> {
    type Error = Error;

    fn function_index(&mut self, func: u32) -> ReResult<u32> {
        Ok(match self.redirect.get(func as usize) {
            Some(Some(wrapper)) if self.active => *wrapper,
            _ => func,
        })
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> ReResult {
        reencode::utils::parse_function_section(self, functions, section)?;
        for w in self.wrappers {
            functions.function(self.imported[w.import as usize].ty);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> ReResult {
        self.redirecting(|s| reencode::utils::parse_code_section(s, code, section))?;
        for w in self.wrappers {
            let mut f = Function::new([]);
            for p in 0..self.imported[w.import as usize].params {
                f.instruction(&Instruction::LocalGet(p));
            }
            f.instruction(&Instruction::Call(w.import));
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        Ok(())
    }

    fn parse_element_section(
        &mut self,
        elements: &mut wasm_encoder::ElementSection,
        section: wasmparser::ElementSectionReader<'_>,
    ) -> ReResult {
        self.redirecting(|s| reencode::utils::parse_element_section(s, elements, section))
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> ReResult {
        self.redirecting(|s| reencode::utils::parse_global_section(s, globals, section))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `env.log(i32) -> i32` (function 0) and
    /// `env.unused()` (1), whose `main` (2) calls `log` directly and through
    /// a table holding it, and which re-exports `log` as `log_again`.
    fn hand_built() -> Vec<u8> {
        use wasm_encoder::*;
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        types.ty().function([], []);
        types.ty().function([], [ValType::I32]);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import("env", "log", EntityType::Function(0));
        imports.import("env", "unused", EntityType::Function(1));
        m.section(&imports);
        let mut funcs = FunctionSection::new();
        funcs.function(2);
        m.section(&funcs);
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            minimum: 1,
            maximum: None,
            table64: false,
            shared: false,
        });
        m.section(&tables);
        let mut exports = ExportSection::new();
        exports.export("log_again", ExportKind::Func, 0);
        exports.export("main", ExportKind::Func, 2);
        m.section(&exports);
        let mut elems = ElementSection::new();
        elems.active(
            None,
            &ConstExpr::i32_const(0),
            Elements::Functions(std::borrow::Cow::Borrowed(&[0])),
        );
        m.section(&elems);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::I32Const(7))
            .instruction(&Instruction::Call(0))
            .instruction(&Instruction::Drop)
            .instruction(&Instruction::I32Const(8))
            .instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::CallIndirect {
                type_index: 0,
                table_index: 0,
            })
            .instruction(&Instruction::End);
        code.function(&f);
        m.section(&code);
        m.finish()
    }

    /// Every import gets a wrapper after the defined functions; the direct
    /// call and the table entry name the wrapper, the export still names the
    /// import, and the wrapper's body calls the import.
    #[test]
    fn calls_and_table_entries_go_through_wrappers_exports_do_not() {
        let wrapped = wrap(&hand_built()).unwrap();
        wasmparser::Validator::new()
            .validate_all(&wrapped.bytes)
            .unwrap();
        assert_eq!(
            wrapped.wrappers,
            vec![
                Wrapper {
                    index: 3,
                    import: 0,
                    module: "env".into(),
                    field: "log".into()
                },
                Wrapper {
                    index: 4,
                    import: 1,
                    module: "env".into(),
                    field: "unused".into()
                },
            ]
        );
        let mut calls = Vec::new();
        let mut elements = Vec::new();
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(&wrapped.bytes) {
            match payload.unwrap() {
                Payload::CodeSectionEntry(body) => {
                    let mut ops = body.get_operators_reader().unwrap();
                    let mut mine = Vec::new();
                    while !ops.eof() {
                        if let wasmparser::Operator::Call { function_index } = ops.read().unwrap() {
                            mine.push(function_index);
                        }
                    }
                    calls.push(mine);
                }
                Payload::ElementSection(reader) => {
                    for e in reader {
                        if let wasmparser::ElementItems::Functions(f) = e.unwrap().items {
                            elements.extend(f.into_iter().map(Result::unwrap));
                        }
                    }
                }
                Payload::ExportSection(reader) => {
                    for e in reader {
                        let e = e.unwrap();
                        exports.push((e.name.to_string(), e.index));
                    }
                }
                _ => {}
            }
        }
        assert_eq!(calls, vec![vec![3], vec![0], vec![1]]);
        assert_eq!(elements, vec![3]);
        assert_eq!(
            exports,
            vec![("log_again".to_string(), 0), ("main".to_string(), 2)]
        );
    }
}
