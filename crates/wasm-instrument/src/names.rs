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

const FOREIGN_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "compiler_builtins",
    "wasi",
    "__rustc",
];

/// The program's own crate, as the names reveal it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The crate name.
    pub krate: String,
    /// Whether it defines `main` (a command); otherwise it was guessed as the
    /// commonest non-standard crate (a library module), whose exports count
    /// as its own too.
    pub has_main: bool,
}

fn crate_of(demangled: &str) -> Option<&str> {
    let (krate, _) = demangled.split_once("::")?;
    (!krate.is_empty()
        && !krate.contains('<')
        && !krate.contains(' ')
        && !FOREIGN_CRATES.contains(&krate))
    .then_some(krate)
}

/// The crate the program itself is: the `X` of a function `X::main`, or,
/// without one, the crate most functions belong to, leaving out the
/// standard ones.
pub fn program_crate<'a>(demangled: impl Iterator<Item = &'a str> + Clone) -> Option<Program> {
    let main = demangled
        .clone()
        .filter_map(|d| d.strip_suffix("::main"))
        .find(|krate| crate_of(&format!("{krate}::main")) == Some(krate));
    if let Some(krate) = main {
        return Some(Program {
            krate: krate.to_string(),
            has_main: true,
        });
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for d in demangled {
        if let Some(k) = crate_of(d) {
            *counts.entry(k).or_default() += 1;
        }
    }
    let best = counts
        .into_iter()
        .max_by_key(|&(k, n)| (n, std::cmp::Reverse(k)))?;
    Some(Program {
        krate: best.0.to_string(),
        has_main: false,
    })
}

/// The name to show: the program's own functions lose their crate prefix.
pub fn display_name(demangled: &str, program: Option<&Program>) -> String {
    if let Some(p) = program {
        if let Some(rest) = demangled
            .strip_prefix(p.krate.as_str())
            .and_then(|r| r.strip_prefix("::"))
        {
            return rest.to_string();
        }
    }
    demangled.to_string()
}

/// Whether a function belongs to the program rather than to a dependency.
pub fn is_own(demangled: &str, exported: bool, program: Option<&Program>) -> bool {
    match program {
        Some(p) => {
            demangled
                .strip_prefix(p.krate.as_str())
                .is_some_and(|r| r.starts_with("::"))
                || (exported && !p.has_main)
        }
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
        let program = program_crate(
            ["std::rt::lang_start", "fibonacci::main", "core::fmt::write"].into_iter(),
        );
        let p = program.as_ref();
        assert_eq!(p.map(|p| p.krate.as_str()), Some("fibonacci"));
        assert_eq!(display_name(&d, p), "fibonacci");
        assert!(is_own(&d, false, p));
        assert!(!is_own("fibonacci_helper::x", false, p));
        assert!(!is_own("std::io::_print", false, p));
        assert!(
            !is_own("_start", true, p),
            "a command's exports are not its own functions"
        );
        assert_eq!(demangle("main"), "main");
    }

    #[test]
    fn library_modules_guess_their_crate() {
        let names = ["core::fmt::write", "lib::a", "lib::b", "other::c", "run"];
        let p = program_crate(names.into_iter()).unwrap();
        assert_eq!(
            p,
            Program {
                krate: "lib".into(),
                has_main: false
            }
        );
        assert!(is_own("run", true, Some(&p)));
        assert!(!is_own("helper", false, Some(&p)));
        assert!(program_crate(["f", "g"].into_iter()).is_none());
    }
}
