//! Moving functions from generated code back to the source it was
//! generated from.
//!
//! A compiler that goes through another language (Ruchy through Rust)
//! leaves debug information about the intermediate program. A [`Relocate`]
//! implementation knows the original source and gives each function of the
//! table the name and the location its author wrote. The instrumenter
//! applies the ones it is given without knowing any source language;
//! [`crate::ruchy::RuchySource`] is the one for Ruchy.

use crate::table::FunctionInfo;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Renames and relocates functions of generated code to their original
/// source.
pub trait Relocate: fmt::Debug + Send + Sync {
    /// Gives every function in `functions` that this source defines its
    /// source name and location; leaves the others alone.
    fn relocate(&self, functions: &mut [FunctionInfo]);
}

/// Splits a demangled, crate-less Rust path into its segments at `::`
/// outside angle brackets, spelling a qualified segment `<A as B>` as `A`
/// and dropping generic arguments: `<Circle as Shape>::area` is
/// `["Circle", "area"]`, `main::{{closure}}` is `["main", "{{closure}}"]`.
pub fn path_segments(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                depth += 1;
                current.push(c);
            }
            '>' => {
                depth -= 1;
                current.push(c);
            }
            ':' if depth == 0 && chars.peek() == Some(&':') => {
                chars.next();
                out.push(segment(&current));
                current.clear();
            }
            _ => current.push(c),
        }
    }
    out.push(segment(&current));
    out
}

/// `<A as B>` as `A`'s last path segment; `Foo<T>` as `Foo`.
fn segment(s: &str) -> String {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        let ty = inner.split(" as ").next().unwrap_or(inner);
        let ty = ty.split('<').next().unwrap_or(ty);
        return String::from(ty.rsplit("::").next().unwrap_or(ty));
    }
    if s.starts_with("{{") {
        return String::from(s);
    }
    String::from(s.split('<').next().unwrap_or(s))
}

#[cfg(test)]
mod tests {
    use super::path_segments;

    #[test]
    fn rust_paths_split_into_source_segments() {
        assert_eq!(path_segments("main"), ["main"]);
        assert_eq!(path_segments("Counter::new"), ["Counter", "new"]);
        assert_eq!(
            path_segments("<x::Circle as x::Shape>::area"),
            ["Circle", "area"]
        );
        assert_eq!(
            path_segments("main::{{closure}}::{{closure}}"),
            ["main", "{{closure}}", "{{closure}}"]
        );
        assert_eq!(path_segments("Stack<T>::push"), ["Stack", "push"]);
    }
}
