"""The headline claims of both seed documents, each beside our number and a verdict.

Every row is computed from the tables the chapters saved in ``figures/`` (never typed
by hand), with the rule that turns the two numbers into a verdict written next to it:

- ``reproduces``: our measurement supports the claim by the stated rule;
- ``weaker``: same direction, but clearly smaller, or not significant over our seeds;
- ``does not reproduce``: the opposite direction, or a claim our measurement refutes.

A claim whose table lacks the rows it needs (a chapter not run, or a profile that
skips the setting) gets the verdict ``not measured`` and says which table is missing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from . import paths, published

REPRODUCES = "reproduces"
WEAKER = "weaker"
FAILS = "does not reproduce"
NOT_MEASURED = "not measured"
VERDICTS = (REPRODUCES, WEAKER, FAILS, NOT_MEASURED)

#: Within this share of the seed's number, a same-direction effect "reproduces".
CLOSE = 0.9
#: Significance level for paired tests over seeds.
ALPHA_TEST = 0.05


class MissingTable(LookupError):
    """A chapter's saved table is not in the figures folder."""


@dataclass(frozen=True)
class Claim:
    paper: str
    chapter: str
    claim: str
    seed: str
    ours: str
    verdict: str
    rule: str

    def row(self) -> dict:
        return {
            "paper": self.paper,
            "chapter": self.chapter,
            "claim": self.claim,
            "seed document": self.seed,
            "ours": self.ours,
            "verdict": self.verdict,
            "rule": self.rule,
        }


class Tables:
    """Read access to the chapters' saved tables (``<figures>/<chapter>/<name>.csv``)."""

    def __init__(self, figures_dir: str | os.PathLike | None = None):
        self.root = paths.figures_dir(figures_dir)
        self.used: list[str] = []

    def __call__(self, chapter: str, name: str) -> pd.DataFrame:
        path = self.root / chapter / f"{name}.csv"
        if not path.is_file():
            raise MissingTable(f"{chapter}/{name}.csv (run chapter {chapter[:2]})")
        rel = f"{chapter}/{name}.csv"
        if rel not in self.used:
            self.used.append(rel)
        return pd.read_csv(path)


def _effect_verdict(ours: float, seed: float) -> str:
    """Same-signed effect: close to the seed's size, smaller, or absent/opposite."""
    if not math.isfinite(ours) or ours <= 0:
        return FAILS
    return REPRODUCES if ours >= CLOSE * seed else WEAKER


EFFECT_RULE = f"reproduces if ours >= {CLOSE:.0%} of the seed's number; weaker if smaller but > 0"


def _pct(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f} %"


def _pts(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f} points"


# ---------------------------------------------------------------- Lazarus


def base_accuracy(t: Tables) -> Claim:
    df = t("01_base_model", "base_accuracy").set_index("quantity")
    ours = float(df.loc["test accuracy (%)", "ours"])
    low = 72.71
    verdict = REPRODUCES if ours >= low - 2.0 else WEAKER if ours >= low - 5.0 else FAILS
    return Claim(
        "Lazarus",
        "01",
        "the base CNN reaches 72.7-73.2 % after 5 epochs",
        "72.71-73.17 %",
        _pct(ours, 2),
        verdict,
        "reproduces within 2 points of 72.71 %; weaker within 5",
    )


def vshape(t: Tables) -> Claim:
    df = t("02_lazarus_vshape", "vshape").set_index("quantity")
    ours = float(df.loc["recovery (%)", "ours"])
    seed = published.LAZARUS_VSHAPE["recovery_pct"]
    steps = int(float(df.loc["repair steps", "ours"]))
    return Claim(
        "Lazarus",
        "02",
        "alpha = 0.35 noise: the repair recovers 93.9 % of the lost accuracy",
        _pct(seed) + " (1000 steps)",
        f"{_pct(ours)} ({steps} steps)",
        _effect_verdict(ours, seed),
        EFFECT_RULE,
    )


def curve_optimum(t: Tables) -> Claim:
    df = t("03_lazarus_recovery_curve", "recovery_curve")
    best = df.loc[df["recovery_pct_mean"].idxmax()]
    inside = 0.15 <= float(best["alpha"]) <= 0.25
    if len(df) < 3:
        verdict = NOT_MEASURED
    else:
        verdict = REPRODUCES if inside else FAILS
    return Claim(
        "Lazarus",
        "03",
        "recovery peaks for moderate damage, alpha in [0.15, 0.25]",
        "peak 90.0 % at alpha 0.2",
        f"peak {_pct(best['recovery_pct_mean'])} at alpha {best['alpha']:g} (of {len(df)} alphas)",
        verdict,
        "reproduces if the alpha with the highest mean recovery lies in [0.15, 0.25]",
    )


def _paired(t: Tables, comparison: str) -> pd.DataFrame:
    df = t("06_lazarus_significance", "paired_tests")
    rows = df[df["comparison"] == comparison]
    if rows.empty:
        raise MissingTable(f"06_lazarus_significance/paired_tests.csv has no {comparison!r} rows")
    return rows


def repair_significant(t: Tables) -> Claim:
    rows = _paired(t, "repaired (full) vs damaged")
    gains = rows["mean difference (points)"].astype(float)
    ps = rows["paired t p"].astype(float)
    wins = int(((gains > 0) & (ps < ALPHA_TEST)).sum())
    verdict = REPRODUCES if wins == len(rows) else WEAKER if (gains > 0).any() else FAILS
    detail = "; ".join(
        f"{c}: {g:+.2f} (p = {p:.3f})" for c, g, p in zip(rows["condition"], gains, ps, strict=True)
    )
    seeds = published.LAZARUS_SEED_DELTAS
    seed = "; ".join(
        f"alpha {a}: {sum(v) / len(v):+.2f} (5 seeds, no test)" for a, v in seeds.items()
    )
    return Claim(
        "Lazarus",
        "06",
        "the repair improves accuracy significantly over the damaged model",
        seed,
        f"{detail}; n = {int(rows['n'].iloc[0])} seeds",
        verdict,
        f"reproduces if the gain is > 0 with paired t p < {ALPHA_TEST} in every condition",
    )


def extra_terms(t: Tables) -> Claim:
    rows = _paired(t, "full vs consistency only")
    diffs = rows["mean difference (points)"].astype(float)
    ps = rows["paired t p"].astype(float)
    helps = ((diffs > 0) & (ps < ALPHA_TEST)).any()
    detail = "; ".join(
        f"{c}: {d:+.2f} (p = {p:.2f})" for c, d, p in zip(rows["condition"], diffs, ps, strict=True)
    )
    seed = published.LAZARUS_BASELINES
    s02 = seed[(0.2, "full")]["recovery_pct"] - seed[(0.2, "consistency_only")]["recovery_pct"]
    return Claim(
        "Lazarus",
        "06",
        "the stability and entropy-floor terms are what make the repair work",
        f"full minus consistency only at alpha 0.2: {s02:+.1f} recovery points (one run)",
        detail,
        REPRODUCES if helps else FAILS,
        f"reproduces if full beats consistency only with paired t p < {ALPHA_TEST} anywhere",
    )


def _pruning(t: Tables) -> tuple[pd.DataFrame, float]:
    df = t("05_lazarus_pruning", "pruning_curve")
    with_seed = df[df["seed_recovery_pct"].notna()]
    if with_seed.empty:
        raise MissingTable("05_lazarus_pruning/pruning_curve.csv has no amount the seed reports")
    return df, float(with_seed["prune_amount"].max())


def pruning_recovery(t: Tables) -> Claim:
    df, amount = _pruning(t)
    row = df[(df["prune_amount"] == amount) & (df["mode"] == "frozen")].iloc[0]
    ours, seed = float(row["recovery_pct"]), float(row["seed_recovery_pct"])
    return Claim(
        "Lazarus",
        "05",
        f"after {amount:.0%} magnitude pruning the repair recovers {seed:.1f} % (frozen mask)",
        _pct(seed),
        _pct(ours),
        _effect_verdict(ours, seed),
        EFFECT_RULE,
    )


def regrowth(t: Tables) -> Claim:
    df, amount = _pruning(t)
    row = df[(df["prune_amount"] == amount) & (df["mode"] == "regrow")].iloc[0]
    nonzero = float(row["regrowth_nonzero_pct"])
    above = float(row["regrowth_above_threshold_pct"])
    seed = float(row["seed_regrowth_pct"])
    verdict = REPRODUCES if above >= CLOSE * seed else FAILS
    return Claim(
        "Lazarus",
        "05",
        f"without the mask, {seed:.1f} % of the pruned weights regrow",
        f"{_pct(seed)} regrown",
        f"{_pct(nonzero)} non-zero, {_pct(above, 2)} above the pruning threshold",
        verdict,
        "regrown means back above the smallest surviving magnitude; reproduces if that "
        f"share is >= {CLOSE:.0%} of the seed's",
    )


def _needs(t: Tables, prefix: str) -> tuple[float, float, str]:
    df = t("07_lazarus_what_it_needs", "claims")
    first = df["damage"].iloc[0]
    rows = df[df["damage"] == first]
    published_row = rows[rows["setting"].str.startswith("as published")]
    other = rows[rows["setting"].str.startswith(prefix)]
    if published_row.empty or other.empty:
        raise MissingTable(f"07_lazarus_what_it_needs/claims.csv has no {prefix!r} row")
    return (
        float(published_row["gap closed (%)"].iloc[0]),
        float(other["gap closed (%)"].iloc[0]),
        first,
    )


def no_training_data(t: Tables) -> Claim:
    as_published, noise, damage = _needs(t, "original teacher, noise images")
    verdict = REPRODUCES if noise >= CLOSE * as_published else FAILS
    return Claim(
        "Lazarus",
        "07",
        "the repair needs no training data (it runs on noise)",
        "stated; the published code feeds CIFAR-10 training images",
        f"{damage}: noise inputs close {_pct(noise)} of the logit gap, training images "
        f"{_pct(as_published)}",
        verdict,
        f"reproduces if noise inputs close >= {CLOSE:.0%} of what training images close",
    )


def damaged_teacher(t: Tables) -> Claim:
    as_published, own, damage = _needs(t, "damaged model as its own teacher")
    verdict = REPRODUCES if own >= 0.5 * as_published else FAILS
    return Claim(
        "Lazarus",
        "07",
        "the damaged model is its own guide; the original is not needed",
        "stated; the published code uses the undamaged original as teacher",
        f"{damage}: the damaged model as teacher closes {_pct(own, 2)} of the gap, the "
        f"original {_pct(as_published)}",
        verdict,
        "reproduces if the damaged teacher closes >= 50 % of what the original closes",
    )


# ---------------------------------------------------------------- NeuroSovereign


def _benchmark(t: Tables) -> pd.DataFrame:
    return t("09_sovereign_evolution", "benchmark").set_index("network")


def hierarchy_advantage(t: Tables) -> Claim:
    df = _benchmark(t)
    apex, blind = float(df.loc["APEX", "coarse head"]), float(df.loc["BLIND", "coarse head"])
    ours = apex - blind
    seed = published.SOVEREIGN_BENCHMARK["delta"]
    return Claim(
        "NeuroSovereign",
        "09",
        "APEX beats BLIND on superclasses by +28.2 points (dHier)",
        f"{_pts(seed, 1)} (42.7 vs 14.5 %)",
        f"{_pts(ours)} ({apex:.2f} vs {blind:.2f} %)",
        _effect_verdict(ours, seed),
        EFFECT_RULE,
    )


def structure_advantage(t: Tables) -> Claim:
    df = _benchmark(t)
    ours = float(df.loc["APEX", "fine"] - df.loc["BLIND", "fine"])
    final = published.SOVEREIGN_CYCLES[15]
    seed = final["d_struct"]
    return Claim(
        "NeuroSovereign",
        "09",
        "APEX beats BLIND on the 100 fine classes by +5.4 points (dStruct)",
        f"{_pts(seed, 1)} ({final['apex_fine']} vs {final['blind_fine']} %)",
        f"{_pts(ours)} ({df.loc['APEX', 'fine']:.2f} vs {df.loc['BLIND', 'fine']:.2f} %)",
        _effect_verdict(ours, seed),
        EFFECT_RULE,
    )


def _ablation(t: Tables, variant: str, paper_key: str) -> Claim:
    df = t("10_sovereign_ablation", "ablation").set_index("variant")
    if variant not in df.index or "full" not in df.index:
        raise MissingTable(f"10_sovereign_ablation/ablation.csv has no {variant!r} row")
    diff = float(df.loc[variant, "d_hier vs full"])
    p = df.loc[variant, "p (paired t)"]
    p = float(p) if pd.notna(p) else float("nan")
    paper = published.SOVEREIGN_ABLATION
    seed = paper[paper_key]["d_hier"] - paper["full"]["d_hier"]
    n = int(df.loc[variant, "n"])
    if diff < 0 and math.isfinite(p) and p < ALPHA_TEST:
        verdict = REPRODUCES
    elif diff < 0:
        verdict = WEAKER
    else:
        verdict = FAILS
    p_text = f"p = {p:.2f}" if math.isfinite(p) else "no spread: identical runs"
    return Claim(
        "NeuroSovereign",
        "10",
        f"removing the {variant[3:]} lowers dHier",
        f"{_pts(seed, 1)} (5 runs)",
        f"{_pts(diff)} ({p_text}, n = {n} seeds)",
        verdict,
        f"reproduces if dHier drops with paired t p < {ALPHA_TEST}; weaker if it drops "
        "without significance",
    )


def warmup_matters(t: Tables) -> Claim:
    return _ablation(t, "no warm-up", "no warm-up")


def shock_matters(t: Tables) -> Claim:
    claim = _ablation(t, "no shock", "no shock")
    runs = t("10_sovereign_ablation", "runs")
    fired = int(runs.loc[runs["variant"] == "full", "shock_epochs"].sum())
    if fired > 0:
        return claim
    return Claim(
        claim.paper,
        claim.chapter,
        claim.claim,
        claim.seed,
        f"{claim.ours}; the shock never fired in the full runs, so this schedule cannot test it",
        NOT_MEASURED,
        claim.rule + "; not measured if the shock never fired",
    )


def mixer_matters(t: Tables) -> Claim:
    return _ablation(t, "no mixer", "no mixer")


def published_extractor(t: Tables) -> Claim:
    df = t("11_sovereign_published_code", "ceiling").set_index("quantity")
    ours = float(df.loc["test fine accuracy (%)", "published simplification"])
    rank = float(df.loc["feature rank (of 384)", "published simplification"])
    seed = published.SOVEREIGN_CYCLES[15]["blind_fine"]
    return Claim(
        "NeuroSovereign",
        "11",
        "BLIND (the published code's frozen random extractor + MLP) reaches 47.8 % fine accuracy",
        _pct(seed),
        f"{_pct(ours, 2)} at best; its features have rank {rank:.0f} of 384",
        REPRODUCES if ours >= CLOSE * seed else FAILS,
        f"reproduces if the extractor's accuracy ceiling is >= {CLOSE:.0%} of 47.8 %",
    )


LAZARUS_CLAIMS: tuple[Callable[[Tables], Claim], ...] = (
    base_accuracy,
    vshape,
    curve_optimum,
    repair_significant,
    extra_terms,
    pruning_recovery,
    regrowth,
    no_training_data,
    damaged_teacher,
)
SOVEREIGN_CLAIMS: tuple[Callable[[Tables], Claim], ...] = (
    hierarchy_advantage,
    structure_advantage,
    warmup_matters,
    shock_matters,
    mixer_matters,
    published_extractor,
)
CLAIMS = LAZARUS_CLAIMS + SOVEREIGN_CLAIMS


def collect(figures_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, list[str]]:
    """All headline claims as a table, and the saved tables they were read from."""
    tables = Tables(figures_dir)
    rows = []
    for make in CLAIMS:
        try:
            rows.append(make(tables).row())
        except (MissingTable, KeyError, IndexError) as exc:
            paper = "Lazarus" if make in LAZARUS_CLAIMS else "NeuroSovereign"
            name = make.__name__.replace("_", " ")
            rows.append(Claim(paper, "", name, "", f"missing: {exc}", NOT_MEASURED, "").row())
    return pd.DataFrame(rows), tables.used


def markdown_table(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A GitHub/MyST Markdown table of ``df`` (pipes escaped)."""
    columns = columns or list(df.columns)

    def cell(value) -> str:
        text = (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |"
        for row in df[columns].itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"
