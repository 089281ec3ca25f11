//! The first pass: validates the input and learns what the rewrite needs
//! (index space sizes, function signatures, names, which sections exist).

use crate::error::Error;
use crate::names;
use ruchy_trace_core::record;
use std::collections::{HashMap, HashSet};
use wasmparser::{KnownCustom, Name, Parser, Payload, ValType};

/// A function's signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// What the rewrite needs to know about the input module.
#[derive(Debug)]
pub struct ModuleInfo<'a> {
    /// Number of imported functions (they come first in the index space).
    pub imported_functions: u32,
    /// Signature of every function, imported ones first.
    pub signatures: Vec<Signature>,
    /// Number of types, memories and globals (imported and defined).
    pub type_count: u32,
    pub memory_count: u32,
    pub global_count: u32,
    /// Raw name of each function, from the name section or an export,
    /// borrowed from the module.
    pub raw_names: HashMap<u32, &'a str>,
    /// Demangled names, per function index.
    pub demangled: HashMap<u32, String>,
    /// The program's own crate, when the names reveal one.
    pub program: Option<names::Program>,
    /// Exported functions.
    pub exported: HashSet<u32>,
    /// Ids of the non-custom sections present.
    pub sections: HashSet<u8>,
    /// DWARF sections, by name, read before the rewrite moves code.
    pub debug_sections: HashMap<String, &'a [u8]>,
    /// Per defined function, in order: the validator of its body.
    pub body_validators: Vec<BodyValidator>,
}

impl ModuleInfo<'_> {
    /// The raw name of function `index`, or `func[N]`.
    pub fn function_name(&self, index: u32) -> String {
        self.raw_names
            .get(&index)
            .map_or_else(|| format!("func[{index}]"), |n| n.to_string())
    }
}

/// A defined function's validator, taken by whichever thread rewrites the
/// function's body.
pub type BodyValidator =
    std::sync::Mutex<Option<wasmparser::FuncToValidate<wasmparser::ValidatorResources>>>;

/// Validates `wasm` but for its function bodies (each is validated as it
/// is rewritten, see [`ModuleInfo::body_validators`]), and learns what the
/// rewrite needs.
pub fn analyze(wasm: &[u8]) -> Result<ModuleInfo<'_>, Error> {
    crate::check_header(wasm)?;
    let mut validator = wasmparser::Validator::new();
    let mut bodies = Vec::new();
    let mut types = None;
    // Signatures as the module writes them (type references by module
    // index, which re-encode), not as the validator canonicalizes them.
    let mut module_types: Vec<Option<Signature>> = Vec::new();
    let mut signatures: Vec<Signature> = Vec::new();
    let signature_of =
        |module_types: &[Option<Signature>], index: u32| -> Result<Signature, Error> {
            module_types
                .get(index as usize)
                .cloned()
                .flatten()
                .ok_or(Error::Internal(format!(
                    "type {index} of a function is not a function type"
                )))
        };

    let mut imported_functions = 0;
    let mut raw_names = HashMap::new();
    let mut export_names = HashMap::new();
    let mut sections = HashSet::new();
    let mut clash = None;
    let mut debug_sections = HashMap::new();
    let mut instrumented = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(Error::invalid)?;
        match validator.payload(&payload).map_err(Error::invalid)? {
            wasmparser::ValidPayload::Func(func, _) => {
                bodies.push(std::sync::Mutex::new(Some(func)))
            }
            wasmparser::ValidPayload::End(t) => types = Some(t),
            _ => {}
        }
        if let Some((id, _)) = payload.as_section() {
            sections.insert(id);
        }
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(Error::invalid)?.into_types() {
                        module_types.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => Some(Signature {
                                params: f.params().to_vec(),
                                results: f.results().to_vec(),
                            }),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(Error::invalid)?;
                    if import.module == record::HOOK_MODULE {
                        clash.get_or_insert_with(|| format!("{}.{}", import.module, import.name));
                    }
                    if let wasmparser::TypeRef::Func(t) | wasmparser::TypeRef::FuncExact(t) =
                        import.ty
                    {
                        imported_functions += 1;
                        signatures.push(signature_of(&module_types, t)?);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    signatures.push(signature_of(&module_types, t.map_err(Error::invalid)?)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(Error::invalid)?;
                    if export.name.starts_with("__ruchy_trace_") {
                        clash.get_or_insert_with(|| export.name.to_string());
                    }
                    if export.kind == wasmparser::ExternalKind::Func {
                        export_names.entry(export.index).or_insert(export.name);
                    }
                }
            }
            Payload::CustomSection(c) => {
                if c.name() == ruchy_trace_core::table::SECTION_NAME {
                    instrumented = true;
                }
                if c.name().starts_with(".debug_") {
                    debug_sections.insert(c.name().to_string(), c.data());
                }
                if let KnownCustom::Name(reader) = c.as_known() {
                    // A malformed name section only costs names, never the run.
                    for sub in reader.into_iter().flatten() {
                        if let Name::Function(map) = sub {
                            for naming in map.into_iter().flatten() {
                                raw_names.insert(naming.index, naming.name);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let types = types.ok_or(Error::Internal("the module never ended".into()))?;
    let types = types.as_ref();
    if instrumented {
        return Err(Error::AlreadyInstrumented);
    }
    if let Some(name) = clash {
        return Err(Error::NameClash(name));
    }
    let exported: HashSet<u32> = export_names.keys().copied().collect();
    for (index, name) in export_names {
        raw_names.entry(index).or_insert(name);
    }
    let demangled: HashMap<u32, String> = raw_names
        .iter()
        .map(|(&i, n)| (i, names::demangle(n)))
        .collect();
    let program = names::program_crate(demangled.values().map(String::as_str));
    Ok(ModuleInfo {
        imported_functions,
        signatures,
        type_count: types.core_type_count_in_module(),
        memory_count: types.memory_count(),
        global_count: types.global_count(),
        raw_names,
        demangled,
        program,
        exported,
        sections,
        debug_sections,
        body_validators: bodies,
    })
}
