"""The registry of both seed documents' headline claims, each judged from a saved table.

Every claim is declared once, before the runs it judges: the seed's words and section,
the chapter table and columns it reads, the protocol the seed used, and the rule (from
:mod:`plasticity.verdicts`) that turns all seeds' numbers into a verdict. The chapter
tables come from the experiments declared in :mod:`plasticity.experiments` and
:mod:`plasticity.sovereign_experiments`.

A claim whose table or column is missing gets ``not measured`` and names what is
missing; the book's contract test fails on any such row, so a renamed column cannot
silently downgrade a verdict.
"""

from __future__ import annotations

import os

import pandas as pd

from .claims import Claim, Tables
from .lazarus_claims import LAZARUS_CLAIMS
from .sovereign_claims import SOVEREIGN_CLAIMS
from .tables import markdown_table as markdown_table  # re-exported for the chapters

CLAIMS: tuple[Claim, ...] = LAZARUS_CLAIMS + SOVEREIGN_CLAIMS


def collect(figures_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, list[str]]:
    """All headline claims as a table, and the saved tables they were read from."""
    tables = Tables(figures_dir)
    rows = [c.evaluate(tables) for c in CLAIMS]
    return pd.DataFrame(rows), tables.used


def chapter_markdown(chapter: str, figures_dir: str | os.PathLike | None = None) -> str:
    """The registry's verdicts for one chapter's claims, as a Markdown table (the
    chapters show exactly what the headline table shows)."""
    tables = Tables(figures_dir)
    rows = [c.evaluate(tables) for c in CLAIMS if c.chapter == chapter]
    if not rows:
        return ""
    df = pd.DataFrame(rows)
    df["verdict"] = "**" + df["verdict"] + "**"
    return markdown_table(df, ["section", "claim", "seed", "ours", "budget", "verdict", "reason"])


#: Verdicts that decide a claim either way.
DECIDED = ("reproduces", "does not reproduce")


def compare(first: pd.DataFrame, second: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Two headline tables of the same rules (for example two runs of one profile from
    empty caches) row by row: each shared claim's two verdicts and the kind of move
    (``same``; ``flipped``, between the two decided verdicts; ``to inconclusive`` or
    ``from inconclusive``; ``other``), and the counts of each kind. A flip means a
    verdict depended on the draw of the base models or seeds."""
    for name, table in (("first", first), ("second", second)):
        missing = {"key", "verdict"} - set(table.columns)
        if missing:
            raise ValueError(f"{name} table has no column {', '.join(sorted(missing))}")
    a, b = first.set_index("key"), second.set_index("key")
    rows = []
    for key in [k for k in a.index if k in b.index]:
        va, vb = a.loc[key, "verdict"], b.loc[key, "verdict"]
        if va == vb:
            move = "same"
        elif va in DECIDED and vb in DECIDED:
            move = "flipped"
        elif vb == "inconclusive" and va in DECIDED:
            move = "to inconclusive"
        elif va == "inconclusive" and vb in DECIDED:
            move = "from inconclusive"
        else:
            move = "other"
        rows.append(
            {
                "key": key,
                "first": va,
                "second": vb,
                "move": move,
                "first_ours": a.loc[key].get("ours", ""),
                "second_ours": b.loc[key].get("ours", ""),
            }
        )
    table = pd.DataFrame(
        rows, columns=["key", "first", "second", "move", "first_ours", "second_ours"]
    )
    counts = {
        m: int((table["move"] == m).sum())
        for m in ("same", "flipped", "to inconclusive", "from inconclusive", "other")
    }
    counts["only_first"] = int(sum(k not in b.index for k in a.index))
    counts["only_second"] = int(sum(k not in a.index for k in b.index))
    return table, counts
