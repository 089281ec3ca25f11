//! Rendering a trace in any format while the guest runs, on every core.
//!
//! A [`FormatSink`] receives chunks of records from the writer thread (see
//! `writer.rs`), so every event reaches the output however many there are:
//! nothing is lost to a full ring. It cuts each chunk into pieces, learns
//! the stack and clock at the start of each piece with a quick pass over
//! the records' headers ([`StreamState::skip_some`]), and hands pieces to
//! render threads; an output thread writes their text in order. Formats
//! whose events depend on the events before them (the Chrome trace pairs
//! every exit with its entry) get one render thread, which sees every piece
//! in order. Queues between the threads are bounded, so when rendering
//! falls behind, the guest waits (backpressure) rather than memory growing.
//!
//! A format whose head states how the run ended (JSON's metadata) cannot
//! be written before the events: its events go to a temporary file, and
//! the head, the events and the tail are written out once the run ends.

use crate::recorder::RecordSink;
use ruchy_trace_core::decode::{RunEnd, Stats, Trace};
use ruchy_trace_core::format::Formatter;
use ruchy_trace_core::ring::Recorded;
use ruchy_trace_core::stream::StreamState;
use ruchy_trace_core::{FunctionTable, RecordLayout};
use std::collections::BTreeMap;
use std::io::{self, Seek, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Records per piece: small enough that a piece's text (tens of bytes an
/// event) stays a few megabytes, large enough that handing it over costs
/// nothing next to rendering it.
const PIECE_RECORDS: u64 = 1 << 16;

/// Makes a formatter for each render thread.
pub type MakeFormatter = Box<dyn Fn() -> Box<dyn Formatter + Send> + Send>;

/// A piece of records to render, numbered in output order.
struct Piece {
    seq: u64,
    records: Vec<u8>,
    start: StreamState,
    /// Events before the piece.
    before: u64,
    count: u64,
}

type Rendered = (u64, io::Result<Vec<u8>>);

/// Buffers handed back once written or rendered, so the pieces reuse
/// memory rather than fault in fresh pages for every one.
#[derive(Clone, Default)]
struct Pool(Arc<Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// Most buffers kept: about as many as are ever in flight.
    const KEEP: usize = 32;

    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < Self::KEEP {
            pool.push(buffer);
        }
    }
}

/// Renders every record it is given with a formatter, in order, into a
/// writer; see the module documentation.
pub struct FormatSink {
    make: MakeFormatter,
    jobs: usize,
    out: Option<Box<dyn Write + Send>>,
    running: Option<Running>,
}

impl std::fmt::Debug for FormatSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormatSink")
            .field("jobs", &self.jobs)
            .field("started", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the output thread writes: the output itself, or, for a format
/// whose head comes after the run, a temporary file of the events.
enum Destination {
    Out(Box<dyn Write + Send>),
    Spill {
        out: Box<dyn Write + Send>,
        events: io::BufWriter<std::fs::File>,
    },
}

impl Destination {
    fn events(&mut self) -> &mut dyn Write {
        match self {
            Destination::Out(out) => out,
            Destination::Spill { events, .. } => events,
        }
    }
}

/// The threads of a started sink.
struct Running {
    template: Trace,
    layout: RecordLayout,
    /// The stack and clock after every record handed out so far.
    state: StreamState,
    events: u64,
    next_seq: u64,
    pieces: Option<SyncSender<Piece>>,
    texts: SyncSender<Rendered>,
    renderers: Vec<JoinHandle<Box<dyn Formatter + Send>>>,
    /// Whether pieces may be rendered on several threads at once.
    parallel: bool,
    pool: Pool,
    output: JoinHandle<io::Result<Destination>>,
}

impl FormatSink {
    /// A sink writing what `make`'s formatters render to `out`, rendering
    /// on `jobs` threads (0: one per core) when the format allows.
    pub fn new(make: MakeFormatter, out: Box<dyn Write + Send>, jobs: usize) -> FormatSink {
        FormatSink {
            make,
            jobs,
            out: Some(out),
            running: None,
        }
    }

    fn running(&mut self) -> io::Result<&mut Running> {
        self.running
            .as_mut()
            .ok_or_else(|| io::Error::other("records before the trace started"))
    }
}

fn decode_error(e: ruchy_trace_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Renders one piece's events into `text`.
fn render_piece(
    trace: &mut Trace,
    formatter: &mut dyn Formatter,
    piece: Piece,
    text: Vec<u8>,
    pool: &Pool,
) -> io::Result<Vec<u8>> {
    formatter.resume(piece.before, &piece.start);
    trace.recorded = Recorded {
        chunks: vec![piece.records],
        start: piece.start,
        kept: piece.count,
        continues: true,
        ..Recorded::default()
    };
    // Pooled buffers come back empty, so this checks nothing.
    let mut text = String::from_utf8(text).unwrap_or_default();
    let result = formatter.events(trace, &mut text).map_err(decode_error);
    for chunk in std::mem::take(&mut trace.recorded.chunks) {
        pool.give(chunk);
    }
    result.map(|()| text.into_bytes())
}

/// Writes rendered pieces in order of their numbers.
fn write_in_order(
    mut to: Destination,
    texts: Receiver<Rendered>,
    pool: Pool,
) -> io::Result<Destination> {
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    for (seq, text) in texts {
        waiting.insert(seq, text);
        while let Some(text) = waiting.remove(&next) {
            let text = text?;
            to.events().write_all(&text)?;
            pool.give(text);
            next += 1;
        }
    }
    to.events().flush()?;
    Ok(to)
}

impl RecordSink for FormatSink {
    fn start(
        &mut self,
        table: &FunctionTable,
        epoch_unix_us: u64,
        clock_resolution_us: Option<u32>,
    ) -> io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("the trace started twice"))?;
        let mut template = Trace::new(
            table.clone(),
            Recorded::default(),
            RunEnd::Returned,
            epoch_unix_us,
            None,
        );
        template.clock_resolution_us = clock_resolution_us;
        let mut probe = (self.make)();
        let late_head = probe.begins_with_the_end();
        let parallel = probe.resume(1, &StreamState::default());
        let threads = match (parallel, self.jobs) {
            (false, _) => 1,
            (true, 0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            (true, n) => n,
        };
        let destination = if late_head {
            Destination::Spill {
                out,
                events: io::BufWriter::new(tempfile::tempfile()?),
            }
        } else {
            Destination::Out(out)
        };
        let pool = Pool::default();
        let (pieces, incoming) = mpsc::sync_channel::<Piece>(threads * 2);
        let incoming = Arc::new(Mutex::new(incoming));
        let (texts, rendered) = mpsc::sync_channel::<Rendered>(threads * 4);
        let output = {
            let pool = pool.clone();
            std::thread::Builder::new()
                .name("ruchy-trace-output".into())
                .spawn(move || write_in_order(destination, rendered, pool))?
        };
        let mut renderers = Vec::new();
        for _ in 0..threads {
            let incoming = incoming.clone();
            let texts = texts.clone();
            let pool = pool.clone();
            let mut trace = template.clone();
            let mut formatter = (self.make)();
            formatter.begin(&trace, &mut String::new());
            renderers.push(
                std::thread::Builder::new()
                    .name("ruchy-trace-render".into())
                    .spawn(move || loop {
                        let piece = incoming.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(piece) = piece else {
                            return formatter;
                        };
                        let seq = piece.seq;
                        let text =
                            render_piece(&mut trace, formatter.as_mut(), piece, pool.take(), &pool);
                        if texts.send((seq, text)).is_err() {
                            return formatter;
                        }
                    })?,
            );
        }
        // What the format puts before the events is piece 0, unless it
        // must wait for the end.
        let mut head = String::new();
        if !late_head {
            (self.make)().begin(&template, &mut head);
        }
        let _ = texts.send((0, Ok(head.into_bytes())));
        self.running = Some(Running {
            layout: template.layout.clone(),
            template,
            state: StreamState::default(),
            events: 0,
            next_seq: 1,
            pieces: Some(pieces),
            texts,
            renderers,
            parallel,
            pool,
            output,
        });
        Ok(())
    }

    fn records(&mut self, mut chunk: &[u8]) -> io::Result<()> {
        let r = self.running()?;
        let mut offset = 0;
        while !chunk.is_empty() {
            let start = r.state.clone();
            let (count, used) = r
                .state
                .skip_some(&r.layout, chunk, offset, PIECE_RECORDS)
                .map_err(decode_error)?;
            if used == 0 {
                break;
            }
            let mut records = r.pool.take();
            records.extend_from_slice(&chunk[..used]);
            let piece = Piece {
                seq: r.next_seq,
                records,
                start,
                before: r.events,
                count,
            };
            r.next_seq += 1;
            r.events += count;
            if let Some(p) = &r.pieces {
                p.send(piece)
                    .map_err(|_| io::Error::other("the trace renderers stopped"))?;
            }
            chunk = &chunk[used..];
            offset += used;
        }
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd, end_us: u64) -> io::Result<()> {
        let mut r = self
            .running
            .take()
            .ok_or_else(|| io::Error::other("the trace never started"))?;
        r.pieces = None;
        let mut formatters = Vec::new();
        for t in r.renderers.drain(..) {
            formatters.push(t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        // Frames still open, closed as the run ended, then the summary:
        // by the one formatter that saw every piece, or by a fresh one
        // resumed where the pieces ended.
        let mut last = r.template;
        last.end = end.clone();
        last.end_us = Some(end_us);
        let mut formatter = match (r.parallel, formatters.pop()) {
            (false, Some(f)) => f,
            _ => {
                let mut f = (self.make)();
                f.begin(&last, &mut String::new());
                f
            }
        };
        formatter.resume(r.events, &r.state);
        last.recorded = Recorded {
            start: r.state,
            kept: r.events,
            ..Recorded::default()
        };
        let mut text = String::new();
        for event in last.events() {
            formatter.event(&last, &event.map_err(decode_error)?, &mut text);
        }
        let stats = Stats {
            total_events: r.events,
            kept_events: r.events,
            dropped_events: 0,
        };
        formatter.end(&last, &stats, &mut text);
        let _ = r.texts.send((r.next_seq, Ok(text.into_bytes())));
        drop(r.texts);
        let written = r
            .output
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        if let Destination::Spill { mut out, events } = written {
            let mut events = events.into_inner().map_err(|e| e.into_error())?;
            let mut head = String::new();
            (self.make)().begin(&last, &mut head);
            out.write_all(head.as_bytes())?;
            events.rewind()?;
            io::copy(&mut events, &mut out)?;
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entry, RunOptions, Tracer};
    use ruchy_trace_core::format::{
        ChromeFormatter, JsonFormatter, JsonOptions, TextFormatter, TextOptions,
    };

    /// A writer the test reads back after the sink is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The benchmark's fibonacci module, which the tests run deep.
    fn fib_bench() -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/bench/fib_bench.wasm"),
        )
        .unwrap()
    }

    /// For each format: the text a sink streams while the guest runs, cut
    /// into many small pieces rendered on three threads (one for the
    /// Chrome trace), is byte for byte the text rendered afterwards from
    /// the ring that kept every event.
    #[test]
    fn streamed_output_equals_the_output_rendered_after_the_run() {
        let wasm = fib_bench();
        let program = Tracer::builder()
            .build()
            .unwrap()
            .load(&wasm, &Default::default())
            .unwrap();
        type Make = fn() -> Box<dyn Formatter + Send>;
        let formats: [(&str, Make); 4] = [
            ("text", || {
                Box::new(TextFormatter::new(TextOptions::default()))
            }),
            ("json", || {
                Box::new(JsonFormatter::new(JsonOptions::default()))
            }),
            ("jsonl", || Box::new(JsonFormatter::lines())),
            ("chrome", || Box::new(ChromeFormatter::new())),
        ];
        for (name, make) in formats {
            let out = Shared::default();
            let sink = FormatSink::new(Box::new(make), Box::new(out.clone()), 3);
            let entry = Entry::Invoke {
                name: "run".into(),
                args: vec!["25".into()],
            };
            let outcome = program
                .run_with(&entry, &RunOptions::default(), Some(Box::new(sink)))
                .unwrap();
            let trace = &outcome.trace;
            // The recursion of fib(25) makes 2 * fib(26) - 1 calls, and
            // run(25) one more: two events each, more than seven pieces'
            // worth.
            let events = 2 * (2 * 121_393);
            assert_eq!(trace.stats().kept_events, events);
            assert!(events > 7 * PIECE_RECORDS);
            let (expected, damage) =
                ruchy_trace_core::format::render_to_string(make().as_mut(), trace);
            assert!(damage.is_none());
            let streamed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            assert!(
                streamed == expected,
                "{name}: streamed output differs from the rendered one ({} vs {} bytes)",
                streamed.len(),
                expected.len()
            );
            if name == "text" {
                // A line per event, the clock's line and the summary.
                assert_eq!(expected.lines().count() as u64, events + 2);
            }
        }
    }

    /// A run stopped in the middle of a deep recursion (out of fuel): the
    /// text streamed in many pieces on three threads, with the frames
    /// still open closed as interrupted after the last piece, is byte for
    /// byte the text rendered afterwards on one thread.
    #[test]
    fn an_interrupted_run_streams_the_text_rendered_after_it() {
        let wasm = fib_bench();
        let program = Tracer::builder()
            .fuel(true)
            .build()
            .unwrap()
            .load(&wasm, &Default::default())
            .unwrap();
        let make =
            || Box::new(TextFormatter::new(TextOptions::default())) as Box<dyn Formatter + Send>;
        let out = Shared::default();
        let sink = FormatSink::new(Box::new(make), Box::new(out.clone()), 3);
        let entry = Entry::Invoke {
            name: "run".into(),
            args: vec!["30".into()],
        };
        let options = RunOptions {
            fuel: Some(40_000_000),
            ..RunOptions::default()
        };
        let outcome = program
            .run_with(&entry, &options, Some(Box::new(sink)))
            .unwrap();
        let trace = &outcome.trace;
        assert_eq!(
            trace.end,
            RunEnd::Interrupted("fuel exhausted".into()),
            "the run must stop before fib(30) returns"
        );
        let (expected, damage) = ruchy_trace_core::format::render_to_string(make().as_mut(), trace);
        assert!(damage.is_none());
        let events = trace.stats().kept_events;
        assert!(events > 7 * PIECE_RECORDS, "{events} events");
        let closed = expected
            .lines()
            .filter(|l| l.contains("[interrupted]"))
            .count();
        assert!(closed > 2, "{closed} frames closed");
        let streamed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            streamed == expected,
            "streamed output differs from the rendered one ({} vs {} bytes)",
            streamed.len(),
            expected.len()
        );
    }
}
