//! Arbitrary bytes as a module: an error or a valid instrumented module,
//! never a panic or an internal error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ruchy_trace_instrument::{Config, Error, Scope};

fuzz_target!(|data: &[u8]| {
    let config = Config { scope: Scope::All, ..Config::default() };
    let _ = ruchy_trace_instrument::read_table(data);
    match ruchy_trace_instrument::instrument(data, &config) {
        Ok(out) => {
            wasmparser::Validator::new().validate_all(&out.bytes).expect("instrumented module validates");
        }
        Err(Error::Internal(e)) => panic!("internal error: {e}"),
        Err(_) => {}
    }
});
