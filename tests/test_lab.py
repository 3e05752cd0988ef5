"""JupyterLab in a real browser: a reader opens a chapter, runs it and moves a slider.

Starts JupyterLab (the project's own environment) on a copy of chapter 2 set to the
smoke profile, opens it in headless Chromium through Playwright, runs every cell,
presses the right arrow on the alpha slider and checks that the figure changed. Needs
Chromium like the site tests (skipped without it unless ``PLASTICITY_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from plasticity import paths

from .test_site import CHROMIUM_FLAGS, chromium  # noqa: F401 - the fixture

CHAPTER = "02_lazarus_vshape"
TOKEN = "plasticity-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smoke_notebook(folder: Path) -> Path:
    """Chapter 2 as a notebook whose parameters cell selects the smoke profile."""
    import jupytext

    nb = jupytext.read(paths.project_root() / "notebooks" / f"{CHAPTER}.py")
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert 'profile = "quick"' in cell.source
    cell.source = cell.source.replace('profile = "quick"', 'profile = "smoke"')
    target = folder / f"{CHAPTER}.ipynb"
    jupytext.write(nb, target)
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    for sub in ("notebooks", "cache", "figures", "data", "home"):
        (root / sub).mkdir()
    _smoke_notebook(root / "notebooks")
    port = _free_port()
    env = {
        **os.environ,
        "PLASTICITY_CACHE_DIR": str(root / "cache"),
        "PLASTICITY_FIGURES_DIR": str(root / "figures"),
        "PLASTICITY_DATA_DIR": str(root / "data"),
        "JUPYTER_CONFIG_DIR": str(root / "home" / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "home" / "runtime"),
    }
    env.pop(paths._ENV["executed"], None)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root / 'notebooks'}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as r:
                json.load(r)
                break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
    if proc.poll() is not None:
        pytest.fail(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}")
    yield url, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_a_reader_runs_a_chapter_in_jupyterlab_and_the_alpha_slider_changes_the_figure(
    lab,
    chromium,  # noqa: F811
):
    from playwright.sync_api import sync_playwright

    url, root = lab
    start = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/{CHAPTER}.ipynb?token={TOKEN}", wait_until="load")
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=120_000)  # fmt: skip
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+C")
        page.keyboard.type("Run All Cells")
        page.keyboard.press("Enter")
        slider = page.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle").first
        slider.wait_for(timeout=600_000)
        figure = page.locator(".widget-output img").first
        figure.wait_for(timeout=600_000)
        before = figure.get_attribute("src")
        label = page.locator(".widget-readout").first.inner_text()
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "src => { const i = document.querySelector('.widget-output img');"
            " return i && i.getAttribute('src') !== src; }",
            arg=before,
            timeout=600_000,
        )
        after = page.locator(".widget-readout").first.inner_text()
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t]
        browser.close()
    assert label == "0.35" and after == "0.5", (label, after)
    assert not tracebacks, tracebacks[0][-2000:]
    print(f"JupyterLab browser test: {time.monotonic() - start:.1f} s")
