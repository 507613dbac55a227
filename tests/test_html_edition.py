"""The HTML edition as a reader meets it: built from the committed notebooks, served on 127.0.0.1, read in Chromium.

Every page: no console error, no request to any host but 127.0.0.1, every image decoded, every formula typeset
by MathJax (no raw ``$…$`` left in the text), every link between pages and to an anchor resolves. A screenshot of
one chapter page is saved (LITTLEBOOK_UPDATE_SCREENSHOT=1 copies it to docs/html-screenshot.png for the README).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
sys.path.insert(0, str(REPO / "tools"))
import html_edition  # noqa: E402  (tools/html_edition.py)

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install -e '.[dev]')")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports what matters
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    started = time.perf_counter()
    pages = html_edition.build(out)
    print(f"HTML edition: {len(pages)} pages built in {time.perf_counter() - started:.1f} s")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", out, pages
    finally:
        server.shutdown()


def test_every_chapter_has_a_page_and_the_index_links_them(site):
    _, out, pages = site
    names = {p.name for p in pages}
    for nb in (REPO / "chapters").glob("[0-9][0-9]_*.ipynb"):
        assert f"{nb.stem}.html" in names
        assert f'href="{nb.stem}.html"' in (out / "index.html").read_text()
    for page in pages:
        text = page.read_text()
        assert "cdn" not in " ".join(t for t in text.split('"') if t.startswith(("http", "//"))).lower()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: apt-get install chromium")
def test_pages_render_offline_in_chromium(site, tmp_path):
    base, out, pages = site
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                          "--disable-background-networking", "--disable-component-update",
                                          "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(120_000)
            current = {"url": ""}
            page.on("console", lambda m: m.type == "error" and problems.append(f"{current['url']}: console: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"{current['url']}: page error: {e}"))

            def on_request(request):
                host = urlparse(request.url).hostname
                if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
                    problems.append(f"{current['url']}: request to {request.url}")
            page.on("request", on_request)
            page.on("requestfailed", lambda r: problems.append(f"{current['url']}: failed: {r.url}"))
            for path in pages:
                current["url"] = path.name
                page.goto(f"{base}/{path.name}", wait_until="load")
                if path.name != "index.html":
                    # MathJax typesets asynchronously: wait until it is done.
                    page.evaluate("() => MathJax.startup.promise")
                    raw = page.evaluate(r"""() => {
                        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                        const left = [];
                        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                            if (n.parentElement.closest('pre, code, script, style, .jp-OutputArea')) continue;
                            const m = n.textContent.match(/\$[^$\s][^$]*\$/);
                            if (m) left.push(m[0].slice(0, 60));
                        }
                        return left;
                    }""")
                    problems += [f"{path.name}: formula not typeset: {r}" for r in raw]
                    assert page.locator("mjx-container").count() > 0 or \
                        "$" not in path.read_text(), f"{path.name}: no formula was typeset"
                images = page.evaluate("""() => Array.from(document.images).map(
                    i => [i.currentSrc.slice(0, 40), i.complete && i.naturalWidth > 0])""")
                problems += [f"{path.name}: image not loaded: {src}" for src, ok in images if not ok]
                links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
                for href in links:
                    url = urlparse(href)
                    if url.hostname != "127.0.0.1":
                        continue  # an external reference in the prose is a link, not a request
                    target = out / (url.path.lstrip("/") or "index.html")
                    if not target.exists():
                        problems.append(f"{path.name}: broken link {href}")
                    elif url.fragment and target.suffix == ".html":
                        anchor = url.fragment
                        text = target.read_text()
                        from urllib.parse import unquote
                        if f'id="{unquote(anchor)}"' not in text and f'id="{anchor}"' not in text:
                            problems.append(f"{path.name}: link to a missing anchor {href}")
            chapter = next(p for p in pages if p.name.startswith("04_"))
            page.goto(f"{base}/{chapter.name}", wait_until="load")
            page.evaluate("() => MathJax.startup.promise")
            shot = tmp_path / "html-screenshot.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert not problems, "\n".join(problems[:40])
    assert shot.stat().st_size > 10_000
    if os.environ.get("LITTLEBOOK_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, REPO / "docs" / "html-screenshot.png")
