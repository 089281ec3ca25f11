// The JavaScript half of the browser host of ruchy-trace: it compiles and
// instantiates a module, provides the `ruchy_trace` imports (hook and inline
// strategies) and a WASI preview1 shim, runs `_start`, and hands records to
// the Rust half in batches through `sink(Uint8Array, records)`. A call
// whose values live in guest memory goes to `capture(params, clock,
// memoryView)` instead, where the Rust half reads that memory while the
// call happens: this file only moves bytes.

const HOOK_MODULE = "ruchy_trace";
const WASI_MODULE = "wasi_snapshot_preview1";
const HOOK_BATCH = 1 << 16;

/** Thrown by the WASI shim's `proc_exit` to unwind the guest. */
class WasiExit {
  constructor(code) {
    this.code = code;
  }
}

const ERRNO = { SUCCESS: 0, BADF: 8, INVAL: 28, NOSYS: 52, SPIPE: 70 };

// The trace clock: microseconds since `restart()`, which the host calls
// just before the guest's entry, so times count from the start of the run.
// Fine-grained (5 µs) only when the page is cross-origin isolated.
function makeClock() {
  let t0 = performance.now();
  const now = () => ((performance.now() - t0) * 1000) >>> 0;
  now.restart = () => {
    t0 = performance.now();
  };
  now.epochUs = () => Math.round((performance.timeOrigin + t0) * 1000);
  return now;
}

// Builds one hook import as specialised code: it writes the record exactly
// as instrumented code would (see ruchy_trace_core::record) into `st.dv`.
// Under the inline strategy, records staged by the module come first; a
// call whose record needs guest memory read (`st.snapshots[header]`) goes
// to the Rust half with the hook's parameters.
function makeHook(st, name, timestamps, sampled, inline, snapshots) {
  let kind;
  let types;
  if (name === "tail_exit") {
    kind = "tail";
    types = [];
  } else {
    const parts = name.split("_");
    kind = parts[0];
    types = parts.slice(1);
  }
  if (kind !== "enter" && kind !== "exit" && kind !== "tail") return null;
  const params = ["h"];
  let body = inline ? "st.flushStaged();\n" : "";
  body += "let p = st.p; if (p > st.limit) { st.drain(); p = 0; } const dv = st.dv;\n";
  body += "dv.setUint32(p, h, true); p += 4;\n";
  if (timestamps) body += "dv.setUint32(p, st.now(), true); p += 4;\n";
  if (kind === "enter" && sampled) {
    params.push("d");
    body += "dv.setUint32(p, d, true); p += 4;\n";
  }
  const write = {
    i32: (v) => `dv.setInt32(p, ${v}, true); p += 4;`,
    i64: (v) => `dv.setBigInt64(p, ${v}, true); p += 8;`,
    f32: (v) => `dv.setFloat32(p, ${v}, true); p += 4;`,
    f64: (v) => `dv.setFloat64(p, ${v}, true); p += 8;`,
    // A reference arrives as 1 when null, else 0.
    ref: (v) => `dv.setInt32(p, ${v}, true); p += 4;`,
  };
  for (let i = 0; i < types.length; i++) {
    if (types[i] === "v128") {
      // JavaScript cannot take a v128: it arrives as two i64 halves.
      params.push("v" + i, "w" + i);
      body += write.i64("v" + i) + " " + write.i64("w" + i) + "\n";
      continue;
    }
    const w = write[types[i]];
    if (!w) return null;
    params.push("v" + i);
    body += w("v" + i) + "\n";
  }
  body += "st.p = p; st.n++;";
  if (snapshots) {
    // Every parameter goes to the Rust half, which knows which are values
    // and which it needs besides (an sret exit's result address).
    body = `if (st.snapshots[h] === 1) { st.capture([${params.join(", ")}]); return; }\n` + body;
  }
  return new Function("st", `return function (${params.join(", ")}) {\n${body}\n};`)(st);
}

function wasiImports(st, wanted) {
  const enc = new TextEncoder();
  const mem = () => new DataView(st.memory.buffer);
  const bytes = () => new Uint8Array(st.memory.buffer);
  const args = st.args.map((a) => enc.encode(a + "\0"));
  const env = st.env.map((a) => enc.encode(a + "\0"));
  const sizes = (list, countPtr, sizePtr) => {
    mem().setUint32(countPtr, list.length, true);
    mem().setUint32(sizePtr, list.reduce((n, b) => n + b.length, 0), true);
    return ERRNO.SUCCESS;
  };
  const fill = (list, ptrs, buf) => {
    const dv = mem();
    const b = bytes();
    for (const item of list) {
      dv.setUint32(ptrs, buf, true);
      ptrs += 4;
      b.set(item, buf);
      buf += item.length;
    }
    return ERRNO.SUCCESS;
  };
  const fns = {
    args_sizes_get: (c, s) => sizes(args, c, s),
    args_get: (p, b) => fill(args, p, b),
    environ_sizes_get: (c, s) => sizes(env, c, s),
    environ_get: (p, b) => fill(env, p, b),
    fd_write(fd, iovs, n, written) {
      st.tick();
      if (fd !== 1 && fd !== 2) return ERRNO.BADF;
      const dv = mem();
      const b = bytes();
      const out = fd === 1 ? st.stdout : st.stderr;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const ptr = dv.getUint32(iovs + 8 * i, true);
        const len = dv.getUint32(iovs + 8 * i + 4, true);
        out.push(b.slice(ptr, ptr + len));
        total += len;
      }
      dv.setUint32(written, total, true);
      return ERRNO.SUCCESS;
    },
    fd_read(fd, iovs, n, read) {
      if (fd !== 0) return ERRNO.BADF;
      mem().setUint32(read, 0, true);
      return ERRNO.SUCCESS;
    },
    fd_fdstat_get(fd, ptr) {
      if (fd > 2) return ERRNO.BADF;
      const b = bytes();
      b.fill(0, ptr, ptr + 24);
      b[ptr] = 2; // character device
      return ERRNO.SUCCESS;
    },
    fd_close: (fd) => (fd > 2 ? ERRNO.BADF : ERRNO.SUCCESS),
    fd_seek: (fd) => (fd > 2 ? ERRNO.BADF : ERRNO.SPIPE),
    fd_prestat_get: () => ERRNO.BADF,
    fd_prestat_dir_name: () => ERRNO.BADF,
    clock_time_get(id, precision, ptr) {
      st.tick();
      const ns = id === 0 ? BigInt(Date.now()) * 1000000n : BigInt(Math.round(performance.now() * 1e6));
      mem().setBigUint64(ptr, ns, true);
      return ERRNO.SUCCESS;
    },
    clock_res_get(id, ptr) {
      mem().setBigUint64(ptr, 1000n, true);
      return ERRNO.SUCCESS;
    },
    random_get(ptr, len) {
      const b = bytes();
      for (let off = 0; off < len; off += 65536) {
        crypto.getRandomValues(b.subarray(ptr + off, ptr + Math.min(len, off + 65536)));
      }
      return ERRNO.SUCCESS;
    },
    sched_yield: () => ERRNO.SUCCESS,
    proc_exit(code) {
      throw new WasiExit(code);
    },
  };
  const out = {};
  for (const name of wanted) out[name] = fns[name] || (() => ERRNO.NOSYS);
  return out;
}

function describe(e) {
  if (e instanceof Error) return e.message || String(e);
  return String(e);
}

/**
 * Compiles and runs `bytes` as a WASI command. `spec`: { timestamps,
 * sampled, maxRecord, enabled, args, env }. Resolves to { end: "returned" |
 * "exited" | "trapped", code, message, stdout, stderr, elapsedMs, endUs,
 * epochUs (the clock's origin in Unix microseconds) }.
 * Rejects (with a message) when the module cannot be compiled or linked.
 */
export async function run_module(bytes, spec, sink, capture) {
  let module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (e) {
    throw new Error("the browser cannot compile this module: " + describe(e));
  }
  const now = makeClock();
  const st = {
    memory: null,
    traceMemory: null,
    args: spec.args || ["program"],
    env: spec.env || [],
    stdout: [],
    stderr: [],
    now,
    p: 0,
    // Records in `buf`, which the Rust half takes with the bytes rather
    // than count them again.
    n: 0,
    buf: new ArrayBuffer(HOOK_BATCH + (spec.maxRecord || 64) + 64),
    limit: HOOK_BATCH,
    tick() {
      if (st.traceMemory && spec.timestamps) {
        new Uint32Array(st.traceMemory.buffer, 0, 1)[0] = now();
      }
    },
    drain() {
      if (st.p > 0) sink(new Uint8Array(st.buf, 0, st.p), st.n);
      st.p = 0;
      st.n = 0;
    },
    // The staging cursor (ruchy_trace_core::record::PTR_EXPORT): its low
    // half is where the module's next record goes, its high half how many
    // records it staged.
    takeStaged(cursor) {
      const end = Number(cursor & 0xffffffffn);
      if (end > 64) {
        st.drain();
        const b = new Uint8Array(st.traceMemory.buffer);
        sink(b.subarray(64, Math.min(end, b.length)), Number(cursor >> 32n));
      }
    },
    exports: null,
    flushStaged() {
      const ptr = st.exports && st.exports.__ruchy_trace_ptr;
      if (!st.traceMemory || !(ptr instanceof WebAssembly.Global)) return;
      st.takeStaged(ptr.value);
      ptr.value = 64n;
    },
    snapshots: spec.snapshots || null,
    capture(params) {
      st.flushStaged();
      st.drain();
      const mem = st.guestMemory ? new Uint8Array(st.guestMemory.buffer) : undefined;
      capture(params, spec.timestamps ? now : undefined, mem);
    },
  };
  st.dv = new DataView(st.buf);
  const imports = {};
  const wasiWanted = [];
  const missing = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === WASI_MODULE) {
      wasiWanted.push(imp.name);
    } else if (imp.module === HOOK_MODULE) {
      imports[HOOK_MODULE] = imports[HOOK_MODULE] || {};
      if (imp.name === "now") {
        // A sampled module with timestamps reads the clock per traced event.
        imports[HOOK_MODULE].now = now;
      } else if (imp.name === "flush") {
        imports[HOOK_MODULE].flush = (cursor) => {
          st.takeStaged(cursor);
          st.tick();
          return 64n;
        };
      } else {
        const hook = makeHook(st, imp.name, spec.timestamps, spec.sampled, spec.inline, st.snapshots !== null);
        if (!hook) missing.push(`${imp.module}.${imp.name}`);
        else imports[HOOK_MODULE][imp.name] = hook;
      }
    } else if (spec.imports && spec.imports[imp.module] && imp.name in spec.imports[imp.module]) {
      imports[imp.module] = imports[imp.module] || {};
      imports[imp.module][imp.name] = spec.imports[imp.module][imp.name];
    } else {
      missing.push(`${imp.module}.${imp.name}`);
    }
  }
  if (missing.length) {
    throw new Error("the module needs imports the page does not provide: " + missing.join(", "));
  }
  imports[WASI_MODULE] = wasiImports(st, wasiWanted);
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, imports);
  } catch (e) {
    throw new Error("the module cannot be instantiated: " + describe(e));
  }
  const ex = instance.exports;
  st.exports = ex;
  st.memory = ex.memory || null;
  st.guestMemory = ex.__ruchy_trace_guest_memory || ex.memory || null;
  st.traceMemory = ex.__ruchy_trace_memory || null;
  if (ex.__ruchy_trace_enabled instanceof WebAssembly.Global) {
    ex.__ruchy_trace_enabled.value = spec.enabled === false ? 0 : 1;
  }
  const entry = spec.invoke || "_start";
  if (typeof ex[entry] !== "function") {
    const names = Object.keys(ex).filter((n) => typeof ex[n] === "function" && !n.startsWith("__ruchy_trace"));
    throw new Error("the module has no `_start` export (not a WASI command); its functions: " + (names.join(", ") || "none"));
  }
  now.restart();
  st.tick();
  const result = { end: "returned", code: 0, message: "", results: [], epochUs: now.epochUs() };
  const t = performance.now();
  try {
    const out = ex[entry](...(spec.invokeArgs || []));
    result.results = out === undefined ? [] : Array.isArray(out) ? out.map(String) : [String(out)];
  } catch (e) {
    if (e instanceof WasiExit) {
      result.end = "exited";
      result.code = e.code;
    } else {
      result.end = "trapped";
      result.message = describe(e);
    }
  }
  result.returnedAt = performance.now();
  result.elapsedMs = result.returnedAt - t;
  // Final flush: the hook batch, then what the inline path staged since.
  st.flushStaged();
  st.drain();
  result.endUs = now();
  const dec = new TextDecoder();
  result.stdout = dec.decode(concat(st.stdout));
  result.stderr = dec.decode(concat(st.stderr));
  return result;
}

function concat(chunks) {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
