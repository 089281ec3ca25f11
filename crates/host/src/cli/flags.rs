//! Flag groups several subcommands share, flattened into their `Opts`.

use super::exit::Failure;
use crate::output::Format;
use clap::{Args, ValueEnum};
use ruchy_trace::ruchy_trace_core::format::TextOptions;
use ruchy_trace::ruchy_trace_core::{OverflowPolicy, Strategy, TraceOptions};
use ruchy_trace::ruchy_trace_instrument::{self, Filters, Limits, Scope};
use ruchy_trace::{Clock, Entry, RunOptions};
use std::path::PathBuf;
use std::time::Duration;

/// What to trace and how: the instrumenter's choices.
#[derive(Args, Debug)]
pub struct SelectFlags {
    /// Trace every function, not only the program's own. For a Rust or Ruchy
    /// program the own functions are those of the crate that defines `main`;
    /// a module without such names has all its functions counted as own.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub filters: FilterFlags,
    /// Trace one call in N (the exit of a traced call is always paired with
    /// its entry, and depths stay true).
    #[arg(long = "trace-sample", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub sample: u32,
    /// Record no timestamps (ordering only; the cheapest full trace).
    #[arg(long)]
    pub no_timestamps: bool,
    /// Deliver every record through a host call (the portable hook
    /// contract) instead of writing records inline into the trace memory.
    #[arg(long)]
    pub hooks: bool,
    /// Show wasm types and raw values, the proposal's exact style
    /// (`fibonacci(i64=5)`), instead of source names, types and decoded
    /// values from the module's debug information
    /// (`fibonacci(n: i64 = 5)`, `greet(name: String = "Ada")`).
    #[arg(long)]
    pub wasm_types: bool,
    /// Read and show at most BYTES bytes of each string; a longer one is
    /// marked with what was left out (`"abc"…(+12 more bytes)`, JSON
    /// `"truncated": true` and its `"len"`).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_string)]
    pub max_string: u32,
    /// Read and show at most N elements of each vector, slice or map; the
    /// rest is counted (`[1, 2, …(+92 more)]`, JSON `"truncated": true` and
    /// its `"len"`).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_elements)]
    pub max_elements: u32,
    /// Trace calls out of the guest too (imported functions such as WASI's
    /// `fd_write`), as import calls at the depth where they happen; known
    /// WASI functions show what they read and write in guest memory, read
    /// at the time of the call (`fd_write(fd: 1 <stdout>, iovs: ["5\n"])`,
    /// `= 0 (nwritten: 2)`), and errnos by name (`= 8 EBADF`).
    #[arg(long)]
    pub imports: bool,
    /// Threads that validate and rewrite function bodies, and that render
    /// a trace written with `run -o FILE` (0: one per core). More threads
    /// cut the wall time of instrumenting a large module at about the same
    /// total CPU time, and each holds its share of the rewritten bodies in
    /// memory; one thread keeps every other core free.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
}

impl SelectFlags {
    /// The instrumenter's configuration these flags ask for.
    pub fn config(&self) -> Result<ruchy_trace_instrument::Config, Failure> {
        Ok(ruchy_trace_instrument::Config {
            options: TraceOptions {
                strategy: if self.hooks {
                    Strategy::Hooks
                } else {
                    Strategy::Inline
                },
                timestamps: !self.no_timestamps,
                sample: self.sample,
                ..TraceOptions::default()
            },
            scope: if self.all { Scope::All } else { Scope::Own },
            filters: self.filters.parse()?,
            source_values: !self.wasm_types,
            relocators: Vec::new(),
            limits: Limits {
                max_string: self.max_string,
                max_elements: self.max_elements,
            },
            imports: self.imports,
        })
    }
}

/// Name filters, for instrumenting and for replaying.
#[derive(Args, Debug)]
pub struct FilterFlags {
    /// Keep only functions matching GLOB (`*`, `?`), or drop them with
    /// `!GLOB`. Repeatable. Matched against the shown name (for a Ruchy
    /// program, its Ruchy name: `add`, `Circle::area`), the demangled name
    /// and the raw name. When instrumenting, excluded functions are not
    /// instrumented at all.
    #[arg(long = "filter", visible_alias = "trace-filter", value_name = "GLOB")]
    pub filters: Vec<String>,
}

impl FilterFlags {
    /// The filters, parsed.
    pub fn parse(&self) -> Result<Filters, Failure> {
        Filters::parse(&self.filters).map_err(|e| Failure::usage(e.to_string()))
    }
}

/// Which events the ring keeps when it overflows.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Keep {
    /// Keep the most recent events (a flight recorder).
    Newest,
    /// Keep the first events.
    Oldest,
}

/// How the clock that timestamps records is kept, as `--clock` names it.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum ClockFlag {
    /// A thread that wakes every 100 us to update the clock: timestamps
    /// (and durations) are 100 us coarse; costs a wake-up per tick, a few
    /// percent of one core.
    #[default]
    Ticker,
    /// A thread that spins: 1 us timestamps, but it keeps one core busy
    /// for the whole run (on a machine with few cores, the guest competes
    /// with it).
    Spin,
}

impl From<ClockFlag> for Clock {
    fn from(c: ClockFlag) -> Clock {
        match c {
            ClockFlag::Ticker => Clock::Ticker,
            ClockFlag::Spin => Clock::Spin,
        }
    }
}

/// Events the ring keeps when `--buffer-size` is not given.
pub const DEFAULT_BUFFER_EVENTS: u64 = 1 << 22;

/// The guest to run, its inputs, its sandbox and its limits: what `run`
/// and `record` share.
#[derive(Args, Debug)]
pub struct GuestFlags {
    /// The module (.wasm) or Ruchy program (.ruchy) to run.
    pub module: PathBuf,
    /// Arguments for the guest (after `--`), or, with --invoke, the values
    /// to call the export with.
    #[arg(last = true)]
    pub args: Vec<String>,
    /// Call this exported function (without WASI) instead of `_start`, with
    /// ARGS as its arguments; its results are printed on stdout.
    #[arg(long, value_name = "NAME")]
    pub invoke: Option<String>,
    #[command(flatten)]
    pub select: SelectFlags,
    /// Keep the trace in a ring of this many events in memory; when more
    /// are recorded, --keep decides which survive and the rest are counted
    /// as lost. The default, 4194304, applies
    /// to a trace written to stderr. `run -o FILE` without --buffer-size
    /// keeps every event instead: it renders them into FILE while the
    /// guest runs (on --jobs threads, the guest waiting when they fall
    /// behind); with --buffer-size it keeps only the ring's events, as for
    /// stderr. `record` streams every event to its file either way; the
    /// ring only bounds what the run holds in memory.
    #[arg(long = "buffer-size", value_name = "EVENTS")]
    pub buffer_size: Option<u64>,
    /// Which events the ring keeps when it overflows.
    #[arg(long, value_enum, default_value_t = Keep::Newest)]
    pub keep: Keep,
    /// How the clock inline records read is kept while the guest runs.
    /// Every trace states the resolution its timestamps got (the text's
    /// `# clock resolution:` line, `clock_resolution_us` in JSON and Chrome
    /// metadata, the `.rtrace` header).
    #[arg(long, value_enum, default_value_t = ClockFlag::Ticker)]
    pub clock: ClockFlag,
    /// Stop the guest after this long (e.g. 500ms, 10s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Cap each guest memory at this size (e.g. 64MiB, 1GiB, 65536).
    #[arg(long = "max-memory", value_name = "BYTES", value_parser = parse_size)]
    pub max_memory: Option<usize>,
    /// Stop the guest after it burns this much fuel (about one unit per
    /// wasm instruction; the hooks' own instructions count too).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Grant the guest a directory: HOST or HOST::GUEST (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Give the guest an environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<String>,
}

impl GuestFlags {
    /// The entry point: the export to invoke, or `_start` with WASI.
    pub fn entry(&self) -> Result<Entry, Failure> {
        if let Some(name) = &self.invoke {
            return Ok(Entry::Invoke {
                name: name.clone(),
                args: self.args.clone(),
            });
        }
        let program_name = self
            .module
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut argv = vec![program_name];
        argv.extend(self.args.iter().cloned());
        let env = self
            .envs
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| Failure::usage(format!("--env `{kv}` is not KEY=VALUE")))
            })
            .collect::<Result<_, _>>()?;
        let dirs = self
            .dirs
            .iter()
            .map(|d| match d.split_once("::") {
                Some((h, g)) => (h.to_string(), g.to_string()),
                None => (d.clone(), d.clone()),
            })
            .collect();
        Ok(Entry::Wasi {
            args: argv,
            env,
            dirs,
        })
    }

    /// The run's ring and limits.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            capacity: self.buffer_size.unwrap_or(DEFAULT_BUFFER_EVENTS),
            policy: match self.keep {
                Keep::Newest => OverflowPolicy::KeepNewest,
                Keep::Oldest => OverflowPolicy::KeepOldest,
            },
            enabled: true,
            timeout: self.timeout,
            max_memory: self.max_memory,
            fuel: self.fuel,
            capture_output: false,
        }
    }
}

/// How a trace is printed.
#[derive(Args, Debug)]
pub struct FormatFlags {
    /// Trace format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Indent text lines by call depth.
    #[arg(long)]
    pub indent: bool,
}

impl FormatFlags {
    /// The text formatter's options.
    pub fn text(&self) -> TextOptions {
        TextOptions {
            indent: self.indent,
            ..TextOptions::default()
        }
    }
}

/// Parses a duration for a flag: humantime's syntax (`10us`, `500ms`,
/// `1.5s`, `2m`, `1h 30m`), or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 10us, 500ms, 10s or 2m: {e}"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: usize = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 65536, 64MiB or 1GiB"))?;
    let mult = match unit {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use KiB, MiB or GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}
