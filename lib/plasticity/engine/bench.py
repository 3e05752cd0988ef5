"""Benchmarks (not tests): training throughput of the book's loop vs a DataLoader loop.

``python -m plasticity bench train`` trains the Lazarus StabilityCNN for the same
number of SGD steps (batch 64, lr 0.01, momentum 0.9) twice on the same images:

* ours: batches indexed straight from a uint8 tensor and normalised per batch;
* a plain ``torch.utils.data.DataLoader`` (``num_workers=0``) with per-sample
  ``PIL`` -> ``ToTensor`` -> ``Normalize``, the way the published code feeds data.

and prints images/s for both.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..data.batches import Batches
from ..data.datasets import ImageDataset
from ..foundations.compute import set_seed
from ..lazarus.model import StabilityCNN


class _PilDataset(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(np.asarray(self.x[i]))), int(self.y[i])


def _timed_steps(batches, steps: int, warmup: int, seed: int) -> tuple[float, int]:
    set_seed(seed)
    model = StabilityCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    seen, start = 0, None
    it = _Restarting(batches)
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        xb, yb = next(it)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= warmup:
            seen += len(yb)
    return time.perf_counter() - start, seen


def train_throughput(
    dataset: ImageDataset, steps: int = 300, warmup: int = 20, batch_size: int = 64, seed: int = 0
) -> list[dict]:
    """Images/s of both training loops on the same model, data and step count."""
    ours = Batches(dataset.train_x, dataset.train_y, batch_size, shuffle=True, seed=seed)
    loader, _ = published_loaders(dataset, seed, batch_size)
    rows = []
    for label, batches in (
        ("tensor batches (ours)", ours),
        ("DataLoader + per-sample ToTensor/Normalize", loader),
    ):
        seconds, images = _timed_steps(batches, steps, warmup, seed)
        rows.append(
            {
                "loop": label,
                "steps": steps,
                "images": images,
                "seconds": round(seconds, 2),
                "images_per_s": round(images / seconds, 1),
            }
        )
    return rows


def _published_step(student, teacher, x: torch.Tensor, noise: torch.Tensor, opt, config) -> None:
    """One step of the published ``lazarus_restore_v3``: the teacher recomputed under
    ``no_grad``, the clean and the noisy batch through the student separately."""
    import torch.nn.functional as F

    opt.zero_grad()
    with torch.no_grad():
        target = teacher(x)
    out = student(x)
    out_pert = student(x + noise * config.eps)
    probs, log_probs = F.softmax(out, dim=1), F.log_softmax(out, dim=1)
    entropy = -(probs * log_probs).sum(dim=1).mean()
    loss = (
        config.w_cons * F.mse_loss(out, target)
        + config.w_stab * F.mse_loss(out, out_pert)
        + config.w_ent * F.relu(entropy - config.h0)
    )
    loss.backward()
    opt.step()


def naive_repair(student, teacher, images: torch.Tensor, config, seed: int = 0) -> None:
    """The published repair step as written (:func:`_published_step`), fed from a uint8
    tensor of images in a seeded order."""
    from ..data.batches import Normalizer

    normalize = Normalizer()
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    n, b = len(images), config.batch_size
    order = None
    for step in range(config.steps):
        epoch, pos = divmod(step * b, n)
        if pos == 0 or order is None:
            order = torch.randperm(n, generator=generator)
        x = normalize(images[order[pos : pos + b]])
        _published_step(student, teacher, x, torch.randn(x.shape, generator=generator), opt, config)


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

    from .. import lazarus
    from ..data.batches import Normalizer, to_tensor
    from ..lazarus import damage
    from ..lazarus.train import BaseTraining, evaluate, train_classifier

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
    naive_repair(naive, model, images, config, seed=seed)
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


# ------------------------------------------------------------------ the machine's limit


def stability_cnn_flops() -> dict[str, float]:
    """FLOPs per image of the StabilityCNN (2 per multiply-add): ``forward``, and
    ``train`` = forward + backward (weight gradients of every layer, input gradients
    of every layer but the first, whose input needs none)."""
    model = StabilityCNN()
    conv1 = 32 * 32 * model.conv1.out_channels * 3 * 9
    conv2 = 16 * 16 * model.conv2.out_channels * model.conv1.out_channels * 9
    fc1, fc2 = model.fc1.in_features * model.fc1.out_features, model.fc2.in_features * 10
    forward = conv1 + conv2 + fc1 + fc2
    backward = forward + (conv2 + fc1 + fc2)
    return {"forward": 2.0 * forward, "train": 2.0 * (forward + backward)}


def _median_rate(fn, work: float, repeats: int) -> tuple[float, float, float]:
    """(median, min, max) of ``work / seconds`` over ``repeats`` timed calls."""
    import statistics

    fn()  # warm-up: allocations, oneDNN primitive creation
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(work / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def machine_peak(repeats: int = 5) -> list[dict]:
    """This machine's float32 throughput on the kernels the book runs: a 1024^3 sgemm
    and the StabilityCNN's 32->64 3x3 convolution (batch 128, channels-last)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    x = torch.randn(128, 32, 16, 16).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(32, 64, 3, padding=1).eval()
    rows = []
    for name, fn, flops in (
        ("sgemm 1024^3", lambda: a @ b, 2.0 * 1024**3),
        ("conv 32->64 3x3, 128x16x16", lambda: conv(x), 2.0 * 128 * 16 * 16 * 64 * 32 * 9),
    ):
        with torch.no_grad():
            median, low, high = _median_rate(
                lambda fn=fn: [fn() for _ in range(5)], 5 * flops, repeats
            )
        rows.append({"kernel": name, "gflops": median / 1e9, "min": low / 1e9, "max": high / 1e9})
    return rows


def book_train_steps(model, stream, opt, steps: int) -> None:
    """``steps`` steps of the book's base training: tensor batches from ``stream`` in
    channels-last order, cross-entropy, ``opt``."""
    import torch.nn.functional as F

    for _ in range(steps):
        xb, yb = next(stream)
        loss = F.cross_entropy(model(xb.contiguous(memory_format=torch.channels_last)), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def phase_work(
    dataset: ImageDataset, train_steps: int = 50, repair_steps: int = 50
) -> dict[str, object]:
    """The book's three phases as calls on real shapes, for timing: ``train`` runs
    ``train_steps`` SGD steps of batch 64, ``repair`` the book's repair for
    ``repair_steps`` steps (clean + noisy, 128 images, fused Adam, teacher logits
    precomputed), ``evaluate`` a fused pass over up to 2048 test images."""
    from .. import lazarus
    from ..data.batches import Normalizer, to_tensor

    normalize = Normalizer()
    set_seed(0)
    model = StabilityCNN()
    stream = Batches(dataset.train_x, dataset.train_y, 64, seed=0).stream()
    sgd = torch.optim.SGD(model.parameters(), lr=0.01)

    def train() -> None:
        book_train_steps(model, stream, sgd, train_steps)

    student = StabilityCNN()
    images = to_tensor(dataset.train_x[:2048])
    config = lazarus.RepairConfig(steps=repair_steps, eval_at=())
    teacher_logits = lazarus.logits_table(model, images, normalize)

    def repair() -> None:
        lazarus.repair(student, model, config, images=images, teacher_logits=teacher_logits)

    test = to_tensor(dataset.test_x[:2048])

    def evaluate() -> None:
        lazarus.logits_table(model, test, normalize)

    return {"train": train, "repair": repair, "evaluate": evaluate, "test_images": len(test)}


def phase_rates(dataset: ImageDataset, steps: int = 50, repeats: int = 3) -> list[dict]:
    """Images/s and GFLOP/s of the book's three phases on real shapes (:func:`phase_work`):
    base training, the repair step and the test-set pass."""
    flops = stability_cnn_flops()
    work = phase_work(dataset, steps, steps)
    train, repair, evaluate = work["train"], work["repair"], work["evaluate"]
    rows = []
    for phase, fn, images_per_call, per_image in (
        ("train (SGD, batch 64)", train, 64 * steps, flops["train"]),
        ("repair step (2 x 64 images)", repair, 128 * steps, flops["train"]),
        ("test-set pass (fused)", evaluate, work["test_images"], flops["forward"]),
    ):
        median, low, high = _median_rate(fn, images_per_call, repeats)
        rows.append(
            {
                "phase": phase,
                "images_per_s": median,
                "gflops": median * per_image / 1e9,
                "spread": (low, high),
            }
        )
    return rows


def grid_rates(
    dataset: ImageDataset,
    ks: tuple[int, ...] = (1, 2, 4, 8),
    steps: int = 30,
    repeats: int = 3,
) -> list[dict]:
    """Per-repair step time of K repairs one at a time and as one batched computation
    (:func:`plasticity.batched.repair_many`), side by side in one process: for each K,
    ``repeats`` alternating timings of both, K students of the book's repair (alpha
    0.35, training images, teacher logits precomputed, ``steps`` steps). Returns the
    median milliseconds per repair step of each and the median of the per-repeat
    ratios (one at a time / batched: above 1, batching pays)."""
    import copy
    import statistics

    from .. import lazarus
    from ..data.batches import Normalizer, to_tensor
    from ..foundations.checks import check_number
    from ..lazarus import damage
    from ..lazarus.many import repair_many

    check_number("steps", steps, low=1, integer=True)
    check_number("repeats", repeats, low=1, integer=True)
    for k in ks:
        check_number("k", k, low=1, high=64, integer=True)
    set_seed(0)
    teacher = StabilityCNN().eval()
    images = to_tensor(dataset.train_x[:2048])
    logits = lazarus.logits_table(teacher, images, Normalizer())
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    rows = []
    for k in ks:
        students = [damage.noisy_copy(teacher, 0.35, seed=s) for s in range(k)]

        def one_at_a_time(students=students) -> None:
            for i, s in enumerate(students):
                lazarus.repair(
                    copy.deepcopy(s), teacher, config, images=images, teacher_logits=logits, seed=i
                )

        def batched(students=students, k=k) -> None:
            repair_many(
                [copy.deepcopy(s) for s in students],
                teacher,
                config,
                seeds=list(range(k)),
                images=images,
                teacher_logits=logits,
            )

        one_at_a_time(), batched()  # warm-up
        alone, together = [], []
        for _ in range(repeats):
            for fn, times in ((one_at_a_time, alone), (batched, together)):
                start = time.perf_counter()
                fn()
                times.append(1000 * (time.perf_counter() - start) / (k * steps))
        rows.append(
            {
                "k": k,
                "alone_ms": statistics.median(alone),
                "batched_ms": statistics.median(together),
                "speedup": statistics.median(a / b for a, b in zip(alone, together, strict=True)),
                "speedup_range": (
                    min(a / b for a, b in zip(alone, together, strict=True)),
                    max(a / b for a, b in zip(alone, together, strict=True)),
                ),
            }
        )
    return rows


def profile_repair(dataset: ImageDataset, steps: int = 20, top: int = 10) -> dict[str, list[dict]]:
    """The ``top`` operators by self CPU time (``torch.profiler``) of ``steps`` repair
    steps, for the naive published step (:func:`naive_repair`: teacher recomputed, two
    student passes, per-tensor Adam) and for the book's (:func:`plasticity.lazarus.repair`:
    teacher logits precomputed, one pass of 2 x 64 channels-last images, fused Adam),
    from the same damaged weights and images, after one warm-up call of each."""
    import copy

    from torch.profiler import ProfilerActivity, profile

    from .. import lazarus
    from ..data.batches import Normalizer, to_tensor
    from ..foundations.checks import check_number
    from ..lazarus import damage

    check_number("steps", steps, low=1, integer=True)
    check_number("top", top, low=1, integer=True)
    set_seed(0)
    teacher = StabilityCNN().eval()
    images = to_tensor(dataset.train_x[:2048])
    logits = lazarus.logits_table(teacher, images, Normalizer())
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    student = damage.noisy_copy(teacher, 0.35, seed=1)
    calls = {
        "naive": lambda: naive_repair(copy.deepcopy(student), teacher, images, config),
        "book": lambda: lazarus.repair(
            copy.deepcopy(student), teacher, config, images=images, teacher_logits=logits
        ),
    }
    tables = {}
    for name, fn in calls.items():
        fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        tables[name] = [
            {
                "operator": e.key,
                "calls": e.count,
                "self_ms_per_step": e.self_cpu_time_total / 1000 / steps,
                "share_pct": 100 * e.self_cpu_time_total / total,
            }
            for e in events[:top]
        ] + [
            {
                "operator": "all operators",
                "calls": None,
                "self_ms_per_step": total / 1000 / steps,
                "share_pct": 100.0,
            }
        ]
    return tables


# ------------------------------------------------------------ the seed's published script

#: The published V-shape script (``experiments/noise/experiment_cifar10.py``) passes
#: over the test loader: accuracy of the original; accuracy, entropy and agreement
#: (two models per batch) of the damaged and of the restored model.
PUBLISHED_TEST_LOOPS = {"one model": 5, "two models": 2}


def published_loaders(dataset: ImageDataset, seed: int = 0, batch_size: int = 64):
    """The published script's data path: a ``DataLoader`` (``num_workers=0``, batch 64)
    over per-sample ``PIL`` -> ``ToTensor`` -> ``Normalize(0.5, 0.5)``; the train loader
    shuffles, the test loader does not."""
    from torchvision import transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    train = torch.utils.data.DataLoader(
        _PilDataset(dataset.train_x, dataset.train_y, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=0,
        generator=torch.Generator().manual_seed(seed),
    )
    test = torch.utils.data.DataLoader(
        _PilDataset(dataset.test_x, dataset.test_y, transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
    )
    return train, test


class _Restarting:
    """``next(loader)`` the way the published loops do it: a new iterator (a new
    shuffle) when the old one runs out."""

    def __init__(self, loader):
        self.loader, self.it = loader, iter(loader)

    def __next__(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)


def published_train_steps(model, batches: _Restarting, steps: int, opt) -> None:
    """The published training loop for ``steps`` batches: SGD, cross-entropy, the
    running loss read back with ``.item()`` every step."""
    loss_fn = nn.CrossEntropyLoss()
    running = 0.0
    for _ in range(steps):
        inputs, labels = next(batches)
        opt.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        opt.step()
        running += loss.item()


def published_repair_steps(student, teacher, batches: _Restarting, steps: int, opt, config) -> None:
    """The published ``lazarus_restore_v3`` loop for ``steps`` iterations: a
    DataLoader batch and :func:`_published_step` (with per-tensor Adam as ``opt``)."""
    student.train()
    teacher.eval()
    for _ in range(steps):
        images, _ = next(batches)
        _published_step(student, teacher, images, torch.randn_like(images), opt, config)


def published_test_loop(models, loader) -> None:
    """One pass of the published evaluation over the test loader, every model in
    ``models`` on each batch (one for accuracy or entropy, two for agreement)."""
    for m in models:
        m.eval()
    with torch.no_grad():
        for images, _ in loader:
            for m in models:
                m(images)


def protocol_ratio(
    dataset: ImageDataset,
    repeats: int = 3,
    train_steps: int = 100,
    repair_steps: int = 50,
    epochs: int = 5,
    protocol_steps: int = 1000,
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
      passes, per-tensor Adam) and :data:`PUBLISHED_TEST_LOOPS`;
    * the book: the same training steps from uint8 tensor batches in channels-last
      order, the teacher's logits once over the training set, ``protocol_steps``
      steps of :func:`plasticity.lazarus.repair`, and one fused test pass for each
      of the original, the damaged model, the repair's budget points and the
      restored model.

    Returns the per-repeat projections and the median of the per-repeat ratios
    (published / book: above 1, the book is faster) with its range.
    """
    import copy
    import math
    import statistics

    from .. import lazarus
    from ..data.batches import Normalizer, to_tensor
    from ..foundations.checks import check_number
    from ..lazarus import damage

    for name, value in (
        ("repeats", repeats),
        ("train_steps", train_steps),
        ("repair_steps", repair_steps),
        ("epochs", epochs),
        ("protocol_steps", protocol_steps),
    ):
        check_number(name, value, low=1, integer=True)
    normalize = Normalizer()
    set_seed(0)
    teacher = StabilityCNN().eval()
    damaged = damage.noisy_copy(teacher, 0.35, seed=1)
    config = lazarus.RepairConfig(steps=repair_steps, eval_at=())
    train_loader, test_loader = published_loaders(dataset)
    pub_train_batches, pub_repair_batches = _Restarting(train_loader), _Restarting(train_loader)
    book_stream = Batches(dataset.train_x, dataset.train_y, 64, seed=0).stream()
    images, test = to_tensor(dataset.train_x), to_tensor(dataset.test_x)
    teacher_logits = lazarus.logits_table(teacher, images, normalize)
    budget_points = len([s for s in lazarus.RepairConfig().eval_at if s < protocol_steps])
    work = {
        "train steps": epochs * math.ceil(len(dataset.train_y) / 64),
        "repair steps": protocol_steps,
        "test passes (book)": 3 + budget_points,
    }

    pub_model = StabilityCNN()
    pub_sgd = torch.optim.SGD(pub_model.parameters(), lr=0.01, momentum=0.9)
    book_model = StabilityCNN()
    book_sgd = torch.optim.SGD(book_model.parameters(), lr=0.01, momentum=0.9)

    def pub_repair() -> None:
        student = copy.deepcopy(damaged)
        opt = torch.optim.Adam(student.parameters(), lr=config.lr)
        published_repair_steps(student, teacher, pub_repair_batches, repair_steps, opt, config)

    def book_repair() -> None:
        student = copy.deepcopy(damaged)
        lazarus.repair(student, teacher, config, images=images, teacher_logits=teacher_logits)

    slices = {
        "published": {
            "train": lambda: published_train_steps(
                pub_model, pub_train_batches, train_steps, pub_sgd
            ),
            "repair": pub_repair,
            "test loop, one model": lambda: published_test_loop([damaged], test_loader),
            "test loop, two models": lambda: published_test_loop([damaged, teacher], test_loader),
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
                PUBLISHED_TEST_LOOPS["one model"] * t["test loop, one model"]
                + PUBLISHED_TEST_LOOPS["two models"] * t["test loop, two models"]
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
                    start = time.perf_counter()
                    fns[name]()
                    seconds[side][name] = time.perf_counter() - start
        runs.append({side: projected(side, seconds[side]) for side in slices})
    ratios = [r["published"]["total"] / r["book"]["total"] for r in runs]
    median = {
        side: {phase: statistics.median(r[side][phase] for r in runs) for phase in runs[0][side]}
        for side in slices
    }
    return {
        "work": work,
        "runs": runs,
        "median": median,
        "ratio": statistics.median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
    }


# ---------------------------------------------------------------- runs in processes


def _repairs_in_process(
    images, logits, teacher_state, students, seeds, steps, threads, barrier, out
):
    """One process of :func:`worker_rates`: ``threads`` torch threads, a short warm-up,
    then (after every process is ready) its share of the repairs, timed by the wall
    clock so that the processes' times compare."""
    from .. import lazarus

    torch.set_num_threads(threads)
    teacher = StabilityCNN().eval()
    teacher.load_state_dict(teacher_state)
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    warm = StabilityCNN()
    warm.load_state_dict(students[0])
    lazarus.repair(
        warm,
        teacher,
        lazarus.RepairConfig(steps=3, eval_at=()),
        images=images,
        teacher_logits=logits,
    )
    barrier.wait()
    start = time.time()
    for state, seed in zip(students, seeds, strict=True):
        student = StabilityCNN()
        student.load_state_dict(state)
        lazarus.repair(student, teacher, config, images=images, teacher_logits=logits, seed=seed)
    out.put((start, time.time()))


def worker_rates(
    dataset: ImageDataset,
    workers: int = 2,
    repairs: int = 4,
    steps: int = 60,
    repeats: int = 3,
    threads: int | None = None,
) -> dict:
    """``repairs`` repairs (alpha 0.35, training images, teacher logits precomputed,
    ``steps`` steps each) run one after another in this process with all its torch
    threads, and spread over ``workers`` processes with ``threads`` threads each
    (default: this process's threads divided among them), alternately ``repeats``
    times. Returns the median repair steps per second of each and the median of the
    per-repeat ratios (processes / one process: above 1, ``book plan --execute
    --workers`` pays)."""
    import multiprocessing
    import statistics

    from .. import lazarus
    from ..data.batches import Normalizer, to_tensor
    from ..foundations.checks import check_number
    from ..lazarus import damage

    check_number("workers", workers, low=1, high=64, integer=True)
    check_number("repairs", repairs, low=1, integer=True)
    check_number("steps", steps, low=1, integer=True)
    check_number("repeats", repeats, low=1, integer=True)
    total_threads = torch.get_num_threads()
    if threads is None:
        threads = max(1, total_threads // workers)
    check_number("threads", threads, low=1, high=256, integer=True)
    set_seed(0)
    teacher = StabilityCNN().eval()
    images = to_tensor(dataset.train_x[:2048])
    logits = lazarus.logits_table(teacher, images, Normalizer())
    students = [damage.noisy_copy(teacher, 0.35, seed=s).state_dict() for s in range(repairs)]
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    ctx = multiprocessing.get_context("spawn")

    def sequential() -> float:
        start = time.perf_counter()
        for i, state in enumerate(students):
            student = StabilityCNN()
            student.load_state_dict(state)
            lazarus.repair(student, teacher, config, images=images, teacher_logits=logits, seed=i)
        return repairs * steps / (time.perf_counter() - start)

    def parallel() -> float:
        barrier, out = ctx.Barrier(workers), ctx.Queue()
        shares = [list(range(repairs))[w::workers] for w in range(workers)]
        procs = [
            ctx.Process(
                target=_repairs_in_process,
                args=(
                    images,
                    logits,
                    teacher.state_dict(),
                    [students[i] for i in share],
                    share,
                    steps,
                    threads,
                    barrier,
                    out,
                ),
            )
            for share in shares
            if share
        ]
        for p in procs:
            p.start()
        spans = [out.get() for _ in procs]
        for p in procs:
            p.join()
        return repairs * steps / (max(e for _, e in spans) - min(s for s, _ in spans))

    sequential()  # warm-up
    alone, spread = [], []
    for _ in range(repeats):
        alone.append(sequential())
        spread.append(parallel())
    ratios = [b / a for a, b in zip(alone, spread, strict=True)]
    return {
        "workers": workers,
        "threads": threads,
        "one_process_threads": total_threads,
        "one_process_steps_per_s": statistics.median(alone),
        "workers_steps_per_s": statistics.median(spread),
        "speedup": statistics.median(ratios),
        "speedup_range": (min(ratios), max(ratios)),
    }
