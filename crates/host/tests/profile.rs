//! Report totals, computed from a recorded trace, add up.

use ruchy_trace::replay::{self, TraceFile, Visitor};
use ruchy_trace::ruchy_trace_core::decode::Trace;
use ruchy_trace::ruchy_trace_core::profile::Profile;
use ruchy_trace::ruchy_trace_core::{Event, EventKind};
use ruchy_trace::ruchy_trace_instrument::{Config, Scope};
use ruchy_trace::{Entry, RunOptions, Tracer};

struct Count {
    profile: Option<Profile>,
    entries: u64,
}

impl Visitor for Count {
    fn begin(&mut self, t: &Trace) {
        self.profile = Some(Profile::new(
            t.table.functions.iter().map(|f| f.name.clone()),
        ));
    }
    fn event(&mut self, _: &Trace, e: &Event<'_>) {
        if e.kind == EventKind::Enter {
            self.entries += 1;
        }
        self.profile.as_mut().unwrap().event(e);
    }
}

#[test]
fn self_times_sum_to_the_root_and_calls_to_the_entries() {
    let wasm = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/bench/fib_bench.wasm"
    ))
    .unwrap();
    let program = Tracer::new()
        .unwrap()
        .load(
            &wasm,
            &Config {
                scope: Scope::All,
                ..Config::default()
            },
        )
        .unwrap();
    let path =
        std::env::temp_dir().join(format!("ruchy-trace-profile-{}.rtrace", std::process::id()));
    let sink = Box::new(TraceFile::create(&path).unwrap());
    let entry = Entry::Invoke {
        name: "run".into(),
        args: vec!["24".into()],
    };
    let outcome = program
        .run_with(&entry, &RunOptions::default(), Some(sink))
        .unwrap();
    assert_eq!(outcome.results, ["46368"]);
    let mut c = Count {
        profile: None,
        entries: 0,
    };
    let seen = replay::replay(std::fs::File::open(&path).unwrap(), &mut c).unwrap();
    assert!(seen.damage.is_none());
    let p = c.profile.unwrap();
    let report = p.report();
    assert_eq!(report.iter().map(|f| f.calls).sum::<u64>(), c.entries);
    assert_eq!(c.entries, 150049 + 1, "fib(24) calls plus run");
    let self_sum: u64 = report.iter().map(|f| f.self_us).sum();
    assert_eq!(
        self_sum,
        p.root_total_us(),
        "self times add up to the outermost call"
    );
    assert!(p.root_total_us() > 0, "the run took measurable time");
    let run = report.iter().find(|f| f.name == "run").unwrap();
    assert_eq!(run.total_us, p.root_total_us());
    assert!(report
        .iter()
        .all(|f| f.min_us <= f.avg_us() && f.avg_us() <= f.max_us));
    std::fs::remove_file(&path).ok();
}

/// One call in N is traced, and each keeps the depth and arguments it has
/// in the full trace: sampled call k is the full trace's call k * N.
#[test]
fn sampling_keeps_true_depths_and_pairs_exits() {
    use ruchy_trace::ruchy_trace_core::{Strategy, TraceOptions};
    let wasm = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/bench/fib_bench.wasm"
    ))
    .unwrap();
    let tracer = Tracer::new().unwrap();
    let entry = Entry::Invoke {
        name: "run".into(),
        args: vec!["12".into()],
    };
    let trace_with = |sample: u32, strategy: Strategy| {
        let config = Config {
            scope: Scope::All,
            options: TraceOptions {
                sample,
                strategy,
                ..TraceOptions::default()
            },
            ..Config::default()
        };
        let out = tracer
            .load(&wasm, &config)
            .unwrap()
            .run(&entry, &RunOptions::default())
            .unwrap();
        assert_eq!(out.results, ["144"]);
        let events: Vec<(EventKind, u32, Vec<String>)> = out
            .trace
            .events()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.kind,
                    e.depth,
                    e.values().map(|v| format!("{v:?}")).collect(),
                )
            })
            .collect();
        events
    };
    let full = trace_with(1, Strategy::Inline);
    let full_entries: Vec<_> = full.iter().filter(|e| e.0 == EventKind::Enter).collect();
    for strategy in [Strategy::Inline, Strategy::Hooks] {
        for n in [2u32, 7, 1000] {
            let sampled = trace_with(n, strategy);
            let entries: Vec<_> = sampled.iter().filter(|e| e.0 == EventKind::Enter).collect();
            assert_eq!(
                entries.len(),
                full_entries.len().div_ceil(n as usize),
                "1 in {n}"
            );
            for (k, e) in entries.iter().enumerate() {
                let f = full_entries[k * n as usize];
                assert_eq!((e.1, &e.2), (f.1, &f.2), "1 in {n}, sampled call {k}");
            }
            let exits = sampled.iter().filter(|e| e.0 == EventKind::Exit).count();
            assert_eq!(exits, entries.len(), "every sampled entry has its exit");
        }
    }
}
