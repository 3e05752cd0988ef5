"""Tables as the book prints them (no compute stack needed: the static site uses it)."""

from __future__ import annotations

import math

import pandas as pd


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
