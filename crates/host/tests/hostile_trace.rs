//! Hostile `.rtrace` files: headers, tables and blocks that state huge
//! lengths. Every length a trace file states is checked against the bytes
//! that remain and a fixed cap before anything is allocated, so `replay`,
//! `report` and `graph` each refuse such a file in one line with status 65,
//! in well under a second and without growing past a few MiB.
//!
//! Time and memory are measured on the child process itself (wall clock
//! around it, its peak RSS from `wait4`), so the bounds are the CLI's.
#![cfg(target_os = "linux")]

mod common;
use common::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak RSS a refusal may reach. The binary alone (wasmtime linked in)
/// starts at a few MiB; a trusted 4 GiB length would pass this at once.
const MAX_RSS_BYTES: u64 = 50 << 20;
/// Wall time a refusal may take.
const MAX_WALL: Duration = Duration::from_secs(1);

/// What one run of the CLI did, measured from outside.
struct Measured {
    status: Option<i32>,
    stderr: String,
    wall: Duration,
    max_rss_bytes: u64,
}

/// Runs `ruchy-trace args`, waiting with `wait4` to read the child's peak
/// RSS (`wait4` reaps the child, so `Child::wait` is never called).
#[allow(clippy::zombie_processes)]
fn measured(args: &[&str]) -> Measured {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ruchy-trace"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs ruchy-trace");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, whose pid `Child` has not reaped
    // (its `wait` is never called), into locals that outlive the call.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let wall = started.elapsed();
    Measured {
        status: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stderr,
        wall,
        // Linux reports ru_maxrss in KiB.
        max_rss_bytes: usage.ru_maxrss as u64 * 1024,
    }
}

/// A real trace of fib(10), recorded once per test process.
fn recorded() -> Vec<u8> {
    static FILE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let file = temp("fib10.rtrace");
        let out = fib_bench_to("record", &[], &file, "10");
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::read(&file).unwrap()
    })
    .clone()
}

/// Bytes of the fixed header: magic, version, epoch, table length, clock
/// resolution.
const HEADER: usize = 24;

/// The header and function table of the real trace: where its first block
/// starts.
fn header_end(trace: &[u8]) -> usize {
    HEADER + u32::from_le_bytes(trace[16..20].try_into().unwrap()) as usize
}

fn u32le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// Asserts every command that reads trace files refuses `bytes` in one
/// line with status 65, naming `needle`, in under a second and 50 MiB.
fn refused(name: &str, bytes: &[u8], needle: &str) {
    let path = temp(&format!("{name}.rtrace"));
    std::fs::write(&path, bytes).unwrap();
    let folded = temp(&format!("{name}.folded"));
    let p = path.to_str().unwrap();
    for args in [
        vec!["replay", p],
        vec!["report", p],
        vec!["graph", p, "--folded", folded.to_str().unwrap()],
    ] {
        let m = measured(&args);
        let what = format!("{name}: {}", args.join(" "));
        assert_eq!(m.status, Some(65), "{what}: status; stderr: {}", m.stderr);
        assert_eq!(
            m.stderr.lines().count(),
            1,
            "{what}: one line: {}",
            m.stderr
        );
        assert!(
            m.stderr.starts_with("ruchy-trace: error: "),
            "{what}: {}",
            m.stderr
        );
        assert!(
            m.stderr.contains(needle),
            "{what}: `{needle}` not in {}",
            m.stderr
        );
        assert!(m.wall < MAX_WALL, "{what}: took {:?}", m.wall);
        assert!(
            m.max_rss_bytes < MAX_RSS_BYTES,
            "{what}: peak RSS {} MiB",
            m.max_rss_bytes >> 20
        );
    }
    cleanup(&[&path, &folded]);
}

fn cleanup(paths: &[&Path]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// The 24-byte file: a bare header whose table length says 4 GiB.
#[test]
fn a_bare_header_stating_a_4_gib_table_is_refused_at_the_cap() {
    let mut f = b"RTRC".to_vec();
    // The current version, so the length is what is refused.
    f.extend(u32le(2));
    f.extend(0u64.to_le_bytes());
    f.extend(u32le(u32::MAX));
    f.extend(u32le(100));
    assert_eq!(f.len(), HEADER);
    refused(
        "header-4gib",
        &f,
        "function table length (over the 64 MiB cap)",
    );
}

/// A table length under the cap but past the end of the file.
#[test]
fn a_table_length_past_the_end_of_the_file_is_truncation() {
    let trace = recorded();
    let mut f = trace[..header_end(&trace)].to_vec();
    f[16..20].copy_from_slice(&u32le(60 << 20));
    refused("table-past-end", &f, "function table is truncated");
}

/// A table whose own counts and string lengths are huge: the table
/// decoder reads them against the table's bytes, never allocating first.
#[test]
fn a_table_stating_huge_counts_inside_is_refused() {
    let trace = recorded();
    let end = header_end(&trace);
    // Every u32 inside the table after magic and version set to u32::MAX.
    let mut table = trace[HEADER..end].to_vec();
    for word in table[8..].chunks_mut(4) {
        word.fill(0xff);
    }
    let mut f = trace[..HEADER].to_vec();
    f.extend(&table);
    refused("table-huge-counts", &f, "at byte offset");
}

/// The real trace's header stating a clock resolution of 4294 seconds:
/// the resolution is a value, not a length, but a file stating more than
/// a second is not one this tool wrote.
#[test]
fn a_header_stating_a_clock_resolution_over_a_second_is_refused() {
    let trace = recorded();
    assert_eq!(&trace[20..24], &u32le(100), "the ticker's 100 us");
    let mut f = trace.clone();
    f[20..24].copy_from_slice(&u32le(u32::MAX));
    refused(
        "clock-resolution-huge",
        &f,
        "clock resolution (over one second)",
    );
}

/// A version 1 file (before the header stated the clock's resolution) is
/// refused by its version, not misread.
#[test]
fn a_version_1_file_is_refused_by_its_version() {
    let mut f = recorded();
    f[4..8].copy_from_slice(&u32le(1));
    refused(
        "version-1",
        &f,
        "invalid trace file version (this ruchy-trace reads version 2) at byte offset 4",
    );
}

/// A block after a valid header stating a 4 GiB payload.
#[test]
fn a_block_stating_4_gib_is_refused_at_the_cap() {
    let trace = recorded();
    let mut f = trace[..header_end(&trace)].to_vec();
    f.push(b'R');
    f.extend(u32le(u32::MAX));
    f.extend([0u8; 64]);
    refused("block-4gib", &f, "trace block length (over the 16 MiB cap)");
}

/// A block stating a length under the cap but past the end of the file,
/// after a good block: damage at that block, found without allocating.
#[test]
fn a_block_stating_more_than_the_file_holds_is_damage_at_its_offset() {
    let trace = recorded();
    let start = header_end(&trace);
    let first_len = u32::from_le_bytes(trace[start + 1..start + 5].try_into().unwrap()) as usize;
    let second = start + 5 + first_len;
    let mut f = trace[..second].to_vec();
    f.push(b'R');
    f.extend(u32le(15 << 20));
    f.extend([0u8; 16]);
    refused(
        "block-past-end",
        &f,
        &format!("trace block is truncated at byte offset {second}"),
    );
}

/// An end block whose text length is huge: read from the block's own
/// bytes, never trusted.
#[test]
fn an_end_block_stating_a_huge_message_is_damage() {
    let trace = recorded();
    let mut f = trace[..header_end(&trace)].to_vec();
    let at = f.len();
    let mut payload = Vec::new();
    payload.extend(0u64.to_le_bytes());
    payload.extend(0u64.to_le_bytes());
    payload.push(2);
    payload.extend(u32le(u32::MAX));
    f.push(b'E');
    f.extend(u32le(payload.len() as u32));
    f.extend(&payload);
    refused(
        "end-huge-text",
        &f,
        &format!("invalid end block at byte offset {at}"),
    );
}

/// The real trace replays within the same bounds, so the bounds measure
/// the refusals rather than the binary's floor.
#[test]
fn the_real_trace_replays_within_the_same_bounds() {
    let path: PathBuf = temp("real.rtrace");
    std::fs::write(&path, recorded()).unwrap();
    let m = measured(&["replay", path.to_str().unwrap()]);
    assert_eq!(m.status, Some(0), "{}", m.stderr);
    assert!(m.wall < MAX_WALL, "took {:?}", m.wall);
    assert!(
        m.max_rss_bytes < MAX_RSS_BYTES,
        "{} MiB",
        m.max_rss_bytes >> 20
    );
    cleanup(&[&path]);
}
