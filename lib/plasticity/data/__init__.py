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

Modules: :mod:`.cifar` (metadata and the 20 superclasses), :mod:`.datasets` (loading and
the array cache), :mod:`.archive` (image-folder archives), :mod:`.synthetic`,
:mod:`.batches` (tensors, normalisation, batches). The names below are the public ones.
"""

from .archive import (
    MAX_ARCHIVE_MEMBERS,
    MAX_MEMBER_BYTES,
    ArchiveError,
    archive_dataset_name,
    ensure_imported,
    import_archive,
)
from .arrays import (
    SPLIT_SEED,
    DataUnavailableError,
    ImageDataset,
    Withheld,
    fingerprint_arrays,
    split_indices,
)
from .batches import HALF, Batches, Normalizer, to_tensor
from .cifar import (
    CIFAR10_CLASSES,
    CIFAR100_COARSE,
    CIFAR100_FINE,
    CIFAR100_FINE_TO_COARSE,
    CIFAR100_SUPERCLASSES,
    DATASETS,
)
from .datasets import (
    ARCHIVE_ENV,
    archives_from_env,
    load_dataset,
)
from .synthetic import synthetic_dataset

__all__ = [
    "ARCHIVE_ENV",
    "CIFAR10_CLASSES",
    "CIFAR100_COARSE",
    "CIFAR100_FINE",
    "CIFAR100_FINE_TO_COARSE",
    "CIFAR100_SUPERCLASSES",
    "DATASETS",
    "HALF",
    "MAX_ARCHIVE_MEMBERS",
    "MAX_MEMBER_BYTES",
    "SPLIT_SEED",
    "ArchiveError",
    "Batches",
    "DataUnavailableError",
    "ImageDataset",
    "Normalizer",
    "Withheld",
    "archive_dataset_name",
    "archives_from_env",
    "ensure_imported",
    "fingerprint_arrays",
    "import_archive",
    "load_dataset",
    "split_indices",
    "synthetic_dataset",
    "to_tensor",
]
