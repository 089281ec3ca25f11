//! `ruchy-trace report`: per-function totals of a recorded trace.

use super::exit::Failure;
use super::recorded::{self, micros};
use clap::{Args, ValueEnum};
use ruchy_trace::ruchy_trace_core::profile::FunctionStats;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The column a report is sorted by.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Calls,
    Total,
    #[value(name = "self")]
    SelfTime,
    Avg,
    Min,
    Max,
    Name,
}

/// `report`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    /// The `.rtrace` file.
    file: PathBuf,
    /// Column to sort by (largest first; names A to Z).
    #[arg(long, value_enum, default_value_t = SortKey::Total)]
    sort: SortKey,
    /// Where to write the table (default: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

impl Opts {
    /// Prints the table.
    pub fn run(self) -> Result<ExitCode, Failure> {
        let p = recorded::profile_of(&self.file)?;
        let mut rows = p.profile.report();
        let key = |f: &FunctionStats| match self.sort {
            SortKey::Calls => f.calls,
            SortKey::Total => f.total_us,
            SortKey::SelfTime => f.self_us,
            SortKey::Avg => f.avg_us(),
            SortKey::Min => f.min_us,
            SortKey::Max => f.max_us,
            SortKey::Name => 0,
        };
        if self.sort == SortKey::Name {
            rows.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name)));
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>12} {:>12} {:>12} {:>12} {:>12} {:>12}  function",
            "calls", "total", "self", "avg", "min", "max"
        );
        let t = |v: u64| if p.timed { micros(v) } else { "-".into() };
        for f in &rows {
            let _ = writeln!(
                out,
                "{:>12} {:>12} {:>12} {:>12} {:>12} {:>12}  {}",
                f.calls,
                t(f.total_us),
                t(f.self_us),
                t(f.avg_us()),
                t(f.min_us),
                t(f.max_us),
                f.name
            );
        }
        if p.timed {
            let _ = writeln!(
                out,
                "# outermost calls took {} in all; the self times add up to it",
                micros(p.profile.root_total_us())
            );
        }
        super::write_text(self.output.as_deref(), &out)?;
        recorded::damage_status(&self.file, &p.seen)
    }
}
