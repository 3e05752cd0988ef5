"""Train-or-load: a content-addressed cache of trained models and their results.

An artefact is identified by a hash of everything that determines it: its kind, the
version string of the function that produces it, and a JSON-able ``config`` that
must include the seed and the data fingerprint. It is stored as

    <cache dir>/<kind>/<hash>/model.safetensors   the tensors (never a pickle)
    <cache dir>/<kind>/<hash>/result.json         config, version, results, file digest

Entries are written into a temporary folder and renamed into place, so a crash
leaves either a complete entry or none. When two processes compute the same entry,
the first one written is kept and returned to both. An entry that is unreadable, partial or
whose tensors do not match the recorded digest is recomputed, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..foundations import paths

MODEL_FILE = "model.safetensors"
RESULT_FILE = "result.json"
FORMAT = 1


@dataclass
class Artifact:
    """A cached (or freshly computed) artefact."""

    kind: str
    key: str
    path: Path
    tensors: dict[str, torch.Tensor]
    result: dict
    hit: bool
    seconds: float

    def load_into(self, module: torch.nn.Module) -> torch.nn.Module:
        """Load the stored tensors into ``module`` (strict) and return it."""
        module.load_state_dict(self.tensors, strict=True)
        return module


def _canonical(obj: object) -> object:
    """Make ``obj`` JSON-stable: tuples as lists, floats as repr-exact, keys sorted later."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, Path):
        raise TypeError("paths must not enter a cache key; use a data fingerprint instead")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot put {type(obj).__name__} into a cache key: {obj!r}")


def cache_key(kind: str, config: Mapping, version: str) -> str:
    """The hash that names an artefact's folder."""
    payload = json.dumps(
        {"kind": kind, "version": version, "config": _canonical(config)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_entry(folder: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """Read a complete entry, or return None (with a warning) if it is not usable."""
    result_path, model_path = folder / RESULT_FILE, folder / MODEL_FILE
    if not folder.exists():
        return None
    try:
        meta = json.loads(result_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r} != {FORMAT}")
        if _digest(model_path) != meta["model_sha256"]:
            raise ValueError("model.safetensors does not match its recorded digest")
        if not isinstance(meta.get("result"), dict):
            raise ValueError("result.json holds no result")
        tensors = load_file(str(model_path))
    except Exception as exc:  # noqa: BLE001 - any defect means: recompute
        warnings.warn(f"cache entry {folder} is unusable ({exc}); recomputing", stacklevel=3)
        return None
    return tensors, meta


#: Every artefact this process has read or computed: ``"kind/key"`` -> its compute
#: time (seconds, as recorded when it was computed) and its seed. A chapter runs in
#: its own kernel, so this is the chapter's: the provenance of its figures.
_LEDGER: dict[str, dict] = {}
_depth = 0


def ledger() -> dict[str, dict]:
    """The artefacts read or computed so far in this process (nested computations,
    such as the damaged model measured inside a repair, are counted in their parent)."""
    return dict(_LEDGER)


def _note(kind: str, key: str, config: Mapping, seconds: float) -> None:
    if _depth == 0:
        seed = config.get("seed") if isinstance(config, Mapping) else None
        _LEDGER[f"{kind}/{key}"] = {
            "seconds": float(seconds),
            "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        }


def train_or_load(
    kind: str,
    config: Mapping,
    compute: Callable[[], tuple[Mapping[str, torch.Tensor], dict]],
    *,
    version: str,
    cache_dir: str | os.PathLike | None = None,
    recompute: bool = False,
    seconds: float | None = None,
) -> Artifact:
    """Return the cached artefact for ``(kind, config, version)``, computing it if needed.

    ``compute()`` returns ``(tensors, result)``: a flat mapping of name -> tensor
    (typically a ``state_dict``) and a JSON-able dict of results. ``seconds`` is the
    compute time to record when the work was done before the call (a share of a
    batched computation); by default the time ``compute()`` takes.
    """
    if not kind or "/" in kind or kind.startswith("."):
        raise ValueError(f"kind={kind!r} must be a plain folder name")
    key = cache_key(kind, config, version)
    root = paths.cache_dir(cache_dir) / kind
    folder = root / key
    if not recompute:
        start = time.perf_counter()
        entry = _read_entry(folder)
        if entry is not None:
            tensors, meta = entry
            _note(kind, key, config, meta.get("compute_seconds", 0.0))
            return Artifact(
                kind, key, folder, tensors, meta["result"], True, time.perf_counter() - start
            )

    global _depth
    existed = folder.exists()  # an unusable entry (or a recompute): replaced below
    start = time.perf_counter()
    _depth += 1
    try:
        tensors, result = compute()
    finally:
        _depth -= 1
    if seconds is None:
        seconds = time.perf_counter() - start
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "kind": kind,
        "key": key,
        "version": version,
        "config": _canonical(config),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "compute_seconds": round(seconds, 3),
        "result": result,
    }
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        save_file(tensors, str(tmp / MODEL_FILE))
        meta["model_sha256"] = _digest(tmp / MODEL_FILE)
        (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
        first = _install(tmp, folder, replace=recompute or existed)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if first is not None:  # another process wrote the same entry meanwhile: keep it
        tensors, result = first[0], first[1]["result"]
    _note(kind, key, config, seconds)
    return Artifact(kind, key, folder, tensors, result, False, seconds)


def _install(tmp: Path, folder: Path, replace: bool) -> tuple[dict, dict] | None:
    """Rename the finished entry ``tmp`` into place. A folder there is deleted first
    when ``replace``; otherwise it appeared while computing (another process wrote the
    same entry), and that first entry is returned and ``tmp`` dropped."""
    if replace and folder.exists():
        shutil.rmtree(folder)
    try:
        os.replace(tmp, folder)
    except OSError:
        entry = _read_entry(folder)
        if entry is None:
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return entry
    return None


def is_cached(
    kind: str, config: Mapping, version: str, cache_dir: str | os.PathLike | None = None
) -> bool:
    """Whether ``(kind, config, version)`` has an entry (not checked for damage)."""
    key = cache_key(kind, config, version)
    return (paths.cache_dir(cache_dir) / kind / key / RESULT_FILE).is_file()


def list_entries(cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """Every entry in the cache: kind, key, size, creation time, and whether it is usable."""
    root = paths.cache_dir(cache_dir)
    rows = []
    if not root.is_dir():
        return rows
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for folder in sorted(p for p in kind_dir.iterdir() if p.is_dir()):
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            row = {"kind": kind_dir.name, "key": folder.name, "bytes": size, "path": str(folder)}
            try:
                meta = json.loads((folder / RESULT_FILE).read_text())
                row.update(
                    created_utc=meta.get("created_utc"),
                    version=meta.get("version"),
                    complete=not folder.name.startswith("."),
                )
            except Exception:  # noqa: BLE001
                meta = None
                row.update(created_utc=None, version=None, complete=False)
            row["verified"] = meta is not None and _entry_problem(folder, meta) is None
            rows.append(row)
    return rows


def _entry_problem(folder: Path, meta: dict) -> str | None:
    """Why a cache entry cannot be used, or None; the digest is checked, so a
    truncated or altered tensor file is found. Evolution runs (no model file) are
    checked by their result only."""
    if not isinstance(meta.get("result"), dict):
        return "no result"
    model = folder / MODEL_FILE
    if "model_sha256" in meta:
        try:
            if _digest(model) != meta["model_sha256"]:
                return "model digest mismatch"
        except OSError as exc:
            return str(exc)
    return None


def clear(cache_dir: str | os.PathLike | None = None, kind: str | None = None) -> int:
    """Delete every entry (or those of one ``kind``); returns how many were removed."""
    root = paths.cache_dir(cache_dir)
    targets = [root / kind] if kind else ([p for p in root.iterdir()] if root.is_dir() else [])
    removed = 0
    for target in targets:
        if target.is_dir():
            removed += sum(1 for p in target.iterdir() if p.is_dir())
            shutil.rmtree(target)
    return removed
