"""JupyterLab in a real browser: a reader opens a chapter, runs it and moves a slider.

Starts JupyterLab (the project's own environment) on a copy of chapter 2 set to the
smoke profile, opens it in headless Chromium through Playwright, runs every cell,
presses the right arrow on the alpha slider and checks that the figure changed. A second
copy, chapter 1 at its default profile with no data and no internet, must show how to
get the data in its first cell after the parameters, with no traceback. Needs Chromium
like the site tests (skipped without it unless ``PLASTICITY_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from plasticity.book import launch
from plasticity.engine.profiles import get_profile
from plasticity.foundations import paths
from plasticity.science import experiments

from .test_site import CHROMIUM_FLAGS, chromium  # noqa: F401 - the fixture

CHAPTER = "02_lazarus_vshape"
NO_DATA_CHAPTER = "01_base_model"
TOKEN = "plasticity-test"
DEAD_PROXY = "http://127.0.0.1:9"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(folder: Path, chapter: str, profile: str | None = None) -> Path:
    """``chapter`` as a notebook, its parameters cell set to ``profile`` (default: the
    chapter's own, the published book's), with the kernel named up front (JupyterLab asks for one
    otherwise, and Run All waits)."""
    import jupytext

    nb = jupytext.read(paths.project_root() / "notebooks" / f"{chapter}.py")
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert re.search(r'^profile = "full"', cell.source, re.M)  # the published profile
    if profile:
        cell.source = re.sub(r"^profile = .*$", f'profile = "{profile}"', cell.source, flags=re.M)
    nb.metadata["kernelspec"] = dict(launch.KERNELSPEC)
    target = folder / f"{chapter}.ipynb"
    jupytext.write(nb, target)
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    for sub in ("notebooks", "cache", "figures", "data", "home"):
        (root / sub).mkdir()
    _notebook(root / "notebooks", CHAPTER, "smoke")
    _notebook(root / "notebooks", NO_DATA_CHAPTER)
    port = _free_port()
    env = {
        **os.environ,
        "PLASTICITY_CACHE_DIR": str(root / "cache"),
        "PLASTICITY_FIGURES_DIR": str(root / "figures"),
        "PLASTICITY_DATA_DIR": str(root / "data"),
        "JUPYTER_CONFIG_DIR": str(root / "home" / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "home" / "runtime"),
        # no internet for the kernel: a CIFAR download fails at once instead of waiting
        **dict.fromkeys(("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"), DEAD_PROXY),
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop(paths._ENV["executed"], None)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root / 'notebooks'}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
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


@pytest.fixture(scope="module")
def browser(chromium):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def _run_all(browser, url: str, chapter: str):
    """Open ``chapter`` in JupyterLab, wait for its kernel, and Run All as a reader does."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # ?reset: a fresh workspace, not the tabs a previous test left open
    page.goto(f"{url}/lab/tree/{chapter}.ipynb?reset&token={TOKEN}", wait_until="load")
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    page.wait_for_function(
        "path => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.context && w.context.path === path && w.sessionContext.session"
        " && w.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }",
        arg=f"{chapter}.ipynb",
        timeout=180_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def test_a_reader_runs_a_chapter_in_jupyterlab_and_the_alpha_slider_changes_the_figure(
    lab, browser
):
    url, _ = lab
    start = time.monotonic()
    page = _run_all(browser, url, CHAPTER)
    slider = page.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle").first
    slider.wait_for(timeout=600_000)
    figure = page.locator(".widget-output img").first
    figure.wait_for(timeout=600_000)
    before = figure.get_attribute("src")
    label = page.locator(".widget-readout").first.text_content()
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "src => { const i = document.querySelector('.widget-output img');"
        " return i && i.getAttribute('src') !== src; }",
        arg=before,
        timeout=600_000,
    )
    after = page.locator(".widget-readout").first.text_content()
    text = page.inner_text(".jp-Notebook")
    page.close()
    grid = experiments.slider_grid("curve", get_profile("smoke"), 0)
    step = grid[grid.index(0.35) + 1]
    assert float(label) == 0.35 and float(after) == step, (label, after, grid)
    assert "Traceback" not in text
    print(f"JupyterLab, run a chapter and move the slider: {time.monotonic() - start:.1f} s")


def test_a_reader_without_data_sees_how_to_get_it_in_the_first_cell_not_a_traceback(lab, browser):
    import jupytext

    url, _ = lab
    page = _run_all(browser, url, NO_DATA_CHAPTER)
    failing = page.locator(".jp-CodeCell", has_text="is not available")
    failing.first.wait_for(timeout=300_000)
    position = page.evaluate(
        "() => [...document.querySelectorAll('.jp-CodeCell')]"
        ".findIndex(c => c.textContent.includes('is not available'))"
    )
    message = failing.first.locator(".jp-OutputArea-output").text_content()
    text = page.inner_text(".jp-Notebook")
    page.close()
    nb = jupytext.read(paths.project_root() / "notebooks" / f"{NO_DATA_CHAPTER}.py")
    code = [c for c in nb.cells if c.cell_type == "code"]
    parameters = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    assert position == parameters + 1  # the first cell after the parameters
    assert "DataUnavailableError" in message and "python -m plasticity data import" in message
    assert "Traceback" not in text
