"""The seed's published script, step for step: its repair step, its DataLoader loops
that restart, its test loops; the naive repair the book's is timed against.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...data import ImageDataset


def _published_step(student, teacher, x: torch.Tensor, noise: torch.Tensor, opt, config) -> None:
    """One step of the published ``lazarus_restore_v3``: the teacher recomputed under
    ``no_grad``, the clean and the noisy batch through the student separately."""
    import torch.nn.functional as F

    opt.zero_grad()
    with torch.no_grad():
        target = teacher(x)
    out = student(x)
    out_pert = student(x + noise * config.eps)
    probs, log_probs = F.softmax(out, dim=1), F.log_softmax(out, dim=1)
    entropy = -(probs * log_probs).sum(dim=1).mean()
    loss = (
        config.w_cons * F.mse_loss(out, target)
        + config.w_stab * F.mse_loss(out, out_pert)
        + config.w_ent * F.relu(entropy - config.h0)
    )
    loss.backward()
    opt.step()


def naive_repair(student, teacher, images: torch.Tensor, config, seed: int = 0) -> None:
    """The published repair step as written (:func:`_published_step`), fed from a uint8
    tensor of images in a seeded order."""
    from ...data import Normalizer

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
        _published_step(student, teacher, x, torch.randn(x.shape, generator=generator), opt, config)


# ------------------------------------------------------------ the seed's published script

#: The published V-shape script (``experiments/noise/experiment_cifar10.py``) passes
#: over the test loader: accuracy of the original; accuracy, entropy and agreement
#: (two models per batch) of the damaged and of the restored model.
PUBLISHED_TEST_LOOPS = {"one model": 5, "two models": 2}


class PilDataset(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(np.asarray(self.x[i]))), int(self.y[i])


def published_loaders(dataset: ImageDataset, seed: int = 0, batch_size: int = 64):
    """The published script's data path: a ``DataLoader`` (``num_workers=0``, batch 64)
    over per-sample ``PIL`` -> ``ToTensor`` -> ``Normalize(0.5, 0.5)``; the train loader
    shuffles, the test loader does not."""
    from torchvision import transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    train = torch.utils.data.DataLoader(
        PilDataset(dataset.train_x, dataset.train_y, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=0,
        generator=torch.Generator().manual_seed(seed),
    )
    test = torch.utils.data.DataLoader(
        PilDataset(dataset.test_x, dataset.test_y, transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
    )
    return train, test


class Restarting:
    """``next(loader)`` the way the published loops do it: a new iterator (a new
    shuffle) when the old one runs out."""

    def __init__(self, loader):
        self.loader, self.it = loader, iter(loader)

    def __next__(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)


def published_train_steps(model, batches: Restarting, steps: int, opt) -> None:
    """The published training loop for ``steps`` batches: SGD, cross-entropy, the
    running loss read back with ``.item()`` every step."""
    loss_fn = nn.CrossEntropyLoss()
    running = 0.0
    device = next(model.parameters()).device
    for _ in range(steps):
        inputs, labels = next(batches)
        inputs, labels = inputs.to(device), labels.to(device)  # the script's .to(DEVICE)
        opt.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        opt.step()
        running += loss.item()


def published_repair_steps(student, teacher, batches: Restarting, steps: int, opt, config) -> None:
    """The published ``lazarus_restore_v3`` loop for ``steps`` iterations: a
    DataLoader batch and :func:`_published_step` (with per-tensor Adam as ``opt``)."""
    student.train()
    teacher.eval()
    device = next(student.parameters()).device
    for _ in range(steps):
        images, _ = next(batches)
        images = images.to(device)
        _published_step(student, teacher, images, torch.randn_like(images), opt, config)


def published_test_loop(models, loader) -> None:
    """One pass of the published evaluation over the test loader, every model in
    ``models`` on each batch (one for accuracy or entropy, two for agreement)."""
    for m in models:
        m.eval()
    device = next(models[0].parameters()).device
    with torch.no_grad():
        for images, _ in loader:
            images = images.to(device)
            for m in models:
                m(images)
