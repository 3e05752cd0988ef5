"""Every chapter runs under papermill in the smoke profile, through the book runner."""

from __future__ import annotations

import json

import nbformat
import pytest
from plasticity.book import runner
from plasticity.cli import main
from plasticity.engine import cache
from plasticity.foundations.manifest import read_manifest
from plasticity.science import verdicts

from .conftest import assert_same_tables

pytestmark = pytest.mark.notebooks


def test_every_chapter_ran(smoke_book):
    _, done = smoke_book
    assert [c.stem for c, _, _ in done] == [c.stem for c in runner.chapters()]
    assert len(done) >= 2


def test_parameters_were_injected(smoke_book):
    _, done = smoke_book
    for chapter, _, executed in done:
        nb = nbformat.read(executed, as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1, chapter.stem
        source = injected[0].source
        assert 'profile = "smoke"' in source and "headless = True" in source
        tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
        assert nb.cells.index(injected[0]) == tagged[0] + 1
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert not errors, chapter.stem


def test_figures_and_manifest_entries_were_produced(smoke_book):
    root, done = smoke_book
    manifest = read_manifest(root / "figures")["files"]
    for chapter, _, _ in done:
        entries = [e for e in manifest.values() if e["chapter"] == chapter.stem]
        kinds = {e["kind"] for e in entries}
        assert kinds == {"figure", "table"}, chapter.stem
        for entry in entries:
            assert (root / "figures" / entry["path"]).stat().st_size > 0
            assert entry["profile"] == "smoke" and entry["synthetic"] is True
            assert all(d["fingerprint"] == "synthetic" for d in entry["datasets"])


def test_no_widget_state_or_progress_widgets_in_executed_notebooks(smoke_book):
    _, done = smoke_book
    for chapter, _, executed in done:
        text = executed.read_text()
        assert "application/vnd.jupyter.widget-view+json" not in text, chapter.stem
        nb = json.loads(text)
        pngs = [
            o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})
        ]
        assert pngs, f"{chapter.stem} shows no figure"


def test_base_model_chapter_reuses_the_cache_on_a_second_run(smoke_book, monkeypatch, capsys):
    root, _ = smoke_book
    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("PLASTICITY_DATA_DIR", str(root / "data"))
    out = root / "again"
    done = runner.run(
        "smoke", only=["01"], output_dir=out, progress=False, log=lambda *a, **k: None
    )
    text = (out / done[0][0].notebook.name).read_text()
    assert "loaded from the cache" in text


def test_book_list_names_every_chapter(capsys):
    assert main(["book", "list"]) == 0
    listed = capsys.readouterr().out
    for chapter in runner.chapters():
        assert chapter.stem in listed


def test_every_headline_claim_finds_its_table_and_columns(smoke_book):
    """The contract between the chapters' saved tables and the claim registry."""
    from plasticity.science import headlines

    root, _ = smoke_book
    df, used = headlines.collect(root / "figures")
    missing = df[df["verdict"] == verdicts.NOT_MEASURED]
    assert missing.empty, missing[["key", "reason"]].to_string()
    assert set(df["verdict"]) <= set(verdicts.VERDICTS)
    assert len(used) >= 8


def test_the_plan_lists_exactly_the_runs_the_whole_book_computed(smoke_book, monkeypatch):
    """`book plan` / `sweep` promise that the notebooks compute nothing after them: so
    every run the smoke book trained must be in the plan, and every planned run cached."""
    from plasticity.book import plan

    root, _ = smoke_book
    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("PLASTICITY_DATA_DIR", str(root / "data"))
    planned = plan.plan("smoke")
    kinds = {r.kind for r in planned}
    assert {"lazarus-base", "lazarus-repair", "sovereign-run", "sovereign-probe"} <= kinds
    computed = {
        (e["kind"], e["key"]) for e in cache.list_entries() if e["kind"] in kinds and e["complete"]
    }
    assert computed - {(r.kind, r.key) for r in planned} == set()
    assert [r.label for r in planned if not r.cached] == []


def test_the_book_replays_from_a_results_pack_with_no_weights_no_data_and_no_compute(
    smoke_book, tmp_path, monkeypatch
):
    """A newcomer's clone: the committed figures, a results pack, no data and no cache.
    `book run --replay` re-executes every chapter from the pack's results and the saved
    tables, writes no weights, computes no run, and saves the same tables."""
    import shutil

    from plasticity.engine import results

    root, _ = smoke_book
    pack = tmp_path / "results.tar.xz"
    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("PLASTICITY_DATA_DIR", str(root / "data"))
    assert main(["results", "export", str(pack), "--profile", "smoke"]) == 0

    figures = tmp_path / "figures"
    shutil.copytree(root / "figures", figures)
    fresh = tmp_path / "cache"
    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(fresh))
    monkeypatch.setenv("PLASTICITY_DATA_DIR", str(tmp_path / "no-data"))
    assert results.import_pack(pack)["imported"] > 0
    before = {(e["kind"], e["key"]) for e in cache.list_entries()}
    done = runner.run(
        "smoke",
        output_dir=tmp_path / "executed",
        figures_dir=str(figures),
        progress=False,
        log=lambda *a, **k: None,
        replay=True,
    )
    assert [c.stem for c, _, _ in done] == [c.stem for c in runner.chapters()]
    assert not list(fresh.rglob(cache.MODEL_FILE)), "a replay wrote weights"
    assert {(e["kind"], e["key"]) for e in cache.list_entries()} == before, "a run was computed"
    assert not (tmp_path / "no-data").exists() or not any((tmp_path / "no-data").iterdir())
    assert assert_same_tables(figures, root / "figures", (root / "figures").rglob("*.csv"))
    for _, _, executed in done:
        nb = nbformat.read(executed, as_version=4)
        assert not [
            o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
        ], executed.name
