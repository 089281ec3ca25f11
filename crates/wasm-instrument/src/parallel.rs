//! Work on function bodies split over threads: contiguous pieces of
//! similar size, taken in turn by up to `jobs` threads, each result handed
//! on in order as soon as the pieces before it are done. With one job (or
//! where threads cannot be spawned, as in the browser) everything runs on
//! the calling thread.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Threads to use for `jobs` (0: one per core the system offers).
pub fn threads(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Calls `work` on ranges covering `0..items.len()` and `take` on each
/// result, in order, on the calling thread. Stops at the earliest failing
/// range and returns its error.
///
/// A result is handed to `take` as soon as every earlier one has been, so
/// only the pieces finished out of order wait in memory: the rewrite
/// appends each piece of bodies to the output and frees it, instead of
/// holding every rewritten body until the last is done.
pub fn for_each_piece<T, R, E>(
    items: &[T],
    jobs: usize,
    work: impl Fn(Range<usize>) -> Result<R, E> + Sync,
    mut take: impl FnMut(R),
) -> Result<(), E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    let threads = threads(jobs).min(items.len()).max(1);
    // Many pieces per thread, so one piece of big bodies does not leave the
    // other threads idle at the end, and the pieces done out of order,
    // waiting for an earlier one, stay small.
    let pieces = (threads * 32).min(items.len()).max(1);
    let ranges: Vec<Range<usize>> = (0..pieces)
        .map(|p| p * items.len() / pieces..(p + 1) * items.len() / pieces)
        .collect();
    if threads == 1 {
        for range in ranges {
            take(work(range)?);
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Result<R, E>>>> = Mutex::new((0..pieces).map(|_| None).collect());
    let finished = Condvar::new();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let p = next.fetch_add(1, Ordering::Relaxed);
                let Some(range) = ranges.get(p) else { break };
                let r = work(range.clone());
                let failed = r.is_err();
                done.lock().unwrap_or_else(|e| e.into_inner())[p] = Some(r);
                finished.notify_one();
                if failed {
                    // Later pieces no longer matter; earlier ones finish.
                    next.fetch_max(pieces, Ordering::Relaxed);
                }
            });
        }
        for p in 0..pieces {
            let mut slots = done.lock().unwrap_or_else(|e| e.into_inner());
            let r = loop {
                if let Some(r) = slots[p].take() {
                    break r;
                }
                slots = finished.wait(slots).unwrap_or_else(|e| e.into_inner());
            };
            drop(slots);
            match r {
                Ok(r) => take(r),
                Err(e) => {
                    // Let the workers run out of pieces, then report.
                    next.fetch_max(pieces, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results reach `take` in the order of their ranges, covering every
    /// item once, whatever the number of threads.
    #[test]
    fn pieces_are_taken_in_order_and_cover_every_item() {
        let items: Vec<usize> = (0..1000).collect();
        for jobs in [1, 2, 3, 8] {
            let mut seen = Vec::new();
            for_each_piece(
                &items,
                jobs,
                |r| Ok::<_, ()>(items[r].to_vec()),
                |piece| seen.extend(piece),
            )
            .unwrap();
            assert_eq!(seen, items, "jobs {jobs}");
        }
    }

    /// The earliest failing range's error is returned, and nothing after
    /// it is taken.
    #[test]
    fn the_earliest_failure_stops_the_pieces_after_it() {
        let items: Vec<usize> = (0..1000).collect();
        let mut taken = Vec::new();
        let r = for_each_piece(
            &items,
            4,
            |r| {
                if r.contains(&500) {
                    Err(r.start)
                } else {
                    Ok(r.end)
                }
            },
            |end| taken.push(end),
        );
        let failed_at = r.unwrap_err();
        assert!(failed_at <= 500);
        assert_eq!(taken.last().copied(), Some(failed_at));
    }
}
