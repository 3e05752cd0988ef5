"""Repair inputs that use no real image, and how natural they look to the teacher.

Three families (the procedural ones live in :mod:`plasticity.lazarus` beside the
noise they extend):

- **procedural**: white noise, coloured 1/f noise, dead leaves (drawn per step);
- **teacher inversion** (:func:`invert`): a pool of images optimised against the
  original model from dead-leaves starts, with image priors (total variation, a pull
  towards mid-grey, random jitter and flips) and a diversity term, synthesised once
  per base model and cached;
- **disagreement seeking** (:func:`seek_disagreement`): procedural images moved, by a
  few signed-gradient steps per repair step, to where the damaged student and the
  original differ most (the adversarial idea of ZSKT, Micaelli and Storkey 2019,
  without a generator).

:func:`teacher_view` measures any input set in the teacher's own terms: the entropy
of its predictions, the balance of its argmax over classes, and the Fréchet distance
between its penultimate features and those of real images.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..foundations.checks import check_choice, check_number
from .model import StabilityCNN

#: Bump when the synthesis changes what it produces.
INVERSION_VERSION = "lazarus-inversion-v1"
STARTS = ("dead_leaves", "pink", "gaussian")


@dataclass(frozen=True)
class InversionConfig:
    """Teacher inversion with image priors and a diversity term.

    ``pool`` images, a balanced set of target classes, optimised in ``batch_size``
    chunks for ``steps`` Adam steps (``lr`` in pixel units, pixels kept in [0, 1]):
    ``CE(teacher(T(x)), y) + w_tv * TV(x) + w_l2 * mean((x - 0.5)^2)
    + w_div * (mean cosine similarity of the penultimate features of same-class
    pairs)``, where ``T`` shifts by up to ``jitter`` pixels and flips at random.
    ``w_tv = w_div = 0`` and ``jitter = 0`` give plain class-score inversion.
    """

    pool: int = 2048
    steps: int = 100
    batch_size: int = 256
    lr: float = 0.05
    w_tv: float = 0.3
    w_l2: float = 0.1
    w_div: float = 1.0
    jitter: int = 2
    flip: bool = True
    start: str = "dead_leaves"

    def __post_init__(self) -> None:
        check_number("inversion pool", self.pool, low=1, integer=True)
        check_number("inversion steps", self.steps, low=0, integer=True)
        check_number("inversion batch_size", self.batch_size, low=1, integer=True)
        check_number("inversion lr", self.lr, low=0, low_inclusive=False)
        for name in ("w_tv", "w_l2", "w_div"):
            check_number(f"inversion {name}", getattr(self, name), low=0)
        check_number("inversion jitter", self.jitter, low=0, high=8, integer=True)
        check_choice("inversion start", self.start, STARTS)

    def key(self) -> dict:
        return asdict(self)


def penultimate(model: StabilityCNN, x: torch.Tensor) -> torch.Tensor:
    """The 256 features before StabilityCNN's last layer (after its ReLU)."""
    if not isinstance(model, StabilityCNN):
        raise TypeError(f"model must be a StabilityCNN, not {type(model).__name__}")
    h = model.pool(torch.relu(model.conv1(x)))
    h = model.pool(torch.relu(model.conv2(h)))
    return torch.relu(model.fc1(torch.flatten(h, 1)))


def _normalise(x01: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] to the network's input (mean = std = 0.5, as the Normalizer)."""
    return (x01 - 0.5) / 0.5


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (
        x[..., :, 1:] - x[..., :, :-1]
    ).abs().mean()


def same_class_similarity(features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity of the features of distinct images with the same target
    (0 when no two images share one): low means diverse images per class."""
    z = F.normalize(features, dim=1)
    sim = z @ z.T
    same = (targets[:, None] == targets[None, :]).float()
    same.fill_diagonal_(0)
    pairs = same.sum()
    if pairs == 0:
        return sim.new_zeros(())
    return (sim * same).sum() / pairs


def _transform(x: torch.Tensor, jitter: int, flip: bool, g: torch.Generator) -> torch.Tensor:
    if jitter:
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=g, device=g.device).tolist()
        x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if flip and bool(torch.rand((), generator=g, device=g.device) < 0.5):
        x = torch.flip(x, dims=(3,))
    return x


def invert(
    teacher: StabilityCNN, config: InversionConfig, seed: int = 0
) -> tuple[torch.Tensor, dict]:
    """Synthesise ``config.pool`` images from ``teacher`` alone; returns them as uint8
    (N, 3, 32, 32) and what the synthesis did (targets, the teacher's cross-entropy on
    them before and after, seconds). Deterministic for a seed on one device."""
    from .inputs import input_pixels

    check_number("seed", seed, low=0, integer=True)
    start_time = time.perf_counter()
    device = next(teacher.parameters()).device
    was_training = teacher.training
    teacher.eval()
    frozen = [p.requires_grad for p in teacher.parameters()]
    teacher.requires_grad_(False)
    g = torch.Generator(device=device).manual_seed(seed)
    num_classes = teacher.fc2.out_features
    targets = torch.arange(config.pool, device=device) % num_classes
    targets = targets[torch.randperm(config.pool, generator=g, device=device)]
    start = input_pixels(config.start, config.pool, g)
    out = torch.empty_like(start)
    ce_before, ce_after = [], []
    try:
        for lo in range(0, config.pool, config.batch_size):
            x = start[lo : lo + config.batch_size].clone().requires_grad_(True)
            y = targets[lo : lo + config.batch_size]
            with torch.no_grad():
                ce_before.append(F.cross_entropy(teacher(_normalise(x)), y, reduction="sum"))
            opt = torch.optim.Adam([x], lr=config.lr)
            for _ in range(config.steps):
                xt = _transform(x, config.jitter, config.flip, g)
                feats = penultimate(teacher, _normalise(xt))
                loss = F.cross_entropy(teacher.fc2(feats), y)
                if config.w_div:
                    loss = loss + config.w_div * same_class_similarity(feats, y)
                if config.w_tv:
                    loss = loss + config.w_tv * total_variation(x)
                if config.w_l2:
                    loss = loss + config.w_l2 * (x - 0.5).pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
            with torch.no_grad():
                pixels = (x.detach() * 255).round() / 255  # what the uint8 pool holds
                ce_after.append(F.cross_entropy(teacher(_normalise(pixels)), y, reduction="sum"))
                out[lo : lo + config.batch_size] = pixels
    finally:
        for p, flag in zip(teacher.parameters(), frozen, strict=True):
            p.requires_grad_(flag)
        teacher.train(was_training)
    images = (out * 255).round().clamp_(0, 255).to(torch.uint8).cpu()
    info = {
        "targets": targets.cpu().tolist(),
        "teacher_ce_before": float(torch.stack(ce_before).sum()) / config.pool,
        "teacher_ce_after": float(torch.stack(ce_after).sum()) / config.pool,
        "seconds": time.perf_counter() - start_time,
        "config": config.key(),
    }
    return images, info


def seek_disagreement(
    student: nn.Module,
    teacher: nn.Module,
    x01: torch.Tensor,
    steps: int,
    step_size: float,
) -> torch.Tensor:
    """Move pixels ``x01`` (in [0, 1]) by ``steps`` signed-gradient steps of
    ``step_size`` up the squared logit distance between ``student`` and ``teacher``;
    no gradient reaches either model's parameters."""
    x = x01.detach()
    for _ in range(steps):
        x = x.clone().requires_grad_(True)
        z = _normalise(x)
        gap = (student(z) - teacher(z)).pow(2).sum()
        (grad,) = torch.autograd.grad(gap, x)
        x = (x + step_size * grad.sign()).clamp_(0, 1).detach()
    return x


# ------------------------------------------------------------ the teacher's view


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows: samples):
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``, in float64."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)

    def sqrtm(m: torch.Tensor) -> torch.Tensor:
        w, v = torch.linalg.eigh((m + m.T) / 2)
        return (v * w.clamp_min(0).sqrt()) @ v.T

    root = sqrtm(s_a)
    cross = sqrtm(root @ s_b @ root)
    value = (mu_a - mu_b).pow(2).sum() + torch.trace(s_a + s_b - 2 * cross)
    return float(value.clamp_min(0))


@torch.no_grad()
def teacher_view(
    teacher: StabilityCNN, x01: torch.Tensor, real01: torch.Tensor, batch_size: int = 256
) -> dict:
    """How ``x01`` looks to the teacher next to real images ``real01`` (both pixels in
    [0, 1]): mean prediction entropy (nats), the share of the commonest argmax class,
    the normalised entropy of the argmax histogram (1: every class equally often, 0:
    one class), and the Fréchet distance of the penultimate features (0: the same
    Gaussian as the real images)."""
    teacher.eval()

    def run(x):
        feats, logits = [], []
        for i in range(0, len(x), batch_size):
            f = penultimate(teacher, _normalise(x[i : i + batch_size].float()))
            feats.append(f)
            logits.append(teacher.fc2(f))
        return torch.cat(feats), torch.cat(logits)

    feats, logits = run(x01)
    real_feats, _ = run(real01)
    logp = F.log_softmax(logits, 1)
    entropy = float(-(logp.exp() * logp).sum(1).mean())
    k = logits.shape[1]
    counts = torch.bincount(logits.argmax(1), minlength=k).double()
    share = counts / counts.sum()
    nz = share[share > 0]
    balance = float(-(nz * nz.log()).sum() / math.log(k))
    return {
        "teacher_entropy": entropy,
        "top_class_share": float(share.max()) * 100.0,
        "class_balance": balance,
        "feature_distance": frechet_distance(feats, real_feats),
    }
