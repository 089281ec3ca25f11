// Runs traced programs off the page's thread, so an endless loop never
// freezes the page: the <ruchy-trace-tab> element terminates this worker
// to stop a run. Messages in: {id, op: "run", bytes, options} or {id, op:
// "open", bytes} (a .rtrace file), and {id, op: "download", format}.
// Messages out: {id, ok: true, view} or {id, ok: false, error}.
import init, { run, openTrace } from "./ruchy_trace_web.js";

const ready = init();
const TREE_LIMIT = 5000;
let last = null;

function viewOf(r) {
  return {
    end: r.end(),
    summary: r.summary(),
    results: r.results(),
    kept: r.kept(),
    lost: r.lost(),
    elapsedMs: r.elapsedMs(),
    notes: r.notes(),
    instrumented: r.instrumented(),
    stdout: r.stdout(),
    stderr: r.stderr(),
    lines: r.lines(),
    lineFunctions: r.lineFunctions(),
    functions: JSON.parse(r.functionsJson()),
    calls: JSON.parse(r.callsJson(TREE_LIMIT)),
    treeLimit: TREE_LIMIT,
  };
}

self.onmessage = async ({ data }) => {
  const { id, op } = data;
  try {
    await ready;
    if (op === "download") {
      if (!last) throw new Error("nothing has run yet");
      const text = data.format === "chrome" ? last.chrome() : last.json();
      self.postMessage({ id, ok: true, text });
      return;
    }
    const r = op === "open" ? openTrace(data.bytes) : await run(data.bytes, data.options || {});
    if (last) last.free();
    last = r;
    const view = viewOf(r);
    self.postMessage({ id, ok: true, view }, [view.lineFunctions.buffer]);
  } catch (e) {
    self.postMessage({ id, ok: false, error: (e && e.message) || String(e) });
  }
};
