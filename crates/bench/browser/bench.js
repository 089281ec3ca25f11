// The browser half of `ruchy-trace-bench --browser`: runs `run(n)` of the
// fibonacci benchmark module through the Trace tab's own package
// (pkg/ruchy_trace_web.js, the page `ruchy-trace serve` embeds), one
// scenario after another, round-robin, `reps` times each, and reports each
// scenario's median as a console line the harness reads:
//   RUCHY_TRACE_BENCH row|<key>|<median ms>|<median call + finish ms>|<median whole ms>|<events>|<result>
//   RUCHY_TRACE_BENCH done|<crossOriginIsolated>|<user agent>
//   RUCHY_TRACE_BENCH error|<message>
// Every run compiles and instantiates a fresh module, as the wasmtime rows
// do; the time is that of the exported call alone (elapsedMs), and the
// call with what follows it until the trace is ready (the last flush and the
// ring's finish, which counts the records: what the wasmtime rows time
// besides instantiating) and the whole `run()` (also instrumenting and
// compiling) are timed too.

import init, * as web from "./pkg/ruchy_trace_web.js";

const say = (line) => {
  console.log("RUCHY_TRACE_BENCH " + line);
  document.getElementById("out").textContent += "\n" + line;
};

const SCENARIOS = [
  ["plain", { plain: true }],
  ["inline", { strategy: "inline", timestamps: true }],
  ["inline-no-timestamps", { strategy: "inline", timestamps: false }],
  ["hooks", { strategy: "hooks", timestamps: true }],
  // A sampled module reads the clock per traced event (the `now` import).
  ["sample-1000", { strategy: "inline", timestamps: true, sample: 1000 }],
];

try {
  const params = new URLSearchParams(location.search);
  const n = String(Number(params.get("n") || 30));
  const reps = Number(params.get("reps") || 11);
  await init();
  const response = await fetch("fib_bench.wasm");
  if (!response.ok) throw new Error(`fib_bench.wasm: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const fibCalls = (k) => {
    let [a, b] = [0n, 1n];
    for (let i = 0; i <= k; i++) [a, b] = [b, a + b];
    return 2n * a - 1n;
  };
  // Two events per call, and room to keep them all.
  const capacity = Number(2n * fibCalls(Number(n)) + 16n);
  const times = new Map(SCENARIOS.map(([key]) => [key, []]));
  const finished = new Map(SCENARIOS.map(([key]) => [key, []]));
  const wholes = new Map(SCENARIOS.map(([key]) => [key, []]));
  const last = new Map();
  const once = async ([key, options]) => {
    let r;
    const start = performance.now();
    try {
      r = await web.run(bytes, { ...options, scope: "all", capacity, invoke: "run", invokeArgs: [n] });
    } catch (e) {
      throw new Error(`${key}: ${(e && e.message) || e}`);
    }
    try {
      if (r.end() !== "returned") throw new Error(`${key}: the run ended ${r.end()}`);
      times.get(key).push(r.elapsedMs());
      finished.get(key).push(r.elapsedMs() + r.finishMs());
      wholes.get(key).push(performance.now() - start);
      last.set(key, { events: r.kept() + r.lost(), result: r.results().join(",") });
    } finally {
      r.free();
    }
  };
  for (const s of SCENARIOS) await once(s); // warm-up, not counted
  for (let i = 0; i < reps; i++) {
    for (const s of SCENARIOS) await once(s);
  }
  const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  for (const [key] of SCENARIOS) {
    const { events, result } = last.get(key);
    say(
      `row|${key}|${median(times.get(key))}|${median(finished.get(key))}|${median(wholes.get(key))}|${events}|${result}`,
    );
  }
  say(`done|${self.crossOriginIsolated}|${navigator.userAgent}`);
} catch (e) {
  say(`error|${(e && e.message) || e}`.replace(/\n/g, " "));
}
