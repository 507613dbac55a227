"""End to end in a real browser: JupyterLab runs every chapter that has a slider, each slider moves once.

One ``jupyter lab`` on 127.0.0.1 (token, free port, every Jupyter/IPython/matplotlib directory in a temporary
folder) serves copies of the chapters whose source calls an explorer (``explore(`` or ``*_explorer(``), and
Debian's Chromium (/usr/bin/chromium; CI installs it with apt) is driven through playwright (its own browser
download is not used). For each chapter: Run All, then for each slider one ArrowRight key press, timed in the
page by a MutationObserver on that cell's output (the slider's own readout excluded):

- *first visible change*: key down → the first change the kernel makes to the output;
- *final redraw*: key down → the last change, once the kernel is idle again and the output has been quiet 1.5 s.

The latencies are printed (a benchmark for docs/performance.md, "Slider latency"), not asserted: the test
must not fail on a loaded machine. What is asserted: every slider answers, the figure changes, and in chapter 0
the live mode (Play advances the step count, raising η mid-run steepens the loss curve, Pause stops it, a too
large η stops the run with "diverged at step N", Reset goes back to step 0).
With LITTLEBOOK_UPDATE_SCREENSHOT=1 chapter 0's explorer is also saved to docs/screenshot.png for the README.

Every wait is an explicit wait on a condition with a generous timeout: CI runs this on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
SLOW = 300_000  # ms: server start, kernel start and "Run All" on a busy 2-core machine
QUIET = 1.5  # s without a change to the output (and the kernel idle) = the redraw is final
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install -e '.[dev]')")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")


def _slider_chapters() -> list[str]:
    """Chapters whose source calls an explorer at the top level of a cell; chapter 0 last (the live test reuses it)."""
    names = [p.stem for p in sorted((REPO / "chapters").glob("[0-9][0-9]_*.py"))
             if re.search(r"^(explore|explore_figure|\w+_explorer)\(", p.read_text(), re.M)]
    return sorted(names, key=lambda n: (n.startswith("00_"), n))


# LITTLEBOOK_BROWSER_CHAPTERS=00,04 limits the run to those chapters (a quick re-measurement).
CHAPTERS = [c for c in _slider_chapters() if not os.environ.get("LITTLEBOOK_BROWSER_CHAPTERS")
            or c[:2] in os.environ["LITTLEBOOK_BROWSER_CHAPTERS"].split(",")]
RESULTS: list[dict] = []  # one row per slider, printed at the end of the module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server we started (it shuts its kernels down), wait, then kill its process group."""
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


def _api(lab, path: str, method: str = "GET"):
    base, token, _ = lab
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab serving copies of the slider chapters; yields (base_url, token, tmp dir)."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "chapters"
    root.mkdir()
    for name in CHAPTERS:
        shutil.copy(REPO / "chapters" / f"{name}.ipynb", root / f"{name}.ipynb")
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    settings = tmp / "lab-settings" / "@jupyterlab"
    # No "get Jupyter news?" toast over the notebook.
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # Every cell attached to the page (not only those in view): cells can be found and their prompts read.
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
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
        if RESULTS:
            _print_results()


@pytest.fixture(scope="module")
def browser(lab):
    """One Chromium page for the whole module; yields a dict {"page": page, "open": chapter shown or None}."""
    _, _, tmp = lab
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
            yield {"page": page, "open": None}
        finally:
            context.close()


def _kernels_idle(lab) -> bool:
    return all(k["execution_state"] == "idle" for k in _api(lab, "/api/kernels"))


_ALL_RAN = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return 'loading';
  const err = nb.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]');
  if (err) return 'error: ' + err.textContent.slice(-1500);
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
  return prompts.length && prompts.every(t => /\\[\\d+\\]/.test(t)) ? 'done' : 'running';
}"""


def _open_and_run(lab, browser, chapter: str):
    """Show ``chapter`` in its own workspace (the previous chapter's kernel shut down) and Run All Cells."""
    if browser["open"] == chapter:
        return browser["page"]
    base, token, _ = lab
    page, expect = browser["page"], playwright_api.expect
    for session in _api(lab, "/api/sessions"):  # one kernel at a time: the machine has two cores
        _api(lab, f"/api/sessions/{session['id']}", method="DELETE")
    browser["open"] = None
    page.goto(f"{base}/lab/workspaces/w{chapter[:2]}/tree/{chapter}.ipynb?reset&token={token}")
    expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")).to_be_visible(timeout=SLOW)
    expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(timeout=SLOW)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
    deadline = time.monotonic() + SLOW / 1000
    state = "running"
    while time.monotonic() < deadline:
        state = page.evaluate(_ALL_RAN)
        if state.startswith("error"):
            pytest.fail(f"{chapter}: a cell raised in JupyterLab:\n{state}")
        if state == "done" and _kernels_idle(lab):
            break
        page.wait_for_timeout(500)  # polling "Run All" (minutes on a loaded machine)
    assert state == "done", f"{chapter}: Run All did not finish in {SLOW / 1000:.0f} s"
    browser["open"] = chapter
    print(f"{chapter}: Run All took {time.monotonic() - deadline + SLOW / 1000:.0f} s (load {_load()})")
    return page


_WATCH = """(slider) => {
  const area = slider.closest('.jp-OutputArea');
  const rec = window.__latency = {t0: null, changes: []};
  rec.observer = new MutationObserver(mutations => {
    const now = performance.now();
    for (const m of mutations) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (el && !el.closest('.widget-slider')) { rec.changes.push(now); break; }
    }
  });
  rec.observer.observe(area, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('keydown', () => { if (rec.t0 === null) rec.t0 = performance.now(); },
                            {capture: true, once: true});
}"""
_STATE = """() => { const r = window.__latency;
  return {t0: r.t0, n: r.changes.length, first: r.changes[0], last: r.changes[r.changes.length - 1],
          now: performance.now()}; }"""


def _press_and_time(lab, page, slider, key: str = "ArrowRight", timeout: float = 120.0) -> tuple[float, float]:
    """Press ``key`` on ``slider``; return (first visible change, final redraw) in seconds after the key down."""
    slider.evaluate("el => el.scrollIntoView({block: 'center'})")
    slider.locator(".noUi-handle").focus()
    slider.evaluate(_WATCH)
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout
    while True:
        s = page.evaluate(_STATE)
        if s["n"] and (s["now"] - s["last"]) / 1000 > QUIET and _kernels_idle(lab):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no change to the output within {timeout:.0f} s of pressing {key} (state {s})")
        page.wait_for_timeout(100)  # polling the recorder; the timestamps themselves come from the page
    page.evaluate("() => window.__latency.observer.disconnect()")
    return (s["first"] - s["t0"]) / 1000, (s["last"] - s["t0"]) / 1000


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def _print_results() -> None:
    lines = ["", f"slider latency (JupyterLab + Chromium; {os.cpu_count()} CPUs; load average now {_load()}):",
             f"{'chapter':<34} {'slider':<14} {'first change':>12} {'final redraw':>12}  load"]
    for r in RESULTS:
        lines.append(f"{r['chapter']:<34} {r['slider']:<14} {r['first']:>10.2f} s {r['final']:>10.2f} s  {r['load']}")
    finals = [r["final"] for r in RESULTS]
    firsts = [r["first"] for r in RESULTS]
    lines.append(f"all sliders: first change median {statistics.median(firsts):.2f} s (max {max(firsts):.2f}), "
                 f"final redraw median {statistics.median(finals):.2f} s (max {max(finals):.2f})")
    print("\n".join(lines))
    out = os.environ.get("LITTLEBOOK_LATENCY_JSON")
    if out:
        Path(out).write_text(json.dumps(RESULTS, indent=1))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_slider_answers_and_is_timed(lab, browser, chapter):
    page = _open_and_run(lab, browser, chapter)
    sliders = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .widget-slider")
    n = sliders.count()
    assert n > 0, f"{chapter}: the source calls an explorer but no slider was rendered"
    for i in range(n):
        slider = sliders.nth(i)
        label = slider.locator(".widget-label").first.inner_text().strip() or f"slider {i}"
        readout = slider.locator(".widget-readout")
        before = readout.inner_text()
        first, final = _press_and_time(lab, page, slider)
        if readout.inner_text() == before:  # the slider was at its maximum: go the other way
            first, final = _press_and_time(lab, page, slider, "ArrowLeft")
        assert readout.inner_text() != before
        RESULTS.append({"chapter": chapter, "slider": label, "first": round(first, 3), "final": round(final, 3),
                        "load": _load()})
        print(f"{chapter} {label}: first change {first:.2f} s, final redraw {final:.2f} s (load {_load()})")


_STATUS = ".jp-NotebookPanel:not(.lm-mod-hidden) .lb-live-status"


def _status(page) -> tuple[int, float | None, str]:
    text = page.locator(_STATUS).first.inner_text()
    found = re.search(r"live: step (\d+)", text)
    step = int(found.group(1)) if found else -1  # not live yet: the first tick has not been answered
    loss = re.search(r"loss[^≈\n]*≈\s*([0-9.]+)", text)
    return step, (float(loss.group(1)) if loss else None), text


def _wait_steps(page, at_least: int, timeout: float = 120.0) -> tuple[int, float | None, str]:
    deadline = time.monotonic() + timeout
    while True:
        s = _status(page)
        if s[0] >= at_least:
            return s
        assert "diverged" not in s[2], s[2]
        assert time.monotonic() < deadline, f"the live run did not reach step {at_least}: {s[2]}"
        page.wait_for_timeout(100)  # polling the step count the kernel writes


def test_live_training_in_jupyterlab(lab, browser):
    """Chapter 0's explorer: Play trains one model across ticks, η changes mid-run, Pause, divergence, Reset."""
    chapter = next((c for c in CHAPTERS if c.startswith("00_")), None)
    if chapter is None:
        pytest.skip("chapter 0 is not among LITTLEBOOK_BROWSER_CHAPTERS")
    page = _open_and_run(lab, browser, chapter)
    expect = playwright_api.expect
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").filter(
        has=page.locator(".lb-live-status")).first
    cell.evaluate("el => el.scrollIntoView({block: 'start'})")
    slider = cell.locator(".widget-slider").first
    readout = slider.locator(".widget-readout")
    buttons = cell.locator(".widget-play button, .jupyter-widget-play button")
    play, pause = buttons.nth(0), buttons.nth(1)
    handle = slider.locator(".noUi-handle")

    def set_lr(text: str, key: str):
        for _ in range(40):
            if readout.inner_text() == text:
                return
            handle.focus()
            page.keyboard.press(key)
        raise AssertionError(f"the slider did not reach {text}: {readout.inner_text()}")

    set_lr("0.0010", "ArrowLeft")  # a tiny η first: the curve is flat
    expect(page.locator(_STATUS).first).to_contain_text("lr=0.001", timeout=SLOW)
    image = cell.locator("img.widget-image, img.jupyter-widget-image").first
    static_image = image.get_attribute("src")
    play.click()
    s1 = _wait_steps(page, 20)
    s2 = _wait_steps(page, s1[0] + 30)
    slow_slope = (s2[1] - s1[1]) / (s2[0] - s1[0])
    set_lr("1.0", "ArrowRight")  # η × 1000 mid-run, the same model keeps training
    expect(page.locator(_STATUS).first).to_contain_text("lr 1 ", timeout=SLOW)
    s3 = _wait_steps(page, _status(page)[0] + 5)
    s4 = _wait_steps(page, s3[0] + 30)
    fast_slope = (s4[1] - s3[1]) / (s4[0] - s3[0])
    assert image.get_attribute("src") != static_image  # the figure follows the live run
    # Per step, the mean of the last 10 mini-batch losses: at η = 0.001 it drifts by noise (≈ ±0.001/step), at
    # η = 1 it falls ≈ 0.013/step over these steps (LiveTrainer headless, the same seeds).
    assert fast_slope < min(slow_slope, 0.0) - 0.004, (s1, s2, s3, s4)
    pause.click()
    page.wait_for_timeout(1500)  # the ticks already sent are drained (skipped by the kernel)
    paused_at = _status(page)[0]
    page.wait_for_timeout(2000)  # a paused run must not move
    assert _status(page)[0] == paused_at
    set_lr("1.0e+2", "ArrowRight")  # η = 100 (readout ".2g"), far too large: the live run must stop itself
    play.click()
    expect(page.locator(_STATUS).first).to_contain_text("diverged at step", timeout=SLOW)
    diverged_text = _status(page)[2]
    page.wait_for_timeout(1500)
    assert _status(page)[2] == diverged_text  # stopped: the step count stays
    cell.get_by_role("button", name="Reset").click()
    expect(page.locator(_STATUS).first).to_contain_text("lr=100", timeout=SLOW)  # back to the full run
    print(f"live mode: η 0.001 → loss slope {slow_slope:+.5f}/step, η 1 → {fast_slope:+.5f}/step; "
          f"paused at step {paused_at}; {diverged_text.strip()}")

    if os.environ.get("LITTLEBOOK_UPDATE_SCREENSHOT") == "1":
        set_lr("0.10", "ArrowLeft")
        expect(page.locator(_STATUS).first).to_contain_text("lr=0.1:", timeout=SLOW)
        try:
            page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click(timeout=10_000)
        except playwright_api.Error:
            pass  # a layout without that tab only costs screen space
        cell.evaluate("el => el.scrollIntoView({block: 'start'})")
        image.evaluate("img => img.decode()")
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        shot = lab[2] / "screenshot.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        shutil.copy(shot, REPO / "docs" / "screenshot.png")
