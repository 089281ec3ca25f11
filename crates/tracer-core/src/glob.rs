//! Shell-style name patterns (`*`, `?`) for filters.

/// Whether `name` matches `pattern`, where `*` matches any run of characters
/// (`::` included) and `?` any one character.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: alloc::vec::Vec<char> = pattern.chars().collect();
    let n: alloc::vec::Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("fib*", "fibonacci"));
        assert!(matches("*", ""));
        assert!(matches("std::*", "std::io::_print"));
        assert!(matches("f?b", "fib"));
        assert!(!matches("fib", "fibonacci"));
        assert!(!matches("*::main", "main"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b", "xxaxxbxxc"));
    }
}
