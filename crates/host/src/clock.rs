//! The clock instrumented code reads: a cell in the trace memory that a
//! helper thread keeps at the current microsecond.
//!
//! Reading a clock through a host call costs more than everything else a
//! record needs, so the instrumented code loads this cell instead. Two
//! threads can keep it: by default one that sleeps between ticks, so the
//! clock costs a wake-up per tick rather than a core; or, with
//! [`Clock::Spin`], one that spins for microsecond resolution.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `pause` instructions between clock reads of the spinning clock: each
/// takes tens of cycles.
const PAUSES_PER_READ: u32 = 16;

/// Microseconds between ticks of the default clock: the resolution its
/// timestamps have, stated in every trace it times.
pub const TICK_US: u32 = 100;

/// How the clock cell is kept fresh while a traced guest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// A thread that sleeps [`TICK_US`] between updates, with the kernel's
    /// timer slack at its minimum so the sleeps are that short: a few
    /// percent of one core.
    #[default]
    Ticker,
    /// A thread that spins, re-reading the time every few hundred
    /// nanoseconds: microsecond resolution, one core kept busy.
    Spin,
}

impl Clock {
    /// The resolution of the timestamps this clock gives, in microseconds.
    pub fn resolution_us(self) -> u32 {
        match self {
            Clock::Ticker => TICK_US,
            Clock::Spin => 1,
        }
    }
}

/// A running clock thread; stops when dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Microseconds since `epoch`, wrapped to the record's 32 bits.
pub fn micros_since(epoch: Instant) -> u32 {
    epoch.elapsed().as_micros() as u32
}

/// Asks the kernel to wake this thread's sleeps on time rather than
/// batching them (the default slack for a thread is 50 us).
fn tight_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the
    // calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

impl Ticker {
    /// Starts keeping the `u32` at `cell` fresh with `clock`.
    ///
    /// # Safety
    ///
    /// `cell` must point to 4 writable, 4-aligned bytes that stay valid until
    /// the ticker is dropped. (A wasm memory with a fixed maximum never moves.)
    pub unsafe fn start(cell: *mut u32, epoch: Instant, clock: Clock) -> Ticker {
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
                started.store(true, Ordering::Release);
                match clock {
                    Clock::Ticker => {
                        tight_timer_slack();
                        let tick = Duration::from_micros(u64::from(TICK_US));
                        while !flag.load(Ordering::Relaxed) {
                            cell.store(micros_since(epoch), Ordering::Relaxed);
                            std::thread::sleep(tick);
                        }
                    }
                    Clock::Spin => {
                        let mut last = u32::MAX;
                        while !flag.load(Ordering::Relaxed) {
                            let now = micros_since(epoch);
                            // Writing only when the microsecond changes
                            // moves the cache line at most once per us.
                            if now != last {
                                cell.store(now, Ordering::Relaxed);
                                last = now;
                            }
                            // Pausing between reads (a few hundred ns)
                            // keeps microsecond resolution while leaving
                            // the core's resources, and any sibling
                            // hardware thread, to the guest.
                            for _ in 0..PAUSES_PER_READ {
                                std::hint::spin_loop();
                            }
                        }
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
