"""Whether several processes pay: repairs per second with N worker processes sharing
the machine (``bench workers``).
"""

from __future__ import annotations

import time

import torch

from ...data import ImageDataset
from ...foundations.compute import set_seed
from ...lazarus import StabilityCNN

# ---------------------------------------------------------------- runs in processes


def _repairs_in_process(
    images, logits, teacher_state, students, seeds, steps, threads, barrier, out
):
    """One process of :func:`worker_rates`: ``threads`` torch threads, a short warm-up,
    then (after every process is ready) its share of the repairs, timed by the wall
    clock so that the processes' times compare."""
    from ... import lazarus

    torch.set_num_threads(threads)
    teacher = StabilityCNN().eval()
    teacher.load_state_dict(teacher_state)
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    warm = StabilityCNN()
    warm.load_state_dict(students[0])
    lazarus.repair(
        warm,
        teacher,
        lazarus.RepairConfig(steps=3, eval_at=()),
        images=images,
        teacher_logits=logits,
    )
    barrier.wait()
    start = time.time()
    for state, seed in zip(students, seeds, strict=True):
        student = StabilityCNN()
        student.load_state_dict(state)
        lazarus.repair(student, teacher, config, images=images, teacher_logits=logits, seed=seed)
    out.put((start, time.time()))


def worker_rates(
    dataset: ImageDataset,
    workers: int = 2,
    repairs: int = 4,
    steps: int = 60,
    repeats: int = 3,
    threads: int | None = None,
) -> dict:
    """``repairs`` repairs (alpha 0.35, training images, teacher logits precomputed,
    ``steps`` steps each) run one after another in this process with all its torch
    threads, and spread over ``workers`` processes with ``threads`` threads each
    (default: this process's threads divided among them), alternately ``repeats``
    times. Returns the median repair steps per second of each and the median of the
    per-repeat ratios (processes / one process: above 1, ``book plan --execute
    --workers`` pays)."""
    import multiprocessing
    import statistics

    from ... import lazarus
    from ...data import Normalizer, to_tensor
    from ...foundations.checks import check_number
    from ...lazarus import damage

    check_number("workers", workers, low=1, high=64, integer=True)
    check_number("repairs", repairs, low=1, integer=True)
    check_number("steps", steps, low=1, integer=True)
    check_number("repeats", repeats, low=1, integer=True)
    total_threads = torch.get_num_threads()
    if threads is None:
        threads = max(1, total_threads // workers)
    check_number("threads", threads, low=1, high=256, integer=True)
    set_seed(0)
    teacher = StabilityCNN().eval()
    images = to_tensor(dataset.train_x[:2048])
    logits = lazarus.logits_table(teacher, images, Normalizer())
    students = [damage.noisy_copy(teacher, 0.35, seed=s).state_dict() for s in range(repairs)]
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    ctx = multiprocessing.get_context("spawn")

    def sequential() -> float:
        start = time.perf_counter()
        for i, state in enumerate(students):
            student = StabilityCNN()
            student.load_state_dict(state)
            lazarus.repair(student, teacher, config, images=images, teacher_logits=logits, seed=i)
        return repairs * steps / (time.perf_counter() - start)

    def parallel() -> float:
        barrier, out = ctx.Barrier(workers), ctx.Queue()
        shares = [list(range(repairs))[w::workers] for w in range(workers)]
        procs = [
            ctx.Process(
                target=_repairs_in_process,
                args=(
                    images,
                    logits,
                    teacher.state_dict(),
                    [students[i] for i in share],
                    share,
                    steps,
                    threads,
                    barrier,
                    out,
                ),
            )
            for share in shares
            if share
        ]
        for p in procs:
            p.start()
        spans = [out.get() for _ in procs]
        for p in procs:
            p.join()
        return repairs * steps / (max(e for _, e in spans) - min(s for s, _ in spans))

    sequential()  # warm-up
    alone, spread = [], []
    for _ in range(repeats):
        alone.append(sequential())
        spread.append(parallel())
    ratios = [b / a for a, b in zip(alone, spread, strict=True)]
    return {
        "workers": workers,
        "threads": threads,
        "one_process_threads": total_threads,
        "one_process_steps_per_s": statistics.median(alone),
        "workers_steps_per_s": statistics.median(spread),
        "speedup": statistics.median(ratios),
        "speedup_range": (min(ratios), max(ratios)),
    }
