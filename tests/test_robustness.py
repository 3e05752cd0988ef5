"""Nothing a reader does damages the book: committed results, pages, manifest, cache."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pandas as pd
import pytest
import torch
from plasticity import data as pdata
from plasticity import sovereign
from plasticity.book import plots, runner, site
from plasticity.book.chapter import Chapter
from plasticity.engine import cache, sovereign_runs
from plasticity.foundations import paths, progress
from plasticity.foundations.checks import ParameterError
from plasticity.foundations.manifest import read_manifest

REAL = [{"name": "cifar10", "fingerprint": "abc123"}]
SYNTHETIC = [{"name": "cifar10", "fingerprint": "synthetic"}]


def _vshape_table(folder: Path, value: float, *, synthetic: bool) -> Path:
    """Save ``02_lazarus_vshape/vshape.csv`` from real (quick) or synthetic (smoke) data."""
    return plots.save_table(
        pd.DataFrame({"a": [value]}),
        "02_lazarus_vshape",
        "vshape",
        profile="smoke" if synthetic else "quick",
        datasets=SYNTHETIC if synthetic else REAL,
        figures_dir=folder,
    )


def _real_results(folder: Path) -> Path:
    return _vshape_table(folder, 1.0, synthetic=False)


# ------------------------------------------------------------------ committed results


def test_a_smoke_chapter_with_default_folders_writes_to_scratch(monkeypatch):
    monkeypatch.delenv("PLASTICITY_FIGURES_DIR")
    monkeypatch.delenv("PLASTICITY_EXECUTED_DIR")
    smoke = Chapter("02_lazarus_vshape", "smoke")
    assert smoke.figures_dir == paths.project_root() / "build" / "smoke" / "figures"
    assert paths.executed_dir(scratch="smoke") == paths.project_root() / "build/smoke/executed"
    # a real-data profile also writes to scratch unless the run publishes
    quick = paths.project_root() / "build" / "quick" / "figures"
    assert Chapter("02_lazarus_vshape", "quick").figures_dir == quick
    monkeypatch.setenv(paths.PUBLISH_ENV, "1")
    assert paths.figures_dir(scratch="quick") == paths.project_root() / "figures"


def test_a_synthetic_run_refuses_to_replace_real_results_before_any_compute(isolated):
    folder = isolated["figures"]
    path = _real_results(folder)
    before = path.read_bytes()
    with pytest.raises(plots.RealResultsError, match="PLASTICITY_FIGURES_DIR"):
        Chapter("02_lazarus_vshape", "smoke", figures_dir=folder)
    with pytest.raises(plots.RealResultsError, match="on purpose"):
        _vshape_table(folder, 2.0, synthetic=True)
    assert path.read_bytes() == before
    assert read_manifest(folder)["files"]["02_lazarus_vshape/vshape.csv"]["profile"] == "quick"
    Chapter("03_lazarus_recovery_curve", "smoke", figures_dir=folder)  # other chapters: fine


def test_replacing_real_results_on_purpose(isolated, monkeypatch):
    folder = isolated["figures"]
    path = _real_results(folder)
    monkeypatch.setenv(plots.OVERWRITE_ENV, "1")
    _vshape_table(folder, 2.0, synthetic=True)
    assert "2.0" in path.read_text()
    assert read_manifest(folder)["files"]["02_lazarus_vshape/vshape.csv"]["synthetic"]


def test_book_run_with_a_synthetic_profile_refuses_a_real_figures_folder(isolated, monkeypatch):
    _real_results(isolated["figures"])
    ran = []
    monkeypatch.setattr(runner, "execute", lambda *a, **k: ran.append(a))
    with pytest.raises(ParameterError, match="real data"):
        runner.run("smoke", only=["02"], log=lambda *a, **k: None)
    assert ran == []


def _save_many(folder: str, prefix: str, n: int) -> None:
    for i in range(n):
        plots.save_table(
            pd.DataFrame({"i": [i]}),
            f"{prefix}",
            f"t{i:03d}",
            profile="smoke",
            datasets=SYNTHETIC,
            figures_dir=folder,
        )


def test_concurrent_writers_lose_no_manifest_entries(isolated):
    folder = str(isolated["figures"])
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_save_many, args=(folder, p, 150)) for p in ("aa", "bb")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert len(read_manifest(folder)["files"]) == 300


# ------------------------------------------------------------------------ atomic pages


def _notebook(statuses: list[str], *, papermill: bool = True, exception: bool = False) -> dict:
    cells = [
        {
            "cell_type": "code",
            "metadata": {"papermill": {"status": s}} if papermill else {},
            "source": "1",
            "outputs": [],
            "execution_count": None,
        }
        for s in statuses
    ]
    meta = {"papermill": {"exception": exception}} if papermill else {}
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize(
    ("statuses", "kwargs", "problem"),
    [
        (["completed", "completed"], {}, None),
        (["completed", "running", "pending"], {}, "2 of 3 code cells did not complete"),
        (["completed", "failed"], {"exception": True}, "raised an exception"),
        (["completed"], {"papermill": False}, "not executed by papermill"),
    ],
)
def test_execution_problem(tmp_path, statuses, kwargs, problem):
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(_notebook(statuses, **kwargs)))
    found = runner.execution_problem(path)
    assert found is None if problem is None else problem in found


def test_the_site_refuses_a_half_executed_page(tmp_path):
    chapters = runner.chapters()
    (tmp_path / "myst.yml").write_text(
        "version: 1\nproject:\n  toc:\n"
        + "".join(f"    - file: executed/{c.stem}.ipynb\n" for c in chapters)
    )
    (tmp_path / "executed").mkdir()
    for c in chapters:
        statuses = ["completed", "running"] if c.number == "03" else ["completed"]
        (tmp_path / "executed" / f"{c.stem}.ipynb").write_text(json.dumps(_notebook(statuses)))
    with pytest.raises(site.SiteError, match=r"03_lazarus_recovery_curve\.ipynb: 1 of 2"):
        site.check_sources(tmp_path, chapters)


def _chapter(folder: Path, body: str) -> runner.ChapterFile:
    import jupytext

    source = folder / "99_probe.py"
    source.write_text(
        "# %% [markdown]\n# # Probe\n\n# %% tags=['parameters']\nprofile = 'smoke'\n"
        "headless = False\ndata_dir = None\nfigures_dir = None\n\n# %%\n" + body + "\n"
    )
    jupytext.write(jupytext.read(source), source.with_suffix(".ipynb"))
    return runner.ChapterFile("99", "99_probe", source)


def test_a_failed_chapter_keeps_the_previous_page_and_leaves_the_failure_beside_it(tmp_path):
    out = tmp_path / "executed"
    good = _chapter(tmp_path, "print('fine')")
    page = runner.execute(good, profile="smoke", output_dir=out, progress=False)
    assert runner.execution_problem(page) is None
    before = page.read_bytes()
    bad = _chapter(tmp_path, "raise RuntimeError('boom')")
    with pytest.raises(runner.BookError, match="previous page"):
        runner.execute(bad, profile="smoke", output_dir=out, progress=False)
    assert page.read_bytes() == before
    failed = runner.failed_path(page)
    assert "boom" in failed.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["99_probe.failed.ipynb", "99_probe.ipynb"]
    good = _chapter(tmp_path, "print('fine again')")
    runner.execute(good, profile="smoke", output_dir=out, progress=False)
    assert not failed.exists()


def test_cache_warnings_reach_the_command_line(tmp_path):
    nb = _notebook(["completed"])
    nb["cells"][0]["outputs"] = [
        {
            "output_type": "stream",
            "name": "stderr",
            "text": ["UserWarning: cache entry /c/x is unusable (no result); recomputing\n"],
        }
    ]
    path = tmp_path / "01.ipynb"
    path.write_text(json.dumps(nb))
    assert runner.warnings_in(path) == [
        "UserWarning: cache entry /c/x is unusable (no result); recomputing"
    ]


# ------------------------------------------------------------------------------ cache


def _compute(calls):
    def compute():
        calls.append(1)
        return {"w": torch.ones(2)}, {"acc": 1.0}

    return compute


def test_an_entry_without_its_result_is_recomputed():
    calls = []
    first = cache.train_or_load("toy", {"a": 1}, _compute(calls), version="v1")
    meta = json.loads((first.path / "result.json").read_text())
    del meta["result"]
    (first.path / "result.json").write_text(json.dumps(meta))
    assert not [r for r in cache.list_entries() if r["verified"]]
    with pytest.warns(UserWarning, match="no result"):
        again = cache.train_or_load("toy", {"a": 1}, _compute(calls), version="v1")
    assert not again.hit and len(calls) == 2 and again.result == {"acc": 1.0}


def test_cache_ls_verifies_digests():
    first = cache.train_or_load("toy", {"a": 2}, _compute([]), version="v1")
    assert [r["verified"] for r in cache.list_entries()] == [True]
    model = first.path / "model.safetensors"
    model.write_bytes(model.read_bytes()[:-3])
    assert [r["verified"] for r in cache.list_entries()] == [False]


def test_a_corrupt_evolution_checkpoint_is_not_resumed_from(tmp_path):
    ds = pdata.synthetic_dataset("cifar100", 300, 100)
    config = sovereign.SovereignConfig(
        cycles=2,
        epochs_per_cycle=1,
        curriculum=((1, 100),),
        warmup=0,
        val_size=50,
        report_test_size=50,
    )
    data = sovereign.SovereignData.from_dataset(ds, config.val_size)
    kw = {"cache_dir": tmp_path, "chains": ("blind",)}
    full = sovereign_runs.evolve(data, config, 0, **kw)
    run_dir = sovereign_runs.run_dir_for(config, 0, data, tmp_path, ("blind",))
    (run_dir / "result.json").unlink()
    weights = run_dir / "cycle_02.safetensors"
    state = json.loads((run_dir / "cycle_02.json").read_text())
    weights.write_bytes(b"not a safetensors file")
    import hashlib

    state["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (run_dir / "cycle_02.json").write_text(json.dumps(state))
    with pytest.warns(UserWarning, match="unusable"):
        again = sovereign_runs.evolve(data, config, 0, **kw)
    assert again["benchmark"] == full["benchmark"]


# ------------------------------------------------------------------ parameters, headless


def test_one_range_per_parameter_for_the_check_and_the_slider():
    from plasticity.book import widgets

    for name, (low, high, step) in widgets.PARAMETERS.items():
        s = widgets.slider(name, low)
        assert (s.min, s.max, s.step) == (low, high, step)
        with pytest.raises(ParameterError, match=name):
            widgets.check_parameter(name, high + step)
        with pytest.raises(ParameterError, match=name):
            widgets.slider(name, high + step)
    with pytest.raises(ParameterError, match="alpha"):
        widgets.check_parameter("alpha", 0.7)
    with pytest.raises(ParameterError, match="shock_threshold"):
        widgets.check_parameter("shock_threshold", 25)


def test_out_of_range_values_are_rejected_before_any_file_is_written(isolated):
    from plasticity.book import widgets

    source = Path(paths.notebooks_dir() / "09_sovereign_evolution.py").read_text()
    first_code = source.split("# %%\n", 2)[1]
    check_at = first_code.index('check_parameter("shock_threshold"')
    assert check_at < first_code.index("Chapter(")
    with pytest.raises(ParameterError):
        widgets.check_parameter("shock_threshold", 25)
    assert list(isolated["figures"].iterdir()) == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, True),
        ({"JPY_SESSION_NAME": "/x/02.ipynb"}, False),
        ({"PLASTICITY_HEADLESS": "1", "JPY_SESSION_NAME": "x"}, True),
        ({"PLASTICITY_HEADLESS": "0"}, False),
    ],
)
def test_headless_is_detected_when_no_front_end_started_the_kernel(monkeypatch, env, expected):

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert progress.is_headless(None) is expected
    assert progress.is_headless(False) is False and progress.is_headless(True) is True


def test_an_unknown_injected_parameter_is_an_error():
    from plasticity.book.chapter import check_injected_parameters

    params = 'profile = "quick"\nalpha = 0.35\nheadless = None  # detected\n'
    check_injected_parameters([params, "# Parameters\nalpha = 0.2\n", "x = 1"])
    with pytest.raises(ParameterError, match=r"'prune'.*takes alpha, headless, profile"):
        check_injected_parameters([params, '# Parameters\nprune = 1.5\nprofile = "smoke"\n'])
    check_injected_parameters(["x = 1", "y = 2"])  # no papermill cell: nothing to check


def test_every_chapter_declares_auto_headless_and_reads_declared_ranges():
    for chapter in runner.chapters():
        source = chapter.path.read_text()
        assert "\nheadless = None" in source, chapter.stem
        assert "Slider(" not in source, chapter.stem


PROBE = """
import matplotlib.pyplot as plt
from plasticity.book.chapter import Chapter
from plasticity.book.widgets import explore, slider

ch = Chapter("99_probe", profile, figures_dir=figures_dir, headless=headless)


def draw(alpha):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, alpha])
    return fig


fig = explore(draw, slider("alpha", 0.35), headless=ch.headless)
if ch.headless:
    ch.save_figure(fig, "probe")
"""


def test_plain_papermill_writes_the_figures_and_refuses_unknown_parameters(tmp_path, isolated):
    import papermill as pm

    chapter = _chapter(tmp_path, PROBE.replace("headless = False", ""))
    source = chapter.notebook.read_text().replace("headless = False", "headless = None")
    chapter.notebook.write_text(source)
    pm.execute_notebook(
        str(chapter.notebook),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        language="python",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    assert (isolated["figures"] / "99_probe" / "probe.png").is_file()
    with pytest.raises(pm.PapermillExecutionError, match="unknown parameter"):
        pm.execute_notebook(
            str(chapter.notebook),
            str(tmp_path / "bad.ipynb"),
            parameters={"prune": 1.5},
            kernel_name="python3",
            language="python",
            progress_bar=False,
            cwd=str(tmp_path),
        )


# ---------------------------------------------------------------------------- archives


def _tiny_archive(tmp_path, suffix=".tar.xz", **kw) -> Path:
    from tests.conftest import make_archive

    path = tmp_path / f"cifar10{suffix}"
    make_archive(path, **kw)
    return path


@pytest.mark.parametrize("suffix", [".tar.xz", ".tar", ".zip"])
def test_a_truncated_archive_is_a_named_error(tmp_path, suffix):
    path = _tiny_archive(tmp_path, suffix, per_class={"train": 20, "test": 10})
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * 0.6)])
    with pytest.raises(pdata.ArchiveError, match=r"cifar10.*(truncated|not a readable)"):
        pdata.import_archive(path)


def test_a_corrupt_image_names_its_member(tmp_path, monkeypatch):
    from tests import conftest

    real = conftest.image_bytes

    def broken(pixels, fmt):
        payload = real(pixels, fmt)
        return payload[:20] if pixels[0, 0, 2] == 10 else payload  # index 1 of each class

    monkeypatch.setattr(conftest, "image_bytes", broken)
    path = _tiny_archive(tmp_path, ".tar")
    with pytest.raises(
        pdata.ArchiveError, match=r"member cifar10/\w+/\w+/0001\.png is not a readable"
    ):
        pdata.import_archive(path)


def _png_claiming(width: int, height: int) -> bytes:
    """A valid small PNG whose header claims ``width`` x ``height`` pixels."""
    import struct
    import zlib

    import numpy as np

    from tests.conftest import image_bytes

    png = bytearray(image_bytes(np.zeros((32, 32, 3), np.uint8), "PNG"))
    ihdr = png[12:29]  # b"IHDR" + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    png[12:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(png)


def test_a_decompression_bomb_is_refused_before_decoding_in_bounded_memory(tmp_path):
    import io
    import subprocess
    import sys
    import tarfile

    path = _tiny_archive(tmp_path, ".tar")
    bomb = _png_claiming(9000, 9000)  # 243 MB of pixels if decoded, below PIL's own guard
    with tarfile.open(path, "a") as tf:
        info = tarfile.TarInfo("cifar10/train/airplane/9999.png")
        info.size = len(bomb)
        tf.addfile(info, io.BytesIO(bomb))
    script = (
        "import resource, sys\n"
        "from plasticity import data\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        f"    data.import_archive({str(path)!r}, {str(tmp_path / 'd')!r})\n"
        "except data.ArchiveError as exc:\n"
        "    print('ERROR', exc)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print('GROWTH_KB', after - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    out = done.stdout + done.stderr
    assert "ERROR" in out and "9999.png is 9000x9000 pixels, not 32x32" in out
    growth_mb = int(out.split("GROWTH_KB")[1]) / 1024
    print(f"peak memory growth during the import: {growth_mb:.1f} MB (cap 64 MB)")
    assert growth_mb < 64


def test_oversized_members_and_too_many_members_are_refused(tmp_path, monkeypatch):
    import io
    import tarfile

    path = _tiny_archive(tmp_path, ".tar")
    with tarfile.open(path, "a") as tf:
        info = tarfile.TarInfo("cifar10/train/airplane/big.png")
        info.size = pdata.MAX_MEMBER_BYTES + 1
        tf.addfile(info, io.BytesIO(b"\0" * info.size))
    with pytest.raises(pdata.ArchiveError, match="big.png is .* bytes"):
        pdata.import_archive(path)
    from plasticity.data import archive

    monkeypatch.setattr(archive, "MAX_ARCHIVE_MEMBERS", 10)
    (tmp_path / "many").mkdir()
    with pytest.raises(pdata.ArchiveError, match=r"more than 10 entries|declares \d+ entries"):
        pdata.import_archive(_tiny_archive(tmp_path / "many", ".zip"))
