//! The command line: one module per subcommand, each an `Opts` with its
//! `run()`; flag groups they share live in `flags`, exit statuses in
//! `exit`.

mod exit;
mod flags;
mod graph;
mod instrument;
mod record;
mod recorded;
mod replay;
mod report;
mod run;
mod serve;

pub use exit::Failure;

use clap::{Parser, Subcommand};
use ruchy_trace::compile;
use ruchy_trace::ruchy_trace_core::ruchy::RuchySource;
use std::path::Path;
use std::process::ExitCode;

/// Makes WebAssembly programs explain themselves: every function reports
/// its entry with its arguments and its exit with its return value.
#[derive(Parser, Debug)]
#[command(name = "ruchy-trace", version, after_help = exit::HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Instrument a module, run it under wasmtime and write its call trace.
    ///
    /// Without --invoke, MODULE is a WASI preview 1 command: `_start` runs
    /// with ARGS as its arguments, the guest's stdout, stderr and exit status
    /// pass through untouched, and the trace goes to stderr (or -o) after
    /// the guest finishes. The guest sees no files and no environment
    /// variables unless granted with --dir and --env.
    ///
    /// MODULE may also be a `.ruchy` program: it is compiled first with
    /// `ruchy transpile` and rustc (wasm32-wasip1, debug info, opt-level 0),
    /// which needs ruchy installed. Compiled programs are cached by content
    /// in $RUCHY_TRACE_CACHE, else $XDG_CACHE_HOME/ruchy-trace, else
    /// ~/.cache/ruchy-trace: an unchanged program runs again without
    /// recompiling. Next to a `.wasm`, a `.ruchy` file of the same name (and
    /// its transpiled `.rs`) is read so functions, methods and closures are
    /// named and located as in it (`<fibonacci.ruchy:1:5>`).
    ///
    /// Example: ruchy-trace run tests/fixtures/fibonacci.wasm
    #[command(after_help = exit::HELP)]
    Run(run::Opts),
    /// Run like `run`, but stream the trace to a compact `.rtrace` file
    /// (given with -o) to replay, report and graph later without rerunning.
    ///
    /// The file is written as the program runs, so a trace larger than
    /// memory fits; a run that dies leaves a file whose complete part
    /// replays.
    ///
    /// Example: ruchy-trace record tests/fixtures/fibonacci.wasm -o fib.rtrace
    #[command(after_help = exit::HELP)]
    Record(record::Opts),
    /// Print a recorded trace in any format, filtered after the fact.
    ///
    /// Example: ruchy-trace replay fib.rtrace --depth 2 --time-threshold 10us
    Replay(replay::Opts),
    /// Per-function totals of a recorded trace: calls, total, self, average,
    /// minimum and maximum time.
    ///
    /// Example: ruchy-trace report fib.rtrace --sort self
    Report(report::Opts),
    /// The call tree of a recorded trace with counts and times, and flame
    /// graphs: folded stacks (for flamegraph.pl, inferno, speedscope) and
    /// an SVG.
    ///
    /// Example: ruchy-trace graph fib.rtrace --folded fib.folded --svg fib.svg
    Graph(graph::Opts),
    /// Serve the playground's Trace tab (built into this binary) on
    /// 127.0.0.1, with a compile endpoint that turns the page's Ruchy editor
    /// into wasm when ruchy is installed here. Only the page itself may use
    /// it: requests must name this server in Host and Origin.
    ///
    /// Example: ruchy-trace serve --port 8080   # then open http://127.0.0.1:8080/
    Serve(serve::Opts),
    /// Instrument a module and write the result, to run in any host.
    ///
    /// The output carries its function table in a `ruchy-trace` custom
    /// section and imports `ruchy_trace.flush` (or, with --hooks, one
    /// `ruchy_trace.enter_*`/`exit_*` hook per signature).
    ///
    /// Example: ruchy-trace instrument fibonacci.wasm -o fibonacci.traced.wasm
    Instrument(instrument::Opts),
}

/// Parses the command line and runs the subcommand.
pub fn main() -> Result<ExitCode, Failure> {
    match Cli::parse().command {
        Command::Run(opts) => opts.run(),
        Command::Record(opts) => opts.run(),
        Command::Replay(opts) => opts.run(),
        Command::Report(opts) => opts.run(),
        Command::Graph(opts) => opts.run(),
        Command::Serve(opts) => opts.run(),
        Command::Instrument(opts) => opts.run(),
    }
}

/// The module's bytes and the Ruchy source its locations can point at: a
/// `.ruchy` program is compiled; a `.wasm` takes the `.ruchy` beside it.
fn load_program(path: &Path) -> Result<(Vec<u8>, Vec<RuchySource>), Failure> {
    let source = |p: &Path| -> Option<RuchySource> {
        let text = std::fs::read_to_string(p).ok()?;
        Some(RuchySource {
            file: p.file_name()?.to_string_lossy().into_owned(),
            text,
            transpiled: std::fs::read_to_string(p.with_extension("rs")).ok(),
        })
    };
    if path.extension().is_some_and(|e| e == "ruchy") {
        let mut text = source(path).ok_or_else(|| {
            Failure::new(exit::NO_INPUT, format!("cannot read {}", path.display()))
        })?;
        let compiled = compile::compile_program(path).map_err(|e| exit::compile_failed(path, e))?;
        text.transpiled = Some(compiled.transpiled);
        return Ok((compiled.wasm, vec![text]));
    }
    let wasm = std::fs::read(path).map_err(|e| Failure::no_input(path, e))?;
    Ok((
        wasm,
        source(&path.with_extension("ruchy")).into_iter().collect(),
    ))
}

/// Writes `text` to `path` (through a temporary file renamed into place),
/// or to stdout when no path is given.
fn write_text(path: Option<&Path>, text: &str) -> Result<(), Failure> {
    crate::output::write_to(path, |w| w.write_all(text.as_bytes())).map_err(|e| match path {
        Some(p) => Failure::write(p, e),
        None => Failure::new(exit::IO, format!("cannot write to stdout: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own consistency checks over every subcommand and flag: no two
    /// flags share a name or short, defaults parse, aliases do not clash.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
