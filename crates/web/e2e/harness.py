"""What the browser end-to-end tests share: a static file server on
127.0.0.1 (optionally cross-origin isolated), a WebDriver client for
chromedriver's HTTP API (standard library only), and a check counter."""
import base64
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
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
    isolated = False

    def end_headers(self):
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        try:
            super().copyfile(source, outputfile)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page navigated away while loading this file


class IsolatedHandler(Handler):
    isolated = True


def compile_stand_in(programs):
    """A handler class whose POST /api/compile answers like `ruchy-trace
    serve` for the Ruchy programs it knows (`{source text: wasm bytes}`),
    so the page's compile path is tested without ruchy installed."""

    class CompilingHandler(IsolatedHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode(errors="replace")
            wasm = programs.get(body)
            if self.path != "/api/compile":
                self.send_error(404)
            elif wasm is None:
                self.send_response(422)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"error: this stand-in knows only the bundled examples\n")
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/wasm")
                self.send_header("Content-Length", str(len(wasm)))
                self.end_headers()
                self.wfile.write(wasm)

    return CompilingHandler


def serve(directory, isolated=False, handler=None):
    """Serves `directory`; returns (base URL, server)."""
    port = free_port()
    handler = handler or (IsolatedHandler if isolated else Handler)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}", server


class WebDriver:
    def __init__(self):
        self.port = free_port()
        chromedriver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
        self.process = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.session = None
        self.profile = tempfile.mkdtemp(prefix="ruchy-trace-chromium-")

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.read().decode(errors='replace')[:500]}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def start(self):
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except Exception:
                time.sleep(0.1)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={self.profile}",
                "--window-size=1400,1500"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                "goog:chromeOptions": {"binary": self.chromium, "args": args}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def open(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.s("POST", "/execute/async", {"script": script, "args": list(args)})

    def find(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(el.values()))

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def upload(self, css, path):
        """Picks the files at `path` (several separated by newlines) in a
        file input, replacing what it held: chromedriver adds to the
        selection of a `multiple` input otherwise."""
        el = self.find(css)
        self.js("arguments[0].value = '';", {"element-6066-11e4-a52e-4f735466cecb": el})
        self.s("POST", f"/element/{el}/value", {"text": path})

    def wait(self, script, timeout=60, what="condition"):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def screenshot(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))
        print(f"screenshot: {path}")

    def quit(self):
        try:
            if self.session:
                self.call("DELETE", f"/session/{self.session}")
        except Exception:
            pass
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


class Checks:
    """Counts checks; prints one line per check."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = 0

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {str(detail)[:2000]}")
        return ok

    def finish(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


# Reads every line of the tab's virtualized trace list by scrolling it.
READ_TRACE = """
const done = arguments[arguments.length - 1];
const tab = document.querySelector('ruchy-trace-tab');
const box = tab.shadowRoot.getElementById('trace');
const total = Number(box.dataset.rows || 0);
const lines = new Map();
const step = () => {
  box.querySelectorAll('.vrows div').forEach(d => lines.set(Number(d.dataset.i), d.textContent));
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

TAB = "const tab = document.querySelector('ruchy-trace-tab'); const $ = (id) => tab.shadowRoot.getElementById(id);"
