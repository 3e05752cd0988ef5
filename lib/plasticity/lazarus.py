"""Lazarus: the base network, the v3 repair, its baselines and the anchors.

The base model is trained once per (data, recipe, seed) through the train-or-load
cache and shared by all chapters. :class:`Lab` damages copies of it
(:class:`Damage`), repairs them (:func:`repair` with a :class:`RepairConfig`) and
measures them; every repaired model and its result is cached as well.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import damage, stats
from .data import Batches, ImageDataset, Normalizer, to_tensor
from .datafree import INVERSION_VERSION, InversionConfig, invert, seek_disagreement
from .models import StabilityCNN, count_parameters, inference_copy
from .profiles import BaseTraining, ParameterError, check_choice, check_number
from .runs import Artifact, train_or_load
from .train import accuracy, default_device, evaluate, set_seed, train_classifier
from .widgets import progress_bars

#: Bump when the base training code changes what it produces.
BASE_VERSION = "lazarus-base-v2"

#: Test accuracy of the undamaged base model reported by the seed's runs (percent):
#: 73.17 stated for the alpha curve, about 72.71 and 72.89 implied by the V-shape and
#: pruning tables (research/lazarus_published_code.md section 1.4).
SEED_BASE_ACCURACY = {
    "alpha curve (stated)": 73.17,
    "V-shape (implied)": 72.71,
    "pruning curve (implied)": 72.89,
}


def base_config(dataset: ImageDataset, training: BaseTraining, seed: int) -> dict:
    """What determines a base model: its cache key is ``cache_key("lazarus-base", ...)``."""
    return {
        "dataset": dataset.name,
        "fingerprint": dataset.fingerprint,
        "seed": seed,
        "training": asdict(training),
    }


def repair_config_key(
    base_key: str, dmg: Damage, config: RepairConfig, seed: int, inputs: str
) -> dict:
    """What determines a repair (``inputs``: the input set's fingerprint, or its kind)."""
    repair = asdict(config)
    if repair["precision"] == "fp32":
        del repair["precision"]  # the protocol's precision: keys as before the option existed
    if repair["seek_steps"] == 0:  # likewise for inputs that do not seek disagreement
        del repair["seek_steps"], repair["seek_size"]
    return {
        "base": base_key,
        "damage": dmg.key(),
        "repair": repair,
        "seed": seed,
        "inputs": inputs,
    }


def plain_inversion(config: InversionConfig) -> InversionConfig:
    """Plain class-score inversion: ``config`` without image priors, jitter, flips or
    the diversity term (the same pool, start, steps and learning rate)."""
    return replace(config, w_tv=0.0, w_l2=0.0, w_div=0.0, jitter=0, flip=False)


def inversion_config_key(base_key: str, inversion: InversionConfig, seed: int) -> dict:
    """What determines a teacher-inversion pool: the base model, the synthesis, the seed."""
    return {"base": base_key, "config": inversion.key(), "seed": seed}


def base_model(
    dataset: ImageDataset,
    training: BaseTraining,
    seed: int = 0,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[StabilityCNN, Artifact]:
    """Train (or load from the cache) the Lazarus StabilityCNN on ``dataset``.

    The recipe is the published one (SGD, cross-entropy, no augmentation, inputs
    normalised with mean = std = 0.5, all training images, no validation split);
    test accuracy is recorded after every epoch for the learning curve, never used
    to choose anything.
    """
    check_number("seed", seed, low=0, integer=True)
    if not isinstance(training, BaseTraining):
        raise TypeError(f"training must be a BaseTraining, not {type(training).__name__}")
    device = torch.device(device) if device is not None else default_device()
    config = base_config(dataset, training, seed)

    def compute():
        set_seed(seed)
        model = StabilityCNN(dataset.num_classes)
        batches = Batches(
            dataset.train_x,
            dataset.train_y,
            training.batch_size,
            shuffle=True,
            seed=seed,
            device=device,
        )
        history = train_classifier(
            model,
            batches,
            epochs=training.epochs,
            lr=training.lr,
            momentum=training.momentum,
            log_every=training.log_every,
            eval_fn=lambda m: evaluate(m, dataset.test_x, dataset.test_y),
            progress=progress,
        )
        result = {
            "test_accuracy": history["epoch_eval"][-1],
            "history": history,
            "parameters": count_parameters(model)["total"],
            "device": str(device),
            "steps": len(batches) * training.epochs,
        }
        return model.state_dict(), result

    artifact = train_or_load(
        "lazarus-base", config, compute, version=BASE_VERSION, cache_dir=cache_dir
    )
    model = artifact.load_into(StabilityCNN(dataset.num_classes)).to(device).eval()
    return model, artifact


# --------------------------------------------------------------------------- repair

PRECISIONS = ("fp32", "bf16")
INPUTS = (
    "train",
    "cifar100",
    "gaussian",
    "uniform",
    "pink",
    "dead_leaves",
    "inversion",
    "inversion_plain",
)
#: Inputs drawn afresh at every step, from no image.
GENERATED = ("gaussian", "uniform", "pink", "dead_leaves")
#: Inputs read from a fixed pool of images (two real sets, one synthesised).
POOLED = ("train", "cifar100", "inversion", "inversion_plain")
TEACHERS = ("original", "damaged")
LOSSES = ("lazarus", "kd", "supervised")
DAMAGES = ("noise", "prune")

#: Bump when the repair code changes what it produces.
REPAIR_VERSION = "lazarus-repair-v4"


@dataclass(frozen=True)
class RepairConfig:
    """The Lazarus v3 repair and its variants; defaults are the published values.

    ``L = w_cons * MSE(f(x), f_ref(x)) + w_stab * MSE(f(x), f(x + eps * noise))
    + w_ent * ReLU(H(f(x)) - h0)``, Adam (lr 1e-4), batch 64, 1000 steps.

    ``inputs``: the unlabeled images the repair sees: ``train`` (CIFAR-10 training
    images, as the published code), ``cifar100`` (real images of another data set),
    ``gaussian`` (pixels ~ N(0.5, 0.25^2) clipped to [0, 1]), ``uniform`` (pixels
    ~ U(0, 1)), ``pink`` (coloured noise with the 1/f amplitude spectrum of natural
    images), ``dead_leaves`` (occluding discs with power-law radii and random
    colours, the procedural images of Baradad et al. 2021), ``inversion`` (a pool
    synthesised from the original model, :func:`plasticity.datafree.invert`) or
    ``inversion_plain`` (the same without priors or diversity: plain class-score
    inversion); the last six use no image. ``seek_steps`` > 0 moves each batch of
    generated inputs by that many signed-gradient steps of ``seek_size`` towards where
    student and teacher disagree (:func:`plasticity.datafree.seek_disagreement`).
    ``teacher``: ``original`` (the undamaged model, as the published code)
    or ``damaged`` (a frozen copy of the damaged model, as the text describes).
    ``loss``: ``lazarus`` (the three terms), ``kd`` (KL divergence to the teacher at
    ``temperature``, times T^2) or ``supervised`` (cross-entropy with the training
    labels: fine-tuning, the upper bound; needs ``inputs="train"``).
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    w_cons: float = 1.0
    w_stab: float = 0.5
    w_ent: float = 0.05
    h0: float = 1.5
    eps: float = 0.05
    inputs: str = "train"
    teacher: str = "original"
    loss: str = "lazarus"
    temperature: float = 4.0
    log_every: int = 25
    #: Steps after which test accuracy and agreement are also measured (the budget
    #: curve); the final step is always measured. Steps beyond ``steps`` are ignored.
    eval_at: tuple[int, ...] = (100, 300)
    #: ``fp32`` (the protocol) or ``bf16``: forward passes and losses under bfloat16
    #: autocast (opt-in, for GPUs with bf16 units; the weights and Adam stay float32).
    precision: str = "fp32"
    seek_steps: int = 0
    seek_size: float = 0.03

    def __post_init__(self) -> None:
        check_number("steps", self.steps, low=1, integer=True)
        check_number("batch_size", self.batch_size, low=1, integer=True)
        check_number("lr", self.lr, low=0, low_inclusive=False)
        for name in ("w_cons", "w_stab", "w_ent"):
            check_number(name, getattr(self, name), low=0)
        check_number("h0", self.h0, low=0)
        check_number("eps", self.eps, low=0)
        check_choice("inputs", self.inputs, INPUTS)
        check_choice("teacher", self.teacher, TEACHERS)
        check_choice("loss", self.loss, LOSSES)
        check_number("temperature", self.temperature, low=0, low_inclusive=False)
        check_number("log_every", self.log_every, low=1, integer=True)
        check_choice("precision", self.precision, PRECISIONS)
        check_number("seek_steps", self.seek_steps, low=0, high=20, integer=True)
        check_number("seek_size", self.seek_size, low=0, high=1, low_inclusive=False)
        if self.seek_steps and self.inputs not in GENERATED:
            raise ParameterError(
                f"seek_steps={self.seek_steps} with inputs={self.inputs!r}: seeking "
                f"disagreement moves generated inputs only ({', '.join(GENERATED)})"
            )
        for step in self.eval_at:
            check_number("eval_at", step, low=1, integer=True)
        if self.loss == "lazarus" and self.w_cons + self.w_stab + self.w_ent == 0:
            raise ParameterError(
                "w_cons + w_stab + w_ent = 0: at least one loss weight must be > 0"
            )
        if self.loss == "supervised" and self.inputs != "train":
            raise ParameterError(
                f"inputs={self.inputs!r}: the supervised loss needs inputs='train'"
            )


#: The seed's baselines and the standard anchors, as changes to the published config.
METHODS: dict[str, dict] = {
    "full": {},
    "consistency_only": {"w_stab": 0.0, "w_ent": 0.0},
    "stability_only": {"w_cons": 0.0, "w_ent": 0.0},
    "entropy_only": {"w_cons": 0.0, "w_stab": 0.0, "w_ent": 1.0},
    "noise_only": {"w_cons": 0.0, "w_ent": 0.0, "inputs": "gaussian"},
    "kd": {"loss": "kd", "w_stab": 0.0, "w_ent": 0.0},
    "finetune_labels": {"loss": "supervised", "w_stab": 0.0, "w_ent": 0.0},
}


def method_config(method: str, base: RepairConfig | None = None, **changes) -> RepairConfig:
    """The config of a named method (see :data:`METHODS`) on top of ``base``."""
    check_choice("method", method, METHODS)
    return replace(base or RepairConfig(), **{**METHODS[method], **changes})


@dataclass(frozen=True)
class Damage:
    """Relative weight noise (``kind="noise"``, ``level`` = alpha) or global magnitude
    pruning (``kind="prune"``, ``level`` = fraction pruned, ``mode`` frozen/regrow)."""

    kind: str
    level: float
    mode: str = "frozen"
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("damage", self.kind, DAMAGES)
        if self.kind == "noise":
            check_number("alpha", self.level, low=0)
        else:
            check_number("prune_amount", self.level, low=0, high=1, high_inclusive=False)
            check_choice("prune_mode", self.mode, damage.PRUNE_MODES)
        check_number("seed", self.seed, low=0, integer=True)

    def key(self) -> dict:
        out = {"kind": self.kind, "level": float(self.level), "seed": self.seed}
        if self.kind == "prune":
            out = {"kind": self.kind, "level": float(self.level), "mode": self.mode}
        return out

    def apply(self, model: nn.Module) -> tuple[nn.Module, dict]:
        """A damaged deep copy of ``model`` and what was done to it."""
        damaged = copy.deepcopy(model)
        if self.kind == "noise":
            damage.add_relative_noise(damaged, self.level, self.seed)
            return damaged, {}
        return damaged, damage.magnitude_prune(damaged, self.level, self.mode)

    @property
    def label(self) -> str:
        if self.kind == "noise":
            return f"noise alpha={self.level:g}"
        return f"prune {self.level:.0%} ({self.mode})"


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """Channels-last inputs: on CPU, oneDNN's convolutions run about 1.6x faster for
    inference and 1.2x for the fused 128-image repair step (same results to 1e-7)."""
    return x.contiguous(memory_format=torch.channels_last)


def _input_pixels(kind: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """Images made from no image, in [0, 1], drawn on the generator's device."""
    device = generator.device
    if kind == "gaussian":
        noise = torch.randn(n, 3, 32, 32, generator=generator, device=device)
        return (0.5 + 0.25 * noise).clamp_(0, 1)
    if kind == "pink":
        return pink_noise(n, generator)
    if kind == "dead_leaves":
        return dead_leaves(n, generator)
    return torch.rand(n, 3, 32, 32, generator=generator, device=device)


def pink_noise(
    n: int, generator: torch.Generator, size: int = 32, exponent: float = 1.0
) -> torch.Tensor:
    """Coloured noise whose amplitude falls as 1/f^exponent (natural images: about 1),
    with correlated colour channels (a shared luminance field and a weaker field per
    channel), each image scaled to mean 0.5 and standard deviation 0.2, clipped to
    [0, 1]."""
    device = generator.device
    fy = torch.fft.fftfreq(size, device=device).view(-1, 1)
    fx = torch.fft.rfftfreq(size, device=device).view(1, -1)
    f = torch.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    amplitude = f.pow(-exponent)
    amplitude[0, 0] = 0.0
    fields = torch.randn(n, 4, size, size, generator=generator, device=device)
    shaped = torch.fft.irfft2(torch.fft.rfft2(fields) * amplitude, s=(size, size))
    shaped = shaped / shaped.flatten(2).std(2).clamp_min(1e-8)[..., None, None]
    rgb = 0.8 * shaped[:, :1] + 0.45 * shaped[:, 1:]
    rgb = rgb - rgb.mean((1, 2, 3), keepdim=True)
    rgb = rgb / rgb.flatten(1).std(1).clamp_min(1e-8).view(-1, 1, 1, 1)
    return (0.5 + 0.2 * rgb).clamp_(0, 1)


def dead_leaves(
    n: int,
    generator: torch.Generator,
    size: int = 32,
    discs: int = 96,
    r_min: float = 1.0,
    r_max: float = 16.0,
    power: float = 3.0,
) -> torch.Tensor:
    """The dead-leaves model: ``discs`` discs dropped one over the other, radii with
    density ~ r^-power on [r_min, r_max] (scale-invariant for power 3), uniform random
    colours and centres; the background is one random colour. Piecewise constant, with
    occlusion edges at every scale."""
    check_number("discs", discs, low=1, high=255, integer=True)
    device = generator.device
    u = torch.rand(n, discs, generator=generator, device=device)
    a, b = r_min ** (1 - power), r_max ** (1 - power)
    radius = (a + u * (b - a)) ** (1 / (1 - power))
    centre = torch.rand(n, discs, 2, generator=generator, device=device) * size
    colour = torch.rand(n, discs + 1, 3, generator=generator, device=device)
    grid = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    # squared distances per row and per column, summed on the full grid only once;
    # disc numbers as uint8 (at most 255 discs): about 5x faster than int64 on CPU
    dy2 = (grid.view(1, 1, -1) - centre[..., 0, None]) ** 2
    dx2 = (grid.view(1, 1, -1) - centre[..., 1, None]) ** 2
    covered = dy2[..., :, None] + dx2[..., None, :] <= radius[..., None, None] ** 2
    order = torch.arange(1, discs + 1, device=device, dtype=torch.uint8).view(1, -1, 1, 1)
    # the last disc dropped on each pixel, 0: background
    top = (covered * order).amax(1).long()
    pixels = torch.gather(colour, 1, top.view(n, -1, 1).expand(-1, -1, 3))
    return pixels.view(n, size, size, 3).permute(0, 3, 1, 2).contiguous()


def _kd_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    t = temperature
    return (
        F.kl_div(
            F.log_softmax(student / t, 1),
            F.log_softmax(teacher / t, 1),
            reduction="batchmean",
            log_target=True,
        )
        * t
        * t
    )


@torch.no_grad()
def logits_table(
    model: nn.Module,
    x: torch.Tensor,
    normalize: Normalizer,
    batch_size: int = 128,
    *,
    fused: bool = True,
) -> torch.Tensor:
    """Logits of ``model`` for every image of a uint8 tensor (N, 3, 32, 32).

    ``fused`` runs :func:`plasticity.models.inference_copy` (about 2x faster on CPU,
    logits equal to about 1e-7); ``fused=False`` runs the model itself. The repair
    uses it for a damaged teacher computed on the fly, whose targets must equal the
    student's own forward pass at step 0 (a consistency loss of exactly zero).
    """
    device = next(model.parameters()).device
    model.eval()

    def batch(i: int) -> torch.Tensor:
        return _channels_last(normalize(x[i : i + batch_size].to(device)))

    net = inference_copy(model, batch(0)) if fused else model
    return torch.cat([net(batch(i)).float() for i in range(0, len(x), batch_size)])


def repair(
    student: nn.Module,
    teacher: nn.Module,
    config: RepairConfig,
    *,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    teacher_logits: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
    on_checkpoint: Callable[[int, nn.Module], None] | None = None,
) -> dict:
    """Run the repair on ``student`` in place; returns the logged loss terms.

    ``on_checkpoint(step, student)`` is called after each step listed in
    ``config.eval_at`` (below ``config.steps``), with the student in eval mode; the
    repair continues unchanged afterwards (nothing random is drawn by the callback).

    ``images`` (uint8, N x 3 x 32 x 32) are the unlabeled inputs for ``train`` /
    ``cifar100``; ``teacher_logits`` may hold the teacher's logits for all of them
    (computed once and reused: the teacher is frozen). Clean and noisy inputs go
    through the student in one batch of 2B (the network has no BatchNorm, so this is
    the same function as two passes). Frozen pruning masks stay attached and keep
    pruned weights at zero.
    """
    from tqdm.auto import tqdm

    check_number("seed", seed, low=0, integer=True)
    real = config.inputs in POOLED
    if real and images is None:
        raise ValueError(f"inputs={config.inputs!r} needs images")
    if config.loss == "supervised" and labels is None:
        raise ValueError("the supervised loss needs labels")
    device = next(student.parameters()).device
    normalize = Normalizer()
    # everything the loop touches lives on the model's device: images, targets, labels
    # and the generator behind the shuffles and the noise (on CPU the same draws as a
    # plain CPU generator), so no step copies data to or from the host
    generator = torch.Generator(device=device).manual_seed(seed)
    need_teacher = config.loss == "kd" or (config.loss == "lazarus" and config.w_cons > 0)
    if real and need_teacher and teacher_logits is None:
        teacher_logits = logits_table(teacher, images, normalize, fused=False)
    if real:
        images = images.to(device)
        teacher_logits = teacher_logits.to(device) if teacher_logits is not None else None
        labels = labels.to(device) if labels is not None else None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    teacher.eval()
    student.train()
    # fused Adam: one kernel for all tensors (about 14x faster per step than the
    # per-tensor loop on CPU, the same update to float rounding)
    fused = device.type in ("cpu", "cuda")
    opt = torch.optim.Adam(student.parameters(), lr=config.lr, fused=fused or None)
    b = config.batch_size
    order_epoch, order = -1, None
    keys = ("cons", "stab", "ent_penalty", "entropy", "total")
    # running sums as float64 tensors on the device (the values Python floats would
    # give), read back only when a log line is written: no per-step host sync
    sums = torch.zeros(len(keys) + 1, dtype=torch.float64, device=device)
    history: dict[str, list] = {"step": [], **{k: [] for k in keys}, "floor_active_pct": []}
    window = 0
    checkpoints = {s for s in config.eval_at if s < config.steps}
    for step in tqdm(
        range(config.steps),
        disable=not progress_bars(progress),
        desc="repair",
        leave=False,
        mininterval=2.0,
    ):
        y = t_logits = None
        if real:
            n = len(images)
            epoch, pos = divmod(step * b, n)
            if epoch != order_epoch:
                order_epoch = epoch
                order = torch.randperm(n, generator=generator, device=device)
            idx = order[pos : pos + b]
            x = normalize(images[idx])
            if teacher_logits is not None:
                t_logits = teacher_logits[idx]
            if labels is not None:
                y = labels[idx]
        else:
            pixels = _input_pixels(config.inputs, b, generator)
            if config.seek_steps:
                pixels = seek_disagreement(
                    student, teacher, pixels, config.seek_steps, config.seek_size
                )
            x = normalize(pixels.mul_(255))
            if need_teacher:
                with torch.no_grad(), autocast:
                    t_logits = teacher(x).float()
        stab_on = config.loss == "lazarus" and config.w_stab > 0
        with autocast:
            if stab_on:
                noise = torch.randn(x.shape, generator=generator, device=device) * config.eps
                out_both = student(_channels_last(torch.cat([x, x + noise]))).float()
                out, out_pert = out_both[: len(x)], out_both[len(x) :]
            else:
                out = student(x).float()
        logp = F.log_softmax(out, 1)
        entropy = -(logp.exp() * logp).sum(1).mean()
        ent_penalty = F.relu(entropy - config.h0)
        zero = out.new_zeros(())
        cons = F.mse_loss(out, t_logits) if t_logits is not None else zero
        stab = F.mse_loss(out, out_pert) if stab_on else zero
        if config.loss == "lazarus":
            loss = config.w_cons * cons + config.w_stab * stab + config.w_ent * ent_penalty
        elif config.loss == "kd":
            loss = _kd_loss(out, t_logits, config.temperature)
        else:
            loss = F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:
            loss.backward()
            opt.step()
        window += 1
        with torch.no_grad():
            values = torch.stack([cons, stab, ent_penalty, entropy, loss]).detach()
            sums[: len(keys)] += values.double()
            sums[len(keys)] += (entropy > config.h0).double()
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            means = (sums / window).tolist()
            history["step"].append(step + 1)
            for k, v in zip(keys, means, strict=False):
                history[k].append(v)
            history["floor_active_pct"].append(100.0 * means[len(keys)])
            sums.zero_()
            window = 0
        if on_checkpoint is not None and step + 1 in checkpoints:
            student.eval()
            on_checkpoint(step + 1, student)
            student.train()
    student.eval()
    return history


class Lab:
    """One base model and the repairs made from it, cached by train-or-load.

    ``Lab(dataset, profile.base, seed)`` loads (or trains) the base model and its
    test-set logits; :meth:`run` damages a copy, repairs it and measures it, or reads
    the whole result from the cache.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        training: BaseTraining,
        seed: int = 0,
        *,
        extra_inputs: dict[str, ImageDataset] | None = None,
        inversion: InversionConfig | None = None,
        device: str | torch.device | None = None,
        progress: bool = False,
        cache_dir: str | os.PathLike | None = None,
    ):
        self.dataset = dataset
        self.seed = seed
        self.progress = progress
        self.cache_dir = cache_dir
        self.model, self.artifact = base_model(
            dataset, training, seed, device=device, progress=progress, cache_dir=cache_dir
        )
        self.device = next(self.model.parameters()).device
        self.normalize = Normalizer()
        self.test_x = to_tensor(dataset.test_x)
        self.test_y = torch.from_numpy(np.array(dataset.test_y, dtype=np.int64))
        self.test_logits = train_or_load(
            "lazarus-test-logits",
            {"base": self.artifact.key, "fingerprint": dataset.fingerprint},
            lambda: ({"logits": logits_table(self.model, self.test_x, self.normalize)}, {}),
            version=REPAIR_VERSION,
            cache_dir=cache_dir,
        ).tensors["logits"]
        self.accuracy = accuracy(self.test_logits, self.test_y)
        self.extra_inputs = dict(extra_inputs or {})
        self.inversion = inversion or InversionConfig()
        self._pools: dict[bool, Artifact] = {}
        self._images: dict[str, torch.Tensor] = {}
        self._teacher_logits: dict[str, torch.Tensor] = {}

    # -- inputs ----------------------------------------------------------------
    def _input_set(self, inputs: str) -> ImageDataset | None:
        if inputs == "train":
            return self.dataset
        if inputs == "cifar100":
            if "cifar100" not in self.extra_inputs:
                raise ParameterError("inputs='cifar100' needs extra_inputs={'cifar100': dataset}")
            return self.extra_inputs["cifar100"]
        return None

    def inversion_pool(self, plain: bool = False) -> Artifact:
        """The images synthesised from this base model by teacher inversion
        (``self.inversion``, or its plain variant, seeded with the base model's seed),
        cached; the artefact's result records the synthesis time and the teacher's loss."""
        if plain in self._pools:  # read once per Lab: every run's key names the pool
            return self._pools[plain]
        config = plain_inversion(self.inversion) if plain else self.inversion

        def compute():
            images, info = invert(self.model, config, self.seed)
            return {"images": images}, info

        self._pools[plain] = train_or_load(
            "lazarus-inversion",
            inversion_config_key(self.artifact.key, config, self.seed),
            compute,
            version=INVERSION_VERSION,
            cache_dir=self.cache_dir,
        )
        return self._pools[plain]

    def _fingerprint(self, inputs: str) -> tuple[str, str] | None:
        """(name, fingerprint) of a pooled input set; None for generated inputs."""
        if inputs in ("inversion", "inversion_plain"):
            return inputs, self.inversion_pool(plain=inputs == "inversion_plain").key
        ds = self._input_set(inputs)
        return None if ds is None else (ds.name, ds.fingerprint)

    def images(self, inputs: str) -> torch.Tensor | None:
        if inputs not in self._images:
            if inputs in ("inversion", "inversion_plain"):
                pool = self.inversion_pool(plain=inputs == "inversion_plain")
                self._images[inputs] = pool.tensors["images"]
            else:
                ds = self._input_set(inputs)
                if ds is None:
                    return None
                self._images[inputs] = to_tensor(ds.train_x)
        return self._images[inputs]

    def original_logits(self, inputs: str) -> torch.Tensor:
        """The original model's logits on an input set, cached on disk (frozen teacher)."""
        if inputs not in self._teacher_logits:
            name, fingerprint = self._fingerprint(inputs)
            images = self.images(inputs)
            art = train_or_load(
                "lazarus-teacher-logits",
                {"base": self.artifact.key, "inputs": name, "fingerprint": fingerprint},
                lambda: ({"logits": logits_table(self.model, images, self.normalize)}, {}),
                version=REPAIR_VERSION,
                cache_dir=self.cache_dir,
            )
            self._teacher_logits[inputs] = art.tensors["logits"]
        return self._teacher_logits[inputs]

    # -- measurement -------------------------------------------------------------
    def measure(self, model: nn.Module) -> dict:
        """Test accuracy, agreement with the original, entropy and sparsity."""
        logits = logits_table(model, self.test_x, self.normalize).cpu()
        return {
            "accuracy": accuracy(logits, self.test_y),
            "agreement": stats.agreement_mse(logits, self.test_logits),
            "top1_agreement": stats.top1_agreement(logits, self.test_logits),
            "entropy": stats.mean_entropy(logits),
            "sparsity": damage.sparsity(model),
        }

    def repair_key(self, dmg: Damage, config: RepairConfig, seed: int) -> dict:
        """The cache key of one repair of this base model."""
        check_number("seed", seed, low=0, integer=True)
        pooled = self._fingerprint(config.inputs)
        return repair_config_key(
            self.artifact.key, dmg, config, seed, pooled[1] if pooled else config.inputs
        )

    def run(self, dmg: Damage, config: RepairConfig, seed: int = 0) -> dict:
        """Damage, repair and measure (or read from the cache); returns the result dict."""
        art = train_or_load(
            "lazarus-repair",
            self.repair_key(dmg, config, seed),
            lambda: self._compute(dmg, config, seed),
            version=REPAIR_VERSION,
            cache_dir=self.cache_dir,
        )
        return {**art.result, "cached": art.hit}

    def measure_damaged(self, dmg: Damage, student: nn.Module | None = None) -> dict:
        """:meth:`measure` of the damaged model, cached per (base model, damage): every
        repair of one damage starts from the same model."""

        def compute():
            model = student if student is not None else dmg.apply(self.model)[0]
            return {}, self.measure(model)

        return train_or_load(
            "lazarus-damaged",
            {"base": self.artifact.key, "damage": dmg.key()},
            compute,
            version=REPAIR_VERSION,
            cache_dir=self.cache_dir,
        ).result

    def _prepare(self, dmg: Damage, config: RepairConfig) -> _Pending:
        """The damaged student, its teacher and the measurement before the repair."""
        start = time.perf_counter()
        student, info = dmg.apply(self.model)
        before = self.measure_damaged(dmg, student)
        if config.teacher == "original":
            teacher = self.model
            real = config.inputs in POOLED
            t_logits = self.original_logits(config.inputs) if real else None
        else:
            teacher = copy.deepcopy(student)
            damage.finalize(teacher)
            t_logits = None
        labels = None
        if config.loss == "supervised":
            labels = torch.from_numpy(np.array(self.dataset.train_y, dtype=np.int64))
        budget = [{"step": 0, "accuracy": before["accuracy"], "agreement": before["agreement"]}]
        return _Pending(student, info, before, teacher, t_logits, labels, budget, start)

    def _checkpoint(self, pending: _Pending) -> Callable[[int, nn.Module], None]:
        def checkpoint(step: int, model: nn.Module) -> None:
            m = self.measure(model)
            pending.budget.append(
                {"step": step, "accuracy": m["accuracy"], "agreement": m["agreement"]}
            )

        return checkpoint

    def _compute(self, dmg: Damage, config: RepairConfig, seed: int):
        pending = self._prepare(dmg, config)
        history = repair(
            pending.student,
            pending.teacher,
            config,
            images=self.images(config.inputs),
            labels=pending.labels,
            teacher_logits=pending.teacher_logits,
            seed=seed,
            progress=self.progress,
            on_checkpoint=self._checkpoint(pending),
        )
        return self._finish(dmg, config, seed, pending, history)

    def _finish(
        self,
        dmg: Damage,
        config: RepairConfig,
        seed: int,
        pending: _Pending,
        history: dict,
        seconds: float | None = None,
    ):
        """The result of a repaired student (its state dict and result dict)."""
        student, before, budget = pending.student, pending.before, pending.budget
        regrown = None
        if dmg.kind == "prune":
            regrown = damage.regrowth(
                student, pending.info["masks"], pending.info["threshold"], self.model
            )
        damage.finalize(student)
        after = self.measure(student)
        budget.append(
            {"step": config.steps, "accuracy": after["accuracy"], "agreement": after["agreement"]}
        )
        for point in budget:
            point["recovery_pct"] = stats.recovery_pct(
                self.accuracy, before["accuracy"], point["accuracy"]
            )
        result = {
            "damage": dmg.key(),
            "method_config": asdict(config),
            "seed": seed,
            "original": self.accuracy,
            "damaged": before["accuracy"],
            "restored": after["accuracy"],
            "delta": after["accuracy"] - before["accuracy"],
            "recovery_pct": stats.recovery_pct(
                self.accuracy, before["accuracy"], after["accuracy"]
            ),
            "agreement_damaged": before["agreement"],
            "agreement_restored": after["agreement"],
            "agreement_improvement": before["agreement"] - after["agreement"],
            "top1_damaged": before["top1_agreement"],
            "top1_restored": after["top1_agreement"],
            "entropy_damaged": before["entropy"],
            "entropy_restored": after["entropy"],
            "sparsity_damaged": before["sparsity"],
            "sparsity_restored": after["sparsity"],
            "regrowth": regrown,
            "floor_active_pct": float(np.mean(history["floor_active_pct"])),
            "history": history,
            "budget": budget,
            "repair_seconds": (time.perf_counter() - pending.start if seconds is None else seconds),
        }
        return student.state_dict(), result


@dataclass
class _Pending:
    """A damaged student waiting for its repair, and what its result needs."""

    student: nn.Module
    info: dict
    before: dict
    teacher: nn.Module
    teacher_logits: torch.Tensor | None
    labels: torch.Tensor | None
    budget: list
    start: float


def batchable(config: RepairConfig) -> bool:
    """Whether :func:`run_grid` can run repairs of ``config`` together."""
    return config.seek_steps == 0 and config.precision == "fp32" and config.teacher == "original"


def run_grid(jobs: list[tuple[Lab, Damage, RepairConfig, int]], batch: int = 8) -> list[dict]:
    """:meth:`Lab.run` for every ``(lab, damage, config, seed)``; the missing repairs of
    one config run ``batch`` at a time as one computation
    (:func:`plasticity.batched.repair_many`), each cached as its own entry, under the
    same key as when run alone. Their results equal the sequential ones to float
    tolerance, and record ``batched`` (how many ran together) and ``repair_seconds``
    (the group's wall time shared equally); ``cached`` is False for every result
    computed by this call."""
    from .batched import repair_many
    from .runs import is_cached

    check_number("batch", batch, low=1, integer=True)
    for *_, seed in jobs:
        check_number("seed", seed, low=0, integer=True)
    missing: dict[RepairConfig, list[int]] = {}
    computed: set[int] = set()
    for i, (lab, dmg, config, seed) in enumerate(jobs):
        key = lab.repair_key(dmg, config, seed)
        if (
            batch > 1
            and batchable(config)
            and not is_cached("lazarus-repair", key, REPAIR_VERSION, lab.cache_dir)
        ):
            missing.setdefault(config, []).append(i)
    for config, members in missing.items():
        for first in range(0, len(members), batch):
            chunk = members[first : first + batch]
            if len(chunk) == 1:
                continue  # Lab.run below computes it alone
            group = [jobs[i] for i in chunk]
            computed.update(chunk)
            start = time.perf_counter()
            pending = [lab._prepare(dmg, config) for lab, dmg, _, _ in group]
            checkpoints = [lab._checkpoint(p) for (lab, *_), p in zip(group, pending, strict=True)]
            histories = repair_many(
                [p.student for p in pending],
                [p.teacher for p in pending],
                config,
                seeds=[seed for *_, seed in group],
                images=[lab.images(config.inputs) for lab, *_ in group],
                labels=[p.labels for p in pending],
                teacher_logits=[p.teacher_logits for p in pending],
                on_checkpoint=lambda step, k, model, cps=checkpoints: cps[k](step, model),
            )
            share = (time.perf_counter() - start) / len(group)
            for (lab, dmg, _, seed), p, history in zip(group, pending, histories, strict=True):
                state, result = lab._finish(dmg, config, seed, p, history, seconds=share)
                result["batched"] = len(group)
                train_or_load(
                    "lazarus-repair",
                    lab.repair_key(dmg, config, seed),
                    lambda state=state, result=result: (state, result),
                    version=REPAIR_VERSION,
                    cache_dir=lab.cache_dir,
                    seconds=share,
                )
    results = [lab.run(dmg, config, seed) for lab, dmg, config, seed in jobs]
    for i in computed:
        results[i]["cached"] = False
    return results


def labs_for_seeds(
    dataset: ImageDataset,
    training: BaseTraining,
    seeds: tuple[int, ...],
    *,
    base_per_seed: bool,
    **kwargs,
) -> dict[int, Lab]:
    """One :class:`Lab` per seed: its own base model when ``base_per_seed`` (as the
    published significance script retrains per seed), else the seed-0 model shared."""
    shared = None if base_per_seed else Lab(dataset, training, 0, **kwargs)
    return {s: Lab(dataset, training, s, **kwargs) if base_per_seed else shared for s in seeds}


def result_row(result: dict, **labels) -> dict:
    """A flat table row of the headline numbers of one repair result."""
    row = dict(labels)
    row["steps"] = result["method_config"]["steps"]
    for key in (
        "original",
        "damaged",
        "restored",
        "delta",
        "recovery_pct",
        "agreement_damaged",
        "agreement_restored",
        "agreement_improvement",
        "top1_damaged",
        "top1_restored",
        "entropy_damaged",
        "entropy_restored",
        "floor_active_pct",
    ):
        row[key] = result[key]
    # measured where the run was computed (a cache hit reads it back)
    row["repair_seconds"] = result.get("repair_seconds", float("nan"))
    if result.get("regrowth"):
        row["regrowth_nonzero_pct"] = result["regrowth"]["nonzero_pct"]
        row["regrowth_above_threshold_pct"] = result["regrowth"]["above_threshold_pct"]
        row["regrowth_norm_restored_pct"] = result["regrowth"].get("norm_restored_pct")
        row["sparsity_restored"] = result["sparsity_restored"]
    for point in result.get("budget", []):
        if 0 < point["step"] < row["steps"]:
            row[f"restored_at_{point['step']}"] = point["accuracy"]
            row[f"recovery_pct_at_{point['step']}"] = point["recovery_pct"]
            row[f"agreement_at_{point['step']}"] = point["agreement"]
    return row


def chapter_labs(ch, seeds: tuple[int, ...] = (0,), **kwargs) -> dict[int, Lab]:
    """The labs a chapter works with: the profile's base recipe on the chapter's
    CIFAR-10, one base model per seed or one shared, progress bars only when live."""
    scale = ch.profile.lazarus
    return labs_for_seeds(
        ch.dataset("cifar10"),
        ch.profile.base,
        tuple(seeds),
        base_per_seed=scale.base_per_seed,
        progress=not ch.headless,
        inversion=inversion_config(ch.profile),
        **kwargs,
    )


def inversion_config(profile) -> InversionConfig:
    """The teacher inversion a profile runs (its pool size and steps; the rest as
    :class:`~plasticity.datafree.InversionConfig`)."""
    scale = profile.lazarus
    return InversionConfig(pool=scale.inversion_pool, steps=scale.inversion_steps)
