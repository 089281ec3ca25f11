//! Work on function bodies split over threads: contiguous pieces of
//! similar size, taken in turn by up to `jobs` threads, results kept in
//! order. With one job (or where threads cannot be spawned, as in the
//! browser) everything runs on the calling thread.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Threads to use for `jobs` (0: one per core the system offers).
pub fn threads(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Calls `work` on ranges covering `0..items.len()` and returns the
/// results in order, or the error of the earliest failing range.
pub fn map_pieces<T, R, E>(
    items: &[T],
    jobs: usize,
    work: impl Fn(Range<usize>) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    let threads = threads(jobs).min(items.len()).max(1);
    if threads == 1 {
        return work(0..items.len()).map(|r| vec![r]);
    }
    // Several pieces per thread, so one piece of big bodies does not leave
    // the other threads idle at the end.
    let pieces = (threads * 8).min(items.len());
    let ranges: Vec<Range<usize>> = (0..pieces)
        .map(|p| p * items.len() / pieces..(p + 1) * items.len() / pieces)
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, E>>>> = Mutex::new((0..pieces).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let p = next.fetch_add(1, Ordering::Relaxed);
                let Some(range) = ranges.get(p) else { break };
                let r = work(range.clone());
                let failed = r.is_err();
                results.lock().unwrap_or_else(|e| e.into_inner())[p] = Some(r);
                if failed {
                    // Later pieces no longer matter; earlier ones finish.
                    next.fetch_max(pieces, Ordering::Relaxed);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(pieces);
    for r in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        match r {
            Some(r) => out.push(r?),
            // Skipped after an earlier piece failed; that error was returned.
            None => break,
        }
    }
    Ok(out)
}
