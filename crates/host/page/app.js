// The Trace tab: loads a Ruchy program compiled to wasm (an example, an
// opened or dropped file, or the compile endpoint of `ruchy-trace serve`),
// runs it traced through crates/web, and shows the trace, per-function
// table, call tree, timeline and the program's output.

const $ = (id) => document.getElementById(id);
const ROW = 18;
const TREE_LIMIT = 5000;

let web = null;
let current = null; // { name, bytes }
let result = null;

function showMessage(text, kind = "error") {
  const m = $("message");
  m.textContent = text;
  m.className = kind === "error" ? "" : kind;
  m.hidden = !text;
}

function setProgram(name, bytes, source) {
  current = { name, bytes };
  $("source-title").textContent = source === null ? `Source (${name}: no Ruchy source)` : `Source: ${name.replace(/\.wasm$/, ".ruchy")}`;
  if (source !== null) $("editor").value = source;
  $("run").disabled = !web;
}

// ---- loading ------------------------------------------------------------

async function loadPackage() {
  try {
    web = await import("./pkg/ruchy_trace_web.js");
    await web.default();
  } catch (e) {
    web = null;
    showMessage(
      "The tracer's wasm package (pkg/) is missing or failed to load, so nothing can run yet.\n" +
        "Build it with www/build.sh (needs wasm-bindgen-cli), then reload.\n(" + e.message + ")"
    );
  }
}

async function loadExamples() {
  const box = $("examples");
  let names = [];
  try {
    const r = await fetch("examples/index.json");
    if (!r.ok) throw new Error(r.status);
    names = await r.json();
  } catch (e) {
    box.textContent = "No bundled examples (www/build.sh copies them into examples/).";
    return;
  }
  for (const name of names) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name;
    b.dataset.example = name;
    b.addEventListener("click", () => openExample(name, b));
    box.appendChild(b);
  }
}

async function openExample(name, button) {
  for (const b of document.querySelectorAll("#examples button")) b.classList.toggle("active", b === button);
  try {
    const [wasm, src] = await Promise.all([fetch(`examples/${name}.wasm`), fetch(`examples/${name}.ruchy`)]);
    if (!wasm.ok) throw new Error(`examples/${name}.wasm: HTTP ${wasm.status}`);
    const source = src.ok ? await src.text() : null;
    setProgram(`${name}.wasm`, new Uint8Array(await wasm.arrayBuffer()), source);
    await runCurrent();
  } catch (e) {
    showMessage(`Cannot load the example ${name}: ${e.message}`);
  }
}

async function openFile(file) {
  if (!file) return;
  for (const b of document.querySelectorAll("#examples button")) b.classList.remove("active");
  setProgram(file.name, new Uint8Array(await file.arrayBuffer()), null);
  await runCurrent();
}

async function compile() {
  const status = $("compile-status");
  status.textContent = "compiling…";
  let r;
  try {
    r = await fetch("api/compile", { method: "POST", headers: { "content-type": "text/plain" }, body: $("editor").value });
  } catch (e) {
    r = null;
  }
  const type = r ? r.headers.get("content-type") || "" : "";
  if (!r || r.status === 404 || r.status === 405 || r.status === 501 || (r.ok && !type.includes("wasm"))) {
    status.textContent = "";
    showMessage(
      "Compile needs the page to be served by `ruchy-trace serve` on a machine with ruchy installed; " +
        "this server has no compile endpoint. Pick an example or open a .wasm file instead.",
      "info"
    );
    return;
  }
  if (!r.ok) {
    status.textContent = "";
    showMessage("The compiler rejected the program:\n" + (await r.text()));
    return;
  }
  status.textContent = "compiled";
  setProgram("editor.wasm", new Uint8Array(await r.arrayBuffer()), $("editor").value);
  await runCurrent();
}

// ---- running ------------------------------------------------------------

function options() {
  const o = {
    strategy: $("strategy").value,
    scope: $("scope").value,
    filter: $("filter").value.trim(),
    sample: Math.max(1, Number($("sample").value) || 1),
    capacity: Math.max(1, Number($("capacity").value) || 1),
    enabled: $("enabled").checked,
    args: [current ? current.name.replace(/\.wasm$/, "") : "program"],
  };
  const entry = $("entry").value.trim().split(/\s+/).filter(Boolean);
  if (entry.length && entry[0] !== "_start") {
    o.invoke = entry[0];
    o.invokeArgs = entry.slice(1);
  }
  return o;
}

async function runCurrent() {
  if (!web || !current) return;
  showMessage("");
  $("summary").textContent = `running ${current.name}…`;
  let r;
  try {
    r = await web.run(current.bytes, options());
  } catch (e) {
    $("summary").textContent = `${current.name}: not run.`;
    showMessage(`${current.name}: ${e.message || e}`);
    return;
  }
  if (result) result.free();
  result = r;
  const t = performance.now();
  render(r);
  $("summary").dataset.renderMs = (performance.now() - t).toFixed(0);
}

function render(r) {
  const lost = r.lost();
  $("summary").textContent =
    `${current.name}: ${r.summary()}` + (r.results().length ? ` = ${r.results().join(", ")}` : "") + ` · ${r.kept()} events kept` + (lost ? `, ${lost} lost (ring full)` : "") + ` · ${r.elapsedMs().toFixed(2)} ms`;
  if (r.end() === "trapped") {
    showMessage(`${current.name} trapped: ${r.summary().replace(/^trapped: /, "")}. Calls open at the trap are marked [trapped].`, "info");
  }
  const notes = r.notes();
  if (notes.length && r.end() !== "trapped") showMessage("Note: " + notes.join("; "), "info");
  traceList.set(r.text(true, true).replace(/\n$/, "").split("\n"));
  renderFunctions(JSON.parse(r.functionStats()));
  renderOutput(r.stdout(), r.stderr());
  const calls = JSON.parse(r.callsJson(TREE_LIMIT));
  renderTree(calls);
  renderFlame(calls);
  $("download-json").disabled = false;
  $("download-chrome").disabled = false;
}

function fmtUs(us) {
  return us >= 1000 ? (us / 1000).toFixed(3) + " ms" : us + " µs";
}

function renderFunctions(rows) {
  const body = $("functions").tBodies[0];
  body.textContent = "";
  for (const row of rows) {
    const tr = body.insertRow();
    for (const v of [row.name, row.calls, fmtUs(row.total_us), fmtUs(row.self_us)]) tr.insertCell().textContent = v;
  }
}

function renderOutput(stdout, stderr) {
  const out = $("output");
  out.textContent = stdout;
  if (stderr) {
    const s = document.createElement("span");
    s.className = "stderr";
    s.textContent = stderr;
    out.appendChild(s);
  }
}

function renderTree(calls) {
  const root = $("tree");
  root.textContent = "";
  const stack = [root];
  for (const c of calls) {
    stack.length = Math.min(stack.length, c.depth + 1);
    const parent = stack[stack.length - 1] || root;
    const d = document.createElement("details");
    d.open = c.depth < 3;
    const s = document.createElement("summary");
    const ret = c.ret === null ? " …" : c.ret.startsWith("[") ? " " + c.ret : c.ret === "" ? "" : " = " + c.ret;
    s.textContent = `${c.name}(${c.args})${ret}`;
    d.appendChild(s);
    parent.appendChild(d);
    stack.push(d);
  }
  if (calls.length >= TREE_LIMIT) root.appendChild(document.createTextNode(`… first ${TREE_LIMIT} calls shown`));
  for (const d of root.querySelectorAll("details")) {
    if (d.children.length === 1) d.firstChild.classList.add("leaf");
  }
}

function renderFlame(calls) {
  const canvas = $("flame");
  const w = (canvas.width = canvas.clientWidth || 800);
  const maxDepth = calls.reduce((m, c) => Math.max(m, c.depth), 0);
  const h = (canvas.height = Math.max(40, (maxDepth + 1) * 16 + 4));
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  if (!calls.length) return;
  const t0 = calls[0].start;
  const t1 = calls.reduce((m, c) => Math.max(m, c.end ?? c.start), t0 + 1);
  const scale = w / Math.max(1, t1 - t0);
  ctx.font = "11px sans-serif";
  for (const c of calls) {
    const x = (c.start - t0) * scale;
    const cw = Math.max(1, ((c.end ?? t1) - c.start) * scale);
    const y = c.depth * 16 + 2;
    ctx.fillStyle = c.ret && c.ret.startsWith("[") ? "#e07070" : `hsl(${(c.name.length * 47) % 360},55%,70%)`;
    ctx.fillRect(x, y, cw - 0.5, 15);
    if (cw > 40) {
      ctx.fillStyle = "#111";
      ctx.fillText(c.name, x + 2, y + 11, cw - 4);
    }
  }
}

// ---- the virtualized trace list ----------------------------------------

const traceList = (() => {
  const box = $("trace");
  const spacer = box.querySelector(".vspacer");
  const rows = box.querySelector(".vrows");
  let lines = [];
  function draw() {
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 5);
    const count = Math.ceil(box.clientHeight / ROW) + 10;
    rows.style.transform = `translateY(${first * ROW}px)`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < Math.min(lines.length, first + count); i++) {
      const d = document.createElement("div");
      const line = lines[i];
      d.textContent = line;
      d.className = /\[(trapped|exited|interrupted|lost)\]/.test(line) ? "bad" : line.includes("-> ") ? "enter" : line.includes("<- ") ? "exit" : "";
      frag.appendChild(d);
    }
    rows.replaceChildren(frag);
  }
  box.addEventListener("scroll", () => requestAnimationFrame(draw));
  return {
    set(newLines) {
      lines = newLines;
      spacer.style.height = `${lines.length * ROW}px`;
      box.scrollTop = 0;
      box.dataset.rows = String(lines.length);
      draw();
    },
    draw,
  };
})();

// ---- downloads and benchmark -------------------------------------------

function download(text, name, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function bench() {
  if (!web) return;
  const out = $("bench-result");
  const n = String(Math.max(1, Number($("bench-n").value) || 27));
  out.textContent = "measuring…";
  let bytes;
  try {
    const r = await fetch("examples/bench/fib_bench.wasm");
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    bytes = new Uint8Array(await r.arrayBuffer());
  } catch (e) {
    out.textContent = "";
    showMessage("The benchmark module examples/bench/fib_bench.wasm is missing (www/build.sh copies it): " + e.message);
    return;
  }
  const time = async (opts) => {
    const ts = [];
    let events = 0;
    for (let i = 0; i < 5; i++) {
      const r = await web.run(bytes, { ...opts, invoke: "run", invokeArgs: [n] });
      ts.push(r.elapsedMs());
      events = r.kept() + r.lost();
      r.free();
    }
    ts.sort((a, b) => a - b);
    return { ms: ts[2], events };
  };
  try {
    const plain = await time({ plain: true });
    const strategy = $("strategy").value;
    const traced = await time({ strategy, timestamps: strategy === "hooks", capacity: 1 << 22, scope: "all" });
    const ratio = traced.ms / Math.max(plain.ms, 0.001);
    out.dataset.ratio = ratio.toFixed(2);
    out.textContent =
      `fib(${n}), ${traced.events} events: uninstrumented ${plain.ms.toFixed(1)} ms, traced (${strategy}) ${traced.ms.toFixed(1)} ms, ` +
      `ratio ${ratio.toFixed(1)}x (median of 5)`;
  } catch (e) {
    out.textContent = "";
    showMessage("Benchmark failed: " + e.message);
  }
}

// ---- wiring -------------------------------------------------------------

$("run").addEventListener("click", runCurrent);
$("bench").addEventListener("click", bench);
$("compile").addEventListener("click", compile);
$("file").addEventListener("change", (e) => openFile(e.target.files[0]));
$("download-json").addEventListener("click", () => result && download(result.json(), current.name.replace(/\.wasm$/, "") + ".trace.json", "application/json"));
$("download-chrome").addEventListener("click", () => result && download(result.chrome(), current.name.replace(/\.wasm$/, "") + ".chrome.json", "application/json"));
const drop = $("drop");
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
document.addEventListener("dragleave", () => drop.classList.remove("over"));
document.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  openFile(e.dataTransfer.files[0]);
});

await loadPackage();
await loadExamples();
$("bench").disabled = !web;
document.body.dataset.ready = web ? "yes" : "no-pkg";
