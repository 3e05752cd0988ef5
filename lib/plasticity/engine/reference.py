"""The seed's own recipe on the book's data, as the reference its base models read against.

:func:`seed_recipe` trains the Lazarus network with the published script's loop as it is
written (a ``DataLoader`` over per-sample ``PIL -> ToTensor -> Normalize(0.5, 0.5)``,
batch 64, shuffled, SGD lr 0.01 momentum 0.9, cross-entropy read back every step, 5 epochs;
:mod:`plasticity.engine.bench.published`), seeded as the published significance script
seeds (``torch.manual_seed`` and ``np.random.seed`` at the start), and measures what the
seed's damages cost the model it trains: the same relative-noise draw and the same global
magnitude pruning as every Lazarus chapter (:class:`plasticity.lazarus.Damage`).

:func:`base_damage_costs` measures the same damages on the book's own base models.
"""

from __future__ import annotations

import os
import time

import torch
from torch import nn

from ..data import ImageDataset
from ..foundations.checks import check_number
from ..foundations.compute import set_seed
from ..lazarus import BaseTraining, Damage, StabilityCNN, damage, evaluate
from .bench import published
from .cache import Artifact, train_or_load

REFERENCE_VERSION = "seed-recipe-v1"

#: The seed's noise levels (§3, §7.1, the significance script) and pruning levels (§3).
REFERENCE_ALPHAS = (0.1, 0.2, 0.3, 0.35)
REFERENCE_PRUNE = (0.3, 0.5, 0.7, 0.8)


def reference_damages(seed: int) -> list[Damage]:
    """The damages measured on every model: noise drawn with ``seed`` (as the chapters
    draw it for that seed's repairs), pruning frozen (the mode does not change the damage)."""
    return [Damage("noise", a, seed=seed) for a in REFERENCE_ALPHAS] + [
        Damage("prune", p, "frozen", seed=0) for p in REFERENCE_PRUNE
    ]


def damage_label(d: Damage) -> str:
    """A damage's column name in the chapter's tables."""
    return f"alpha {d.level:g}" if d.kind == "noise" else f"prune {d.level:.0%}"


@torch.no_grad()
def damage_costs(model: nn.Module, dataset: ImageDataset, seed: int) -> dict:
    """Test accuracy of ``model`` and of each damaged copy (:func:`reference_damages`)."""
    check_number("seed", seed, low=0, integer=True)
    model = model.eval()
    out = {"original": evaluate(model, dataset.test_x, dataset.test_y)}
    for d in reference_damages(seed):
        damaged, _ = d.apply(model)
        damage.finalize(damaged)
        out[damage_label(d)] = evaluate(damaged.eval(), dataset.test_x, dataset.test_y)
    return out


def recipe_config(dataset: ImageDataset, training: BaseTraining, seed: int) -> dict:
    """What determines a reference model: the data, the seed, the published recipe."""
    return {
        "dataset": dataset.name,
        "fingerprint": dataset.fingerprint,
        "seed": seed,
        "recipe": "published script (DataLoader, PIL -> ToTensor -> Normalize)",
        "epochs": training.epochs,
        "lr": training.lr,
        "momentum": training.momentum,
        "batch_size": training.batch_size,
    }


def seed_recipe(
    dataset: ImageDataset,
    training: BaseTraining,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> Artifact:
    """The seed's recipe trained on ``dataset`` with ``seed`` (or loaded from the cache),
    with its test accuracy after each epoch and the cost of each reference damage."""
    check_number("seed", seed, low=0, integer=True)
    if not isinstance(training, BaseTraining):
        raise TypeError(f"training must be a BaseTraining, not {type(training).__name__}")

    def compute():
        set_seed(seed)
        model = StabilityCNN(dataset.num_classes)
        train, _ = published.published_loaders(dataset, seed, training.batch_size)
        opt = torch.optim.SGD(model.parameters(), lr=training.lr, momentum=training.momentum)
        batches = published.Restarting(train)
        epoch_eval, start = [], time.perf_counter()
        for _ in range(training.epochs):
            model.train()
            published.published_train_steps(model, batches, len(train), opt)
            epoch_eval.append(evaluate(model.eval(), dataset.test_x, dataset.test_y))
        seconds = time.perf_counter() - start
        costs = damage_costs(model, dataset, seed)
        return model.state_dict(), {
            "test_accuracy": epoch_eval[-1],
            "epoch_eval": epoch_eval,
            "steps": len(train) * training.epochs,
            "train_seconds": seconds,
            "damaged": costs,
        }

    return train_or_load(
        "lazarus-seed-recipe",
        recipe_config(dataset, training, seed),
        compute,
        version=REFERENCE_VERSION,
        cache_dir=cache_dir,
    )



def base_costs_config(base_key: str, seed: int) -> dict:
    """The cache key of :func:`base_damage_costs`: the base model and the damages."""
    return {"base": base_key, "damages": [d.key() for d in reference_damages(seed)]}


def base_damage_costs(
    dataset: ImageDataset,
    training: BaseTraining,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> dict:
    """:func:`damage_costs` of the book's own base model for ``seed``, cached per base
    model (kind ``lazarus-damage-costs``): the book's side of the comparison with
    :func:`seed_recipe`, measured the same way."""
    from .lazarus_runs import base_artifact, base_model

    art = base_artifact(dataset, training, seed, progress=False, cache_dir=cache_dir)

    def compute():
        model, _ = base_model(dataset, training, seed, progress=False, cache_dir=cache_dir)
        return {}, damage_costs(model.cpu(), dataset, seed)

    return train_or_load(
        "lazarus-damage-costs",
        base_costs_config(art.key, seed),
        compute,
        version=REFERENCE_VERSION,
        cache_dir=cache_dir,
    ).result
