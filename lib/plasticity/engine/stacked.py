"""Many Lazarus repairs as one computation: the missing repairs of one configuration
stacked K at a time (:func:`plasticity.lazarus.repair_many`), each cached under the key
it has alone.
"""

from __future__ import annotations

import time

from ..foundations.checks import check_number
from ..lazarus import (
    REPAIR_VERSION,
    Damage,
    RepairConfig,
)
from .cache import train_or_load
from .lazarus_runs import Lab


def batchable(config: RepairConfig) -> bool:
    """Whether :func:`run_grid` can run repairs of ``config`` together."""
    return config.seek_steps == 0 and config.precision == "fp32" and config.teacher == "original"


def run_grid(jobs: list[tuple[Lab, Damage, RepairConfig, int]], batch: int = 8) -> list[dict]:
    """:meth:`Lab.run` for every ``(lab, damage, config, seed)``; the missing repairs of
    one config run ``batch`` at a time as one computation
    (:func:`plasticity.lazarus.many.repair_many`), each cached as its own entry, under the
    same key as when run alone. Their results equal the sequential ones to float
    tolerance, and record ``batched`` (how many ran together) and ``repair_seconds``
    (the group's wall time shared equally); ``cached`` is False for every result
    computed by this call."""
    from ..lazarus import repair_many
    from .cache import is_cached

    check_number("batch", batch, low=1, integer=True)
    for *_, seed in jobs:
        check_number("seed", seed, low=0, integer=True)
    missing: dict[RepairConfig, list[int]] = {}
    computed: set[int] = set()
    for i, (lab, dmg, config, seed) in enumerate(jobs):
        key = lab.repair_key(dmg, config, seed)
        if (
            batch > 1
            and batchable(config)
            and not is_cached("lazarus-repair", key, REPAIR_VERSION, lab.cache_dir)
        ):
            missing.setdefault(config, []).append(i)
    for config, members in missing.items():
        for first in range(0, len(members), batch):
            chunk = members[first : first + batch]
            if len(chunk) == 1:
                continue  # Lab.run below computes it alone
            group = [jobs[i] for i in chunk]
            computed.update(chunk)
            start = time.perf_counter()
            pending = [lab.prepare(dmg, config) for lab, dmg, _, _ in group]
            checkpoints = [
                lab.checkpoint_callback(p) for (lab, *_), p in zip(group, pending, strict=True)
            ]
            histories = repair_many(
                [p.student for p in pending],
                [p.teacher for p in pending],
                config,
                seeds=[seed for *_, seed in group],
                images=[lab.images(config.inputs) for lab, *_ in group],
                labels=[p.labels for p in pending],
                teacher_logits=[p.teacher_logits for p in pending],
                on_checkpoint=lambda step, k, model, cps=checkpoints: cps[k](step, model),
            )
            share = (time.perf_counter() - start) / len(group)
            for (lab, dmg, _, seed), p, history in zip(group, pending, histories, strict=True):
                state, result = lab.finish(dmg, config, seed, p, history, seconds=share)
                result["batched"] = len(group)
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
