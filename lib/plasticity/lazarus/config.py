"""What a Lazarus repair is: its damage and its configuration (the v3 loss and its
variants), with the published values as defaults.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from torch import nn

from ..foundations.checks import ParameterError, check_choice, check_number
from . import damage
from .datafree import InversionConfig


def plain_inversion(config: InversionConfig) -> InversionConfig:
    """Plain class-score inversion: ``config`` without image priors, jitter, flips or
    the diversity term (the same pool, start, steps and learning rate)."""
    return replace(config, w_tv=0.0, w_l2=0.0, w_div=0.0, jitter=0, flip=False)


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
    synthesised from the original model, :func:`plasticity.lazarus.datafree.invert`) or
    ``inversion_plain`` (the same without priors or diversity: plain class-score
    inversion); the last six use no image. ``seek_steps`` > 0 moves each batch of
    generated inputs by that many signed-gradient steps of ``seek_size`` towards where
    student and teacher disagree (:func:`plasticity.lazarus.datafree.seek_disagreement`).
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
    pruning (``kind="prune"``, ``level`` = fraction pruned, ``mode`` frozen/regrow).

    Pruning at a *matched damage*: with ``target_lost`` (points of test accuracy) the
    fraction is not given but found per base model, the one whose pruning costs that
    many points (the engine resolves it, :meth:`resolved`); ``level`` is then unused
    and the cache key names the target.
    """

    kind: str
    level: float
    mode: str = "frozen"
    seed: int = 0
    target_lost: float | None = None

    def __post_init__(self) -> None:
        check_choice("damage", self.kind, DAMAGES)
        if self.kind == "noise":
            check_number("alpha", self.level, low=0)
        else:
            check_number("prune_amount", self.level, low=0, high=1, high_inclusive=False)
            check_choice("prune_mode", self.mode, damage.PRUNE_MODES)
        check_number("seed", self.seed, low=0, integer=True)
        if self.target_lost is not None:
            if self.kind != "prune":
                raise ParameterError(
                    f"target_lost={self.target_lost!r}: a matched damage level is for pruning"
                )
            check_number("target_lost", self.target_lost, low=0, low_inclusive=False, high=100)

    @property
    def matched(self) -> bool:
        return self.target_lost is not None

    def key(self) -> dict:
        out = {"kind": self.kind, "level": float(self.level), "seed": self.seed}
        if self.kind == "prune":
            out = {"kind": self.kind, "level": float(self.level), "mode": self.mode}
        if self.matched:
            out = {"kind": self.kind, "target_lost": float(self.target_lost), "mode": self.mode}
        return out

    def resolved(self, level: float) -> Damage:
        """This damage at the fraction ``level`` found for its target."""
        return replace(self, level=level, target_lost=None)

    def apply(self, model: nn.Module) -> tuple[nn.Module, dict]:
        """A damaged deep copy of ``model`` and what was done to it."""
        if self.matched:
            raise ParameterError(
                f"damage matched to {self.target_lost} points: resolve its level for a "
                "base model first (Lab.resolve)"
            )
        damaged = copy.deepcopy(model)
        if self.kind == "noise":
            damage.add_relative_noise(damaged, self.level, self.seed)
            return damaged, {}
        return damaged, damage.magnitude_prune(damaged, self.level, self.mode)

    @property
    def label(self) -> str:
        if self.matched:
            return f"prune matched to {self.target_lost:.2f} points ({self.mode})"
        if self.kind == "noise":
            return f"noise alpha={self.level:g}"
        return f"prune {self.level:.0%} ({self.mode})"
