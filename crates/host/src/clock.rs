//! The clock instrumented code reads: a cell in the trace memory that a
//! helper thread keeps at the current microsecond.
//!
//! Reading a clock through a host call costs more than everything else a
//! record needs, so the instrumented code loads this cell instead. The
//! thread writes only when the microsecond changes, so the cache line
//! moves between cores at most once per microsecond.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// `pause` instructions between clock reads: each takes tens of cycles.
const PAUSES_PER_READ: u32 = 16;

/// A running clock thread; stops when dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Microseconds since `epoch`, wrapped to the record's 32 bits.
pub fn micros_since(epoch: Instant) -> u32 {
    epoch.elapsed().as_micros() as u32
}

impl Ticker {
    /// Starts keeping the `u32` at `cell` fresh.
    ///
    /// # Safety
    ///
    /// `cell` must point to 4 writable, 4-aligned bytes that stay valid until
    /// the ticker is dropped. (A wasm memory with a fixed maximum never moves.)
    pub unsafe fn start(cell: *mut u32, epoch: Instant) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let addr = cell as usize;
        let flag = stop.clone();
        let alive = Arc::new(AtomicBool::new(false));
        let started = alive.clone();
        // SAFETY: as above; the first value is there before the guest runs.
        unsafe { AtomicU32::from_ptr(cell) }.store(micros_since(epoch), Ordering::Relaxed);
        let thread = std::thread::Builder::new()
            .name("ruchy-trace-clock".into())
            .spawn(move || {
                // SAFETY: guaranteed by the caller for the thread's lifetime;
                // the guest only ever reads the cell.
                let cell = unsafe { AtomicU32::from_ptr(addr as *mut u32) };
                let mut last = u32::MAX;
                started.store(true, Ordering::Release);
                while !flag.load(Ordering::Relaxed) {
                    let now = micros_since(epoch);
                    if now != last {
                        cell.store(now, Ordering::Relaxed);
                        last = now;
                    }
                    // Reading the clock is the thread's whole cost; pausing
                    // between reads (a few hundred ns) keeps microsecond
                    // resolution while leaving the core's resources, and
                    // any sibling hardware thread, to the guest.
                    for _ in 0..PAUSES_PER_READ {
                        std::hint::spin_loop();
                    }
                }
            })
            .expect("spawning the clock thread");
        // A guest that starts before the thread runs would see a frozen
        // clock: wait until it ticks.
        while !alive.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
