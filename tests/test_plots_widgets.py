"""Figures, tables and the manifest; sliders that degrade to one static call."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from plasticity.book import plots, widgets  # noqa: E402
from plasticity.book.chapter import Chapter  # noqa: E402
from plasticity.foundations import progress
from plasticity.foundations.manifest import read_manifest

REAL = {"name": "cifar10", "fingerprint": "6dbea93a8dad4997"}
FAKE = {"name": "synthetic-cifar10", "fingerprint": "synthetic"}


def test_save_figure_and_table_write_files_and_manifest_entries(isolated):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = plots.save_figure(fig, "01_base_model", "curve", profile="quick", datasets=[REAL])
    csv = plots.save_table(
        pd.DataFrame({"a": [1, 2]}), "01_base_model", "numbers", profile="quick", datasets=[REAL]
    )
    assert png == isolated["figures"] / "01_base_model" / "curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(csv)["a"].tolist() == [1, 2]
    manifest = json.loads((isolated["figures"] / "MANIFEST.json").read_text())["files"]
    entry = manifest["01_base_model/curve.png"]
    assert entry["chapter"] == "01_base_model" and entry["profile"] == "quick"
    assert entry["datasets"] == [REAL] and entry["synthetic"] is False
    assert entry["commit"] and entry["utc"].endswith("+00:00")
    assert manifest["01_base_model/numbers.csv"]["kind"] == "table"


def test_synthetic_figures_are_stamped():
    fig, _ = plt.subplots()
    plots.save_figure(fig, "ch", "fake", profile="smoke", datasets=[FAKE])
    assert any(t.get_text() == "synthetic data" for t in fig.texts)
    assert read_manifest()["files"]["ch/fake.png"]["synthetic"] is True


def test_bad_names_are_rejected():
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="plain names"):
        plots.save_figure(fig, "ch", "a/b", profile="smoke")


def test_explore_headless_calls_the_function_once_with_slider_values():
    calls = []

    def draw(alpha, steps, title):
        calls.append((alpha, steps, title))
        fig, ax = plt.subplots()
        ax.set_title(title)
        return fig

    out = widgets.explore(
        draw,
        widgets.Slider("alpha", 0.0, 0.5, 0.05, 0.35),
        widgets.Slider("steps", 10, 100, 10, 50),
        headless=True,
        title="t",
    )
    assert calls == [(0.35, 50, "t")]
    assert out.axes[0].get_title() == "t"


def test_explore_live_builds_sliders(monkeypatch):
    monkeypatch.setenv("PLASTICITY_HEADLESS", "0")
    calls = []

    def draw(alpha):
        calls.append(alpha)
        return plt.figure()

    widget = widgets.explore(draw, widgets.Slider("alpha", 0.0, 0.5, 0.05, 0.2))
    slider = widget.children[0].children[0]
    assert (slider.min, slider.max, slider.value) == (0.0, 0.5, 0.2)
    assert slider.style.description_width == "initial"
    widget.runner.wait(10)
    slider.value = 0.3
    widget.runner.wait(10)
    assert calls == [0.2, pytest.approx(0.3)]
    assert "0.3" in widget.children[1].value and len(widget.children[2].outputs) == 1


def test_a_live_slider_draws_its_first_figure_before_the_cell_ends(monkeypatch):
    """Under Run All the next cell starts as soon as this one returns: the first frame
    must be complete by then, drawn on the main thread (no worker running)."""
    import threading

    monkeypatch.setenv("PLASTICITY_HEADLESS", "0")
    plt.close("all")
    threads = []

    def draw(alpha):
        threads.append(threading.current_thread() is threading.main_thread())
        return plt.figure()

    widget = widgets.explore(draw, widgets.Slider("alpha", 0.0, 0.5, 0.05, 0.2))
    assert threads == [True]
    assert len(widget.children[2].outputs) == 1  # already drawn, nothing pending
    assert widget.runner._worker is None
    assert "showing alpha = 0.2" in widget.children[1].value
    assert plt.get_fignums() == []  # no open figure left for another cell to flush


def test_slider_releases_during_a_computation_run_only_the_newest_value():
    import threading
    import time

    started, release = threading.Event(), threading.Event()
    seen, statuses = [], []

    def slow(values):
        seen.append(values["alpha"])
        started.set()
        release.wait(10)
        return values["alpha"]

    shown = []
    runner = widgets.LatestRunner(slow, shown.append, statuses.append)
    runner.submit({"alpha": 0.1})
    assert started.wait(10)
    assert statuses[0] == "computing alpha = 0.1 ..."  # visible from the first moment
    for a in (0.2, 0.3, 0.4):  # released while 0.1 is computing
        runner.submit({"alpha": a})
    time.sleep(0.05)
    release.set()
    runner.wait(10)
    assert seen == [0.1, 0.4] and shown == [0.1, 0.4]
    assert statuses[-1] == "showing alpha = 0.4"


def test_an_error_in_a_live_computation_is_shown_not_raised():
    statuses = []
    runner = widgets.LatestRunner(lambda v: 1 / 0, lambda r: None, statuses.append)
    runner.submit({"alpha": 0.5})
    runner.wait(10)
    assert statuses[-1].startswith("alpha = 0.5: ZeroDivisionError")


def test_chapter_records_the_data_it_used(isolated):
    ch = Chapter("00_test", "smoke", headless=True)
    ds = ch.dataset("cifar100")
    assert ds.synthetic and ds.num_classes == 100
    fig, _ = plt.subplots()
    ch.save_figure(fig, "x")
    entry = read_manifest()["files"]["00_test/x.png"]
    assert entry["datasets"] == [{"name": "synthetic-cifar100", "fingerprint": "synthetic"}]
    assert "smoke" in ch.summary() and "synthetic CIFAR-100" in ch.summary()


def test_no_progress_bars_from_a_slider_worker_thread():
    import threading

    seen = []
    worker = threading.Thread(target=lambda: seen.append(progress.progress_bars(True)))
    worker.start()
    worker.join()
    assert seen == [False]
    assert progress.progress_bars(True) is True and progress.progress_bars(False) is False


def test_a_static_slider_renders_one_frame_per_grid_value_and_no_other(monkeypatch):
    import base64

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, kw)))
    calls = []

    def draw(alpha):
        calls.append(alpha)
        fig, ax = plt.subplots()
        ax.set_title(f"{alpha:g}")
        return fig

    s = widgets.slider("alpha", 0.35, grid=[0.2, 0.1])
    assert s.values == [0.1, 0.2, 0.35]
    fig = widgets.explore(draw, s, headless=True)
    assert calls == [0.1, 0.2, 0.35] and fig.axes[0].get_title() == "0.35"
    ((bundle, kw),) = shown
    assert kw == {"raw": True}
    html = bundle["text/html"]
    # the default frame is also the output's PNG, for viewers that show no HTML
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and base64.b64encode(png).decode() in html
    assert html.count("<img ") == 3 and html.count(" hidden>") == 2
    assert 'data-value="0.35" alt="figure at alpha = 0.35">' in html  # the visible frame
    assert 'min="0" max="2" step="1" value="2"' in html
    assert "precomputed at alpha in {0.1, 0.2, 0.35}" in html
    live = s.widget()
    assert [v for _, v in live.options] == [0.1, 0.2, 0.35] and live.value == 0.35


def test_static_slider_limits():
    with pytest.raises(ValueError, match="1 to 12"):
        widgets.Slider("alpha", 0.0, 1.0, 0.01, 0.0, grid=tuple(i / 20 for i in range(13)))
    with pytest.raises(ValueError, match="not on its grid"):
        widgets.Slider("alpha", 0.0, 1.0, 0.01, 0.3, grid=(0.1, 0.2))
    with pytest.raises(ValueError, match="1 to 12"):
        widgets.static_slider_html("alpha", [(i / 20, b"") for i in range(13)], 0.0)
