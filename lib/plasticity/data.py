"""CIFAR-10 and CIFAR-100 as uint8 arrays, batched straight from tensors.

Where the data comes from, in this order (:func:`load_dataset`):

1. decoded arrays cached in ``<data dir>/arrays/<name>/`` (memory-mapped ``.npy``);
2. the torchvision layout in the data dir (``cifar-10-batches-py``, ``cifar-100-python``);
3. an image-folder archive (``.tar``, ``.tar.gz``, ``.tar.xz``, ``.zip``) passed as
   ``archives=`` or listed in ``$PLASTICITY_DATA_ARCHIVE`` (paths separated by ``:``);
4. a torchvision download, when the machine is online.

Sources 2 to 4 are decoded once and cached as in 1, together with a fingerprint (a
SHA-256 of the arrays) that the run cache uses in its keys. When nothing works, one
:class:`DataUnavailableError` explains how to provide the data.

Synthetic look-alikes (:func:`synthetic_dataset`) have CIFAR's shapes and are
learnable in a few steps; the CIFAR-100 look-alike has a real 20 x 5 hierarchy. They
are for tests and the smoke profile, and say so in their names.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import shutil
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import paths
from .profiles import ParameterError, check_choice, check_number

DATASETS = ("cifar10", "cifar100")
ARCHIVE_ENV = "PLASTICITY_DATA_ARCHIVE"
ARRAYS_FORMAT = 1
#: The fixed seed of the validation split carved from train; never a run's seed.
SPLIT_SEED = 20240601

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

CIFAR100_FINE = (
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
)

#: The official CIFAR-100 superclasses (Krizhevsky 2009, Appendix), in label order.
CIFAR100_SUPERCLASSES: dict[str, tuple[str, ...]] = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
CIFAR100_COARSE = tuple(CIFAR100_SUPERCLASSES)
#: fine label -> coarse label, for all 100 fine classes.
CIFAR100_FINE_TO_COARSE = np.array(
    [
        next(c for c, members in enumerate(CIFAR100_SUPERCLASSES.values()) if fine in members)
        for fine in CIFAR100_FINE
    ],
    dtype=np.int64,
)

_TORCHVISION_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DataUnavailableError(RuntimeError):
    """No source could provide the requested data set.

    In a notebook, IPython shows only the message (how to get the data), in the cell
    that asked for it, instead of a traceback through the library."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self.args[0] if self.args else ''}"]


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


def split_indices(n: int, val_size: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted (train, validation) index arrays; the same for the same seed."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


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

    cached = _load_cached(name, root)
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


def _arrays_dir(name: str, root: Path) -> Path:
    return root / "arrays" / name


def _load_cached(name: str, root: Path) -> ImageDataset | None:
    folder = _arrays_dir(name, root)
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


def _store(
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
    final = _arrays_dir(name, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    os.chmod(tmp, 0o755)
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
    loaded = _load_cached(name, root)
    assert loaded is not None, "arrays just written must load"
    return loaded


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
    return _store(name, root, arrays, f"{how} in {root / _TORCHVISION_FOLDER[name]}")


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
    return _store(name, root, arrays, f"image-folder archive {path.name}", _archive_origin(path))


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
    cached = _load_cached(name, root)
    if cached is not None:
        meta = json.loads((_arrays_dir(name, root) / "meta.json").read_text())
        if meta.get("origin") == _archive_origin(path):
            return cached
    return import_archive(path, root)


# --------------------------------------------------------------------------- synthetic


def synthetic_dataset(
    name: str, n_train: int = 2000, n_test: int = 500, seed: int = 0
) -> ImageDataset:
    """A deterministic, CIFAR-shaped look-alike that a small CNN learns in a few steps.

    Each class has a smooth random colour pattern (a 4x4 grid upsampled to 32x32);
    an image is its class pattern plus a random brightness shift and pixel noise. For
    ``cifar100`` the pattern is a superclass pattern plus a weaker fine-class pattern,
    so the five fine classes of one superclass share structure (a real 20 x 5
    hierarchy with the official superclass map).
    """
    check_choice("dataset", name, DATASETS)
    check_number("n_train", n_train, low=1, integer=True)
    check_number("n_test", n_test, low=1, integer=True)
    rng = np.random.default_rng([seed, 1 if name == "cifar10" else 2])

    def patterns(count: int) -> np.ndarray:
        coarse_grid = rng.standard_normal((count, 3, 4, 4)).astype(np.float32)
        up = torch.nn.functional.interpolate(
            torch.from_numpy(coarse_grid), size=(32, 32), mode="bilinear", align_corners=False
        )
        return up.permute(0, 2, 3, 1).numpy()

    if name == "cifar10":
        classes, fine_to_coarse, coarse_names = CIFAR10_CLASSES, None, None
        class_pattern = 16.0 * patterns(10)
    else:
        classes, fine_to_coarse, coarse_names = (
            CIFAR100_FINE,
            CIFAR100_FINE_TO_COARSE,
            CIFAR100_COARSE,
        )
        class_pattern = 30.0 * patterns(20)[CIFAR100_FINE_TO_COARSE] + 18.0 * patterns(100)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n, dtype=np.int64) % len(classes)
        rng.shuffle(y)
        shift = rng.normal(0.0, 20.0, size=(n, 1, 1, 1))
        noise = rng.normal(0.0, 60.0, size=(n, 32, 32, 3))
        x = 120.0 + class_pattern[y] + shift + noise
        return np.clip(np.rint(x), 0, 255).astype(np.uint8), y

    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    return ImageDataset(
        name=f"synthetic-{name}",
        classes=classes,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        fingerprint=f"synthetic-{name}-n{n_train}-{n_test}-s{seed}-v3",
        source="synthetic (generated by plasticity.data.synthetic_dataset)",
        synthetic=True,
        coarse_classes=coarse_names,
        fine_to_coarse=fine_to_coarse,
    )


# --------------------------------------------------------------------------- batching

#: The published Lazarus normalisation: mean = std = 0.5 per channel, pixels in [-1, 1].
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 32, 32, 3) -> a contiguous uint8 tensor (N, 3, 32, 32)."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


class Normalizer:
    """Turn a uint8 batch into normalised floats: ``(x / 255 - mean) / std``."""

    def __init__(self, mean: Sequence[float] = HALF[0], std: Sequence[float] = HALF[1]):
        std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        if torch.any(std_t <= 0):
            raise ParameterError(f"std={tuple(std)} must be positive")
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -mean_t / std_t

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale.to(xb.device), self.shift.to(xb.device)
        return torch.addcmul(shift, xb.float(), scale)


class Batches:
    """Batches of normalised images straight from uint8 tensors.

    No per-sample transforms: a batch is one index, one ``float()`` and one fused
    multiply-add. The shuffle of epoch ``e`` is a permutation drawn from a generator
    seeded with ``(seed, e)``, so it is the same for the same seed on every machine.
    """

    def __init__(
        self,
        x: np.ndarray | torch.Tensor,
        y: np.ndarray | torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        normalize: Normalizer | None = None,
        drop_last: bool = False,
        device: str | torch.device = "cpu",
    ):
        check_number("batch_size", batch_size, low=1, integer=True)
        self.x = x if isinstance(x, torch.Tensor) else to_tensor(x)
        self.y = (
            y.long() if isinstance(y, torch.Tensor) else torch.from_numpy(np.array(y, np.int64))
        )
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} images but y has {len(self.y)} labels")
        self.device = torch.device(device)
        self.x, self.y = self.x.to(self.device), self.y.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.normalize = normalize or Normalizer()
        self.drop_last = drop_last

    def __len__(self) -> int:
        n, b = len(self.y), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> torch.Tensor:
        """The index order of ``epoch``."""
        n = len(self.y)
        if not self.shuffle:
            return torch.arange(n)
        g = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + int(epoch))
        return torch.randperm(n, generator=g)

    def epoch(self, epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(images, labels)`` for one pass over the data."""
        order = self.order(epoch).to(self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.normalize(self.x[idx]), self.y[idx]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(0)

    def stream(self, start_epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches without end, epoch after epoch (for step-counted loops)."""
        epoch = start_epoch
        while True:
            yield from self.epoch(epoch)
            epoch += 1
