//! Running a module on two sides, shared by the spec-suite and wasm-smith
//! differential tests: the reference side runs it with caller-side logging
//! (`reference.rs`), the traced side instrumented by ruchy-trace.
//!
//! Each instrumented instance records through `crates/host`'s own
//! recorder (`recorder::link_to`, a `Recorder` and ring of its own, since
//! these tests link several instrumented modules into one store), and its
//! records are decoded with its own table by the decoder every host uses.
#![allow(dead_code)]

use crate::reference::{self, Callee, Compared, Expected, LogEntry, Shape, World};
use ruchy_trace::recorder::{self, Recorder};
use ruchy_trace::ruchy_trace_core::decode::{RunEnd, Trace};
use ruchy_trace::ruchy_trace_core::record;
use ruchy_trace::ruchy_trace_core::{EventKind, FunctionTable, OverflowPolicy, RecordLayout, Ring};
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::{Engine, Instance, Linker, Module, Store, Val};

/// Store data: the traced side's recorders (one per instrumented
/// instance), the reference side's log.
#[derive(Default)]
pub struct Data {
    pub recorders: Vec<Recorder>,
    pub log: Vec<LogEntry>,
    /// Whether this is the reference side, whose host calls are logged.
    pub logs: bool,
    /// Host imports called so far (their results derive from it).
    pub host_calls: u64,
    /// Calls from host imports back into exports, nested.
    pub callback_depth: u32,
    /// The host function calls guests made, as the host functions saw
    /// them, each with the module of the calling frame (on the traced
    /// side; see [`host_call`]).
    pub host_seen: Vec<(Module, reference::HostCall)>,
    /// The next host function call is one a host function makes of an
    /// exported import: it does not come from the guest.
    pub direct: bool,
}

impl Data {
    /// Logs a call the host makes (on the reference side).
    pub fn log_host_call(&mut self, raw: usize, args: &[Val]) {
        if self.logs {
            self.log.push(LogEntry::Call {
                instance: None,
                tail: false,
                callee: Callee::Ref(raw),
                args: args.iter().map(reference::logged).collect(),
            });
        }
    }

    /// Logs the results of the host's call (on the reference side).
    pub fn log_host_return(&mut self, results: &[Val]) {
        if self.logs {
            self.log.push(LogEntry::Return {
                results: results.iter().map(reference::logged).collect(),
            });
        }
    }
}

/// A recorder that keeps every record.
fn recorder_for(table: &FunctionTable) -> Recorder {
    let ring = Ring::new(
        RecordLayout::new(table),
        u64::MAX,
        OverflowPolicy::KeepOldest,
    );
    Recorder::new(Arc::new(table.clone()), ring, std::time::Instant::now())
}

/// How a module joins a side.
pub enum Role<'a> {
    /// As it is.
    Plain,
    /// Rewritten with caller-side logging, of the original `Shape`.
    Reference(&'a Shape),
    /// Instrumented by ruchy-trace with this table; `ordinal` is the
    /// number the reference side gave the same module's instance.
    Traced(&'a FunctionTable, usize),
}

/// What one check of the traced side saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    pub events: u64,
    pub closed: u64,
    pub compared: Compared,
    /// Import calls compared with what the host functions saw.
    pub imports: Compared,
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

/// A call of host function `name`, made with `params`, that `answer` fills
/// `results` for. On the traced side a call from a guest is kept in
/// [`Data::host_seen`] with what the host received and returned, for
/// [`reference::compare_imports`]. A call from a guest has a wasm frame
/// below it (the import's wrapper), whose module tells which instance made
/// it. The engine calling an imported start function, or the test calling
/// an exported import, leaves none; a host function calling an exported
/// import back leaves the frames of the call it is nested in (which the
/// engine may count twice), so that call is marked by the caller instead
/// ([`Data::direct`]).
pub fn host_call(
    mut caller: wasmtime::Caller<'_, Data>,
    name: &str,
    params: &[Val],
    results: &mut [Val],
    answer: impl FnOnce(&mut wasmtime::Caller<'_, Data>, &mut [Val]) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    let calling = wasmtime::WasmBacktrace::capture(&caller)
        .frames()
        .first()
        .map(|f| f.module().clone());
    let d = caller.data_mut();
    let direct = std::mem::take(&mut d.direct);
    let slot = match calling {
        Some(module) if !d.logs && !direct => {
            d.host_seen.push((
                module,
                reference::HostCall {
                    name: name.to_string(),
                    args: params.iter().map(reference::logged).collect(),
                    results: None,
                },
            ));
            Some(d.host_seen.len() - 1)
        }
        _ => None,
    };
    let r = answer(&mut caller, results);
    if let (Some(k), Ok(())) = (slot, &r) {
        caller.data_mut().host_seen[k].1.results =
            Some(results.iter().map(reference::logged).collect());
    }
    r
}

/// A trap by its code, another error by its root cause (the context
/// wasmtime adds names code offsets, which instrumenting moves).
pub fn trap_of(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => format!("{t:?}"),
        None => e.root_cause().to_string(),
    }
}

pub struct Traced {
    pub instance: Instance,
    pub module: Module,
    /// The function imports host functions serve, by module and field.
    pub host_imports: std::collections::HashSet<(String, String)>,
    pub table: FunctionTable,
    pub slot: usize,
    pub ordinal: usize,
}

/// One side: a store with its linker and instances.
pub struct Side {
    pub store: Store<Data>,
    pub linker: Linker<Data>,
    pub named: HashMap<String, Instance>,
    pub last: Option<Instance>,
    pub traced: Vec<Traced>,
    /// The reference side's knowledge of its instances.
    pub world: World,
    /// The original module's imports, in order, when they are given by
    /// position rather than by name (wasm-smith repeats names across
    /// kinds, which a linker cannot tell apart).
    pub positional: Option<Vec<wasmtime::Extern>>,
}

impl Side {
    pub fn new(engine: &Engine, spectest: Option<&Module>) -> Side {
        let mut store = Store::new(engine, Data::default());
        let mut linker = Linker::new(engine);
        linker.allow_shadowing(true);
        let mut world = World::default();
        if let Some(spectest) = spectest {
            // Its globals, table and memory come from the module; its
            // functions are host functions, whose calls are compared with
            // what the traced side records of them.
            let inst = Instance::new(&mut store, spectest, &[]).unwrap();
            linker.instance(&mut store, "spectest", inst).unwrap();
            let funcs: Vec<(String, wasmtime::Func)> = inst
                .exports(&mut store)
                .filter_map(|e| {
                    let name = e.name().to_string();
                    Some((name, e.into_func()?))
                })
                .collect();
            for (name, wasm) in funcs {
                let ty = wasm.ty(&store);
                let label = format!("spectest::{name}");
                let f = wasmtime::Func::new(&mut store, ty, move |caller, params, results| {
                    host_call(caller, &label, params, results, |_, _| Ok(()))
                });
                world.learn_host(f.to_raw(&mut store) as usize);
                linker.define(&store, "spectest", &name, f).unwrap();
            }
        }
        Side {
            store,
            linker,
            named: HashMap::new(),
            last: None,
            traced: Vec::new(),
            world,
            positional: None,
        }
    }

    pub fn instance(&self, id: Option<&str>) -> Option<Instance> {
        match id {
            Some(name) => self.named.get(name).copied(),
            None => self.last,
        }
    }

    /// Instantiates a module in its role; returns the instance and, on
    /// the reference side, the number it gave it.
    pub fn instantiate(
        &mut self,
        module: &Module,
        role: Role<'_>,
    ) -> (Result<Instance, String>, usize) {
        let mut linker = self.linker.clone();
        let mut ordinal = 0;
        let mut host_imports = std::collections::HashSet::new();
        match role {
            Role::Plain => {}
            Role::Reference(shape) => {
                ordinal = self.world.begin_instance(&mut self.store, &linker, shape);
                if let Err(e) = reference::link(&mut linker, ordinal, |d: &mut Data| &mut d.log) {
                    return (Err(format!("{e:#}")), ordinal);
                }
                if let Some(start) = shape.start {
                    // The engine calls the start function: the host's call.
                    self.store.data_mut().log.push(LogEntry::Call {
                        instance: Some(ordinal),
                        tail: false,
                        callee: Callee::Index(start),
                        args: Vec::new(),
                    });
                }
            }
            Role::Traced(table, o) => {
                ordinal = o;
                host_imports = self.host_imports(&linker, module);
                let slot = self.store.data().recorders.len();
                self.store.data_mut().recorders.push(recorder_for(table));
                if let Err(e) = recorder::link_to(&mut linker, module, move |d: &mut Data| {
                    &mut d.recorders[slot]
                }) {
                    return (Err(format!("{e:#}")), ordinal);
                }
            }
        }
        let instance = match self.instantiate_with(&linker, module) {
            Ok(i) => i,
            Err(e) => return (Err(trap_of(&e)), ordinal),
        };
        match role {
            Role::Plain => {}
            Role::Reference(shape) => {
                if shape.start.is_some() {
                    self.store.data_mut().log.push(LogEntry::Return {
                        results: Vec::new(),
                    });
                }
                self.world
                    .learn_functions(&mut self.store, &instance, ordinal, shape);
            }
            Role::Traced(table, _) => {
                if let Some(g) = instance.get_global(&mut self.store, record::ENABLED_EXPORT) {
                    g.set(&mut self.store, Val::I32(1)).unwrap();
                }
                self.traced.push(Traced {
                    instance,
                    module: module.clone(),
                    host_imports,
                    table: table.clone(),
                    slot: self.store.data().recorders.len() - 1,
                    ordinal,
                });
            }
        }
        (Ok(instance), ordinal)
    }

    /// The function imports of `module` that host functions serve (known
    /// to [`World::learn_host`]), given by position or by `linker`.
    fn host_imports(
        &mut self,
        linker: &Linker<Data>,
        module: &Module,
    ) -> std::collections::HashSet<(String, String)> {
        let mut given = self.positional.clone().unwrap_or_default().into_iter();
        let mut out = std::collections::HashSet::new();
        for import in module.imports() {
            let resolved = if self.positional.is_some() {
                given.next()
            } else {
                linker.get_by_import(&mut self.store, &import)
            };
            if let Some(wasmtime::Extern::Func(f)) = resolved {
                if self.world.is_host(f.to_raw(&mut self.store) as usize) {
                    out.insert((import.module().to_string(), import.name().to_string()));
                }
            }
        }
        out
    }

    /// Instantiates `module` with `linker`, or, when the original's
    /// imports are given by position, with those in the order the module
    /// imports them (the rewrites keep their order and add imports of
    /// their own modules only, which the linker gives).
    fn instantiate_with(
        &mut self,
        linker: &Linker<Data>,
        module: &Module,
    ) -> wasmtime::Result<Instance> {
        let Some(given) = self.positional.clone() else {
            return linker.instantiate(&mut self.store, module);
        };
        let mut given = given.into_iter();
        let mut externs = Vec::new();
        for import in module.imports() {
            let ours = [record::HOOK_MODULE, reference::MODULE].contains(&import.module());
            externs.push(if ours {
                linker
                    .get_by_import(&mut self.store, &import)
                    .ok_or_else(|| {
                        wasmtime::Error::msg(format!("unknown import {}", import.name()))
                    })?
            } else {
                given
                    .next()
                    .ok_or_else(|| wasmtime::Error::msg("more imports than given"))?
            });
        }
        Instance::new(&mut self.store, module, &externs)
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
        // The host's own call, with the engine's arguments and results, as
        // the reference log's outermost entries.
        let raw = func.to_raw(&mut self.store) as usize;
        self.store.data_mut().log_host_call(raw, &args);
        Ok(match func.call(&mut self.store, &args, &mut results) {
            Ok(()) => {
                self.store.data_mut().log_host_return(&results);
                Outcome::Values(results.iter().map(|r| val(&mut self.store, r)).collect())
            }
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

    /// The callee-side events the reference side's log implies since the
    /// last call, per instance; empties the log.
    pub fn take_expected(
        &mut self,
        trapped: bool,
    ) -> Result<HashMap<usize, Vec<Expected>>, String> {
        let log = std::mem::take(&mut self.store.data_mut().log);
        reference::expected(&log, &self.world, trapped)
    }

    /// Drops what the reference side logged (a run not compared).
    pub fn forget_log(&mut self) {
        self.store.data_mut().log.clear();
    }

    /// Takes every traced instance's records through the host's recorder,
    /// checks they balance and, given `expected`, that they equal it event
    /// for event and value for value.
    /// `exhausted`: the run ran out of stack (see `reference::compare`).
    pub fn check(
        &mut self,
        trapped: bool,
        expected: Option<&HashMap<usize, Vec<Expected>>>,
        exhausted: bool,
    ) -> Result<Checked, String> {
        let mut seen = Checked::default();
        let host = std::mem::take(&mut self.store.data_mut().host_seen);
        if let Some((_, c)) = host
            .iter()
            .find(|(m, _)| !self.traced.iter().any(|t| Module::same(m, &t.module)))
        {
            return Err(format!("host function call from no traced instance: {c:?}"));
        }
        for t in &self.traced {
            let slot = t.slot;
            recorder::final_flush_to(&mut self.store, &t.instance, move |d: &mut Data| {
                &mut d.recorders[slot]
            });
            let done = std::mem::replace(
                &mut self.store.data_mut().recorders[slot],
                recorder_for(&t.table),
            );
            let end = if trapped {
                RunEnd::Trapped("trap".into())
            } else {
                RunEnd::Returned
            };
            let recorded = done
                .finish(&end, 0)
                .map_err(|e| format!("records do not decode: {e}"))?;
            // The ring trusts the count each flush's staging cursor gives:
            // it must be the number of records the guest wrote.
            let counted = recorded.kept;
            let mut records = 0;
            let trace = Trace::new(t.table.clone(), recorded, end, 0, None);
            let mut events = Vec::new();
            let mut depth = 0i64;
            for e in trace.events() {
                let e = e.map_err(|e| format!("records do not decode: {e}"))?;
                seen.events += 1;
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
                        seen.closed += 1;
                        depth -= 1;
                    }
                }
                if depth < 0 {
                    return Err(format!("exit of `{}` without an entry", e.function.name));
                }
                if !matches!(e.kind, EventKind::Closed(_)) {
                    records += 1;
                }
                events.push(e);
            }
            if records != counted {
                return Err(format!("{records} records decoded, {counted} counted"));
            }
            if depth != 0 {
                return Err(format!("{depth} frame(s) neither left nor closed"));
            }
            let calls: Vec<reference::HostCall> = host
                .iter()
                .filter(|(m, _)| Module::same(m, &t.module))
                .map(|(_, c)| c.clone())
                .collect();
            seen.imports += reference::compare_imports(&events, &calls, |i| {
                t.host_imports
                    .contains(&(i.module.clone(), i.field.clone()))
            })
            .map_err(|e| format!("instance {}: {e}", t.ordinal))?;
            if let Some(expected) = expected {
                let want = expected.get(&t.ordinal).map_or(&[][..], Vec::as_slice);
                seen.compared += reference::compare(&events, want, exhausted)
                    .map_err(|e| format!("instance {}: {e}", t.ordinal))?;
            }
        }
        Ok(seen)
    }
}
