"""Results packs: the book's recorded results without its weights, so that a chapter
re-renders anywhere from what was computed elsewhere.

A pack is one ``.tar.xz`` holding, for every usable entry of a cache, its
``<kind>/<key>/result.json`` (every number a chapter reads: accuracies, histories,
budgets, evolutions) and never a tensor, plus ``plasticity-results.json``: the pack's
format and the records of the data sets the runs were computed on (name, fingerprint,
sizes; no image, no label). :func:`import_pack` writes the entries into a cache marked
results-only (:data:`~plasticity.engine.cache.RESULTS_ONLY`): a cached run reads back as
usual, and a computation that needs an entry's weights stops with
:class:`~plasticity.engine.cache.WeightsNotShipped`. The data-set records let a
chapter key its runs as they were keyed when computed, with no data here
(:func:`recorded_dataset`).

``book run --replay`` then executes chapters from the cache alone: every run must be
there, nothing is computed (:class:`~plasticity.engine.cache.NotRecorded` otherwise).
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from lzma import LZMAError
from pathlib import Path

from ..data import ImageDataset
from ..foundations import paths
from ..foundations.checks import ParameterError
from . import cache

PACK_FORMAT = 1
HEADER = "plasticity-results.json"
#: Where an imported pack's data-set records live in the cache folder (a file, so that
#: no kind folder is mistaken for it).
RECORDS_FILE = "recorded-datasets.json"
#: Bounds on what an import reads: members, bytes per member, bytes in all.
MAX_MEMBERS = 200_000
MAX_MEMBER_BYTES = 64 << 20
MAX_TOTAL_BYTES = 4 << 30
_MEMBER = re.compile(r"^([a-z0-9][a-z0-9_-]{0,63})/([0-9a-f]{20})/result\.json$")


class PackError(ValueError):
    """A results pack that cannot be read or written as asked; raised before the cache
    is changed."""


def _entries(
    cache_dir, kinds: Iterable[str] | None, runs: set[tuple[str, str]] | None = None
) -> list[tuple[str, str, Path]]:
    """(kind, key, result.json) of every usable entry with a result, kinds filtered,
    and only the entries ``runs`` (kind, key) names when it is given."""
    wanted = None if kinds is None else {cache.check_kind(k) for k in kinds}
    out = []
    for row in cache.list_entries(cache_dir):
        if wanted is not None and row["kind"] not in wanted:
            continue
        if runs is not None and (row["kind"], row["key"]) not in runs:
            continue
        result = Path(row["path"]) / cache.RESULT_FILE
        if row["complete"] and row["verified"] and result.is_file():
            out.append((row["kind"], row["key"], result))
    return out


def check_out(out: str | os.PathLike) -> Path:
    """``out`` as a path a pack can be written to, else :class:`ParameterError`."""
    out = Path(out)
    if not out.name.endswith(".tar.xz"):
        raise ParameterError(f"out={str(out)!r} must name a .tar.xz file")
    if not out.parent.is_dir():
        raise ParameterError(f"out={str(out)!r}: its folder does not exist")
    return out


def export_pack(
    out: str | os.PathLike,
    datasets: Iterable[ImageDataset],
    *,
    cache_dir: str | os.PathLike | None = None,
    kinds: Iterable[str] | None = None,
    runs: Iterable[tuple[str, str]] | None = None,
) -> dict:
    """Write every usable entry's result of the cache (or of ``kinds``, or only the
    entries ``runs`` names as (kind, key), e.g. a profile's plan) and the records of
    ``datasets`` to the pack ``out`` (``.tar.xz``); returns a summary (entries, bytes of
    JSON, bytes of the pack). The pack is written beside ``out`` and renamed into place,
    so a failed export leaves no partial pack."""
    out = check_out(out)
    records = [ds.record() for ds in datasets]
    entries = _entries(cache_dir, kinds, None if runs is None else set(runs))
    if not entries:
        raise PackError(f"the cache {paths.cache_dir(cache_dir)} holds no usable result to export")
    header = {
        "format": PACK_FORMAT,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "datasets": records,
        "entries": len(entries),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    raw = 0
    try:
        with tarfile.open(tmp, "w:xz") as tar:
            _add(tar, HEADER, json.dumps(header, indent=1).encode())
            for kind, key, path in entries:
                data = path.read_bytes()
                raw += len(data)
                _add(tar, f"{kind}/{key}/{cache.RESULT_FILE}", data)
        paths.honour_umask(tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"entries": len(entries), "json_bytes": raw, "pack_bytes": out.stat().st_size}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _read_pack(archive: Path) -> tuple[dict, list[tuple[str, str, dict]]]:
    """The header and (kind, key, result) of every entry, all checked before any write."""
    if not archive.is_file():
        raise ParameterError(f"archive={str(archive)!r} does not exist")
    header, entries, total = None, [], 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for n, member in enumerate(tar):
                if n >= MAX_MEMBERS:
                    raise PackError(f"{archive} holds more than {MAX_MEMBERS} members")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise PackError(f"{archive}: {member.name!r} is not a plain file")
                if member.size > MAX_MEMBER_BYTES:
                    raise PackError(f"{archive}: {member.name!r} is larger than allowed")
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    raise PackError(f"{archive} holds more than {MAX_TOTAL_BYTES >> 20} MB")
                match = _MEMBER.match(member.name)
                if member.name != HEADER and match is None:
                    raise PackError(
                        f"{archive}: {member.name!r} is not a pack member "
                        f"({HEADER} or <kind>/<key>/result.json)"
                    )
                try:
                    payload = json.loads(tar.extractfile(member).read())
                except (ValueError, RecursionError) as exc:
                    raise PackError(f"{archive}: {member.name} is not JSON ({exc})") from exc
                if not isinstance(payload, dict):
                    raise PackError(f"{archive}: {member.name} holds no JSON object")
                if member.name == HEADER:
                    header = payload
                    continue
                kind, key = match.groups()
                if payload.get("format") != cache.FORMAT or payload.get("kind") != kind:
                    raise PackError(f"{archive}: {member.name} is not a {kind} result")
                if not isinstance(payload.get("result"), dict):
                    raise PackError(f"{archive}: {member.name} holds no result")
                entries.append((kind, key, payload))
    except (tarfile.TarError, EOFError, OSError, LZMAError) as exc:
        raise PackError(f"archive={str(archive)!r} is not a readable .tar.xz ({exc})") from exc
    if header is None or header.get("format") != PACK_FORMAT:
        raise PackError(f"{archive} is not a results pack (no {HEADER} of format {PACK_FORMAT})")
    records = header.get("datasets")
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and {"name", "fingerprint", "train", "test"} <= set(r) for r in records
    ):
        raise PackError(f"{archive}: {HEADER} lists no valid data-set records")
    return header, entries


def import_pack(archive: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None) -> dict:
    """Write a pack's results into the cache, results-only; an entry the cache already
    holds in usable form is kept (weights and all). Returns a summary: imported, kept,
    data sets recorded. The whole pack is checked before the cache is touched."""
    header, entries = _read_pack(Path(archive))
    root = paths.cache_dir(cache_dir)
    imported = kept = 0
    for kind, key, payload in entries:
        folder = root / kind / key
        if cache.usable(folder):
            kept += 1
            continue
        if "model_sha256" in payload:
            payload = {**payload, "shipped": cache.RESULTS_ONLY}
        cache.install_result(kind, key, payload, cache_dir)
        imported += 1
    records = _records(cache_dir)
    records.update({str(r["name"]): r for r in header["datasets"]})
    _write_records(records, cache_dir)
    return {"imported": imported, "kept": kept, "datasets": sorted(records)}


def _records(cache_dir) -> dict[str, dict]:
    path = paths.cache_dir(cache_dir) / RECORDS_FILE
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PackError(f"{path} is unreadable ({exc}); import the results pack again") from exc
    return records if isinstance(records, dict) else {}


def _write_records(records: dict, cache_dir) -> None:
    root = paths.cache_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{RECORDS_FILE}.", dir=root)
    with os.fdopen(fd, "w") as f:
        json.dump(records, f, indent=1, sort_keys=True)
    paths.honour_umask(tmp)
    os.replace(tmp, root / RECORDS_FILE)


def recorded_dataset(name: str, cache_dir: str | os.PathLike | None = None) -> ImageDataset | None:
    """The data set ``name`` as an imported pack recorded it (arrays withheld), or None."""
    record = _records(cache_dir).get(name)
    return None if record is None else ImageDataset.from_record(record)
