"""Benchmarks (not tests): training throughput of the book's loop vs a DataLoader loop.

``python -m plasticity bench train`` trains the Lazarus StabilityCNN for the same
number of SGD steps (batch 64, lr 0.01, momentum 0.9) twice on the same images:

* ours: batches indexed straight from a uint8 tensor and normalised per batch;
* a plain ``torch.utils.data.DataLoader`` (``num_workers=0``) with per-sample
  ``PIL`` -> ``ToTensor`` -> ``Normalize``, the way the published code feeds data.

and prints images/s for both.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from .data import Batches, ImageDataset
from .models import StabilityCNN
from .train import set_seed


class _PilDataset(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(np.asarray(self.x[i]))), int(self.y[i])


def _timed_steps(batches, steps: int, warmup: int, seed: int) -> tuple[float, int]:
    set_seed(seed)
    model = StabilityCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    seen, start = 0, None
    it = iter(batches)
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        try:
            xb, yb = next(it)
        except StopIteration:
            it = iter(batches)
            xb, yb = next(it)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= warmup:
            seen += len(yb)
    return time.perf_counter() - start, seen


def train_throughput(
    dataset: ImageDataset, steps: int = 300, warmup: int = 20, batch_size: int = 64, seed: int = 0
) -> list[dict]:
    """Images/s of both training loops on the same model, data and step count."""
    from torchvision import transforms

    ours = Batches(dataset.train_x, dataset.train_y, batch_size, shuffle=True, seed=seed)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    loader = torch.utils.data.DataLoader(
        _PilDataset(dataset.train_x, dataset.train_y, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=0,
        generator=torch.Generator().manual_seed(seed),
    )
    rows = []
    for label, batches in (
        ("tensor batches (ours)", ours),
        ("DataLoader + per-sample ToTensor/Normalize", loader),
    ):
        seconds, images = _timed_steps(batches, steps, warmup, seed)
        rows.append(
            {
                "loop": label,
                "steps": steps,
                "images": images,
                "seconds": round(seconds, 2),
                "images_per_s": round(images / seconds, 1),
            }
        )
    return rows
