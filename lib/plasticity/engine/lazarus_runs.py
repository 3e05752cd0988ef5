"""Lazarus runs as the engine computes them: the base model trained or loaded, and
:class:`Lab`, which damages copies of it, repairs them (one at a time or stacked) and
measures them, every artefact cached under a key of everything that determines it.
"""

from __future__ import annotations

import copy
import functools
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..data import Batches, ImageDataset, Normalizer, to_tensor
from ..foundations.checks import ParameterError, check_number
from ..foundations.compute import count_parameters, default_device, set_seed
from ..lazarus import (
    BASE_VERSION,
    POOLED,
    REPAIR_VERSION,
    BaseTraining,
    Damage,
    RepairConfig,
    StabilityCNN,
    accuracy,
    damage,
    evaluate,
    logits_table,
    metrics,
    plain_inversion,
    repair,
    train_classifier,
)
from ..lazarus.datafree import INVERSION_VERSION, InversionConfig, invert
from .cache import Artifact, train_or_load

#: A matched damage level is found by bisection over the pruned fraction in
#: [0, MATCH_MAX_AMOUNT], MATCH_STEPS test-set measurements per base model and target.
MATCH_STEPS = 12
MATCH_MAX_AMOUNT = 0.99


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


def inversion_config_key(base_key: str, inversion: InversionConfig, seed: int) -> dict:
    """What determines a teacher-inversion pool: the base model, the synthesis, the seed."""
    return {"base": base_key, "config": inversion.key(), "seed": seed}


def base_model(
    dataset: ImageDataset, training: BaseTraining, seed: int = 0, *, device=None, **kwargs
) -> tuple[StabilityCNN, Artifact]:
    """Train (or load from the cache) the Lazarus StabilityCNN on ``dataset``.

    The recipe is the published one (SGD, cross-entropy, no augmentation, inputs
    normalised with mean = std = 0.5, all training images, no validation split);
    test accuracy is recorded after every epoch for the learning curve, never used
    to choose anything. ``device`` (default: the process's) and ``progress`` and
    ``cache_dir`` as :func:`base_artifact` takes them.
    """
    device = torch.device(device) if device is not None else default_device()
    artifact = base_artifact(dataset, training, seed, device=device, **kwargs)
    model = artifact.load_into(StabilityCNN(dataset.num_classes)).to(device).eval()
    return model, artifact


def base_artifact(
    dataset: ImageDataset,
    training: BaseTraining,
    seed: int = 0,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> Artifact:
    """The cache entry of :func:`base_model` (trained if missing), without loading its
    weights: its key and result are all a cached repair of it needs."""
    check_number("seed", seed, low=0, integer=True)
    if not isinstance(training, BaseTraining):
        raise TypeError(f"training must be a BaseTraining, not {type(training).__name__}")
    device = torch.device(device) if device is not None else default_device()
    config = base_config(dataset, training, seed)

    def compute():
        model, batches = _fresh_base(dataset, training, seed, device)
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
        return model.state_dict(), _base_result(model, history, batches, training, device)

    return train_or_load("lazarus-base", config, compute, version=BASE_VERSION, cache_dir=cache_dir)


def _fresh_base(dataset: ImageDataset, training: BaseTraining, seed: int, device):
    """A base model's untrained network and its batches, both drawn from ``seed``."""
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
    return model, batches


def _base_result(model, history, batches, training: BaseTraining, device, stacked: int = 1):
    return {
        "test_accuracy": history["epoch_eval"][-1],
        "history": history,
        "parameters": count_parameters(model)["total"],
        "device": str(device),
        "steps": len(batches) * training.epochs,
        **({"stacked": stacked} if stacked > 1 else {}),
    }


def base_models(
    dataset: ImageDataset,
    training: BaseTraining,
    seeds: list[int],
    *,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[tuple[StabilityCNN, Artifact]]:
    """:func:`base_model` for every seed; the ones not cached are trained together as
    one stacked computation (:func:`plasticity.lazarus.train.train_many`), each cached
    under the key it has alone, with the weights it would have alone to float rounding
    (its result records ``stacked``: how many trained together)."""
    from ..lazarus.train import train_many
    from .cache import is_cached

    for s in seeds:
        check_number("seed", s, low=0, integer=True)
    device = torch.device(device) if device is not None else default_device()
    missing = [
        s
        for s in dict.fromkeys(seeds)
        if not is_cached("lazarus-base", base_config(dataset, training, s), BASE_VERSION, cache_dir)
    ]
    if len(missing) > 1:
        start = time.perf_counter()
        fresh = [_fresh_base(dataset, training, s, device) for s in missing]
        models = [m for m, _ in fresh]
        histories = train_many(
            models,
            [b for _, b in fresh],
            epochs=training.epochs,
            lr=training.lr,
            momentum=training.momentum,
            log_every=training.log_every,
            eval_fn=lambda m: evaluate(m, dataset.test_x, dataset.test_y),
        )
        share = (time.perf_counter() - start) / len(missing)
        for s, (model, batches), history in zip(missing, fresh, histories, strict=True):
            result = _base_result(model, history, batches, training, device, len(missing))
            train_or_load(
                "lazarus-base",
                base_config(dataset, training, s),
                lambda model=model, result=result: (model.state_dict(), result),
                version=BASE_VERSION,
                cache_dir=cache_dir,
                seconds=share,
            )
    return [
        base_model(dataset, training, s, device=device, progress=False, cache_dir=cache_dir)
        for s in seeds
    ]


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
        self._device = torch.device(device) if device is not None else default_device()
        self.artifact = base_artifact(
            dataset, training, seed, device=self._device, progress=progress, cache_dir=cache_dir
        )
        self.normalize = Normalizer()
        self.extra_inputs = dict(extra_inputs or {})
        self.inversion = inversion or InversionConfig()
        self._pools: dict[bool, Artifact] = {}
        self._images: dict[str, torch.Tensor] = {}
        self._teacher_logits: dict[str, torch.Tensor] = {}

    # The base model's weights, the test set and its logits are read when a computation
    # first needs them: a repair read from the cache (or from recorded results, which
    # hold no weights) needs only the base model's key.
    @functools.cached_property
    def model(self) -> StabilityCNN:
        """The base model (weights loaded from its cache entry), in eval mode."""
        net = StabilityCNN(self.dataset.num_classes)
        return self.artifact.load_into(net).to(self._device).eval()

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def test_size(self) -> int:
        """How many test images the measurements count (known without the images)."""
        return len(self.dataset.test_y)

    @functools.cached_property
    def test_x(self) -> torch.Tensor:
        return to_tensor(self.dataset.test_x)

    @functools.cached_property
    def test_y(self) -> torch.Tensor:
        return torch.from_numpy(np.array(self.dataset.test_y, dtype=np.int64))

    @functools.cached_property
    def test_logits(self) -> torch.Tensor:
        """The base model's test-set logits, cached on disk."""
        return train_or_load(
            "lazarus-test-logits",
            {"base": self.artifact.key, "fingerprint": self.dataset.fingerprint},
            lambda: ({"logits": logits_table(self.model, self.test_x, self.normalize)}, {}),
            version=REPAIR_VERSION,
            cache_dir=self.cache_dir,
        ).tensors["logits"]

    @functools.cached_property
    def accuracy(self) -> float:
        """The base model's test accuracy (%), from its test-set logits."""
        return accuracy(self.test_logits, self.test_y)

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

    def pool_size(self, inputs: str) -> int | None:
        """How many images a pooled input set holds (None for generated inputs),
        without synthesising or loading it."""
        if inputs in ("inversion", "inversion_plain"):
            return self.inversion.pool
        ds = self._input_set(inputs)
        return None if ds is None else len(ds.train_y)

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
            "agreement": metrics.agreement_mse(logits, self.test_logits),
            "top1_agreement": metrics.top1_agreement(logits, self.test_logits),
            "entropy": metrics.mean_entropy(logits),
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
        return self._cached("lazarus-repair", self.repair_key(dmg, config, seed), dmg, config, seed)

    def _cached(self, kind: str, key: dict, dmg: Damage, config: RepairConfig, seed: int) -> dict:
        art = train_or_load(
            kind,
            key,
            lambda: self._compute(dmg, config, seed),
            version=REPAIR_VERSION,
            cache_dir=self.cache_dir,
        )
        return {**art.result, "cached": art.hit}

    def rerun_key(self, dmg: Damage, config: RepairConfig, seed: int) -> dict:
        """The cache key of :meth:`rerun`."""
        return {"repair": self.repair_key(dmg, config, seed)}

    def rerun(self, dmg: Damage, config: RepairConfig, seed: int = 0) -> dict:
        """The repair :meth:`run` caches, computed again from this base model's weights as
        they are now (kind ``lazarus-rerun``), so that it pairs with other runs computed
        from them; a base model trained again on another machine can differ from the one
        the recorded run started from by the machine's floating-point rounding."""
        return self._cached("lazarus-rerun", self.rerun_key(dmg, config, seed), dmg, config, seed)

    def resolve(self, dmg: Damage) -> Damage:
        """``dmg`` itself, or for a matched damage the pruning fraction whose damage
        costs this base model ``dmg.target_lost`` points of test accuracy: a bisection
        over the fraction (the damaged accuracy falls as more is pruned), measured on
        the test set as the seed measures its damage, cached per base model and target."""
        if not dmg.matched:
            return dmg
        target = float(dmg.target_lost)

        def compute():
            low, high, steps = 0.0, MATCH_MAX_AMOUNT, []
            for _ in range(MATCH_STEPS):
                mid = (low + high) / 2
                pruned = Damage("prune", mid, "frozen").apply(self.model)[0]
                lost = self.accuracy - self.measure(pruned)["accuracy"]
                steps.append({"amount": mid, "lost": lost})
                low, high = (mid, high) if lost < target else (low, mid)
            best = min(steps, key=lambda s: abs(s["lost"] - target))
            return {}, {"amount": best["amount"], "lost": best["lost"], "steps": steps}

        found = train_or_load(
            "lazarus-matched-level",
            {"base": self.artifact.key, "target_lost": target},
            compute,
            version=REPAIR_VERSION,
            cache_dir=self.cache_dir,
        ).result
        return dmg.resolved(round(float(found["amount"]), 6))

    def measure_damaged(self, dmg: Damage, student: nn.Module | None = None) -> dict:
        """:meth:`measure` of the damaged model, cached per (base model, damage): every
        repair of one damage starts from the same model."""

        def compute():
            model = student if student is not None else self.resolve(dmg).apply(self.model)[0]
            return {}, self.measure(model)

        return train_or_load(
            "lazarus-damaged",
            {"base": self.artifact.key, "damage": dmg.key()},
            compute,
            version=REPAIR_VERSION,
            cache_dir=self.cache_dir,
        ).result

    def prepare(self, dmg: Damage, config: RepairConfig) -> Pending:
        """The damaged student, its teacher and the measurement before the repair."""
        start = time.perf_counter()
        concrete = self.resolve(dmg)
        student, info = concrete.apply(self.model)
        if dmg.kind == "prune":
            info["amount"] = concrete.level
        info["distance"] = damage.weight_distance(student, self.model)
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
        return Pending(student, info, before, teacher, t_logits, labels, budget, start)

    def checkpoint_callback(self, pending: Pending) -> Callable[[int, nn.Module], None]:
        def checkpoint(step: int, model: nn.Module) -> None:
            m = self.measure(model)
            pending.budget.append(
                {"step": step, "accuracy": m["accuracy"], "agreement": m["agreement"]}
            )

        return checkpoint

    def _compute(self, dmg: Damage, config: RepairConfig, seed: int):
        pending = self.prepare(dmg, config)
        history = repair(
            pending.student,
            pending.teacher,
            config,
            images=self.images(config.inputs),
            labels=pending.labels,
            teacher_logits=pending.teacher_logits,
            seed=seed,
            progress=self.progress,
            on_checkpoint=self.checkpoint_callback(pending),
        )
        return self.finish(dmg, config, seed, pending, history)

    def finish(
        self,
        dmg: Damage,
        config: RepairConfig,
        seed: int,
        pending: Pending,
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
            point["recovery_pct"] = metrics.recovery_pct(
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
            "recovery_pct": metrics.recovery_pct(
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
            "prune_amount": pending.info.get("amount"),
            # relative weight distance from the original, before and after the repair
            "distance_damaged": pending.info.get("distance"),
            "distance_restored": damage.weight_distance(student, self.model),
            "floor_active_pct": float(np.mean(history["floor_active_pct"])),
            "history": history,
            "budget": budget,
            "repair_seconds": (time.perf_counter() - pending.start if seconds is None else seconds),
        }
        return student.state_dict(), result


@dataclass
class Pending:
    """A damaged student waiting for its repair, and what its result needs."""

    student: nn.Module
    info: dict
    before: dict
    teacher: nn.Module
    teacher_logits: torch.Tensor | None
    labels: torch.Tensor | None
    budget: list
    start: float


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
    :class:`~plasticity.lazarus.datafree.InversionConfig`)."""
    scale = profile.lazarus
    return InversionConfig(pool=scale.inversion_pool, steps=scale.inversion_steps)
