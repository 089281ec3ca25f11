//! The browser rows of the benchmark: the same `run(n)` of the same module,
//! traced by the Trace tab's own package in headless Chromium.
//!
//! The harness serves `browser/` (the benchmark page), the embedded page's
//! `pkg/` and the benchmark module with `ruchy-trace serve`'s own server
//! (so the page is cross-origin isolated and `performance.now()` is fine
//! grained), opens it in headless Chromium, and reads the page's medians
//! from Chromium's console log (see `browser/bench.js`).

use ruchy_trace::serve::{self, Limits, Page, Site};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One scenario measured in the browser: its median time and event count.
pub struct Row {
    /// The page's key for it (`plain`, `inline`, …).
    pub key: String,
    /// Median time of the exported call.
    pub time: Duration,
    /// Median time of the call and what follows it until the trace is
    /// ready: the last flush and the ring's finish, which counts the
    /// records (what the wasmtime rows time besides instantiating).
    pub finished: Duration,
    /// Median time of the whole `run()`: instrumenting (none for the
    /// uninstrumented module), compiling, the call, the last flush and the
    /// ring's finish, which counts the records.
    pub whole: Duration,
    /// Events recorded (kept and lost).
    pub events: u64,
    /// What `run(n)` returned, as text.
    pub result: String,
}

/// All browser rows and what the browser was.
pub struct Measured {
    /// In the page's order; the first is the uninstrumented module.
    pub rows: Vec<Row>,
    /// `crossOriginIsolated` in the page (fine-grained timers).
    pub isolated: bool,
    /// `navigator.userAgent`.
    pub user_agent: String,
}

const PAGE_HTML: &str = include_str!("../browser/index.html");
const PAGE_JS: &str = include_str!("../browser/bench.js");
const PREFIX: &str = "RUCHY_TRACE_BENCH ";

/// Kills the browser's whole process group when dropped.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the benchmark page in headless Chromium (`$CHROMIUM`, else
/// `chromium`) on `module`, `reps` round-robin repetitions of `run(n)`.
pub fn measure(module: &[u8], n: i64, reps: usize, timeout: Duration) -> Result<Measured, String> {
    let dir =
        std::env::temp_dir().join(format!("ruchy-trace-bench-browser-{}", std::process::id()));
    let result = stage(&dir, module).and_then(|()| run_page(&dir, n, reps, timeout));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The benchmark page, the Trace tab's package and the module, in `dir`.
fn stage(dir: &Path, module: &[u8]) -> Result<(), String> {
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("inside dir"))
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let mut pkg = 0;
    for (path, bytes) in Page::embedded_files() {
        if path.starts_with("pkg/") {
            write(path, bytes)?;
            pkg += 1;
        }
    }
    if pkg == 0 {
        return Err(
            "this build embeds no page package (crates/host/page/pkg): run scripts/embed-page.sh"
                .into(),
        );
    }
    write("index.html", PAGE_HTML.as_bytes())?;
    write("bench.js", PAGE_JS.as_bytes())?;
    write("fib_bench.wasm", module)
}

fn run_page(dir: &Path, n: i64, reps: usize, timeout: Duration) -> Result<Measured, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let site = Site {
        page: Page::Dir(dir.to_path_buf()),
        compile: false,
        limits: Limits::default(),
    };
    // Serves until the process ends.
    std::thread::spawn(move || serve::serve(listener, site));

    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = dir.join("profile");
    let url = format!("http://127.0.0.1:{port}/index.html?n={n}&reps={reps}");
    let mut command = Command::new(&chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut browser = Browser(command.spawn().map_err(|e| {
        format!("cannot start {chromium}: {e} (apt-get install chromium, or set CHROMIUM)")
    })?);
    let stderr = browser.0.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find(PREFIX) {
                let msg = line[at + PREFIX.len()..].to_string();
                // Chromium quotes the message: `"RUCHY_TRACE_BENCH …", source: …`.
                let msg = msg.split("\", source:").next().unwrap_or("").to_string();
                if tx.send(msg).is_err() {
                    break;
                }
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut rows = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).map_err(|_| {
            format!(
                "the benchmark page did not finish within {} s",
                timeout.as_secs()
            )
        })?;
        let fields: Vec<&str> = line.split('|').collect();
        match fields.as_slice() {
            ["row", key, call_ms, finished_ms, whole_ms, events, result] => rows.push(Row {
                key: key.to_string(),
                time: millis(call_ms).ok_or_else(|| format!("bad time in {line:?}"))?,
                finished: millis(finished_ms).ok_or_else(|| format!("bad time in {line:?}"))?,
                whole: millis(whole_ms).ok_or_else(|| format!("bad time in {line:?}"))?,
                events: events
                    .parse()
                    .map_err(|_| format!("bad event count in {line:?}"))?,
                result: result.to_string(),
            }),
            ["done", isolated, agent] => {
                return Ok(Measured {
                    rows,
                    isolated: *isolated == "true",
                    user_agent: agent.to_string(),
                })
            }
            ["error", message] => return Err(format!("the benchmark page failed: {message}")),
            _ => return Err(format!("unexpected line from the benchmark page: {line:?}")),
        }
    }
}

fn millis(text: &str) -> Option<Duration> {
    text.parse::<f64>()
        .ok()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
}

/// What each of the page's scenarios is, in the table's words, and its target.
fn label(key: &str) -> (&'static str, &'static str) {
    match key {
        "plain" => ("Chromium: uninstrumented", "-"),
        "inline" => (
            "Chromium: full tracing, args + results + timestamps (inline; clock read per 64 KiB batch)",
            "<= 3.0x",
        ),
        "inline-no-timestamps" => ("Chromium: full tracing, no timestamps (inline)", "-"),
        "hooks" => (
            "Chromium: full tracing through JS hooks, a clock read per event (portable path)",
            "-",
        ),
        "sample-1000" => (
            "Chromium: --trace-sample 1000, timestamps (inline; performance.now() per traced event)",
            "-",
        ),
        _ => ("Chromium: unknown scenario", "-"),
    }
}

/// Measures the browser rows and prints them as a table of their own
/// (ratios against the page's own uninstrumented run), or one row saying
/// why they could not be measured.
pub fn print_rows(module: &[u8], n: i64, reps: usize, calls: u64) {
    println!();
    println!("Chromium, fib({n}), median of {reps} runs each, side by side:");
    println!();
    println!(
        "| scenario | call | ratio | call + finish | ratio | target | events | ns per event (call) | whole run() | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let measured = match measure(module, n, reps, Duration::from_secs(600)) {
        Ok(m) => m,
        Err(e) => {
            println!("| Chromium rows | not run: {e} | | | | | | | | |");
            return;
        }
    };
    let Some(base) = measured.rows.first().filter(|r| r.key == "plain") else {
        println!(
            "| Chromium rows | not run: the page measured no uninstrumented row | | | | | | | | |"
        );
        return;
    };
    for (i, row) in measured.rows.iter().enumerate() {
        let (label, target) = label(&row.key);
        assert_eq!(
            row.result, base.result,
            "{label}: result differs from the uninstrumented module"
        );
        let per_event = if row.events >= calls && i > 0 {
            format!(
                "{:.2}",
                (row.time.as_secs_f64() - base.time.as_secs_f64()) * 1e9 / row.events as f64
            )
        } else {
            "-".into()
        };
        println!(
            "| {label} | {:.2} ms | {:.2}x | {:.2} ms | {:.2}x | {target} | {} | {per_event} | {:.2} ms | {:.2}x |",
            row.time.as_secs_f64() * 1e3,
            row.time.as_secs_f64() / base.time.as_secs_f64(),
            row.finished.as_secs_f64() * 1e3,
            row.finished.as_secs_f64() / base.finished.as_secs_f64(),
            row.events,
            row.whole.as_secs_f64() * 1e3,
            row.whole.as_secs_f64() / base.whole.as_secs_f64(),
        );
    }
    println!(
        "| Chromium: crossOriginIsolated (fine-grained performance.now) | {} | | | | true | | | | |",
        measured.isolated
    );
    eprintln!("browser: {}", measured.user_agent);
}
