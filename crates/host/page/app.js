// The Trace tab page: picks a program (a bundled example, an opened or
// dropped file, a link, or the editor's text compiled by `ruchy-trace
// serve`) and hands it to the <ruchy-trace-tab> element of the package in
// pkg/, which runs it in a worker and renders the trace. The page adds the
// source editor, the run options and the benchmark.
//
// Links: `?example=NAME` opens a bundled example, `&run=1` also runs it;
// `#code=BASE64` carries a wasm module or a Ruchy program (base64url of
// its bytes).

const $ = (id) => document.getElementById(id);
const tab = $("tab");

let current = null; // { name, bytes, source, transpiled }
let hasPackage = false;

function showMessage(text, kind = "error") {
  const m = $("message");
  m.textContent = text;
  m.className = kind === "error" ? "" : kind;
  m.hidden = !text;
}

function setProgram(name, bytes, source, transpiled = null) {
  current = { name, bytes, source, transpiled };
  $("source-title").textContent = source === null ? `Source (${name}: no Ruchy source)` : `Source: ${name.replace(/\.wasm$/, ".ruchy")}`;
  if (source !== null) $("editor").value = source;
  $("run").disabled = !hasPackage;
}

// ---- loading ------------------------------------------------------------

async function loadPackage() {
  try {
    await import("./pkg/trace-tab.js");
    hasPackage = true;
  } catch (e) {
    showMessage(
      "The tracer's package (pkg/) is missing or failed to load, so nothing can run yet.\n" +
        "Build the page with www/build.sh (needs wasm-bindgen-cli) and serve www/dist, then reload.\n(" + e.message + ")"
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
    return [];
  }
  for (const name of names) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name;
    b.dataset.example = name;
    b.addEventListener("click", () => openExample(name, true));
    box.appendChild(b);
  }
  return names;
}

function markExample(name) {
  for (const b of document.querySelectorAll("#examples button")) b.classList.toggle("active", b.dataset.example === name);
}

async function openExample(name, run) {
  markExample(name);
  try {
    const [wasm, src, rs] = await Promise.all(["wasm", "ruchy", "rs"].map((ext) => fetch(`examples/${name}.${ext}`)));
    if (!wasm.ok) throw new Error(`examples/${name}.wasm: HTTP ${wasm.status}`);
    const source = src.ok ? await src.text() : null;
    const transpiled = rs.ok ? await rs.text() : null;
    setProgram(`${name}.wasm`, new Uint8Array(await wasm.arrayBuffer()), source, transpiled);
    if (run) await runCurrent();
  } catch (e) {
    showMessage(`Cannot load the example ${name}: ${e.message}`);
  }
}

/**
 * Opens what was picked or dropped: a `.rtrace` recording, or a `.wasm`
 * module with, optionally, the files the CLI reads beside it: its Ruchy
 * program (`X.ruchy`, so names and locations point at it) and the Rust it
 * was transpiled to (`X.rs`, which tells its closures apart).
 */
async function openFiles(files) {
  files = [...(files || [])];
  const pick = (ext) => files.find((f) => f.name.endsWith(ext));
  const trace = pick(".rtrace");
  const wasm = trace ? null : pick(".wasm") || files[0];
  if (!trace && !wasm) return;
  markExample(null);
  if (trace) {
    showMessage("");
    current = null;
    $("run").disabled = true;
    await tab.open(new Uint8Array(await trace.arrayBuffer()), trace.name);
    return;
  }
  const stem = wasm.name.replace(/\.wasm$/, "");
  const beside = (ext) => files.find((f) => f.name === stem + ext);
  const text = async (f) => (f ? await f.text() : null);
  setProgram(wasm.name, new Uint8Array(await wasm.arrayBuffer()), await text(beside(".ruchy")), await text(beside(".rs")));
  await runCurrent();
}

/** Compiles `source` through `ruchy-trace serve`; the wasm, or null. */
async function compileSource(source) {
  const status = $("compile-status");
  status.textContent = "compiling…";
  let r;
  try {
    r = await fetch("api/compile", { method: "POST", headers: { "content-type": "text/plain" }, body: source });
  } catch (e) {
    r = null;
  }
  const type = r ? r.headers.get("content-type") || "" : "";
  if (!r || r.status === 404 || r.status === 405 || r.status === 501 || (r.ok && !type.includes("wasm"))) {
    status.textContent = "";
    showMessage(
      "Compiling needs the page to be served by `ruchy-trace serve` on a machine with ruchy installed; " +
        "this server has no compile endpoint. Pick an example or open a .wasm file instead.",
      "info"
    );
    return null;
  }
  if (!r.ok) {
    status.textContent = "";
    showMessage("The compiler rejected the program:\n" + (await r.text()));
    return null;
  }
  status.textContent = "compiled";
  return new Uint8Array(await r.arrayBuffer());
}

async function compile() {
  const source = $("editor").value;
  const wasm = await compileSource(source);
  if (!wasm) return;
  markExample(null);
  setProgram("program.wasm", wasm, source);
  await runCurrent();
}

// ---- links --------------------------------------------------------------

function toBase64Url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const b = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

async function openLink() {
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  const code = hash.get("code");
  if (code !== null) {
    let bytes;
    try {
      bytes = fromBase64Url(code);
    } catch (e) {
      showMessage("The link's #code= is not base64: " + e.message);
      return;
    }
    if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d) {
      setProgram("link.wasm", bytes, null);
      await runCurrent();
      return;
    }
    const source = new TextDecoder().decode(bytes);
    $("editor").value = source;
    const wasm = await compileSource(source);
    if (wasm) {
      setProgram("program.wasm", wasm, source);
      await runCurrent();
    }
    return;
  }
  const example = params.get("example");
  if (example !== null) {
    if (!document.querySelector(`#examples button[data-example="${CSS.escape(example)}"]`)) {
      showMessage(`There is no bundled example called ${example}.`);
      return;
    }
    await openExample(example, params.get("run") === "1");
  }
}

function share() {
  const url = new URL(location.href);
  url.search = "";
  url.hash = "code=" + toBase64Url(new TextEncoder().encode($("editor").value));
  history.replaceState(null, "", url);
  navigator.clipboard?.writeText(url.href).catch(() => {});
  $("compile-status").textContent = "link copied";
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
    traceImports: $("imports").checked,
  };
  const entry = $("entry").value.trim().split(/\s+/).filter(Boolean);
  if (entry.length && entry[0] !== "_start") {
    o.invoke = entry[0];
    o.invokeArgs = entry.slice(1);
  }
  return o;
}

async function runCurrent() {
  if (!hasPackage || !current) return;
  showMessage("");
  const t = performance.now();
  const { name, source, transpiled } = current;
  const view = await tab.trace(current.bytes, { name, source, transpiled, options: options() });
  document.body.dataset.renderMs = (performance.now() - t).toFixed(0);
  return view;
}

/** Selects the definition of the clicked call in the editor. */
function highlightDefinition({ line, column }) {
  if (!line || !current || current.source === null || $("editor").value !== current.source) return;
  const editor = $("editor");
  const lines = editor.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const text = lines[line - 1] || "";
  editor.focus({ preventScroll: true });
  editor.setSelectionRange(start, start + text.length);
  const rowHeight = 18;
  editor.scrollTop = Math.max(0, (line - 1) * rowHeight - editor.clientHeight / 2);
  editor.dataset.highlight = `${line}:${column || 1}`;
}

// ---- benchmark ----------------------------------------------------------

async function bench() {
  const out = $("bench-result");
  const n = String(Math.max(1, Number($("bench-n").value) || 27));
  out.textContent = "measuring…";
  let bytes;
  let web;
  try {
    web = await import("./pkg/ruchy_trace_web.js");
    await web.default();
    const r = await fetch("examples/bench/fib_bench.wasm");
    if (!r.ok) throw new Error(`examples/bench/fib_bench.wasm: HTTP ${r.status}`);
    bytes = new Uint8Array(await r.arrayBuffer());
  } catch (e) {
    out.textContent = "";
    showMessage("The benchmark cannot start: " + e.message);
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
$("share").addEventListener("click", share);
$("file").addEventListener("change", (e) => {
  const files = [...e.target.files];
  e.target.value = ""; // picking the same file again runs it again
  openFiles(files);
});
tab.addEventListener("trace-select", (e) => highlightDefinition(e.detail));
const drop = $("drop");
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
document.addEventListener("dragleave", () => drop.classList.remove("over"));
document.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  openFiles(e.dataTransfer.files);
});

await loadPackage();
await loadExamples();
$("bench").disabled = !hasPackage;
document.body.dataset.ready = hasPackage ? "yes" : "no-pkg";
document.body.dataset.isolated = String(self.crossOriginIsolated === true);
if (hasPackage) await openLink();
