//! Helpers shared by the cross-crate tests: fixture paths and loading.

use std::path::PathBuf;

/// The fixtures directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Names of the Ruchy fixtures (each has `.ruchy`, `.rs`, `.wasm`,
/// `.interp.txt`).
pub fn ruchy_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures directory")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".ruchy")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// Reads a fixture file.
pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

use ruchy_trace::ruchy_trace_core::{Event, EventKind, Value};
use ruchy_trace::{Entry, Outcome, RunOptions, Tracer};

/// One call or return as Ruchy's interpreter traces it (`ruchy --trace`).
#[derive(Debug, Clone, PartialEq)]
pub enum InterpEvent {
    /// `TRACE: → name(v: type, ...)`
    Enter {
        name: String,
        args: Vec<(String, String)>,
    },
    /// `TRACE: ← name = v: type`
    Exit {
        name: String,
        value: (String, String),
    },
}

/// Splits `a: t, b: t` at top-level commas (not inside quotes or braces).
fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    let mut current = String::new();
    for c in s.chars() {
        if quoted {
            current.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

fn typed(s: &str) -> (String, String) {
    match s.rsplit_once(": ") {
        Some((v, t)) => (v.to_string(), t.to_string()),
        None => (s.to_string(), String::new()),
    }
}

/// Parses the `TRACE:` lines of an interpreter trace.
pub fn parse_interp_trace(text: &str) -> Vec<InterpEvent> {
    let mut events = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TRACE: → ") {
            let open = rest.find('(').expect("call has arguments");
            let name = rest[..open].to_string();
            let inner = &rest[open + 1..rest.len() - 1];
            events.push(InterpEvent::Enter {
                name,
                args: split_top_level(inner).iter().map(|a| typed(a)).collect(),
            });
        } else if let Some(rest) = line.strip_prefix("TRACE: ← ") {
            let (name, value) = rest.split_once(" = ").expect("return has a value");
            events.push(InterpEvent::Exit {
                name: name.to_string(),
                value: typed(value),
            });
        }
    }
    events
}

/// A plain copy of an event, for comparing traces.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub kind: EventKind,
    pub name: String,
    pub depth: u32,
    pub values: Vec<Value>,
    /// Source-level values, rendered, when the function's signature is known.
    pub source: Option<Vec<String>>,
}

impl Seen {
    pub fn of(e: &Event<'_>, types: &[ruchy_trace::ruchy_trace_core::source::SourceType]) -> Seen {
        Seen {
            kind: e.kind,
            name: e.function.name.clone(),
            depth: e.depth,
            values: e.values().collect(),
            source: e
                .source_values(types)
                .map(|v| v.iter().map(|a| a.value.to_string()).collect()),
        }
    }
}

/// Removes the spacing the interpreter and we differ in (`Point {x: 3}`
/// against `Point { x: 3 }`), outside string literals.
pub fn squash(s: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if quoted {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
        } else if c == '"' {
            quoted = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Strips every custom section (names, DWARF, producers) from a module.
pub fn strip(wasm: &[u8]) -> Vec<u8> {
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.expect("valid module");
        if let wasmparser::Payload::CustomSection(_) = payload {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            out.section(&wasm_encoder::RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    out.finish()
}

/// Runs a WASI fixture with output captured.
pub fn run_wasi(
    tracer: &Tracer,
    wasm: &[u8],
    config: Option<&ruchy_trace::ruchy_trace_instrument::Config>,
) -> Outcome {
    let program = match config {
        Some(c) => tracer.load(wasm, c).expect("loads"),
        None => tracer.load_plain(wasm).expect("loads"),
    };
    let options = RunOptions {
        capture_output: true,
        ..RunOptions::default()
    };
    program
        .run(
            &Entry::Wasi {
                args: vec!["prog".into()],
                env: vec![],
                dirs: vec![],
            },
            &options,
        )
        .expect("runs")
}

/// The decoded events of an outcome.
pub fn seen(outcome: &Outcome) -> Vec<Seen> {
    let types = &outcome.trace.table.types;
    outcome
        .trace
        .events()
        .map(|e| Seen::of(&e.expect("decodes"), types))
        .collect()
}
