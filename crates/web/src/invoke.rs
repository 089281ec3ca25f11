//! Calling an exported function instead of `_start`: its signature, and
//! its arguments parsed from text.

use ruchy_trace_core::Value;
use wasm_bindgen::JsValue;
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef, ValType};

/// Parameter and result types of the exported function `name`.
pub fn export_signature(wasm: &[u8], name: &str) -> Result<(Vec<ValType>, Vec<ValType>), String> {
    let mut types: Vec<Option<(Vec<ValType>, Vec<ValType>)>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut index = None;
    let mut exports = Vec::new();
    let bad = |e: wasmparser::BinaryReaderError| format!("invalid module: {e}");
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(bad)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(bad)?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                Some((f.params().to_vec(), f.results().to_vec()))
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(t) | TypeRef::FuncExact(t) = import.map_err(bad)?.ty {
                        funcs.push(t);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    funcs.push(t.map_err(bad)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(bad)?;
                    if export.kind == ExternalKind::Func {
                        if export.name == name {
                            index = Some(export.index);
                        } else if !export.name.starts_with("__ruchy_trace") {
                            exports.push(export.name.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let Some(index) = index else {
        return Err(format!(
            "the module exports no function `{name}`; its functions: {}",
            exports.join(", ")
        ));
    };
    funcs
        .get(index as usize)
        .and_then(|&t| types.get(t as usize).cloned().flatten())
        .ok_or_else(|| format!("cannot find the type of `{name}`"))
}

/// Converts `args` to the JS values the function's parameters take (a
/// BigInt for `i64`).
pub fn js_args(name: &str, params: &[ValType], args: &[String]) -> Result<Vec<JsValue>, String> {
    if params.len() != args.len() {
        return Err(format!(
            "`{name}` takes {} argument(s), {} given",
            params.len(),
            args.len()
        ));
    }
    params
        .iter()
        .zip(args)
        .map(|(t, a)| {
            Ok(
                match Value::parse(a, ruchy_trace_instrument::val_type(*t))
                    .map_err(|e| e.to_string())?
                {
                    Value::I32(v) => JsValue::from_f64(f64::from(v)),
                    Value::I64(v) => js_sys::BigInt::from(v).into(),
                    Value::F32(v) => JsValue::from_f64(f64::from(v)),
                    Value::F64(v) => JsValue::from_f64(v),
                    Value::V128(_) | Value::Ref { .. } | Value::Unrecorded(_) => {
                        return Err(format!("cannot pass a {t} from the page"))
                    }
                },
            )
        })
        .collect()
}
