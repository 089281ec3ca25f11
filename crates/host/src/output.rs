//! Writing a trace in the chosen format to a file or stderr.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use tracer_core::decode::Trace;
use tracer_core::format::{ChromeFormatter, Formatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions};

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

/// Renders `trace` into `out`, streaming.
pub fn render(trace: &Trace, format: Format, text: TextOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut formatter: Box<dyn Formatter> = match format {
        Format::Text => Box::new(TextFormatter::new(text)),
        Format::Json => Box::new(JsonFormatter::new(JsonOptions { lines: false })),
        Format::Jsonl => Box::new(JsonFormatter::new(JsonOptions { lines: true })),
        Format::Chrome => Box::new(ChromeFormatter::new()),
    };
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
pub fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let mut w = BufWriter::new(std::fs::OpenOptions::new().write(true).open(path)?);
        fill(&mut w)?;
        return w.flush();
    }
    let mut tmp: PathBuf = path.to_path_buf();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
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
