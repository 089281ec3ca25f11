//! Name filters: which functions a trace shows. The instrumenter applies
//! them to decide what to rewrite, and a replay applies the same filters to
//! a recorded trace.

use crate::glob;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// A name pattern: functions matching an including filter are kept (when
/// any including filter is given, only those); functions matching an
/// excluding filter are dropped. Patterns are globs (`*`, `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Whether matching functions are kept (true) or dropped (false).
    pub include: bool,
    /// The glob.
    pub pattern: String,
}

/// A filter pattern that names nothing (`""` or `"!"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter(pub String);

impl fmt::Display for BadFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad filter pattern `{}`", self.0)
    }
}

impl core::error::Error for BadFilter {}

impl Filter {
    /// Parses `GLOB` (include) or `!GLOB` (exclude).
    pub fn parse(text: &str) -> Result<Filter, BadFilter> {
        let (include, pattern) = match text.strip_prefix('!') {
            Some(p) => (false, p),
            None => (true, text),
        };
        if pattern.is_empty() {
            return Err(BadFilter(text.to_string()));
        }
        Ok(Filter {
            include,
            pattern: pattern.to_string(),
        })
    }

    /// Whether the pattern matches any of a function's names.
    pub fn matches(&self, names: &[&str]) -> bool {
        names.iter().any(|n| glob::matches(&self.pattern, n))
    }
}

/// Filters applied together: a function passes when it matches some
/// including filter (or none is given) and no excluding filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(Vec<Filter>);

impl Filters {
    /// Parses each text as [`Filter::parse`] does.
    pub fn parse<I, S>(texts: I) -> Result<Filters, BadFilter>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        texts
            .into_iter()
            .map(|t| Filter::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Filters)
    }

    /// Whether a function known by `names` (its shown, demangled and raw
    /// names) passes.
    pub fn allows(&self, names: &[&str]) -> bool {
        let mut includes = self.0.iter().filter(|f| f.include).peekable();
        let included = includes.peek().is_none() || includes.any(|f| f.matches(names));
        included && !self.0.iter().any(|f| !f.include && f.matches(names))
    }

    /// Whether there are no filters (everything passes).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The filters, in order.
    pub fn as_slice(&self) -> &[Filter] {
        &self.0
    }
}

impl From<Vec<Filter>> for Filters {
    fn from(filters: Vec<Filter>) -> Filters {
        Filters(filters)
    }
}

impl FromIterator<Filter> for Filters {
    fn from_iter<I: IntoIterator<Item = Filter>>(iter: I) -> Filters {
        Filters(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Includes narrow to what they match, excludes win over includes, and
    /// any of the names may match.
    #[test]
    fn includes_narrow_and_excludes_win() {
        let none = Filters::default();
        assert!(none.allows(&["anything"]));
        let f = Filters::parse(["fib*", "!fib_slow"]).unwrap();
        assert!(f.allows(&["fibonacci"]));
        assert!(f.allows(&["x", "fib_fast"]));
        assert!(!f.allows(&["fib_slow"]));
        assert!(!f.allows(&["main"]));
        let only_excludes = Filters::parse(["!std::*"]).unwrap();
        assert!(only_excludes.allows(&["main"]));
        assert!(!only_excludes.allows(&["main", "std::rt::lang_start"]));
    }

    /// An empty pattern is refused, naming what was given.
    #[test]
    fn empty_patterns_are_refused() {
        assert_eq!(Filter::parse("!"), Err(BadFilter("!".into())));
        assert_eq!(
            Filter::parse("").unwrap_err().to_string(),
            "bad filter pattern ``"
        );
    }
}
