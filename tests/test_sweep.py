"""The sweep: the plan's missing runs as submitit jobs, the book rendered from the cache."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from plasticity.book import runner, sweep
from plasticity.cli import main
from plasticity.engine import cache
from plasticity.foundations.checks import ParameterError

pytest.importorskip("submitit")

PLANNED = ("lazarus-base", "lazarus-repair", "sovereign-run")


def _entries(kinds=PLANNED) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {k: set() for k in kinds}
    for row in cache.list_entries():
        if row["kind"] in out and row["complete"]:
            out[row["kind"]].add(row["key"])
    return out


def test_local_sweep_fills_the_cache_and_the_book_then_computes_no_run(isolated, tmp_path):
    jobs = sweep.jobs_for("smoke", ["02"])
    assert {j.stage for j in jobs} == {0, 1} and len(jobs) >= 4
    broken = jobs[-1]  # a repair told to use a device this machine does not have
    jobs = [*jobs[:-1], replace(broken, device="cuda:7")]
    logs = []
    outcome = sweep.sweep(
        jobs,
        engine="local",
        resources=sweep.Resources(workers=2),
        log_dir=tmp_path / "logs",
        log=logs.append,
    )
    assert [j.key for j, _ in outcome.failed] == [broken.key]
    assert outcome.failed[0][1].endswith(".err") and "FAILED" in "\n".join(logs)

    # a second sweep submits exactly the failed run, and then nothing
    again = sweep.jobs_for("smoke", ["02"])
    assert [j.key for j in again] == [broken.key]
    assert not sweep.sweep(
        again,
        engine="local",
        resources=sweep.Resources(workers=2),
        log_dir=tmp_path / "logs",
        log=lambda _: None,
    ).failed
    assert sweep.jobs_for("smoke", ["02"]) == []

    # the book renders the chapter from the cache: no run is computed in the notebook
    before = _entries()
    runner.run("smoke", only=["02"], progress=False, log=lambda *a, **k: None)
    assert _entries() == before

    # deleting one entry makes the next sweep submit exactly that run
    victim = sorted(before["lazarus-repair"])[0]
    shutil.rmtree(isolated["cache"] / "lazarus-repair" / victim)
    assert [j.key for j in sweep.jobs_for("smoke", ["02"])] == [victim]


def test_dry_run_prints_the_job_list_with_its_resource_requests(capsys):
    code = main(
        [
            "sweep",
            "--profile",
            "smoke",
            "--only",
            "02",
            "--engine",
            "slurm",
            "--dry-run",
            "--partition",
            "gpu",
            "--account",
            "lab",
            "--gpus",
            "1",
            "--time",
            "repair=45",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "stage 0, base models:" in out and "stage 1, repairs:" in out
    assert "45 min, 4 CPUs, 16 GB, 1 GPU, partition gpu, account lab" in out
    assert "after the previous stage succeeded" in out
    assert _entries() == {k: set() for k in PLANNED}  # nothing was computed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--engine", "kubernetes"], "engine"),
        (["--time", "repair=soon"], "KIND=MINUTES"),
        (["--workers", "0"], "workers"),
    ],
)
def test_bad_sweep_options_fail_before_any_job(argv, message, capsys):
    assert main(["sweep", "--profile", "smoke", "--only", "02", *argv]) == 2
    assert message in capsys.readouterr().err
    assert _entries() == {k: set() for k in PLANNED}


def test_resources_reject_bad_values():
    with pytest.raises(ParameterError, match="gpus"):
        sweep.Resources(gpus=-1)
    assert sweep.Resources().minutes_for(1, []) == sweep.MIN_MINUTES
