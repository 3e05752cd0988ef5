"""What a claim is and how it is read: a seed's words and section, the saved table and
columns it needs, the protocol, the rule fixed in advance, and the finding the rule
returns. The shared helpers every claim's judge uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..foundations import paths
from . import verdicts as v
from .verdicts import Estimate

#: The seed's Lazarus protocol: repair steps of every number in the manifesto.
LAZARUS_STEPS = 1000

#: The paper's NeuroSovereign schedule: 15 cycles x 100 epochs.
SOVEREIGN_EPOCHS = 1500

REPRODUCES, FAILS, INCONCLUSIVE = v.REPRODUCES, v.FAILS, v.INCONCLUSIVE

NOT_COMPARABLE, NOT_MEASURED, VERDICTS = (
    v.NOT_COMPARABLE,
    v.NOT_MEASURED,
    v.VERDICTS,
)


#: Margins fixed in advance: recovery % (points of recovery), regrowth share (points).
RECOVERY_MARGIN = 10.0

REGROWTH_MARGIN = 5.0


class MissingTable(LookupError):
    """A chapter's saved table, or a column or row a claim needs, is not there."""


class NotRun(LookupError):
    """The profile that made the table did not run what the claim needs (an alpha, a
    pruning level, an arm): the row reads ``not comparable`` and names what is missing."""


class Tables:
    """Read access to the chapters' saved tables (``<figures>/<chapter>/<name>.csv``)."""

    def __init__(self, figures_dir: str | os.PathLike | None = None):
        self.root = paths.figures_dir(figures_dir)
        self.used: list[str] = []
        try:
            from ..foundations.manifest import read_manifest

            self.manifest = read_manifest(self.root).get("files", {})
        except (OSError, ValueError):
            self.manifest = {}

    def synthetic(self, table: str) -> bool:
        """Whether the manifest says the table was made from synthetic data."""
        return bool(self.manifest.get(f"{table}.csv", {}).get("synthetic", False))

    def profile(self, table: str) -> str | None:
        """The profile the manifest says made the table (None when unknown)."""
        return self.manifest.get(f"{table}.csv", {}).get("profile")

    def __call__(self, table: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        path = self.root / f"{table}.csv"
        if not path.is_file():
            chapter = table.split("_", 1)[0]
            raise MissingTable(f"{table}.csv (run chapter {chapter})")
        if f"{table}.csv" not in self.used:
            self.used.append(f"{table}.csv")
        df = pd.read_csv(path)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise MissingTable(f"{table}.csv has no column {', '.join(missing)}")
        return df


@dataclass(frozen=True)
class Finding:
    """What a rule found: our number, its budget, the verdict and why."""

    ours: str
    budget: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Claim:
    """One headline claim as the seed states it, and how the book judges it."""

    key: str
    paper: str
    section: str
    quote: str
    seed_number: str
    chapter: str
    table: str
    columns: tuple[str, ...]
    rule: str
    judge: Callable[[pd.DataFrame], Finding]

    def evaluate(self, tables: Tables) -> dict:
        df = None
        try:
            df = tables(self.table, self.columns)
            df.attrs["profile"] = tables.profile(self.table)
            f = self.judge(df)
        except NotRun as exc:
            f = Finding("not run", "", v.NOT_COMPARABLE, str(exc))
        except MissingTable as exc:
            f = Finding(f"missing: {exc}", "", v.NOT_MEASURED, str(exc))
        else:
            if tables.synthetic(self.table):
                f = Finding(
                    f.ours,
                    f.budget,
                    v.NOT_COMPARABLE,
                    "synthetic data: the number only shows that the pipeline works",
                )
        stability = (
            _stability(self.judge, df, f.verdict)
            if df is not None and f.verdict in (v.REPRODUCES, v.FAILS)
            else {}
        )
        return {
            "key": self.key,
            "paper": self.paper,
            "section": self.section,
            "claim": self.quote,
            "seed": self.seed_number,
            "chapter": self.chapter,
            "ours": f.ours,
            "budget": f.budget,
            "verdict": f.verdict,
            "reason": f.reason,
            "rule": self.rule,
            "table": f"{self.table}.csv",
            "loo_kept": stability.get("loo_kept", ""),
            "halves": stability.get("halves", ""),
            "rests_on": stability.get("rests_on", ""),
        }


# ---------------------------------------------------------------- stability


def _verdict_on(judge, df: pd.DataFrame, seeds) -> str:
    """The verdict ``judge`` gives on the rows of ``seeds`` only."""
    sub = df[df["seed"].isin(list(seeds))]
    sub.attrs.update(df.attrs)
    try:
        return judge(sub).verdict
    except (MissingTable, NotRun, ValueError, KeyError, IndexError, ZeroDivisionError):
        return v.INCONCLUSIVE


def _stability(judge, df: pd.DataFrame, verdict: str) -> dict:
    """How much a decided verdict rests on: the share of leave-one-seed-out subsets that
    keep it (and the seeds whose removal changes it), and the verdicts of the two halves
    of the seeds (in seed order), which agree or differ."""
    if "seed" not in df.columns:
        return {"loo_kept": "n/a (no per-seed table)"}
    seeds = sorted(int(s) for s in pd.unique(df["seed"].dropna()))
    if len(seeds) < 2:
        return {}
    changed = [s for s in seeds if _verdict_on(judge, df, set(seeds) - {s}) != verdict]
    half = len(seeds) // 2
    if half < v.MIN_SEEDS:
        halves = f"n/a (halves of {half} seeds decide nothing)"
    else:
        first, second = (_verdict_on(judge, df, part) for part in (seeds[:half], seeds[half:]))
        decided = {x for x in (first, second) if x in (v.REPRODUCES, v.FAILS)}
        if first == second:
            halves = f"agree ({first})" if first in decided else f"both undecided ({first})"
        elif len(decided) == 2:
            halves = f"contradict ({first} / {second})"
        else:
            halves = f"one undecided ({first} / {second})"
    return {
        "loo_kept": f"{len(seeds) - len(changed)}/{len(seeds)}",
        "halves": halves,
        "rests_on": ", ".join(f"seed {s}" for s in changed),
    }


# ---------------------------------------------------------------- helpers


def select_rows(df: pd.DataFrame, **match) -> pd.DataFrame:
    out = df
    for col, val in match.items():
        out = (
            out[out[col] == val]
            if not isinstance(val, float)
            else out[(out[col] - val).abs() < 1e-9]
        )
    if out.empty:
        raise MissingTable(f"no rows with {match}")
    return out


def judge_finding(
    est: Estimate,
    budget: str,
    off: str | None,
    rule,
    unit: str,
    digits: int = 1,
    guard: str | None = None,
) -> Finding:
    ours = est.text(unit, digits)
    if off is not None:
        return Finding(ours, budget, v.NOT_COMPARABLE, off)
    if guard is not None:
        return Finding(ours, budget, v.INCONCLUSIVE, guard)
    verdict, reason = rule(est)
    if verdict == v.INCONCLUSIVE and est.n >= v.MIN_SEEDS:
        reason += "; " + seeds_needed_text(est, rule)
    return Finding(ours, budget, verdict, reason)


def seeds_needed_text(est: Estimate, rule) -> str:
    """How many seeds would decide an inconclusive row at the observed spread."""
    n = v.seeds_to_decide(est, rule)
    if n is None:
        return (
            f"no number of seeds up to {v.MAX_SEEDS} decides it at this mean and spread "
            "(the mean sits on the rule's boundary)"
        )
    return f"about {n} seeds would decide it at this mean and spread (n = {est.n} now)"


def per_seed(rows: pd.DataFrame, value: str) -> pd.Series:
    return rows.set_index("seed")[value].astype(float).sort_index()


def paired_diff(a: pd.DataFrame, b: pd.DataFrame, value: str) -> pd.Series:
    x, y = per_seed(a, value), per_seed(b, value)
    common = x.index.intersection(y.index)
    return x.loc[common] - y.loc[common]
