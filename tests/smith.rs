//! wasm-smith differential: for a fixed range of seeds, generate a module,
//! instrument every function, and require that the output validates, that
//! every exported function called with default arguments gives the same
//! results or the same trap as the original, that the exported globals and
//! memories end up the same, and that entries balance exits.
//!
//! Modules are made to terminate (wasm-smith's fuel global) and have no
//! imports; features are those wasmtime runs by default minus exception
//! handling and stack switching (refused by the instrumenter), GC (its
//! modules take 30 times longer to run; the same 1,500 seeds with GC pass,
//! in about 250 s), threads and relaxed SIMD (not deterministic).

mod differential;

use arbitrary::Unstructured;
use differential::{Outcome, Side, V};
use ruchy_trace::ruchy_trace_core::Strategy;
use ruchy_trace::ruchy_trace_instrument::{self, Config, Scope};
use std::sync::Mutex;
use wasmtime::{Engine, Module, Val};

/// Seeds run by the test; sized to keep it well under a minute on 2 cores.
const SEEDS: std::ops::Range<u64> = 0..1500;

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 12,
        min_exports: 1,
        export_everything: true,
        max_instructions: 200,
        max_memories: 2,
        max_tables: 2,
        exceptions_enabled: false,
        gc_enabled: false,
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

/// Deterministic bytes for a seed (xorshift64*).
fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    modules: usize,
    calls: usize,
    traps: usize,
    exhausted: usize,
    refused: Vec<String>,
    events: u64,
    failures: Vec<String>,
}

/// The module a seed makes, if wasm-smith makes one.
fn module_for(seed: u64) -> Result<Option<Vec<u8>>, String> {
    let bytes = seed_bytes(seed, 16 << 10);
    let mut u = Unstructured::new(&bytes);
    let Ok(mut module) = wasm_smith::Module::new(smith_config(), &mut u) else {
        return Ok(None);
    };
    module
        .ensure_termination(10_000)
        .map_err(|e| format!("ensure_termination: {e}"))?;
    Ok(Some(module.to_bytes()))
}

/// Writes the module of seed `$SMITH_SEED` to `$SMITH_OUT` (default
/// `smith-<seed>.wasm` in the temp dir), to reproduce a failure with the CLI.
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
    std::fs::write(&out, module_for(seed).unwrap().expect("a module")).unwrap();
    println!("wrote {out}");
}

fn check_seed(engine: &Engine, seed: u64, t: &mut Tally) -> Result<(), String> {
    let Some(wasm) = module_for(seed)? else {
        return Ok(());
    };
    let Ok(original) = Module::new(engine, &wasm) else {
        return Ok(());
    };
    t.modules += 1;
    let mut config = Config {
        scope: Scope::All,
        ..Config::default()
    };
    if seed % 2 == 1 {
        config.options.strategy = Strategy::Hooks;
    }
    let out = match ruchy_trace_instrument::instrument(&wasm, &config) {
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
    let traced = Module::new(engine, &out.bytes)
        .map_err(|e| format!("wasmtime rejects the output: {e:#}"))?;

    let mut orig = Side::new(engine, None);
    let mut inst = Side::new(engine, None);
    let a = orig.instantiate(&original, None);
    let b = inst.instantiate(&traced, Some(&out.table));
    match (&a, &b) {
        (Ok(_), Ok(_)) => {}
        (Err(x), Err(y)) if x == y => {
            t.traps += 1;
            inst.check_balance(true)?;
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
    for (name, ty) in &exports {
        let Some(f) = ty.func() else { continue };
        let params: Vec<wasmtime::ValType> = f.params().collect();
        let args = |_: &mut wasmtime::Store<differential::Data>| {
            params
                .iter()
                .map(|p| Val::default_for_ty(p).ok_or_else(|| format!("no default for {p}")))
                .collect()
        };
        let ra = orig.call(None, name, args)?;
        let rb = inst.call(None, name, |s| args(s))?;
        t.calls += 1;
        let trapped = matches!(rb, Outcome::Trap(_));
        let (events, _) = inst
            .check_balance(trapped)
            .map_err(|e| format!("`{name}`: {e}"))?;
        t.events += events;
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
        t.traps += trapped as usize;
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
    }
    Ok(())
}

#[test]
fn smith_modules_behave_the_same_instrumented() {
    let engine = Engine::default();
    let seeds = Mutex::new(SEEDS);
    let total = Mutex::new(Tally::default());
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(4)
        {
            s.spawn(|| loop {
                let Some(seed) = seeds.lock().unwrap().next() else {
                    break;
                };
                if std::env::var_os("SMITH_VERBOSE").is_some() {
                    eprintln!("seed {seed}");
                }
                let mut t = Tally::default();
                if let Err(e) = check_seed(&engine, seed, &mut t) {
                    t.failures.push(format!("seed {seed}: {e}"));
                }
                if std::env::var_os("SMITH_VERBOSE").is_some() {
                    eprintln!("done {seed}");
                }
                let mut all = total.lock().unwrap();
                all.modules += t.modules;
                all.calls += t.calls;
                all.traps += t.traps;
                all.exhausted += t.exhausted;
                all.refused.extend(t.refused);
                all.events += t.events;
                all.failures.extend(t.failures);
            });
        }
    });
    let mut t = total.into_inner().unwrap();
    t.failures.sort();
    println!(
        "wasm-smith seeds {SEEDS:?}: {} modules, {} refused, {} export calls ({} trapped alike, {} ran out of stack), {} events, {:.1}s",
        t.modules,
        t.refused.len(),
        t.calls,
        t.traps,
        t.exhausted,
        t.events,
        started.elapsed().as_secs_f64()
    );
    for r in t.refused.iter().take(20) {
        println!("  refused: {r}");
    }
    for f in t.failures.iter().take(50) {
        println!("  FAILED: {f}");
    }
    assert!(
        t.failures.is_empty(),
        "{} failure(s); see the output",
        t.failures.len()
    );
    assert!(t.modules > (SEEDS.end - SEEDS.start) as usize / 2, "{t:?}");
}
