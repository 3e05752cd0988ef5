"""A data set as uint8 arrays (:class:`ImageDataset`) and the decoded-array cache it is
read from: ``<data dir>/arrays/<name>/``, memory-mapped, with a SHA-256 fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..foundations import paths
from ..foundations.checks import check_number
from .cifar import (
    CIFAR10_CLASSES,
    CIFAR100_COARSE,
    CIFAR100_FINE,
    CIFAR100_FINE_TO_COARSE,
)

ARRAYS_FORMAT = 1
#: The fixed seed of the validation split carved from train; never a run's seed.
SPLIT_SEED = 20240601


class DataUnavailableError(RuntimeError):
    """No source could provide the requested data set.

    In a notebook, IPython shows only the message (how to get the data), in the cell
    that asked for it, instead of a traceback through the library."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self.args[0] if self.args else ''}"]


class Withheld:
    """Stands in for an array a replay does not have (the images and labels of a data
    set known only from its recorded description): it has a length and a shape, and
    indexing gives another stand-in of the selected length, so that what depends only on
    sizes works; reading any value raises :class:`DataUnavailableError` naming the
    data set."""

    __array_priority__ = 1000

    def __init__(self, name: str, shape: tuple[int, ...]):
        self.name, self.shape = name, tuple(int(n) for n in shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"Withheld({self.name!r}, shape={self.shape})"

    def _refuse(self, *args, **kwargs):
        raise DataUnavailableError(
            f"this needs the images or labels of {self.name}, and they are not here: the "
            "chapter replays recorded results (book run --replay, or no data and a results "
            "pack imported), which carry the data set's description only. Give the data "
            "(--data-archive PATH or the data folder) to compute from it."
        )

    __array__ = __iter__ = __float__ = __int__ = _refuse

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Withheld(self.name, (len(range(*index.indices(len(self)))), *self.shape[1:]))
        if isinstance(index, (list, np.ndarray, torch.Tensor)):
            idx = np.asarray(index)
            if idx.dtype == bool:
                self._refuse()
            return Withheld(self.name, (len(idx), *self.shape[1:]))
        self._refuse()


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image data set held as uint8 arrays of shape (N, 32, 32, 3).

    ``val_x``/``val_y`` are set by :meth:`with_validation`, which carves them from
    train with a fixed seed; the test split is never used for decisions.
    """

    name: str
    classes: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    fingerprint: str
    source: str
    synthetic: bool = False
    coarse_classes: tuple[str, ...] | None = None
    fine_to_coarse: np.ndarray | None = None
    val_x: np.ndarray | None = None
    val_y: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def title(self) -> str:
        """A human label for figures: says "synthetic" when the data is synthetic."""
        base = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}.get(self.kind, self.kind)
        return f"synthetic {base} look-alike" if self.synthetic else base

    @property
    def kind(self) -> str:
        """``cifar10`` or ``cifar100``, also for the synthetic look-alikes."""
        return self.name.removeprefix("synthetic-")

    def coarse(self, fine_labels: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Map fine labels to their superclass labels."""
        if self.fine_to_coarse is None:
            raise ValueError(f"{self.name} has no superclasses")
        if isinstance(fine_labels, torch.Tensor):
            return torch.as_tensor(self.fine_to_coarse, device=fine_labels.device)[fine_labels]
        return self.fine_to_coarse[np.asarray(fine_labels)]

    def with_validation(self, val_size: int, seed: int = SPLIT_SEED) -> ImageDataset:
        """Carve a validation split of ``val_size`` images from train (fixed seed)."""
        n = len(self.train_y)
        check_number("val_size", val_size, low=1, high=n - 1, integer=True)
        train_idx, val_idx = split_indices(n, val_size, seed)
        return replace(
            self,
            train_x=self.train_x[train_idx],
            train_y=self.train_y[train_idx],
            val_x=self.train_x[val_idx],
            val_y=self.train_y[val_idx],
        )

    @property
    def recorded(self) -> bool:
        """Whether this is a data set known only from its recorded description."""
        return isinstance(self.test_y, Withheld)

    def record(self) -> dict:
        """What :meth:`from_record` needs to stand in for this data set in a replay."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "synthetic": self.synthetic,
            "source": self.source,
            "train": int(len(self.train_y)),
            "test": int(len(self.test_y)),
        }

    @classmethod
    def from_record(cls, record: dict) -> ImageDataset:
        """A data set known from its :meth:`record` only: its name, fingerprint, classes
        and sizes are there, its arrays are :class:`Withheld`."""
        name = str(record["name"])
        train, test = int(record["train"]), int(record["test"])
        kind = name.removeprefix("synthetic-")
        hierarchy = {}
        if kind == "cifar100":
            hierarchy = dict(coarse_classes=CIFAR100_COARSE, fine_to_coarse=CIFAR100_FINE_TO_COARSE)
        return cls(
            name=name,
            classes=CIFAR10_CLASSES if kind == "cifar10" else CIFAR100_FINE,
            train_x=Withheld(name, (train, 32, 32, 3)),
            train_y=Withheld(name, (train,)),
            test_x=Withheld(name, (test, 32, 32, 3)),
            test_y=Withheld(name, (test,)),
            fingerprint=str(record["fingerprint"]),
            source=f"recorded ({record.get('source', 'unknown')})",
            synthetic=bool(record.get("synthetic", False)),
            **hierarchy,
        )

    def describe(self) -> dict:
        """Metadata for manifests and result files."""
        return {
            "name": self.name,
            "fingerprint": "synthetic" if self.synthetic else self.fingerprint,
            "synthetic": self.synthetic,
            "source": self.source,
            "train": int(len(self.train_y)),
            "test": int(len(self.test_y)),
        }


def arrays_dir(name: str, root: Path) -> Path:
    return root / "arrays" / name


def load_cached(name: str, root: Path) -> ImageDataset | None:
    folder = arrays_dir(name, root)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != ARRAYS_FORMAT:
            raise ValueError(f"format {meta.get('format')} != {ARRAYS_FORMAT}")
        arrays = {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in _ARRAY_KEYS}
        for split in ("train", "test"):
            x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
            if x.shape != (meta[split], 32, 32, 3) or y.shape != (meta[split],):
                raise ValueError(f"{split} arrays have shapes {x.shape}, {y.shape}")
    except Exception as exc:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable cached arrays in {folder}: {exc}", stacklevel=3)
        return None
    return _make_dataset(name, arrays, meta["fingerprint"], meta["source"])


_ARRAY_KEYS = ("train_x", "train_y", "test_x", "test_y")


def _make_dataset(name: str, arrays: dict, fingerprint: str, source: str) -> ImageDataset:
    hierarchy = {}
    if name == "cifar100":
        hierarchy = dict(coarse_classes=CIFAR100_COARSE, fine_to_coarse=CIFAR100_FINE_TO_COARSE)
    classes = CIFAR10_CLASSES if name == "cifar10" else CIFAR100_FINE
    return ImageDataset(
        name=name,
        classes=classes,
        fingerprint=fingerprint,
        source=source,
        **{k: arrays[k] for k in _ARRAY_KEYS},
        **hierarchy,
    )


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the arrays' bytes, shapes and dtypes (first 16 hex digits)."""
    h = hashlib.sha256()
    for key in _ARRAY_KEYS:
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.shape}:{a.dtype};".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:16]


_TMP_ARRAYS = re.compile(r"^\.[a-z0-9-]+-(\d+)-[A-Za-z0-9_]+$")


def _remove_abandoned(folder: Path) -> None:
    """Remove the temporary folders that killed imports left in ``folder`` (named
    ``.<name>-<pid>-<random>``, whose process is gone on this host)."""
    for tmp in folder.iterdir():
        match = _TMP_ARRAYS.match(tmp.name)
        if not match or not tmp.is_dir() or tmp.is_symlink():
            continue
        pid = int(match.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def store_arrays(
    name: str, root: Path, arrays: dict[str, np.ndarray], source: str, origin: dict | None = None
) -> ImageDataset:
    """Write arrays + meta atomically into ``<root>/arrays/<name>`` and return them mapped."""
    arrays = {
        "train_x": np.ascontiguousarray(arrays["train_x"], dtype=np.uint8),
        "train_y": np.ascontiguousarray(arrays["train_y"], dtype=np.int64),
        "test_x": np.ascontiguousarray(arrays["test_x"], dtype=np.uint8),
        "test_y": np.ascontiguousarray(arrays["test_y"], dtype=np.int64),
    }
    fingerprint = fingerprint_arrays(arrays)
    final = arrays_dir(name, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{os.getpid()}-", dir=final.parent))
    paths.honour_umask(tmp, directory=True)
    try:
        for key, value in arrays.items():
            np.save(tmp / f"{key}.npy", value)
        meta = {
            "format": ARRAYS_FORMAT,
            "name": name,
            "fingerprint": fingerprint,
            "source": source,
            "train": int(len(arrays["train_y"])),
            "test": int(len(arrays["test_y"])),
            "origin": origin or {},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    loaded = load_cached(name, root)
    assert loaded is not None, "arrays just written must load"
    return loaded


def split_indices(n: int, val_size: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted (train, validation) index arrays; the same for the same seed."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])
