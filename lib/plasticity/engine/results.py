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

import hashlib
import io
import json
import math
import os
import re
import tarfile
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from ..data import ImageDataset
from ..foundations import locks, paths
from ..foundations.archives import ArchiveError, Limits, shown, tar_members
from ..foundations.checks import ParameterError
from . import cache

PACK_FORMAT = 1
HEADER = "plasticity-results.json"
#: Where an imported pack's data-set records live in the cache folder (a file, so that
#: no kind folder is mistaken for it).
RECORDS_FILE = "recorded-datasets.json"
#: Bounds on what an import reads: members, bytes per member, bytes in all. The
#: largest result the book writes (an evolution's) is about 26 kB; the full book's
#: pack holds 370 entries and 3.8 MB of JSON.
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 1 << 20
MAX_TOTAL_BYTES = 512 << 20
LIMITS = Limits(
    max_members=MAX_MEMBERS,
    max_member_bytes=MAX_MEMBER_BYTES,
    max_total_bytes=MAX_TOTAL_BYTES,
    max_header_bytes=1024,
    what="a results pack",
)
#: A JSON record nests no deeper than this, and holds at most this many values.
MAX_DEPTH = 16
MAX_VALUES = 200_000
#: A data-set record's sizes: CIFAR has 50,000 / 10,000 images; a synthetic look-alike
#: fewer.
MAX_DATASET_IMAGES = 100_000
_MEMBER = re.compile(r"^([a-z0-9][a-z0-9_-]{0,63})/([0-9a-f]{20})/result\.json$")
_FINGERPRINT = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


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


def _checked_json(archive: Path, name: str, raw: bytes) -> dict:
    """A member's JSON object, parsed and checked before anything is kept: at most
    :data:`MAX_DEPTH` deep and :data:`MAX_VALUES` values, every number finite."""
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise PackError(f"{archive}: {shown(name)} is not JSON ({str(exc)[:200]})") from None
    if not isinstance(payload, dict):
        raise PackError(f"{archive}: {shown(name)} holds no JSON object")
    problem = _shape_problem(payload)
    if problem:
        raise PackError(f"{archive}: {shown(name)} {problem}")
    return payload


def _no_constant(name: str):
    if name == "NaN":  # an undefined statistic (a recovery of no loss) is recorded as NaN
        return math.nan
    raise ValueError(f"{name} is not a number a result holds")


#: Every number a result holds lies within +-MAX_MAGNITUDE (the largest the book
#: records are step counts and parameter counts, about 1e6).
MAX_MAGNITUDE = 1e9
#: Fields that hold a percentage of images or weights: finite, within [0, 100].
PERCENT_FIELD = re.compile(
    r"^(.*acc.*|accuracy|original|damaged|restored|epoch_eval|best_val|val_coarse"
    r"|(.+_)?(fine|coarse_head|coarse_from_fine|val|sparsity)|test_.+|top1_.+|sparsity_.+"
    r"|nonzero_pct|floor_active_pct|norm_restored_pct)$"
)


def _shape_problem(value) -> str | None:
    """Why a parsed record is out of bounds (too deep, too many values, a number out of
    range: a percentage outside [0, 100] or not finite, any number beyond
    :data:`MAX_MAGNITUDE`), or None; iterative, so no depth costs a stack frame."""
    stack, seen = [(value, 0, "")], 0
    while stack:
        item, depth, field = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            return f"holds more than {MAX_VALUES} values"
        if depth > MAX_DEPTH:
            return f"nests deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            stack.extend((v, depth + 1, str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, depth + 1, field) for v in item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            percent = PERCENT_FIELD.match(field) is not None
            if percent and not (math.isfinite(item) and 0 <= item <= 100):
                return f"says {shown(field)} = {item}: a percentage lies in [0, 100]"
            if math.isfinite(item) and abs(item) > MAX_MAGNITUDE:
                return f"says {shown(field)} = {item}: beyond any number the book records"
    return None


def _check_records(archive: Path, header: dict) -> list[dict]:
    """The header's data-set records, each checked: a known name, a fingerprint, and
    image counts a data set can have."""
    from ..data.cifar import DATASETS

    records = header.get("datasets")
    if not isinstance(records, list) or len(records) > 2 * len(DATASETS):
        raise PackError(f"{archive}: {HEADER} lists no valid data-set records")
    names = {*DATASETS, *(f"synthetic-{n}" for n in DATASETS)}
    for r in records:
        if not isinstance(r, dict) or not {"name", "fingerprint", "train", "test"} <= set(r):
            raise PackError(f"{archive}: {HEADER} lists no valid data-set records")
        if r["name"] not in names:
            raise PackError(
                f"{archive}: data-set record {shown(str(r['name']))!r} is not a "
                f"book data set ({', '.join(sorted(names))})"
            )
        if not isinstance(r["fingerprint"], str) or not _FINGERPRINT.match(r["fingerprint"]):
            raise PackError(f"{archive}: data-set record {r['name']} has no valid fingerprint")
        for split in ("train", "test"):
            n = r[split]
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DATASET_IMAGES:
                raise PackError(
                    f"{archive}: data-set record {r['name']} says {split}={shown(str(n))}; "
                    f"a data set here has 1 to {MAX_DATASET_IMAGES} images per split"
                )
    return records


def _expected_key(kind: str, payload: dict, fingerprints: list[str]) -> set[str]:
    """The keys an entry may have: the hash of its recorded kind, configuration and
    version (an evolution's also of its seed, chains and one of the pack's data sets)."""
    if kind == "sovereign-run":
        from .sovereign_runs import recorded_run_key

        settings, seed, chains = payload.get("config"), payload.get("seed"), payload.get("chains")
        if not isinstance(settings, dict) or not isinstance(chains, list):
            return set()
        return {recorded_run_key(settings, seed, fp, chains) for fp in fingerprints}
    try:
        return {cache.cache_key(kind, payload.get("config"), payload.get("version"))}
    except TypeError:
        return set()


def _members(archive: Path):
    """(name, bytes) of every member of a pack, bounded (:data:`LIMITS`)."""
    try:
        yield from tar_members(archive, LIMITS, plain_only=True)
    except ArchiveError as exc:
        raise PackError(str(exc)) from None


def _read_pack(archive: Path) -> tuple[dict, list[tuple[str, str]]]:
    """The header and the (kind, key) of every entry, each entry checked (its JSON, its
    shape, its kind and that its key is the hash of its configuration) and dropped
    again: memory holds one member at a time, whatever the pack's size. Nothing is
    written."""
    if not archive.is_file():
        raise ParameterError(f"archive={str(archive)!r} does not exist")
    header = None
    for name, raw in _members(archive):
        if name == HEADER:
            header = _checked_json(archive, name, raw)
            break
    if header is None or header.get("format") != PACK_FORMAT:
        raise PackError(f"{archive} is not a results pack (no {HEADER} of format {PACK_FORMAT})")
    records = _check_records(archive, header)
    fingerprints = [r["fingerprint"] for r in records]
    entries: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for name, raw in _members(archive):
        if name == HEADER:
            continue
        match = _MEMBER.match(name)
        if match is None:
            raise PackError(
                f"{archive}: {shown(name)!r} is not a pack member "
                f"({HEADER} or <kind>/<key>/result.json)"
            )
        kind, key = match.groups()
        payload = _checked_json(archive, name, raw)
        if payload.get("format") != cache.FORMAT or payload.get("kind") != kind:
            raise PackError(f"{archive}: {name} is not a {kind} result")
        if not isinstance(payload.get("result"), dict):
            raise PackError(f"{archive}: {name} holds no result")
        if key not in _expected_key(kind, payload, fingerprints):
            raise PackError(
                f"{archive}: {name}: its key is not the hash of the configuration it records "
                "(an entry filed under another run's name); nothing was imported"
            )
        if (kind, key) in seen:
            raise PackError(f"{archive}: {name} appears twice")
        seen.add((kind, key))
        entries.append((kind, key))
    return header, entries


def pack_digest(archive: str | os.PathLike) -> str:
    """The SHA-256 of a pack file (what the book's provenance records of it)."""
    h = hashlib.sha256()
    with open(archive, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_pack(archive: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None) -> dict:
    """Write a pack's results into the cache, results-only; an entry the cache already
    holds in usable form is kept (weights and all). Returns a summary: imported, kept,
    data sets recorded, the pack's digest. The whole pack is checked before the cache
    is touched; then it is read a second time, one entry at a time, to write it. Two
    imports into one cache may run at once: an entry another one wrote first is kept."""
    archive = Path(archive)
    header, entries = _read_pack(archive)
    digest = pack_digest(archive)
    root = paths.cache_dir(cache_dir)
    wanted = set(entries)
    for kind in sorted({k for k, _ in entries}):
        cache.ensure_writable(root / kind)  # once per kind: linear in the entries
    imported = kept = 0
    for name, raw in _members(archive):
        match = _MEMBER.match(name)
        if match is None or match.groups() not in wanted:
            continue
        kind, key = match.groups()
        wanted.discard((kind, key))
        folder = root / kind / key
        if cache.usable(folder):
            kept += 1
            continue
        payload = json.loads(raw)
        payload = {**payload, "shipped": cache.RESULTS_ONLY, "pack_sha256": digest}
        if cache.install_result(kind, key, payload, cache_dir, checked=True):
            imported += 1
        else:
            kept += 1
    with _records_lock(cache_dir):
        records = _records(cache_dir)
        records.update({str(r["name"]): r for r in header["datasets"]})
        _write_records(records, cache_dir)
        packs = _packs(cache_dir)
        packs[digest] = archive.name
        _write_json(PACKS_FILE, packs, cache_dir)
    return {"imported": imported, "kept": kept, "datasets": sorted(records), "sha256": digest}


#: The digests of the packs imported into a cache (a file beside the records).
PACKS_FILE = "imported-packs.json"


def _packs(cache_dir) -> dict[str, str]:
    path = paths.cache_dir(cache_dir) / PACKS_FILE
    try:
        packs = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return packs if isinstance(packs, dict) else {}


def imported_packs(cache_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """sha256 -> file name of every pack imported into the cache."""
    return _packs(cache_dir)


def _records_lock(cache_dir):
    """An exclusive lock on the cache's records of data sets and imported packs."""
    root = paths.cache_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    return locks.exclusive(root / ".records.lock")


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
    _write_json(RECORDS_FILE, records, cache_dir)


def _write_json(name: str, obj: dict, cache_dir) -> None:
    root = paths.cache_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=root)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
        paths.honour_umask(tmp)
        os.replace(tmp, root / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def recorded_dataset(name: str, cache_dir: str | os.PathLike | None = None) -> ImageDataset | None:
    """The data set ``name`` as an imported pack recorded it (arrays withheld), or None."""
    record = _records(cache_dir).get(name)
    return None if record is None else ImageDataset.from_record(record)
