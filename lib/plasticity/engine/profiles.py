"""Run profiles (smoke / quick / full / paper) as data.

A profile fixes everything a chapter needs to know about scale: whether it runs on
real or synthetic data, how long models train, how many seeds it averages. Chapters
never branch on the profile name; they read fields of :class:`Profile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..foundations.checks import ParameterError, check_choice, check_number
from ..lazarus import BaseTraining


@dataclass(frozen=True)
class LazarusScale:
    """How much of the Lazarus protocol a profile runs.

    Every run a verdict reads uses the seed's protocol: ``repair_steps`` Adam steps
    (published: 1000) over all ``seeds``, each seed with its own base model when
    ``base_per_seed`` (as the published significance script retrains per seed).
    Exploratory runs (the extra baselines, the rest of the pruning curve, the other
    cells of the teacher x inputs grid) use ``explore_steps`` and ``explore_seeds``;
    they are labelled as such and never decide a verdict. ``alphas`` is the noise
    curve (run on all seeds); ``verdict_prune`` the (amount, mode) pruning runs on all
    seeds; ``prune_amounts`` the rest of the pruning curve, exploratory.
    """

    repair_steps: int = 1000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    base_per_seed: bool = True
    explore_steps: int = 1000
    explore_seeds: tuple[int, ...] = (0,)
    alphas: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
    prune_amounts: tuple[float, ...] = (0.3, 0.5, 0.7, 0.8, 0.9)
    verdict_prune: tuple[tuple[float, str], ...] = (
        (0.7, "frozen"),
        (0.7, "regrow"),
        (0.8, "frozen"),
    )
    #: Pruning at matched damage levels, on every verdict seed: (points of test accuracy
    #: the pruning must cost, mode); the fraction is found per base model.
    matched_prune: tuple[tuple[float, str], ...] = ()
    #: Seeds of the seed's own recipe trained on the same data (chapter 1's reference).
    reference_seeds: tuple[int, ...] = (0,)
    #: Teacher inversion (chapter 7b): images in the pool, Adam steps per image.
    inversion_pool: int = 2048
    inversion_steps: int = 100
    #: Images per source in chapter 7b's look at the inputs through the teacher's eyes
    #: (entropy, class balance, feature distance); computed in the notebook, not cached.
    view_images: int = 2048

    def __post_init__(self) -> None:
        check_number("repair_steps", self.repair_steps, low=1, integer=True)
        check_number("inversion_pool", self.inversion_pool, low=1, integer=True)
        check_number("inversion_steps", self.inversion_steps, low=0, integer=True)
        check_number("explore_steps", self.explore_steps, low=1, integer=True)
        check_number("view_images", self.view_images, low=2, integer=True)
        for a in self.alphas:
            check_number("alpha", a, low=0)
        for p in self.prune_amounts:
            check_number("prune_amount", p, low=0, high=1, high_inclusive=False)
        for p, mode in self.verdict_prune:
            check_number("prune_amount", p, low=0, high=1, high_inclusive=False)
            check_choice("prune mode", mode, ("frozen", "regrow"))
        for lost, mode in self.matched_prune:
            check_number("target_lost", lost, low=0, low_inclusive=False, high=100)
            check_choice("prune mode", mode, ("frozen", "regrow"))
        if not self.seeds or not self.explore_seeds:
            raise ParameterError("seeds and explore_seeds need at least one seed")


@dataclass(frozen=True)
class Profile:
    """Everything about scale that a chapter reads."""

    name: str
    description: str
    synthetic: bool
    base: BaseTraining
    seeds: tuple[int, ...] = (0,)
    lazarus: LazarusScale = LazarusScale()
    #: Changes to :class:`plasticity.sovereign.SovereignConfig` (empty: the paper's).
    sovereign: dict = field(default_factory=dict)
    sovereign_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    synthetic_train: int = 2000
    synthetic_test: int = 500
    #: papermill's per-cell limit in seconds for real runs (a hung cell ends the book);
    #: None: no limit, so a slow or loaded machine is never failed for being slow.
    execution_timeout: int | None = 3600
    extras: dict = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="synthetic CIFAR look-alikes, tiny schedules: seconds per chapter; for tests",
        synthetic=True,
        base=BaseTraining(epochs=2, log_every=10),
        seeds=(0, 1),
        lazarus=LazarusScale(
            repair_steps=20,
            seeds=(0, 1, 2),
            base_per_seed=False,
            explore_steps=10,
            alphas=(0.1, 0.2, 0.35, 0.5),
            prune_amounts=(0.5, 0.9),
            matched_prune=((5.0, "frozen"),),
            inversion_pool=64,
            inversion_steps=3,
            view_images=256,
        ),
        sovereign={
            "cycles": 2,
            "epochs_per_cycle": 2,
            "curriculum": ((1, 300), (2, 600)),
            "warmup": 2,
            "window": 2,
            "val_size": 200,
            "report_test_size": 200,
            "carry_gap": True,
        },
        sovereign_seeds=(0, 1, 2),
        extras={"sovereign_ladder": (1,), "sovereign_permuted": True},
        synthetic_train=2000,
        synthetic_test=500,
        execution_timeout=None,
    ),
    "quick": Profile(
        name="quick",
        description="real CIFAR data, the published base training (5 epochs): every "
        "Lazarus verdict at the seed's protocol on 3 seeds, exploratory runs and "
        "NeuroSovereign shortened (4 cycles x 3 epochs); the profile a CPU can finish",
        synthetic=False,
        base=BaseTraining(epochs=5),
        seeds=(0, 1, 2),
        lazarus=LazarusScale(
            repair_steps=1000,
            seeds=(0, 1, 2),
            base_per_seed=True,
            explore_steps=300,
            alphas=(0.1, 0.2, 0.35),
            prune_amounts=(0.5, 0.9),
        ),
        sovereign={
            "cycles": 4,
            "epochs_per_cycle": 3,
            "curriculum": ((1, 1000), (2, 2000), (4, 4000)),
            "warmup": 3,
            "val_size": 1000,
            "report_test_size": 2000,
            "carry_gap": True,
        },
        sovereign_seeds=(0, 1, 2),
        extras={"sovereign_ladder": (1,), "sovereign_skip": ("gradual pruning (GMP)",)},
        execution_timeout=3600,
    ),
    "full": Profile(
        name="full",
        description="real CIFAR data, the evidence the verdicts need: every Lazarus verdict "
        "on 10 seeds with its own base model, the seed's alpha grid 0.1-0.35 and pruning "
        "at 30-80 %; NeuroSovereign 4 cycles x 15 epochs on 5 seeds with the paper's "
        "share of warm-up; meant for a GPU",
        synthetic=False,
        base=BaseTraining(epochs=5),
        seeds=tuple(range(10)),
        lazarus=LazarusScale(
            repair_steps=1000,
            seeds=tuple(range(10)),
            base_per_seed=True,
            explore_steps=1000,
            alphas=(0.1, 0.15, 0.2, 0.25, 0.3, 0.35),
            prune_amounts=(0.9,),
            verdict_prune=(
                (0.3, "frozen"),
                (0.5, "frozen"),
                (0.7, "frozen"),
                (0.7, "regrow"),
                (0.8, "frozen"),
            ),
            # what 70 % and 80 % pruning cost the seed's model (§3, §7.2)
            matched_prune=((1.04, "frozen"), (1.90, "frozen")),
            reference_seeds=(0, 1, 2, 3, 4),
        ),
        sovereign={
            "cycles": 4,
            "epochs_per_cycle": 15,
            "curriculum": ((1, 1000), (2, 2000), (4, 4000)),
            # 1 of 60 epochs (1.7 %): the paper's 20 of 1500 (1.3 %) as near as whole epochs go
            "warmup": 1,
            "val_size": 1000,
            "report_test_size": 10000,
            "carry_gap": True,
        },
        sovereign_seeds=(0, 1, 2, 3, 4),
        extras={
            "sovereign_ladder": (3,),
            "sovereign_skip": ("gradual pruning (GMP)",),
            "no_warmup_keeps_l1": True,
            "sovereign_permuted": True,
        },
        execution_timeout=6 * 3600,
    ),
    "paper": Profile(
        name="paper",
        description="the seeds' own settings (epochs, steps, five seeds); meant for a GPU "
        "or a long CPU run",
        synthetic=False,
        base=BaseTraining(epochs=5),
        seeds=(0, 1, 2, 3, 4),
        sovereign={"carry_gap": True},
        extras={"sovereign_ladder": (25, 50)},
        execution_timeout=6 * 3600,
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """Return the profile called ``name`` (``smoke``, ``quick``, ``full`` or ``paper``)."""
    if isinstance(name, Profile):
        return name
    check_choice("profile", name, PROFILES)
    return PROFILES[name]
