"""Every measured Lazarus table, declared once: its grid of runs, its columns, its summary.

A chapter calls :func:`run` with an experiment's name and gets one row per run
(seed, condition, method, role, and the numbers of :func:`result_row`);
it saves that table under the experiment's name and plots it. The grid lives here,
not in the notebook, so that:

- the same run is shared by every chapter that needs it (one cache entry per distinct
  condition, whatever chapter asks first);
- the whole book's run list is data (:func:`plan`), printed by ``book plan`` before
  anything runs and computed by ``book plan --execute``;
- the headline claims (:mod:`plasticity.science.headlines`) know which table and columns they
  read.

Two roles: ``verdict`` runs follow the seed's protocol (``repair_steps``, all seeds);
``exploratory`` runs (``explore_steps``, ``explore_seeds``) widen the picture and never
decide a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from ..engine.lazarus_runs import Lab
from ..engine.profiles import Profile
from ..foundations.checks import check_choice
from ..lazarus import Damage, RepairConfig, method_config
from . import stats

VERDICT = "verdict"
EXPLORATORY = "exploratory"

#: The V-shape's damage (manifesto section 3) and the alpha of the seed's baselines (7.3).
VSHAPE_ALPHA = 0.35
BASELINE_ALPHA = 0.2
#: Pruning levels of the seed's headline numbers (sections 3, 4.2, 7.2, 8.3).
#: Methods of the baseline table that need the seed's protocol, and the exploratory rest.
VERDICT_METHODS = ("full", "consistency_only")
EXPLORE_METHODS = ("stability_only", "entropy_only", "noise_only", "kd", "finetune_labels")
#: The teacher x inputs grid of chapter 7: the cells the claims read, and the rest.
NEEDS_VERDICT = (
    ("original", "train"),
    ("original", "cifar100"),
    ("original", "gaussian"),
    ("damaged", "train"),
)
NEEDS_EXPLORE = (("damaged", "cifar100"), ("damaged", "gaussian"), ("original", "uniform"))
#: The traditional repairs of 80 % pruning (frozen mask) that chapter 6 sets beside
#: Lazarus v3: magnitude-prune-then-fine-tune with the training labels (cross-entropy) and
#: standard temperature knowledge distillation (T = 4) from the original.
TRADITIONAL_METHODS = ("finetune_labels", "kd")
TRADITIONAL_PRUNE = (0.8, "frozen")
#: The traditional repairs and v3 beside them run on the first five verdict seeds (each
#: seed's three repairs start from a base model trained again); the V-shape's repair is
#: computed again for its weight distance on the first three.
TRADITIONAL_SEEDS = 5
BASIN_NOISE_SEEDS = 3
#: The data-free ladder (chapter 7b): each source's name, its change to the protocol,
#: and what it sees (no image, other real images, the training images).
NO_IMAGE = "no image"
DATAFREE_SOURCES = (
    ("white noise", {"inputs": "gaussian"}, NO_IMAGE),
    ("pink noise", {"inputs": "pink"}, NO_IMAGE),
    ("dead leaves", {"inputs": "dead_leaves"}, NO_IMAGE),
    ("dead leaves, seeking disagreement", {"inputs": "dead_leaves", "seek_steps": 2}, NO_IMAGE),
    ("teacher inversion", {"inputs": "inversion"}, NO_IMAGE),
    ("CIFAR-100 images", {"inputs": "cifar100"}, "other real images"),
    ("CIFAR-10 training images", {"inputs": "train"}, "training images"),
)
#: Exploratory: plain class-score inversion (no priors, no diversity), to measure
#: what the priors and the diversity term of the inversion above are worth.
DATAFREE_EXPLORE = (("plain class-score inversion", {"inputs": "inversion_plain"}, NO_IMAGE),)
#: The two damages of the ladder: the V-shape's noise and 80 % pruning, frozen mask.
DATAFREE_PRUNE = (0.8, "frozen")


def datafree_source(method: str) -> tuple[dict, str]:
    """The protocol change and the kind of a ladder source, by its name."""
    for name, change, kind in DATAFREE_SOURCES + DATAFREE_EXPLORE:
        if name == method:
            return change, kind
    check_choice("source", method, [n for n, _, _ in DATAFREE_SOURCES + DATAFREE_EXPLORE])
    raise AssertionError  # unreachable


@dataclass(frozen=True)
class Cell:
    """One repair of a grid: the base model and repair seed, the damage, the config."""

    experiment: str
    condition: str
    method: str
    damage: Damage
    config: RepairConfig
    seed: int
    role: str
    #: Computed again from the base model's present weights (``Lab.rerun``), beside the
    #: recorded run of the same key, so that it pairs with runs computed from them.
    rerun: bool = False

    @property
    def needs_cifar100(self) -> bool:
        return self.config.inputs == "cifar100"


def _noise(alpha: float, seed: int) -> Damage:
    return Damage("noise", alpha, seed=seed)


def condition(d: Damage) -> str:
    """The label of a damage in the chapters' tables ("noise alpha=0.2", "prune 70%
    frozen", "prune matched 1.90 frozen")."""
    if d.matched:
        return f"prune matched {d.target_lost:.2f} {d.mode}"
    if d.kind == "noise":
        return f"noise alpha={d.level:g}"
    return f"prune {d.level:.0%} {d.mode}"


def _cells(name: str, profile: Profile) -> list[Cell]:
    scale = profile.lazarus
    protocol = RepairConfig(steps=scale.repair_steps)
    explore = RepairConfig(steps=scale.explore_steps)
    out: list[Cell] = []

    def add(damage_for, method, config, seeds, role, rerun=False):
        for s in seeds:
            d = damage_for(s)
            out.append(Cell(name, condition(d), method, d, config, s, role, rerun))

    if name == "vshape":
        add(lambda s: _noise(VSHAPE_ALPHA, s), "full", protocol, scale.seeds, VERDICT)
    elif name == "curve":
        for a in scale.alphas:
            add(lambda s, a=a: _noise(a, s), "full", protocol, scale.seeds, VERDICT)
    elif name == "ablation":
        for m in VERDICT_METHODS:
            cfg = method_config(m, protocol)
            add(lambda s: _noise(BASELINE_ALPHA, s), m, cfg, scale.seeds, VERDICT)
        for m in EXPLORE_METHODS:
            cfg = method_config(m, explore)
            add(lambda s: _noise(BASELINE_ALPHA, s), m, cfg, scale.explore_seeds, EXPLORATORY)
    elif name == "pruning":
        for amount, mode in scale.verdict_prune:
            add(
                lambda s, a=amount, m=mode: Damage("prune", a, m, seed=0),
                "full",
                protocol,
                scale.seeds,
                VERDICT,
            )
        for lost, mode in scale.matched_prune:
            add(
                lambda s, t=lost, m=mode: Damage("prune", 0.0, m, seed=0, target_lost=t),
                "full",
                protocol,
                scale.seeds,
                VERDICT,
            )
        for amount in scale.prune_amounts:
            for mode in ("frozen", "regrow"):
                if (amount, mode) in scale.verdict_prune:
                    continue
                add(
                    lambda s, a=amount, m=mode: Damage("prune", a, m, seed=0),
                    "full",
                    explore,
                    scale.explore_seeds,
                    EXPLORATORY,
                )
    elif name == "significance":
        # Every run here is shared with chapters 2 to 5: this chapter adds tests, not runs.
        for m in VERDICT_METHODS:
            add(
                lambda s: _noise(BASELINE_ALPHA, s),
                m,
                method_config(m, protocol),
                scale.seeds,
                VERDICT,
            )
        add(lambda s: _noise(VSHAPE_ALPHA, s), "full", protocol, scale.seeds, VERDICT)
        add(
            lambda s: Damage("prune", 0.8, "frozen", seed=0), "full", protocol, scale.seeds, VERDICT
        )
    elif name == "needs":
        for cells, role, base in (
            (NEEDS_VERDICT, VERDICT, protocol),
            (NEEDS_EXPLORE, EXPLORATORY, explore),
        ):
            seeds = scale.seeds if role == VERDICT else scale.explore_seeds
            for teacher, inputs in cells:
                cfg = replace(base, teacher=teacher, inputs=inputs)
                add(
                    lambda s: _noise(VSHAPE_ALPHA, s),
                    f"teacher={teacher}, inputs={inputs}",
                    cfg,
                    seeds,
                    role,
                )
    elif name == "datafree":
        amount, mode = DATAFREE_PRUNE
        for damage_for in (
            lambda s: _noise(VSHAPE_ALPHA, s),
            lambda s: Damage("prune", amount, mode, seed=0),
        ):
            for source, change, _ in DATAFREE_SOURCES:
                cfg = replace(protocol, teacher="original", **change)
                add(damage_for, source, cfg, scale.seeds, VERDICT)
            for source, change, _ in DATAFREE_EXPLORE:
                # the protocol's steps, so that the row compares with the ladder's
                cfg = replace(protocol, teacher="original", **change)
                add(damage_for, source, cfg, scale.explore_seeds, EXPLORATORY)
    elif name == "traditional":
        # §4.3 "works best where traditional methods break", at its strong damage (80 %
        # pruning, frozen mask): Lazarus v3 computed again from the same base weights as
        # the two traditional repairs, at equal steps on the same training images
        amount, mode = TRADITIONAL_PRUNE
        for method in ("full", *TRADITIONAL_METHODS):
            add(
                lambda s: Damage("prune", amount, mode, seed=0),
                method,
                method_config(method, protocol),
                scale.seeds[:TRADITIONAL_SEEDS],
                VERDICT,
                rerun=method == "full",
            )
        # the basin (§6, §9): the weight distance before and after the V-shape's repair
        add(
            lambda s: _noise(VSHAPE_ALPHA, s),
            "full",
            protocol,
            scale.seeds[:BASIN_NOISE_SEEDS],
            VERDICT,
            rerun=True,
        )
    return out


EXPERIMENTS = (
    "vshape",
    "curve",
    "ablation",
    "pruning",
    "significance",
    "needs",
    "datafree",
    "traditional",
)

#: Which chapter runs (and saves) each experiment.
CHAPTERS = {
    "vshape": "02_lazarus_vshape",
    "curve": "03_lazarus_recovery_curve",
    "ablation": "04_lazarus_ablation",
    "pruning": "05_lazarus_pruning",
    "significance": "06_lazarus_significance",
    "needs": "07_lazarus_what_it_needs",
    "datafree": "07b_lazarus_data_free",
    "traditional": "06_lazarus_significance",
}


def cells(name: str, profile: Profile) -> list[Cell]:
    """The runs of experiment ``name`` under ``profile``."""
    check_choice("experiment", name, EXPERIMENTS)
    return _cells(name, profile)


def describe(name: str, profile: Profile) -> pd.DataFrame:
    """The grid as a table: what a chapter shows before it runs anything."""
    rows = [
        {
            "condition": c.condition,
            "method": c.method,
            "role": c.role,
            "steps": c.config.steps,
            "seed": c.seed,
        }
        for c in cells(name, profile)
    ]
    df = pd.DataFrame(rows)
    return (
        df.groupby(["condition", "method", "role", "steps"], sort=False)["seed"]
        .agg(lambda s: ", ".join(str(v) for v in s))
        .rename("seeds")
        .reset_index()
    )


def run(name: str, labs: dict[int, Lab], profile: Profile) -> pd.DataFrame:
    """Run (or read from the cache) every cell of ``name``; one row per run.

    ``labs`` maps each seed to its :class:`~plasticity.engine.lazarus_runs.Lab` (see
    :func:`plasticity.engine.lazarus_runs.chapter_labs`).
    """
    rows = []
    for c in cells(name, profile):
        if c.seed not in labs:
            raise KeyError(f"no Lab for seed {c.seed}; build labs for {sorted(labs)}")
        lab = labs[c.seed]
        r = (lab.rerun if c.rerun else lab.run)(c.damage, c.config, c.seed)
        rows.append(
            result_row(
                r,
                condition=c.condition,
                method=c.method,
                role=c.role,
                seed=c.seed,
                damage=c.damage.kind,
                level=r.get("prune_amount") or c.damage.level,
                mode=c.damage.mode if c.damage.kind == "prune" else "",
            )
        )
    df = pd.DataFrame(rows)
    df["lost"] = df["original"] - df["damaged"]
    test_images = next(iter(labs.values())).test_size
    df["lost_images"] = (df["lost"] * test_images / 100).round().astype(int)
    return df


def cell_config(name: str, profile: Profile, damage: Damage, seed: int) -> RepairConfig | None:
    """The config of experiment ``name``'s run of ``damage`` on ``seed`` (exploratory
    levels run fewer steps than the protocol), or None when the grid has no such run."""
    for c in cells(name, profile):
        if c.seed == seed and c.damage.key() == damage.key():
            return c.config
    return None


def slider_grid(name: str, profile: Profile, seed: int) -> tuple[float, ...]:
    """The values a chapter's slider offers for ``seed``: the damage levels the
    experiment computes on that seed (for pruning, the levels with a regrow run, which
    the chapter's figure also shows). Static pages precompute exactly these."""
    levels = {
        c.damage.level
        for c in cells(name, profile)
        if c.seed == seed and (name != "pruning" or c.damage.mode == "regrow")
    }
    return tuple(sorted(levels))


#: Chapters whose slider shows another experiment's runs: chapter 2's alpha slider
#: offers the alphas of chapter 3's curve (same protocol, so the frames are those runs).
SLIDER_SOURCES = {"02_lazarus_vshape": "curve"}


def slider_cells(chapter: str, profile: Profile, seed: int = 0) -> list[Cell]:
    """The runs ``chapter``'s slider renders for ``seed`` beyond the chapter's own
    experiment (the notebooks' default seed is 0), so that a plan of that chapter alone
    still holds every run its static frames need."""
    source = SLIDER_SOURCES.get(chapter)
    if source is None:
        return []
    grid = set(slider_grid(source, profile, seed))
    return [c for c in cells(source, profile) if c.seed == seed and c.damage.level in grid]


def seeds_needed(profile: Profile) -> tuple[int, ...]:
    """Every seed any Lazarus experiment uses."""
    return tuple(sorted(set(profile.lazarus.seeds) | set(profile.lazarus.explore_seeds)))


# ---------------------------------------------------------------- summaries

#: The statistics of a summary, one name each across the book.
SUMMARY_STATS = ("n", "mean", "std", "ci_low", "ci_high")


def summarize(df: pd.DataFrame, by: list[str], values: list[str]) -> pd.DataFrame:
    """Per group of ``by``: n, mean, sample std and 95 % t interval of each value,
    named ``<value>_<stat>`` (``n`` once)."""
    rows = []
    for key, group in df.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        for v in values:
            s = stats.summarize(group[v].astype(float))
            row["n"] = s["n"]
            for stat in SUMMARY_STATS[1:]:
                row[f"{v}_{stat}"] = s[stat]
        rows.append(row)
    return pd.DataFrame(rows)


#: Columns of every paired comparison table (chapters 6 and 10 alike).
PAIRED_COLUMNS = (
    "comparison",
    "condition",
    "n",
    "mean_diff",
    "std_diff",
    "ci_low",
    "ci_high",
    "t_p",
    "wilcoxon_p",
)


def paired(
    df: pd.DataFrame, condition: str, a: str, b: str | None, value: str, comparison: str
) -> dict:
    """Method ``a`` minus method ``b`` (or minus the damaged model when ``b`` is None)
    on ``value``, seed by seed, within one condition."""
    rows = df[df["condition"] == condition]
    left = rows[rows["method"] == a].set_index("seed")
    if b is None:
        x, y = left[value], left["damaged"]
    else:
        right = rows[rows["method"] == b].set_index("seed")
        common = left.index.intersection(right.index)
        x, y = left.loc[common, value], right.loc[common, value]
    t = stats.paired_test(x.astype(float).tolist(), y.astype(float).tolist())
    return {
        "comparison": comparison,
        "condition": condition,
        "n": t["diff_n"],
        "mean_diff": t["diff_mean"],
        "std_diff": t["diff_std"],
        "ci_low": t["diff_ci_low"],
        "ci_high": t["diff_ci_high"],
        "t_p": t["t_p"],
        "wilcoxon_p": t["wilcoxon_p"],
    }


#: Columns that hold p-values: rounded to significant digits, never to decimals.
P_COLUMNS = ("t_p", "wilcoxon_p")


def rounded(df: pd.DataFrame, decimals: int = 4, p_digits: int = 3) -> pd.DataFrame:
    """``df`` with its numbers rounded to ``decimals`` places for a saved or shown table,
    except p-values, which keep ``p_digits`` significant digits: rounded to decimals,
    p = 2.5e-05 would read 0, a probability no test gives."""
    out = df.round(decimals)
    for col in P_COLUMNS:
        if col in df.columns:
            out[col] = [
                float(f"{p:.{p_digits}g}") if math.isfinite(p) else p for p in df[col].astype(float)
            ]
    return out


def budget_table(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of accuracy, recovery and agreement after each recorded step."""
    steps = sorted({int(c.rsplit("_", 1)[1]) for c in df.columns if c.startswith("restored_at_")})
    rows = []
    for _, r in df.iterrows():
        rows.append(
            {
                "condition": r["condition"],
                "method": r["method"],
                "seed": r["seed"],
                "role": r["role"],
                "step": 0,
                "restored": r["damaged"],
                "recovery_pct": 0.0,
                "agreement": r["agreement_damaged"],
            }
        )
        for step in [*steps, int(r["steps"])]:
            if step > r["steps"]:
                continue
            final = step == r["steps"]
            acc = r["restored"] if final else r.get(f"restored_at_{step}", math.nan)
            if isinstance(acc, float) and math.isnan(acc):
                continue
            rows.append(
                {
                    "condition": r["condition"],
                    "method": r["method"],
                    "seed": r["seed"],
                    "role": r["role"],
                    "step": step,
                    "restored": acc,
                    "recovery_pct": r["recovery_pct"] if final else r[f"recovery_pct_at_{step}"],
                    "agreement": r["agreement_restored"] if final else r[f"agreement_at_{step}"],
                }
            )
    return pd.DataFrame(rows)


def result_row(result: dict, **labels) -> dict:
    """A flat table row of the headline numbers of one repair result."""
    row = dict(labels)
    row["steps"] = result["method_config"]["steps"]
    for key in (
        "original",
        "damaged",
        "restored",
        "delta",
        "recovery_pct",
        "agreement_damaged",
        "agreement_restored",
        "agreement_improvement",
        "top1_damaged",
        "top1_restored",
        "entropy_damaged",
        "entropy_restored",
        "floor_active_pct",
    ):
        row[key] = result[key]
    for key in ("distance_damaged", "distance_restored"):  # recorded since the basin row
        if result.get(key) is not None:
            row[key] = result[key]
    # measured where the run was computed (a cache hit reads it back)
    row["repair_seconds"] = result.get("repair_seconds", float("nan"))
    if result.get("regrowth"):
        row["regrowth_nonzero_pct"] = result["regrowth"]["nonzero_pct"]
        row["regrowth_above_threshold_pct"] = result["regrowth"]["above_threshold_pct"]
        row["regrowth_norm_restored_pct"] = result["regrowth"].get("norm_restored_pct")
        for k in ("cosine", "cosine_null", "cosine_null_sd"):
            row[f"regrowth_{k}"] = result["regrowth"].get(k, math.nan)
        row["sparsity_restored"] = result["sparsity_restored"]
    for point in result.get("budget", []):
        if 0 < point["step"] < row["steps"]:
            row[f"restored_at_{point['step']}"] = point["accuracy"]
            row[f"recovery_pct_at_{point['step']}"] = point["recovery_pct"]
            row[f"agreement_at_{point['step']}"] = point["agreement"]
    return row
