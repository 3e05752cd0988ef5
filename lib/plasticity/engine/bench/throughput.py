"""Training throughput: the book's loop (batches indexed straight from a uint8 tensor,
normalised per batch) against a plain DataLoader with per-sample PIL transforms, the way
the published code feeds data (``python -m plasticity bench train``).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ...data import Batches, ImageDataset
from ...foundations.compute import set_seed
from ...lazarus import StabilityCNN
from .published import Restarting, published_loaders


def _timed_steps(batches, steps: int, warmup: int, seed: int) -> tuple[float, int]:
    set_seed(seed)
    model = StabilityCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    seen, start = 0, None
    it = Restarting(batches)
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
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
    ours = Batches(dataset.train_x, dataset.train_y, batch_size, shuffle=True, seed=seed)
    loader, _ = published_loaders(dataset, seed, batch_size)
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


def book_train_steps(model, stream, opt, steps: int) -> None:
    """``steps`` steps of the book's base training: tensor batches from ``stream`` in
    channels-last order, cross-entropy, ``opt``."""
    import torch.nn.functional as F

    for _ in range(steps):
        xb, yb = next(stream)
        loss = F.cross_entropy(model(xb.contiguous(memory_format=torch.channels_last)), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
