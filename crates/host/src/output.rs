//! Writing a trace in the chosen format to a file or stderr.

use ruchy_trace::ruchy_trace_core;
use ruchy_trace_core::decode::Trace;
use ruchy_trace_core::format::{
    self, ChromeFormatter, Formatter, JsonFormatter, JsonOptions, RenderError, TextFormatter,
    TextOptions,
};
use ruchy_trace_core::profile::Profile;
use std::io::{self, BufWriter, Write};
use std::path::Path;

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
pub fn formatter(format: Format, text: TextOptions) -> Box<dyn Formatter + Send> {
    match format {
        Format::Text => Box::new(TextFormatter::new(text)),
        Format::Json => Box::new(JsonFormatter::new(JsonOptions { lines: false })),
        Format::Jsonl => Box::new(JsonFormatter::new(JsonOptions { lines: true })),
        Format::Chrome => Box::new(ChromeFormatter::new()),
    }
}

/// Whether flame graphs of `p` weigh paths by time: when the trace has
/// timestamps and its calls took any measurable time at all (else every
/// path would weigh nothing, and calls are weighed instead).
pub fn weighs_by_time(p: &Profile, timed: bool) -> bool {
    timed && p.root_total_us() > 0
}

/// An interactive flame graph (inferno's SVG: click to zoom, Ctrl+F to
/// search) of the profile's folded stacks: one box per call path, as wide as
/// its time, or as its calls for an untimed trace or one whose calls all
/// took less than a microsecond.
pub fn flame_svg(p: &Profile, timed: bool, out: &mut dyn Write) -> io::Result<()> {
    let by_time = weighs_by_time(p, timed);
    let folded = p.folded(by_time);
    let mut options = inferno::flamegraph::Options::default();
    options.title = "ruchy-trace flame graph".into();
    options.count_name = if by_time { "us" } else { "calls" }.into();
    if folded.trim().is_empty() {
        // inferno refuses an empty profile; an empty trace gets an empty
        // graph that still says what it is.
        return write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="40"><text x="10" y="20">{}: no calls</text></svg>"#,
            options.title
        );
    }
    inferno::flamegraph::from_lines(&mut options, folded.lines(), out)
}

/// Renders `trace` into `out`, streaming.
pub fn render(
    trace: &Trace,
    format: Format,
    text: TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut formatter = formatter(format, text);
    format::render(formatter.as_mut(), trace, |s| out.write_all(s.as_bytes())).map_err(
        |e| match e {
            RenderError::Write(e) => e,
            RenderError::Decode(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        },
    )?;
    out.flush()
}

/// Writes to `path` as [`write_file`] does, or to stdout when no path is
/// given.
pub fn write_to(
    path: Option<&Path>,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match path {
        Some(path) => write_file(path, fill),
        None => {
            let mut w = BufWriter::new(io::stdout().lock());
            fill(&mut w)?;
            w.flush()
        }
    }
}

/// Writes through a temporary file beside `path` renamed into place on
/// success, so a crash never leaves a partial file under the final name.
/// Anything that is not a regular file (`/dev/null`, a pipe, a terminal) is
/// written directly: renaming over it would replace it.
pub fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = PendingFile::create(path)?;
    let mut w = file.writer()?;
    fill(&mut w)?;
    w.flush()?;
    drop(w);
    file.commit()
}

/// An output file being written, as [`write_file`] writes: through a
/// temporary file beside it that [`PendingFile::commit`] renames into
/// place (dropped uncommitted, it is removed), or directly when the path
/// is not a regular file.
pub struct PendingFile {
    path: std::path::PathBuf,
    target: Target,
}

enum Target {
    Temporary(tempfile::NamedTempFile),
    Direct(std::fs::File),
}

impl PendingFile {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> io::Result<PendingFile> {
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new().write(true).open(path)?;
            return Ok(PendingFile {
                path: path.to_path_buf(),
                target: Target::Direct(file),
            });
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        // The finished file gets the usual permissions (0666 less the umask),
        // not the private ones of a temporary file.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        Ok(PendingFile {
            path: path.to_path_buf(),
            target: Target::Temporary(builder.tempfile_in(dir)?),
        })
    }

    /// A buffered writer into the file, for another thread to fill; flush
    /// it before [`PendingFile::commit`].
    pub fn writer(&self) -> io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(self.buffered()?))
    }

    /// A buffered writer into the file that can also seek, when the file
    /// can (not a pipe); flush it before [`PendingFile::commit`].
    pub fn seekable_writer(&self) -> io::Result<Option<BufWriter<std::fs::File>>> {
        use std::io::Seek;
        let mut w = self.buffered()?;
        Ok(w.stream_position().is_ok().then_some(w))
    }

    fn buffered(&self) -> io::Result<BufWriter<std::fs::File>> {
        let file = match &self.target {
            Target::Temporary(t) => t.as_file().try_clone()?,
            Target::Direct(f) => f.try_clone()?,
        };
        Ok(BufWriter::with_capacity(1 << 20, file))
    }

    /// Makes the written file the one at its path.
    pub fn commit(self) -> io::Result<()> {
        match self.target {
            Target::Direct(_) => Ok(()),
            // Not flushed to the disk first: the rename is what keeps a
            // crash of this process from leaving a partial file, and a
            // trace of hundreds of megabytes takes the disk seconds.
            Target::Temporary(tmp) => {
                // A rename that replaces a file makes ext4 (auto_da_alloc)
                // write the whole new file out before the rename returns:
                // half a second for a text trace of 600 MB. Removed first,
                // the file is renamed at once and written out in the
                // system's own time. A crash in between leaves no file at
                // the path, still never a partial one.
                match std::fs::remove_file(&self.path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                tmp.persist(&self.path).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}
