"""Tensors from uint8 arrays, the book's normalisation and batches drawn straight from
tensors on the device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..foundations.checks import ParameterError, check_number

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
