"""The Lazarus system: a small CIFAR-10 CNN, its damage, and the label-free v3 repair.

Modules, from the bottom up: :mod:`.model` (StabilityCNN), :mod:`.train` (the published
base-model recipe), :mod:`.damage` (relative weight noise, magnitude pruning, regrowth),
:mod:`.inputs` (the images a repair sees when it sees no image), :mod:`.datafree` (teacher
inversion, disagreement seeking), :mod:`.config` (a damage and a repair configuration),
:mod:`.repair` (one repair), :mod:`.many` (K repairs stacked as one computation).

This package knows nothing of caching, scheduling, verdicts or pages: the engine
(:mod:`plasticity.engine.lazarus_runs`) runs it, the science reads its results.
"""

from . import damage, datafree
from .config import (
    DAMAGES,
    GENERATED,
    INPUTS,
    LOSSES,
    METHODS,
    POOLED,
    PRECISIONS,
    TEACHERS,
    Damage,
    RepairConfig,
    method_config,
    plain_inversion,
)
from .inputs import channels_last, dead_leaves, input_pixels, logits_table, pink_noise
from .many import SHARED_FIELDS, repair_many, stack_key
from .model import StabilityCNN, inference_copy
from .repair import REPAIR_VERSION, kd_loss, repair
from .train import BASE_VERSION, BaseTraining, accuracy, evaluate, train_classifier

__all__ = [
    "BASE_VERSION",
    "DAMAGES",
    "GENERATED",
    "INPUTS",
    "LOSSES",
    "METHODS",
    "POOLED",
    "PRECISIONS",
    "REPAIR_VERSION",
    "TEACHERS",
    "BaseTraining",
    "Damage",
    "RepairConfig",
    "StabilityCNN",
    "accuracy",
    "channels_last",
    "damage",
    "datafree",
    "dead_leaves",
    "evaluate",
    "inference_copy",
    "input_pixels",
    "kd_loss",
    "logits_table",
    "method_config",
    "pink_noise",
    "plain_inversion",
    "repair",
    "repair_many",
    "SHARED_FIELDS",
    "stack_key",
    "train_classifier",
]
