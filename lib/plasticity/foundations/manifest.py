"""The figures folder's manifest (``figures/MANIFEST.json``): what made each file."""

from __future__ import annotations

import json
import os

from . import paths

MANIFEST = "MANIFEST.json"


def read_manifest(figures_dir: str | os.PathLike | None = None) -> dict:
    """The manifest as a dict (``{"files": {path: entry}}``)."""
    path = paths.figures_dir(figures_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {"files": {}}
