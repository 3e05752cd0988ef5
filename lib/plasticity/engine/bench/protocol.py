"""The seed's V-shape protocol timed: the published script beside the book, on one
machine, both sides alternately (``bench protocol``, ``bench vshape``).
"""

from __future__ import annotations

import time

import torch

from ...data import Batches, ImageDataset
from ...foundations.compute import set_seed
from ...lazarus import StabilityCNN
from . import published as script
from .throughput import book_train_steps


def vshape_protocol(
    dataset: ImageDataset,
    epochs: int = 5,
    steps: int = 1000,
    alpha: float = 0.35,
    seed: int = 0,
    log=print,
) -> list[dict]:
    """The seed's V-shape protocol timed end to end: train, damage, repair (ours and
    naive, from the same damaged weights), evaluate."""
    import copy

    from ... import lazarus
    from ...data import Normalizer, to_tensor
    from ...lazarus import BaseTraining, damage, evaluate, train_classifier

    training = BaseTraining(epochs=epochs)
    set_seed(seed)
    model = StabilityCNN()
    batches = Batches(dataset.train_x, dataset.train_y, training.batch_size, seed=seed)
    start = time.perf_counter()
    train_classifier(
        model, batches, epochs=epochs, lr=training.lr, momentum=training.momentum, progress=False
    )
    train_s = time.perf_counter() - start
    original = evaluate(model, dataset.test_x, dataset.test_y)
    train_steps = len(batches) * epochs
    log(f"training: {train_steps} steps in {train_s:.1f} s, test accuracy {original:.2f} %")
    rows = [
        {
            "phase": "train (SGD, batch 64)",
            "steps": train_steps,
            "seconds": train_s,
            "steps_per_s": train_steps / train_s,
            "accuracy": original,
        }
    ]

    damaged = damage.noisy_copy(model, alpha, seed)
    rows.append(
        {
            "phase": f"damage alpha={alpha:g}",
            "steps": 0,
            "seconds": 0.0,
            "steps_per_s": float("nan"),
            "accuracy": evaluate(damaged, dataset.test_x, dataset.test_y),
        }
    )
    images = to_tensor(dataset.train_x)
    config = lazarus.RepairConfig(steps=steps)

    start = time.perf_counter()
    teacher_logits = lazarus.logits_table(model, images, Normalizer())
    logits_s = time.perf_counter() - start
    ours = copy.deepcopy(damaged)
    start = time.perf_counter()
    lazarus.repair(ours, model, config, images=images, teacher_logits=teacher_logits, seed=seed)
    ours_s = time.perf_counter() - start
    rows.append(
        {
            "phase": "repair, ours (loop only)",
            "steps": steps,
            "seconds": ours_s,
            "steps_per_s": steps / ours_s,
            "accuracy": evaluate(ours, dataset.test_x, dataset.test_y),
        }
    )
    rows.append(
        {
            "phase": "repair, ours (+ teacher logits once)",
            "steps": steps,
            "seconds": ours_s + logits_s,
            "steps_per_s": steps / (ours_s + logits_s),
            "accuracy": rows[-1]["accuracy"],
        }
    )
    log(f"our repair: {ours_s:.1f} s (+ {logits_s:.1f} s for the teacher's logits)")

    naive = copy.deepcopy(damaged)
    start = time.perf_counter()
    script.naive_repair(naive, model, images, config, seed=seed)
    naive_s = time.perf_counter() - start
    rows.append(
        {
            "phase": "repair, naive",
            "steps": steps,
            "seconds": naive_s,
            "steps_per_s": steps / naive_s,
            "accuracy": evaluate(naive, dataset.test_x, dataset.test_y),
        }
    )
    return rows


def protocol_ratio(
    dataset: ImageDataset,
    repeats: int = 3,
    train_steps: int = 100,
    repair_steps: int = 50,
    epochs: int = 5,
    protocol_steps: int = 1000,
    device: str = "cpu",
) -> dict:
    """The seed's V-shape protocol (``epochs`` of training, one damage, a
    ``protocol_steps``-step repair, the evaluations), the published script against
    the book, phase by phase in one process.

    Each repeat times, alternately, a slice of every phase on both sides on the same
    data and weights: ``train_steps`` training steps, ``repair_steps`` repair steps,
    the test-set passes, and for the book the teacher's logits on every training
    image. Each side's whole protocol is projected from its own slices:

    * published: ``epochs x ceil(N / 64)`` DataLoader training steps,
      ``protocol_steps`` DataLoader repair steps (teacher recomputed, two student
      passes, per-tensor Adam) and :data:`script.PUBLISHED_TEST_LOOPS`;
    * the book: the same training steps from uint8 tensor batches in channels-last
      order, the teacher's logits once over the training set, ``protocol_steps``
      steps of :func:`plasticity.lazarus.repair`, and one fused test pass for each
      of the original, the damaged model, the repair's budget points and the
      restored model.

    On a GPU (``device``) both sides' networks live there; the published side moves
    each DataLoader batch to it, as its script's ``.to(DEVICE)`` does, and every slice
    is timed between synchronisations.

    Returns the per-repeat projections and the median of the per-repeat ratios
    (published / book: above 1, the book is faster) with its range.
    """
    import copy
    import math
    import statistics

    from ... import lazarus
    from ...data import Normalizer, to_tensor
    from ...foundations.checks import check_number
    from ...foundations.compute import check_device
    from ...lazarus import damage
    from .rates import synchronize

    for name, value in (
        ("repeats", repeats),
        ("train_steps", train_steps),
        ("repair_steps", repair_steps),
        ("epochs", epochs),
        ("protocol_steps", protocol_steps),
    ):
        check_number(name, value, low=1, integer=True)
    dev = check_device(device)
    normalize = Normalizer()
    set_seed(0)
    teacher = StabilityCNN().to(dev).eval()
    damaged = damage.noisy_copy(teacher, 0.35, seed=1)
    config = lazarus.RepairConfig(steps=repair_steps, eval_at=())
    train_loader, test_loader = script.published_loaders(dataset)
    pub_train_batches, pub_repair_batches = (
        script.Restarting(train_loader),
        script.Restarting(train_loader),
    )
    book_stream = Batches(dataset.train_x, dataset.train_y, 64, seed=0, device=dev).stream()
    images, test = to_tensor(dataset.train_x).to(dev), to_tensor(dataset.test_x).to(dev)
    teacher_logits = lazarus.logits_table(teacher, images, normalize)
    budget_points = len([s for s in lazarus.RepairConfig().eval_at if s < protocol_steps])
    work = {
        "train steps": epochs * math.ceil(len(dataset.train_y) / 64),
        "repair steps": protocol_steps,
        "test passes (book)": 3 + budget_points,
    }

    pub_model = StabilityCNN().to(dev)
    pub_sgd = torch.optim.SGD(pub_model.parameters(), lr=0.01, momentum=0.9)
    book_model = StabilityCNN().to(dev)
    book_sgd = torch.optim.SGD(book_model.parameters(), lr=0.01, momentum=0.9)

    def pub_repair() -> None:
        student = copy.deepcopy(damaged)
        opt = torch.optim.Adam(student.parameters(), lr=config.lr)
        script.published_repair_steps(
            student, teacher, pub_repair_batches, repair_steps, opt, config
        )

    def book_repair() -> None:
        student = copy.deepcopy(damaged)
        lazarus.repair(student, teacher, config, images=images, teacher_logits=teacher_logits)

    slices = {
        "published": {
            "train": lambda: script.published_train_steps(
                pub_model, pub_train_batches, train_steps, pub_sgd
            ),
            "repair": pub_repair,
            "test loop, one model": lambda: script.published_test_loop([damaged], test_loader),
            "test loop, two models": lambda: script.published_test_loop(
                [damaged, teacher], test_loader
            ),
        },
        "book": {
            "train": lambda: book_train_steps(book_model, book_stream, book_sgd, train_steps),
            "repair": book_repair,
            "teacher logits": lambda: lazarus.logits_table(teacher, images, normalize),
            "test pass": lambda: lazarus.logits_table(damaged, test, normalize),
        },
    }
    for side in slices.values():  # warm-up: allocations, oneDNN primitives
        for fn in side.values():
            fn()

    def projected(side: str, t: dict[str, float]) -> dict[str, float]:
        phases = {
            "train": work["train steps"] * t["train"] / train_steps,
            "repair": work["repair steps"] * t["repair"] / repair_steps,
        }
        if side == "published":
            phases["evaluation"] = (
                script.PUBLISHED_TEST_LOOPS["one model"] * t["test loop, one model"]
                + script.PUBLISHED_TEST_LOOPS["two models"] * t["test loop, two models"]
            )
        else:
            phases["evaluation"] = work["test passes (book)"] * t["test pass"]
            phases["repair"] += t["teacher logits"]
        phases["total"] = sum(phases.values())
        return phases

    runs = []
    for _ in range(repeats):
        seconds = {side: {} for side in slices}
        for name in dict.fromkeys([*slices["published"], *slices["book"]]):
            for side, fns in slices.items():
                if name in fns:
                    synchronize(dev)
                    start = time.perf_counter()
                    fns[name]()
                    synchronize(dev)
                    seconds[side][name] = time.perf_counter() - start
        runs.append({side: projected(side, seconds[side]) for side in slices})
    ratios = [r["published"]["total"] / r["book"]["total"] for r in runs]
    median = {
        side: {phase: statistics.median(r[side][phase] for r in runs) for phase in runs[0][side]}
        for side in slices
    }
    return {
        "work": work,
        "device": str(dev),
        "runs": runs,
        "median": median,
        "ratio": statistics.median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
    }
