"""Where a data set comes from, in order: the array cache, the torchvision layout, an
image-folder archive, a download; and the train / validation split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..foundations import paths
from ..foundations.checks import check_choice
from .archive import archive_dataset_name, import_archive
from .arrays import DataUnavailableError, ImageDataset, load_cached, store_arrays
from .cifar import (
    DATASETS,
)

ARCHIVE_ENV = "PLASTICITY_DATA_ARCHIVE"


_TORCHVISION_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


# --------------------------------------------------------------------------- loading


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    archives: Sequence[str | os.PathLike] | None = None,
    download: bool = True,
) -> ImageDataset:
    """Load CIFAR-10 or CIFAR-100 from the first source that works (see module doc)."""
    check_choice("dataset", name, DATASETS)
    root = paths.data_dir(data_dir)
    tried: list[str] = []

    cached = load_cached(name, root)
    if cached is not None:
        return cached
    tried.append(f"cached arrays in {root / 'arrays' / name}: not found")

    tv_folder = root / _TORCHVISION_FOLDER[name]
    if tv_folder.is_dir():
        try:
            return _from_torchvision(name, root, download=False)
        except Exception as exc:  # noqa: BLE001 - reported below with the other sources
            tried.append(f"torchvision layout in {tv_folder}: {exc}")
    else:
        tried.append(f"torchvision layout in {tv_folder}: not found")

    candidates = list(archives or []) + archives_from_env()
    if candidates:
        for path in candidates:
            path = Path(path)
            try:
                held = archive_dataset_name(path)
            except Exception as exc:  # noqa: BLE001
                tried.append(f"archive {path}: {exc}")
                continue
            if held != name:
                tried.append(f"archive {path}: holds {held}, not {name}")
                continue
            return import_archive(path, root)
    else:
        tried.append(f"archive: none given (--data-archive PATH or ${ARCHIVE_ENV})")

    if download:
        try:
            return _from_torchvision(name, root, download=True)
        except Exception as exc:  # noqa: BLE001
            tried.append(f"torchvision download: {type(exc).__name__}: {exc}")
    else:
        tried.append("torchvision download: not attempted (download=False)")

    lines = "\n".join(f"  - {t}" for t in tried)
    raise DataUnavailableError(
        f"{name} is not available. Tried, in order:\n{lines}\n"
        "Provide it in one of these ways:\n"
        f"  * on a machine with internet, it downloads into {root} by itself;\n"
        f"  * copy the official python version into {tv_folder};\n"
        "  * pass an image-folder archive: `python -m plasticity data import PATH`, "
        f"`make book DATA_ARCHIVE=PATH`, or export {ARCHIVE_ENV}=PATH "
        "(several paths separated by ':')."
    )


def archives_from_env() -> list[Path]:
    """Archive paths listed in ``$PLASTICITY_DATA_ARCHIVE``."""
    raw = os.environ.get(ARCHIVE_ENV, "")
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def _from_torchvision(name: str, root: Path, *, download: bool) -> ImageDataset:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    train = cls(root=str(root), train=True, download=download)
    test = cls(root=str(root), train=False, download=download)
    arrays = {
        "train_x": train.data,
        "train_y": np.asarray(train.targets),
        "test_x": test.data,
        "test_y": np.asarray(test.targets),
    }
    how = "torchvision download" if download else "torchvision layout"
    return store_arrays(name, root, arrays, f"{how} in {root / _TORCHVISION_FOLDER[name]}")
