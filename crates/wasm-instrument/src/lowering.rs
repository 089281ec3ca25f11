//! Matching a function's source signature to its wasm signature: which wasm
//! parameters carry which source parameter, and where the result goes.
//!
//! Rust (and so Ruchy) lowers a value to wasm by its shape: a scalar is one
//! wasm value, a pair (`&str`, a two-field struct) two, anything bigger is
//! passed by address, and a result that is not one scalar is written
//! through an address passed first. A signature that does not add up to
//! the wasm one exactly is not guessed at: the function keeps wasm types.

use ruchy_trace_core::source::{
    enum_payload, leaf_count, Lowering, ResultLowering, SourceParam, SourceSignature, SourceType,
    TypeId, TypeKind,
};
use wasmparser::ValType;

fn leaves(types: &[SourceType], ty: TypeId, out: &mut Vec<ValType>) -> Option<()> {
    let t = types.get(ty as usize)?;
    match &t.kind {
        TypeKind::Int { bytes: 16, .. } => out.extend([ValType::I64, ValType::I64]),
        TypeKind::Int { bytes: 8, .. } => out.push(ValType::I64),
        TypeKind::Int { .. } | TypeKind::Bool | TypeKind::Char | TypeKind::Pointer { .. } => {
            out.push(ValType::I32)
        }
        TypeKind::Float { bytes: 4 } => out.push(ValType::F32),
        TypeKind::Float { .. } => out.push(ValType::F64),
        TypeKind::Unit => {}
        TypeKind::StrRef | TypeKind::Slice { .. } => out.extend([ValType::I32, ValType::I32]),
        TypeKind::Struct { fields } => {
            for &(_, _, f) in fields {
                leaves(types, f, out)?;
            }
        }
        TypeKind::Str { .. } | TypeKind::Vec { .. } => out.extend([ValType::I32; 3]),
        TypeKind::Enum { tag, variants } => {
            // Rust passes an enum without payload as its tag, and one whose
            // variants carry one scalar each as the pair (tag, payload).
            let (_, bytes) = (*tag)?;
            out.push(if bytes == 8 {
                ValType::I64
            } else {
                ValType::I32
            });
            if let Some(payload) = enum_payload(types, variants)? {
                leaves(types, payload, out)?;
            }
        }
        TypeKind::HashMap { .. } | TypeKind::BTreeMap { .. } | TypeKind::Opaque => return None,
    }
    Some(())
}

fn passed_by_address(types: &[SourceType], ty: TypeId) -> bool {
    types.get(ty as usize).is_some_and(|t| {
        matches!(
            t.kind,
            TypeKind::Struct { .. }
                | TypeKind::Str { .. }
                | TypeKind::Vec { .. }
                | TypeKind::Enum { .. }
                | TypeKind::HashMap { .. }
                | TypeKind::BTreeMap { .. }
                | TypeKind::Opaque
        )
    })
}

fn scalar_leaves(types: &[SourceType], ty: TypeId) -> Option<Vec<ValType>> {
    let mut out = Vec::new();
    leaves(types, ty, &mut out)?;
    Some(out)
}

/// The source signature of a function whose debug information gives
/// `params` and `result`, if it matches the wasm signature. A closure's
/// environment comes first (after a result address) as one `i32`, unless
/// it is passed as nothing at all; it is not a source parameter.
pub fn lower(
    types: &[SourceType],
    params: &[(String, TypeId)],
    result: Option<TypeId>,
    closure: bool,
    wasm_params: &[ValType],
    wasm_results: &[ValType],
) -> Option<SourceSignature> {
    if closure {
        if let Some(s) = lower_from(types, params, result, true, wasm_params, wasm_results) {
            return Some(s);
        }
    }
    lower_from(types, params, result, false, wasm_params, wasm_results)
}

fn lower_from(
    types: &[SourceType],
    params: &[(String, TypeId)],
    result: Option<TypeId>,
    env: bool,
    wasm_params: &[ValType],
    wasm_results: &[ValType],
) -> Option<SourceSignature> {
    let mut next = 0usize;
    let result = match result {
        None if wasm_results.is_empty() => None,
        None => return None,
        Some(ty) => {
            let l = scalar_leaves(types, ty);
            if !wasm_results.is_empty() && l.as_deref() == Some(wasm_results) {
                Some((ty, ResultLowering::Direct))
            } else if wasm_results.is_empty() && wasm_params.first() == Some(&ValType::I32) {
                next = 1;
                Some((ty, ResultLowering::Indirect { param: 0 }))
            } else {
                return None;
            }
        }
    };
    if env {
        if wasm_params.get(next) != Some(&ValType::I32) {
            return None;
        }
        next += 1;
    }
    let mut out = Vec::new();
    for (name, ty) in params {
        let l = scalar_leaves(types, *ty);
        let lowering = match l {
            Some(l) if l.len() <= 2 && wasm_params.get(next..next + l.len()) == Some(&l[..]) => {
                let lowering = Lowering::Scalars {
                    first: next as u32,
                    count: l.len() as u32,
                };
                next += l.len();
                lowering
            }
            // Only aggregates travel by address; a scalar that does not
            // match is a signature we do not understand.
            _ if wasm_params.get(next) == Some(&ValType::I32) && passed_by_address(types, *ty) => {
                next += 1;
                Lowering::Indirect {
                    param: next as u32 - 1,
                }
            }
            _ => return None,
        };
        debug_assert!(
            leaf_count(types, *ty).is_some() || matches!(lowering, Lowering::Indirect { .. })
        );
        out.push(SourceParam {
            name: name.clone(),
            ty: *ty,
            lowering,
        });
    }
    (next == wasm_params.len()).then_some(SourceSignature {
        params: out,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<SourceType> {
        vec![
            SourceType {
                name: "i64".into(),
                size: 8,
                kind: TypeKind::Int {
                    signed: true,
                    bytes: 8,
                },
            },
            SourceType {
                name: "Point".into(),
                size: 16,
                kind: TypeKind::Struct {
                    fields: vec![("x".into(), 0, 0), ("y".into(), 8, 0)],
                },
            },
            SourceType {
                name: "String".into(),
                size: 12,
                kind: TypeKind::Str { ptr: 4, len: 8 },
            },
        ]
    }

    #[test]
    fn rust_lowerings() {
        let t = types();
        use ValType::*;
        // manhattan(p: Point) -> i64 is (i64, i64) -> i64.
        let s = lower(&t, &[("p".into(), 1)], Some(0), false, &[I64, I64], &[I64]).unwrap();
        assert_eq!(
            s.params[0].lowering,
            Lowering::Scalars { first: 0, count: 2 }
        );
        assert_eq!(s.result, Some((0, ResultLowering::Direct)));
        // shift(p: Point, dx: i64) -> Point is (i32 sret, i64, i64, i64).
        let s = lower(
            &t,
            &[("p".into(), 1), ("dx".into(), 0)],
            Some(1),
            false,
            &[I32, I64, I64, I64],
            &[],
        )
        .unwrap();
        assert_eq!(s.result, Some((1, ResultLowering::Indirect { param: 0 })));
        assert_eq!(
            s.params[1].lowering,
            Lowering::Scalars { first: 3, count: 1 }
        );
        // greet(name: String) -> String is (i32 sret, i32 name).
        let s = lower(&t, &[("name".into(), 2)], Some(2), false, &[I32, I32], &[]).unwrap();
        assert_eq!(s.params[0].lowering, Lowering::Indirect { param: 1 });
        // Anything that does not add up is refused.
        assert!(lower(&t, &[("n".into(), 0)], Some(0), false, &[I32], &[I64]).is_none());
        assert!(lower(&t, &[("n".into(), 0)], None, false, &[I64, I64], &[]).is_none());
        // A closure `|x: i64| -> i64` takes its environment first; without
        // captures Rust may pass none.
        let s = lower(&t, &[("x".into(), 0)], Some(0), true, &[I32, I64], &[I64]).unwrap();
        assert_eq!(s.params.len(), 1);
        assert_eq!(
            s.params[0].lowering,
            Lowering::Scalars { first: 1, count: 1 }
        );
        let s = lower(&t, &[("x".into(), 0)], Some(0), true, &[I64], &[I64]).unwrap();
        assert_eq!(
            s.params[0].lowering,
            Lowering::Scalars { first: 0, count: 1 }
        );
    }
}
