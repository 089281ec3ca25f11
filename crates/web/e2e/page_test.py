#!/usr/bin/env python3
"""End-to-end test of the Trace tab (www/) in headless Chromium.

Serves www/ on 127.0.0.1, drives Chromium through chromedriver's WebDriver
HTTP API (standard library only), runs the fibonacci example and checks what
the page shows, feeds it bad input, and saves a screenshot.

Usage: page_test.py [--www DIR] [--screenshot FILE]
Env: CHROMEDRIVER (default chromedriver on PATH), CHROMIUM (default chromium).
Prints one line per check and a closing `page: N passed, M failed`; exits 1
when a check failed.
"""
import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


class WebDriver:
    def __init__(self, url):
        self.url = url
        self.session = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.read().decode(errors='replace')[:500]}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def start(self, chromium, profile):
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                "--window-size=1400,1400"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.s("POST", "/execute/async", {"script": script, "args": list(args)})

    def find(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(el.values()))

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def wait(self, script, timeout=60, what="condition"):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")


READ_TRACE = """
const done = arguments[arguments.length - 1];
const box = document.getElementById('trace');
const total = Number(box.dataset.rows || 0);
const lines = new Map();
const step = () => {
  const first = Math.max(0, Math.floor(box.scrollTop / 18) - 5);
  box.querySelectorAll('.vrows div').forEach((d, i) => lines.set(first + i, d.textContent));
  if (box.scrollTop + box.clientHeight >= box.scrollHeight - 1) {
    box.scrollTop = 0;
    done({total, lines: [...lines.entries()].sort((a, b) => a[0] - b[0]).map(e => e[1])});
    return;
  }
  box.scrollTop += box.clientHeight - 36;
  requestAnimationFrame(() => requestAnimationFrame(step));
};
step();
"""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--www", default=os.path.join(here, "..", "..", "..", "www"))
    ap.add_argument("--screenshot", default="trace-tab.png")
    opts = ap.parse_args()
    www = os.path.abspath(opts.www)
    if not os.path.exists(os.path.join(www, "pkg", "ruchy_trace_web.js")):
        print(f"{www}/pkg is missing: run www/build.sh first")
        return 2

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=www))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver_port = free_port()
    chromedriver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = subprocess.Popen([chromedriver, f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    profile = tempfile.mkdtemp(prefix="ruchy-trace-chromium-")
    wd = WebDriver(f"http://127.0.0.1:{driver_port}")
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {detail}")

    try:
        for _ in range(100):
            try:
                wd.call("GET", "/status")
                break
            except Exception:
                time.sleep(0.1)
        wd.start(chromium, profile)
        wd.s("POST", "/url", {"url": f"http://127.0.0.1:{port}/index.html"})
        ready = wd.wait("return document.body.dataset.ready", what="page to load")
        check("page loads its wasm package", ready == "yes", ready)

        # The fibonacci example.
        wd.click('button[data-example="fibonacci"]')
        wd.wait("return document.getElementById('summary').textContent.includes('events kept')", what="fibonacci trace")
        trace = wd.js_async(READ_TRACE)
        lines = trace["lines"]
        check("trace view holds every line", len(lines) == trace["total"], f"{len(lines)} of {trace['total']}")
        fib = [l for l in lines if "-> fibonacci(" in l]
        first = fib[0].strip() if fib else ""
        check("first fibonacci call is fibonacci(i64=5)",
              "-> fibonacci(i64=5)" in first or "-> fibonacci(n: i64 = 5)" in first, first)
        check("trace view shows 15 fibonacci calls", len(fib) == 15, f"{len(fib)} calls")
        table = wd.js("return [...document.querySelectorAll('#functions tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
        row = next((r for r in table if r[0] == "fibonacci"), None)
        check("per-function table says 15", row is not None and row[1] == "15", table)
        output = wd.js("return document.getElementById('output').textContent")
        check("output panel shows 5", output.strip() == "5", repr(output))
        tree = wd.js("return document.querySelectorAll('#tree details').length")
        check("call tree has main and 15 fibonacci calls", tree == 16, tree)
        source = wd.js("return document.getElementById('editor').value")
        check("example's Ruchy source is shown", "fun fibonacci" in source, source[:80])
        os.makedirs(os.path.dirname(os.path.abspath(opts.screenshot)), exist_ok=True)
        with open(opts.screenshot, "wb") as f:
            f.write(base64.b64decode(wd.s("GET", "/screenshot")))
        print(f"screenshot: {opts.screenshot}")

        # Downloads produce the documents.
        chrome = wd.js("return JSON.parse(document.getElementById('download-chrome').disabled ? 'null' : '1')")
        check("downloads enabled after a run", chrome == 1)

        # A text file renamed .wasm.
        bad = os.path.join(profile, "notes.wasm")
        with open(bad, "w") as f:
            f.write("these are my notes, not a module\n")
        wd.s("POST", f"/element/{wd.find('#file')}/value", {"text": bad})
        msg = wd.wait("const m = document.getElementById('message'); return !m.hidden && m.textContent", what="bad input message")
        check("a text file renamed .wasm gives a clear message", "not a WebAssembly module" in msg, msg)

        # A module that traps.
        wd.click('button[data-example="panic"]')
        wd.wait("return document.getElementById('summary').textContent.includes('panic.wasm: trapped')", what="panic run")
        msg = wd.js("return document.getElementById('message').textContent")
        check("a trapping module says it trapped", "trapped" in msg, msg)
        out = wd.js("return document.getElementById('output').textContent")
        check("the trap's stderr is shown", "value too large" in out, out)

        # Compile without `ruchy-trace serve`.
        wd.click("#compile")
        msg = wd.wait("const m = document.getElementById('message'); return m.textContent.includes('ruchy-trace serve') && m.textContent", what="compile message")
        check("Compile says plainly it needs ruchy-trace serve", "ruchy installed" in msg, msg)

        # The page keeps working.
        wd.click('button[data-example="fibonacci"]')
        wd.wait("return document.getElementById('summary').textContent.startsWith('fibonacci.wasm: returned')", what="fibonacci again")
        output = wd.js("return document.getElementById('output').textContent")
        check("page keeps working after bad input", output.strip() == "5", output)
        # Browser benchmark row: fib(N) traced inline vs uninstrumented.
        wd.js("document.getElementById('strategy').value = 'inline'")
        wd.click("#bench")
        row = wd.wait("const b = document.getElementById('bench-result'); return b.dataset.ratio && b.textContent", timeout=300, what="benchmark")
        print(f"benchmark: {row}")
        check("benchmark row reports a ratio", "ratio" in row, row)

        # A million events: the trace view stays usable.
        bench = os.path.join(here, "..", "..", "..", "tests", "fixtures", "bench", "fib_bench.wasm")
        wd.js("document.getElementById('entry').value = 'run 27'; document.getElementById('scope').value = 'all';")
        wd.s("POST", f"/element/{wd.find('#file')}/value", {"text": os.path.abspath(bench)})
        summary = wd.wait("const s = document.getElementById('summary').textContent; return s.startsWith('fib_bench.wasm: returned') && s", timeout=300, what="1M-event run")
        rows = int(wd.js("return document.getElementById('trace').dataset.rows"))
        render_ms = wd.js("return document.getElementById('summary').dataset.renderMs")
        print(f"1M events: {summary} (page rendered it in {render_ms} ms)")
        check("a 1M-event trace is kept (ring size 1,000,000)", "1000000 events kept" in summary and rows >= 1000000, f"{summary}; {rows} rows")
        timing = wd.js_async("""
const done = arguments[arguments.length - 1];
const box = document.getElementById('trace');
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
        big = os.path.splitext(opts.screenshot)[0] + "-1m.png"
        with open(big, "wb") as f:
            f.write(base64.b64decode(wd.s("GET", "/screenshot")))
        print(f"screenshot: {big}")
        check("the virtualized list renders anywhere in 1M events", "fibonacci" in timing["text"] and timing["ms"] < 500, timing)
    except Exception as e:  # a failed step is a failed check
        check("page test ran to the end", False, str(e))
    finally:
        try:
            if wd.session:
                wd.call("DELETE", f"/session/{wd.session}")
        except Exception:
            pass
        driver.terminate()
        driver.wait(10)
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"page: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
