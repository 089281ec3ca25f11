//! A wasm-smith module, instrumented (every function, either strategy):
//! the output validates, or the module uses a feature we refuse. Anything
//! else (an internal error, a panic) is a bug.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use ruchy_trace_core::Strategy;
use ruchy_trace_instrument::{Config, Error, Scope};

fn smith(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut config: wasm_smith::Config = u.arbitrary()?;
    // Features the instrumenter refuses, by design.
    config.exceptions_enabled = false;
    config.shared_everything_threads_enabled = false;
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(wasm) = smith(&mut u) else { return };
    let strategy = if u.arbitrary::<bool>().unwrap_or(false) { Strategy::Hooks } else { Strategy::Inline };
    let mut config = Config { scope: Scope::All, ..Config::default() };
    config.options.strategy = strategy;
    config.options.timestamps = u.arbitrary().unwrap_or(true);
    config.options.sample = 1 + u.int_in_range(0..=3).unwrap_or(0);
    match ruchy_trace_instrument::instrument(&wasm, &config) {
        Ok(out) => {
            wasmparser::Validator::new().validate_all(&out.bytes).expect("instrumented module validates");
            let table = ruchy_trace_instrument::read_table(&out.bytes).expect("table reads").expect("table present");
            assert_eq!(table, out.table);
        }
        Err(Error::Unsupported { .. }) => {}
        // wasm-smith enables features the default validator does not; a
        // module that validator accepts must not be called invalid.
        Err(e @ Error::Invalid { .. }) => assert!(
            wasmparser::Validator::new().validate_all(&wasm).is_err(),
            "a valid module refused: {e}"
        ),
        Err(e) => panic!("{e}"),
    }
});
