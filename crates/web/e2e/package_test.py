#!/usr/bin/env python3
"""The npm package, used the way a playground would use it.

Runs `npm pack` on the built package, unpacks the tarball into an empty
directory that has nothing of www/ (only node_modules/ruchy-trace-web, a
fixture and a ten-line index.html), serves it on 127.0.0.1 and checks in
headless Chromium that <ruchy-trace-tab> traces the fixture: trace, call
tree, function table, timeline and source, and that clicking a call
selects its definition. Saves a screenshot of the component.

Usage: package_test.py --package DIR [--out DIR] [--fixtures DIR]
Prints one line per check and `package: N passed, M failed`.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

from harness import READ_TRACE, TAB, Checks, WebDriver, serve

# The embedding example of crates/web/README.md, as a page.
INDEX = """<!doctype html>
<meta charset="utf-8">
<title>A playground embedding the Trace tab</title>
<script type="importmap">{"imports": {"ruchy-trace-web": "./node_modules/ruchy-trace-web/trace-tab.js"}}</script>
<ruchy-trace-tab></ruchy-trace-tab>
<script type="module">
import "ruchy-trace-web";
const tab = document.querySelector("ruchy-trace-tab");
const wasm = await (await fetch("structs.wasm")).arrayBuffer();
const source = await (await fetch("structs.ruchy")).text();
await tab.trace(wasm, { name: "structs.wasm", source });
</script>
"""

EXPECTED_FILES = {"package.json", "README.md", "trace-tab.js", "worker.js", "ruchy_trace_web.js", "ruchy_trace_web_bg.wasm"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--fixtures", default=os.path.join(root, "tests", "fixtures"))
    opts = ap.parse_args()
    check = Checks("package")
    work = tempfile.mkdtemp(prefix="ruchy-trace-package-")
    site = os.path.join(work, "site")
    os.makedirs(os.path.join(site, "node_modules"))
    wd = None
    server = None
    try:
        packed = subprocess.run(["npm", "pack", "--pack-destination", work, os.path.abspath(opts.package)],
                                capture_output=True, text=True, cwd=work)
        tarballs = [f for f in os.listdir(work) if f.endswith(".tgz")]
        if not check("npm pack makes one tarball", packed.returncode == 0 and len(tarballs) == 1, packed.stderr[-2000:]):
            return check.finish()
        with tarfile.open(os.path.join(work, tarballs[0])) as t:
            names = {m.name.removeprefix("package/") for m in t.getmembers() if m.isfile()}
            t.extractall(os.path.join(work, "unpacked"), filter="data")
        top = {n for n in names if "/" not in n}
        check("the tarball holds the element, its worker, the bound wasm, package.json and README",
              top == EXPECTED_FILES and any(n.startswith("snippets/") for n in names), sorted(names))
        shutil.move(os.path.join(work, "unpacked", "package"), os.path.join(site, "node_modules", "ruchy-trace-web"))
        for f in ("structs.wasm", "structs.ruchy"):
            shutil.copy(os.path.join(opts.fixtures, f), site)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write(INDEX)

        base, server = serve(site, isolated=True)
        wd = WebDriver()
        wd.start()
        wd.open(base + "/index.html")
        state = wd.wait(TAB + "return tab && tab.shadowRoot && ['done', 'error'].includes(tab.dataset.state) && tab.dataset.state", what="the component's run")
        check("the component from the tarball runs the fixture", state == "done", wd.js(TAB + "return $('message').textContent"))
        lines = wd.js_async(READ_TRACE)["lines"]
        want = "-> manhattan(p: Point = Point { x: 3, y: -4 }) <structs.ruchy:6:5>"
        check("its trace shows the struct argument as the CLI does", any(l.strip().endswith(want) for l in lines), lines[:8])
        tree = wd.js(TAB + "return [...$('tree').querySelectorAll('summary')].map(s => s.textContent)")
        check("its call tree holds main, manhattan twice and shift", len(tree) == 4 and sum("manhattan(" in t for t in tree) == 2 and any("shift(" in t and "Point { x: 6, y: 2 }" in t for t in tree), tree)
        table = wd.js(TAB + "return [...$('functions').tBodies[0].rows].map(r => [r.cells[0].textContent, r.cells[1].textContent])")
        check("its function table counts the calls", sorted(table) == [["main", "1"], ["manhattan", "2"], ["shift", "1"]], table)
        bars = wd.js(TAB + "return tab.bars ? tab.bars.length : 0")
        check("its timeline draws a bar per call", bars == 4, bars)
        wd.js(TAB + "[...$('trace').querySelectorAll('.vrows div')].find(d => d.textContent.includes('-> shift(')).click();")
        hl = wd.js(TAB + "const h = $('source').querySelector('.hl'); return h ? [h.dataset.n, h.textContent] : null")
        check("clicking a call highlights its definition in the source", hl is not None and hl[0] == "10" and "fun shift" in hl[1], hl)
        wd.screenshot(os.path.join(opts.out, "component.png"))
    except Exception as e:  # a failed step is a failed check
        check("package test ran to the end", False, str(e))
    finally:
        if wd:
            wd.quit()
        if server:
            server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
