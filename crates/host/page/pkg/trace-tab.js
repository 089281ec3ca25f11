// <ruchy-trace-tab>: a Trace tab a playground drops in. Give it a module's
// bytes (and the Ruchy source it came from) and it runs the module traced
// in a Web Worker, then shows the trace, the call tree, the per-function
// table and a timeline. Everything it needs sits next to this file.
//
//   import "ruchy-trace-web";
//   const tab = document.querySelector("ruchy-trace-tab");
//   await tab.trace(wasmBytes, { name: "main.wasm", source: ruchyText });
//
// Methods: trace(bytes, {name, source, transpiled, options}),
// open(rtraceBytes, name),
// stop(), download("json" | "chrome"). Events: "trace-done" (detail: the
// view), "trace-error" (detail: {message}), "trace-select" (detail:
// {name, file, line, column}) when a call is clicked. The attribute
// `source-pane="off"` hides the built-in source view, for hosts that have
// their own editor and listen to "trace-select".

const ROW = 18;

const STYLE = `
:host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #1d2330; }
* { box-sizing: border-box; }
h3 { font-size: 13px; margin: 12px 0 4px; color: #4a5568; text-transform: uppercase; letter-spacing: .04em; }
button { font: inherit; padding: 3px 10px; border: 1px solid #b8c0cc; border-radius: 4px; background: #fff; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
.bar { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.bar .spacer { flex: 1; }
#summary { font-weight: 600; }
#stop { border-color: #c53030; color: #c53030; }
#message { white-space: pre-wrap; margin: 8px 0; padding: 8px 10px; border-radius: 4px; background: #fff5f5; border: 1px solid #feb2b2; color: #822727; }
#message.info { background: #ebf8ff; border-color: #90cdf4; color: #2a4365; }
#notes { margin: 6px 0 0; color: #718096; font-size: 12px; }
#notes summary { cursor: pointer; }
.mono, .vlist, #tree, #output, #source, table { font: 13px/18px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.vlist { position: relative; height: 326px; overflow: auto; border: 1px solid #d2d8e0; border-radius: 4px; background: #fbfcfd; }
.vrows { position: absolute; left: 0; right: 0; top: 0; }
.vrows div { height: ${ROW}px; white-space: pre; padding: 0 8px; cursor: pointer; overflow: hidden; text-overflow: ellipsis; }
.vrows div:hover { background: #edf2f7; }
.vrows .t { color: #a0aec0; }
.vrows .enter .a { color: #2b6cb0; }
.vrows .exit .a { color: #2f855a; }
.vrows .bad { color: #c53030; }
.vrows .loc { color: #a0aec0; }
.vrows .sel { background: #fefcbf; }
.panes { display: grid; grid-template-columns: minmax(0, 3fr) minmax(10em, 1.4fr); gap: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: right; padding: 2px 8px; border-bottom: 1px solid #e2e8f0; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
/* Long names (wasi_snapshot_preview1::fd_write) are cut, never pushed over the output pane. */
#functions td:first-child { max-width: 16em; overflow: hidden; text-overflow: ellipsis; }
.scroll-x { overflow-x: auto; }
#functions tr.out td:first-child { color: #6b46c1; }
tbody tr { cursor: pointer; }
tbody tr:hover, tbody tr.sel { background: #fefcbf; }
#output { margin: 0; min-height: 36px; max-height: 200px; overflow: auto; padding: 6px 8px; background: #1a202c; color: #e2e8f0; border-radius: 4px; white-space: pre-wrap; }
#output .stderr { color: #feb2b2; }
#tree { max-height: 320px; overflow: auto; border: 1px solid #d2d8e0; border-radius: 4px; padding: 4px 8px; }
#tree details { margin-left: 16px; }
#tree > details { margin-left: 0; }
#tree summary { cursor: pointer; white-space: nowrap; }
#tree summary.leaf { list-style: none; padding-left: 14px; }
#tree .ret { color: #2f855a; }
#tree .bad { color: #c53030; }
#tree .dur { color: #a0aec0; margin-left: 8px; }
#tree .sel { background: #fefcbf; }
#timeline { position: relative; }
#tip { position: absolute; pointer-events: none; z-index: 1; max-width: 90%; padding: 3px 8px; border-radius: 4px; background: #1a202c; color: #f7fafc; font: 12px/16px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; }
.vrows .out, #tree .out { color: #6b46c1; }
.legend { font-size: 12px; color: #718096; margin-left: 8px; text-transform: none; letter-spacing: 0; font-weight: normal; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px; border-radius: 2px; vertical-align: -1px; }
#flame { width: 100%; display: block; border: 1px solid #d2d8e0; border-radius: 4px; cursor: pointer; }
#source { margin: 0; max-height: 360px; overflow: auto; border: 1px solid #d2d8e0; border-radius: 4px; background: #fbfcfd; padding: 4px 0; }
#source div { white-space: pre; padding: 0 8px; }
#source div::before { content: attr(data-n); display: inline-block; width: 3em; color: #a0aec0; }
#source .hl { background: #fefcbf; outline: 1px solid #ecc94b; }
[hidden] { display: none !important; }
`;

const HTML = `
<div class="bar">
  <span id="summary">No trace yet.</span>
  <button id="stop" type="button" hidden>Stop</button>
  <span class="spacer"></span>
  <button id="download-json" type="button" disabled>Download JSON</button>
  <button id="download-chrome" type="button" disabled>Download Chrome trace</button>
</div>
<div id="message" role="alert" hidden></div>
<h3>Trace</h3>
<div id="trace" class="vlist" tabindex="0"><div class="vspacer"></div><div class="vrows"></div></div>
<div class="panes">
  <div>
    <h3>Functions</h3>
    <div class="scroll-x"><table id="functions"><thead><tr><th>function</th><th>calls</th><th>total</th><th>self</th><th>avg</th><th>max</th></tr></thead><tbody></tbody></table></div>
  </div>
  <div>
    <h3>Output</h3>
    <pre id="output"></pre>
  </div>
</div>
<h3>Call tree</h3>
<div id="tree"></div>
<h3>Timeline<span class="legend" id="legend" hidden><i style="background: #d6bcfa"></i>calls out (imports)</span></h3>
<div id="timeline"><canvas id="flame" height="60"></canvas><div id="tip" hidden></div></div>
<div id="source-box" hidden><h3 id="source-title">Source</h3><pre id="source"></pre></div>
<details id="notes" hidden><summary></summary><ul></ul></details>
`;

/** `+0.412 ms` / `1.250 ms` from microseconds. */
function ms(us) {
  return (us / 1000).toFixed(3) + " ms";
}

function fmtUs(us) {
  if (us >= 1e6) return (us / 1e6).toFixed(3) + " s";
  if (us >= 1000) return (us / 1000).toFixed(3) + " ms";
  return us + " µs";
}

function hue(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 360;
}

class RuchyTraceTab extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>${HTML}`;
    this.$ = (id) => root.getElementById(id);
    this.worker = null;
    this.pending = new Map();
    this.nextId = 1;
    this.view = null;
    this.lines = [];
    this.selected = -1;
    this.name = "";
    this.source = null;
    this.$("stop").addEventListener("click", () => this.stop());
    this.$("download-json").addEventListener("click", () => this.saveDownload("json"));
    this.$("download-chrome").addEventListener("click", () => this.saveDownload("chrome"));
    const box = this.$("trace");
    box.addEventListener("scroll", () => requestAnimationFrame(() => this.drawLines()));
    box.addEventListener("click", (e) => {
      const row = e.target.closest("div[data-i]");
      if (row) this.selectLine(Number(row.dataset.i));
    });
    this.$("functions").tBodies[0].addEventListener("click", (e) => {
      const tr = e.target.closest("tr");
      if (tr) this.selectFunction(Number(tr.dataset.id));
    });
    this.$("tree").addEventListener("click", (e) => {
      const s = e.target.closest("summary");
      if (s) this.selectLine(Number(s.dataset.line), false);
    });
    this.$("flame").addEventListener("click", (e) => this.clickTimeline(e));
    this.$("flame").addEventListener("mousemove", (e) => this.hoverTimeline(e));
    this.$("flame").addEventListener("mouseleave", () => (this.$("tip").hidden = true));
  }

  // ---- the worker ------------------------------------------------------

  ensureWorker() {
    if (!this.worker) {
      this.worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
      this.worker.onmessage = ({ data }) => {
        const p = this.pending.get(data.id);
        if (!p) return;
        this.pending.delete(data.id);
        if (data.ok) p.resolve(data);
        else p.reject(new Error(data.error));
      };
      this.worker.onerror = (e) => {
        e.preventDefault();
        const err = new Error("the tracer's worker failed to start: " + (e.message || "is the package complete?"));
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.worker = null;
      };
    }
    return this.worker;
  }

  ask(message, transfer = []) {
    const id = this.nextId++;
    const worker = this.ensureWorker();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...message }, transfer);
    });
  }

  /** Stops a run in progress (its trace is discarded). */
  stop() {
    if (!this.worker || !this.running) return;
    this.worker.terminate();
    this.worker = null;
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    const err = new Error(`stopped after ${seconds} s; a stopped run has no trace. Trace fewer calls, or find the loop in the source.`);
    err.stopped = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  // ---- public API ------------------------------------------------------

  /**
   * Runs `bytes` (a wasm module) traced and renders it. `name` labels it;
   * `source` is the Ruchy program it was compiled from (names and
   * locations then point at it), `transpiled` the Rust `ruchy transpile`
   * made of it (it tells closures apart); `options` are crates/web's run
   * options.
   */
  async trace(bytes, { name = "program.wasm", source = null, transpiled = null, options = {} } = {}) {
    const stem = name.replace(/\.wasm$/, "");
    const opts = { args: [stem], ...options };
    if (source !== null && source !== undefined) {
      opts.source = source;
      opts.sourceName = opts.sourceName || stem + ".ruchy";
      if (transpiled !== null && transpiled !== undefined) opts.transpiled = transpiled;
    }
    return this.start(name, source, { op: "run", bytes: new Uint8Array(bytes), options: opts });
  }

  /** Shows a trace recorded by `ruchy-trace record` (a .rtrace file). */
  async open(bytes, name = "trace.rtrace") {
    return this.start(name, null, { op: "open", bytes: new Uint8Array(bytes) });
  }

  /** The last trace as JSON (`"json"`) or a Chrome trace (`"chrome"`). */
  async download(format) {
    return (await this.ask({ op: "download", format })).text;
  }

  async start(name, source, message) {
    if (this.running) this.stop();
    this.name = name;
    this.source = source;
    this.renderSource();
    this.showMessage("");
    this.running = true;
    this.started = performance.now();
    this.$("summary").textContent = `running ${name}…`;
    this.$("stop").hidden = false;
    this.dataset.state = "running";
    try {
      const { view } = await this.ask(message);
      this.running = false;
      this.render(view);
      this.dataset.state = "done";
      this.dispatchEvent(new CustomEvent("trace-done", { detail: view }));
      return view;
    } catch (e) {
      this.running = false;
      this.$("summary").textContent = `${name}: ${e.stopped ? "stopped" : "not run"}.`;
      this.showMessage(`${name}: ${e.message}`, e.stopped ? "info" : "error");
      this.dataset.state = e.stopped ? "stopped" : "error";
      this.dispatchEvent(new CustomEvent("trace-error", { detail: { message: e.message, stopped: !!e.stopped } }));
      return null;
    } finally {
      this.$("stop").hidden = true;
    }
  }

  showMessage(text, kind = "error") {
    const m = this.$("message");
    m.textContent = text;
    m.className = kind === "error" ? "" : kind;
    m.hidden = !text;
  }

  async saveDownload(format) {
    const text = await this.download(format);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    a.download = this.name.replace(/\.(wasm|rtrace)$/, "") + (format === "chrome" ? ".chrome.json" : ".trace.json");
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // ---- rendering -------------------------------------------------------

  render(v) {
    this.view = v;
    const more = v.results.length ? ` = ${v.results.join(", ")}` : "";
    const lost = v.lost ? `, ${v.lost} lost (ring full)` : "";
    this.$("summary").textContent = `${this.name}: ${v.summary}${more} · ${v.kept} events kept${lost} · ${v.elapsedMs.toFixed(2)} ms`;
    if (v.end === "trapped") {
      this.showMessage(`${this.name} trapped: ${v.summary.replace(/^trapped: /, "")}. Calls open at the trap are marked [trapped].`, "info");
    }
    const notes = this.$("notes");
    notes.hidden = !v.notes.length;
    notes.querySelector("summary").textContent = `About the instrumented module (${v.notes.length} note${v.notes.length === 1 ? "" : "s"})`;
    notes.querySelector("ul").replaceChildren(...v.notes.map((n) => Object.assign(document.createElement("li"), { textContent: n })));
    this.lines = v.lines.replace(/\n$/, "").split("\n");
    this.selected = -1;
    const box = this.$("trace");
    box.querySelector(".vspacer").style.height = `${this.lines.length * ROW}px`;
    // Short traces get a short box; long ones scroll.
    box.style.height = `${Math.max(5, Math.min(this.lines.length + 1, 18)) * ROW + 2}px`;
    box.scrollTop = 0;
    box.dataset.rows = String(this.lines.length);
    this.drawLines();
    this.renderFunctions(v.functions);
    this.renderOutput(v.stdout, v.stderr);
    this.renderTree(v.calls);
    this.renderTimeline(v.calls);
    this.$("download-json").disabled = false;
    this.$("download-chrome").disabled = false;
  }

  drawLines() {
    const box = this.$("trace");
    const rows = box.querySelector(".vrows");
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 5);
    const count = Math.ceil(box.clientHeight / ROW) + 10;
    rows.style.transform = `translateY(${first * ROW}px)`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < Math.min(this.lines.length, first + count); i++) {
      frag.appendChild(this.lineElement(i));
    }
    rows.replaceChildren(frag);
  }

  lineElement(i) {
    const line = this.lines[i];
    const d = document.createElement("div");
    d.dataset.i = i;
    const m = /^(\+\d+\.\d{3} ms\s*)?(\s*)(->|<-)?(.*)$/.exec(line);
    const bad = /\[(trapped|exited|interrupted|lost)\]/.test(line);
    d.className = (bad ? "bad " : "") + (m[3] === "->" ? "enter" : m[3] === "<-" ? "exit" : "");
    if (this.isImport(this.view.lineFunctions[i])) d.classList.add("out");
    if (i === this.selected) d.classList.add("sel");
    if (m[1]) d.appendChild(Object.assign(document.createElement("span"), { className: "t", textContent: m[1] }));
    d.appendChild(document.createTextNode(m[2]));
    if (m[3]) d.appendChild(Object.assign(document.createElement("span"), { className: "a", textContent: m[3] }));
    const rest = m[4];
    const loc = / <[^<>]+:\d+(:\d+)?>$/.exec(rest);
    d.appendChild(document.createTextNode(loc ? rest.slice(0, loc.index) : rest));
    if (loc) d.appendChild(Object.assign(document.createElement("span"), { className: "loc", textContent: loc[0] }));
    d.title = line.trim();
    return d;
  }

  renderFunctions({ functions, report, timed }) {
    const body = this.$("functions").tBodies[0];
    body.textContent = "";
    const t = (us) => (timed ? fmtUs(us) : "-");
    for (const row of report) {
      const tr = body.insertRow();
      tr.dataset.id = row.id;
      tr.dataset.totalUs = row.total_us;
      tr.dataset.selfUs = row.self_us;
      for (const v of [functions[row.id].name, row.calls, t(row.total_us), t(row.self_us), t(row.avg_us), t(row.max_us)]) {
        tr.insertCell().textContent = v;
      }
      tr.cells[0].title = functions[row.id].name;
      if (functions[row.id].import) tr.classList.add("out");
    }
  }

  renderOutput(stdout, stderr) {
    const out = this.$("output");
    out.textContent = stdout;
    if (stderr) out.appendChild(Object.assign(document.createElement("span"), { className: "stderr", textContent: stderr }));
  }

  renderTree(calls) {
    const root = this.$("tree");
    root.textContent = "";
    const timed = this.view.functions.timed;
    // A ring that kept the newest events starts deep in the stack: the
    // shallowest shown call is the tree's first level.
    const top = calls.reduce((m, c) => Math.min(m, c.depth), Infinity);
    const stack = [root];
    for (const c of calls) {
      const depth = c.depth - top;
      stack.length = Math.min(stack.length, depth + 1);
      const parent = stack[stack.length - 1] || root;
      const d = document.createElement("details");
      d.open = depth < 3;
      const s = document.createElement("summary");
      s.dataset.line = c.line;
      if (this.isImport(c.id)) s.classList.add("out");
      s.appendChild(document.createTextNode(c.call));
      if (c.ret === null || c.ret !== "") {
        const bad = c.ret !== null && c.ret.startsWith("[");
        s.appendChild(Object.assign(document.createElement("span"), {
          className: bad ? "bad" : "ret",
          textContent: c.ret === null ? " …" : " " + c.ret,
        }));
      }
      if (timed && c.end !== null) {
        s.appendChild(Object.assign(document.createElement("span"), { className: "dur", textContent: `+${ms(c.start)}, took ${fmtUs(c.end - c.start)}` }));
      }
      d.appendChild(s);
      parent.appendChild(d);
      stack.push(d);
    }
    if (calls.length >= this.view.treeLimit) root.appendChild(document.createTextNode(`… the first ${this.view.treeLimit} calls are shown`));
    for (const d of root.querySelectorAll("details")) {
      if (d.children.length === 1) d.firstChild.classList.add("leaf");
    }
  }

  renderTimeline(calls) {
    const canvas = this.$("flame");
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 800;
    const top = calls.reduce((m, c) => Math.min(m, c.depth), Infinity);
    const maxDepth = calls.reduce((m, c) => Math.max(m, c.depth - top), 0);
    const rowH = 18;
    const axis = 18;
    const h = Math.max(40, (maxDepth + 1) * rowH + axis + 4);
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    canvas.style.height = h + "px";
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, w, h);
    this.bars = [];
    this.$("legend").hidden = true;
    if (!calls.length) return;
    const timed = this.view.functions.timed;
    // From the first call to the last return; labels count from the start
    // of the run, like the trace's.
    const t0 = calls[0].start;
    const t1 = calls.reduce((m, c) => Math.max(m, c.end ?? c.start), t0 + 1);
    const scale = (w - 2) / Math.max(1, t1 - t0);
    // Axis: times since the start of the run.
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#718096";
    ctx.strokeStyle = "#e2e8f0";
    for (let i = 0; i <= 4; i++) {
      const x = 1 + ((w - 2) * i) / 4;
      const at = t0 + ((t1 - t0) * i) / 4;
      const label = timed ? `+${ms(Math.round(at))}` : `event ${Math.round(at)}`;
      ctx.beginPath();
      ctx.moveTo(x, axis - 4);
      ctx.lineTo(x, h);
      ctx.stroke();
      ctx.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
      ctx.fillText(label, x, 11);
    }
    ctx.textAlign = "left";
    const names = this.view.functions.functions;
    let imports = false;
    for (const c of calls) {
      const x = 1 + (c.start - t0) * scale;
      // Every call stays visible, however short: at least 3 px wide.
      const cw = Math.max(3, ((c.end ?? t1) - c.start) * scale);
      const y = axis + (c.depth - top) * rowH;
      const bad = c.ret !== null && c.ret.startsWith("[");
      const name = names[c.id].name;
      const out = this.isImport(c.id);
      if (out) imports = true;
      ctx.fillStyle = bad ? "#fc8181" : out ? "#d6bcfa" : `hsl(${hue(name)}, 55%, 78%)`;
      ctx.fillRect(x, y, cw - 0.5, rowH - 2);
      if (cw > 30) {
        ctx.fillStyle = "#1a202c";
        ctx.fillText(name, x + 3, y + 12, cw - 6);
      }
      const took = c.end === null ? "still running" : timed ? `took ${fmtUs(c.end - c.start)}` : `spans ${c.end - c.start + 1} events`;
      this.bars.push({ x, y, w: cw, line: c.line, name, text: `${c.call}${c.ret ? " " + c.ret : ""}\n${timed ? "+" + ms(c.start) + ", " : ""}${took}` });
    }
    this.$("legend").hidden = !imports;
  }

  /** The bar under the mouse, or undefined. */
  barAt(e) {
    const r = this.$("flame").getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    // The last drawn bar is on top: a short call over a long one.
    return (this.bars || []).findLast((b) => x >= b.x - 1 && x <= b.x + b.w + 1 && y >= b.y && y <= b.y + 16);
  }

  /** Shows the call under the mouse: its arguments, value and duration. */
  hoverTimeline(e) {
    const tip = this.$("tip");
    const bar = this.barAt(e);
    tip.hidden = !bar;
    if (!bar) return;
    tip.textContent = bar.text;
    const box = this.$("timeline").getBoundingClientRect();
    const left = Math.min(e.clientX - box.left + 12, box.width - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${bar.y + 20}px`;
  }

  clickTimeline(e) {
    const bar = this.barAt(e);
    if (bar) this.selectLine(bar.line);
  }

  renderSource() {
    const box = this.$("source-box");
    const show = this.source !== null && this.source !== undefined && this.getAttribute("source-pane") !== "off";
    box.hidden = !show;
    if (!show) return;
    this.$("source-title").textContent = `Source: ${this.name.replace(/\.wasm$/, ".ruchy")}`;
    this.$("source").replaceChildren(
      ...this.source.split("\n").map((text, i) => {
        const d = document.createElement("div");
        d.textContent = text || " ";
        d.dataset.n = i + 1;
        return d;
      })
    );
  }

  /** Whether function `id` is a call out of the program (`--imports`). */
  isImport(id) {
    const f = id === undefined ? null : this.view.functions.functions[id];
    return !!(f && f.import);
  }

  // ---- selecting a call ------------------------------------------------

  /** Selects trace line `i` and the definition of its function. */
  selectLine(i, scroll = true) {
    if (!this.view || !(i >= 0)) return;
    this.selected = i;
    const id = this.view.lineFunctions[i];
    if (scroll) {
      const box = this.$("trace");
      if (i * ROW < box.scrollTop || (i + 1) * ROW > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, i * ROW - box.clientHeight / 2);
    }
    this.drawLines();
    if (id !== undefined) this.selectFunction(id);
  }

  selectFunction(id) {
    const f = this.view && this.view.functions.functions[id];
    if (!f) return;
    for (const tr of this.$("functions").tBodies[0].rows) tr.classList.toggle("sel", Number(tr.dataset.id) === id);
    const src = this.$("source");
    for (const d of src.children) d.classList.remove("hl");
    if (f.line && !this.$("source-box").hidden) {
      const d = src.children[f.line - 1];
      if (d) {
        d.classList.add("hl");
        src.scrollTop = Math.max(0, d.offsetTop - src.clientHeight / 2);
      }
    }
    this.dispatchEvent(new CustomEvent("trace-select", { detail: { name: f.name, file: f.file ?? null, line: f.line ?? null, column: f.column ?? null } }));
  }
}

if (!customElements.get("ruchy-trace-tab")) customElements.define("ruchy-trace-tab", RuchyTraceTab);

export { RuchyTraceTab };
