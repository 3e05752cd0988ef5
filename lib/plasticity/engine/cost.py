"""What a profile costs: CPU time measured on this machine, GPU time estimated or measured.

``python -m plasticity bench cost --profile paper`` prints, per run kind of the plan
(:mod:`plasticity.book.plan`):

- the number of runs and units of work (a base-model epoch, a repair step, a
  NeuroSovereign epoch per 1000 images and chain, a probe's epoch cap);
- seconds per unit **measured here**: short runs of each kind, timed
  (:func:`measure_cpu`);
- floating-point work per unit **counted** with ``torch.utils.flop_counter`` on the
  same short runs, and optimizer steps per unit;
- an **estimated** GPU time per run: each optimizer step costs the larger of its
  FLOPs at an assumed sustained throughput and an assumed per-step floor (kernel
  launches and Python, which dominate for networks this small). Both assumptions are
  parameters (``--gpu-tflops``, ``--gpu-step-ms``) and are printed with the table;
- with ``--device cuda``, the GPU time is **measured** instead: the same short runs of
  each kind timed on the GPU (:func:`measure`; the probe stays on the CPU, where the
  book computes it), and the table says so.

Wall time on N GPUs: the plan's stages run one after the other (base models, then
repairs, then evolutions and probes); inside a stage the runs are independent, so a
stage takes the larger of its total over N and its longest run.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace

import pandas as pd

from ..foundations.checks import check_number
from . import sovereign_runs

#: Assumed sustained fp32 throughput of one data-centre GPU on these small networks
#: (an A100's fp32 peak is 19.5 TFLOP/s; small convolutions reach a fraction of it).
GPU_TFLOPS = 8.0
#: NeuroSovereign chains stacked when :func:`measure` prices an evolution on a GPU
#: (the paper and full profiles run more APEX chains of one schedule than this).
GPU_CHAINS = 16
#: Assumed floor per optimizer step on a GPU (kernel launches, Python, the spectral
#: terms' small decompositions), whatever the FLOPs.
GPU_STEP_MS = 4.0


@dataclass(frozen=True)
class KindCost:
    """One run kind's unit of work: CPU seconds (measured), FLOPs and optimizer steps."""

    kind: str
    unit: str
    #: seconds per unit measured on ``device`` (the name says CPU: the default device)
    cpu_seconds: float
    flops: float
    steps: float
    device: str = "cpu"

    def gpu_seconds(self, tflops: float = GPU_TFLOPS, step_ms: float = GPU_STEP_MS) -> float:
        if self.steps <= 0:
            return self.flops / (tflops * 1e12)
        per_step = max(self.flops / self.steps / (tflops * 1e12), step_ms / 1000)
        return per_step * self.steps


def _timed_and_counted(fn, warmup: bool = True, device=None) -> tuple[float, float]:
    """Seconds of one call of ``fn`` (after a warm-up call; on a GPU synchronised), and
    the FLOPs of another."""
    from torch.utils.flop_counter import FlopCounterMode

    from .bench.rates import synchronize

    if warmup:
        fn()
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    seconds = time.perf_counter() - start
    with FlopCounterMode(display=False) as counter:
        fn()
    return seconds, float(counter.get_total_flops())


def measure_cpu(
    cifar10, cifar100, profile, *, repair_steps: int = 40, epoch_images: int | None = None
) -> dict[str, KindCost]:
    """:func:`measure` on the CPU."""
    return measure(cifar10, cifar100, profile, repair_steps=repair_steps, epoch_images=epoch_images)


def measure(
    cifar10,
    cifar100,
    profile,
    *,
    repair_steps: int = 40,
    epoch_images: int | None = None,
    device: str = "cpu",
    chains: int | None = None,
) -> dict[str, KindCost]:
    """Seconds and FLOPs per unit of every run kind, from short real runs on ``device``
    of this machine (the probe always on the CPU, where the book computes it).

    - ``lazarus-base``: 50 SGD steps of batch 64, scaled to an epoch of the training split;
    - ``lazarus-repair``: ``repair_steps`` steps of the book's repair (fused Adam, the
      teacher's logits precomputed as in the book);
    - ``sovereign-run``: the difference between APEX runs of 3 and 1 epochs at the
      profile's settings and its mean epoch size (``epoch_images`` overrides it), so
      the per-epoch validation and report count and the per-run set-up does not;
      with ``chains`` > 1, that many APEX seeds in lockstep, their chains stacked
      (:func:`plasticity.engine.sovereign_runs.evolve_many`), per chain; by default
      as the engine runs them on ``device`` (:data:`GPU_CHAINS` on a GPU, 1 on a CPU);
    - ``lazarus-inversion``: 5 steps of teacher inversion on 256 images, per image-step;
    - ``sovereign-probe``: the published extractor's probe for 5 epochs (features once).
    """
    from .. import sovereign
    from ..foundations.compute import check_device
    from . import bench

    dev = check_device(device)
    if chains is None:
        chains = GPU_CHAINS if dev.type == "cuda" else 1
    check_number("chains", chains, low=1, high=64, integer=True)
    check_number("repair_steps", repair_steps, low=1, integer=True)
    if epoch_images is not None:
        check_number("epoch_images", epoch_images, low=1, integer=True)
    out: dict[str, KindCost] = {}
    train_steps = 50
    work = bench.phase_work(cifar10, train_steps, repair_steps, device=dev)
    seconds, flops = _timed_and_counted(work["train"], device=dev)
    per_epoch = len(cifar10.train_y) / (64 * train_steps)
    out["lazarus-base"] = KindCost(
        "lazarus-base",
        "epoch",
        seconds * per_epoch,
        flops * per_epoch,
        len(cifar10.train_y) / 64,
        str(dev),
    )

    seconds, flops = _timed_and_counted(work["repair"], device=dev)
    out["lazarus-repair"] = KindCost(
        "lazarus-repair", "step", seconds / repair_steps, flops / repair_steps, 1.0, str(dev)
    )

    # teacher inversion: image-steps of the synthesis at its batch size, from a fresh net
    import torch

    from ..lazarus import StabilityCNN
    from ..lazarus.datafree import InversionConfig, invert

    inv = InversionConfig(pool=256, steps=5)
    torch.manual_seed(0)
    teacher = StabilityCNN(cifar10.num_classes).to(dev)
    seconds, flops = _timed_and_counted(lambda: invert(teacher, inv, 0), device=dev)
    units = inv.pool * inv.steps
    out["lazarus-inversion"] = KindCost(
        "lazarus-inversion",
        "image-step",
        seconds / units,
        flops / units,
        1 / inv.batch_size,
        str(dev),
    )

    # NeuroSovereign: the cost of one more epoch (1 vs 3 epochs, same size), at the mean
    # epoch size of the profile's curriculum, so the per-run set-up and final benchmark
    # drop out and the per-epoch validation and report stay in, at their real share
    base = sovereign.SovereignConfig(**profile.sovereign)
    data = sovereign.SovereignData.from_dataset(cifar100, base.val_size)
    available = len(data.train_y)
    sizes = [base.train_size(c, available) for c in range(1, base.cycles + 1)]
    size = epoch_images or round(sum(sizes) / len(sizes))

    def evolve(epochs: int):
        cfg = replace(base, cycles=1, epochs_per_cycle=epochs, curriculum=((1, size),), warmup=0)

        def go() -> None:
            with tempfile.TemporaryDirectory() as cache:
                # one chain alone trains as evolve() trains it
                jobs = [(data, cfg, seed, ("apex",)) for seed in range(chains)]
                sovereign_runs.evolve_many(jobs, batch=chains, cache_dir=cache, device=dev)

        return go

    t1, f1 = _timed_and_counted(evolve(1), warmup=False, device=dev)
    t3, f3 = _timed_and_counted(evolve(3), warmup=False, device=dev)
    per_unit = 1000 / min(size, available) / chains
    stacked = f" ({chains} chains stacked)" if chains > 1 else ""
    out["sovereign-run"] = KindCost(
        "sovereign-run",
        f"epoch per 1000 images and chain{stacked}",
        max(t3 - t1, 0.0) / 2 * per_unit,
        max(f3 - f1, 0.0) / 2 * per_unit,
        1000 / base.batch_size,
        str(dev),
    )

    probe_epochs = 5

    def probe() -> None:
        sovereign.frozen_extractor_ceiling(data, max_epochs=probe_epochs, patience=probe_epochs)

    seconds, flops = _timed_and_counted(probe)
    out["sovereign-probe"] = KindCost(
        "sovereign-probe",
        "epoch (cap)",
        seconds / probe_epochs,
        flops / probe_epochs,
        len(data.train_y) / 256,
    )

    # the seed's own script trains what a base model trains (its DataLoader's decoding,
    # not counted here, makes it slower on a CPU); a repair computed again is a repair
    base_epoch, repair_step = out["lazarus-base"], out["lazarus-repair"]
    out["lazarus-seed-recipe"] = replace(base_epoch, kind="lazarus-seed-recipe")
    out["lazarus-rerun"] = replace(repair_step, kind="lazarus-rerun")
    # the damage costs of a base model: the test set through the model and 8 damaged copies
    from ..data import Normalizer, to_tensor

    net = StabilityCNN(cifar10.num_classes).to(dev).eval()
    test = Normalizer()(to_tensor(cifar10.test_x).to(dev))

    def forward() -> None:
        with torch.no_grad():
            net(test)

    seconds, flops = _timed_and_counted(forward, device=dev)
    evaluations = 9
    out["lazarus-damage-costs"] = KindCost(
        "lazarus-damage-costs",
        "run",
        seconds * evaluations,
        flops * evaluations,
        evaluations * len(cifar10.test_y) / 1000,
        str(dev),
    )
    return out


def cost_table(
    runs,
    costs: dict[str, KindCost],
    *,
    tflops: float = GPU_TFLOPS,
    step_ms: float = GPU_STEP_MS,
    gpu_costs: dict[str, KindCost] | None = None,
) -> pd.DataFrame:
    """One row per run kind of ``runs`` (a plan, cached or not): runs, units, CPU
    seconds per unit (measured), CPU hours, GFLOP per unit, GPU hours: estimated from
    ``tflops`` and ``step_ms``, or, for the kinds in ``gpu_costs``, measured on that
    device (column ``gpu_measured``)."""
    check_number("gpu_tflops", tflops, low=0, low_inclusive=False)
    check_number("gpu_step_ms", step_ms, low=0)
    rows = []
    for kind in dict.fromkeys(r.kind for r in runs):
        if kind not in costs:
            raise KeyError(f"no measured cost for run kind {kind!r}; measured: {sorted(costs)}")
        mine = [r for r in runs if r.kind == kind]
        c = costs[kind]
        units = sum(r.units for r in mine)
        g = (gpu_costs or {}).get(kind)
        measured = g is not None and g.device != "cpu"
        per_unit = g.cpu_seconds if measured else c.gpu_seconds(tflops, step_ms)
        rows.append(
            {
                "kind": kind,
                "runs": len(mine),
                "unit": c.unit,
                "units": round(units, 1),
                "cpu_s_per_unit": round(c.cpu_seconds, 4),
                "cpu_hours": units * c.cpu_seconds / 3600,
                "gflop_per_unit": round(c.flops / 1e9, 2),
                "steps_per_unit": round(c.steps, 2),
                "gpu_s_per_unit": round(per_unit, 5),
                "gpu_hours": units * per_unit / 3600,
                "longest_gpu_hours": max(r.units for r in mine) * per_unit / 3600,
                "gpu_measured": measured,
            }
        )
    return pd.DataFrame(rows)


def wall_hours(
    runs, costs: dict[str, KindCost], gpus: int, gpu_costs: dict | None = None, **gpu
) -> float:
    """Wall time on ``gpus`` GPUs: stages in order; within one, the larger of its
    total over ``gpus`` and its longest run (measured GPU seconds where given)."""
    check_number("gpus", gpus, low=1, integer=True)

    def seconds(kind: str) -> float:
        g = (gpu_costs or {}).get(kind)
        if g is not None and g.device != "cpu":
            return g.cpu_seconds
        return costs[kind].gpu_seconds(**gpu)

    total = 0.0
    for order in sorted({r.order for r in runs}):
        stage = [r for r in runs if r.order == order]
        hours = [r.units * seconds(r.kind) / 3600 for r in stage]
        total += max(sum(hours) / gpus, max(hours))
    return total
