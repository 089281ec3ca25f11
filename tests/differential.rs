//! Running a module as it is and instrumented side by side, shared by the
//! spec-suite and wasm-smith differential tests.
//!
//! Each instrumented instance gets its own `ruchy_trace` imports (a
//! `recorder::Recorder` holds one function table per store, and these tests
//! link several instrumented modules into one store); its records are
//! decoded with its own table by the decoder every host uses.
#![allow(dead_code)]

use ruchy_trace::ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace::ruchy_trace_core::record::{self, RecordKind, Records};
use ruchy_trace::ruchy_trace_core::ring::Recorded;
use ruchy_trace::ruchy_trace_core::{EventKind, FunctionTable, RecordLayout, ValType};
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::{Engine, Extern, Instance, Linker, Module, Store, Val};

/// Store data of the instrumented side: each traced instance's records.
#[derive(Default)]
pub struct Data {
    pub records: Vec<Vec<u8>>,
}

/// A value as both sides can compare it.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    Null,
    Func,
    Extern(Option<u32>),
    Other,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Values(Vec<V>),
    /// A trap, by its wasmtime code, or another error's message.
    Trap(String),
}

pub fn val(store: &mut Store<Data>, v: &Val) -> V {
    match v {
        Val::I32(x) => V::I32(*x),
        Val::I64(x) => V::I64(*x),
        Val::F32(x) => V::F32(*x),
        Val::F64(x) => V::F64(*x),
        Val::V128(x) => V::V128(x.as_u128()),
        Val::FuncRef(None)
        | Val::ExternRef(None)
        | Val::AnyRef(None)
        | Val::ExnRef(None)
        | Val::ContRef(None) => V::Null,
        Val::FuncRef(Some(_)) => V::Func,
        Val::ExternRef(Some(r)) => V::Extern(
            r.data(&*store)
                .ok()
                .flatten()
                .and_then(|d| d.downcast_ref::<u32>().copied()),
        ),
        _ => V::Other,
    }
}

pub fn trap_of(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => format!("{t:?}"),
        None => format!("{e:#}"),
    }
}

pub struct Traced {
    pub instance: Instance,
    pub table: FunctionTable,
    pub slot: usize,
}

/// One side: a store with its linker and instances.
pub struct Side {
    pub store: Store<Data>,
    pub linker: Linker<Data>,
    pub named: HashMap<String, Instance>,
    pub last: Option<Instance>,
    pub traced: Vec<Traced>,
}

impl Side {
    pub fn new(engine: &Engine, spectest: Option<&Module>) -> Side {
        let mut store = Store::new(engine, Data::default());
        let mut linker = Linker::new(engine);
        linker.allow_shadowing(true);
        if let Some(spectest) = spectest {
            let inst = Instance::new(&mut store, spectest, &[]).unwrap();
            linker.instance(&mut store, "spectest", inst).unwrap();
        }
        Side {
            store,
            linker,
            named: HashMap::new(),
            last: None,
            traced: Vec::new(),
        }
    }

    pub fn instance(&self, id: Option<&str>) -> Option<Instance> {
        match id {
            Some(name) => self.named.get(name).copied(),
            None => self.last,
        }
    }

    /// Instantiates a module; for an instrumented one, links its hooks to a
    /// fresh record slot first.
    pub fn instantiate(
        &mut self,
        module: &Module,
        table: Option<&FunctionTable>,
    ) -> Result<Instance, String> {
        let mut linker = self.linker.clone();
        let slot = self.store.data().records.len();
        if let Some(table) = table {
            self.store.data_mut().records.push(Vec::new());
            link_hooks(&mut linker, module, table, slot).map_err(|e| format!("{e:#}"))?;
        }
        let instance = linker
            .instantiate(&mut self.store, module)
            .map_err(|e| trap_of(&e))?;
        if let Some(table) = table {
            if let Some(g) = instance.get_global(&mut self.store, record::ENABLED_EXPORT) {
                g.set(&mut self.store, Val::I32(1)).unwrap();
            }
            self.traced.push(Traced {
                instance,
                table: table.clone(),
                slot,
            });
        }
        Ok(instance)
    }

    /// Calls an export of an instance (the last one when `module` is
    /// `None`) with the arguments `args` makes in this side's store.
    pub fn call(
        &mut self,
        module: Option<&str>,
        name: &str,
        args: impl FnOnce(&mut Store<Data>) -> Result<Vec<Val>, String>,
    ) -> Result<Outcome, String> {
        let instance = self.instance(module).ok_or("no such instance")?;
        let func = instance
            .get_func(&mut self.store, name)
            .ok_or_else(|| format!("no export {name}"))?;
        let args = args(&mut self.store)?;
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0)))
            .collect();
        Ok(match func.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Values(results.iter().map(|r| val(&mut self.store, r)).collect()),
            Err(e) => Outcome::Trap(trap_of(&e)),
        })
    }

    pub fn get(&mut self, module: Option<&str>, global: &str) -> Result<Outcome, String> {
        let instance = self.instance(module).ok_or("no such instance")?;
        let g = instance
            .get_global(&mut self.store, global)
            .ok_or_else(|| format!("no global {global}"))?;
        let v = g.get(&mut self.store);
        Ok(Outcome::Values(vec![val(&mut self.store, &v)]))
    }

    /// Takes every traced instance's staged records and checks they balance;
    /// returns the number of frames closed as trapped.
    pub fn check_balance(&mut self, trapped: bool) -> Result<(u64, u64), String> {
        let mut closed_total = 0;
        let mut events_total = 0;
        for t in &self.traced {
            let memory = t
                .instance
                .get_memory(&mut self.store, record::MEMORY_EXPORT);
            let ptr = t.instance.get_global(&mut self.store, record::PTR_EXPORT);
            if let (Some(memory), Some(ptr)) = (memory, ptr) {
                let end = ptr.get(&mut self.store).i32().unwrap() as usize;
                let staged = memory.data(&self.store)[record::STAGING_BASE as usize..end].to_vec();
                self.store.data_mut().records[t.slot].extend_from_slice(&staged);
                ptr.set(&mut self.store, Val::I32(record::STAGING_BASE as i32))
                    .unwrap();
            }
            let bytes = std::mem::take(&mut self.store.data_mut().records[t.slot]);
            if bytes.is_empty() {
                continue;
            }
            let layout = RecordLayout::new(&t.table);
            let kept = Records::new(&layout, &bytes, 0).count() as u64;
            let end = if trapped {
                RunEnd::Trapped("trap".into())
            } else {
                RunEnd::Returned
            };
            let trace = Trace::new(
                t.table.clone(),
                Recorded::from_bytes(bytes, kept),
                end,
                0,
                None,
            );
            let mut depth = 0i64;
            for e in trace.events() {
                let e = e.map_err(|e| format!("records do not decode: {e}"))?;
                events_total += 1;
                match e.kind {
                    EventKind::Enter => depth += 1,
                    EventKind::Exit | EventKind::TailExit => depth -= 1,
                    EventKind::Closed(_) => {
                        if !trapped {
                            return Err(format!(
                                "`{}` entered but never left though the call returned",
                                e.function.name
                            ));
                        }
                        closed_total += 1;
                        depth -= 1;
                    }
                }
                if depth < 0 {
                    return Err(format!("exit of `{}` without an entry", e.function.name));
                }
            }
            if depth != 0 {
                return Err(format!("{depth} frame(s) neither left nor closed"));
            }
        }
        Ok((events_total, closed_total))
    }
}

/// Defines the `ruchy_trace` imports of one instance: `flush` and the hooks
/// append that instance's records to its slot.
pub fn link_hooks(
    linker: &mut Linker<Data>,
    module: &Module,
    table: &FunctionTable,
    slot: usize,
) -> wasmtime::Result<()> {
    let table = Arc::new(table.clone());
    for import in module.imports() {
        if import.module() != record::HOOK_MODULE {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else {
            anyhow_err(format!("non-function import {}", import.name()))?;
            continue;
        };
        if import.name() == record::FLUSH_IMPORT {
            linker.func_wrap(
                record::HOOK_MODULE,
                record::FLUSH_IMPORT,
                move |mut caller: wasmtime::Caller<'_, Data>, end: i32| {
                    if let Some(Extern::Memory(m)) = caller.get_export(record::MEMORY_EXPORT) {
                        let staged =
                            m.data(&caller)[record::STAGING_BASE as usize..end as usize].to_vec();
                        caller.data_mut().records[slot].extend_from_slice(&staged);
                    }
                    record::STAGING_BASE as i32
                },
            )?;
        } else {
            let table = table.clone();
            linker.func_new(
                record::HOOK_MODULE,
                import.name(),
                ty,
                move |mut caller, params, _| {
                    let header = params[0].unwrap_i32() as u32;
                    let kind = match header & 3 {
                        0 => RecordKind::Enter,
                        1 => RecordKind::Exit,
                        _ => RecordKind::TailExit,
                    };
                    let f = &table.functions[(header >> 2) as usize];
                    let types: &[ValType] = match kind {
                        RecordKind::Enter => &f.params,
                        RecordKind::Exit => &f.results,
                        RecordKind::TailExit => &[],
                    };
                    let values =
                        ruchy_trace::recorder::hook_values(types, &mut params[1..].iter());
                    let ts = table.options.timestamps.then_some(0);
                    record::write_record(
                        &mut caller.data_mut().records[slot],
                        header >> 2,
                        kind,
                        ts,
                        None,
                        &values,
                        None,
                    );
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

pub fn anyhow_err(msg: String) -> wasmtime::Result<()> {
    Err(wasmtime::Error::msg(msg))
}
