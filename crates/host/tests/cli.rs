//! The `ruchy-trace` binary, as a user runs it.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn fibonacci_trace_is_the_proposals() {
    let out = ruchy_trace(&[
        "run",
        "--wasm-types",
        fixture("fibonacci.wasm").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5\n");
    let err = text(&out.stderr);
    let fib: Vec<&str> = err.lines().filter(|l| l.contains("fibonacci(")).collect();
    let enters: Vec<&&str> = fib.iter().filter(|l| l.contains("-> fibonacci(")).collect();
    let exits: Vec<&&str> = fib
        .iter()
        .filter(|l| l.contains("<- fibonacci() = "))
        .collect();
    assert_eq!((enters.len(), exits.len()), (15, 15), "{err}");
    assert!(fib[0].ends_with("-> fibonacci(i64=5)"), "first: {}", fib[0]);
    assert!(
        fib[fib.len() - 1].contains("<- fibonacci() = 5 ["),
        "last: {}",
        fib[fib.len() - 1]
    );
    // Properly nested: a stack of open calls never underflows and ends empty,
    // and every line starts with a `[secs.micros]` timestamp.
    let mut depth = 0i32;
    for l in &fib {
        assert!(
            l.starts_with('[') && l.as_bytes()[11] == b'.' && l.as_bytes()[18] == b']',
            "timestamp: {l}"
        );
        if l.contains("-> ") {
            depth += 1;
        } else {
            depth -= 1;
            assert!(depth >= 0, "exit without entry at {l}");
        }
    }
    assert_eq!(depth, 0);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "# clock resolution: 100 us");
    assert!(lines[1].ends_with("-> main()"), "{}", lines[1]);
    assert!(err.contains("# events: 32 kept, 0 lost"), "{err}");
}

#[test]
fn fibonacci_trace_speaks_ruchy_by_default() {
    let out = ruchy_trace(&["run", fixture("fibonacci.wasm").to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "5\n");
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    // Names, types and the `.ruchy` location of `fun fibonacci`, from DWARF
    // and the source beside the module.
    assert_eq!(lines[0], "# clock resolution: 100 us");
    assert!(
        lines[1].ends_with("] -> main() <fibonacci.ruchy:8:5>"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with("] -> fibonacci(n: i64 = 5) <fibonacci.ruchy:1:5>"),
        "{}",
        lines[2]
    );
    assert!(
        lines.iter().any(|l| l.contains("<- fibonacci() = 5 [")),
        "{err}"
    );
}

#[test]
fn strings_and_structs_are_decoded() {
    let out = ruchy_trace(&[
        "run",
        "--no-timestamps",
        fixture("strings.wasm").to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains("-> greet(name: String = \"Ada\") <strings.ruchy:1:5>"),
        "{err}"
    );
    assert!(err.contains("<- greet() = \"Hello, Ada!\""), "{err}");
    assert!(
        err.contains("-> shout(s: String = \"Hello, Bob!\")"),
        "{err}"
    );
    let out = ruchy_trace(&[
        "run",
        "--no-timestamps",
        fixture("structs.wasm").to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains("-> manhattan(p: Point = Point { x: 3, y: -4 })"),
        "{err}"
    );
    assert!(
        err.contains("-> shift(p: Point = Point { x: 1, y: 2 }, dx: i64 = 5)"),
        "{err}"
    );
    assert!(err.contains("<- shift() = Point { x: 6, y: 2 }"), "{err}");
    let out = ruchy_trace(&[
        "run",
        "--no-timestamps",
        fixture("bools.wasm").to_str().unwrap(),
    ]);
    assert!(
        text(&out.stderr).contains("-> both(a: bool = true, b: bool = false)"),
        "{}",
        text(&out.stderr)
    );
    // JSON carries names, types and structured values.
    let out = ruchy_trace(&[
        "run",
        "--format",
        "json",
        fixture("structs.wasm").to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    let shift = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "shift")
        .unwrap()
        .clone();
    assert_eq!(shift["args"][0]["name"], "p");
    assert_eq!(shift["args"][0]["type_info"]["name"], "Point");
    assert_eq!(shift["args"][0]["value"]["x"], 1);
    assert_eq!(shift["args"][1]["value"], 5);
}

#[test]
fn a_corrupted_pointer_reads_as_unreadable_and_the_run_goes_on() {
    let values = fixture("values/values.wasm");
    let out = ruchy_trace(&[
        "run",
        "--invoke",
        "run",
        "--no-timestamps",
        "--filter",
        "!*abs*",
        values.to_str().unwrap(),
        "--",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "14\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("-> ignore(p: &Point = &<unreadable 0x7ffffff0>)"),
        "{err}"
    );
    assert!(
        err.contains("-> norm1(p: &Point = &Point { x: 3, y: -4 })"),
        "{err}"
    );
}

#[test]
fn ruchy_programs_need_the_compiler_and_say_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_ruchy-trace"))
        .args(["run", fixture("fibonacci.ruchy").to_str().unwrap()])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_one_line_error(&out, 69, "cargo install ruchy");
}

#[test]
fn indented_text_follows_depth() {
    let out = ruchy_trace(&[
        "run",
        "--indent",
        "--no-timestamps",
        "--wasm-types",
        fixture("fibonacci.wasm").to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "-> main()");
    assert_eq!(lines[1], "  -> fibonacci(i64=5)");
    assert_eq!(lines[2], "    -> fibonacci(i64=4)");
    assert!(lines.contains(&"  <- fibonacci() = 5"), "{err}");
}

#[test]
fn a_ring_of_ten_keeps_ten_and_counts_twenty_lost() {
    let wasm = fixture("fibonacci.wasm");
    let out = ruchy_trace(&[
        "run",
        "--filter",
        "fibonacci",
        "--buffer-size",
        "10",
        "--format",
        "json",
        wasm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON trace");
    assert_eq!(json["events"].as_array().unwrap().len(), 10);
    assert_eq!(json["stats"]["dropped_events"], 20);
    assert_eq!(json["stats"]["kept_events"], 10);
    assert_eq!(json["stats"]["total_events"], 30);
    // Keep-newest: the last event is fibonacci(5) returning 5.
    let last = json["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "function_exit");
    assert_eq!(last["returns"][0]["value"], 5);

    let out = ruchy_trace(&[
        "run",
        "--filter",
        "fibonacci",
        "--buffer-size",
        "10",
        wasm.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.contains("fibonacci")).count(),
        10,
        "{err}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("# events: 10 kept, 20 lost"),
        "{err}"
    );

    let out = ruchy_trace(&[
        "run",
        "--filter",
        "fibonacci",
        "--buffer-size",
        "10",
        "--keep",
        "oldest",
        "--format",
        "json",
        wasm.to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON trace");
    let events = json["events"].as_array().unwrap();
    assert_eq!(json["stats"]["dropped_events"], 20);
    assert_eq!(
        events[0]["args"][0]["value"], 5,
        "keep-oldest starts at the first call"
    );
    // fib(5) 4 3 2 1, <-1, ->0, <-0, <-1, ->1: seven entries in the first ten.
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "function_enter")
            .count(),
        7
    );
}

#[test]
fn json_and_chrome_outputs_parse_and_balance() {
    let wasm = fixture("fibonacci.wasm");
    let json_path = temp("fib.json");
    let out = ruchy_trace(&[
        "run",
        "--format",
        "json",
        "-o",
        json_path.to_str().unwrap(),
        wasm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "trace went to the file: {}",
        text(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let first_fib = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fibonacci")
        .unwrap()
        .clone();
    assert_eq!(first_fib["type"], "function_enter");
    assert_eq!(first_fib["args"][0]["type_info"]["name"], "i64");
    assert_eq!(first_fib["args"][0]["value"], 5);
    assert!(first_fib["timestamp_ns"].as_u64().unwrap() > 1_600_000_000_000_000_000);
    assert_eq!(json["stats"]["dropped_events"], 0);

    let chrome_path = temp("fib.chrome.json");
    let out = ruchy_trace(&[
        "run",
        "--format",
        "chrome",
        "-o",
        chrome_path.to_str().unwrap(),
        wasm.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let chrome: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&chrome_path).unwrap()).unwrap();
    let events = chrome["traceEvents"].as_array().unwrap();
    let mut open = 0i64;
    let mut begins = 0;
    for e in events {
        match e["ph"].as_str().unwrap() {
            "B" => {
                open += 1;
                begins += 1;
            }
            "E" => {
                open -= 1;
                assert!(open >= 0);
            }
            _ => {}
        }
    }
    assert_eq!((open, begins), (0, 16));

    let out = ruchy_trace(&["run", "--format", "jsonl", wasm.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines[0].get("metadata").is_some());
    assert!(lines.last().unwrap().get("stats").is_some());
    assert_eq!(lines.len(), 32 + 2);
}

#[test]
fn the_panicking_program_exits_non_zero_naming_the_trap() {
    let out = ruchy_trace(&["run", fixture("panic.wasm").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(134));
    assert_eq!(text(&out.stdout), "3\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("panicked at"),
        "guest stderr passes through: {err}"
    );
    assert!(err.contains("<- check() [trapped]"), "{err}");
    assert!(err.contains("<- main() [trapped]"), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("ruchy-trace: error: guest trapped: "),
        "{err}"
    );
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn trace_is_flushed_to_the_file_when_the_guest_traps() {
    let path = temp("panic.json");
    let out = ruchy_trace(&[
        "run",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
        fixture("panic.wasm").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(134));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["metadata"]["end"]["kind"], "trapped");
    let closed = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["closed"] == "trapped")
        .count();
    assert_eq!(closed, 3);
}

#[test]
fn writing_to_a_device_writes_through_it() {
    let out = ruchy_trace(&[
        "run",
        "-o",
        "/dev/null",
        fixture("fibonacci.wasm").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/null was replaced"
    );
}

#[test]
fn bad_input_is_one_line_and_a_documented_status() {
    let not_wasm = temp("notes.wasm");
    std::fs::write(&not_wasm, "this is a text file\n").unwrap();
    assert_one_line_error(
        &ruchy_trace(&["run", not_wasm.to_str().unwrap()]),
        65,
        "not a WebAssembly module",
    );

    let wasm = std::fs::read(fixture("fibonacci.wasm")).unwrap();
    let truncated = temp("truncated.wasm");
    std::fs::write(&truncated, &wasm[..wasm.len() / 2]).unwrap();
    assert_one_line_error(
        &ruchy_trace(&["run", truncated.to_str().unwrap()]),
        65,
        "invalid WebAssembly module",
    );

    let component = temp("component.wasm");
    std::fs::write(&component, b"\0asm\x0d\x00\x01\x00").unwrap();
    assert_one_line_error(
        &ruchy_trace(&["run", component.to_str().unwrap()]),
        65,
        "component",
    );

    let missing = ruchy_trace(&[
        "run",
        "--invoke",
        "nope",
        fixture("fibonacci.wasm").to_str().unwrap(),
    ]);
    assert_one_line_error(&missing, 65, "no exported function `nope`");

    let absent = ruchy_trace(&["run", "/nonexistent/x.wasm"]);
    assert_one_line_error(&absent, 66, "cannot read");

    let bench = fixture("bench/fib_bench.wasm");
    let bad_arg = ruchy_trace(&[
        "run",
        "--invoke",
        "run",
        bench.to_str().unwrap(),
        "--",
        "five",
    ]);
    assert_one_line_error(&bad_arg, 65, "not a valid i64");
}

#[test]
fn invoke_prints_results_and_traces_the_call() {
    let bench = fixture("bench/fib_bench.wasm");
    let out = ruchy_trace(&[
        "run",
        "--invoke",
        "run",
        "--no-timestamps",
        bench.to_str().unwrap(),
        "--",
        "3",
    ]);
    // The benchmark module has no debug information: wasm types.
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "2\n");
    let err = text(&out.stderr);
    assert_eq!(err.lines().next().unwrap(), "-> run(i64=3)");
    assert!(err.contains("-> fibonacci(i64=1)"), "{err}");
}

/// `instrument` writes a valid module, the same into a file and a pipe,
/// fails with status 74 on a full device, and its output runs as it is
/// but is refused a second instrumentation.
#[test]
fn instrument_writes_a_module_that_runs_anywhere_we_do() {
    let out_path = temp("fib.traced.wasm");
    let out = ruchy_trace(&[
        "instrument",
        fixture("fibonacci.wasm").to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&out_path).unwrap();
    wasmparser::Validator::new().validate_all(&bytes).unwrap();
    // Into a file the module is streamed as it is made; into a pipe (the
    // captured stdout), written once made: the same bytes either way.
    let piped = ruchy_trace(&[
        "instrument",
        fixture("fibonacci.wasm").to_str().unwrap(),
        "-o",
        "/dev/stdout",
    ]);
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert!(
        piped.stdout == bytes,
        "the piped module differs from the file"
    );
    // A device that takes nothing: one line naming the output, status 74.
    let full = ruchy_trace(&[
        "instrument",
        fixture("fibonacci.wasm").to_str().unwrap(),
        "-o",
        "/dev/full",
    ]);
    assert_one_line_error(&full, 74, "cannot write /dev/full");
    // Running an instrumented module uses its own table as it is.
    let run = ruchy_trace(&["run", out_path.to_str().unwrap()]);
    assert_eq!(text(&run.stdout), "5\n");
    assert_eq!(
        text(&run.stderr)
            .lines()
            .filter(|l| l.contains("-> fibonacci("))
            .count(),
        15
    );
    // Instrumenting it again is refused, clearly.
    let again = ruchy_trace(&[
        "instrument",
        out_path.to_str().unwrap(),
        "-o",
        temp("twice.wasm").to_str().unwrap(),
    ]);
    assert_one_line_error(&again, 65, "already instrumented");
}

#[test]
fn filters_include_and_exclude() {
    let wasm = fixture("mutual.wasm");
    let out = ruchy_trace(&[
        "run",
        "--filter",
        "is_*",
        "--filter",
        "!is_odd",
        "--no-timestamps",
        wasm.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(err.contains("-> is_even("), "{err}");
    assert!(!err.contains("is_odd"), "{err}");
    assert!(!err.contains("main"), "{err}");
    let all = ruchy_trace(&[
        "run",
        "--all",
        "--filter",
        "*print*",
        wasm.to_str().unwrap(),
    ]);
    assert!(
        text(&all.stderr).contains("std::io::stdio::_print"),
        "{}",
        text(&all.stderr)
    );
}

#[test]
fn replay_matches_the_live_trace_byte_for_byte() {
    for format in ["text", "json", "jsonl", "chrome"] {
        for fixture_name in [
            "fibonacci.wasm",
            "strings.wasm",
            "structs.wasm",
            "panic.wasm",
        ] {
            let live = temp(&format!("live-{format}-{fixture_name}.out"));
            let file = temp(&format!("{format}-{fixture_name}.rtrace"));
            let run = ruchy_trace(&[
                "run",
                "--format",
                format,
                "-o",
                live.to_str().unwrap(),
                "--record",
                file.to_str().unwrap(),
                fixture(fixture_name).to_str().unwrap(),
            ]);
            assert!(run.status.code().is_some(), "{}", text(&run.stderr));
            let replayed = ruchy_trace(&["replay", "--format", format, file.to_str().unwrap()]);
            assert!(replayed.status.success(), "{}", text(&replayed.stderr));
            let live = std::fs::read(&live).unwrap();
            assert!(!live.is_empty());
            assert_eq!(
                text(&replayed.stdout),
                text(&live),
                "{format} {fixture_name}"
            );
        }
    }
}

/// Records `run(n)` of the bundled fibonacci benchmark module to `file`.
fn record_fib(file: &std::path::Path, n: &str) -> std::process::Output {
    let bench = fixture("bench/fib_bench.wasm");
    let out = ruchy_trace(&[
        "record",
        "--invoke",
        "run",
        bench.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
        "--",
        n,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

#[test]
fn record_is_compact_and_report_and_graph_add_up() {
    let file = temp("fib20.rtrace");
    let bench = fixture("bench/fib_bench.wasm");
    let out = record_fib(&file, "20");
    assert_eq!(text(&out.stdout), "6765\n");
    assert!(
        out.stderr.is_empty(),
        "record prints no trace: {}",
        text(&out.stderr)
    );
    // fib(20): 21891 calls of fibonacci and one of run, two events each.
    let events = 2 * (21891 + 1);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(
        (size as f64) / (events as f64) <= 8.0,
        "{size} bytes for {events} events"
    );

    let report = ruchy_trace(&["report", "--sort", "calls", file.to_str().unwrap()]);
    let lines: Vec<String> = text(&report.stdout).lines().map(String::from).collect();
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.ends_with(&format!("  {name}")))
            .unwrap()
            .clone()
    };
    assert!(
        row("fibonacci").trim_start().starts_with("21891 "),
        "{lines:?}"
    );
    assert!(row("run").trim_start().starts_with("1 "), "{lines:?}");
    assert!(
        lines[1].ends_with("  fibonacci"),
        "sorted by calls: {lines:?}"
    );

    // Without timestamps, flame graphs weigh paths by calls.
    let untimed = temp("fib20-untimed.rtrace");
    let out = ruchy_trace(&[
        "record",
        "--no-timestamps",
        "--invoke",
        "run",
        bench.to_str().unwrap(),
        "-o",
        untimed.to_str().unwrap(),
        "--",
        "20",
    ]);
    assert!(out.status.success());
    let folded = temp("fib20.folded");
    let svg = temp("fib20.svg");
    let g = ruchy_trace(&[
        "graph",
        untimed.to_str().unwrap(),
        "--folded",
        folded.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(g.status.success(), "{}", text(&g.stderr));
    let tree = text(&g.stdout);
    assert!(tree.starts_with("run  [1 call"), "{tree}");
    assert!(
        tree.lines()
            .nth(1)
            .unwrap()
            .starts_with("  fibonacci  [1 call"),
        "{tree}"
    );
    let folded = std::fs::read_to_string(&folded).unwrap();
    assert!(folded.lines().all(|l| l.starts_with("run")), "{folded}");
    assert!(
        folded
            .lines()
            .any(|l| l.starts_with("run;fibonacci;fibonacci;")),
        "{folded}"
    );
    let calls: u64 = folded
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(calls, 21891 + 1, "every call is on one path");
    // An interactive flame graph: an SVG with zoom and search scripts.
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("fibonacci"),
        "{svg}"
    );
    assert!(
        svg.contains("function zoom(")
            && svg.contains("function search(")
            && svg.contains("id=\"search\""),
        "no zoom or search"
    );
}

#[test]
fn a_damaged_trace_file_replays_up_to_the_damage() {
    let file = temp("big.rtrace");
    let bench = fixture("bench/fib_bench.wasm");
    // Enough events for several blocks.
    let out = ruchy_trace(&[
        "record",
        "--invoke",
        "run",
        "--no-timestamps",
        bench.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
        "--",
        "25",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&file).unwrap();
    let full = ruchy_trace(&["replay", file.to_str().unwrap()]);
    let full_lines = text(&full.stdout).lines().count();
    for cut in [bytes.len() - 3, bytes.len() / 2, bytes.len() / 5] {
        let cut_file = temp(&format!("cut-{cut}.rtrace"));
        std::fs::write(&cut_file, &bytes[..cut]).unwrap();
        let r = ruchy_trace(&["replay", cut_file.to_str().unwrap()]);
        assert_one_line_error(&r, 65, "offset");
        let got = text(&r.stdout);
        let lines = got.lines().count();
        assert!(
            lines > 0 && lines < full_lines + 2,
            "cut at {cut}: {lines} of {full_lines} lines"
        );
        // What replays is the start of the full trace.
        let full_text = text(&full.stdout);
        let prefix: String = got
            .lines()
            .take_while(|l| !l.contains("[interrupted]") && !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(full_text.starts_with(&prefix), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0xff;
    let f = temp("flipped.rtrace");
    std::fs::write(&f, &flipped).unwrap();
    let r = ruchy_trace(&["replay", f.to_str().unwrap()]);
    assert!(!text(&r.stderr).contains("panicked"), "{}", text(&r.stderr));
    let not = temp("not.rtrace");
    std::fs::write(&not, b"hello").unwrap();
    assert_one_line_error(
        &ruchy_trace(&["replay", not.to_str().unwrap()]),
        65,
        "trace file",
    );
}

#[test]
fn serve_serves_the_page_on_loopback_and_says_when_it_cannot_compile() {
    let www = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../www");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ruchy-trace"));
    command
        .args(["serve", "--port", "0", "--dir", www.to_str().unwrap()])
        .env("PATH", "/nonexistent");
    let (mut child, addr) = serving(command);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let (status, body) = http(&addr, "GET", "/", b"");
    assert_eq!(status, 200);
    assert!(text(&body).contains("<html"), "{}", text(&body));
    assert_eq!(
        http(&addr, "GET", "/../Cargo.toml", b"").0,
        404,
        "nothing outside the page's directory"
    );
    let (status, body) = http(&addr, "POST", "/api/compile", b"fun main() { println(1); }");
    assert_eq!(status, 501, "{}", text(&body));
    assert!(
        text(&body).contains("cargo install ruchy"),
        "{}",
        text(&body)
    );
    assert_eq!(http(&addr, "DELETE", "/", b"").0, 405);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The proposal's flag names are aliases of ours: `--trace-filter` filters
/// like `--filter` and `--trace-output` writes like `-o`, on `run` and on
/// `replay`.
#[test]
fn the_proposals_flag_names_are_accepted() {
    let wasm = fixture("mutual.wasm");
    let file = temp("aliases.txt");
    let out = ruchy_trace(&[
        "run",
        "--trace-filter",
        "is_even",
        "--trace-output",
        file.to_str().unwrap(),
        "--no-timestamps",
        wasm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "the trace went to the file: {}",
        text(&out.stderr)
    );
    let trace = std::fs::read_to_string(&file).unwrap();
    assert!(trace.contains("-> is_even("), "{trace}");
    assert!(
        !trace.contains("is_odd") && !trace.contains("main"),
        "{trace}"
    );

    let rtrace = temp("aliases.rtrace");
    let out = ruchy_trace(&[
        "record",
        "--all",
        wasm.to_str().unwrap(),
        "--trace-output",
        rtrace.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replayed = temp("aliases-replayed.txt");
    let out = ruchy_trace(&[
        "replay",
        rtrace.to_str().unwrap(),
        "--trace-filter",
        "is_odd",
        "--trace-output",
        replayed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let replayed = std::fs::read_to_string(&replayed).unwrap();
    assert!(replayed.contains("-> is_odd("), "{replayed}");
    assert!(!replayed.contains("is_even"), "{replayed}");
}

/// `report` and `graph` write with `-o` exactly what they print without it.
#[test]
fn report_and_graph_write_to_output_files() {
    let rtrace = temp("output-flags.rtrace");
    record_fib(&rtrace, "10");
    for sub in ["report", "graph"] {
        let printed = ruchy_trace(&[sub, rtrace.to_str().unwrap()]);
        assert!(printed.status.success(), "{}", text(&printed.stderr));
        assert!(
            text(&printed.stdout).contains("fibonacci"),
            "{}",
            text(&printed.stdout)
        );
        let file = temp(&format!("output-flags.{sub}"));
        let written = ruchy_trace(&[
            sub,
            rtrace.to_str().unwrap(),
            "--output",
            file.to_str().unwrap(),
        ]);
        assert!(written.status.success(), "{}", text(&written.stderr));
        assert!(
            written.stdout.is_empty(),
            "{sub}: {}",
            text(&written.stdout)
        );
        assert_eq!(std::fs::read(&file).unwrap(), printed.stdout, "{sub}");
    }
}

/// `--time-threshold` takes microseconds (`10us`, as documented) and any
/// humantime duration: a threshold above every call hides them all, one of
/// zero hides none.
#[test]
fn time_thresholds_read_microseconds_and_hide_short_calls() {
    let rtrace = temp("threshold.rtrace");
    let out = ruchy_trace(&[
        "record",
        fixture("fibonacci.wasm").to_str().unwrap(),
        "-o",
        rtrace.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls = |threshold: &str| {
        let r = ruchy_trace(&[
            "replay",
            rtrace.to_str().unwrap(),
            "--time-threshold",
            threshold,
        ]);
        assert!(r.status.success(), "{threshold}: {}", text(&r.stderr));
        text(&r.stdout)
            .lines()
            .filter(|l| l.contains("-> "))
            .count()
    };
    assert_eq!(calls("0us"), 16, "main and 15 fibonacci calls");
    assert_eq!(calls("1h 30m"), 0);
    assert!(calls("10us") <= 16);
    let bad = ruchy_trace(&[
        "replay",
        rtrace.to_str().unwrap(),
        "--time-threshold",
        "10 parsecs",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert!(
        err.contains("`10 parsecs` is not a duration like 10us"),
        "{err}"
    );
}

/// `run -o FILE` without `--buffer-size` writes every event of a run that
/// records more than the ring's default 4,194,304: fib_bench's `run(30)`
/// makes 2 * fib(31) = 2,692,538 calls, 5,385,076 events, and the file
/// holds a line for each, the clock's line and the summary, nothing lost.
#[test]
fn run_to_a_file_keeps_every_event_past_the_default_ring() {
    use std::io::BufRead;
    const EVENTS: u64 = 5_385_076;
    const { assert!(EVENTS > 1 << 22) };
    let file = temp("every-event.txt");
    let out = fib_bench_to("run", &[], &file, "30");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "832040\n");
    let (mut enters, mut exits, mut lines) = (0u64, 0u64, Vec::new());
    for line in std::io::BufReader::new(std::fs::File::open(&file).unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("] -> ") {
            enters += 1;
        } else if line.contains("] <- ") {
            exits += 1;
        } else {
            lines.push(line);
        }
    }
    let _ = std::fs::remove_file(&file);
    assert_eq!((enters, exits), (EVENTS / 2, EVENTS / 2));
    assert_eq!(
        lines,
        [
            "# clock resolution: 100 us".to_string(),
            format!("# events: {EVENTS} kept, 0 lost"),
        ]
    );
}

/// With `--buffer-size`, `run -o FILE` keeps the ring's events only, as
/// for stderr: the newest 100 of the 356 of fib_bench's `run(10)` (178
/// calls).
#[test]
fn run_to_a_file_with_a_buffer_size_keeps_the_ring() {
    let file = temp("ring.txt");
    let out = fib_bench_to("run", &["--buffer-size", "100"], &file, "10");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let trace = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let events = trace
        .lines()
        .filter(|l| l.contains("] <- ") || l.contains("] -> "))
        .count();
    assert_eq!(events, 100, "{trace}");
    assert_eq!(trace.lines().last(), Some("# events: 100 kept, 256 lost"));
}

/// Every format states the clock's resolution: 100 us for the default
/// ticker, 1 us for `--clock spin`, in the text's first line, JSON's
/// metadata, the Chrome trace's `otherData`, and a recorded `.rtrace`
/// (its replay says it). A trace without timestamps states none.
#[test]
fn every_trace_states_the_clock_resolution() {
    let wasm = fixture("bench/fib_bench.wasm");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--invoke", "run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[wasm.to_str().unwrap(), "--", "5"]);
        let out = ruchy_trace(&args);
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
        text(&out.stderr)
    };
    for (clock, us) in [("ticker", 100), ("spin", 1)] {
        let first = format!("# clock resolution: {us} us");
        assert_eq!(run(&["--clock", clock]).lines().next(), Some(&first[..]));
        let file = temp(&format!("clock-{clock}.txt"));
        run(&["--clock", clock, "-o", file.to_str().unwrap()]);
        let streamed = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            streamed.lines().next(),
            Some(&first[..]),
            "{clock}: -o FILE"
        );
        let json: serde_json::Value =
            serde_json::from_str(&run(&["--clock", clock, "--format", "json"])).unwrap();
        assert_eq!(json["metadata"]["clock_resolution_us"], us, "{clock}: json");
        let chrome: serde_json::Value =
            serde_json::from_str(&run(&["--clock", clock, "--format", "chrome"])).unwrap();
        assert_eq!(
            chrome["otherData"]["clock_resolution_us"], us,
            "{clock}: chrome"
        );
        let rtrace = temp(&format!("clock-{clock}.rtrace"));
        let out = ruchy_trace(&[
            "record",
            "--invoke",
            "run",
            "--clock",
            clock,
            wasm.to_str().unwrap(),
            "-o",
            rtrace.to_str().unwrap(),
            "--",
            "5",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let replayed = ruchy_trace(&["replay", rtrace.to_str().unwrap()]);
        assert_eq!(
            text(&replayed.stdout).lines().next(),
            Some(&first[..]),
            "{clock}: .rtrace"
        );
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(&rtrace);
    }
    let untimed = run(&["--no-timestamps"]);
    assert!(
        untimed.lines().next().unwrap().starts_with("-> "),
        "{untimed}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["--no-timestamps", "--format", "json"])).unwrap();
    assert_eq!(
        json["metadata"]["clock_resolution_us"],
        serde_json::Value::Null
    );
}

/// `run -o FILE` over an existing file leaves the whole new trace at the
/// path (the old file is removed before the new one is renamed in) and no
/// temporary file beside it.
#[test]
fn running_over_an_existing_file_replaces_it_whole() {
    let dir = temp("over-an-existing-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("trace.txt");
    std::fs::write(&file, "an older trace\n".repeat(1000)).unwrap();
    let out = fib_bench_to("run", &[], &file, "5");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&file).unwrap();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!written.contains("an older trace"), "{written}");
    // fib(5) makes 15 calls, run(5) one more: 32 events.
    assert_eq!(written.lines().filter(|l| l.contains("] -> ")).count(), 16);
    assert!(
        written.ends_with("# events: 32 kept, 0 lost\n"),
        "{written}"
    );
    assert_eq!(names, ["trace.txt"]);
}

/// A ring that keeps fewer events than one staging area holds takes each
/// flushed staging area on the guest's thread; a bigger one gathers them
/// for a writer thread. Over fib_bench's `run(24)` (300,100 events, several
/// flushes) the small ring's 5,000 events are the big ring's last 5,000,
/// line for line at the same indentation (the frames dropped records
/// opened), and it counts the other 295,100 as lost.
#[test]
fn a_small_ring_on_the_guests_thread_keeps_the_newest_events_of_a_big_one() {
    let wasm = fixture("bench/fib_bench.wasm");
    let run = |buffer: &str| {
        let out = ruchy_trace(&[
            "run",
            "--invoke",
            "run",
            "--no-timestamps",
            "--indent",
            "--buffer-size",
            buffer,
            wasm.to_str().unwrap(),
            "--",
            "24",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let events = |trace: &str| -> Vec<String> {
        trace
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    let (small, big) = (run("5000"), run("1000000"));
    let (small_events, big_events) = (events(&small), events(&big));
    assert_eq!(big_events.len(), 300_100);
    assert_eq!(small_events.len(), 5_000);
    assert_eq!(small_events[..], big_events[big_events.len() - 5_000..]);
    assert!(
        small_events.iter().any(|l| l.starts_with("    ")),
        "indented lines among the kept ones"
    );
    assert_eq!(
        small.lines().last(),
        Some("# events: 5000 kept, 295100 lost")
    );
}
