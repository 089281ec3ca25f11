//! Function names: demangling, and telling the program's own functions from
//! its dependencies'.

/// The demangled name without its hash, or the raw name when it is not a
/// Rust symbol.
pub fn demangle(raw: &str) -> String {
    match rustc_demangle::try_demangle(raw) {
        Ok(d) => format!("{d:#}"),
        Err(_) => raw.to_string(),
    }
}

const FOREIGN_CRATES: &[&str] = &["std", "core", "alloc", "compiler_builtins", "wasi", "__rustc"];

/// The crate the program itself is: the `X` of a function `X::main`, when
/// one exists and is not a standard crate.
pub fn program_crate<'a>(demangled: impl Iterator<Item = &'a str>) -> Option<String> {
    demangled
        .filter_map(|d| d.strip_suffix("::main"))
        .find(|krate| !krate.is_empty() && !krate.contains("::") && !krate.contains('<') && !FOREIGN_CRATES.contains(krate))
        .map(str::to_string)
}

/// The name to show: the program's own functions lose their crate prefix.
pub fn display_name(demangled: &str, program: Option<&str>) -> String {
    if let Some(krate) = program {
        if let Some(rest) = demangled.strip_prefix(krate).and_then(|r| r.strip_prefix("::")) {
            return rest.to_string();
        }
    }
    demangled.to_string()
}

/// Whether a function belongs to the program rather than to a dependency.
pub fn is_own(demangled: &str, program: Option<&str>) -> bool {
    match program {
        Some(krate) => demangled.strip_prefix(krate).is_some_and(|r| r.starts_with("::")),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names() {
        let d = demangle("_ZN9fibonacci9fibonacci17h0123456789abcdefE");
        assert_eq!(d, "fibonacci::fibonacci");
        let krate = program_crate(["std::rt::lang_start", "fibonacci::main", "core::fmt::write"].into_iter());
        assert_eq!(krate.as_deref(), Some("fibonacci"));
        assert_eq!(display_name(&d, krate.as_deref()), "fibonacci");
        assert!(is_own(&d, krate.as_deref()));
        assert!(!is_own("fibonacci_helper::x", krate.as_deref()));
        assert!(!is_own("std::io::_print", krate.as_deref()));
        assert_eq!(demangle("main"), "main");
    }
}
