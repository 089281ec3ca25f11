//! Rendering the text trace while the guest runs, on every core.
//!
//! A [`TextSink`] receives chunks of records from the writer thread (see
//! `writer.rs`), so every event reaches the output however many there are:
//! nothing is lost to a full ring. It cuts each chunk into pieces, learns
//! the stack and clock at the start of each piece with a quick pass over
//! the records' headers ([`StreamState::skip_some`]), and hands pieces to
//! render threads; an output thread writes their text in order. Queues
//! between them are bounded, so when rendering falls behind, the guest
//! waits (backpressure) rather than memory growing.

use crate::recorder::RecordSink;
use ruchy_trace_core::decode::{RunEnd, Stats, Trace};
use ruchy_trace_core::format::{Formatter, TextFormatter, TextOptions};
use ruchy_trace_core::ring::Recorded;
use ruchy_trace_core::stream::StreamState;
use ruchy_trace_core::{FunctionTable, RecordLayout};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Records per piece: small enough that a piece's text (tens of bytes an
/// event) stays a few megabytes, large enough that handing it over costs
/// nothing next to rendering it.
const PIECE_RECORDS: u64 = 1 << 16;

/// A piece of records to render, numbered in output order.
struct Piece {
    seq: u64,
    records: Vec<u8>,
    start: StreamState,
    count: u64,
}

type Rendered = (u64, io::Result<Vec<u8>>);

/// Renders every record it is given as the text format, in order, into a
/// writer; see the module documentation.
pub struct TextSink {
    options: TextOptions,
    jobs: usize,
    out: Option<Box<dyn Write + Send>>,
    running: Option<Running>,
}

impl std::fmt::Debug for TextSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextSink")
            .field("jobs", &self.jobs)
            .field("started", &self.running.is_some())
            .finish_non_exhaustive()
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
    renderers: Vec<JoinHandle<()>>,
    output: JoinHandle<io::Result<()>>,
}

impl TextSink {
    /// A sink writing the text format with `options` to `out`, rendering
    /// on `jobs` threads (0: one per core).
    pub fn new(options: TextOptions, out: Box<dyn Write + Send>, jobs: usize) -> TextSink {
        TextSink {
            options,
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

/// Renders one piece's events.
fn render_piece(
    trace: &mut Trace,
    formatter: &mut TextFormatter,
    piece: Piece,
) -> io::Result<Vec<u8>> {
    trace.recorded = Recorded {
        chunks: vec![piece.records],
        start: piece.start,
        kept: piece.count,
        continues: true,
        ..Recorded::default()
    };
    let mut text = String::with_capacity(piece.count as usize * 48);
    for event in trace.events() {
        formatter.event(trace, &event.map_err(decode_error)?, &mut text);
    }
    Ok(text.into_bytes())
}

/// Writes rendered pieces in order of their numbers.
fn write_in_order(mut out: Box<dyn Write + Send>, texts: Receiver<Rendered>) -> io::Result<()> {
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    for (seq, text) in texts {
        waiting.insert(seq, text);
        while let Some(text) = waiting.remove(&next) {
            out.write_all(&text?)?;
            next += 1;
        }
    }
    out.flush()
}

impl RecordSink for TextSink {
    fn start(&mut self, table: &FunctionTable, epoch_unix_us: u64) -> io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("the trace started twice"))?;
        let template = Trace::new(
            table.clone(),
            Recorded::default(),
            RunEnd::Returned,
            epoch_unix_us,
            None,
        );
        let threads = match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (pieces, incoming) = mpsc::sync_channel::<Piece>(threads * 2);
        let incoming = Arc::new(Mutex::new(incoming));
        let (texts, rendered) = mpsc::sync_channel::<Rendered>(threads * 4);
        let output = std::thread::Builder::new()
            .name("ruchy-trace-output".into())
            .spawn(move || write_in_order(out, rendered))?;
        let mut renderers = Vec::new();
        for _ in 0..threads {
            let incoming = incoming.clone();
            let texts = texts.clone();
            let mut trace = template.clone();
            let mut formatter = TextFormatter::new(self.options);
            formatter.begin(&trace, &mut String::new());
            renderers.push(
                std::thread::Builder::new()
                    .name("ruchy-trace-render".into())
                    .spawn(move || loop {
                        let piece = incoming.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(piece) = piece else { return };
                        let seq = piece.seq;
                        let text = render_piece(&mut trace, &mut formatter, piece);
                        if texts.send((seq, text)).is_err() {
                            return;
                        }
                    })?,
            );
        }
        // What the format puts before the events is piece 0.
        let mut head = String::new();
        TextFormatter::new(self.options).begin(&template, &mut head);
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
            let piece = Piece {
                seq: r.next_seq,
                records: chunk[..used].to_vec(),
                start,
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
            if used == 0 {
                break;
            }
        }
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd, end_us: u64) -> io::Result<()> {
        let mut r = self
            .running
            .take()
            .ok_or_else(|| io::Error::other("the trace never started"))?;
        r.pieces = None;
        for t in r.renderers.drain(..) {
            let _ = t.join();
        }
        // Frames still open, closed as the run ended, then the summary.
        let mut last = r.template;
        last.end = end.clone();
        last.end_us = Some(end_us);
        last.recorded = Recorded {
            start: r.state,
            kept: r.events,
            ..Recorded::default()
        };
        let mut formatter = TextFormatter::new(self.options);
        let mut text = String::new();
        formatter.begin(&last, &mut String::new());
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
        r.output
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entry, RunOptions, Tracer};

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

    /// The text a sink streams while the guest runs, cut into many small
    /// pieces rendered on three threads, is byte for byte the text rendered
    /// afterwards from the ring that kept every event.
    #[test]
    fn streamed_text_equals_the_text_rendered_after_the_run() {
        let wasm = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/bench/fib_bench.wasm"),
        )
        .unwrap();
        let program = Tracer::builder()
            .build()
            .unwrap()
            .load(&wasm, &Default::default())
            .unwrap();
        let out = Shared::default();
        let sink = TextSink::new(TextOptions::default(), Box::new(out.clone()), 3);
        let entry = Entry::Invoke {
            name: "run".into(),
            args: vec!["25".into()],
        };
        let outcome = program
            .run_with(&entry, &RunOptions::default(), Some(Box::new(sink)))
            .unwrap();
        let trace = &outcome.trace;
        // The recursion of fib(25) makes 2 * fib(26) - 1 calls, and run(25)
        // one more: two events each, more than seven pieces' worth.
        let events = 2 * (2 * 121_393);
        assert_eq!(trace.stats().kept_events, events);
        assert!(events > 7 * PIECE_RECORDS);
        let mut expected = String::new();
        let mut f = TextFormatter::new(TextOptions::default());
        f.begin(trace, &mut expected);
        for e in trace.events() {
            f.event(trace, &e.unwrap(), &mut expected);
        }
        f.end(trace, &trace.stats(), &mut expected);
        let streamed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(expected.lines().count() as u64, events + 1);
        assert_eq!(streamed, expected);
    }
}
