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


#: Set (to 1) by ``book run --publish``, and inherited by its kernels: only then do
#: the chapters write the committed ``figures/`` and ``executed/`` by default.
PUBLISH_ENV = "PLASTICITY_PUBLISH"


def publishing() -> bool:
    """Whether this process writes the published book (``book run --publish``)."""
    return os.environ.get(PUBLISH_ENV, "") not in ("", "0")


def scratch_dir(profile: str) -> Path:
    """Where a run that does not publish writes by default: ``<root>/build/<profile>``
    (ignored by git), never the committed ``figures/`` and ``executed/``."""
    return project_root() / "build" / profile


def published_figures_dir() -> Path:
    """The committed ``figures/`` of the published book (read by every run; written
    only while :func:`publishing`)."""
    return project_root() / "figures"


def figures_dir(explicit: str | os.PathLike | None = None, *, scratch: str | None = None) -> Path:
    """Regenerated figures and tables; ``$PLASTICITY_FIGURES_DIR``. The default is
    ``build/<scratch>/figures`` for a run of profile ``scratch`` that does not publish,
    and the committed ``figures/`` when publishing (or when no profile is named: a
    reader of the published tables)."""
    if scratch and not publishing():
        default = scratch_dir(scratch) / "figures"
    else:
        default = published_figures_dir()
    return _resolve("figures", explicit, default)


def executed_dir(explicit: str | os.PathLike | None = None, *, scratch: str | None = None) -> Path:
    """Executed notebooks written by the book runner; ``$PLASTICITY_EXECUTED_DIR``. The
    default is ``build/<scratch>/executed``, or the committed ``executed/`` when
    publishing."""
    if scratch and not publishing():
        default = scratch_dir(scratch) / "executed"
    else:
        default = project_root() / "executed"
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
