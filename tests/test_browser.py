"""End to end in a real browser: JupyterLab runs chapter 0, a learning-rate slider moves, the output changes.

Starts ``jupyter lab`` on 127.0.0.1 (token, free port, every Jupyter/IPython/matplotlib directory in a
temporary folder) serving a copy of chapters/00_how_to_use.ipynb, and drives Debian's Chromium
(/usr/bin/chromium; CI installs it with apt) through playwright. Playwright's own browser download is
not used. The screenshot lands in the test's tmp dir; with LITTLEBOOK_UPDATE_SCREENSHOT=1 it is also
copied to docs/screenshot.png for the README.

Every wait is an explicit wait on a condition with a generous timeout: CI runs this on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
CHAPTER = "00_how_to_use.ipynb"
SLOW = 300_000  # ms: server start, kernel start and "Run All" on a busy 2-core machine
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install -e '.[dev]')")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server we started (it shuts its kernel down), wait, then kill its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # a kernel orphaned by a killed server (own session: only ours)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab serving a copy of chapter 0; yields (base_url, token, tmp dir)."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "chapters"
    root.mkdir()
    shutil.copy(REPO / "chapters" / CHAPTER, root / CHAPTER)
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    # No "get Jupyter news?" toast over the notebook.
    settings = tmp / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    port, token = _free_port(), os.urandom(16).hex()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SLOW / 1000
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer on {base}:\n{(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)  # polling interval while the server starts (there is nothing to wait on yet)
        yield base, token, tmp
    finally:
        _stop(proc)
        log.close()


def test_lr_slider_retrains_in_jupyterlab(lab):
    base, token, tmp = lab
    expect = playwright_api.expect
    started = time.monotonic()
    with playwright_api.sync_playwright() as p:
        # launch() refuses --user-data-dir in args; a persistent context is how playwright takes a profile dir.
        context = p.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            viewport={"width": 1280, "height": 1000})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(SLOW)
            # JupyterLab may ask which kernel to start while it is still loading: accept the default (python3).
            page.add_locator_handler(page.locator(".jp-Dialog", has_text="Select Kernel"),
                                     lambda dialog: dialog.locator(".jp-mod-accept").click())
            page.goto(f"{base}/lab/tree/{CHAPTER}?token={token}")
            expect(page.locator(".jp-Notebook")).to_be_visible(timeout=SLOW)
            expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(timeout=SLOW)

            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()

            # Sliders exist only once the cells ran in a live kernel.
            slider = page.locator(".widget-slider").first
            expect(slider).to_be_visible(timeout=SLOW)
            output = page.locator(".widget-output").filter(has_text="final loss").first
            expect(output).to_contain_text("lr=0.1: final loss", timeout=SLOW)
            expect(output.locator("img")).to_be_visible(timeout=SLOW)
            readout = slider.locator(".widget-readout")
            # Let "Run All" finish (the exercise's check cell prints "correct", the kernel goes idle): a slider
            # change sent earlier would queue behind the remaining cells.
            expect(page.locator(".jp-OutputArea-output", has_text="diverged at step").first).to_be_attached()
            expect(page.locator(".jp-OutputArea-output", has_text="Exercise 0.1: correct").first).to_be_attached(
                timeout=SLOW)
            expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(timeout=SLOW)
            # Run All scrolled to the end; JupyterLab renders only the cells near the view, so come back.
            cell = page.locator(".jp-Cell").filter(has=page.locator(".widget-slider")).first
            cell.evaluate("el => el.scrollIntoView({block: 'start'})")
            expect(readout).to_be_visible(timeout=SLOW)
            expect(output.locator("img")).to_be_visible(timeout=SLOW)
            before_text = output.inner_text()
            before_image = output.locator("img").get_attribute("src")
            assert float(readout.inner_text()) == pytest.approx(0.1)  # d3 format ".2g" writes "0.10"

            # One notch right on the log slider: 0.1 → 10^(−3/4) ≈ 0.18; the change fires on key up.
            slider.locator(".noUi-handle").focus()
            moved = time.monotonic()
            page.keyboard.press("ArrowRight")
            expect(readout).to_have_text("0.18", timeout=SLOW)
            expect(output).to_contain_text("lr=0.18: final loss", timeout=SLOW)
            retrain_seconds = time.monotonic() - moved  # key press → retrained, redrawn, shown in the browser
            expect(output.locator("img")).to_be_visible(timeout=SLOW)
            after_text = output.inner_text()
            after_image = output.locator("img").get_attribute("src")
            assert after_text != before_text
            assert after_image != before_image  # the figure was redrawn, not only the text

            # Screenshot: the explorer cell at the top of the view, without the file browser.
            try:
                page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click(timeout=10_000)
            except playwright_api.Error:
                pass  # a layout without that tab only costs screen space
            cell.evaluate("el => el.scrollIntoView({block: 'start'})")
            expect(output.locator("img")).to_be_in_viewport(timeout=SLOW)
            # Wait until the figure is decoded and two frames were painted, so the screenshot shows it.
            output.locator("img").evaluate("img => img.decode()")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            shot = tmp / "screenshot.png"
            page.screenshot(path=str(shot))
        finally:
            context.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("LITTLEBOOK_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, REPO / "docs" / "screenshot.png")
    print(f"browser test: {time.monotonic() - started:.1f} s in the browser, slider move → new output in "
          f"{retrain_seconds:.2f} s; screenshot {shot}")
