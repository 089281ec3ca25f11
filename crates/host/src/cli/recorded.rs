//! Reading a recorded `.rtrace` file: what `replay`, `report` and `graph`
//! share.

use super::exit::{self, Failure};
use ruchy_trace::replay::{self, ReplayError, Replayed, Visitor};
use ruchy_trace::ruchy_trace_core::decode::Trace;
use ruchy_trace::ruchy_trace_core::profile::Profile;
use ruchy_trace::ruchy_trace_core::Event;
use std::path::Path;

/// Replays the file at `path` into `visitor`.
pub fn replay_file(path: &Path, visitor: &mut dyn Visitor) -> Result<Replayed, Failure> {
    let file = std::fs::File::open(path).map_err(|e| Failure::no_input(path, e))?;
    replay::replay(file, visitor).map_err(|e| match e {
        ReplayError::Io(e) => Failure::no_input(path, e),
        ReplayError::Format(e) => {
            Failure::new(exit::BAD_MODULE, format!("{}: {e}", path.display()))
        }
    })
}

/// The status after a replay: success, or the damage that stopped it once
/// everything before it was used.
pub fn damage_status(path: &Path, seen: &Replayed) -> Result<std::process::ExitCode, Failure> {
    match &seen.damage {
        Some(e) => Err(Failure::new(
            exit::BAD_MODULE,
            format!("{}: {e}; everything before it was read", path.display()),
        )),
        None => Ok(std::process::ExitCode::SUCCESS),
    }
}

/// A recorded trace's profile.
pub struct Profiled {
    /// Per-function and per-path totals.
    pub profile: Profile,
    /// Whether the trace has timestamps (else totals count calls).
    pub timed: bool,
    /// What the replay saw.
    pub seen: Replayed,
}

struct Profiler {
    profile: Option<Profile>,
    timed: bool,
}

impl Visitor for Profiler {
    fn begin(&mut self, t: &Trace) {
        self.timed = t.table.options.timestamps;
        self.profile = Some(Profile::new(
            t.table.functions.iter().map(|f| f.name.clone()),
        ));
    }

    fn event(&mut self, _: &Trace, e: &Event<'_>) {
        if let Some(p) = &mut self.profile {
            p.event(e);
        }
    }
}

/// Replays the file at `path` into a profile.
pub fn profile_of(path: &Path) -> Result<Profiled, Failure> {
    let mut p = Profiler {
        profile: None,
        timed: false,
    };
    let seen = replay_file(path, &mut p)?;
    Ok(Profiled {
        profile: p
            .profile
            .unwrap_or_else(|| Profile::new(std::iter::empty())),
        timed: p.timed,
        seen,
    })
}

/// A time in microseconds, in the unit that reads best.
pub fn micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.3} s", us as f64 / 1e6)
    } else if us >= 1000 {
        format!("{:.3} ms", us as f64 / 1e3)
    } else {
        format!("{us} us")
    }
}
