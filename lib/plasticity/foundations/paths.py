"""Where the book keeps data, the run cache, figures and executed notebooks.

Every location can be overridden by an environment variable so that tests and CI
write into temporary folders and never touch the committed ``figures/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: A chapter source: ``notebooks/NN_name.py``; a letter after the number (``07b``)
#: inserts a chapter between two.
CHAPTER_PATTERN = re.compile(r"^(\d\d[a-z]?)_([a-z0-9_]+)\.py$")

_ENV = {
    "data": "PLASTICITY_DATA_DIR",
    "cache": "PLASTICITY_CACHE_DIR",
    "figures": "PLASTICITY_FIGURES_DIR",
    "executed": "PLASTICITY_EXECUTED_DIR",
}


def project_root() -> Path:
    """The book's repository root.

    With the usual editable install (``pip install -e .``) the package lives in
    ``<root>/lib/plasticity``; otherwise the current directory (or the nearest parent
    holding ``pyproject.toml``) is taken.
    """
    here = Path(__file__).resolve().parents[3]
    if (here / "pyproject.toml").is_file() and (here / "lib" / "plasticity").is_dir():
        return here
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return cwd


def _resolve(kind: str, explicit: str | os.PathLike | None, default: Path) -> Path:
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(_ENV[kind])
    if env:
        return Path(env).expanduser().resolve()
    return default


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Data sets (torchvision layout and decoded arrays); ``$PLASTICITY_DATA_DIR``."""
    return _resolve("data", explicit, project_root() / "data")


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The train-or-load cache; ``$PLASTICITY_CACHE_DIR``, else ``<data dir>/cache``."""
    if explicit is None and not os.environ.get(_ENV["cache"]):
        return data_dir() / "cache"
    return _resolve("cache", explicit, data_dir() / "cache")


def scratch_dir(profile: str) -> Path:
    """Where a synthetic-data profile writes by default: ``<root>/build/<profile>``
    (ignored by git), never the committed ``figures/`` and ``executed/``."""
    return project_root() / "build" / profile


def figures_dir(explicit: str | os.PathLike | None = None, *, scratch: str | None = None) -> Path:
    """Regenerated figures and tables; ``$PLASTICITY_FIGURES_DIR``. The default is the
    committed ``figures/``, or ``build/<scratch>/figures`` when ``scratch`` names a
    synthetic-data profile."""
    default = scratch_dir(scratch) / "figures" if scratch else project_root() / "figures"
    return _resolve("figures", explicit, default)


def executed_dir(explicit: str | os.PathLike | None = None, *, scratch: str | None = None) -> Path:
    """Executed notebooks written by the book runner; ``$PLASTICITY_EXECUTED_DIR``. The
    default is the committed ``executed/``, or ``build/<scratch>/executed``."""
    default = scratch_dir(scratch) / "executed" if scratch else project_root() / "executed"
    return _resolve("executed", explicit, default)


def notebooks_dir() -> Path:
    """The chapters' py:percent sources and their paired notebooks."""
    return project_root() / "notebooks"


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The process's file-creation mask, read once at import (reading it means setting it).
UMASK = _read_umask()


def honour_umask(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a file or folder made by :mod:`tempfile` (always private: 0600 / 0700) the
    permissions an ordinary ``open`` or ``mkdir`` would, so a shared cache stays
    readable to the users the umask admits."""
    os.chmod(path, (0o777 if directory else 0o666) & ~UMASK)
