"""Computing the plan's missing runs: one after another (repairs of one configuration
optionally stacked), or spread over worker processes stage by stage, longest first;
each run cached under its own key, so a stopped run resumes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from ..engine import stacked
from ..engine.profiles import Profile, get_profile
from .plan import DEFAULT_SECONDS, Run, measured_rates, plan


def _group(run: Run, job: tuple | None):
    """The stack ``run`` can join (None: it runs alone): base models of one data set and
    recipe train together; repairs by :func:`plasticity.engine.stacked.group_key`."""
    if job is None:
        return None
    if run.kind == "lazarus-base":
        _, dataset, training, _, _ = job
        return ("lazarus-base", dataset.fingerprint, training)
    if run.kind == "sovereign-run":
        return ("sovereign-run", job[1].dataset.fingerprint)
    return stacked.group_key(*job[:3])


def _chunks(keys: list, batch: int) -> list[list[int]]:
    """The order of computation (:func:`plasticity.engine.stacked.group_plan`), except
    that the NeuroSovereign evolutions of one data set form one chunk whatever their
    number: :func:`~plasticity.engine.sovereign_runs.evolve_many` stacks their chains
    cycle by cycle, ``batch`` at a time."""
    chunks: list[list[int]] = []
    whole: dict[tuple, list[int]] = {}
    for chunk in stacked.group_plan(keys, batch):
        key = keys[chunk[0]]
        if batch > 1 and key is not None and key[0] == "sovereign-run":
            if key in whole:
                whole[key].extend(chunk)
                continue
            whole[key] = chunk
        chunks.append(chunk)
    return chunks


def execute(
    runs: list[Run],
    log: Callable[[str], None] = print,
    batch: int = 1,
    compile: str | None = None,
) -> float:
    """Compute every missing run in order; returns the wall time in seconds.

    With ``batch`` > 1, missing runs that can share a stack run ``batch`` at a time as
    one computation where the first of them comes up, each cached under its own key
    with results equal to a run alone to float tolerance: base models of one data set
    and recipe (:func:`plasticity.engine.lazarus_runs.base_models`), and Lazarus repairs
    of one schedule across seeds, damages, base models and configurations
    (:func:`plasticity.engine.stacked.group_key`, :func:`~plasticity.engine.stacked.run_grid`),
    and NeuroSovereign evolutions, whose chains of one kind and schedule train each
    cycle as one computation (:func:`plasticity.engine.sovereign_runs.evolve_many`).
    Stage by stage (base models first), so that the repairs' base models exist when
    their stacks are formed. ``book plan --execute`` picks ``batch`` by device
    (:func:`plasticity.engine.stacked.default_batch`): stacks on a GPU, one at a time on
    a CPU, where stacking loses (``bench grid`` measures it). ``compile`` (opt-in) is
    the ``torch.compile`` mode of the stacks' forward passes, Lazarus repairs and
    NeuroSovereign chains (:data:`plasticity.foundations.compute.COMPILE_MODES`).
    """
    from ..engine import lazarus_runs, sovereign_runs
    from ..foundations.checks import check_number

    check_number("batch", batch, low=1, integer=True)
    start = time.perf_counter()
    todo = [r for r in runs if not r.cached]
    done = 0
    for order in sorted({r.order for r in todo}):
        stage = [r for r in todo if r.order == order]
        # jobs are built per stage: a repair's job loads its base model
        jobs = {id(r): r.job() for r in stage if r.job is not None} if batch > 1 else {}
        keys = [_group(r, jobs.get(id(r))) for r in stage]
        chunks = _chunks(keys, batch)
        for chunk in chunks:
            group = [stage[i] for i in chunk]
            t = time.perf_counter()
            if len(group) > 1:
                if group[0].kind == "sovereign-run":
                    sovereign_runs.evolve_many(
                        [jobs[id(m)][1:5] for m in group],
                        batch=batch,
                        cache_dir=jobs[id(group[0])][5],
                        compile=compile,
                        log=log,
                    )
                elif group[0].kind == "lazarus-base":
                    _, dataset, training, _, cache_dir = jobs[id(group[0])]
                    lazarus_runs.base_models(
                        dataset, training, [jobs[id(m)][3] for m in group], cache_dir=cache_dir
                    )
                else:
                    stacked.run_grid(
                        [jobs[id(m)] for m in group], batch=len(group), compile=compile
                    )
                for m in group:
                    m.cached = True
                done += len(group)
                seconds = time.perf_counter() - t
                log(
                    f"[{done}/{len(todo)}] {group[0].kind} x{len(group)}, stacked: "
                    f"{'; '.join(m.label for m in group)} ({seconds:.0f} s)"
                )
                continue
            (r,) = group
            r.compute()
            r.cached = True
            done += 1
            log(f"[{done}/{len(todo)}] {r.kind}: {r.label} ({time.perf_counter() - t:.0f} s)")
    return time.perf_counter() - start


def _stage(run: Run) -> tuple[int, int]:
    """Runs of one stage depend on nothing in the same stage: base models first, then
    the inversion pools, then the repairs that read them, then NeuroSovereign."""
    return (run.order, 0 if run.kind == "lazarus-inversion" else 1)


def _worker(profile, only, data_dir, cache_dir, threads, todo, done) -> None:
    """A process of :func:`execute_parallel`: its own plan (keys as the parent's),
    ``threads`` torch threads, and the runs named on ``todo`` until ``None``."""
    import torch

    torch.set_num_threads(threads)
    runs = {(r.kind, r.key): r for r in plan(profile, only, data_dir=data_dir, cache_dir=cache_dir)}
    while (item := todo.get()) is not None:
        start = time.perf_counter()
        try:
            runs[tuple(item)].compute()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops
            done.put((item, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"))
            continue
        done.put((item, time.perf_counter() - start, None))


def execute_parallel(
    profile: str | Profile,
    only: list[str] | None = None,
    *,
    workers: int = 2,
    threads: int | None = None,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> float:
    """Compute every missing run of ``plan(profile, only)`` in ``workers`` processes
    with ``threads`` torch threads each (default: this process's threads divided
    among them); returns the wall time in seconds.

    Stage by stage (:func:`_stage`), the longest runs first, each process takes the
    next missing run when it is free. Every run is cached under the key it has when
    run alone, with the same result: only where it runs changes. Two processes that
    need the same small shared artefact (a seed's damaged model or teacher logits)
    may both compute it; the cache keeps the first. When a run fails, nothing more
    is started, the runs already finished stay cached, and the error is raised.
    """
    import multiprocessing
    import queue

    import torch

    from ..foundations.checks import check_number

    check_number("workers", workers, low=1, high=64, integer=True)
    if threads is None:
        threads = max(1, torch.get_num_threads() // workers)
    check_number("threads", threads, low=1, high=256, integer=True)
    prof = get_profile(profile)
    start = time.perf_counter()
    runs = plan(prof, only, data_dir=data_dir, cache_dir=cache_dir)
    rates = {**DEFAULT_SECONDS, **measured_rates(cache_dir, {r.key for r in runs})}
    todo = [r for r in runs if not r.cached]
    if not todo:
        return time.perf_counter() - start
    stages: dict[tuple[int, int], list[Run]] = {}
    for r in todo:
        stages.setdefault(_stage(r), []).append(r)
    ctx = multiprocessing.get_context("spawn")
    todo_queue, done = ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker,
            args=(prof, only, data_dir, cache_dir, threads, todo_queue, done),
            daemon=True,
        )
        for _ in range(min(workers, len(todo)))
    ]
    for p in procs:
        p.start()
    labels = {(r.kind, r.key): r.label for r in todo}
    finished, failure = 0, None
    try:
        for stage in sorted(stages):
            members = sorted(stages[stage], key=lambda r: -rates.get(r.kind, 0.0) * r.units)
            for r in members:
                todo_queue.put((r.kind, r.key))
            for _ in members:
                while True:
                    try:
                        item, seconds, error = done.get(timeout=5)
                        break
                    except queue.Empty:  # check that the workers are still alive
                        if not any(p.is_alive() for p in procs):
                            raise RuntimeError("every worker process has exited") from None
                finished += 1
                label = labels[tuple(item)]
                if error is not None:
                    failure = failure or f"{item[0]} {label!r} failed: {error}"
                    log(f"[{finished}/{len(todo)}] {item[0]}: {label} FAILED ({error})")
                    continue
                log(f"[{finished}/{len(todo)}] {item[0]}: {label} ({seconds:.0f} s)")
            if failure:
                break
    finally:
        for _ in procs:
            todo_queue.put(None)
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
    if failure:
        raise RuntimeError(failure)
    return time.perf_counter() - start
