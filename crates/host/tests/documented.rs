//! Every command the documentation shows runs: the command lines of
//! README.md's `sh` code blocks and the `Example:` lines of every
//! subcommand's `--help`, against the bundled fixtures.
//!
//! The documentation names example files (`prog.wasm`, `lib.wasm`); `NAMES`
//! says which fixture stands for each. Commands run in order, in a scratch
//! directory that links `tests/` and `www/` from the repository, so the
//! files one command writes (`run.rtrace`) are there for the next. A command
//! that cannot run here is on `NOT_RUN` with the reason, and `serve` runs
//! the special way `serve_answers` describes.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Example names in the documentation, and the fixture each stands for.
const NAMES: &[(&str, &str)] = &[
    // A WASI command that prints `5` and traces 15 fibonacci calls.
    ("prog.wasm", "tests/fixtures/fibonacci.wasm"),
    ("fibonacci.wasm", "tests/fixtures/fibonacci.wasm"),
    // A plain module exporting `run(n: i64) -> i64`, the recursive fibonacci.
    ("lib.wasm", "tests/fixtures/bench/fib_bench.wasm"),
];

/// Documented commands that are not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    // The test script is what runs this test.
    (
        "bash scripts/test.sh",
        "runs the whole suite, this test included",
    ),
    // Compiling Ruchy needs the ruchy compiler, which tests never need.
    ("ruchy-trace run prog.ruchy", "needs the Ruchy compiler"),
];

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Splits a command line as the shell would for these simple commands:
/// words separated by spaces, `'...'` and `"..."` quoted, `# comment` cut.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => break,
            (None, ' ' | '\t') => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The command lines of README.md's `sh` blocks, comments dropped.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        let fence = line.trim_start();
        if let Some(lang) = fence.strip_prefix("```") {
            in_sh = !in_sh && matches!(lang.trim(), "sh" | "bash" | "shell");
            continue;
        }
        if in_sh && !line.trim().is_empty() {
            commands.push(words(line).join(" "));
        }
    }
    commands
}

/// The subcommands `ruchy-trace --help` lists.
fn subcommands() -> Vec<String> {
    let help = text(&ruchy_trace(&["--help"]).stdout);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A name starts after two spaces; wrapped descriptions after more.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// The `Example:` command lines of every subcommand's `--help`.
fn help_examples() -> Vec<String> {
    let mut examples = Vec::new();
    for sub in subcommands() {
        let help = text(&ruchy_trace(&[&sub, "--help"]).stdout);
        for line in help.lines() {
            if let Some(example) = line.trim().strip_prefix("Example: ") {
                examples.push(words(example).join(" "));
            }
        }
    }
    examples
}

/// Runs one documented command line in `dir`, with example names mapped
/// to fixtures, and returns what it printed.
fn run_documented(dir: &Path, line: &str) -> Output {
    let mut args = words(line);
    // `cargo run --release -p ruchy-trace -- ARGS` is the binary with ARGS.
    if args.starts_with(&["cargo".into(), "run".into()]) {
        let at = args.iter().position(|a| a == "--").unwrap();
        args.drain(..=at);
    } else {
        assert_eq!(args[0], "ruchy-trace", "not a ruchy-trace command: {line}");
        args.remove(0);
    }
    // `[-- ARGS]` is the syntax of optional guest arguments: none given.
    if let Some(at) = args.iter().position(|a| a == "[--") {
        assert_eq!(
            args.get(at + 1).map(String::as_str),
            Some("ARGS]"),
            "{line}"
        );
        args.drain(at..at + 2);
    }
    for a in &mut args {
        if let Some((_, fixture)) = NAMES.iter().find(|(name, _)| a == name) {
            *a = (*fixture).to_string();
        }
    }
    Command::new(env!("CARGO_BIN_EXE_ruchy-trace"))
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The files a command line says it writes (`-o`, `--folded`, `--svg`).
fn outputs(line: &str) -> Vec<String> {
    let args = words(line);
    args.windows(2)
        .filter(|w| matches!(w[0].as_str(), "-o" | "--output" | "--folded" | "--svg"))
        .map(|w| w[1].clone())
        .collect()
}

/// `serve` runs until stopped: start it on a free port (instead of the
/// documented one, which may be taken), fetch `/`, and stop it.
fn serve_answers(dir: &Path, line: &str) {
    let mut args = words(line);
    assert_eq!(&args[..2], ["ruchy-trace", "serve"], "{line}");
    args.drain(..2);
    if let Some(at) = args.iter().position(|a| a == "--port") {
        args[at + 1] = "0".into();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_ruchy-trace"));
    command.arg("serve").args(&args).current_dir(dir);
    let (mut child, addr) = serving(command);
    let (status, page) = http(&addr, "GET", "/", b"");
    let page = text(&page);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 200, "{line}: {page}");
    assert!(page.contains("<html"), "{line}: {page}");
}

/// A scratch directory with `tests/` and `www/` of the repository linked in.
fn scratch() -> PathBuf {
    let dir = temp("documented");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["tests", "www"] {
        let link = dir.join(name);
        // Both tests make the same links, possibly at the same moment.
        match std::os::unix::fs::symlink(root().join(name), &link) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("{e}"),
            _ => {}
        }
    }
    dir
}

/// Every documented command line runs and succeeds, and writes the files
/// it names; the README's first command prints what the README shows.
#[test]
fn every_documented_command_runs() {
    let dir = scratch();
    let readme = readme_commands();
    let help = help_examples();
    // Both sources were read: the README has its usage block, and every
    // subcommand's help has one example.
    assert!(
        readme.iter().any(|c| c.starts_with("ruchy-trace record")),
        "{readme:?}"
    );
    assert_eq!(help.len(), subcommands().len(), "{help:?}");
    let not_run: BTreeSet<&str> = NOT_RUN.iter().map(|(c, _)| *c).collect();
    let mut ran = BTreeSet::new();
    for line in readme.iter().chain(&help) {
        if not_run.contains(line.as_str()) {
            continue;
        }
        if line.starts_with("ruchy-trace serve") {
            serve_answers(&dir, line);
            ran.insert(line.clone());
            continue;
        }
        let out = run_documented(&dir, line);
        let err = text(&out.stderr);
        assert!(
            out.status.success(),
            "`{line}` failed ({}): {err}",
            out.status
        );
        assert!(!err.contains("error"), "`{line}`: {err}");
        for file in outputs(line) {
            let len = std::fs::metadata(dir.join(&file)).map(|m| m.len());
            assert!(len.is_ok_and(|n| n > 0), "`{line}` did not write {file}");
        }
        ran.insert(line.clone());
    }
    // Nothing on the list of commands not run has gone from the docs.
    for (line, why) in NOT_RUN {
        assert!(
            readme.iter().chain(&help).any(|c| c == line),
            "`{line}` ({why}) is no longer documented: drop it from NOT_RUN"
        );
    }
    assert!(ran.len() >= 12, "{ran:?}");
}

/// The README's first command prints the program's `5` on stdout and, on
/// stderr, the trace lines the README shows (timestamps and times aside).
#[test]
fn the_readme_trace_is_what_the_first_command_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first = readme_commands().into_iter().next().unwrap();
    let out = run_documented(&scratch(), &first);
    assert_eq!(text(&out.stdout), "5\n");
    let shown: Vec<&str> = readme
        .split("```text\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap()
        .lines()
        .filter(|l| *l != "...")
        .collect();
    assert!(shown.len() >= 5, "{shown:?}");
    // `[1795824041.757696] -> main() ...` without its timestamp, and an
    // exit without its `[0.464ms]` time.
    let strip = |l: &str| -> String {
        let l = if l.starts_with('[') {
            &l[l.find("] ").map_or(0, |i| i + 2)..]
        } else {
            l
        };
        match l.rfind(" [") {
            Some(at) if l.ends_with("ms]") => l[..at].to_string(),
            _ => l.to_string(),
        }
    };
    let printed: Vec<String> = text(&out.stderr).lines().map(strip).collect();
    for line in shown {
        let want = strip(line);
        assert!(
            printed.contains(&want),
            "README shows `{want}`; printed: {printed:?}"
        );
    }
}
