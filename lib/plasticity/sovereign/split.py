"""CIFAR-100 as NeuroSovereign sees it: train, a validation split carved from train, test,
with fine and coarse labels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..data import ImageDataset, to_tensor
from ..foundations.checks import ParameterError

# --------------------------------------------------------------------------- data


@dataclass
class SovereignData:
    """CIFAR-100 split for the evolution: train (minus validation), val, test."""

    dataset: ImageDataset
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    fine_to_coarse: torch.Tensor

    @classmethod
    def from_dataset(cls, ds: ImageDataset, val_size: int) -> SovereignData:
        if ds.fine_to_coarse is None:
            raise ParameterError(f"dataset={ds.name!r} has no superclasses; use CIFAR-100")
        split = ds.with_validation(val_size)
        if ds.recorded:  # sizes and keys only: every array stays withheld
            return cls(
                ds,
                split.train_x,
                split.train_y,
                split.val_x,
                split.val_y,
                ds.test_x,
                ds.test_y,
                torch.from_numpy(np.array(ds.fine_to_coarse, dtype=np.int64)),
            )

        def labels(y):
            return torch.from_numpy(np.array(y, dtype=np.int64))

        return cls(
            ds,
            to_tensor(split.train_x),
            labels(split.train_y),
            to_tensor(split.val_x),
            labels(split.val_y),
            to_tensor(ds.test_x),
            labels(ds.test_y),
            torch.from_numpy(np.array(ds.fine_to_coarse, dtype=np.int64)),
        )


def random_taxonomy(fine_to_coarse: torch.Tensor, seed: int) -> torch.Tensor:
    """The fine classes dealt at random to superclasses of the same sizes: a taxonomy
    with CIFAR-100's shape and none of its meaning (drawn with ``seed``)."""
    perm = torch.randperm(len(fine_to_coarse), generator=torch.Generator().manual_seed(seed))
    return fine_to_coarse[perm].clone()


def with_taxonomy(data: SovereignData, taxonomy_seed: int | None) -> SovereignData:
    """``data`` with a random taxonomy when ``taxonomy_seed`` is set (else itself)."""
    if taxonomy_seed is None:
        return data
    return replace(data, fine_to_coarse=random_taxonomy(data.fine_to_coarse, taxonomy_seed))


def stratified_indices(labels: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """A fixed subset of ``size`` indices with (as nearly as possible) equal counts per
    class, drawn with ``seed``; the whole set when ``size`` covers it."""
    n = len(labels)
    if size >= n:
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    per, extra = divmod(size, len(classes))
    chosen = []
    for i, c in enumerate(classes.tolist()):
        idx = torch.nonzero(labels == c).flatten()
        take = min(len(idx), per + (1 if i < extra else 0))
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:take]])
    return torch.sort(torch.cat(chosen)).values
