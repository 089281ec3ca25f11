//! wasm-smith differential: for a fixed range of seeds, generate a module,
//! instrument every function, and require that the output validates, that
//! every exported function called with arguments drawn from the seed gives
//! the same results or the same trap as the caller-side reference
//! (`reference.rs`), that the exported globals, memories and tables end up
//! the same, and that the trace recorded through the host's recorder
//! equals, call for call and value for value, what the callers logged.
//!
//! Modules are made to terminate (wasm-smith's fuel global) and import
//! functions, globals, tables and memories, which the test provides: a
//! function import returns values drawn from the seed and the call count,
//! now and then calls an export of its caller back, and now and then fails
//! (a host error unwinding through instrumented frames, which the trace
//! must close while the engine's result stays the same). Calls out of the
//! guest are traced too (`Config::imports`), and every recorded import
//! call must carry exactly the arguments its host function received and
//! the results it returned, in the order the host saw them.
//!
//! Features are those wasmtime runs by default minus exception handling and
//! stack switching (refused by the instrumenter), threads and relaxed SIMD
//! (not deterministic). GC is off in the main run (its modules take about
//! 30 times longer to run) and on in a run of its own over fewer seeds.

mod differential;
mod reference;

use arbitrary::Unstructured;
use differential::{Data, Outcome, Role, Side, V};
use ruchy_trace::ruchy_trace_core::Strategy;
use ruchy_trace::ruchy_trace_instrument::{self, Config, Scope};
use std::sync::Mutex;
use wasmtime::{Caller, Engine, Extern, ExternType, Module, Ref, Val, ValType};

/// Seeds of the main run; sized to keep it near a minute on 2 cores.
const SEEDS: std::ops::Range<u64> = 0..1500;
/// Seeds of the GC run.
const GC_SEEDS: std::ops::Range<u64> = 0..200;

fn smith_config(gc: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 6,
        min_funcs: 1,
        max_funcs: 12,
        min_exports: 1,
        export_everything: true,
        max_instructions: 200,
        max_memories: 2,
        max_tables: 2,
        exceptions_enabled: false,
        gc_enabled: gc,
        custom_descriptors_enabled: false,
        custom_page_sizes_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        relaxed_simd_enabled: false,
        wide_arithmetic_enabled: false,
        allow_start_export: true,
        // Memories stay small enough to compare byte for byte.
        max_memory32_bytes: 64 << 20,
        max_memory64_bytes: 64 << 20,
        ..wasm_smith::Config::default()
    }
}

/// xorshift64* over a seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Deterministic bytes for a seed.
fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| (rng.next() >> 56) as u8).collect()
}

/// A value of type `ty` drawn from `rng`: scalars are random bits (NaNs
/// with payloads included) and never all zero; references are null.
fn value(ty: &ValType, rng: &mut Rng) -> Option<Val> {
    let nonzero = |rng: &mut Rng| rng.next() | 1;
    Some(match ty {
        ValType::I32 => Val::I32(nonzero(rng) as i32),
        ValType::I64 => Val::I64(nonzero(rng) as i64),
        ValType::F32 => Val::F32(nonzero(rng) as u32),
        ValType::F64 => Val::F64(nonzero(rng)),
        ValType::V128 => {
            Val::V128((u128::from(rng.next()) << 64 | u128::from(nonzero(rng))).into())
        }
        ValType::Ref(r) => Val::default_for_ty(&ValType::Ref(r.clone()))?,
    })
}

#[derive(Default, Debug)]
struct Tally {
    modules: usize,
    calls: usize,
    traps: usize,
    instantiation_traps: Vec<String>,
    host_failures: usize,
    exhausted: usize,
    tables: usize,
    refused: Vec<String>,
    not_linked: Vec<String>,
    events: u64,
    compared: reference::Compared,
    imports: reference::Compared,
    failures: Vec<String>,
}

/// The module a seed makes, if wasm-smith makes one.
fn module_for(seed: u64, gc: bool) -> Result<Option<Vec<u8>>, String> {
    let bytes = seed_bytes(seed, 16 << 10);
    let mut u = Unstructured::new(&bytes);
    let Ok(mut module) = wasm_smith::Module::new(smith_config(gc), &mut u) else {
        return Ok(None);
    };
    module
        .ensure_termination(10_000)
        .map_err(|e| format!("ensure_termination: {e}"))?;
    Ok(Some(module.to_bytes()))
}

/// Writes the module of seed `$SMITH_SEED` (GC on when `$SMITH_GC` is set)
/// to `$SMITH_OUT` (default `smith-<seed>.wasm` in the temp dir), to
/// reproduce a failure with the CLI.
#[test]
#[ignore]
fn dump_seed() {
    let seed: u64 = std::env::var("SMITH_SEED")
        .expect("SMITH_SEED")
        .parse()
        .unwrap();
    let out = std::env::var("SMITH_OUT").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("smith-{seed}.wasm"))
            .display()
            .to_string()
    });
    let gc = std::env::var_os("SMITH_GC").is_some();
    std::fs::write(&out, module_for(seed, gc).unwrap().expect("a module")).unwrap();
    println!("wrote {out}");
}

/// Checks the traced side against the reference side's log.
fn check_both(
    orig: &mut Side,
    inst: &mut Side,
    trapped: bool,
    t: &mut Tally,
) -> Result<(), String> {
    let expected = orig.take_expected(trapped)?;
    let c = inst.check(trapped, Some(&expected), false)?;
    t.events += c.events;
    t.compared += c.compared;
    t.imports += c.imports;
    Ok(())
}

/// What a host import does on its `n`th call: fail, call back, or just
/// return.
fn host_choice(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0x1000_0000_01b3)).next() % 12
}

/// The message of a failing host import.
const HOST_FAILURE: &str = "host import failed on purpose";

/// What every host function import of one module shares.
struct Hosting {
    seed: u64,
    /// The module's function exports, which a host function may call back.
    exports: Vec<String>,
    /// Those of them that are the module's own function imports.
    reexported: std::collections::HashSet<String>,
}

/// What a host function import does: returns values drawn from the seed
/// and its call count; one call in twelve fails, one in four (not nested
/// deeper than two) first calls an export of its caller with drawn
/// arguments.
fn host_answer(
    caller: &mut Caller<'_, Data>,
    results: &mut [Val],
    result_types: &[ValType],
    hosting: &Hosting,
) -> wasmtime::Result<()> {
    let Hosting { seed, exports, .. } = hosting;
    let seed = *seed;
    let n = {
        let d = caller.data_mut();
        d.host_calls += 1;
        d.host_calls
    };
    let choice = host_choice(seed, n);
    if choice == 0 {
        return Err(wasmtime::Error::msg(HOST_FAILURE));
    }
    let mut rng = Rng::new(seed.wrapping_add(n));
    if choice % 4 == 1 && caller.data().callback_depth < 2 && !exports.is_empty() {
        let name = &exports[(rng.next() % exports.len() as u64) as usize];
        if let Some(Extern::Func(f)) = caller.get_export(name) {
            let ty = f.ty(&*caller);
            let args: Option<Vec<Val>> = ty.params().map(|p| value(&p, &mut rng)).collect();
            let out: Option<Vec<Val>> = ty.results().map(|r| Val::default_for_ty(&r)).collect();
            if let (Some(args), Some(mut out)) = (args, out) {
                let raw = f.to_raw(&mut *caller) as usize;
                caller.data_mut().log_host_call(raw, &args);
                caller.data_mut().callback_depth += 1;
                caller.data_mut().direct = hosting.reexported.contains(name);
                let r = f.call(&mut *caller, &args, &mut out);
                caller.data_mut().direct = false;
                caller.data_mut().callback_depth -= 1;
                r?;
                caller.data_mut().log_host_return(&out);
            }
        }
    }
    for (r, ty) in results.iter_mut().zip(result_types) {
        *r =
            value(ty, &mut rng).ok_or_else(|| wasmtime::Error::msg("no value of a result type"))?;
    }
    Ok(())
}

/// Makes every import of `module`, in order, the same way on both sides;
/// `Err` names an import the test cannot provide.
fn provide_imports(
    side: &mut Side,
    module: &Module,
    wasm: &[u8],
    seed: u64,
) -> Result<Vec<Extern>, String> {
    let hosting = std::sync::Arc::new(Hosting {
        seed,
        exports: module
            .exports()
            .filter(|e| e.ty().func().is_some())
            .map(|e| e.name().to_string())
            .collect(),
        reexported: reexported_imports(wasm)?,
    });
    let mut rng = Rng::new(seed ^ 0xfeed);
    let mut out = Vec::new();
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let what = |e: wasmtime::Error| format!("import {m}::{n}: {e:#}");
        out.push(match import.ty() {
            ExternType::Func(ft) => {
                let hosting = hosting.clone();
                let result_types: Vec<ValType> = ft.results().collect();
                let name = format!("{m}::{n}");
                let f = wasmtime::Func::new(&mut side.store, ft, move |caller, params, results| {
                    differential::host_call(caller, &name, params, results, |caller, results| {
                        host_answer(caller, results, &result_types, &hosting)
                    })
                });
                let raw = f.to_raw(&mut side.store) as usize;
                side.world.learn_host(raw);
                f.into()
            }
            ExternType::Global(gt) => {
                let v = value(gt.content(), &mut rng)
                    .ok_or_else(|| format!("import {m}::{n}: no value of its type"))?;
                wasmtime::Global::new(&mut side.store, gt, v)
                    .map_err(what)?
                    .into()
            }
            ExternType::Table(tt) => {
                let init = Val::default_for_ty(&ValType::Ref(tt.element().clone()))
                    .and_then(Val::ref_)
                    .ok_or_else(|| format!("import {m}::{n}: no default element"))?;
                wasmtime::Table::new(&mut side.store, tt, init)
                    .map_err(what)?
                    .into()
            }
            ExternType::Memory(mt) => wasmtime::Memory::new(&mut side.store, mt)
                .map_err(what)?
                .into(),
            other => return Err(format!("import {m}::{n}: {other:?}")),
        });
    }
    Ok(out)
}

/// The names under which `wasm` exports one of its function imports.
fn reexported_imports(wasm: &[u8]) -> Result<std::collections::HashSet<String>, String> {
    let mut imported = 0u32;
    let mut names = std::collections::HashSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) =
                        import.map_err(|e| e.to_string())?.ty
                    {
                        imported += 1;
                    }
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    if export.kind == wasmparser::ExternalKind::Func && export.index < imported {
                        names.insert(export.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

fn check_seed(engine: &Engine, seed: u64, gc: bool, t: &mut Tally) -> Result<(), String> {
    match module_for(seed, gc)? {
        Some(wasm) => check_module(engine, &wasm, seed, t),
        None => Ok(()),
    }
}

/// Instruments `wasm` (on the hook path for an odd `seed`), runs it and
/// its caller-side reference with the imports `seed` makes, calls every
/// export with arguments drawn from `seed`, and checks both sides agree
/// and the trace equals the reference's log and what the host functions
/// saw.
fn check_module(engine: &Engine, wasm: &[u8], seed: u64, t: &mut Tally) -> Result<(), String> {
    let Ok(original) = Module::new(engine, wasm) else {
        return Ok(());
    };
    t.modules += 1;
    let mut config = Config {
        scope: Scope::All,
        imports: true,
        ..Config::default()
    };
    if seed % 2 == 1 {
        config.options.strategy = Strategy::Hooks;
    }
    let out = match ruchy_trace_instrument::instrument(wasm, &config) {
        Ok(out) => out,
        Err(e @ ruchy_trace_instrument::Error::Unsupported { .. }) => {
            t.refused.push(format!("seed {seed}: {e}"));
            return Ok(());
        }
        Err(e) => return Err(format!("instrument: {e}")),
    };
    wasmparser::Validator::new()
        .validate_all(&out.bytes)
        .map_err(|e| format!("output does not validate: {e}"))?;
    // Streamed into a writer that already holds something, the module is
    // written after it, byte for byte the one made in memory.
    let mut streamed = std::io::Cursor::new(b"before".to_vec());
    streamed.set_position(6);
    ruchy_trace_instrument::instrument_into(wasm, &config, 0, &mut streamed)
        .map_err(|e| format!("instrument_into: {e}"))?;
    if streamed.get_ref()[6..] != out.bytes[..] {
        return Err("the streamed module differs from the one made in memory".into());
    }
    let traced = Module::new(engine, &out.bytes)
        .map_err(|e| format!("wasmtime rejects the output: {e:#}"))?;
    let (reference_bytes, shape) =
        reference::instrument(wasm).map_err(|e| format!("the caller-side reference fails: {e}"))?;
    let reference = Module::new(engine, &reference_bytes)
        .map_err(|e| format!("wasmtime rejects the caller-side reference: {e:#}"))?;

    let mut orig = Side::new(engine, None);
    orig.store.data_mut().logs = true;
    let mut inst = Side::new(engine, None);
    for side in [&mut orig, &mut inst] {
        match provide_imports(side, &original, wasm, seed) {
            Ok(imports) => side.positional = Some(imports),
            Err(e) => {
                t.not_linked.push(format!("seed {seed}: {e}"));
                return Ok(());
            }
        }
    }
    let (a, ordinal) = orig.instantiate(&reference, Role::Reference(&shape));
    let (b, _) = inst.instantiate(&traced, Role::Traced(&out.table, ordinal));
    match (&a, &b) {
        (Ok(_), Ok(_)) => check_both(&mut orig, &mut inst, false, t)?,
        (Err(x), Err(y)) if x == y => {
            // The instance never came to be: its records are not read.
            t.instantiation_traps.push(format!("seed {seed}: {x}"));
            t.host_failures += (x == HOST_FAILURE) as usize;
            return Ok(());
        }
        (Err(x), Err(y)) if x == "StackOverflow" || y == "StackOverflow" => {
            // A recursive start function: see the stack note below.
            t.exhausted += 1;
            return Ok(());
        }
        _ => {
            return Err(format!(
                "instantiation: original {:?}, instrumented {:?}",
                a.err(),
                b.err()
            ))
        }
    }
    orig.last = a.ok();
    inst.last = b.ok();
    let exports: Vec<(String, wasmtime::ExternType)> = original
        .exports()
        .map(|e| (e.name().to_string(), e.ty()))
        .collect();
    for (i, (name, ty)) in exports.iter().enumerate() {
        let Some(f) = ty.func() else { continue };
        let params: Vec<ValType> = f.params().collect();
        let args = |_: &mut wasmtime::Store<Data>| {
            let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(i as u64));
            params
                .iter()
                .map(|p| value(p, &mut rng).ok_or_else(|| format!("no value of type {p}")))
                .collect()
        };
        let ra = orig.call(None, name, args)?;
        let rb = inst.call(None, name, args)?;
        t.calls += 1;
        let trapped = matches!(rb, Outcome::Trap(_));
        let overflow = |o: &Outcome| matches!(o, Outcome::Trap(m) if m == "StackOverflow");
        if overflow(&ra) || overflow(&rb) {
            // Instrumented frames are bigger: the stack may run out at a
            // different depth, so nothing after this is comparable.
            t.exhausted += 1;
            return Ok(());
        }
        if ra != rb {
            return Err(format!("`{name}`: original {ra:?}, instrumented {rb:?}"));
        }
        check_both(&mut orig, &mut inst, trapped, t).map_err(|e| format!("`{name}`: {e}"))?;
        t.traps += trapped as usize;
        t.host_failures += matches!(&rb, Outcome::Trap(m) if m == HOST_FAILURE) as usize;
    }
    // The state the calls left behind is the same too.
    for (name, ty) in &exports {
        let (x, y) = (orig.last.unwrap(), inst.last.unwrap());
        if ty.global().is_some() {
            let gx = x
                .get_global(&mut orig.store, name)
                .unwrap()
                .get(&mut orig.store);
            let gy = y
                .get_global(&mut inst.store, name)
                .unwrap()
                .get(&mut inst.store);
            let (vx, vy) = (
                differential::val(&mut orig.store, &gx),
                differential::val(&mut inst.store, &gy),
            );
            if vx != vy
                && !matches!(
                    (&vx, &vy),
                    (V::Func, V::Func) | (V::Extern(_), V::Extern(_)) | (V::Other, V::Other)
                )
            {
                return Err(format!(
                    "global `{name}`: original {vx:?}, instrumented {vy:?}"
                ));
            }
        }
        if ty.memory().is_some() {
            let mx = x.get_memory(&mut orig.store, name).unwrap();
            let my = y.get_memory(&mut inst.store, name).unwrap();
            let (dx, dy) = (mx.data(&orig.store), my.data(&inst.store));
            // memory.grow can still make a big one: compare sizes, and the
            // bytes when that is cheap.
            if dx.len() != dy.len() || (dx.len() <= 256 << 20 && dx != dy) {
                return Err(format!("memory `{name}` differs"));
            }
        }
        if ty.table().is_some() {
            let tx = x.get_table(&mut orig.store, name).unwrap();
            let ty = y.get_table(&mut inst.store, name).unwrap();
            let (sx, sy) = (tx.size(&orig.store), ty.size(&inst.store));
            if sx != sy {
                return Err(format!("table `{name}`: size {sx}, instrumented {sy}"));
            }
            // Elements by kind and null-ness (the functions themselves are
            // different modules' on the two sides).
            for e in 0..sx.min(4096) {
                let kind = |r: Option<Ref>| match r {
                    None => "missing",
                    Some(r) if r.is_null() => "null",
                    Some(Ref::Func(_)) => "func",
                    Some(Ref::Extern(_)) => "extern",
                    Some(_) => "other",
                };
                let (ex, ey) = (
                    kind(tx.get(&mut orig.store, e)),
                    kind(ty.get(&mut inst.store, e)),
                );
                if ex != ey {
                    return Err(format!(
                        "table `{name}` element {e}: {ex}, instrumented {ey}"
                    ));
                }
            }
            t.tables += 1;
        }
    }
    Ok(())
}

/// Runs `seeds`, GC on or off; prints a summary and returns the tally.
fn run(label: &str, seeds: std::ops::Range<u64>, gc: bool) -> Tally {
    let mut config = wasmtime::Config::new();
    config.wasm_gc(gc).wasm_function_references(true);
    let engine = Engine::new(&config).unwrap();
    let queue = Mutex::new(seeds.clone());
    let total = Mutex::new(Tally::default());
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(4)
        {
            s.spawn(|| loop {
                let Some(seed) = queue.lock().unwrap().next() else {
                    break;
                };
                if std::env::var_os("SMITH_VERBOSE").is_some() {
                    eprintln!("seed {seed}");
                }
                let mut t = Tally::default();
                if let Err(e) = check_seed(&engine, seed, gc, &mut t) {
                    t.failures.push(format!("seed {seed}: {e}"));
                }
                let mut all = total.lock().unwrap();
                all.modules += t.modules;
                all.calls += t.calls;
                all.traps += t.traps;
                all.instantiation_traps.extend(t.instantiation_traps);
                all.host_failures += t.host_failures;
                all.exhausted += t.exhausted;
                all.tables += t.tables;
                all.refused.extend(t.refused);
                all.not_linked.extend(t.not_linked);
                all.events += t.events;
                all.compared += t.compared;
                all.imports += t.imports;
                all.failures.extend(t.failures);
            });
        }
    });
    let mut t = total.into_inner().unwrap();
    t.failures.sort();
    t.refused.sort();
    t.not_linked.sort();
    println!(
        "wasm-smith {label} seeds {seeds:?}: {} modules, {} refused, {} not linked, {} trapped while instantiating, {} export calls \
         ({} trapped alike, {} of them a failing host import, {} ran out of stack), {} tables compared, \
         {} events, {} calls and {} values equal to the caller-side reference \
         ({} of them v128 or references), {} import calls and {} values equal to what the host functions saw, {:.1}s",
        t.modules,
        t.refused.len(),
        t.not_linked.len(),
        t.instantiation_traps.len(),
        t.calls,
        t.traps,
        t.host_failures,
        t.exhausted,
        t.tables,
        t.events,
        t.compared.calls,
        t.compared.values,
        t.compared.vectors_and_references,
        t.imports.calls,
        t.imports.values,
        started.elapsed().as_secs_f64()
    );
    for r in t.refused.iter().chain(&t.not_linked) {
        println!("  not run: {r}");
    }
    if std::env::var_os("SMITH_VERBOSE").is_some() {
        for r in &t.instantiation_traps {
            println!("  trapped while instantiating: {r}");
        }
    }
    for f in t.failures.iter().take(50) {
        println!("  FAILED: {f}");
    }
    t
}

/// What a run covered, asserted exactly: a change in any of these is a
/// change in what the run proves, to be looked at and written down.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    modules: usize,
    refused: usize,
    not_linked: usize,
    trapped_while_instantiating: usize,
    export_calls: usize,
    trapped_alike: usize,
    failing_host_import: usize,
    ran_out_of_stack: usize,
    tables_compared: usize,
    events: u64,
    calls_compared: u64,
    values_compared: u64,
    vectors_and_references: u64,
    import_calls_compared: u64,
    import_values_compared: u64,
}

fn assert_run(label: &str, seeds: std::ops::Range<u64>, gc: bool, expected: Counts) {
    let t = run(label, seeds, gc);
    assert!(
        t.failures.is_empty(),
        "{} failure(s); see the output",
        t.failures.len()
    );
    assert!(
        t.events > 0 && t.compared.calls > 0,
        "nothing was recorded: {t:?}"
    );
    let got = Counts {
        modules: t.modules,
        refused: t.refused.len(),
        not_linked: t.not_linked.len(),
        trapped_while_instantiating: t.instantiation_traps.len(),
        export_calls: t.calls,
        trapped_alike: t.traps,
        failing_host_import: t.host_failures,
        ran_out_of_stack: t.exhausted,
        tables_compared: t.tables,
        events: t.events,
        calls_compared: t.compared.calls,
        values_compared: t.compared.values,
        vectors_and_references: t.compared.vectors_and_references,
        import_calls_compared: t.imports.calls,
        import_values_compared: t.imports.values,
    };
    assert_eq!(got, expected);
}

#[test]
fn smith_modules_record_what_their_callers_pass_and_get() {
    assert_run(
        "",
        SEEDS,
        false,
        Counts {
            modules: 1500,
            refused: 0,
            not_linked: 0,
            trapped_while_instantiating: 84,
            export_calls: 1433,
            trapped_alike: 886,
            failing_host_import: 20,
            ran_out_of_stack: 57,
            tables_compared: 1260,
            events: 2138606,
            calls_compared: 1069210,
            values_compared: 142309,
            vectors_and_references: 76304,
            import_calls_compared: 93,
            import_values_compared: 66,
        },
    );
}

#[test]
fn smith_gc_modules_record_what_their_callers_pass_and_get() {
    assert_run(
        "GC",
        GC_SEEDS,
        true,
        Counts {
            modules: 200,
            refused: 0,
            not_linked: 0,
            trapped_while_instantiating: 21,
            export_calls: 205,
            trapped_alike: 126,
            failing_host_import: 3,
            ran_out_of_stack: 11,
            tables_compared: 153,
            events: 317026,
            calls_compared: 158507,
            values_compared: 10260,
            vectors_and_references: 77,
            import_calls_compared: 6,
            import_values_compared: 7,
        },
    );
}

/// A module that calls out of the guest in every way a call can leave it:
/// imports of every value type and of multiple results, called directly,
/// through a table, by a tail call and in a loop, one of them exported as
/// it is (which the host then calls without the guest).
const HOST_CALLS: &str = r#"(module
  (type $to_i32 (func (param i32) (result i32)))
  (type $nothing (func))
  (import "env" "i32" (func $i32 (type $to_i32)))
  (import "env" "mixed" (func $mixed (param i64 f32 f64) (result f64 i64)))
  (import "env" "vector" (func $vector (param v128) (result v128)))
  (import "env" "refs" (func $refs (param funcref externref) (result externref)))
  (import "env" "nothing" (func $nothing (type $nothing)))
  (table 4 funcref)
  (elem (i32.const 0) func $i32 $mixed $vector $nothing)
  (elem declare func $helper)
  (export "again" (func $i32))
  (func (export "loop") (param $n i32) (result i32)
    (local $acc i32)
    (local.set $n (i32.and (local.get $n) (i32.const 15)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (call $i32 (local.get $n))))
        (local.set $acc
          (i32.add (local.get $acc)
            (call_indirect (type $to_i32) (local.get $acc) (i32.const 0))))
        (call_indirect (type $nothing) (i32.const 3))
        (call $nothing)
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  (func (export "mixed") (param i64 f32 f64) (result f64 i64)
    (call $mixed (local.get 0) (local.get 1) (local.get 2)))
  (func (export "vector") (param v128) (result v128)
    (call $vector (local.get 0)))
  (func (export "refs") (param externref) (result externref)
    (call $refs (ref.func $helper) (local.get 0)))
  (func $helper)
  (func (export "tail") (param i32) (result i32)
    (return_call $i32 (local.get 0))))"#;

/// [`HOST_CALLS`] under 64 seeds (half on each delivery path): every call
/// the guest makes of a host function is recorded with exactly the
/// arguments the host function received and the results it returned (a
/// failed one closed as trapped), the calls the host makes of the exported
/// import are not recorded, and the trace equals the caller-side reference.
/// The counts are asserted exactly.
#[test]
fn host_calls_of_every_shape_record_what_the_host_saw() {
    let engine = Engine::default();
    let wasm = wat::parse_str(HOST_CALLS).unwrap();
    let mut t = Tally::default();
    for seed in 0..64 {
        if let Err(e) = check_module(&engine, &wasm, seed, &mut t) {
            t.failures.push(format!("seed {seed}: {e}"));
        }
    }
    assert!(t.failures.is_empty(), "{:#?}", t.failures);
    assert_eq!(
        (
            t.modules,
            t.calls,
            t.traps,
            t.host_failures,
            t.events,
            t.imports.calls,
            t.imports.values,
            t.imports.vectors_and_references,
        ),
        (64, 384, 97, 97, 3562, 1232, 2087, 546)
    );
}
