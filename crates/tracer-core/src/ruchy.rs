//! Ruchy sources: where each function, method and closure of a `.ruchy`
//! program is defined, found from the structure of its text.
//!
//! The Ruchy toolchain transpiles `X.ruchy` to `X.rs` and compiles that, so
//! the debug information names Rust items at lines of `X.rs`. A small
//! tokenizer of Ruchy's lexical grammar (comments `//`, `/* */` nested and
//! `#`; strings plain, raw, format and byte; chars and lifetimes) feeds an
//! outline of the items: `fun`/`fn` definitions, nested or inside `impl`
//! blocks, and closures with the `let` that binds them. The same outline
//! of the transpiled Rust tells which closure a Rust closure is, since both
//! programs define them in the same order.

use crate::relocate::{path_segments, Relocate};
use crate::table::{FunctionInfo, Location};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// The segment closures take in a path, as Rust's demangled names spell it.
pub const CLOSURE: &str = "{{closure}}";

/// A Ruchy program's source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuchySource {
    /// Its file name as it should be shown (`fibonacci.ruchy`).
    pub file: String,
    /// Its text.
    pub text: String,
    /// The Rust it was transpiled to, when known: it tells closures apart
    /// exactly; without it they are matched by order.
    pub transpiled: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(&'a str),
    /// A literal: string, char, number.
    Literal,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    line: u32,
    column: u32,
    /// Whether a line break came before it.
    newline_before: bool,
}

const PUNCT3: &[&str] = &["..=", "...", "<<=", ">>=", "**="];
const PUNCT2: &[&str] = &[
    "::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "..", "|>", "+=", "-=", "*=", "/=", "%=",
    "<<", ">>", "++", "--", "**", "?.", "??", "<-", "<?",
];

/// Splits `text` into tokens, dropping comments and whitespace.
fn tokenize(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    let mut newline = true;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let (tline, tcol) = (line, (i - line_start) as u32 + 1);
        let advance_to = |to: usize, line: &mut u32, line_start: &mut usize| {
            for (k, b) in bytes[start..to.min(bytes.len())].iter().enumerate() {
                if *b == b'\n' {
                    *line += 1;
                    *line_start = start + k + 1;
                }
            }
            to.min(bytes.len())
        };
        let rest = &text[i..];
        // Comments and whitespace.
        if c == b'\n' {
            line += 1;
            i += 1;
            line_start = i;
            newline = true;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if rest.starts_with("//") || (c == b'#' && !rest.starts_with("#[")) {
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        if rest.starts_with("/*") {
            let mut depth = 0usize;
            let mut j = i;
            while j < bytes.len() {
                if text[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if text[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            i = advance_to(j, &mut line, &mut line_start);
            continue;
        }
        let tok;
        if let Some(end) = string_end(rest) {
            i = advance_to(i + end, &mut line, &mut line_start);
            tok = Tok::Literal;
        } else if c == b'\'' {
            // A char ('a', '\n'), a lifetime ('a) or a single-quoted string.
            let after = &rest[1..];
            let mut chars = after.char_indices();
            let first = chars.next();
            let end = match first {
                Some((_, '\\')) => after[2.min(after.len())..].find('\'').map(|k| k + 3 + 1),
                Some((_, ch)) if after[ch.len_utf8()..].starts_with('\'') => {
                    Some(1 + ch.len_utf8() + 1)
                }
                _ => None,
            };
            match end {
                Some(end) => {
                    i += end;
                    tok = Tok::Literal;
                }
                None => {
                    let ident_len = after
                        .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                        .unwrap_or(after.len());
                    if ident_len > 0 {
                        i += 1 + ident_len;
                        tok = Tok::Ident(&text[start..i]);
                    } else {
                        i += 1;
                        tok = Tok::Punct(&text[start..i]);
                    }
                }
            }
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric()
                    || bytes[j] == b'_'
                    || (bytes[j] == b'.' && bytes.get(j + 1).is_some_and(|b| b.is_ascii_digit())))
            {
                j += 1;
            }
            i = j;
            tok = Tok::Literal;
        } else if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 {
            let len = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            i += len.max(1);
            tok = Tok::Ident(&text[start..i]);
        } else {
            let len = if PUNCT3.iter().any(|p| rest.starts_with(p)) {
                3
            } else if PUNCT2.iter().any(|p| rest.starts_with(p)) {
                2
            } else {
                rest.chars().next().map_or(1, char::len_utf8)
            };
            i += len;
            tok = Tok::Punct(&text[start..i]);
        }
        out.push(Token {
            tok,
            line: tline,
            column: tcol,
            newline_before: newline,
        });
        newline = false;
    }
    out
}

/// The length of the string literal `s` starts with, if it starts with one
/// (`"…"`, `f"…"`, `b"…"`, `r"…"`, `r#"…"#`), up to the end of the text
/// when it is not closed.
fn string_end(s: &str) -> Option<usize> {
    let (prefix, hashes) = if s.starts_with("r#") || s.starts_with("br#") {
        let p = if s.starts_with('b') { 2 } else { 1 };
        let n = s[p..].bytes().take_while(|&b| b == b'#').count();
        (p + n, n)
    } else if s.starts_with("r\"") || s.starts_with("f\"") || s.starts_with("b\"") {
        (1, 0)
    } else if s.starts_with("br\"") {
        (2, 0)
    } else {
        (0, 0)
    };
    if !s[prefix..].starts_with('"') {
        return None;
    }
    let raw = s.starts_with('r') || s.starts_with("br");
    let body = prefix + 1;
    let bytes = s.as_bytes();
    let mut j = body;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if !raw => j += 2,
            b'"' if bytes[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&b| b == b'#')
                .count()
                == hashes =>
            {
                return Some(j + 1 + hashes);
            }
            _ => j += 1,
        }
    }
    Some(bytes.len())
}

/// Something a program defines that becomes a function of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The path Rust names it by: `["area"]`, `["Circle", "area"]` for a
    /// method, `["outer", "inner"]` for a nested function,
    /// `["main", "{{closure}}"]` for a closure in `main`.
    pub path: Vec<String>,
    /// For a closure bound by `let NAME = |…|`: `NAME`.
    pub binding: Option<String>,
    /// 1-based line of its name (or of a closure's opening `|`).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The line its body ends on (its closing `}`, or the last line of a
    /// closure's expression).
    pub end_line: u32,
}

/// The items of a program, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outline {
    /// Functions, methods and closures.
    pub definitions: Vec<Definition>,
    /// The first statement outside any item (a script's first line), which
    /// the transpiler moves into a `main` it writes.
    pub first_statement: Option<(u32, u32)>,
}

impl Outline {
    /// Whether the program defines `main` itself.
    pub fn has_main(&self) -> bool {
        self.definitions.iter().any(|d| d.path == ["main"])
    }
}

#[derive(Debug)]
enum Scope {
    /// An `impl` block of this type.
    Impl(String),
    /// The body of a function, with its path and definition's index.
    Function(Vec<String>, usize),
    /// A closure body: a block, or an expression that ends at a `,`, `;`, a
    /// closing bracket or a new line at the bracket depth it started at.
    Closure {
        path: Vec<String>,
        block: bool,
        def: usize,
    },
    /// Any other braces.
    Block,
}

const ITEM_KEYWORDS: &[&str] = &[
    "struct", "enum", "impl", "trait", "use", "import", "mod", "module", "const", "type", "pub",
    "static", "extern", "class", "actor", "export",
];

/// Reads the structure of a Ruchy (or transpiled Rust) program.
pub fn outline(text: &str) -> Outline {
    let tokens = tokenize(text);
    let mut out = Outline::default();
    // Scopes with the bracket depth each opened at.
    let mut scopes: Vec<(Scope, usize)> = Vec::new();
    let mut brackets = 0usize;
    // A scope to open at the next `{` (a function's or an impl's body).
    let mut pending: Option<Scope> = None;
    // Whether the tokens at top level are inside an item (not a statement).
    let mut top_item = false;
    let current_path = |scopes: &[(Scope, usize)]| -> Vec<String> {
        scopes
            .iter()
            .rev()
            .find_map(|(s, _)| match s {
                Scope::Function(p, _) | Scope::Closure { path: p, .. } => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let mut k = 0;
    while k < tokens.len() {
        let t = tokens[k];
        let prev = k.checked_sub(1).map(|p| tokens[p].tok);
        // An expression closure ends before this token?
        while let Some((Scope::Closure { block: false, .. }, depth)) = scopes.last() {
            let ends = match t.tok {
                Tok::Punct(",") | Tok::Punct(";") => brackets == *depth,
                Tok::Punct(")") | Tok::Punct("]") | Tok::Punct("}") => brackets <= *depth,
                _ => t.newline_before && brackets == *depth,
            };
            if !ends {
                break;
            }
            if let Some((Scope::Closure { def, .. }, _)) = scopes.pop() {
                let last = k.checked_sub(1).map_or(t.line, |p| tokens[p].line);
                out.definitions[def].end_line = last;
            }
        }
        let at_top = scopes.is_empty() && brackets == 0 && pending.is_none();
        if at_top && !top_item {
            match t.tok {
                Tok::Ident("fun") | Tok::Ident("fn") => {}
                Tok::Ident(kw) if ITEM_KEYWORDS.contains(&kw) => top_item = true,
                Tok::Punct("#") | Tok::Punct(";") => top_item = matches!(t.tok, Tok::Punct("#")),
                _ => {
                    if out.first_statement.is_none() {
                        out.first_statement = Some((t.line, t.column));
                    }
                }
            }
        }
        match t.tok {
            Tok::Ident("fun") | Tok::Ident("fn") => {
                if let Some(Tok::Ident(name)) = tokens.get(k + 1).map(|n| n.tok) {
                    let mut path = match scopes.last() {
                        Some((Scope::Impl(ty), _)) => alloc::vec![ty.clone()],
                        _ => current_path(&scopes),
                    };
                    path.push(name.to_string());
                    let name_tok = tokens[k + 1];
                    out.definitions.push(Definition {
                        path: path.clone(),
                        binding: None,
                        line: name_tok.line,
                        column: name_tok.column,
                        end_line: name_tok.line,
                    });
                    pending = Some(Scope::Function(path, out.definitions.len() - 1));
                    k += 2;
                    continue;
                }
            }
            // `impl` inside a signature (`-> impl Fn(i64) -> i64`) is a
            // type, not the start of an `impl` block.
            Tok::Ident("impl") if pending.is_none() => {
                pending = Some(Scope::Impl(impl_type(&tokens[k + 1..])));
            }
            Tok::Ident("class") => {
                if let Some(Tok::Ident(name)) = tokens.get(k + 1).map(|n| n.tok) {
                    pending = Some(Scope::Impl(name.to_string()));
                }
            }
            // A class constructor, `pub new(…)`: a method without `fun`.
            Tok::Ident(name)
                if matches!(scopes.last(), Some((Scope::Impl(_), _)))
                    && tokens.get(k + 1).map(|n| n.tok) == Some(Tok::Punct("("))
                    && (t.newline_before || prev == Some(Tok::Ident("pub")))
                    && pending.is_none() =>
            {
                let Some((Scope::Impl(ty), _)) = scopes.last() else {
                    unreachable!("matched above")
                };
                let path = alloc::vec![ty.clone(), name.to_string()];
                out.definitions.push(Definition {
                    path: path.clone(),
                    binding: None,
                    line: t.line,
                    column: t.column,
                    end_line: t.line,
                });
                pending = Some(Scope::Function(path, out.definitions.len() - 1));
            }
            Tok::Punct("|") | Tok::Punct("||") if closure_may_start(prev) => {
                let mut path = current_path(&scopes);
                if path.is_empty() {
                    path.push("main".to_string());
                }
                path.push(CLOSURE.to_string());
                out.definitions.push(Definition {
                    path: path.clone(),
                    binding: let_binding(&tokens[..k]),
                    line: t.line,
                    column: t.column,
                    end_line: t.line,
                });
                let def = out.definitions.len() - 1;
                // Skip the parameters.
                let mut j = k + 1;
                if t.tok == Tok::Punct("|") {
                    while j < tokens.len() && tokens[j].tok != Tok::Punct("|") {
                        j += 1;
                    }
                    j += 1;
                }
                // An optional `-> Type` before a block body.
                if tokens.get(j).map(|t| t.tok) == Some(Tok::Punct("->")) {
                    while j < tokens.len() && tokens[j].tok != Tok::Punct("{") {
                        j += 1;
                    }
                }
                let block = tokens.get(j).map(|t| t.tok) == Some(Tok::Punct("{"));
                if block {
                    pending = Some(Scope::Closure {
                        path,
                        block: true,
                        def,
                    });
                } else {
                    scopes.push((
                        Scope::Closure {
                            path,
                            block: false,
                            def,
                        },
                        brackets,
                    ));
                }
                k = j;
                continue;
            }
            Tok::Punct("{") => {
                let scope = pending.take().unwrap_or(Scope::Block);
                scopes.push((scope, brackets));
                brackets += 1;
            }
            Tok::Punct("(") | Tok::Punct("[") => brackets += 1,
            Tok::Punct(")") | Tok::Punct("]") => brackets = brackets.saturating_sub(1),
            Tok::Punct("}") => {
                brackets = brackets.saturating_sub(1);
                while let Some((_, depth)) = scopes.last() {
                    let depth = *depth;
                    if depth >= brackets {
                        match scopes.pop() {
                            Some((Scope::Function(_, def), _))
                            | Some((Scope::Closure { def, .. }, _)) => {
                                out.definitions[def].end_line = t.line;
                            }
                            _ => {}
                        }
                    }
                    if depth <= brackets {
                        break;
                    }
                }
                if scopes.is_empty() && brackets == 0 {
                    top_item = false;
                }
            }
            Tok::Punct(";") => {
                // A body-less declaration (`fun f(&self);` in a trait).
                if matches!(pending, Some(Scope::Function(..))) {
                    pending = None;
                }
                if scopes.is_empty() && brackets == 0 {
                    top_item = false;
                }
            }
            _ => {}
        }
        k += 1;
    }
    out
}

/// The type an `impl` block is for: `impl Foo`, `impl<T> Foo<T>`,
/// `impl Trait for Foo`.
fn impl_type(after: &[Token<'_>]) -> String {
    let mut angle = 0i32;
    let mut first = None;
    let mut after_for = None;
    let mut saw_for = false;
    for t in after {
        match t.tok {
            Tok::Punct("{") | Tok::Punct(";") => break,
            Tok::Punct("<") => angle += 1,
            Tok::Punct(">") => angle -= 1,
            Tok::Punct(">>") => angle -= 2,
            Tok::Ident("for") if angle == 0 => saw_for = true,
            Tok::Ident(name) if angle == 0 && name != "where" => {
                if saw_for {
                    after_for = after_for.or(Some(name));
                } else {
                    // The last segment of a path `a::b::Foo`.
                    first = Some(name);
                }
            }
            _ => {}
        }
    }
    after_for.or(first).unwrap_or("?").to_string()
}

/// Whether a `|` after `prev` starts a closure rather than an `or`.
fn closure_may_start(prev: Option<Tok<'_>>) -> bool {
    match prev {
        None => true,
        Some(Tok::Literal) => false,
        Some(Tok::Ident(kw)) => matches!(kw, "move" | "return" | "in" | "else"),
        Some(Tok::Punct(p)) => !matches!(p, ")" | "]" | "}" | "?"),
    }
}

/// `NAME` when the tokens end with `let [mut] NAME [: Type] =` (or `move`).
fn let_binding(before: &[Token<'_>]) -> Option<String> {
    let mut end = before.len();
    if let Some(Tok::Ident("move")) = before.last().map(|t| t.tok) {
        end -= 1;
    }
    if before.get(end.checked_sub(1)?)?.tok != Tok::Punct("=") {
        return None;
    }
    // Walk back to the `let`, through an optional type annotation.
    let stmt = &before[..end - 1];
    let let_at = stmt.iter().rposition(|t| t.tok == Tok::Ident("let"))?;
    let mut names = stmt[let_at + 1..].iter().map(|t| t.tok);
    let mut name = names.next()?;
    if name == Tok::Ident("mut") {
        name = names.next()?;
    }
    match (name, names.next()) {
        (Tok::Ident(n), None | Some(Tok::Punct(":"))) => Some(n.to_string()),
        _ => None,
    }
}

/// The file name without directories or extension.
fn stem(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.rsplit_once('.').map_or(base, |(s, _)| s)
}

impl RuchySource {
    /// This source as a relocator a host can hand to the instrumenter.
    pub fn shared(self) -> Arc<dyn Relocate> {
        Arc::new(self)
    }

    fn location(&self, line: u32, column: u32) -> Location {
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// Whether `f` was compiled from this source (its debug information
    /// points at the `.rs` file of the same name).
    fn defines(&self, f: &FunctionInfo) -> bool {
        f.location
            .as_ref()
            .is_some_and(|l| l.file.ends_with(".rs") && stem(&l.file) == stem(&self.file))
    }
}

impl Relocate for RuchySource {
    fn relocate(&self, functions: &mut [FunctionInfo]) {
        let source = outline(&self.text);
        let generated = self.transpiled.as_deref().map(outline);
        let closures_of = |o: &Outline, parent: &[String]| -> Vec<Definition> {
            o.definitions
                .iter()
                .filter(|d| {
                    d.path.last().map(String::as_str) == Some(CLOSURE)
                        && d.path[..d.path.len() - 1] == *parent
                })
                .cloned()
                .collect()
        };
        // Closures without the transpiled text: the traced ones of each
        // parent, in order of their line in the Rust.
        let mut by_order: Vec<(u32, u32, usize)> = Vec::new();
        for (i, f) in functions.iter().enumerate() {
            if self.defines(f) {
                let l = f.location.as_ref().map_or(0, |l| l.line);
                by_order.push((l, f.wasm_index, i));
            }
        }
        by_order.sort_unstable();
        let mut renamed: Vec<(usize, String, Location)> = Vec::new();
        for &(rs_line, _, i) in &by_order {
            let f = &functions[i];
            let path = path_segments(&f.name);
            if path.last().map(String::as_str) != Some(CLOSURE) {
                if let Some(d) = source.definitions.iter().find(|d| d.path == path) {
                    renamed.push((i, f.name.clone(), self.location(d.line, d.column)));
                } else if path == ["main"] && !source.has_main() {
                    if let Some((line, column)) = source.first_statement {
                        renamed.push((i, f.name.clone(), self.location(line, column)));
                    }
                }
                continue;
            }
            let parent = &path[..path.len() - 1];
            let ours = closures_of(&source, parent);
            let index = match &generated {
                Some(g) => closures_of(g, parent)
                    .iter()
                    .position(|d| d.line == rs_line),
                None => by_order
                    .iter()
                    .filter(|&&(_, _, j)| path_segments(&functions[j].name) == path)
                    .position(|&(_, _, j)| j == i),
            };
            let Some(d) = index.and_then(|n| ours.get(n)) else {
                continue;
            };
            let location = self.location(d.line, d.column);
            let name = match &d.binding {
                Some(b) => b.clone(),
                None => {
                    let owner = parent
                        .iter()
                        .filter(|s| *s != CLOSURE)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("::");
                    format!("<closure in {owner} at {}:{}>", self.file, d.line)
                }
            };
            renamed.push((i, name, location));
        }
        for (i, name, location) in renamed {
            functions[i].name = name;
            functions[i].location = Some(location);
        }
    }
}

/// The Ruchy definition that line `rs_line` of the transpiled Rust belongs
/// to: the innermost function, method or closure around that line in the
/// Rust, matched to the Ruchy one with the same path and order.
pub fn enclosing<'o>(ruchy: &'o Outline, rust: &Outline, rs_line: u32) -> Option<&'o Definition> {
    let inner = rust
        .definitions
        .iter()
        .filter(|d| d.line <= rs_line && rs_line <= d.end_line)
        .max_by_key(|d| d.line)?;
    let nth = rust
        .definitions
        .iter()
        .filter(|d| d.path == inner.path)
        .position(|d| core::ptr::eq(d, inner))?;
    ruchy
        .definitions
        .iter()
        .filter(|d| d.path == inner.path)
        .nth(nth)
}

/// The first error of a compiler's output, and the place it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The error line (`error[E0433]: cannot find …`).
    pub message: String,
    /// Where it points (`prog.rs`, line, column), when it says.
    pub at: Option<(String, u32, u32)>,
}

/// The first *error* rustc printed: warnings before it are skipped, and
/// the `-->` line under it gives its place.
pub fn first_rustc_error(stderr: &str) -> Option<Diagnostic> {
    let mut lines = stderr.lines();
    while let Some(line) = lines.next() {
        let is_error = line.starts_with("error[") || line.starts_with("error:");
        if !is_error || line.starts_with("error: aborting") {
            continue;
        }
        let at = lines
            .clone()
            .take_while(|l| !l.starts_with("error") && !l.starts_with("warning"))
            .find_map(|l| {
                let place = l.trim_start().strip_prefix("--> ")?;
                let mut parts = place.rsplitn(3, ':');
                let column = parts.next()?.parse().ok()?;
                let line = parts.next()?.parse().ok()?;
                Some((parts.next()?.to_string(), line, column))
            });
        return Some(Diagnostic {
            message: line.to_string(),
            at,
        });
    }
    None
}

/// What `ruchy transpile` said went wrong, on one line: its error and
/// the cause under it (`Failed to parse input: Expected field name`).
pub fn ruchy_error(output: &str) -> String {
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut message = String::new();
    while let Some(line) = lines.next() {
        if let Some(e) = line.strip_prefix("Error: ") {
            message = e.to_string();
        } else if line == "Caused by:" {
            if let Some(cause) = lines.next() {
                message = format!("{message}: {cause}");
            }
            break;
        } else if message.is_empty() {
            message = line.to_string();
        }
    }
    message
}

impl RuchySource {
    /// A rustc failure on this program's transpiled Rust, said in terms of
    /// the Ruchy source: the first error, and the `.ruchy` definition its
    /// line belongs to when the transpiled text is known.
    pub fn explain_rustc_error(&self, stderr: &str) -> String {
        let Some(d) = first_rustc_error(stderr) else {
            return String::from("no error message");
        };
        let mut out = d.message.clone();
        if let Some((file, line, column)) = &d.at {
            out.push_str(&format!(" at {file}:{line}:{column}"));
            if let Some(rust) = self.transpiled.as_deref().map(outline) {
                let ruchy = outline(&self.text);
                if let Some(def) = enclosing(&ruchy, &rust, *line) {
                    let name = def.binding.clone().unwrap_or_else(|| def.path.join("::"));
                    out.push_str(&format!(", in `{name}` ({}:{})", self.file, def.line));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn paths(o: &Outline) -> Vec<(String, Option<String>, u32)> {
        o.definitions
            .iter()
            .map(|d| (d.path.join("::"), d.binding.clone(), d.line))
            .collect()
    }

    #[test]
    fn outlines_functions_methods_and_closures() {
        let src = r#"// fun commented_out() {}
/* fun also_not() { /* nested */ } */
struct Circle { r: f64 }
impl Circle {
    fun area(&self) -> f64 { 3.0 * self.r * self.r }
}
impl Shape for Rect {
    fn area(&self) -> f64 { let s = "fun fake() {"; self.w }
}
fun main() {
    let add = |a, b| a + b
    let total = [1, 2].map(|x| x * 2).len()
    let c = 'a'
    fun inner(x: i64) -> i64 { x | 1 }
}
"#;
        let o = outline(src);
        assert_eq!(
            paths(&o),
            vec![
                ("Circle::area".into(), None, 5),
                ("Rect::area".into(), None, 8),
                ("main".into(), None, 10),
                ("main::{{closure}}".into(), Some("add".into()), 11),
                ("main::{{closure}}".into(), None, 12),
                ("main::inner".into(), None, 14),
            ]
        );
        assert_eq!(o.first_statement, None);
        assert!(o.has_main());
        let class = outline(
            "class Counter {\n    count: i32\n\n    pub new(n: i32) -> Counter {\n        Counter { count: n }\n    }\n\n    pub fun get(&self) -> i32 {\n        self.count\n    }\n}\nlet c = Counter::new(1)\n",
        );
        assert_eq!(
            paths(&class),
            vec![
                ("Counter::new".into(), None, 4),
                ("Counter::get".into(), None, 8)
            ]
        );
        assert_eq!(class.first_statement, Some((12, 1)));
    }

    #[test]
    fn scripts_have_a_first_statement() {
        let src = "fun f(x: i64) -> i64 {\n    x\n}\n\n// a comment\nlet inc = |x: i64| x + 1;\nprintln(f(inc(1)));\n";
        let o = outline(src);
        assert_eq!(o.first_statement, Some((6, 1)));
        assert_eq!(
            paths(&o),
            vec![
                ("f".into(), None, 1),
                ("main::{{closure}}".into(), Some("inc".into()), 6)
            ]
        );
        assert!(!o.has_main());
    }

    #[test]
    fn block_closures_nest_and_or_is_not_a_closure() {
        let src = "fun g(v: Vec<i64>) -> bool {\n    let f = move |x: i64| -> i64 {\n        let h = |y| y;\n        h(x)\n    };\n    a || b\n}\n";
        let o = outline(src);
        assert_eq!(
            paths(&o),
            vec![
                ("g".into(), None, 1),
                ("g::{{closure}}".into(), Some("f".into()), 2),
                ("g::{{closure}}::{{closure}}".into(), Some("h".into()), 3),
            ]
        );
    }

    /// `impl` in a return type is a type, not an `impl` block: the closure a
    /// function returns belongs to that function.
    #[test]
    fn impl_in_a_signature_does_not_open_an_impl_block() {
        let src = "fun make() -> impl Fn(i64) -> i64 {\n    |x: i64| x * 2\n}\n\nfun main() {\n    let d = make();\n}\n";
        let o = outline(src);
        assert_eq!(
            paths(&o),
            vec![
                ("make".into(), None, 1),
                ("make::{{closure}}".into(), None, 2),
                ("main".into(), None, 5),
            ]
        );
    }

    fn function(name: &str, file: &str, line: u32) -> FunctionInfo {
        FunctionInfo {
            wasm_index: line,
            raw_name: name.into(),
            name: name.into(),
            params: vec![],
            results: vec![],
            param_names: vec![],
            location: Some(Location {
                file: file.into(),
                line,
                column: 0,
            }),
            source: None,
            import: None,
        }
    }

    #[test]
    fn relocates_methods_closures_and_a_synthesized_main() {
        let ruchy = "struct A {}\nimpl A {\n    fun get(&self) -> i64 { 1 }\n}\nimpl B {\n    fun get(&self) -> i64 { 2 }\n}\nlet add = |a: i64, b: i64| a + b;\nprintln(add(1, 2));\nlet v = [1].map(|x| x + 1);\n";
        let rust = "struct A {}\nimpl A {\n    fn get(&self) -> i64 { 1 }\n}\nimpl B {\n    fn get(&self) -> i64 { 2 }\n}\nfn main() {\n    let add = |a: i64, b: i64| a + b;\n    println!(\"{:?}\", add(1, 2));\n    let v = [1].map(|x| x + 1);\n}\n";
        let src = RuchySource {
            file: "p.ruchy".into(),
            text: ruchy.into(),
            transpiled: Some(rust.into()),
        };
        let mut fs = vec![
            function("A::get", "p.rs", 3),
            function("B::get", "p.rs", 6),
            function("main", "p.rs", 8),
            // Only the second closure is traced: the transpiled text still
            // tells which one it is.
            function("main::{{closure}}", "p.rs", 11),
            function("other", "q.rs", 1),
        ];
        src.relocate(&mut fs);
        let got: Vec<(String, Option<(String, u32)>)> = fs
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.location.as_ref().map(|l| (l.file.clone(), l.line)),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("A::get".into(), Some(("p.ruchy".into(), 3))),
                ("B::get".into(), Some(("p.ruchy".into(), 6))),
                ("main".into(), Some(("p.ruchy".into(), 8))),
                (
                    "<closure in main at p.ruchy:10>".into(),
                    Some(("p.ruchy".into(), 10))
                ),
                ("other".into(), Some(("q.rs".into(), 1))),
            ]
        );
        // Without the transpiled text, the traced closures are taken in order.
        let mut fs = vec![function("main::{{closure}}", "p.rs", 9)];
        RuchySource {
            transpiled: None,
            ..src
        }
        .relocate(&mut fs);
        assert_eq!(fs[0].name, "add");
        assert_eq!(fs[0].location.as_ref().map(|l| l.line), Some(8));
    }

    #[test]
    fn strings_chars_and_lifetimes_tokenize() {
        let toks = tokenize("r#\"a \"quoted\" b\"# 'x' '\\n' 'a f\"{x}\" x");
        let kinds: Vec<Tok<'_>> = toks.iter().map(|t| t.tok).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Literal,
                Tok::Literal,
                Tok::Literal,
                Tok::Ident("'a"),
                Tok::Literal,
                Tok::Ident("x")
            ]
        );
    }

    #[test]
    fn rustc_errors_point_into_the_ruchy_source() {
        let stderr = "warning: unused import: `std::fmt`\n --> p.rs:1:5\n  |\n\nerror[E0308]: mismatched types\n --> p.rs:7:9\n  |\n7 |         x\n\nerror: aborting due to 1 previous error\n";
        assert_eq!(
            first_rustc_error(stderr),
            Some(Diagnostic {
                message: "error[E0308]: mismatched types".into(),
                at: Some(("p.rs".into(), 7, 9)),
            })
        );
        let src = RuchySource {
            file: "p.ruchy".into(),
            text: "fun f() -> i64 {\n    1\n}\n\nfun g(x: i64) -> String {\n    x\n}\n".into(),
            transpiled: Some(
                "use std::fmt;\nfn f() -> i64 {\n    1\n}\n\nfn g(x: i64) -> String {\n        x\n}\n".into(),
            ),
        };
        assert_eq!(
            src.explain_rustc_error(stderr),
            "error[E0308]: mismatched types at p.rs:7:9, in `g` (p.ruchy:5)"
        );
        assert_eq!(first_rustc_error("warning: x\n"), None);
        assert_eq!(
            ruchy_error("Error: Failed to parse input\n\nCaused by:\n    Expected field name\n"),
            "Failed to parse input: Expected field name"
        );
    }
}
