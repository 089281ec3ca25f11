//! What the Ruchy toolchain emits: a `.ruchy` program is transpiled to a
//! `.rs` file of the same name, whose debug information points at the
//! transpiled Rust. Given the `.ruchy` source, locations move back to it.

use ruchy_trace_core::{FunctionTable, Location};

/// A Ruchy program's source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuchySource {
    /// Its file name as it should be shown (`fibonacci.ruchy`).
    pub file: String,
    /// Its text.
    pub text: String,
}

/// Line and column (1-based) of `fun NAME` in `text`: where the name starts.
pub fn find_fun(text: &str, name: &str) -> Option<(u32, u32)> {
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut col = 0;
        while let Some(at) = rest.find("fun ") {
            let before_ok =
                at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            let after = rest[at + 4..].trim_start();
            let name_col = col + at + 4 + (rest[at + 4..].len() - after.len());
            let name_ok = after
                .strip_prefix(name)
                .is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'));
            if before_ok && name_ok {
                return Some((i as u32 + 1, name_col as u32 + 1));
            }
            col += at + 4;
            rest = &rest[at + 4..];
        }
    }
    None
}

/// Points every function whose location is in `X.rs` at `fun NAME` in the
/// matching `X.ruchy` source, when that source defines it.
pub fn relocate(table: &mut FunctionTable, sources: &[RuchySource]) {
    for f in &mut table.functions {
        let Some(loc) = &f.location else { continue };
        let Some(stem) = loc.file.strip_suffix(".rs") else {
            continue;
        };
        let stem = stem.rsplit('/').next().unwrap_or(stem);
        let Some(src) = sources.iter().find(|s| {
            s.file
                .rsplit('/')
                .next()
                .and_then(|n| n.strip_suffix(".ruchy"))
                == Some(stem)
        }) else {
            continue;
        };
        let short = f.name.rsplit("::").next().unwrap_or(&f.name);
        if let Some((line, column)) = find_fun(&src.text, short) {
            f.location = Some(Location {
                file: src.file.clone(),
                line,
                column,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::find_fun;

    #[test]
    fn finds_definitions() {
        let src = "fun fibonacci(n: i64) -> i64 {\n    return n;\n}\n\nfun main() {\n    println(fibonacci(5));\n}\n";
        assert_eq!(find_fun(src, "fibonacci"), Some((1, 5)));
        assert_eq!(find_fun(src, "main"), Some((5, 5)));
        assert_eq!(find_fun(src, "fib"), None);
        assert_eq!(
            find_fun("  pub fun  is_even(n: i64) -> bool {", "is_even"),
            Some((1, 12))
        );
    }
}
