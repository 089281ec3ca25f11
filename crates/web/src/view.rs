//! What the Trace tab shows, computed from a finished [`Trace`]: the trace
//! lines with times relative to the start of the run, the calls for the
//! call tree and the timeline, and the per-function table from
//! [`ruchy_trace_core::profile`] (the numbers `ruchy-trace report` prints).

use ruchy_trace_core::decode::Trace;
use ruchy_trace_core::format::{Formatter, TextFormatter, TextOptions};
use ruchy_trace_core::profile::Profile;
use ruchy_trace_core::{Event, EventKind};
use std::fmt::Write as _;

/// Appends `s` as a JSON string.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `+0.412 ms`, padded so the arrows after it line up.
fn relative_time(out: &mut String, us: u64) {
    let at = out.len();
    let _ = write!(out, "+{}.{:03} ms", us / 1000, us % 1000);
    while out.len() < at + 13 {
        out.push(' ');
    }
}

/// One event as the text format prints it, without its line break.
fn event_line(f: &mut TextFormatter, trace: &Trace, e: &Event<'_>) -> String {
    let mut line = String::new();
    f.event(trace, e, &mut line);
    if line.ends_with('\n') {
        line.pop();
    }
    line
}

/// The text trace, one line per event, each starting with its time since
/// the start of the run when the trace has timestamps; then the closing
/// `#` lines. Also the function id of each event line, for finding a
/// line's definition.
pub fn lines(trace: &Trace) -> (String, Vec<u32>) {
    let mut f = TextFormatter::new(TextOptions {
        indent: true,
        timestamps: false,
    });
    let mut out = String::new();
    let mut ids = Vec::new();
    f.begin(trace, &mut out);
    for e in trace.events() {
        match e {
            Ok(e) => {
                if let Some(t) = e.timestamp_us {
                    relative_time(&mut out, t);
                }
                f.event(trace, &e, &mut out);
                ids.push(e.id);
            }
            Err(err) => {
                let _ = writeln!(out, "# error: {err}");
                break;
            }
        }
    }
    f.end(trace, &trace.stats(), &mut out);
    (out, ids)
}

/// The text of a call for the call tree: `name(args)` from its entry line
/// and ` = value` or ` [trapped]` from its exit line, without locations
/// or durations.
fn call_texts(f: &mut TextFormatter, trace: &Trace, e: &Event<'_>) -> String {
    let line = event_line(f, trace, e);
    let name = &e.function.name;
    match e.kind {
        EventKind::Enter => {
            let body = line.strip_prefix("-> ").unwrap_or(&line);
            match body.rfind(") <") {
                Some(at) if e.function.location.is_some() => body[..=at].to_string(),
                _ => body.to_string(),
            }
        }
        _ => {
            let prefix_len = 3 + name.len() + 2; // "<- " name "()"
            let mut rest = line.get(prefix_len..).unwrap_or("").to_string();
            if e.duration_us.is_some() && rest.ends_with("ms]") {
                if let Some(at) = rest.rfind(" [") {
                    rest.truncate(at);
                }
            }
            rest.trim().to_string()
        }
    }
}

/// The first `limit` calls in entry order as a JSON array, for the call
/// tree and the timeline: `{"id", "depth", "line", "start", "end", "call",
/// "ret"}`. `line` is the entry's index in [`lines`]; `start` and `end` are
/// microseconds when the trace has timestamps, event ordinals otherwise;
/// `ret` is `= value`, a reason the call ended (`[trapped]`), empty for a
/// call that returns nothing, or null while it is open.
pub fn calls_json(trace: &Trace, limit: usize) -> String {
    struct Call {
        id: u32,
        depth: u32,
        line: usize,
        start: u64,
        end: Option<u64>,
        call: String,
        ret: Option<String>,
    }
    let mut f = TextFormatter::new(TextOptions {
        indent: false,
        timestamps: false,
    });
    let mut calls: Vec<Call> = Vec::new();
    let mut stack: Vec<Option<usize>> = Vec::new();
    for (ordinal, e) in trace.events().map_while(Result::ok).enumerate() {
        let at = e.timestamp_us.unwrap_or(ordinal as u64);
        if e.kind == EventKind::Enter {
            if calls.len() < limit {
                calls.push(Call {
                    id: e.id,
                    depth: e.depth,
                    line: ordinal,
                    start: at,
                    end: None,
                    call: call_texts(&mut f, trace, &e),
                    ret: None,
                });
                stack.push(Some(calls.len() - 1));
            } else {
                stack.push(None);
            }
        } else if let Some(Some(i)) = stack.pop() {
            calls[i].end = Some(at);
            calls[i].ret = Some(call_texts(&mut f, trace, &e));
        }
    }
    let mut out = String::from("[");
    for (i, c) in calls.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{},\"depth\":{},\"line\":{},\"start\":{},\"end\":",
            c.id, c.depth, c.line, c.start
        );
        match c.end {
            Some(e) => {
                let _ = write!(out, "{e}");
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"call\":");
        push_json_str(&mut out, &c.call);
        out.push_str(",\"ret\":");
        match &c.ret {
            Some(r) => push_json_str(&mut out, r),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// The profile of a trace: every event through [`Profile`].
pub fn profile(trace: &Trace) -> Profile {
    let mut p = Profile::new(trace.table.functions.iter().map(|f| f.name.clone()));
    for e in trace.events().map_while(Result::ok) {
        p.event(&e);
    }
    p
}

/// The function table and the per-function report as JSON:
/// `{"functions": [{"name", "file", "line", "column", "import"}] (by id;
/// `import` is true for a call out to an import, `--imports`),
/// "report": [{"id", "calls", "total_us", "self_us", "avg_us", "min_us",
/// "max_us"}] (called functions, longest total first, as `ruchy-trace
/// report` sorts them), "root_total_us", "timed"}`.
pub fn functions_json(trace: &Trace) -> String {
    let p = profile(trace);
    let mut out = String::from("{\"functions\":[");
    for (i, f) in trace.table.functions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_str(&mut out, &f.name);
        if let Some(l) = &f.location {
            out.push_str(",\"file\":");
            push_json_str(&mut out, &l.file);
            let _ = write!(out, ",\"line\":{},\"column\":{}", l.line, l.column);
        }
        if f.import.is_some() {
            out.push_str(",\"import\":true");
        }
        out.push('}');
    }
    out.push_str("],\"report\":[");
    let mut rows: Vec<(usize, &ruchy_trace_core::profile::FunctionStats)> = p
        .functions
        .iter()
        .enumerate()
        .filter(|(_, f)| f.calls > 0)
        .collect();
    rows.sort_by(|a, b| {
        b.1.total_us
            .cmp(&a.1.total_us)
            .then_with(|| a.1.name.cmp(&b.1.name))
    });
    for (i, (id, f)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{id},\"calls\":{},\"total_us\":{},\"self_us\":{},\"avg_us\":{},\"min_us\":{},\"max_us\":{}}}",
            f.calls,
            f.total_us,
            f.self_us,
            f.avg_us(),
            f.min_us,
            f.max_us
        );
    }
    let _ = write!(
        out,
        "],\"root_total_us\":{},\"timed\":{}}}",
        p.root_total_us(),
        trace.table.options.timestamps
    );
    out
}
