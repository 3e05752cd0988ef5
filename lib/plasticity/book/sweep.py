"""Farm the book's runs out to a cluster, then render the book from the shared cache.

``python -m plasticity sweep --profile paper --engine slurm`` takes the run list of
:func:`plasticity.book.plan.plan` (base models, repairs, evolutions: every distinct run,
keyed exactly as the train-or-load cache keys it), drops what the cache already holds,
and submits each missing run as an independent job through `submitit
<https://github.com/facebookincubator/submitit>`_. Every job recomputes the plan in
its own process, finds its run by cache key, computes it and writes it into the cache
(atomically; ``PLASTICITY_CACHE_DIR`` on a shared file system). Afterwards ``make book
PROFILE=paper`` renders every chapter from the cache, with no training in the notebooks.

Runs depend on each other only through the cache: a repair needs its base model. The
sweep therefore goes in stages (base models, repairs, evolutions and probes). On SLURM each stage
is one job array that starts after the previous stage's array succeeded
(``--dependency=afterok``), and the command exits once everything is queued. The local
engine (``--engine local``: submitit's LocalExecutor, subprocesses on this machine, at
most ``--workers`` at once) waits for each stage. A sweep over a complete cache submits
nothing; after failures it submits exactly the runs still missing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.profiles import get_profile
from ..foundations import paths
from ..foundations.checks import ParameterError, check_choice, check_number

ENGINES = ("local", "slurm")
STAGES = {0: "base models", 1: "repairs", 2: "evolutions and probes"}
#: Minutes requested per job when the plan has no better estimate: generous, since a
#: job killed at its limit wastes everything it computed.
MIN_MINUTES = 10
TIME_FACTOR = 3.0


@dataclass(frozen=True)
class Job:
    """One run to compute: what the worker needs to find it again in its own plan."""

    profile: str
    kind: str
    key: str
    label: str
    stage: int
    only: tuple[str, ...] = ()
    data_dir: str | None = None
    cache_dir: str | None = None
    device: str | None = None
    est_seconds: float = 0.0


@dataclass
class Resources:
    """What each job asks the scheduler for; ``minutes`` per stage overrides the plan's
    estimate (``TIME_FACTOR`` x the estimated time, at least ``MIN_MINUTES``)."""

    partition: str | None = None
    account: str | None = None
    gpus: int = 0
    cpus: int = 4
    mem_gb: int = 16
    minutes: dict[int, int] = field(default_factory=dict)
    workers: int = 2

    def __post_init__(self) -> None:
        check_number("gpus", self.gpus, low=0, integer=True)
        check_number("cpus", self.cpus, low=1, integer=True)
        check_number("mem_gb", self.mem_gb, low=1, integer=True)
        check_number("workers", self.workers, low=1, integer=True)
        for stage, minutes in self.minutes.items():
            check_choice("stage", stage, tuple(STAGES))
            check_number("minutes", minutes, low=1, integer=True)

    def minutes_for(self, stage: int, jobs: Sequence[Job]) -> int:
        if stage in self.minutes:
            return self.minutes[stage]
        longest = max((j.est_seconds for j in jobs), default=0.0)
        return max(MIN_MINUTES, int(TIME_FACTOR * longest / 60) + 1)


def run_job(job: Job) -> dict:
    """Inside a job: compute the run ``job`` names (unless it is cached by now)."""
    from . import plan

    if job.device:
        os.environ["PLASTICITY_DEVICE"] = job.device
    runs = plan.plan(job.profile, list(job.only), data_dir=job.data_dir, cache_dir=job.cache_dir)
    found = [r for r in runs if (r.kind, r.key) == (job.kind, job.key)]
    if not found:
        raise RuntimeError(
            f"run {job.kind}/{job.key} ({job.label}) is not in the plan of profile "
            f"{job.profile!r}: the code changed since the sweep was planned; plan again"
        )
    run = found[0]
    if run.cached:
        return {"key": job.key, "cached": True, "seconds": 0.0}
    start = time.perf_counter()
    run.compute()
    return {"key": job.key, "cached": False, "seconds": time.perf_counter() - start}


def jobs_for(
    profile: str,
    only: Sequence[str] = (),
    *,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    device: str | None = None,
) -> list[Job]:
    """The missing runs of ``profile`` (chapters ``only``) as jobs, in stage order."""
    from . import plan

    prof = get_profile(profile)
    runs = plan.plan(prof, list(only), data_dir=data_dir, cache_dir=cache_dir)
    table = plan.estimate(runs, cache_dir)
    seconds = dict(zip(table["key"], table["est_seconds"], strict=True))
    cache = str(paths.cache_dir(cache_dir))
    return [
        Job(
            prof.name,
            r.kind,
            r.key,
            r.label,
            r.order,
            tuple(only),
            data_dir,
            cache,
            device,
            float(seconds.get(r.key, 0.0)),
        )
        for r in runs
        if not r.cached
    ]


def describe(jobs: Sequence[Job], resources: Resources, engine: str) -> str:
    """The job list with its resource requests (the dry run's output)."""
    lines = []
    for stage, name in STAGES.items():
        chosen = [j for j in jobs if j.stage == stage]
        if not chosen:
            continue
        minutes = resources.minutes_for(stage, chosen)
        request = f"{minutes} min, {resources.cpus} CPUs, {resources.mem_gb} GB"
        if resources.gpus:
            request += f", {resources.gpus} GPU"
        if engine == "slurm":
            request += f", partition {resources.partition or '(default)'}"
            if resources.account:
                request += f", account {resources.account}"
        after = " (after the previous stage succeeded)" if stage else ""
        lines.append(f"stage {stage}, {name}: {len(chosen)} job(s), each {request}{after}")
        lines += [
            f"  {j.kind:16s} {j.key}  est {j.est_seconds / 60:6.1f} min  {j.label}" for j in chosen
        ]
    total = sum(j.est_seconds for j in jobs) / 3600
    lines.append(f"{len(jobs)} job(s), about {total:.1f} h of compute at this machine's rates")
    return "\n".join(lines)


def _executor(engine: str, log_dir: Path, resources: Resources, minutes: int):
    import submitit

    if engine == "local":
        executor = submitit.LocalExecutor(folder=str(log_dir))
        executor.update_parameters(timeout_min=minutes, gpus_per_node=resources.gpus)
        return executor
    executor = submitit.AutoExecutor(folder=str(log_dir), cluster="slurm")
    extra = {}
    if resources.account:
        extra["account"] = resources.account
    executor.update_parameters(
        timeout_min=minutes,
        gpus_per_node=resources.gpus,
        cpus_per_task=resources.cpus,
        mem_gb=resources.mem_gb,
        slurm_partition=resources.partition,
        slurm_array_parallelism=resources.workers,
        slurm_additional_parameters=extra,
        name="plasticity",
    )
    return executor


@dataclass
class Outcome:
    """What a sweep did: submitted jobs by stage, failures with their log files."""

    submitted: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)
    queued: bool = False


def sweep(
    jobs: Sequence[Job],
    *,
    engine: str,
    resources: Resources,
    log_dir: str | os.PathLike,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Submit ``jobs`` stage by stage; the local engine waits and reports failures,
    SLURM queues every stage with ``afterok`` dependencies and returns."""
    check_choice("engine", engine, ENGINES)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    outcome = Outcome()
    previous: list = []
    for stage, name in STAGES.items():
        chosen = [j for j in jobs if j.stage == stage]
        if not chosen:
            continue
        executor = _executor(engine, log_dir, resources, resources.minutes_for(stage, chosen))
        if engine == "slurm":
            if previous:
                ids = sorted({p.job_id.split("_")[0] for p in previous})
                executor.update_parameters(
                    slurm_additional_parameters={
                        **({"account": resources.account} if resources.account else {}),
                        "dependency": "afterok:" + ":".join(ids),
                    }
                )
            previous = executor.map_array(run_job, chosen)
            outcome.submitted += chosen
            log(f"stage {stage}, {name}: {len(chosen)} job(s) queued as {previous[0].job_id}")
            continue
        log(f"stage {stage}, {name}: {len(chosen)} job(s), {resources.workers} at a time")
        failed = _run_local(executor, chosen, resources.workers, log)
        outcome.submitted += chosen
        outcome.failed += failed
        if failed:
            log(f"stage {stage} had {len(failed)} failure(s); later stages were not started")
            return outcome
    outcome.queued = engine == "slurm" and bool(outcome.submitted)
    return outcome


def _run_local(executor, jobs: Sequence[Job], workers: int, log) -> list[tuple[Job, str]]:
    """At most ``workers`` jobs at once; returns the failures with their log paths."""
    waiting, running, failed = list(jobs), [], []
    done = 0
    while waiting or running:
        while waiting and len(running) < workers:
            job = waiting.pop(0)
            running.append((job, executor.submit(run_job, job)))
        time.sleep(0.2)
        for job, handle in list(running):
            if not handle.done():
                continue
            running.remove((job, handle))
            done += 1
            try:
                result = handle.result()
                log(f"  [{done}/{len(jobs)}] {job.label}: {result['seconds']:.0f} s")
            except Exception as exc:  # noqa: BLE001 - every failure is reported; none stops the rest
                where = str(handle.paths.stderr)
                failed.append((job, where))
                log(
                    f"  [{done}/{len(jobs)}] {job.label}: FAILED ({type(exc).__name__}); "
                    f"log {where}"
                )
    return failed


def parse_minutes(values: Sequence[str]) -> dict[int, int]:
    """``["base=30", "repair=20", "evolution=600"]`` -> ``{0: 30, 1: 20, 2: 600}``."""
    names = {"base": 0, "repair": 1, "evolution": 2}
    out = {}
    for value in values:
        kind, _, minutes = value.partition("=")
        if kind not in names or not minutes.isdigit():
            raise ParameterError(
                f"time={value!r}: use KIND=MINUTES with KIND one of {', '.join(names)}"
            )
        out[names[kind]] = int(minutes)
    return out


# ----------------------------------------------------------------------------- cost

#: Assumptions behind the GPU estimate (not a measurement): a data-centre GPU sustains
#: about 5 TFLOP/s of float32 on networks this small (about a quarter of an A100's
#: 19.5 TFLOP/s peak), and no optimiser step takes less than 0.5 ms (some 50 kernel
#: launches of about 10 us each).
GPU_TFLOPS = 5.0
GPU_MIN_STEP_S = 0.5e-3


def _flops_per_unit() -> dict[str, tuple[float, float]]:
    """(FLOPs, optimiser steps) per plan unit, counted by torch's FlopCounterMode:
    a base-model epoch, a repair step, a thousand NeuroSovereign training images
    (every chain costed as APEX, the heaviest network: an upper bound)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..engine.bench import stability_cnn_flops
    from ..sovereign import SovereignNet

    cnn = stability_cnn_flops()
    net = SovereignNet(mixer=True, train_extractor=True)
    with FlopCounterMode(display=False) as counter:
        fine, coarse = net(torch.randn(8, 3, 32, 32))
        (fine.sum() + coarse.sum()).backward()
    apex = counter.get_total_flops() / 8
    return {
        "lazarus-base": (50000 * cnn["train"] + 10000 * cnn["forward"], 50000 / 64),
        "lazarus-repair": (128 * cnn["train"], 1.0),
        # one image through the teacher and back to its pixels, batches of 256
        "lazarus-inversion": (cnn["train"], 1 / 256),
        "sovereign-run": (1000 * apex, 1000 / 64),
    }


def cost_table(runs, cache_dir=None):
    """Per run kind: runs, CPU seconds per unit measured in this machine's cache (or
    the default), CPU-hours, FLOPs and the GPU-hours estimate (see ``GPU_TFLOPS``)."""
    import pandas as pd

    from .plan import DEFAULT_SECONDS, measured_rates

    rates = {**DEFAULT_SECONDS, **measured_rates(cache_dir, {r.key for r in runs})}
    per_unit = _flops_per_unit()
    rows = []
    for kind in sorted({r.kind for r in runs}):
        chosen = [r for r in runs if r.kind == kind]
        units = sum(r.units for r in chosen)
        flops, steps = per_unit[kind]
        gpu_seconds = sum(
            max(r.units * flops / (GPU_TFLOPS * 1e12), r.units * steps * GPU_MIN_STEP_S)
            for r in chosen
        )
        rows.append(
            {
                "kind": kind,
                "runs": len(chosen),
                "units": units,
                "cpu_s_per_unit": rates[kind],
                "cpu_hours": units * rates[kind] / 3600,
                "pflop": units * flops / 1e15,
                "gpu_hours_est": gpu_seconds / 3600,
            }
        )
    return pd.DataFrame(rows)
