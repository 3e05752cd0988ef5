"""Every test runs with its own data, cache, figures and executed-notebook folders.

No test touches the network, the project's ``data/`` or the committed ``figures/``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from plasticity import data
from plasticity.book import runner

REAL_ARCHIVES_ENV = "PLASTICITY_TEST_ARCHIVES"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point every location of the book at a temporary folder."""
    folders = {}
    for kind, env in [
        ("data", "PLASTICITY_DATA_DIR"),
        ("cache", "PLASTICITY_CACHE_DIR"),
        ("figures", "PLASTICITY_FIGURES_DIR"),
        ("executed", "PLASTICITY_EXECUTED_DIR"),
    ]:
        folder = tmp_path / f"book-{kind}"
        folder.mkdir()
        monkeypatch.setenv(env, str(folder))
        folders[kind] = folder
    monkeypatch.delenv(data.ARCHIVE_ENV, raising=False)
    monkeypatch.delenv("PLASTICITY_HEADLESS", raising=False)
    monkeypatch.setenv("PLASTICITY_DEVICE", "cpu")
    return folders


def assert_same_tables(replayed: Path, original: Path, tables) -> int:
    """Each table ``original/<rel>`` (a CSV) equals ``replayed/<rel>`` to float rounding;
    returns how many were compared."""
    import pandas as pd

    n = 0
    for path in sorted(tables):
        rel = path.relative_to(original)
        pd.testing.assert_frame_equal(
            pd.read_csv(replayed / rel),
            pd.read_csv(path),
            check_exact=False,
            rtol=1e-9,
            obj=str(rel),
        )
        n += 1
    return n


def image_bytes(pixels: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def make_archive(
    path: Path,
    *,
    name: str = "cifar10",
    classes: list[str] | None = None,
    per_class: dict[str, int] | None = None,
    fmt: str = "PNG",
    extra_folder: str | None = None,
) -> dict:
    """Write a tiny image-folder archive; returns the pixels written, by member name.

    Every image is a flat colour that encodes (split, class, index), so a test can
    check that each image lands with the right label.
    """
    classes = classes or list(data.CIFAR10_CLASSES)
    per_class = per_class or {"train": 3, "test": 2}
    meta_key = "classes" if name == "cifar10" else "fine_classes"
    meta = {"name": name, meta_key: classes}
    if name == "cifar100":
        meta["fine_to_coarse"] = data.CIFAR100_FINE_TO_COARSE.tolist()
    members: dict[str, bytes] = {f"{name}/meta.json": json.dumps(meta).encode()}
    written = {}
    folders = list(classes) + ([extra_folder] if extra_folder else [])
    for s, (split, count) in enumerate(per_class.items()):
        for c, cls in enumerate(folders):
            for i in range(count):
                pixels = np.zeros((32, 32, 3), np.uint8)
                pixels[..., 0], pixels[..., 1], pixels[..., 2] = 10 + 20 * s, 2 * c, 10 * i
                member = f"{name}/{split}/{cls}/{i:04d}.{fmt.lower()}"
                members[member] = image_bytes(pixels, fmt)
                written[member] = pixels
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for member, payload in members.items():
                zf.writestr(member, payload)
    else:
        mode = "w:xz" if path.name.endswith(".xz") else "w"
        with tarfile.open(path, mode) as tf:
            for member, payload in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
    return written


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Run the whole book once per test session (smoke profile), in its own folders.

    Returns the folder (with ``data``, ``cache``, ``figures`` and ``executed``) and the
    runner's list of (chapter, seconds, executed notebook).
    """

    root = tmp_path_factory.mktemp("smoke-book")
    mp = pytest.MonkeyPatch()
    for env, sub in [
        ("PLASTICITY_DATA_DIR", "data"),
        ("PLASTICITY_CACHE_DIR", "cache"),
        ("PLASTICITY_FIGURES_DIR", "figures"),
    ]:
        (root / sub).mkdir()
        mp.setenv(env, str(root / sub))
    try:
        done = runner.run(
            "smoke", output_dir=root / "executed", progress=False, log=lambda *a, **k: None
        )
    finally:
        mp.undo()
    return root, done


@pytest.fixture
def real_archives() -> Path:
    """The folder with the real CIFAR archives, if the environment names one."""
    folder = os.environ.get(REAL_ARCHIVES_ENV)
    if not folder or not Path(folder).is_dir():
        pytest.skip(f"set {REAL_ARCHIVES_ENV} to a folder with cifar10/100 archives")
    return Path(folder)
