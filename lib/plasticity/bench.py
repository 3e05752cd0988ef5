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


def naive_repair(student, teacher, images: torch.Tensor, config, seed: int = 0) -> None:
    """The published repair step as written: the teacher recomputed on every batch and
    the clean and noisy inputs passed through the student separately."""
    import torch.nn.functional as F

    from .data import Normalizer

    normalize = Normalizer()
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    n, b = len(images), config.batch_size
    order = None
    for step in range(config.steps):
        epoch, pos = divmod(step * b, n)
        if pos == 0 or order is None:
            order = torch.randperm(n, generator=generator)
        x = normalize(images[order[pos : pos + b]])
        with torch.no_grad():
            target = teacher(x)
        out = student(x)
        out_pert = student(x + torch.randn(x.shape, generator=generator) * config.eps)
        logp = F.log_softmax(out, 1)
        entropy = -(logp.exp() * logp).sum(1).mean()
        loss = (
            config.w_cons * F.mse_loss(out, target)
            + config.w_stab * F.mse_loss(out, out_pert)
            + config.w_ent * F.relu(entropy - config.h0)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def vshape_protocol(
    dataset: ImageDataset,
    epochs: int = 5,
    steps: int = 1000,
    alpha: float = 0.35,
    seed: int = 0,
    log=print,
) -> list[dict]:
    """The seed's V-shape protocol timed end to end: train, damage, repair (ours and
    naive, from the same damaged weights), evaluate."""
    import copy

    from . import damage, lazarus
    from .data import Normalizer, to_tensor
    from .profiles import BaseTraining
    from .train import evaluate, train_classifier

    training = BaseTraining(epochs=epochs)
    set_seed(seed)
    model = StabilityCNN()
    batches = Batches(dataset.train_x, dataset.train_y, training.batch_size, seed=seed)
    start = time.perf_counter()
    train_classifier(
        model, batches, epochs=epochs, lr=training.lr, momentum=training.momentum, progress=False
    )
    train_s = time.perf_counter() - start
    original = evaluate(model, dataset.test_x, dataset.test_y)
    train_steps = len(batches) * epochs
    log(f"training: {train_steps} steps in {train_s:.1f} s, test accuracy {original:.2f} %")
    rows = [
        {
            "phase": "train (SGD, batch 64)",
            "steps": train_steps,
            "seconds": train_s,
            "steps_per_s": train_steps / train_s,
            "accuracy": original,
        }
    ]

    damaged = damage.noisy_copy(model, alpha, seed)
    rows.append(
        {
            "phase": f"damage alpha={alpha:g}",
            "steps": 0,
            "seconds": 0.0,
            "steps_per_s": float("nan"),
            "accuracy": evaluate(damaged, dataset.test_x, dataset.test_y),
        }
    )
    images = to_tensor(dataset.train_x)
    config = lazarus.RepairConfig(steps=steps)

    start = time.perf_counter()
    teacher_logits = lazarus.logits_table(model, images, Normalizer())
    logits_s = time.perf_counter() - start
    ours = copy.deepcopy(damaged)
    start = time.perf_counter()
    lazarus.repair(ours, model, config, images=images, teacher_logits=teacher_logits, seed=seed)
    ours_s = time.perf_counter() - start
    rows.append(
        {
            "phase": "repair, ours (loop only)",
            "steps": steps,
            "seconds": ours_s,
            "steps_per_s": steps / ours_s,
            "accuracy": evaluate(ours, dataset.test_x, dataset.test_y),
        }
    )
    rows.append(
        {
            "phase": "repair, ours (+ teacher logits once)",
            "steps": steps,
            "seconds": ours_s + logits_s,
            "steps_per_s": steps / (ours_s + logits_s),
            "accuracy": rows[-1]["accuracy"],
        }
    )
    log(f"our repair: {ours_s:.1f} s (+ {logits_s:.1f} s for the teacher's logits)")

    naive = copy.deepcopy(damaged)
    start = time.perf_counter()
    naive_repair(naive, model, images, config, seed=seed)
    naive_s = time.perf_counter() - start
    rows.append(
        {
            "phase": "repair, naive",
            "steps": steps,
            "seconds": naive_s,
            "steps_per_s": steps / naive_s,
            "accuracy": evaluate(naive, dataset.test_x, dataset.test_y),
        }
    )
    return rows
