//! The function table: what a host needs to decode a trace, carried by the
//! instrumented module itself in the [`SECTION_NAME`] custom section.

use crate::error::Error;
use crate::value::ValType;
use alloc::string::String;
use alloc::vec::Vec;

/// Name of the custom section that holds the encoded [`FunctionTable`].
pub const SECTION_NAME: &str = "ruchy-trace";

const MAGIC: &[u8; 4] = b"RTFT";
const VERSION: u32 = 1;

/// How the instrumented code hands records to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Records are written by the instrumented code into a memory the module
    /// exports; the host is called only to take a full staging area.
    Inline,
    /// Every record is a call to a host hook import (the portable contract).
    Hooks,
}

/// Choices made at instrumentation time that shape the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOptions {
    /// How records reach the host.
    pub strategy: Strategy,
    /// Whether every record carries a microsecond timestamp.
    pub timestamps: bool,
    /// Trace one call in `sample`; 1 traces every call. When above 1, entry
    /// records also carry the call depth, because sampled calls alone no
    /// longer tell it.
    pub sample: u32,
    /// Size in bytes of the staging area of the [`Strategy::Inline`] path.
    pub staging_bytes: u32,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            strategy: Strategy::Inline,
            timestamps: true,
            sample: 1,
            staging_bytes: 1 << 20,
        }
    }
}

/// A place in source code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name as it should be shown.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
}

/// One traced function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionInfo {
    /// Index of the function in the original module's function index space.
    pub wasm_index: u32,
    /// The name as found in the module (mangled, if it was).
    pub raw_name: String,
    /// The name to show: demangled, without hash, without the program's own
    /// crate prefix.
    pub name: String,
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
    /// Parameter names, when debug information gave them (may be empty).
    pub param_names: Vec<String>,
    /// Where the function is defined, when known.
    pub location: Option<Location>,
}

/// Everything needed to decode the records of one instrumented module.
///
/// Record function ids are indices into [`FunctionTable::functions`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionTable {
    /// Choices made at instrumentation time.
    pub options: TraceOptions,
    /// The program's name when known (the crate or file name).
    pub program: String,
    /// The traced functions; a record's function id indexes this list.
    pub functions: Vec<FunctionInfo>,
}

impl FunctionTable {
    /// Encodes the table as the payload of the [`SECTION_NAME`] section.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        let o = &self.options;
        w.u32(match o.strategy {
            Strategy::Inline => 0,
            Strategy::Hooks => 1,
        });
        w.u32(o.timestamps as u32);
        w.u32(o.sample);
        w.u32(o.staging_bytes);
        w.str(&self.program);
        w.u32(self.functions.len() as u32);
        for f in &self.functions {
            w.u32(f.wasm_index);
            w.str(&f.raw_name);
            w.str(&f.name);
            w.types(&f.params);
            w.types(&f.results);
            w.u32(f.param_names.len() as u32);
            for n in &f.param_names {
                w.str(n);
            }
            match &f.location {
                None => w.u32(0),
                Some(l) => {
                    w.u32(1);
                    w.str(&l.file);
                    w.u32(l.line);
                    w.u32(l.column);
                }
            }
        }
        w.0
    }

    /// Decodes a table written by [`FunctionTable::encode`].
    pub fn decode(bytes: &[u8]) -> Result<FunctionTable, Error> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4, "function table magic")? != MAGIC {
            return Err(Error::Invalid { what: "function table magic", offset: 0 });
        }
        let version = r.u32("function table version")?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let at = r.pos;
        let strategy = match r.u32("strategy")? {
            0 => Strategy::Inline,
            1 => Strategy::Hooks,
            _ => return Err(Error::Invalid { what: "strategy", offset: at }),
        };
        let timestamps = r.u32("timestamps flag")? != 0;
        let at = r.pos;
        let sample = r.u32("sample rate")?;
        if sample == 0 {
            return Err(Error::Invalid { what: "sample rate", offset: at });
        }
        let staging_bytes = r.u32("staging size")?;
        let program = r.str("program name")?;
        let count = r.u32("function count")?;
        let mut functions = Vec::new();
        for _ in 0..count {
            let wasm_index = r.u32("function index")?;
            let raw_name = r.str("function name")?;
            let name = r.str("function name")?;
            let params = r.types()?;
            let results = r.types()?;
            let n = r.u32("parameter name count")?;
            let mut param_names = Vec::new();
            for _ in 0..n {
                param_names.push(r.str("parameter name")?);
            }
            let at = r.pos;
            let location = match r.u32("location flag")? {
                0 => None,
                1 => Some(Location {
                    file: r.str("location file")?,
                    line: r.u32("location line")?,
                    column: r.u32("location column")?,
                }),
                _ => return Err(Error::Invalid { what: "location flag", offset: at }),
            };
            functions.push(FunctionInfo {
                wasm_index,
                raw_name,
                name,
                params,
                results,
                param_names,
                location,
            });
        }
        Ok(FunctionTable {
            options: TraceOptions { strategy, timestamps, sample, staging_bytes },
            program,
            functions,
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, mut v: u32) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn types(&mut self, t: &[ValType]) {
        self.u32(t.len() as u32);
        self.0.extend(t.iter().map(|t| t.code()));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Truncated { what, offset: self.bytes.len() }),
        }
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let start = self.pos;
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.take(1, what)?[0];
            if shift == 28 && b > 0x0f {
                return Err(Error::Invalid { what, offset: start });
            }
            v |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Invalid { what, offset: start })
    }
    fn str(&mut self, what: &'static str) -> Result<String, Error> {
        let len = self.u32(what)? as usize;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| Error::Invalid { what, offset: at })
    }
    fn types(&mut self) -> Result<Vec<ValType>, Error> {
        let n = self.u32("type count")? as usize;
        let at = self.pos;
        let codes = self.take(n, "types")?;
        codes
            .iter()
            .enumerate()
            .map(|(i, &c)| ValType::from_code(c).ok_or(Error::Invalid { what: "value type", offset: at + i }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn sample() -> FunctionTable {
        FunctionTable {
            options: TraceOptions { strategy: Strategy::Hooks, timestamps: false, sample: 7, staging_bytes: 4096 },
            program: "fibonacci".to_string(),
            functions: vec![FunctionInfo {
                wasm_index: 300,
                raw_name: "_ZN9fibonacci9fibonacci17h0123456789abcdefE".to_string(),
                name: "fibonacci".to_string(),
                params: vec![ValType::I64, ValType::V128],
                results: vec![ValType::F64],
                param_names: vec!["n".to_string()],
                location: Some(Location { file: "fibonacci.ruchy".to_string(), line: 1, column: 5 }),
            }],
        }
    }

    #[test]
    fn round_trips() {
        let t = sample();
        assert_eq!(FunctionTable::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(FunctionTable::decode(&bytes[..len]).is_err(), "prefix of {len} bytes decoded");
        }
    }
}
