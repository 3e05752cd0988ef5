"""The book's chapter files: ``notebooks/NN_name.py`` in reading order, their numbers,
titles and paired notebooks, the choice of some of them (``--only``), and whether an
executed page of one is finished."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..foundations import paths
from ..foundations.checks import ParameterError

CHAPTER_PATTERN = paths.CHAPTER_PATTERN


def chapter_number(stem: str) -> str:
    """The number of a chapter stem: ``07b_lazarus_data_free`` -> ``07b``."""
    return stem.split("_", 1)[0]


@dataclass(frozen=True)
class ChapterFile:
    number: str
    stem: str
    path: Path

    @property
    def notebook(self) -> Path:
        return self.path.with_suffix(".ipynb")

    @property
    def title(self) -> str:
        """The first Markdown heading of the chapter."""
        for line in self.path.read_text().splitlines():
            match = re.match(r"^#\s+#+\s+(.*)$", line)
            if match:
                return match.group(1).strip()
        return self.stem


def chapters(notebooks: Path | None = None) -> list[ChapterFile]:
    """The book's chapters in reading order."""
    folder = notebooks or paths.notebooks_dir()
    found = []
    for path in sorted(folder.glob("*.py")):
        match = CHAPTER_PATTERN.match(path.name)
        if match:
            found.append(ChapterFile(match.group(1), path.stem, path))
    return found


def select(all_chapters: Sequence[ChapterFile], only: Sequence[str] | None) -> list[ChapterFile]:
    """Chapters matching ``only`` (a stem, its number, or its name without the number)."""
    if not only:
        return list(all_chapters)
    chosen = []
    for wanted in only:
        hits = [
            c
            for c in all_chapters
            if wanted in (c.stem, c.number, c.stem[len(c.number) + 1 :], c.path.name)
        ]
        if not hits:
            names = ", ".join(c.stem for c in all_chapters)
            raise ParameterError(f"only={wanted!r} names no chapter; choose from {names}")
        chosen.extend(h for h in hits if h not in chosen)
    return sorted(chosen, key=lambda c: c.stem)


def execution_problem(path: str | os.PathLike) -> str | None:
    """Why the executed notebook at ``path`` is not a finished page, or None.

    A finished page was written by papermill, raised no exception, and every code
    cell reached the status "completed" (a killed run leaves "running" or "pending").
    """
    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    meta = nb.get("metadata", {}).get("papermill")
    if meta is None:
        return "not executed by papermill (run `make book`)"
    if meta.get("exception"):
        return "its execution raised an exception"
    statuses = [
        c.get("metadata", {}).get("papermill", {}).get("status")
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    ]
    unfinished = [s for s in statuses if s != "completed"]
    if unfinished:
        return f"{len(unfinished)} of {len(statuses)} code cells did not complete ({unfinished[0]})"
    return None
