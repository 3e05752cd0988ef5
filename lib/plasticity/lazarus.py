"""Lazarus: the base network that every Lazarus chapter damages and repairs.

The base model is trained once per (data, recipe, seed) through the train-or-load
cache and shared by all chapters.
"""

from __future__ import annotations

import os
from dataclasses import asdict

import torch

from .data import Batches, ImageDataset
from .models import StabilityCNN, count_parameters
from .profiles import BaseTraining, check_number
from .runs import Artifact, train_or_load
from .train import default_device, evaluate, set_seed, train_classifier

#: Bump when the base training code changes what it produces.
BASE_VERSION = "lazarus-base-v1"

#: Test accuracy of the undamaged base model reported by the seed's runs (percent):
#: 73.17 stated for the alpha curve, about 72.71 and 72.89 implied by the V-shape and
#: pruning tables (research/lazarus_published_code.md section 1.4).
SEED_BASE_ACCURACY = {
    "alpha curve (stated)": 73.17,
    "V-shape (implied)": 72.71,
    "pruning curve (implied)": 72.89,
}


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
    config = {
        "dataset": dataset.name,
        "fingerprint": dataset.fingerprint,
        "seed": seed,
        "training": asdict(training),
    }

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
