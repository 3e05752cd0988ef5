"""Many Lazarus repairs as one computation: the missing repairs that can share one
stack (seeds, damages, base models and configurations that agree on the schedule, see
:func:`plasticity.lazarus.stack_key`) run K at a time
(:func:`plasticity.lazarus.repair_many`), each cached under the key it has alone.

How many at a time is the engine's choice by device (:func:`default_batch`): on a GPU
stacking pays (one launch for K small networks), on a CPU it loses, so there the
default stays one at a time.
"""

from __future__ import annotations

import time

from ..foundations.checks import check_number
from ..lazarus import (
    REPAIR_VERSION,
    Damage,
    RepairConfig,
    stack_key,
)
from .cache import train_or_load
from .lazarus_runs import Lab


def batchable(config: RepairConfig) -> bool:
    """Whether :func:`run_grid` can run repairs of ``config`` together."""
    return config.seek_steps == 0 and config.precision == "fp32" and config.teacher == "original"


#: Repairs per stack on a GPU: at K = 32 and 64 an H200 ran 0.53 and 0.51 ms per
#: repair-step against 2.6 alone (f8fee66); beyond, the gain flattens.
GPU_BATCH = 32


def default_batch(device) -> int:
    """How many repairs the engine stacks by default on ``device``: ``GPU_BATCH`` on
    CUDA, one (no stacking) elsewhere."""
    import torch

    return GPU_BATCH if torch.device(device).type == "cuda" else 1


def group_key(lab: Lab, dmg: Damage, config: RepairConfig) -> tuple | None:
    """The stack a repair can join (None: it runs alone): its schedule
    (:func:`~plasticity.lazarus.stack_key`, with its pool's size) and whether its
    student carries frozen pruning masks (stacked students share their tensors)."""
    if not batchable(config):
        return None
    masked = dmg.kind == "prune" and dmg.mode == "frozen"
    return (stack_key(config, lab.pool_size(config.inputs)), masked)


def group_plan(keys: list, batch: int) -> list[list[int]]:
    """The order of computation for runs with these group keys: lists of indices, each
    one stack (at most ``batch`` runs of one key, in the order given) or one run alone
    (a key of None, or ``batch`` = 1)."""
    check_number("batch", batch, low=1, integer=True)
    groups: dict[object, list[int]] = {}
    plan: list[list[int]] = []
    for i, key in enumerate(keys):
        if key is None or batch == 1:
            plan.append([i])
            continue
        if key not in groups or len(groups[key]) == batch:
            groups[key] = []
            plan.append(groups[key])
        groups[key].append(i)
    return plan


def run_grid(
    jobs: list[tuple[Lab, Damage, RepairConfig, int]],
    batch: int = 8,
    compile: str | None = None,
) -> list[dict]:
    """:meth:`Lab.run` for every ``(lab, damage, config, seed)``; the missing repairs
    that can share a stack (:func:`group_key`) run ``batch`` at a time as one computation
    (:func:`plasticity.lazarus.many.repair_many`), each cached as its own entry, under the
    same key as when run alone. Their results equal the sequential ones to float
    tolerance, and record ``batched`` (how many ran together) and ``repair_seconds``
    (the group's wall time shared equally); ``cached`` is False for every result
    computed by this call. ``compile`` (opt-in) compiles the stacks' forward pass
    (:data:`plasticity.foundations.compute.COMPILE_MODES`); a result trained so records it."""
    from ..lazarus import repair_many
    from .cache import is_cached

    check_number("batch", batch, low=1, integer=True)
    for *_, seed in jobs:
        check_number("seed", seed, low=0, integer=True)
    missing: list[int] = []
    for i, (lab, dmg, config, seed) in enumerate(jobs):
        key = lab.repair_key(dmg, config, seed)
        if not is_cached("lazarus-repair", key, REPAIR_VERSION, lab.cache_dir):
            missing.append(i)
    keys = [group_key(jobs[i][0], jobs[i][1], jobs[i][2]) for i in missing]
    computed: set[int] = set()
    for chunk in group_plan(keys, batch):
        if len(chunk) == 1:
            continue  # Lab.run below computes it alone
        members = [missing[c] for c in chunk]
        group = [jobs[i] for i in members]
        computed.update(members)
        start = time.perf_counter()
        pending = [lab.prepare(dmg, config) for lab, dmg, config, _ in group]
        checkpoints = [
            lab.checkpoint_callback(p) for (lab, *_), p in zip(group, pending, strict=True)
        ]
        histories = repair_many(
            [p.student for p in pending],
            [p.teacher for p in pending],
            [config for _, _, config, _ in group],
            seeds=[seed for *_, seed in group],
            images=[lab.images(config.inputs) for lab, _, config, _ in group],
            labels=[p.labels for p in pending],
            teacher_logits=[p.teacher_logits for p in pending],
            on_checkpoint=lambda step, k, model, cps=checkpoints: cps[k](step, model),
            compile=compile,
        )
        share = (time.perf_counter() - start) / len(group)
        for (lab, dmg, config, seed), p, history in zip(group, pending, histories, strict=True):
            state, result = lab.finish(dmg, config, seed, p, history, seconds=share)
            result["batched"] = len(group)
            if compile is not None:
                result["compiled"] = compile
            train_or_load(
                "lazarus-repair",
                lab.repair_key(dmg, config, seed),
                lambda state=state, result=result: (state, result),
                version=REPAIR_VERSION,
                cache_dir=lab.cache_dir,
                seconds=share,
            )
    results = [lab.run(dmg, config, seed) for lab, dmg, config, seed in jobs]
    for i in computed:
        results[i]["cached"] = False
    return results
