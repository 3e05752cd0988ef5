"""NeuroSovereign's configuration: the paper's settings, the nets and chains, the ablations."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..foundations.checks import ParameterError, check_choice, check_number

VERSION = "sovereign-v2"

MASK_MODES = ("warmup", "gradual", "none")

CHAINS = ("apex", "blind")

#: Every network the book trains: (has a mixer, extractor trained). ``apex`` takes its
#: mixer from the config (``mixer=False`` is the "no mixer" ablation);
#: ``blind_mixer`` is BLIND with a frozen random mixer, the control that separates
#: "a spatial non-linearity exists" from "the mixing is learned".
NETS = ("apex", "blind", "blind_mixer")

#: A fixed index per network for its data-order seed (independent of the chains run).
NET_INDEX = {"apex": 0, "blind": 1, "blind_mixer": 2}


@dataclass(frozen=True)
class SovereignConfig:
    """Every constant of the system; defaults are the paper's (and the published
    code's where the paper gives none).

    ``curriculum`` maps a cycle to its training-set size; a cycle between two keys
    uses the size of the nearest key below it (1-3: 5k, 4-6: 20k, 7+: 50k, capped at
    the training split), the growing schedule the paper describes.
    """

    cycles: int = 15
    epochs_per_cycle: int = 100
    curriculum: tuple[tuple[int, int], ...] = ((1, 5000), (4, 20000), (7, 50000), (10, 50000))
    batch_size: int = 64
    lr: float = 0.005
    mixer_lr: float = 0.025
    weight_decay_early: float = 0.1
    weight_decay_late: float = 0.01
    weight_decay_switch: int = 5
    clip: float = 1.0
    lambda_base: float = 0.15
    lambda_shock: float = 0.7
    shock: bool = True
    shock_threshold: float = 4.0
    masks: str = "warmup"
    warmup: int = 20
    sparsity: float = 0.35
    l1: float = 1e-4
    #: Epochs of the L1 penalty from the start; None: as long as the warm-up (the
    #: paper's pairing). The "no warm-up" arm of the ``full`` profile keeps L1 here, so
    #: that removing the warm-up does not also remove L1.
    l1_epochs: int | None = None
    #: None: CIFAR-100's own superclasses. An integer: a random taxonomy drawn with this
    #: seed (the fine classes dealt to the same 20 superclass sizes), the control of
    #: section 6.3 ("random superclasses yield dHier < 5 %").
    taxonomy_seed: int | None = None
    spectral_weight: float = 0.05
    window: int = 5
    z_threshold: float = 1.5
    mixer: bool = True
    #: Carry the last epoch's train - validation gap into the next cycle's first epoch
    #: (the paper's "Gap_prev" read literally); ``False`` resets it at every cycle, as
    #: the published code does, so the first epoch of a cycle can never shock.
    carry_gap: bool = False
    val_size: int = 5000
    #: Test images behind the per-cycle report: a fixed, class-stratified subset
    #: (equal count per class); the final benchmark always uses the whole test set.
    report_test_size: int = 10000
    #: ``fp32`` or ``bf16`` (opt-in: forward passes under bfloat16 autocast, for GPUs).
    precision: str = "fp32"
    #: How the training step gets singular values for L_opt: ``svd`` (torch's
    #: ``svdvals``, the reference), ``gram`` (the Gram matrix's eigenvalues in float64
    #: with the exact gradient; the same value and gradient to 1e-4) or ``host`` (the
    #: ``gram`` route decomposed on the CPU, overlapped with a stacked step on a GPU;
    #: see :mod:`plasticity.sovereign.spectra`). Opt-in and keyed separately.
    spectral_method: str = "svd"

    def __post_init__(self) -> None:
        check_number("cycles", self.cycles, low=1, integer=True)
        check_number("epochs_per_cycle", self.epochs_per_cycle, low=1, integer=True)
        check_number("batch_size", self.batch_size, low=1, integer=True)
        for name in ("lr", "mixer_lr"):
            check_number(name, getattr(self, name), low=0, low_inclusive=False)
        for name in (
            "weight_decay_early",
            "weight_decay_late",
            "clip",
            "l1",
            "spectral_weight",
            "lambda_base",
            "lambda_shock",
        ):
            check_number(name, getattr(self, name), low=0)
        check_number("shock_threshold", self.shock_threshold, low=0)
        check_choice("masks", self.masks, MASK_MODES)
        check_choice("precision", self.precision, ("fp32", "bf16"))
        check_choice("spectral_method", self.spectral_method, ("svd", "gram", "host"))
        check_number("warmup", self.warmup, low=0, integer=True)
        if self.l1_epochs is not None:
            check_number("l1_epochs", self.l1_epochs, low=0, integer=True)
        if self.taxonomy_seed is not None:
            check_number("taxonomy_seed", self.taxonomy_seed, low=0, integer=True)
        check_number("sparsity", self.sparsity, low=0, high=1, high_inclusive=False)
        check_number("window", self.window, low=2, integer=True)
        check_number("z_threshold", self.z_threshold, low=0, low_inclusive=False)
        check_number("val_size", self.val_size, low=1, integer=True)
        check_number("report_test_size", self.report_test_size, low=1, integer=True)
        if not self.curriculum or any(c < 1 or n < 1 for c, n in self.curriculum):
            raise ParameterError(f"curriculum={self.curriculum!r}: need (cycle >= 1, size >= 1)")

    def train_size(self, cycle: int, available: int) -> int:
        """Training images of ``cycle`` (nearest curriculum key at or below it)."""
        keys = sorted(self.curriculum)
        size = keys[0][1]
        for c, n in keys:
            if c <= cycle:
                size = n
        return min(size, available)

    def weight_decay(self, cycle: int) -> float:
        return (
            self.weight_decay_early if cycle < self.weight_decay_switch else self.weight_decay_late
        )

    @property
    def total_epochs(self) -> int:
        return self.cycles * self.epochs_per_cycle

    def l1_active(self, epoch: int) -> bool:
        """Whether the L1 penalty applies in ``epoch`` (counted over the evolution)."""
        until = self.warmup if self.l1_epochs is None else self.l1_epochs
        return self.l1 > 0 and epoch < until


def ablation_configs(base: SovereignConfig, mean_lambda: float | None = None) -> dict:
    """The seed's ablations and the two baselines the claim must beat."""
    configs = {
        "full": base,
        "no warm-up": replace(base, warmup=0),
        "no shock": replace(base, shock=False),
        "no mixer": replace(base, mixer=False),
        "gradual pruning (GMP)": replace(base, masks="gradual", shock=True),
    }
    if mean_lambda is not None:
        configs["constant lambda_tax"] = replace(
            base, shock=False, lambda_base=round(mean_lambda, 4)
        )
    return configs
