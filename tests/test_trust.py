"""What the book trusts from outside: results packs, published pages, output folders.

A pack is read within bounds and checked entry by entry before the cache changes; a
published page's HTML and Markdown are sanitised and its figure references stay inside
``figures/``; ``site build`` replaces only a folder it made; pages are written whole or
not at all; a run that does not publish never writes the published book.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest
import torch
from plasticity.book import chapter as chapter_mod
from plasticity.book import publish, runner, site
from plasticity.engine import cache, results
from plasticity.foundations import paths
from plasticity.foundations.archives import ArchiveError, Limits, tar_members
from plasticity.foundations.checks import ParameterError

# ------------------------------------------------------------------ pack helpers


def _entry(kind: str, config: dict, result: dict, version: str = "1") -> tuple[str, bytes]:
    key = cache.cache_key(kind, config, version)
    meta = {"format": 1, "kind": kind, "config": config, "version": version, "result": result}
    return f"{kind}/{key}/result.json", json.dumps(meta).encode()


def _pack(path: Path, members: list[tuple[str, bytes]], datasets=None) -> Path:
    header = {"format": 1, "datasets": datasets or []}
    with tarfile.open(path, "w:xz") as tar:
        for name, payload in [(results.HEADER, json.dumps(header).encode()), *members]:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def _cache_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("result.json")) if folder.exists() else []


# ------------------------------------------------------------------ pack contents


def test_an_entry_filed_under_another_runs_key_is_refused(tmp_path):
    name, payload = _entry("toy", {"seed": 0}, {"acc": 50.0})
    meta = json.loads(payload)
    meta["config"]["seed"] = 99  # the seed-99 run under seed 0's key
    pack = _pack(tmp_path / "p.tar.xz", [(name, json.dumps(meta).encode())])
    with pytest.raises(results.PackError, match="not the hash of the configuration"):
        results.import_pack(pack, cache_dir=tmp_path / "c")
    assert _cache_files(tmp_path / "c") == []


@pytest.mark.parametrize(
    "result, match",
    [
        ({"test_accuracy": float("nan")}, "percentage"),
        ({"test_accuracy": 1e308}, "percentage"),
        ({"test_accuracy": 172.9}, "percentage"),
        ({"steps": 1e300}, "beyond any number"),
    ],
)
def test_a_result_out_of_range_is_refused(tmp_path, result, match):
    good = _entry("toy", {"seed": 1}, {"test_accuracy": 70.0})
    bad = _entry("toy", {"seed": 0}, result)
    pack = _pack(tmp_path / "p.tar.xz", [good, bad])
    with pytest.raises(results.PackError, match=match):
        results.import_pack(pack, cache_dir=tmp_path / "c")
    assert _cache_files(tmp_path / "c") == []  # the good entry before it was not written


def test_an_infinite_number_is_refused_and_nan_is_kept_where_undefined(tmp_path):
    text = json.dumps({"format": 1, "kind": "toy", "config": {"seed": 0}, "version": "1"})
    name = _entry("toy", {"seed": 0}, {})[0]
    inf = text[:-1] + ', "result": {"recovery_pct": Infinity}}'
    with pytest.raises(results.PackError, match="Infinity"):
        results.import_pack(
            _pack(tmp_path / "a.tar.xz", [(name, inf.encode())]), cache_dir=tmp_path / "c"
        )
    nan = text[:-1] + ', "result": {"recovery_pct": NaN}}'
    got = results.import_pack(
        _pack(tmp_path / "b.tar.xz", [(name, nan.encode())]), cache_dir=tmp_path / "c"
    )
    assert got["imported"] == 1


@pytest.mark.parametrize("train", [2_000_000_000, -5, "50000", True])
def test_a_dataset_record_of_impossible_size_is_refused(tmp_path, train):
    record = {"name": "cifar100", "fingerprint": "8d76b15d6da9f080", "train": train, "test": 10}
    pack = _pack(tmp_path / "p.tar.xz", [_entry("toy", {"seed": 0}, {})], [record])
    with pytest.raises(results.PackError, match="train"):
        results.import_pack(pack, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / results.RECORDS_FILE).exists()


def test_a_deeply_nested_record_is_refused_without_recursion(tmp_path):
    name = _entry("toy", {"seed": 0}, {})[0]
    deep = '{"format": 1, "kind": "toy", "result": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(results.PackError, match=name.split("/")[0]):
        results.import_pack(
            _pack(tmp_path / "p.tar.xz", [(name, deep.encode())]), cache_dir=tmp_path / "c"
        )


# ------------------------------------------------------------------ pack bounds

_PROBE = textwrap.dedent(
    """
    import json, sys
    from plasticity.engine import results

    def peak_kb():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    base = peak_kb()
    error = None
    try:
        results.import_pack(sys.argv[1], cache_dir=sys.argv[2])
    except results.PackError as exc:
        error = str(exc)
    print(json.dumps({"error": error, "peak_kb": peak_kb(), "base_kb": base}))
    """
)


def _import_in_child(pack: Path, cache_dir: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(paths.project_root() / "lib")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(pack), str(cache_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


#: What a refused pack bomb may add to the importing process's peak memory (KiB).
BOMB_MARGIN_KB = 96 * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_pack_of_huge_json_members_is_refused_within_a_memory_bound(tmp_path):
    # 64 MB of "[{},{},...]" in one member: parsing it would take gigabytes
    blob = b"[" + b"{}," * (21 << 20) + b"{}]"
    name = _entry("toy", {"seed": 0}, {})[0]
    pack = _pack(tmp_path / "bomb.tar.xz", [(name, blob)])
    assert pack.stat().st_size < 1 << 20
    got = _import_in_child(pack, tmp_path / "c")
    assert got["error"] and "bytes" in got["error"]
    assert got["peak_kb"] - got["base_kb"] < BOMB_MARGIN_KB
    assert _cache_files(tmp_path / "c") == []


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE])
def test_a_huge_header_record_in_a_pack_is_refused_before_it_is_read(tmp_path, kind):
    from .test_safety import _header_bomb  # the data archives' bomb, as a pack

    pack = tmp_path / "hdr.tar.gz"
    _header_bomb(pack, kind, 64 << 20)
    got = _import_in_child(pack, tmp_path / "c")
    assert got["error"] and "header record" in got["error"]
    assert len(got["error"]) < 2000  # the name is never printed whole
    assert got["peak_kb"] - got["base_kb"] < BOMB_MARGIN_KB


def test_thousands_of_chained_header_records_give_an_archive_error(tmp_path):
    path = tmp_path / "chain.tar"
    with open(path, "wb") as f:
        for _ in range(3000):
            info = tarfile.TarInfo("././@LongLink")
            info.type, info.size = tarfile.GNUTYPE_LONGNAME, 8
            f.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"a" * 8 + b"\0" * 504)
        f.write(b"\0" * 1024)
    limits = Limits(max_members=10, max_member_bytes=100, max_total_bytes=1000)
    with pytest.raises(ArchiveError, match="in a row"):
        list(tar_members(path, limits))
    from plasticity import data

    with pytest.raises(data.ArchiveError, match="in a row"):
        list(data.archive._archive_members(path))


def _many(path: Path, n: int) -> Path:
    return _pack(path, [_entry("toy", {"seed": i}, {"v": float(i)}) for i in range(n)])


def test_import_time_grows_linearly_with_the_entries(tmp_path):
    small, large = _many(tmp_path / "s.tar.xz", 500), _many(tmp_path / "l.tar.xz", 2500)

    def timed(pack, where):
        start = time.perf_counter()
        got = results.import_pack(pack, cache_dir=tmp_path / where)
        return time.perf_counter() - start, got["imported"]

    t_small, n_small = timed(small, "a")
    t_large, n_large = timed(large, "b")
    assert (n_small, n_large) == (500, 2500)
    # 5x the entries: linear time is about 5x; the quadratic listing was about 25x
    assert t_large / t_small < 12, (t_small, t_large)


def test_two_imports_of_one_pack_at_once_both_succeed(tmp_path):
    pack = _many(tmp_path / "p.tar.xz", 200)
    cache_dir = tmp_path / "c"
    code = (
        "import sys; from plasticity.engine import results; "
        "results.import_pack(sys.argv[1], cache_dir=sys.argv[2])"
    )
    env = {**os.environ, "PYTHONPATH": str(paths.project_root() / "lib")}
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(pack), str(cache_dir)],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        rows = cache.list_entries(cache_dir)
        assert len(rows) == 200 and all(r["verified"] for r in rows)
        assert results.recorded_dataset("cifar10", cache_dir) is None  # no record lost
        records = json.loads((cache_dir / results.RECORDS_FILE).read_text())
        assert records == {}
        cache.clear(cache_dir)


# ------------------------------------------------------------------ cache entries


def test_cache_ls_flags_a_garbage_safetensors_header_and_a_missing_digest(tmp_path):
    art = cache.train_or_load(
        "toy", {"seed": 0}, lambda: ({"w": torch.ones(3)}, {}), version="1", cache_dir=tmp_path
    )
    assert cache.entry_problem(art.path) is None
    assert (art.path / cache.MODEL_FILE).stat().st_mode & 0o777 == 0o666 & ~paths.UMASK
    model = art.path / cache.MODEL_FILE
    garbage = (10**12).to_bytes(8, "little") + b"x" * 64
    model.write_bytes(garbage)
    meta = json.loads((art.path / cache.RESULT_FILE).read_text())
    import hashlib

    meta["model_sha256"] = hashlib.sha256(garbage).hexdigest()  # the digest matches
    (art.path / cache.RESULT_FILE).write_text(json.dumps(meta))
    assert "header" in cache.entry_problem(art.path)
    del meta["model_sha256"]
    (art.path / cache.RESULT_FILE).write_text(json.dumps(meta))
    assert "digest" in cache.entry_problem(art.path)


# ------------------------------------------------------------------ published pages


def _hostile_page(tmp_path: Path) -> tuple[dict, Path]:
    figures = tmp_path / "figures"
    (figures / "02_x").mkdir(parents=True)
    (figures / "02_x" / "ok.png").write_bytes(b"\x89PNG fake")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=abc")
    outputs = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {
                "text/html": '<table><tr><td onclick="x()">1</td></tr></table><script>'
                'document.title="pwned"</script><img src=x onerror="alert(1)">'
            },
        },
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"text/markdown": "**bold** <script>alert(1)</script>\n\n```\na < b\n```"},
        },
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"application/javascript": "alert(1)", "text/plain": "js"},
        },
    ]
    for ref in (str(secret), "../secret.txt", "02_x/../../secret.txt", "02_x/ok.png"):
        outputs.append(
            {
                "output_type": "display_data",
                "metadata": {publish.FIGURE_KEY: {"path": ref}},
                "data": {"text/markdown": f"![fig]({ref})"},
            }
        )
    nb = {
        "cells": [{"cell_type": "code", "source": "", "outputs": outputs, "metadata": {}}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return nb, figures


def test_a_hostile_page_is_sanitised_and_reads_no_file_outside_figures(tmp_path):
    nb, figures = _hostile_page(tmp_path)
    restored = publish.restore(nb, figures)
    text = json.dumps(restored)
    assert "<script" not in text and "onerror" not in text and "onclick" not in text
    assert "application/javascript" not in text
    assert "<table>" in text and "**bold**" in text
    assert "a < b" in text  # code fences are kept as written
    embedded = [o for o in restored["cells"][0]["outputs"] if "image/png" in o["data"]]
    assert len(embedded) == 1  # only the figure inside figures/

    assert base64.b64decode(embedded[0]["data"]["image/png"]) == b"\x89PNG fake"
    assert "TOKEN" not in text and "VE9LRU4" not in text  # nor its base64


def test_an_unreadable_published_page_names_its_file(tmp_path):
    page = tmp_path / "12_headlines.ipynb"
    page.write_text("")
    with pytest.raises(publish.PublishError, match="12_headlines.ipynb"):
        publish.restored_notebook(page, tmp_path)


def test_an_interrupted_page_write_keeps_the_previous_page(tmp_path, monkeypatch):
    tmp_path = tmp_path / "pages"
    tmp_path.mkdir()
    page = tmp_path / "p.md"
    page.write_text("old")

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(publish.PublishError, match="p.md"):
        publish.write_atomic(page, "new" * 1000)
    assert page.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["p.md"]


def test_publishing_the_same_numbers_twice_writes_the_same_page():
    html = '<style>#T_ab12c th {}</style><table id="T_ab12c"><tr><td id="T_ab12c_row0_col0">1'
    nb = {"cells": [{"cell_type": "code", "outputs": [{"data": {"text/html": html}}]}]}
    other = json.loads(json.dumps(nb).replace("ab12c", "9f3e1"))
    a, _ = publish.slim(nb, "12_x", Path("/nonexistent"))
    b, _ = publish.slim(other, "12_x", Path("/nonexistent"))
    assert a == b


# ------------------------------------------------------------------ output folders


def test_site_build_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "u"
    (mine / "thesis").mkdir(parents=True)
    (mine / "thesis" / "ch1.tex").write_text("x")
    with pytest.raises(site.SiteError, match="not empty"):
        site.build(out_dir=mine, preview=True, log=lambda *a, **k: None)
    assert (mine / "thesis" / "ch1.tex").read_text() == "x"
    with pytest.raises(site.SiteError, match="book's own files"):
        site.check_out(paths.project_root())
    with pytest.raises(site.SiteError, match="book's own files"):
        site.check_out(paths.project_root().parent)
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(site.SiteError, match="not a folder"):
        site.check_out(file)
    with pytest.raises(site.SiteError):
        site.check_out(Path("/proc/plasticity-site"))
    site.check_out(tmp_path / "new")  # a new folder is fine
    (tmp_path / "empty").mkdir()
    site.check_out(tmp_path / "empty")


def test_site_replaces_only_its_own_output(tmp_path):
    tmp_path = tmp_path / "sites"
    tmp_path.mkdir()
    out, staging = tmp_path / "site", tmp_path / ".site.partial"
    out.mkdir()
    (out / site.SITE_MARK).write_text("")
    (out / "old.html").write_text("old")
    staging.mkdir()
    (staging / "index.html").write_text("new")
    site._replace(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


# ------------------------------------------------------------------ the published book


def test_a_run_that_does_not_publish_writes_scratch(monkeypatch):
    for var in ("PLASTICITY_FIGURES_DIR", "PLASTICITY_EXECUTED_DIR", paths.PUBLISH_ENV):
        monkeypatch.delenv(var, raising=False)
    root = paths.project_root()
    assert paths.figures_dir(scratch="quick") == root / "build" / "quick" / "figures"
    assert paths.executed_dir(scratch="full") == root / "build" / "full" / "executed"
    monkeypatch.setenv(paths.PUBLISH_ENV, "1")
    assert paths.figures_dir(scratch="full") == root / "figures"
    assert paths.executed_dir(scratch="full") == root / "executed"


def test_publish_is_refused_for_synthetic_data_and_other_folders(tmp_path):
    from plasticity.engine.profiles import get_profile

    with pytest.raises(ParameterError, match="synthetic"):
        runner.check_publishable(get_profile("smoke"), replay=False)
    with pytest.raises(ParameterError, match="--figures-dir"):
        runner.check_publishable(get_profile("full"), replay=False, figures_dir=str(tmp_path))


def test_publish_from_a_replay_needs_the_committed_pack_alone(tmp_path, monkeypatch):
    from plasticity.engine.profiles import get_profile

    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(tmp_path / "c"))
    pack = _pack(tmp_path / "other.tar.xz", [_entry("toy", {"seed": 0}, {})])
    results.import_pack(pack)
    with pytest.raises(ParameterError, match="not the committed one"):
        runner.check_publishable(get_profile("full"), replay=True)


@pytest.mark.parametrize("timeout", [-5, 0, 1.5])
def test_a_bad_timeout_is_refused_before_anything_runs(timeout):
    with pytest.raises(ParameterError, match="timeout"):
        runner.run("smoke", timeout=timeout, plan_first=False)


def test_an_output_dir_that_cannot_be_made_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="output_dir"):
        runner.run(
            "smoke",
            output_dir="/dev/null/x",
            figures_dir=str(tmp_path / "f"),
            plan_first=False,
            only=["00"],
        )


def test_the_differences_name_each_moved_cell(tmp_path, monkeypatch):
    published = tmp_path / "published"
    (published / "01_base_model").mkdir(parents=True)
    (published / "01_base_model" / "runs.csv").write_text("seed,acc\n0,70.1\n1,70.5\n")
    (published / "MANIFEST.json").write_text(
        json.dumps({"files": {"01_base_model/runs.csv": {"profile": "full"}}})
    )
    monkeypatch.setattr(paths, "published_figures_dir", lambda: published)
    scratch = tmp_path / "scratch"
    assert chapter_mod.seed_scratch(scratch, "full")
    assert not chapter_mod.seed_scratch(tmp_path / "other", "quick")
    assert runner.differences(scratch, "01_base_model", "full") == []
    (scratch / "01_base_model" / "runs.csv").write_text("seed,acc\n0,72.9\n1,70.5\n")
    lines = runner.differences(scratch, "01_base_model", "full")
    assert "1 table(s) differ" in lines[0] and "row 0 acc: 70.1 -> 72.9" in lines[1]
    assert (published / "01_base_model" / "runs.csv").read_text().endswith("70.5\n")


def test_a_published_slider_keeps_every_frame(tmp_path):
    from plasticity.book.widgets import static_slider_html

    figures = tmp_path / "figs"
    (figures / "02_x").mkdir(parents=True)
    frames = [(0.1, b"\x89PNG a"), (0.2, b"\x89PNG b"), (0.35, b"\x89PNG c")]
    (figures / "02_x" / "vshape.png").write_bytes(b"\x89PNG saved")
    out = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "text/html": static_slider_html("alpha", frames, 0.35),
            "image/png": base64.b64encode(b"\x89PNG c").decode(),
        },
    }
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": 'ch.save_figure(fig, "vshape")',
                "outputs": [out],
                "metadata": {},
            }
        ],
        "metadata": {},
    }
    small, unmatched = publish.slim(nb, "02_x", figures)
    assert unmatched == []
    assert sorted(p.name for p in (figures / "02_x").glob("*.frame-*.png")) == [
        "vshape.frame-0.1.png",
        "vshape.frame-0.2.png",
        "vshape.frame-0.35.png",
    ]
    assert "text/html" not in small["cells"][0]["outputs"][0]["data"]  # small in git
    page = publish.markdown_page(small, "02_x", "made")
    assert "vshape.frame-0.2.png" in page
    restored = publish.restore(small, figures)
    html = restored["cells"][0]["outputs"][0]["data"]["text/html"]
    assert html.count("data-value=") == 3 and 'type="range"' in html
    assert base64.b64encode(b"\x89PNG b").decode() in html
    # a frame reference that leaves figures/ drops the slider, never reads the file
    small["cells"][0]["outputs"][0]["metadata"][publish.FIGURE_KEY]["frames"][1]["path"] = (
        "../secret.png"
    )
    (tmp_path / "secret.png").write_bytes(b"secret")
    again = publish.restore(small, figures)["cells"][0]["outputs"][0]["data"]
    assert "text/html" not in again and "image/png" in again


def test_a_publishing_run_publishes_each_chapter_and_a_scratch_run_does_not(tmp_path, monkeypatch):
    for var in ("PLASTICITY_FIGURES_DIR", "PLASTICITY_EXECUTED_DIR", paths.PUBLISH_ENV):
        monkeypatch.delenv(var, raising=False)
    executed = tmp_path / "page.ipynb"
    executed.write_text(json.dumps({"cells": [], "metadata": {}}))
    seen, published = [], []

    def fake_execute(chapter, **kwargs):
        seen.append((kwargs["output_dir"], os.environ.get(paths.PUBLISH_ENV)))
        return executed

    monkeypatch.setattr(runner, "execute", fake_execute)
    monkeypatch.setattr(runner, "sync", lambda chapter: None)
    monkeypatch.setattr(publish, "publish", lambda root, stems, **k: published.extend(stems))
    runner.run("full", only=["00"], plan_first=False, log=lambda *a, **k: None)
    assert published == [] and seen[-1][0] == paths.project_root() / "build" / "full" / "executed"
    runner.run("full", only=["00"], plan_first=False, publish=True, log=lambda *a, **k: None)
    assert published == ["00_data"]
    assert seen[-1] == (paths.project_root() / "executed", "1")
    assert os.environ.get(paths.PUBLISH_ENV) is None  # the process gets its environment back


def test_a_killed_imports_temporary_arrays_are_removed_by_the_next_import(tmp_path):
    import numpy as np
    from plasticity.data.arrays import store_arrays

    folder = tmp_path / "data" / "arrays"
    folder.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = folder / f".cifar10-{dead}-abc123"
    (stale / "x").mkdir(parents=True)
    alive = folder / f".cifar10-{os.getpid()}-xyz789"
    alive.mkdir()
    arrays = {
        "train_x": np.zeros((2, 32, 32, 3), np.uint8),
        "train_y": np.zeros(2, np.int64),
        "test_x": np.zeros((1, 32, 32, 3), np.uint8),
        "test_y": np.zeros(1, np.int64),
    }
    store_arrays("cifar10", tmp_path / "data", arrays, "test")
    assert not stale.exists() and alive.exists()


def test_book_plan_of_a_chapter_with_no_runs_says_so(capsys):
    from plasticity.cli import main

    assert main(["book", "plan", "--profile", "smoke", "--only", "00"]) == 0
    assert "0 distinct runs" in capsys.readouterr().err
