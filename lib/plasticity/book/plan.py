"""The book's run list as data: every distinct run a profile needs, before anything runs.

:func:`plan` enumerates the base models, repairs, evolutions and probes of the chosen
chapters from the declarations in :mod:`plasticity.science.experiments` and
:mod:`plasticity.science.sovereign_experiments`, keyed exactly as the train-or-load cache keys
them, so it can say which are cached and estimate the rest. ``python -m plasticity
book plan`` prints it; ``book plan --execute`` computes the missing runs in order
(base models first), after which the notebooks only read the cache.

Cost estimates come from the cache itself: the median seconds per unit of work of the
cached runs of the same kind on this machine, or a default measured on a 2-core CPU
when none is cached yet.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd

from .. import lazarus
from ..engine import cache, lazarus_runs, reference
from ..engine.cache import cache_key
from ..engine.profiles import Profile, get_profile
from ..foundations import paths
from ..lazarus import datafree
from ..science import experiments, sovereign_experiments
from .chapters import chapter_number

#: Seconds per unit when the cache has no run of the kind yet: a base-model epoch, a
#: repair step (two 64-image passes), an inversion image-step, a NeuroSovereign
#: training epoch per 1000 images and chain, a probe's epoch cap (chapter 11). Each is
#: the median a full quick book measured on a slow 2-core CPU, divided by 1.64: the
#: geometric middle between it and a 2-core CPU that repaired 2.7x faster, so that a
#: cold estimate is within a factor of 2 on either.
DEFAULT_SECONDS = {
    "lazarus-base": 33.0,
    "lazarus-seed-recipe": 60.0,
    "lazarus-repair": 0.09,
    "lazarus-repair-explore": 0.09,
    "lazarus-rerun": 0.09,
    "lazarus-damage-costs": 12.0,
    "lazarus-inversion": 0.0021,
    "sovereign-run": 2.1,
    "sovereign-probe": 0.08,
}


@dataclass
class Run:
    """One distinct run: its cache kind and key, what it is, its chapters, its cost."""

    kind: str
    key: str
    label: str
    units: float
    chapters: set[str] = field(default_factory=set)
    cached: bool = False
    compute: Callable[[], object] | None = None
    order: int = 0
    #: For a Lazarus repair: ``() -> (lab, damage, config, seed)``; for a base model:
    #: ``() -> ("lazarus-base", dataset, training, seed, cache_dir)``; for a
    #: NeuroSovereign evolution: ``() -> ("sovereign-run", data, config, seed, chains,
    #: cache_dir)``; so that :func:`execute` can stack runs that share a schedule
    #: (``batch`` > 1).
    job: Callable[[], tuple] | None = None


def _repair_units(repair: dict) -> int:
    """A repair's work in plain repair steps: seeking disagreement adds a student and
    teacher forward and backward pass per seek step, about one repair step each."""
    return repair["steps"] * (1 + repair.get("seek_steps", 0))


def measured_rates(cache_dir, keys: set[str] | None = None) -> dict[str, float]:
    """Median seconds per unit of the cached runs, by kind; only of the runs ``keys``
    names when given (a plan prices its runs from its own profile's cached runs, never
    from another profile's, such as the smoke book's synthetic runs)."""
    root = paths.cache_dir(cache_dir)
    rates: dict[str, list[float]] = {}
    for kind, unit_of in (
        ("lazarus-base", lambda m: m["config"]["training"]["epochs"]),
        ("lazarus-seed-recipe", lambda m: m["config"]["epochs"]),
        ("lazarus-rerun", lambda m: _repair_units(m["config"]["repair"]["repair"])),
        ("lazarus-repair", lambda m: _repair_units(m["config"]["repair"])),
        (
            "lazarus-inversion",
            lambda m: m["config"]["config"]["pool"] * m["config"]["config"]["steps"],
        ),
        ("sovereign-probe", lambda m: m["config"]["max_epochs"]),
    ):
        for f in (root / kind).glob("*/result.json"):
            if keys is not None and f.parent.name not in keys:
                continue
            try:
                meta = json.loads(f.read_text())
                rates.setdefault(kind, []).append(meta["compute_seconds"] / unit_of(meta))
            except (OSError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):
                continue
    for f in (root / "sovereign-run").glob("*/result.json"):
        if keys is not None and f.parent.name not in keys:
            continue
        try:
            meta = json.loads(f.read_text())
            units = sovereign_experiments.work_units(meta["config"], meta.get("chains"))
            rates.setdefault("sovereign-run", []).append(meta["result"]["seconds"] / units)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):
            continue
    return {k: statistics.median(v) for k, v in rates.items() if v}


def plan(
    profile: str | Profile = "quick",
    only: list[str] | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[Run]:
    """The distinct runs the chosen chapters need (all chapters when ``only`` is empty)."""
    from .chapter import Chapter
    from .chapters import chapters, select

    prof = get_profile(profile)
    # validated as `book run` validates it: a name that is no chapter is a ParameterError
    selected = (
        {name for c in select(chapters(), only) for name in (c.number, c.stem)} if only else set()
    )

    def wanted(chapter: str) -> bool:
        return not selected or chapter_number(chapter) in selected or chapter in selected

    runs: dict[tuple[str, str], Run] = {}
    root = paths.cache_dir(cache_dir)

    def add(run: Run, chapter: str) -> None:
        key = (run.kind, run.key)
        if key not in runs:
            run.cached = cache.usable(root / run.kind / run.key)
            runs[key] = run
        runs[key].chapters.add(chapter_number(chapter))

    lazarus_chapters = [c for e, c in experiments.CHAPTERS.items() if wanted(c)]
    if lazarus_chapters or wanted("01_base_model"):
        ch = Chapter("01_base_model", prof, data_dir=data_dir, headless=True)
        ds = ch.dataset("cifar10")
        scale = prof.lazarus
        base_keys = {}
        # chapter 01 trains and shows one base model per seed the Lazarus chapters use
        for s in experiments.seeds_needed(prof) if scale.base_per_seed else (0,):
            cfg = lazarus_runs.base_config(ds, prof.base, s)
            key = cache_key("lazarus-base", cfg, lazarus.BASE_VERSION)
            base_keys[s] = key
            add(
                Run(
                    "lazarus-base",
                    key,
                    f"base model, seed {s}",
                    prof.base.epochs,
                    compute=lambda s=s: lazarus_runs.base_model(
                        ds, prof.base, s, progress=False, cache_dir=cache_dir
                    ),
                    order=0,
                    job=lambda s=s: ("lazarus-base", ds, prof.base, s, cache_dir),
                ),
                "01_base_model",
            )
        if wanted("01_base_model"):
            # the seed's own recipe on the same data, the reference chapter 01 reads against
            for s in scale.reference_seeds:
                cfg = reference.recipe_config(ds, prof.base, s)
                add(
                    Run(
                        "lazarus-seed-recipe",
                        cache_key("lazarus-seed-recipe", cfg, reference.REFERENCE_VERSION),
                        f"the seed's recipe, seed {s}",
                        prof.base.epochs,
                        compute=lambda s=s: reference.seed_recipe(
                            ds, prof.base, s, cache_dir=cache_dir
                        ),
                        order=0,
                    ),
                    "01_base_model",
                )
            for s, key in base_keys.items():
                add(
                    Run(
                        "lazarus-damage-costs",
                        cache_key(
                            "lazarus-damage-costs",
                            reference.base_costs_config(key, s),
                            reference.REFERENCE_VERSION,
                        ),
                        f"damage costs of the base model, seed {s}",
                        1,
                        compute=lambda s=s: reference.base_damage_costs(
                            ds, prof.base, s, cache_dir=cache_dir
                        ),
                        order=1,
                    ),
                    "01_base_model",
                )
        if not scale.base_per_seed:
            base_keys = dict.fromkeys(experiments.seeds_needed(prof), base_keys[0])
        other = None
        labs: dict[int, lazarus_runs.Lab] = {}

        def lab_for(seed: int) -> lazarus_runs.Lab:
            nonlocal other
            if other is None:
                other = ch.dataset("cifar100")
            base_seed = seed if scale.base_per_seed else 0
            if base_seed not in labs:
                labs[base_seed] = lazarus_runs.Lab(
                    ds,
                    prof.base,
                    base_seed,
                    extra_inputs={"cifar100": other},
                    inversion=lazarus_runs.inversion_config(prof),
                    cache_dir=cache_dir,
                )
            return labs[base_seed]

        chapter_cells = [
            (chapter, c)
            for name, chapter in experiments.CHAPTERS.items()
            if chapter in lazarus_chapters
            for c in experiments.cells(name, prof)
        ] + [
            (chapter, c)
            for chapter in lazarus_chapters
            for c in experiments.slider_cells(chapter, prof)
        ]
        inversion = lazarus_runs.inversion_config(prof)
        for chapter, c in chapter_cells:
            if c.config.inputs == "cifar100":
                fp = ch.dataset("cifar100").fingerprint
            elif c.config.inputs == "train":
                fp = ds.fingerprint
            elif c.config.inputs in ("inversion", "inversion_plain"):
                base_seed = c.seed if scale.base_per_seed else 0
                plain = c.config.inputs == "inversion_plain"
                synth = lazarus.plain_inversion(inversion) if plain else inversion
                inv_cfg = lazarus_runs.inversion_config_key(base_keys[c.seed], synth, base_seed)
                fp = cache_key("lazarus-inversion", inv_cfg, datafree.INVERSION_VERSION)
                add(
                    Run(
                        "lazarus-inversion",
                        fp,
                        f"{'plain ' if plain else ''}teacher inversion pool, base seed {base_seed}",
                        synth.pool * synth.steps,
                        compute=lambda s=c.seed, p=plain: lab_for(s).inversion_pool(p),
                        order=1,
                    ),
                    chapter,
                )
            else:
                fp = c.config.inputs
            cfg = lazarus_runs.repair_config_key(base_keys[c.seed], c.damage, c.config, c.seed, fp)
            if c.rerun:
                add(
                    Run(
                        "lazarus-rerun",
                        cache_key("lazarus-rerun", {"repair": cfg}, lazarus.REPAIR_VERSION),
                        f"computed again: {c.condition}, {c.method}, seed {c.seed}",
                        _repair_units(asdict(c.config)),
                        compute=lambda c=c: lab_for(c.seed).rerun(c.damage, c.config, c.seed),
                        order=1,
                    ),
                    chapter,
                )
                continue
            key = cache_key("lazarus-repair", cfg, lazarus.REPAIR_VERSION)
            add(
                Run(
                    "lazarus-repair",
                    key,
                    f"{c.condition}, {c.method}, seed {c.seed} ({c.role})",
                    _repair_units(asdict(c.config)),
                    compute=lambda c=c: lab_for(c.seed).run(c.damage, c.config, c.seed),
                    order=1,
                    job=lambda c=c: (lab_for(c.seed), c.damage, c.config, c.seed),
                ),
                chapter,
            )

    def cifar100():
        chapter = Chapter("09_sovereign_evolution", prof, data_dir=data_dir, headless=True)
        return chapter.dataset("cifar100")

    for run in sovereign_experiments.runs(prof, wanted, cifar100, cache_dir=cache_dir):
        add(
            Run(
                run["kind"],
                run["key"],
                run["label"],
                run["units"],
                compute=run["compute"],
                order=run["order"],
                job=run.get("job"),
            ),
            run["chapter"],
        )
    return sorted(runs.values(), key=lambda r: (r.order, r.kind, r.label))


def _recorded_seconds(run: Run, cache_dir) -> float | None:
    """The compute time a cached run recorded when it was computed (None if unknown)."""
    path = paths.cache_dir(cache_dir) / run.kind / run.key / "result.json"
    try:
        meta = json.loads(path.read_text())
        if "compute_seconds" in meta:
            return float(meta["compute_seconds"])
        return float(meta["result"]["seconds"])  # an evolution records its own time
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def estimate(runs: list[Run], cache_dir=None) -> pd.DataFrame:
    """The run list as a table: an estimated time for each missing run, and for each
    cached run the compute time it recorded (``recorded_seconds``), so that the two
    can be compared and a cold run's total read off a warm cache."""
    rates = {**DEFAULT_SECONDS, **measured_rates(cache_dir, {r.key for r in runs})}
    rows = []
    for r in runs:
        rate = rates.get(r.kind, 0.0)
        rows.append(
            {
                "kind": r.kind,
                "run": r.label,
                "chapters": ",".join(sorted(r.chapters)),
                "cached": r.cached,
                "est_seconds": 0.0 if r.cached else round(rate * r.units, 1),
                "recorded_seconds": _recorded_seconds(r, cache_dir) if r.cached else None,
                "rate_seconds": round(rate * r.units, 1),
                "key": r.key,
            }
        )
    columns = ["kind", "run", "chapters", "cached", "est_seconds", "recorded_seconds"]
    return pd.DataFrame(rows, columns=[*columns, "rate_seconds", "key"])
