//! `ruchy-trace graph`: the call tree of a recorded trace, and flame
//! graphs.

use super::exit::Failure;
use super::recorded::{self, micros};
use crate::output;
use clap::Args;
use ruchy_trace::ruchy_trace_core::profile::Profile;
use std::path::PathBuf;
use std::process::ExitCode;

/// `graph`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    /// The `.rtrace` file.
    file: PathBuf,
    /// Where to write the call tree (default: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write folded stacks (`main;fibonacci;fibonacci 12`, self time in µs,
    /// or calls when the trace has no time) to this file.
    #[arg(long, value_name = "FILE")]
    folded: Option<PathBuf>,
    /// Write a flame graph as SVG to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

impl Opts {
    /// Prints the call tree and writes the graphs asked for.
    pub fn run(self) -> Result<ExitCode, Failure> {
        let p = recorded::profile_of(&self.file)?;
        let mut tree = String::new();
        tree_lines(&p.profile, 0, 0, p.timed, &mut tree);
        super::write_text(self.output.as_deref(), &tree)?;
        if let Some(path) = &self.folded {
            let by_time = output::weighs_by_time(&p.profile, p.timed);
            super::write_text(Some(path.as_path()), &p.profile.folded(by_time))?;
        }
        if let Some(path) = &self.svg {
            output::write_file(path, |w| output::flame_svg(&p.profile, p.timed, w))
                .map_err(|e| Failure::write(path, e))?;
        }
        recorded::damage_status(&self.file, &p.seen)
    }
}

fn tree_lines(p: &Profile, node: usize, depth: usize, timed: bool, out: &mut String) {
    use std::fmt::Write as _;
    let n = &p.nodes[node];
    if node != 0 {
        let name = p
            .functions
            .get(n.id as usize)
            .map_or("?", |f| f.name.as_str());
        let _ = write!(
            out,
            "{}{name}  [{} call{}",
            "  ".repeat(depth - 1),
            n.calls,
            if n.calls == 1 { "" } else { "s" }
        );
        if timed {
            let _ = write!(
                out,
                ", total {}, self {}",
                micros(n.total_us),
                micros(n.self_us)
            );
        }
        out.push_str("]\n");
    }
    for &child in n.children.values() {
        tree_lines(p, child, depth + 1, timed, out);
    }
}
