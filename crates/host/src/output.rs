//! Writing a trace in the chosen format to a file or stderr.

use ruchy_trace::ruchy_trace_core;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use ruchy_trace_core::decode::Trace;
use ruchy_trace_core::format::{
    ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// strace-style lines: `[secs.micros] -> name(i64=5) <file:line:col>`.
    Text,
    /// One JSON document: metadata, events, stats.
    Json,
    /// JSON Lines: metadata, one event per line, stats last (a cut file
    /// lacks the stats line).
    Jsonl,
    /// Chrome Trace Event JSON: opens in Perfetto UI, chrome://tracing,
    /// speedscope.
    Chrome,
}

/// The formatter for `format`.
pub fn formatter(format: Format, text: TextOptions) -> Box<dyn Formatter> {
    match format {
        Format::Text => Box::new(TextFormatter::new(text)),
        Format::Json => Box::new(JsonFormatter::new(JsonOptions { lines: false })),
        Format::Jsonl => Box::new(JsonFormatter::new(JsonOptions { lines: true })),
        Format::Chrome => Box::new(ChromeFormatter::new()),
    }
}

/// A flame graph: one box per call path, as wide as its time (or calls,
/// for untimed traces), callers below callees.
pub fn flame_svg(p: &ruchy_trace_core::profile::Profile, timed: bool) -> String {
    use std::fmt::Write as _;
    const WIDTH: f64 = 1200.0;
    const ROW: f64 = 18.0;
    let weight = |n: &ruchy_trace_core::profile::Node| if timed { n.total_us } else { n.calls };
    fn depth_of(p: &ruchy_trace_core::profile::Profile, node: usize) -> usize {
        1 + p.nodes[node]
            .children
            .values()
            .map(|&c| depth_of(p, c))
            .max()
            .unwrap_or(0)
    }
    let rows = depth_of(p, 0);
    let root: u64 = p.nodes[0]
        .children
        .values()
        .map(|&c| weight(&p.nodes[c]))
        .sum::<u64>()
        .max(1);
    let height = rows as f64 * ROW + 40.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<text x="10" y="20">ruchy-trace flame graph ({})</text>"#,
        if timed { "time" } else { "calls" }
    );
    let mut stack = vec![(0usize, 0.0f64, 0usize)];
    while let Some((node, x, depth)) = stack.pop() {
        let n = &p.nodes[node];
        let mut cx = x;
        for &c in n.children.values() {
            let child = &p.nodes[c];
            let w = weight(child) as f64 / root as f64 * (WIDTH - 20.0);
            let y = height - (depth as f64 + 1.0) * ROW;
            let name = p
                .functions
                .get(child.id as usize)
                .map_or("?", |f| f.name.as_str());
            let esc = name
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let hue = 20 + (child.id * 37 % 40);
            let _ = writeln!(
                out,
                r#"<g><title>{esc} ({} calls, {} {})</title><rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="hsl({hue},90%,60%)"/>"#,
                child.calls,
                weight(child),
                if timed { "us" } else { "calls" },
                10.0 + cx,
                ROW - 1.0
            );
            if w > 40.0 {
                let chars = (w / 7.5) as usize;
                let label: String = esc.chars().take(chars.saturating_sub(1)).collect();
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
                    12.0 + cx,
                    y + ROW - 5.0
                );
            }
            out.push_str("</g>\n");
            stack.push((c, cx, depth + 1));
            cx += w;
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Renders `trace` into `out`, streaming.
pub fn render(
    trace: &Trace,
    format: Format,
    text: TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut formatter = formatter(format, text);
    let mut buf = String::with_capacity(1 << 17);
    formatter.begin(trace, &mut buf);
    for event in trace.events() {
        let event = event.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        formatter.event(trace, &event, &mut buf);
        if buf.len() >= 1 << 16 {
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    formatter.end(trace, &trace.stats(), &mut buf);
    out.write_all(buf.as_bytes())?;
    out.flush()
}

/// Writes through a temporary file renamed into place on success, so a
/// crash never leaves a partial file under the final name. Anything that is
/// not a regular file (`/dev/null`, a pipe, a terminal) is written directly:
/// renaming over it would replace it.
pub fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let mut w = BufWriter::new(std::fs::OpenOptions::new().write(true).open(path)?);
        fill(&mut w)?;
        return w.flush();
    }
    let mut tmp: PathBuf = path.to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tmp.set_file_name(format!(".{name}.{}.partial", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        fill(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
