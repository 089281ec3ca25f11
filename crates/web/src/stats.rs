//! The per-function table: calls, total time and self time.

use ruchy_trace_core::decode::Trace;
use ruchy_trace_core::format::push_json_str;
use ruchy_trace_core::EventKind;

/// Totals of one function over a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionStats {
    /// Shown name.
    pub name: String,
    /// Entries seen.
    pub calls: u64,
    /// Time inside the function, counting each outermost activation once
    /// (recursion is not counted twice), in microseconds.
    pub total_us: u64,
    /// Time inside the function minus time in the traced calls it made, in
    /// microseconds.
    pub self_us: u64,
}

/// Computes the per-function table, most called first.
pub fn function_stats(trace: &Trace) -> Vec<FunctionStats> {
    let n = trace.table.functions.len();
    let mut rows: Vec<FunctionStats> = trace
        .table
        .functions
        .iter()
        .map(|f| FunctionStats {
            name: f.name.clone(),
            calls: 0,
            total_us: 0,
            self_us: 0,
        })
        .collect();
    let mut active = vec![0u32; n];
    // Open frames: (id, time spent in children).
    let mut stack: Vec<(u32, u64)> = Vec::new();
    for e in trace.events().filter_map(Result::ok) {
        let id = e.id as usize;
        if id >= n {
            continue;
        }
        match e.kind {
            EventKind::Enter => {
                rows[id].calls += 1;
                active[id] += 1;
                stack.push((e.id, 0));
            }
            _ => {
                let Some((open, children)) = stack.pop() else {
                    continue;
                };
                let open = open as usize;
                let d = e.duration_us.unwrap_or(0);
                active[open] = active[open].saturating_sub(1);
                if active[open] == 0 {
                    rows[open].total_us += d;
                }
                rows[open].self_us += d.saturating_sub(children);
                if let Some(parent) = stack.last_mut() {
                    parent.1 += d;
                }
            }
        }
    }
    rows.retain(|r| r.calls > 0);
    rows.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
    rows
}

/// Renders rows as a JSON array.
pub fn to_json(rows: &[FunctionStats]) -> String {
    let mut out = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_str(&mut out, &r.name);
        out.push_str(&format!(
            ",\"calls\":{},\"total_us\":{},\"self_us\":{}}}",
            r.calls, r.total_us, r.self_us
        ));
    }
    out.push(']');
    out
}

fn value_text(v: ruchy_trace_core::Value) -> String {
    use ruchy_trace_core::Value;
    match v {
        Value::I32(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F32(x) => format!("{x:?}"),
        Value::F64(x) => format!("{x:?}"),
        Value::Unrecorded(t) => format!("<{}>", t.name()),
    }
}

/// The first `limit` calls of a trace as a JSON array in entry order, for
/// the call tree and the timeline: `{"name", "depth", "start", "end",
/// "args", "ret"}`. `start` and `end` are microseconds when the trace has
/// timestamps, event ordinals otherwise; `ret` is the result text, or the
/// reason the host closed the call (`[trapped]`), or null while open.
pub fn calls_json(trace: &Trace, limit: usize) -> String {
    struct Call {
        name: usize,
        depth: u32,
        start: u64,
        end: Option<u64>,
        args: String,
        ret: Option<String>,
    }
    let mut calls: Vec<Call> = Vec::new();
    let mut stack: Vec<Option<usize>> = Vec::new();
    for (ordinal, e) in trace.events().filter_map(Result::ok).enumerate() {
        let at = e.timestamp_us.unwrap_or(ordinal as u64);
        match e.kind {
            EventKind::Enter => {
                if calls.len() < limit {
                    let types = e.function.params.iter();
                    let args: Vec<String> = types
                        .zip(e.values())
                        .map(|(t, v)| format!("{}={}", t.name(), value_text(v)))
                        .collect();
                    calls.push(Call {
                        name: e.id as usize,
                        depth: e.depth,
                        start: at,
                        end: None,
                        args: args.join(", "),
                        ret: None,
                    });
                    stack.push(Some(calls.len() - 1));
                } else {
                    stack.push(None);
                }
            }
            kind => {
                if let Some(Some(i)) = stack.pop() {
                    calls[i].end = Some(at);
                    calls[i].ret = Some(match kind {
                        EventKind::Closed(r) => format!("[{}]", r.word()),
                        EventKind::TailExit => "[tail call]".into(),
                        _ => {
                            let vals: Vec<String> = e.values().map(value_text).collect();
                            match vals.len() {
                                0 => String::new(),
                                1 => vals[0].clone(),
                                _ => format!("({})", vals.join(", ")),
                            }
                        }
                    });
                }
            }
        }
    }
    let mut out = String::from("[");
    for (i, c) in calls.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_str(&mut out, &trace.table.functions[c.name].name);
        out.push_str(&format!(
            ",\"depth\":{},\"start\":{},\"end\":",
            c.depth, c.start
        ));
        match c.end {
            Some(e) => out.push_str(&e.to_string()),
            None => out.push_str("null"),
        }
        out.push_str(",\"args\":");
        push_json_str(&mut out, &c.args);
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
