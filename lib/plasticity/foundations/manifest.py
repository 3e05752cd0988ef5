"""The figures folder's manifest (``figures/MANIFEST.json``): what made each file.

The manifest is also the guard that keeps synthetic-data runs from replacing figures
computed from real data, so a manifest that exists but cannot be read stops every
write into its folder (:class:`ManifestError`) instead of being started over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import paths

MANIFEST = "MANIFEST.json"


class ManifestError(RuntimeError):
    """A figures folder's manifest exists but is unreadable or malformed."""


def read_manifest(figures_dir: str | os.PathLike | None = None) -> dict:
    """The manifest as a dict (``{"files": {path: entry}}``); an empty one when the
    folder has none, :class:`ManifestError` when it has one that cannot be read."""
    path = paths.figures_dir(figures_dir) / MANIFEST
    if not path.exists():
        return {"files": {}}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _damaged(path, f"it is not readable JSON ({type(exc).__name__})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(e, dict) for e in files.values()):
        raise _damaged(path, "it holds no {'files': {path: entry}} object")
    return manifest


def _damaged(path: Path, why: str) -> ManifestError:
    return ManifestError(
        f"{path} cannot be used: {why}. It records which figures come from real data, so "
        f"nothing is written into {path.parent} until it is repaired (for a committed "
        f"book: git checkout -- {path}, or resolve its merge conflict)"
    )
