//! The writer thread: everything a chunk of records needs once the guest
//! handed it over (streaming it to a sink, counting and keeping it in the
//! ring) happens here, off the guest's thread.
//!
//! Chunks travel whole through a bounded queue, so the guest's thread does
//! no work per record: when the writer falls behind, the guest waits at its
//! next flush (backpressure) rather than memory growing. Buffers the ring
//! no longer needs travel back, so chunk memory is reused.
//!
//! A small ring with no sink does its little work per record on the
//! guest's thread instead, straight from each flushed staging area (see
//! `Recorder::start_writer_thread`).

use crate::recorder::RecordSink;
use ruchy_trace_core::Ring;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Chunks waiting for the writer before the guest's thread waits too.
const QUEUE: usize = 2;

/// What the writer hands back when the run ends.
pub struct Written {
    /// The ring, with every chunk pushed.
    pub ring: Ring,
    /// The sink, unless it failed.
    pub sink: Option<Box<dyn RecordSink>>,
    /// The first malformed record the ring met.
    pub error: Option<ruchy_trace_core::Error>,
    /// The first error the sink reported.
    pub sink_error: Option<std::io::Error>,
}

/// A running writer thread.
pub struct Writer {
    chunks: Option<SyncSender<(Vec<u8>, u64)>>,
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<Written>>,
}

impl Writer {
    /// Starts a thread that feeds every chunk to `sink`, then to `ring`.
    pub fn start(ring: Ring, sink: Option<Box<dyn RecordSink>>) -> Writer {
        let (chunks, incoming) = mpsc::sync_channel::<(Vec<u8>, u64)>(QUEUE);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(QUEUE + 1);
        let thread = std::thread::Builder::new()
            .name("ruchy-trace-writer".into())
            .spawn(move || {
                let mut w = Written {
                    ring,
                    sink,
                    error: None,
                    sink_error: None,
                };
                for (chunk, records) in incoming {
                    w.take(chunk, records);
                    if let Some(buffer) = w.ring.take_spare() {
                        match give_back.try_send(buffer) {
                            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                            // Enough buffers wait already; keep this one.
                            Err(TrySendError::Full(b)) => {
                                let _ = w.ring.push_chunk(b);
                            }
                        }
                    }
                }
                w
            })
            .expect("spawning the trace writer thread");
        Writer {
            chunks: Some(chunks),
            spare,
            thread: Some(thread),
        }
    }

    /// Hands a chunk of `records` records over; waits while the queue is
    /// full.
    pub fn send(&mut self, chunk: Vec<u8>, records: u64) {
        if let Some(c) = &self.chunks {
            // The thread only stops once the queue is closed, in finish.
            let _ = c.send((chunk, records));
        }
    }

    /// An empty buffer the ring no longer needs, if one came back.
    pub fn spare(&mut self) -> Option<Vec<u8>> {
        self.spare.try_recv().ok()
    }

    /// Waits for the writer to take every chunk sent.
    pub fn finish(mut self) -> Written {
        self.chunks = None;
        self.thread
            .take()
            .expect("joined once")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Written {
    /// Streams `chunk`, which holds `records` records, to the sink, then
    /// gives it to the ring.
    pub fn take(&mut self, chunk: Vec<u8>, records: u64) {
        self.stream(&chunk);
        if let Err(e) = self.ring.push_counted(chunk, Some(records)) {
            self.error.get_or_insert(e);
        }
    }

    /// Like [`Written::take`], for records still in the guest's staging
    /// area: the ring copies what it keeps.
    pub fn take_slice(&mut self, bytes: &[u8], records: u64) {
        self.stream(bytes);
        if let Err(e) = self.ring.push_slice(bytes, records) {
            self.error.get_or_insert(e);
        }
    }

    fn stream(&mut self, bytes: &[u8]) {
        if let (Some(sink), false) = (&mut self.sink, bytes.is_empty()) {
            if let Err(e) = sink.records(bytes) {
                self.sink_error.get_or_insert(e);
                self.sink = None;
            }
        }
    }
}
