"""`book plan`: the run list is data, keyed exactly as the cache keys the runs."""

from __future__ import annotations

import json

import pytest
from plasticity import lazarus
from plasticity.book import execute, plan
from plasticity.book.chapter import Chapter
from plasticity.cli import main
from plasticity.engine import lazarus_runs, sovereign_runs
from plasticity.engine.profiles import get_profile
from plasticity.science import experiments, sovereign_experiments


def test_plan_keys_match_the_cache_and_execute_fills_it(capsys):
    runs = plan.plan("smoke", ["02"])
    kinds = {r.kind for r in runs}
    assert kinds == {"lazarus-base", "lazarus-repair"}
    assert not any(r.cached for r in runs)
    table = plan.estimate(runs)
    assert (table["est_seconds"] > 0).all()
    execute.execute(runs, log=lambda m: None)
    again = plan.plan("smoke", ["02"])
    assert [r.key for r in again] == [r.key for r in runs] and all(r.cached for r in again)
    # a warm cache tells what the cold run cost: each run's recorded compute time
    warm = plan.estimate(again)
    assert (warm["est_seconds"] == 0).all() and (warm["recorded_seconds"] > 0).all()
    assert table["recorded_seconds"].isna().all()
    # the chapter's own call finds every run in the cache: the keys are the same
    prof = get_profile("smoke")
    ch = Chapter("02_lazarus_vshape", prof, headless=True)
    labs = lazarus_runs.chapter_labs(ch, experiments.seeds_needed(prof))
    for c in experiments.cells("vshape", prof):
        assert labs[c.seed].run(c.damage, c.config, c.seed)["cached"]
    # and so does its alpha slider: one frame per alpha of the grid, on the default seed
    grid = experiments.slider_grid("curve", prof, 0)
    assert len(grid) >= 2
    for alpha in grid:
        damage = lazarus.Damage("noise", alpha, seed=0)
        config = experiments.cell_config("curve", prof, damage, 0)
        assert labs[0].run(damage, config, 0)["cached"]


def test_execute_with_batch_runs_repairs_of_one_config_together():
    runs = plan.plan("smoke", ["02"])
    logged = []
    execute.execute(runs, log=logged.append, batch=3)
    assert any("stacked" in line for line in logged)
    again = plan.plan("smoke", ["02"])
    assert all(r.cached for r in again)
    prof = get_profile("smoke")
    ch = Chapter("02_lazarus_vshape", prof, headless=True)
    labs = lazarus_runs.chapter_labs(ch, experiments.seeds_needed(prof))
    results = [
        labs[c.seed].run(c.damage, c.config, c.seed) for c in experiments.cells("vshape", prof)
    ]
    assert all(r["cached"] for r in results)
    together = [r for r in results if r.get("batched", 1) > 1]
    assert together and all(1 < r["batched"] <= 3 for r in together)


def test_execute_with_batch_trains_the_base_models_together_first():
    """A profile with one base model per seed: with ``batch`` the missing base models
    train as one stacked computation before the repairs that read them are stacked."""
    from dataclasses import replace

    smoke = get_profile("smoke")
    prof = replace(
        smoke,
        name="smoke",
        base=replace(smoke.base, epochs=1),
        lazarus=replace(smoke.lazarus, base_per_seed=True),
    )
    runs = plan.plan(prof, ["02"])
    bases = [r for r in runs if r.kind == "lazarus-base"]
    assert len(bases) == len(experiments.seeds_needed(prof)) > 1
    logged = []
    execute.execute(runs, log=logged.append, batch=8)
    assert any(f"lazarus-base x{len(bases)}, stacked" in line for line in logged), logged
    assert logged.index(next(x for x in logged if "lazarus-base" in x)) == 0  # base models first
    assert all(r.cached for r in plan.plan(prof, ["02"]))
    ch = Chapter("02_lazarus_vshape", prof, headless=True)
    labs = lazarus_runs.chapter_labs(ch, experiments.seeds_needed(prof))
    assert all(lab.artifact.result.get("stacked") == len(bases) for lab in labs.values())


def test_chapter_01_alone_lists_every_base_model_it_trains():
    """Chapter 01 trains one base model per seed the Lazarus chapters use when the
    profile gives each seed its own; `book plan --only 01` lists (and prices) them all."""
    from dataclasses import replace

    smoke = get_profile("smoke")
    per_seed = replace(smoke, lazarus=replace(smoke.lazarus, base_per_seed=True))
    for prof, expected in ((per_seed, experiments.seeds_needed(smoke)), (smoke, (0,))):
        bases = [r for r in plan.plan(prof, ["01"]) if r.kind == "lazarus-base"]
        assert sorted(r.label for r in bases) == [f"base model, seed {s}" for s in expected]
        assert all(r.chapters == {"01"} for r in bases)
    assert len(experiments.seeds_needed(smoke)) > 1  # the two cases differ


def test_runs_shared_by_chapters_are_listed_once():
    runs = plan.plan("smoke", ["02", "03", "06"])
    keys = [r.key for r in runs]
    assert len(keys) == len(set(keys))
    vshape = [r for r in runs if r.label.startswith("noise alpha=0.35, full")]
    assert vshape and all({"02", "03", "06"} <= r.chapters for r in vshape)


def test_book_plan_cli_prints_json(capsys):
    assert main(["book", "plan", "--profile", "smoke", "--only", "02", "--json"]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert rows and {"kind", "run", "cached", "est_seconds", "key"} <= set(rows[0])
    assert "distinct runs" in out.err


def test_chapter_11_probes_are_planned_with_the_notebooks_own_keys():
    from plasticity import sovereign

    runs = plan.plan("smoke", ["11"])
    probes = [r for r in runs if r.kind == "sovereign-probe"]
    prof = get_profile("smoke")
    assert len(probes) == len(prof.sovereign_seeds) and all(r.chapters == {"11"} for r in probes)
    assert {r.kind for r in runs} == {"sovereign-probe"}  # chapter 11 trains nothing else
    execute.execute(runs, log=lambda m: None)
    assert all(r.cached for r in plan.plan("smoke", ["11"]))
    # the chapter's call (its default max_epochs) reads exactly those entries
    ch = Chapter("11_sovereign_published_code", prof, headless=True)
    data = sovereign.SovereignData.from_dataset(
        ch.dataset("cifar100"), sovereign_experiments.base_config(prof).val_size
    )
    epochs = sovereign_experiments.probe_epochs(prof, None)
    assert epochs == sovereign_experiments.SYNTHETIC_PROBE_EPOCHS
    from plasticity.engine import cache

    before = len(cache.list_entries())
    for seed in prof.sovereign_seeds:
        sovereign_runs.cached_ceiling(data, max_epochs=epochs, seed=seed)
    assert len(cache.list_entries()) == before


def test_execute_in_worker_processes_caches_what_one_process_would(tmp_path):
    """Workers change where a run happens, not its key or its result."""
    alone, spread = tmp_path / "alone", tmp_path / "spread"
    execute.execute(plan.plan("smoke", ["02"], cache_dir=alone), log=lambda m: None)
    logged = []
    execute.execute_parallel(
        "smoke", ["02"], workers=2, threads=1, cache_dir=spread, log=logged.append
    )
    assert len(logged) == len(plan.plan("smoke", ["02"], cache_dir=alone))
    runs = plan.plan("smoke", ["02"], cache_dir=spread)
    assert runs and all(r.cached for r in runs)
    for r in runs:
        a = json.loads((alone / r.kind / r.key / "result.json").read_text())["result"]
        b = json.loads((spread / r.kind / r.key / "result.json").read_text())["result"]
        for field in ("accuracy", "original", "damaged", "restored"):
            if field in a:  # one test image of the smoke data set is 100 / 300 points
                assert b[field] == pytest.approx(a[field], abs=100 / 300 + 1e-9), field
    # nothing left to do: a second call starts no process and returns at once
    assert execute.execute_parallel("smoke", ["02"], workers=2, cache_dir=spread) < 60


def test_book_plan_refuses_batch_and_workers_together_before_computing(capsys):
    from plasticity.engine import cache

    code = main(
        [
            "book",
            "plan",
            "--profile",
            "smoke",
            "--only",
            "02",
            "--execute",
            "--batch",
            "2",
            "--workers",
            "2",
        ]
    )
    assert code != 0
    assert "workers" in capsys.readouterr().err
    assert cache.list_entries() == []
    assert main(["book", "plan", "--profile", "smoke", "--execute", "--workers", "0"]) != 0
    assert "workers=0" in capsys.readouterr().err
    # compiling needs stacks: refused one at a time, before anything is computed
    argv = ["book", "plan", "--profile", "smoke", "--execute", "--batch", "1"]
    assert main([*argv, "--compile", "default"]) != 0
    assert "compile='default'" in capsys.readouterr().err
    assert cache.list_entries() == []


def test_a_plan_is_priced_from_its_own_runs_never_another_profiles(isolated):
    """A smoke book's synthetic runs in the same cache do not price the real plan."""
    from plasticity.engine import cache

    def entry(key: str, seconds: float, epochs: int) -> None:
        folder = isolated["cache"] / "lazarus-base" / key
        folder.mkdir(parents=True)
        meta = {
            "format": cache.FORMAT,
            "kind": "lazarus-base",
            "compute_seconds": seconds,
            "config": {"training": {"epochs": epochs}},
            "result": {},
        }
        (folder / "result.json").write_text(json.dumps(meta))

    entry("a" * 20, 5000.0, 1)  # another profile's run: 5000 s per epoch
    entry("b" * 20, 30.0, 1)  # one of this plan's runs: 30 s per epoch
    mine = plan.Run("lazarus-base", "b" * 20, "base model, seed 0", 1, compute=None)
    todo = plan.Run("lazarus-base", "c" * 20, "base model, seed 1", 5, compute=None)
    table = plan.estimate([mine, todo])
    assert table.set_index("key").loc["c" * 20, "est_seconds"] == pytest.approx(150.0)
    cold = plan.estimate([todo])  # nothing of its own cached: the measured defaults
    assert cold["est_seconds"].iloc[0] == pytest.approx(5 * plan.DEFAULT_SECONDS["lazarus-base"])


def test_book_run_says_what_it_will_cost_and_how_much_is_left(isolated, monkeypatch):
    from plasticity.book import runner

    def fake_execute(chapter, *, output_dir, **kwargs):
        output_dir.mkdir(parents=True, exist_ok=True)
        path = output_dir / chapter.notebook.name
        path.write_text('{"cells": [], "metadata": {}}')
        return path

    monkeypatch.setattr(runner, "execute", fake_execute)
    monkeypatch.setattr(runner, "sync", lambda chapter: chapter.notebook)
    lines: list[str] = []
    runner.run(
        "smoke",
        only=["01", "02"],
        output_dir=isolated["executed"],
        log=lambda *a, **k: lines.append(" ".join(map(str, a))),
    )
    (cost,) = [line for line in lines if line.startswith("plan:")]
    expected = plan.plan("smoke", ["01", "02"])
    assert f"plan: {len(expected)} runs, 0 cached, {len(expected)} to compute" in cost
    done = [line for line in lines if " done in " in line]
    assert len(done) == 2 and "compute left" in done[0] and "so far" in done[1]
    assert "compute left" not in done[1]  # nothing of the plan is left after the last
