"""Image-folder archives (.tar, .tar.gz, .tar.xz, .zip) imported into the array cache,
with every member, header and image bounded before it is read.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..foundations import paths
from .arrays import ImageDataset, arrays_dir, load_cached, store_arrays
from .cifar import CIFAR10_CLASSES, CIFAR100_FINE, CIFAR100_FINE_TO_COARSE, DATASETS

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


# --------------------------------------------------------------------------- archives


#: What a CIFAR image-folder archive can hold at most: 60,000 images plus meta.json
#: (with room to spare), and no member anywhere near a megabyte (a 32x32 image is
#: a few kilobytes in any format). Larger archives are refused before decoding.
MAX_ARCHIVE_MEMBERS = 70_000

MAX_MEMBER_BYTES = 1 << 20

_COMPRESSED_MAGIC = (b"\xfd7zXZ\x00", b"\x1f\x8b", b"BZh")


class ArchiveError(ValueError):
    """An archive that cannot be imported; the message names the archive and, where
    one is at fault, the member."""


def _archive_members(path: Path) -> Iterator[tuple[str, bytes | None]]:
    """Yield (member name, bytes) for every file of a tar or zip archive, in order,
    one member in memory at a time; a truncated or corrupt archive, too many members
    or an oversized member raise :class:`ArchiveError`."""
    count, last = 0, None

    def admit(name: str, size: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_ARCHIVE_MEMBERS:
            raise ArchiveError(
                f"{path}: more than {MAX_ARCHIVE_MEMBERS} files; a CIFAR archive has 60,001"
            )
        if size > MAX_MEMBER_BYTES:
            raise ArchiveError(
                f"{path}: member {name} is {size} bytes; no CIFAR file exceeds "
                f"{MAX_MEMBER_BYTES} bytes"
            )

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        admit(info.filename, info.file_size)
                        last = info.filename
                        yield info.filename, zf.read(info)
            return
        with open(path, "rb") as f:
            head = f.read(6)
            plain = not head.startswith(_COMPRESSED_MAGIC)
            if plain:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 1024))
                if size % 512 or f.read(1024).strip(b"\0"):
                    raise ArchiveError(
                        f"{path}: the tar archive is truncated (it does not end with the "
                        "end-of-archive blocks); download or copy it again"
                    )
        with tarfile.open(path, "r:*") as tf:
            for member in tf:
                if member.isfile():
                    admit(member.name, member.size)
                    handle = tf.extractfile(member)
                    last = member.name
                    yield member.name, handle.read() if handle else None
    except ArchiveError:
        raise
    except (
        EOFError,
        OSError,
        tarfile.TarError,
        zipfile.BadZipFile,
        ValueError,
        lzma.LZMAError,
        zlib.error,
    ) as exc:
        where = f"after member {last}" if last else "at its start"
        raise ArchiveError(
            f"{path}: the archive is truncated or corrupt {where} ({type(exc).__name__}: {exc}); "
            "download or copy it again"
        ) from exc


def _decode_image(path: Path, member: str, payload: bytes | None) -> np.ndarray:
    """A 32x32 RGB image from an archive member; the size is checked from the header
    before any pixel is decoded, so a decompression bomb costs nothing."""
    from PIL import Image, UnidentifiedImageError

    if not payload:
        raise ArchiveError(f"{path}: member {member} is empty")
    try:
        with Image.open(io.BytesIO(payload)) as img:  # reads the header only
            if img.size != (32, 32):
                raise ArchiveError(
                    f"{path}: member {member} is {img.size[0]}x{img.size[1]} pixels, not 32x32"
                )
            return np.asarray(img.convert("RGB"))
    except ArchiveError:
        raise
    except Image.DecompressionBombError as exc:
        raise ArchiveError(
            f"{path}: member {member} claims an enormous image, not 32x32 ({exc})"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ArchiveError(
            f"{path}: member {member} is not a readable image ({type(exc).__name__}: {exc})"
        ) from exc


def archive_dataset_name(path: str | os.PathLike) -> str:
    """Which data set an image-folder archive holds: the name of its top folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"archive {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            first = next((n for n in zf.namelist() if "/" in n.strip("./")), "")
    else:
        try:
            with tarfile.open(path, "r:*") as tf:
                member = tf.next()
                first = member.name if member is not None else ""
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArchiveError(
                f"{path} is not a readable tar or zip archive: truncated, corrupt or of "
                f"another format ({type(exc).__name__}: {exc})"
            ) from exc
    top = first.lstrip("./").split("/", 1)[0]
    if top not in DATASETS:
        raise ValueError(
            f"{path}: top folder {top!r} is not one of {', '.join(DATASETS)} "
            "(expected <name>/meta.json and <name>/<split>/<class>/<image>)"
        )
    return top


def import_archive(
    path: str | os.PathLike, data_dir: str | os.PathLike | None = None
) -> ImageDataset:
    """Decode an image-folder archive once and cache it as arrays in the data dir.

    Layout: ``<name>/meta.json`` and ``<name>/{train,test}/<class>/<image>``; the label
    of an image is the index of its folder in ``meta.json``'s class list (``classes``
    for CIFAR-10, ``fine_classes`` for CIFAR-100). Images are sorted by path.
    """
    path = Path(path)
    name = archive_dataset_name(path)
    root = paths.data_dir(data_dir)
    meta: dict | None = None
    # decoded at once, member by member: memory holds the 32x32x3 arrays, never the files
    found: dict[str, dict[str, list[tuple[str, np.ndarray]]]] = {"train": {}, "test": {}}
    for member, payload in _archive_members(path):
        parts = member.lstrip("./").split("/")
        if parts[-1] == "meta.json" and len(parts) == 2:
            try:
                meta = json.loads((payload or b"").decode())
            except (UnicodeDecodeError, ValueError) as exc:
                raise ArchiveError(f"{path}: member {member} is not valid JSON ({exc})") from exc
        elif len(parts) == 4 and parts[1] in found and parts[3].lower().endswith(_IMAGE_SUFFIXES):
            pixels = _decode_image(path, member, payload)
            found[parts[1]].setdefault(parts[2], []).append((member, pixels))
    if meta is None:
        raise ArchiveError(f"{path}: no {name}/meta.json in the archive")
    class_key = "classes" if name == "cifar10" else "fine_classes"
    names = list(meta.get(class_key, []))
    expected = len(CIFAR10_CLASSES if name == "cifar10" else CIFAR100_FINE)
    if len(names) != expected:
        raise ArchiveError(f"{path}: meta.json {class_key} has {len(names)} names, not {expected}")
    if name == "cifar100" and "fine_to_coarse" in meta:
        if not np.array_equal(np.asarray(meta["fine_to_coarse"]), CIFAR100_FINE_TO_COARSE):
            raise ArchiveError(f"{path}: meta.json fine_to_coarse differs from the official map")

    arrays: dict[str, np.ndarray] = {}
    for split, by_class in found.items():
        unknown = sorted(set(by_class) - set(names))
        if unknown:
            raise ArchiveError(
                f"{path}: {split} folders {unknown} are not in meta.json {class_key}"
            )
        items = sorted(
            (member, names.index(cls), pixels)
            for cls, entries in by_class.items()
            for member, pixels in entries
        )
        if not items:
            raise ArchiveError(f"{path}: no {split} images under {name}/{split}/<class>/")
        arrays[f"{split}_x"] = np.stack([pixels for _, _, pixels in items])
        arrays[f"{split}_y"] = np.array([label for _, label, _ in items], dtype=np.int64)
        found[split] = {}
    return store_arrays(
        name, root, arrays, f"image-folder archive {path.name}", _archive_origin(path)
    )


def _archive_origin(path: Path) -> dict:
    stat = path.stat()
    return {"archive": str(path.resolve()), "bytes": stat.st_size, "mtime": int(stat.st_mtime)}


def ensure_imported(
    path: str | os.PathLike, data_dir: str | os.PathLike | None = None
) -> ImageDataset:
    """Import an archive unless the cached arrays already come from this very file."""
    path = Path(path)
    name = archive_dataset_name(path)
    root = paths.data_dir(data_dir)
    cached = load_cached(name, root)
    if cached is not None:
        meta = json.loads((arrays_dir(name, root) / "meta.json").read_text())
        if meta.get("origin") == _archive_origin(path):
            return cached
    return import_archive(path, root)
