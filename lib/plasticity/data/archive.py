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
from ..foundations.archives import ArchiveError, Limits, bounded_tarinfo, shown, tar_members
from .arrays import ImageDataset, arrays_dir, load_cached, store_arrays
from .cifar import CIFAR10_CLASSES, CIFAR100_FINE, CIFAR100_FINE_TO_COARSE, DATASETS

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


# --------------------------------------------------------------------------- archives


#: What a CIFAR image-folder archive can hold at most: 60,000 images plus meta.json
#: (with room to spare), and no member anywhere near a megabyte (a 32x32 image is
#: a few kilobytes in any format). Larger archives are refused before decoding.
MAX_ARCHIVE_MEMBERS = 70_000

MAX_MEMBER_BYTES = 1 << 20

#: The largest tar header record (a GNU long name, a pax record set) read: CIFAR's
#: member names are under 100 characters; a larger record is refused before it is read.
MAX_HEADER_BYTES = 4096


def _limits() -> Limits:
    """What the bounded tar reader admits of an image-folder archive (read at each
    import, so the module's bounds can be set)."""
    return Limits(
        max_members=MAX_ARCHIVE_MEMBERS,
        max_member_bytes=MAX_MEMBER_BYTES,
        max_total_bytes=MAX_ARCHIVE_MEMBERS * MAX_MEMBER_BYTES,
        max_header_bytes=MAX_HEADER_BYTES,
        what="a CIFAR archive",
    )


_shown = shown


def _zip_entries(path: Path) -> int | None:
    """The number of entries a zip's end-of-central-directory record declares (None if
    it cannot be found), read before :class:`zipfile.ZipFile` loads the directory."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (22 + 65535)))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    if entries == 0xFFFF:  # zip64: the count is in the zip64 record before it
        z64 = tail.rfind(b"PK\x06\x06", 0, at)
        if z64 >= 0 and len(tail) >= z64 + 40:
            entries = int.from_bytes(tail[z64 + 32 : z64 + 40], "little")
    return entries


def _check_zip_entries(path: Path) -> None:
    """Refuse a zip that declares more entries than a CIFAR archive can hold, before
    :class:`zipfile.ZipFile` reads its directory into memory."""
    declared = _zip_entries(path)
    if declared is not None and declared > MAX_ARCHIVE_MEMBERS:
        raise ArchiveError(
            f"{path}: the zip declares {declared} entries; a CIFAR archive has 60,001 "
            f"files (at most {MAX_ARCHIVE_MEMBERS} entries are read)"
        )


def _archive_members(path: Path) -> Iterator[tuple[str, bytes | None]]:
    """Yield (member name, bytes) for every file of a tar or zip archive, in order,
    one member in memory at a time; a truncated or corrupt archive, too many members
    or an oversized member raise :class:`ArchiveError`."""
    count, last = 0, None

    def entry() -> None:
        nonlocal count
        count += 1  # every entry counts, folders too
        if count > MAX_ARCHIVE_MEMBERS:
            raise ArchiveError(
                f"{path}: more than {MAX_ARCHIVE_MEMBERS} entries; a CIFAR archive has "
                "60,001 files and a few hundred folders"
            )

    def admit(name: str, size: int) -> None:
        if size > MAX_MEMBER_BYTES:
            raise ArchiveError(
                f"{path}: member {_shown(name)} is {size} bytes; no CIFAR file exceeds "
                f"{MAX_MEMBER_BYTES} bytes"
            )

    try:
        if zipfile.is_zipfile(path):
            _check_zip_entries(path)
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    entry()
                    if info.is_dir():
                        continue
                    admit(info.filename, info.file_size)
                    last = info.filename
                    with zf.open(info) as handle:  # never more than the cap inflated
                        payload = handle.read(MAX_MEMBER_BYTES + 1)
                    if len(payload) != info.file_size:
                        raise ArchiveError(
                            f"{path}: member {_shown(info.filename)} declares "
                            f"{info.file_size} bytes but inflates to "
                            f"{'more than ' if len(payload) > MAX_MEMBER_BYTES else ''}"
                            f"{min(len(payload), MAX_MEMBER_BYTES)} bytes"
                        )
                    yield info.filename, payload
            return
        for name, payload in tar_members(path, _limits()):
            last = name
            yield name, payload
    except ArchiveError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ArchiveError(f"{path}: {exc}") from None
    except (
        EOFError,
        OSError,
        tarfile.TarError,
        zipfile.BadZipFile,
        ValueError,
        lzma.LZMAError,
        zlib.error,
    ) as exc:
        where = f"after member {_shown(last)}" if last else "at its start"
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
        raise ArchiveError(
            f"archive {path} does not exist or is not a file; give the path of a .tar, "
            ".tar.gz, .tar.xz or .zip image-folder archive"
        )
    if zipfile.is_zipfile(path):
        _check_zip_entries(path)
        with zipfile.ZipFile(path) as zf:
            first = next((n for n in zf.namelist() if "/" in n.strip("./")), "")
    else:
        try:
            with tarfile.open(path, "r:*", tarinfo=bounded_tarinfo(_limits())) as tf:
                member = tf.next()
                first = member.name if member is not None else ""
        except ArchiveError as exc:
            raise ArchiveError(f"{path}: {exc}") from None
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArchiveError(
                f"{path} is not a readable tar or zip archive: truncated, corrupt or of "
                f"another format ({type(exc).__name__}: {exc})"
            ) from exc
    top = first.lstrip("./").split("/", 1)[0]
    if top not in DATASETS:
        raise ValueError(
            f"{path}: top folder {_shown(top)!r} is not one of {', '.join(DATASETS)} "
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
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise ArchiveError(
                    f"{path}: member {_shown(member)} is not valid JSON ({type(exc).__name__})"
                ) from None
            if not isinstance(meta, dict):
                raise ArchiveError(
                    f"{path}: member {_shown(member)} holds a JSON {type(meta).__name__}, "
                    "not an object with the class names"
                )
        elif len(parts) == 4 and parts[1] in found and parts[3].lower().endswith(_IMAGE_SUFFIXES):
            pixels = _decode_image(path, member, payload)
            found[parts[1]].setdefault(parts[2], []).append((member, pixels))
    if meta is None:
        raise ArchiveError(f"{path}: no {name}/meta.json in the archive")
    class_key = "classes" if name == "cifar10" else "fine_classes"
    names = meta.get(class_key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ArchiveError(f"{path}: meta.json {class_key} is not a list of class names")
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
        try:
            meta = json.loads((arrays_dir(name, root) / "meta.json").read_text())
        except (OSError, ValueError, RecursionError):
            meta = None
        if isinstance(meta, dict) and meta.get("origin") == _archive_origin(path):
            return cached
    return import_archive(path, root)
