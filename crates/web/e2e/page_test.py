#!/usr/bin/env python3
"""End-to-end test of the Trace tab page (www/, built into www/dist) in
headless Chromium.

Serves the built page on 127.0.0.1 cross-origin isolated (COOP/COEP, as
`ruchy-trace serve` does) and once more without those headers, drives
Chromium through chromedriver, and checks that:
- every bundled example traces to the same lines `ruchy-trace run
  --imports --no-timestamps` wrote for it (apart from times, durations and
  indentation), the page's WASI shim calls (`fd_write`) included, and so
  does values.wasm with its <unreadable> pointer;
- corpus programs opened with the `.ruchy` and `.rs` beside them show the
  names and locations the CLI relocates to the Ruchy source (a closure by
  its `let`, methods as `Type::method`, a script's synthesized `main`);
- the function table shows the numbers `ruchy-trace report` printed for
  the same recorded .rtrace file, to the microsecond;
- links run (`?example=strings&run=1`, `#code=` with a wasm module, and
  with a Ruchy program compiled through `/api/compile`, answered here by a
  stand-in that knows the bundled examples' sources), times
  are relative to the start of the run, clicking a call selects its
  definition in the editor, and notes about the rewritten module stay out
  of the message box;
- bad input (text, a component, a trap, an endless loop stopped with Stop)
  gets one readable message and the page keeps working.

- `ruchy-trace serve` itself (--serve BINARY, the page built into it)
  runs the structs example cross-origin isolated; its screenshot is kept.

Usage: page_test.py --www DIR --cli DIR [--serve BINARY] [--out DIR] [--fixtures DIR]
  --cli holds what ci/browser-tests.sh wrote with the native CLI:
  NAME.txt (trace of each example), corpus/NAME.txt (of each corpus
  program in CORPUS), values.txt, fib_bench.rtrace (fib(20) recorded) and
  fib_bench.report.txt.
Prints one line per check and `page: N passed, M failed`.
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys

from harness import READ_TRACE, TAB, Checks, WebDriver, compile_stand_in, serve

# Corpus programs whose names the page must relocate as the CLI does, and
# a call each must show under its Ruchy name.
CORPUS = {"closure_let": "-> add(a: i64 = 5, b: i64 = 10)", "methods_impl": "-> Counter::new(", "top_level": "-> main()"}

TIME = re.compile(r"^\+\d+\.\d{3} ms\s*")
DURATION = re.compile(r" \[\d+\.\d+ms\]$")


def normalize_page(lines):
    """Page lines without their relative time, indentation and duration."""
    out = []
    for line in lines:
        line = TIME.sub("", line).strip()
        out.append(DURATION.sub("", line))
    return out


def comparable(lines):
    """Lines both hosts must agree on: all but how a trap is worded by the
    engine (wasmtime and V8 say it differently)."""
    out = []
    skipping = False
    for line in lines:
        if line.startswith("# trapped:"):
            skipping = True
            continue
        if skipping and line.startswith("#   "):
            continue
        skipping = False
        out.append(line)
    return out


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"line {i + 1}: page {x!r} vs cli {y!r}"
    return f"page has {len(a)} lines, cli {len(b)}"


def micros(text):
    """`12 us`, `1.234 ms`, `1.000 s` as printed by `ruchy-trace report`."""
    value, unit = text.split()
    return {"us": lambda v: int(v), "ms": lambda v: round(float(v) * 1000), "s": lambda v: round(float(v) * 1e6)}[unit](value)


def report_rows(path):
    rows = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or line.strip().startswith("calls"):
                continue
            m = re.match(r"^\s*(\d+)\s+(\S+ \S+)\s+(\S+ \S+)\s+\S+ \S+\s+\S+ \S+\s+\S+ \S+\s+(.+)$", line.rstrip("\n"))
            if m:
                rows[m.group(4)] = (int(m.group(1)), micros(m.group(2)), micros(m.group(3)))
    return rows


def wait_done(wd, what, timeout=120):
    return wd.wait(TAB + "return ['done', 'error', 'stopped'].includes(tab.dataset.state) && tab.dataset.state", timeout=timeout, what=what)


def wait_state_change(wd, what, timeout=120):
    """Waits for a run started after `tab.dataset.state` was cleared."""
    return wd.wait(TAB + "return ['done', 'error', 'stopped'].includes(tab.dataset.state) && tab.dataset.state", timeout=timeout, what=what)


def clear_state(wd):
    wd.js(TAB + "delete tab.dataset.state;")


def tab_message(wd):
    return wd.js(TAB + "const m = $('message'); return m.hidden ? '' : m.textContent")


def cli_lines(path):
    with open(path) as f:
        return comparable(f.read().rstrip("\n").split("\n"))


def open_and_run(wd, url, what):
    wd.open(url)
    wd.wait("return document.body.dataset.ready", what="page to load")
    return wait_done(wd, what)


def serve_structs(wd, opts, check):
    """`ruchy-trace serve` from an empty folder, with the page built into
    the binary: the structs example runs, values read, isolated."""
    folder = os.path.join(wd.profile, "elsewhere")
    os.makedirs(folder, exist_ok=True)
    server = subprocess.Popen([os.path.abspath(opts.serve), "serve", "--port", "0"], cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not check("ruchy-trace serve starts and says where", m is not None, line):
            return
        state = open_and_run(wd, m.group(0) + "?example=structs&run=1", "structs through ruchy-trace serve")
        lines = wd.js_async(READ_TRACE)["lines"]
        isolated = wd.js("return document.body.dataset.isolated")
        want = "-> manhattan(p: Point = Point { x: 3, y: -4 }) <structs.ruchy:6:5>"
        wd.screenshot(os.path.join(opts.out, "serve-structs.png"))
        check("ruchy-trace serve runs ?example=structs&run=1, isolated, with the struct read",
              state == "done" and isolated == "true" and any(l.strip().endswith(want) for l in lines), (state, isolated, lines[:4]))
    finally:
        server.terminate()
        server.wait(10)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--www", default=os.path.join(root, "www", "dist"))
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--serve", help="a ruchy-trace binary whose `serve` to screenshot")
    ap.add_argument("--fixtures", default=os.path.join(root, "tests", "fixtures"))
    opts = ap.parse_args()
    www = os.path.abspath(opts.www)
    if not os.path.exists(os.path.join(www, "pkg", "trace-tab.js")):
        print(f"{www} has no pkg/trace-tab.js: run www/build.sh first")
        return 2
    with open(os.path.join(www, "examples", "index.json")) as f:
        examples = json.load(f)

    programs = {}
    for name in examples:
        with open(os.path.join(www, "examples", name + ".ruchy")) as f, open(os.path.join(www, "examples", name + ".wasm"), "rb") as w:
            programs[f.read()] = w.read()
    base, server = serve(www, handler=compile_stand_in(programs))
    plain_base, plain_server = serve(www, isolated=False)
    wd = WebDriver()
    check = Checks("page")
    try:
        wd.start()

        # A link that runs an example, cross-origin isolated.
        state = open_and_run(wd, base + "/?example=strings&run=1", "strings example")
        check("?example=strings&run=1 runs on load", state == "done", state)
        lines = wd.js_async(READ_TRACE)["lines"]
        check('the strings trace shows name: String = "Ada"', any('name: String = "Ada"' in l for l in lines), lines[:6])
        check("the page is cross-origin isolated under COOP/COEP", wd.js("return document.body.dataset.isolated") == "true")
        check("times count from the start of the run (+0.412 ms)", bool(lines) and TIME.match(lines[0]) is not None, lines[:2])
        wd.screenshot(os.path.join(opts.out, "page-strings.png"))

        # Every example: the CLI's lines.
        for name in examples:
            state = open_and_run(wd, f"{base}/?example={name}&run=1", f"{name} example")
            trace = wd.js_async(READ_TRACE)
            page = comparable(normalize_page(trace["lines"]))
            cli = cli_lines(os.path.join(opts.cli, f"{name}.txt"))
            check(f"{name}: the page's trace is the CLI's, line for line ({len(cli)} lines)", page == cli, first_difference(page, cli))
            if name == "structs":
                wd.screenshot(os.path.join(opts.out, "page-structs.png"))
            if name == "fibonacci":
                # The WASI shim's calls: in the trace, the call tree and the timeline.
                writes = [l for l in page if l.startswith("-> wasi_snapshot_preview1::fd_write(") and "1 <stdout>" in l]
                out = wd.js(TAB + "return [[...$('tree').querySelectorAll('summary')].filter(s => s.textContent.includes('fd_write(')).length, "
                            "tab.bars.filter(b => b.name.endsWith('fd_write')).length, $('output').textContent]")
                check("fibonacci: its fd_write call is in the tab's trace, call tree and timeline, and printed 5",
                      len(writes) == 1 and out[0] == 1 and out[1] == 1 and out[2] == "5\n", (writes, out))

        # Corpus programs opened with their .ruchy and .rs: Ruchy names.
        for name, call in CORPUS.items():
            wd.open(base + "/")
            wd.wait("return document.body.dataset.ready", what="page to load")
            clear_state(wd)
            wd.upload("#file", "\n".join(os.path.join(opts.fixtures, "corpus", f"{name}.{ext}") for ext in ("wasm", "ruchy", "rs")))
            wait_state_change(wd, f"corpus {name}")
            page = comparable(normalize_page(wd.js_async(READ_TRACE)["lines"]))
            cli = cli_lines(os.path.join(opts.cli, "corpus", f"{name}.txt"))
            named = [l for l in page if l.startswith(call) and f"<{name}.ruchy:" in l]
            check(f"corpus {name}: `{call}` at {name}.ruchy, every line as the CLI prints it ({len(cli)} lines)",
                  page == cli and len(named) >= 1, (named, first_difference(page, cli)))

        # values.wasm: a pointer into nowhere, through an invoked export.
        wd.open(base + "/")
        wd.wait("return document.body.dataset.ready", what="page to load")
        wd.js("document.getElementById('entry').value = 'run 3'; document.getElementById('filter').value = '!*abs*';")
        clear_state(wd)
        wd.upload("#file", os.path.join(opts.fixtures, "values", "values.wasm"))
        wait_state_change(wd, "values.wasm run")
        page = comparable(normalize_page(wd.js_async(READ_TRACE)["lines"]))
        cli = cli_lines(os.path.join(opts.cli, "values.txt"))
        check("values: <unreadable 0x7ffffff0> and the rest as the CLI prints them",
              page == cli and any("<unreadable 0x7ffffff0>" in l for l in page), first_difference(page, cli))

        # The function table of a recorded trace: `ruchy-trace report`'s numbers.
        wd.open(base + "/")
        wd.wait("return document.body.dataset.ready", what="page to load")
        clear_state(wd)
        wd.upload("#file", os.path.join(opts.cli, "fib_bench.rtrace"))
        wait_state_change(wd, "fib_bench.rtrace")
        table = wd.js(TAB + "return [...$('functions').tBodies[0].rows].map(r => [r.cells[0].textContent, Number(r.cells[1].textContent), Number(r.dataset.totalUs), Number(r.dataset.selfUs)])")
        page_rows = {r[0]: (r[1], r[2], r[3]) for r in table}
        cli_rows = report_rows(os.path.join(opts.cli, "fib_bench.report.txt"))
        fib = cli_rows.get("fibonacci", (0, 0, 0))
        check("the function table equals `ruchy-trace report` to the microsecond (fib(20) recorded)",
              page_rows == cli_rows and len(cli_rows) == 2 and fib[0] == 21891 and fib[1] > 1000, f"page {page_rows} cli {cli_rows}")

        # Clicking a call selects its definition in the editor.
        open_and_run(wd, base + "/?example=fibonacci&run=1", "fibonacci example")
        wd.js(TAB + "const row = [...$('trace').querySelectorAll('.vrows div')].find(d => d.textContent.includes('-> fibonacci(')); row.click();")
        selected = wd.js("const e = document.getElementById('editor'); return [e.dataset.highlight, e.value.slice(e.selectionStart, e.selectionEnd)]")
        check("clicking a call selects its definition in the editor", selected[0] == "1:5" and selected[1].startswith("fun fibonacci"), selected)
        wd.js(TAB + "$('tree').querySelector('summary').click();")
        selected = wd.js("return document.getElementById('editor').dataset.highlight")
        check("clicking the call tree's main selects main's definition", selected is not None and selected != "1:5", selected)
        notes = wd.js(TAB + "return [$('message').hidden, $('notes').hidden, $('notes').open, $('notes').textContent]")
        check("notes about the rewritten module stay folded, out of the message box",
              notes[0] is True and (notes[1] or notes[2] is False), notes)

        # Bad input: one readable message in the tab.
        bad = os.path.join(wd.profile, "notes.wasm")
        with open(bad, "w") as f:
            f.write("these are my notes, not a module\n")
        clear_state(wd)
        wd.upload("#file", bad)
        wait_state_change(wd, "text file")
        msg = tab_message(wd)
        check("a text file renamed .wasm gives one clear message", "not a WebAssembly module" in msg, msg)
        component = os.path.join(wd.profile, "component.wasm")
        with open(component, "wb") as f:
            f.write(b"\0asm\x0d\x00\x01\x00")
        clear_state(wd)
        wd.upload("#file", component)
        wait_state_change(wd, "component")
        msg = tab_message(wd)
        check("a component gives one clear message", "component" in msg and "\n" not in msg.strip(), msg)
        clear_state(wd)
        wd.click('button[data-example="panic"]')
        wait_state_change(wd, "panic example")
        msg = tab_message(wd)
        out = wd.js(TAB + "return $('output').textContent")
        check("a trap says so, and its stderr is shown", "trapped" in msg and "value too large" in out, (msg, out))

        # An endless loop, stopped.
        # (module (func (export "_start") (loop (br 0))))
        loop = bytes.fromhex("0061736d01000000" "010401600000" "03020100"
                             "070a01065f73746172740000" "0a090107000340" "0c000b0b")
        code = base64.urlsafe_b64encode(loop).decode().rstrip("=")
        wd.open(base + "/#code=" + code)
        wd.wait(TAB + "return tab.dataset.state === 'running'", what="endless loop to start")
        wd.wait(TAB + "return !$('stop').hidden", what="Stop button")
        wd.js(TAB + "$('stop').click();")
        state = wait_done(wd, "stop", timeout=20)
        msg = tab_message(wd)
        check("#code= with an endless loop runs it, and Stop stops it", state == "stopped" and "stopped after" in msg, (state, msg))
        clear_state(wd)
        wd.click('button[data-example="fibonacci"]')
        wait_state_change(wd, "fibonacci after stop")
        out = wd.js(TAB + "return $('output').textContent")
        check("the page keeps working after a stopped run", out.strip() == "5", out)

        # A link carrying a Ruchy program: compiled through /api/compile
        # (a stand-in answering as `ruchy-trace serve` does), then run.
        with open(os.path.join(www, "examples", "strings.ruchy"), "rb") as f:
            code = base64.urlsafe_b64encode(f.read()).decode().rstrip("=")
        state = open_and_run(wd, base + "/?#code=" + code, "#code= with a Ruchy program")
        lines = wd.js_async(READ_TRACE)["lines"]
        editor = wd.js("return document.getElementById('editor').value")
        check("#code= with a Ruchy program compiles it through /api/compile and runs it",
              state == "done" and any('name: String = "Ada"' in l for l in lines) and editor.startswith("fun greet"), (state, lines[:3]))

        # A plain static server, not cross-origin isolated, works too, and
        # Compile says what it needs.
        state = open_and_run(wd, plain_base + "/?example=fibonacci&run=1", "fibonacci on a plain server")
        out = wd.js(TAB + "return $('output').textContent")
        check("a plain static server serves a working page", state == "done" and out.strip() == "5", (state, out))
        wd.click("#compile")
        msg = wd.wait("const m = document.getElementById('message'); return !m.hidden && m.textContent.includes('ruchy-trace serve') && m.textContent", what="compile message")
        check("without ruchy-trace serve, Compile says plainly that it needs it", "ruchy installed" in msg, msg)

        # Browser benchmark row: fib(N) traced inline vs uninstrumented.
        wd.js("document.getElementById('strategy').value = 'inline'")
        wd.click("#bench")
        row = wd.wait("const b = document.getElementById('bench-result'); return b.dataset.ratio && b.textContent", timeout=300, what="benchmark")
        print(f"benchmark: {row}")
        check("the benchmark row reports a ratio", "ratio" in row, row)

        # A million events: the trace view stays usable.
        wd.open(base + "/")
        wd.wait("return document.body.dataset.ready", what="page to load")
        wd.js("document.getElementById('entry').value = 'run 27'; document.getElementById('scope').value = 'all';")
        clear_state(wd)
        wd.upload("#file", os.path.join(opts.fixtures, "bench", "fib_bench.wasm"))
        wait_state_change(wd, "1M-event run", timeout=300)
        summary = wd.js(TAB + "return $('summary').textContent")
        rows = int(wd.js(TAB + "return $('trace').dataset.rows"))
        print(f"1M events: {summary} (run and render took {wd.js('return document.body.dataset.renderMs')} ms)")
        check("a 1M-event trace is kept (ring size 1,000,000)", "1000000 events kept" in summary and rows >= 1000000, f"{summary}; {rows} rows")
        timing = wd.js_async(TAB + """
const done = arguments[arguments.length - 1];
const box = $('trace');
const t = performance.now();
let i = 0;
const step = () => {
  if (i++ === 30) { done({ms: (performance.now() - t) / 30, text: box.querySelector('.vrows').textContent.slice(0, 200)}); return; }
  box.scrollTop = Math.floor(box.scrollHeight * i / 31);
  requestAnimationFrame(() => requestAnimationFrame(step));
};
step();
""")
        print(f"1M events: {timing['ms']:.1f} ms per jump-and-render")
        wd.screenshot(os.path.join(opts.out, "page-1m.png"))
        check("the virtualized list renders anywhere in 1M events", "fibonacci" in timing["text"] and timing["ms"] < 500, timing)
        if opts.serve:
            serve_structs(wd, opts, check)
    except Exception as e:  # a failed step is a failed check
        check("page test ran to the end", False, str(e))
    finally:
        wd.quit()
        server.shutdown()
        plain_server.shutdown()
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
