//! Arbitrary bytes as a `ruchy-trace` function table: an error or a table
//! that encodes back to something that decodes to the same table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ruchy_trace_core::FunctionTable;

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = FunctionTable::decode(data) {
        let again = FunctionTable::decode(&table.encode()).expect("re-encoded table decodes");
        assert_eq!(again, table);
        let _ = ruchy_trace_core::RecordLayout::new(&table).max_record_size();
    }
});
