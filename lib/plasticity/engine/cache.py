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

An entry imported from a results pack (:mod:`plasticity.engine.results`) holds its
``result.json`` alone, marked :data:`RESULTS_ONLY`: it reads back as cached, and its
tensors refuse to be read (:class:`WeightsNotShipped`). While :func:`replaying`, a
missing entry raises :class:`NotRecorded` instead of being computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
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
from ..foundations.compute import default_device, determinism

MODEL_FILE = "model.safetensors"
RESULT_FILE = "result.json"
FORMAT = 1
#: ``result.json``'s mark for an entry imported from a results pack: its result is
#: there, its tensors were never shipped (see :mod:`plasticity.engine.results`).
RESULTS_ONLY = "results-only"
#: Set (to 1) while chapters replay recorded results: a missing entry is then an
#: error instead of a computation (``book run --replay``).
REPLAY_ENV = "PLASTICITY_REPLAY"


def replaying() -> bool:
    """Whether this process replays recorded results (computes nothing)."""
    return os.environ.get(REPLAY_ENV, "") not in ("", "0")


class Unshipped(Mapping):
    """The tensors of an entry imported from a results pack: not there. Any read raises
    :class:`WeightsNotShipped` naming the entry, so a computation that needs them stops
    before it starts instead of computing from something else."""

    def __init__(self, kind: str, key: str):
        self.kind, self.key = kind, key

    def _refuse(self, *args):
        raise WeightsNotShipped(
            f"{self.kind}/{self.key} holds recorded results only (imported from a results "
            "pack), not its weights, and this computation needs them. To compute from it, "
            f"remove the recorded entries (`python -m plasticity cache clear --kind "
            f"{self.kind}`) and run the book with the data: they are trained again, and every "
            "run made from them is computed again with them."
        )

    __getitem__ = __iter__ = __len__ = _refuse

    def __repr__(self) -> str:
        return f"Unshipped({self.kind}/{self.key})"


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
        if meta.get("shipped") == RESULTS_ONLY and not model_path.exists():
            if not isinstance(meta.get("result"), dict):
                raise ValueError("result.json holds no result")
            return Unshipped(str(meta.get("kind")), folder.name), meta
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


def _note(kind: str, key: str, config: Mapping, seconds: float, meta: Mapping) -> None:
    if _depth == 0:
        seed = config.get("seed") if isinstance(config, Mapping) else None
        _LEDGER[f"{kind}/{key}"] = {
            "seconds": float(seconds),
            "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            # entries written before devices were recorded say "unrecorded"
            "device": str(meta.get("device") or "unrecorded"),
            "determinism": str(meta.get("determinism") or "unrecorded"),
        }


def note_run(kind: str, key: str, config: Mapping, seconds: float, meta: Mapping) -> None:
    """Put a run this cache does not write itself (an evolution, resumable cycle by
    cycle in its own folder) into the ledger, with its device and determinism."""
    _note(kind, key, config, seconds, meta)


def _device_of(tensors: Mapping[str, torch.Tensor]) -> str:
    """The device type a computation's tensors were made on (the process's default
    device when it returned none)."""
    types = {v.device.type for v in tensors.values()}
    if len(types) == 1:
        return types.pop()
    return default_device().type


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
            _note(kind, key, config, meta.get("compute_seconds", 0.0), meta)
            return Artifact(
                kind, key, folder, tensors, meta["result"], True, time.perf_counter() - start
            )

    if replaying():
        raise NotRecorded(
            f"{kind}/{key} is not among the recorded results, and a replay computes "
            "nothing; run the chapter without --replay (with the data) to compute it"
        )
    global _depth
    existed = folder.exists()  # an unusable entry (or a recompute): replaced below
    ensure_writable(root)  # before any compute: a cache that cannot take it fails now
    start = time.perf_counter()
    _depth += 1
    try:
        tensors, result = compute()
    finally:
        _depth -= 1
    if seconds is None:
        seconds = time.perf_counter() - start
    device = _device_of(tensors)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "kind": kind,
        "key": key,
        "version": version,
        "config": _canonical(config),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "compute_seconds": round(seconds, 3),
        "device": device,
        "determinism": determinism(device),
        "result": result,
    }
    tmp = _tmp_folder(root, key)
    try:
        save_file(tensors, str(tmp / MODEL_FILE))
        paths.honour_umask(tmp / MODEL_FILE)  # safetensors writes it private (0600)
        meta["model_sha256"] = _digest(tmp / MODEL_FILE)
        (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
        first = _install(tmp, folder, replace=recompute or existed)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if first is not None:  # another process wrote the same entry meanwhile: keep it
        tensors, result, meta = first[0], first[1]["result"], first[1]
    _note(kind, key, config, seconds, meta)
    return Artifact(kind, key, folder, tensors, result, False, seconds)


#: Free space a new entry needs at least: the largest entries (a base model and its
#: result, an inversion pool) take a few MB; below this a run is not started.
MIN_FREE_BYTES = 64 << 20
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def ensure_writable(folder: Path, need_bytes: int = MIN_FREE_BYTES) -> None:
    """Make ``folder`` (a kind's folder) if needed, check that an entry can be written
    there and that ``need_bytes`` are free, and remove what interrupted writes left
    there; :class:`CacheError` before any compute otherwise."""
    hint = "choose another with --cache-dir or $PLASTICITY_CACHE_DIR"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CacheError(f"the cache folder {folder} cannot be written ({exc}); {hint}") from exc
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise CacheError(
            f"the cache folder {folder} has {free / 2**20:.0f} MB free; a run needs at least "
            f"{need_bytes / 2**20:.0f} MB; free some space or {hint}"
        )
    for stale in [p for p in folder.iterdir() if _is_tmp(p) and _abandoned(p)]:
        shutil.rmtree(stale, ignore_errors=True)


def _tmp_folder(root: Path, key: str) -> Path:
    """A private folder for an entry being written, named so that a later run can tell
    whose it was (host, process) and remove it once that process is gone."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.{_HOST}.{os.getpid()}.", dir=root))
    paths.honour_umask(tmp, directory=True)
    return tmp


def _is_tmp(folder: Path) -> bool:
    return folder.is_dir() and not folder.is_symlink() and bool(_TMP_PATTERN.match(folder.name))


#: A temporary folder of another host is left alone this long (its writer may run).
STALE_SECONDS = 24 * 3600


def _abandoned(folder: Path) -> bool:
    """Whether the process that made a temporary folder is gone: on this host, its
    pid is not alive; from another host, it is older than :data:`STALE_SECONDS`."""
    match = _TMP_PATTERN.match(folder.name)
    if match is None:
        return False
    host, pid = match.group(2), int(match.group(3))
    if host != _HOST:
        try:
            return time.time() - folder.stat().st_mtime > STALE_SECONDS
        except OSError:
            return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False


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


def install_result(
    kind: str,
    key: str,
    meta: Mapping,
    cache_dir: str | os.PathLike | None = None,
    *,
    checked: bool = False,
) -> bool:
    """Write an entry made of its ``result.json`` alone (an imported result) into place,
    replacing an unusable entry of that key. Returns whether it was written: an entry
    that another process made usable meanwhile is kept. ``checked``: the kind folder was
    already checked (:func:`ensure_writable`), as an import does once per kind."""
    check_kind(kind)
    if not KEY_PATTERN.match(key):
        raise CacheError(f"key={key!r} is not a cache key (20 hexadecimal digits)")
    root = paths.cache_dir(cache_dir) / kind
    if not checked:
        ensure_writable(root)
    folder = root / key
    tmp = _tmp_folder(root, key)
    try:
        # keys in the order recorded: tables built from a result keep their columns
        (tmp / RESULT_FILE).write_text(json.dumps(dict(meta), indent=1))
        paths.honour_umask(tmp / RESULT_FILE)
        for _ in range(3):
            if usable(folder):  # another import wrote it first: theirs is kept
                shutil.rmtree(tmp, ignore_errors=True)
                return False
            if folder.exists():  # unusable: moved aside, then removed
                with contextlib.suppress(OSError):
                    aside = Path(
                        tempfile.mkdtemp(prefix=f".{key}.{_HOST}.{os.getpid()}.", dir=root)
                    )
                    os.replace(folder, aside / "old")
                    shutil.rmtree(aside, ignore_errors=True)
            try:
                os.replace(tmp, folder)
                return True
            except OSError:
                continue  # it appeared meanwhile: look again
        raise CacheError(f"{folder} could not be written: another process keeps replacing it")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_cached(
    kind: str, config: Mapping, version: str, cache_dir: str | os.PathLike | None = None
) -> bool:
    """Whether ``(kind, config, version)`` has a usable entry (see :func:`usable`)."""
    key = cache_key(kind, config, version)
    return usable(paths.cache_dir(cache_dir) / kind / key)


def usable(folder: Path) -> bool:
    """Whether the entry in ``folder`` can be read back: its ``result.json`` is this
    cache's, holds a result, and its tensors match their recorded digest. ``book plan``,
    ``sweep`` and ``cache ls`` all call an entry cached by this one test."""
    return entry_problem(folder) is None


def entry_problem(folder: Path) -> str | None:
    """Why the entry in ``folder`` cannot be used, or None."""
    try:
        text = (folder / RESULT_FILE).read_text()
    except OSError as exc:
        return "no result.json" if isinstance(exc, FileNotFoundError) else str(exc)
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return f"result.json is not JSON ({type(exc).__name__})"
    if not isinstance(meta, dict):
        return "result.json holds no object"
    return _entry_problem(folder, meta)


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
                if not isinstance(meta, dict):
                    raise ValueError("result.json holds no object")
                row.update(
                    created_utc=meta.get("created_utc"),
                    version=meta.get("version"),
                    complete=not folder.name.startswith("."),
                    results_only=meta.get("shipped") == RESULTS_ONLY,
                )
            except Exception:  # noqa: BLE001
                row.update(created_utc=None, version=None, complete=False, results_only=False)
            row["verified"] = usable(folder)
            rows.append(row)
    return rows


def _entry_problem(folder: Path, meta: dict) -> str | None:
    """Why a cache entry cannot be used, or None; the digest is checked, so a
    truncated or altered tensor file is found. Evolution runs (no model file) are
    checked by their result only."""
    if meta.get("format") != FORMAT:
        return f"format {meta.get('format')!r} is not {FORMAT}"
    if not isinstance(meta.get("result"), dict):
        return "no result"
    model = folder / MODEL_FILE
    if meta.get("shipped") == RESULTS_ONLY and not model.exists():
        return None
    if "model_sha256" not in meta:
        return "model.safetensors has no recorded digest" if model.exists() else None
    try:
        if _digest(model) != meta["model_sha256"]:
            return "model digest mismatch"
        return _safetensors_problem(model)
    except OSError as exc:
        return str(exc)


#: The largest safetensors header this cache writes is a few kB (names, shapes).
MAX_SAFETENSORS_HEADER = 1 << 20


def _safetensors_problem(model: Path) -> str | None:
    """Why ``model`` is not a readable safetensors file (its header: a length, then a
    JSON object of tensors within the file), or None; the tensors are not read."""
    size = model.stat().st_size
    with open(model, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return "model.safetensors is truncated"
        n = int.from_bytes(head, "little")
        if n > min(MAX_SAFETENSORS_HEADER, size - 8):
            return "model.safetensors has a header of impossible length"
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        return "model.safetensors has a header that is not JSON"
    if not isinstance(header, dict):
        return "model.safetensors has a header that is not an object"
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= size - 8 - n
        ):
            return f"model.safetensors: tensor {name[:80]!r} lies outside the file"
    return None


#: A plain kind name (the folder under the cache root) and a key (the entry's folder).
KIND_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KEY_PATTERN = re.compile(r"^[0-9a-f]{20}$")
#: The temporary folder of an entry being written: ``.<key>.<host>.<pid>.<random>``.
_TMP_PATTERN = re.compile(r"^\.([0-9a-f]{20})\.([^.]+)\.(\d+)\.[A-Za-z0-9_]+$")
#: Files an evolution's folder holds while it runs (checkpoints, their temporaries).
_RUN_FILE = re.compile(r"^(cycle_\d+\.(json|safetensors)|\.(ckpt|result)-[A-Za-z0-9_]+)$")


class CacheError(RuntimeError):
    """The cache cannot be used as asked (a path that is not a cache entry, a folder
    that cannot be written, too little space); raised before anything is deleted or
    computed."""


class WeightsNotShipped(CacheError):
    """A computation needs the tensors of an entry that holds recorded results only."""


class NotRecorded(CacheError):
    """A replay asked for a run that the recorded results do not hold."""


def check_kind(kind: str) -> str:
    """``kind`` if it is a plain kind name, else :class:`CacheError` naming it."""
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        raise CacheError(
            f"kind={kind!r} is not a cache kind: a kind is a plain folder name of lower-case "
            "letters, digits, '-' and '_' (for example lazarus-base); nothing was removed"
        )
    return kind


def _owned_json(path: Path, kind: str) -> bool:
    """Whether ``path`` is a JSON object this cache wrote for ``kind``."""
    try:
        if path.stat().st_size > 64 << 20:
            return False
        meta = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT and meta.get("kind") == kind


def is_entry(folder: Path, kind: str) -> bool:
    """Whether ``folder`` is provably an entry of this cache: a real folder (not a link)
    named by a key, holding this cache's ``result.json`` for ``kind`` or only an
    evolution's checkpoint files."""
    if folder.is_symlink() or not folder.is_dir() or not KEY_PATTERN.match(folder.name):
        return False
    result = folder / RESULT_FILE
    if result.is_file() and not result.is_symlink():
        return _owned_json(result, kind)
    files = list(folder.iterdir())
    return bool(files) and all(f.is_file() and _RUN_FILE.match(f.name) for f in files)


def clear(
    cache_dir: str | os.PathLike | None = None, kind: str | None = None
) -> tuple[list[Path], list[Path]]:
    """Delete every entry of the cache (or of one ``kind``) that provably is one, and the
    temporary folders of interrupted writes; returns (removed, left): the entry folders
    deleted and the folders found there that are not entries (never touched)."""
    root = paths.cache_dir(cache_dir)
    if kind is not None:
        check_kind(kind)
    if not root.is_dir():
        return [], []
    root = root.resolve()
    if kind is not None:
        kinds = [root / kind]
    else:
        kinds = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    removed: list[Path] = []
    left: list[Path] = []
    for kind_dir in kinds:
        if not kind_dir.is_dir():
            continue
        if kind_dir.is_symlink() or kind_dir.resolve().parent != root:
            left.append(kind_dir)
            continue
        if not KIND_PATTERN.match(kind_dir.name):
            left.append(kind_dir)
            continue
        for folder in sorted(kind_dir.iterdir()):
            if is_entry(folder, kind_dir.name) or _is_tmp(folder):
                shutil.rmtree(folder)
                removed.append(folder)
            else:
                left.append(folder)
        with contextlib.suppress(OSError):
            kind_dir.rmdir()  # only when nothing else is left in it
    return removed, left
