"""NeuroSovereign v15.4 as the paper describes it, built correctly.

* APEX = patch extractor + gated token mixer + taxonomic MLP, trained end to end;
  BLIND = the same MLP on a frozen random patch projection, no mixer. Both start
  from the same projection and MLP weights and get the same losses.
* Loss: fine CE + lambda_tax * coarse CE (official superclasses) + 0.05 * spectral
  ``L_opt`` on fc1 (and on the mixer's token-MLP layers for APEX) + L1 (1e-4) on the
  MLP weights during the mask warm-up.
* Hierarchical shock: lambda_tax = 0.7 for an epoch whenever the previous epoch's
  train - validation accuracy gap (points) exceeds ``shock_threshold``, else 0.15.
* Mask warm-up: no hard masks before global epoch ``warmup``; then magnitude masks
  at ``sparsity`` per layer, kept fixed; pruned weights stay exactly zero.
* Phase detection: Ratio = L_opt_total / L_mon; z against the mean and std of the
  previous ``window`` values (the current one excluded); SHIFTING if z > 1.5.
* Evolution: cycles; a child starts from the current alpha, trains one cycle, and
  replaces the alpha if its validation accuracy does not drop. One safetensors
  checkpoint per cycle; an interrupted run resumes at the last finished cycle and
  gives the same result as an uninterrupted one.

Validation accuracy comes from a split carved from train; the test set is only
evaluated for reporting.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from . import paths
from .data import Batches, ImageDataset, Normalizer, to_tensor
from .models import GatedTokenMixer, SovereignNet, TaxonomicMLP
from .profiles import ParameterError, check_choice, check_number
from .runs import cache_key

VERSION = "sovereign-v2"
MASK_MODES = ("warmup", "gradual", "none")
CHAINS = ("apex", "blind")
#: Every network the book trains: (has a mixer, extractor trained). ``apex`` takes its
#: mixer from the config (``mixer=False`` is the "no mixer" ablation);
#: ``blind_mixer`` is BLIND with a frozen random mixer, the control that separates
#: "a spatial non-linearity exists" from "the mixing is learned".
NETS = ("apex", "blind", "blind_mixer")
#: A fixed index per network for its data-order seed (independent of the chains run).
_NET_INDEX = {"apex": 0, "blind": 1, "blind_mixer": 2}


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
        check_number("warmup", self.warmup, low=0, integer=True)
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


# --------------------------------------------------------------------------- spectra


def spectral_terms(weight: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """``L_opt(W) = |H(S_norm) - log(rank_eff + 1)|`` with the published definitions.

    ``S_norm`` = singular values divided by their sum; ``H`` its entropy (nats);
    ``rank_eff`` = the number of singular values above 5 % of the largest (a hard
    count, so the gradient flows through ``H`` only). Returns (L_opt, H, rank_eff).
    """
    s = torch.linalg.svdvals(weight.float())
    p = s / s.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p + 1e-12)).sum()
    rank = int((s > 0.05 * s.max()).sum())
    return (entropy - math.log(rank + 1)).abs(), float(entropy.detach()), rank


def l_mon(weight: torch.Tensor) -> float:
    """The monitor ``L_mon = 1 / (L_opt + 0.3)`` (never part of the loss)."""
    with torch.no_grad():
        return 1.0 / (float(spectral_terms(weight)[0]) + 0.3)


def spectral_weights(net: SovereignNet) -> dict[str, torch.Tensor]:
    """The named matrices the spectral loss acts on: fc1, and the mixer's token MLP."""
    out = {"fc1": net.mlp.masked("fc1")}
    mixer = net.extractor.mixer
    if mixer is not None:
        out["token_mlp.0"] = mixer.token_mlp[0].weight
        out["token_mlp.2"] = mixer.token_mlp[2].weight
    return out


# --------------------------------------------------------------------------- shock, masks, phase


def shock_lambda(previous_gap: float | None, config: SovereignConfig) -> float:
    """lambda_tax for the coming epoch: shock if the previous epoch's gap exceeds the
    threshold (strictly), else the base weight; no shock without a previous epoch."""
    if config.shock and previous_gap is not None and previous_gap > config.shock_threshold:
        return config.lambda_shock
    return config.lambda_base


@torch.no_grad()
def set_magnitude_masks(mlp: TaxonomicMLP, sparsity: float) -> None:
    """Per layer, mask the ``sparsity`` fraction of smallest-magnitude weights (among
    all, so masks only grow) and zero them."""
    check_number("sparsity", sparsity, low=0, high=1, high_inclusive=False)
    for name in TaxonomicMLP.LAYERS:
        weight = getattr(mlp, name).weight
        mask = getattr(mlp, f"mask_{name}")
        k = int(round(sparsity * weight.numel()))
        new = torch.ones_like(mask)
        if k > 0:
            scores = (weight * mask).abs().flatten()
            new.view(-1)[torch.topk(scores, k, largest=False).indices] = 0.0
        mask.copy_(new * mask)
        weight.mul_(mask)


def gradual_sparsity(epoch: int, start: int, end: int, final: float) -> float:
    """Zhu & Gupta (2017) cubic schedule from 0 at ``start`` to ``final`` at ``end``."""
    if epoch < start:
        return 0.0
    if end <= start or epoch >= end:
        return final
    return final * (1.0 - (1.0 - (epoch - start) / (end - start)) ** 3)


def mask_sparsity(mlp: TaxonomicMLP) -> float:
    """Percent of masked-out MLP weights."""
    total = sum(getattr(mlp, f"mask_{n}").numel() for n in TaxonomicMLP.LAYERS)
    zeros = sum(int((getattr(mlp, f"mask_{n}") == 0).sum()) for n in TaxonomicMLP.LAYERS)
    return 100.0 * zeros / total


class PhaseDetector:
    """z-score of the topology ratio against the previous ``window`` values."""

    def __init__(self, window: int = 5, threshold: float = 1.5):
        self.window, self.threshold = window, threshold
        self.ratios: list[float] = []

    def update(self, ratio: float) -> tuple[float | None, str]:
        """Add this epoch's ratio; return (z, phase) with z computed *before* adding it."""
        previous = self.ratios[-self.window :]
        self.ratios.append(ratio)
        if len(previous) < self.window:
            return None, "INIT"
        mean, std = float(np.mean(previous)), float(np.std(previous))
        if std < 1e-12:
            z = 0.0 if abs(ratio - mean) < 1e-12 else math.inf
        else:
            z = abs(ratio - mean) / std
        return z, "SHIFTING" if z > self.threshold else "STABLE"


# --------------------------------------------------------------------------- data


@dataclass
class SovereignData:
    """CIFAR-100 split for the evolution: train (minus validation), val, test."""

    dataset: ImageDataset
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    fine_to_coarse: torch.Tensor

    @classmethod
    def from_dataset(cls, ds: ImageDataset, val_size: int) -> SovereignData:
        if ds.fine_to_coarse is None:
            raise ParameterError(f"dataset={ds.name!r} has no superclasses; use CIFAR-100")
        split = ds.with_validation(val_size)

        def labels(y):
            return torch.from_numpy(np.array(y, dtype=np.int64))

        return cls(
            ds,
            to_tensor(split.train_x),
            labels(split.train_y),
            to_tensor(split.val_x),
            labels(split.val_y),
            to_tensor(ds.test_x),
            labels(ds.test_y),
            torch.from_numpy(np.array(ds.fine_to_coarse, dtype=np.int64)),
        )


# --------------------------------------------------------------------------- training


def _seed_for(*parts: int) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


@torch.no_grad()
def evaluate_net(
    net: SovereignNet,
    x: torch.Tensor,
    y: torch.Tensor,
    fine_to_coarse: torch.Tensor,
    batch: int = 500,
) -> dict:
    """Fine accuracy, coarse-head accuracy and coarse accuracy of the fine predictions."""
    net.eval()
    device = next(net.parameters()).device
    normalize = Normalizer()
    fine_hits = coarse_hits = mapped_hits = 0
    for i in range(0, len(x), batch):
        fine, coarse = net(normalize(x[i : i + batch].to(device)))
        fine, coarse = fine.cpu(), coarse.cpu()
        yb = y[i : i + batch]
        cb = fine_to_coarse[yb]
        fine_hits += int((fine.argmax(1) == yb).sum())
        coarse_hits += int((coarse.argmax(1) == cb).sum())
        mapped_hits += int((fine_to_coarse[fine.argmax(1)] == cb).sum())
    n = len(x)
    return {
        "fine": 100.0 * fine_hits / n,
        "coarse_head": 100.0 * coarse_hits / n,
        "coarse_from_fine": 100.0 * mapped_hits / n,
    }


def build_net(name: str, config: SovereignConfig) -> SovereignNet:
    """An untrained network of kind ``name`` (see :data:`NETS`)."""
    check_choice("chain", name, NETS)
    if name == "apex":
        return SovereignNet(mixer=config.mixer, train_extractor=True)
    return SovereignNet(mixer=name == "blind_mixer", train_extractor=False)


def build_chains(
    config: SovereignConfig, seed: int, chains: tuple[str, ...] = CHAINS
) -> dict[str, SovereignNet]:
    """The networks of ``chains``, seed-paired: whatever the variant, the projection
    and the MLP come from one draw seeded by ``seed``, and every mixer from another;
    so APEX, its ablations and BLIND start from identical shared weights."""
    torch.manual_seed(seed)
    shared = SovereignNet(mixer=False, train_extractor=True)
    torch.manual_seed(_seed_for(seed, 11))
    mixer_init = GatedTokenMixer()
    nets = {}
    for name in chains:
        net = build_net(name, config)
        net.extractor.proj.load_state_dict(shared.extractor.proj.state_dict())
        net.mlp.load_state_dict(shared.mlp.state_dict())
        if net.extractor.mixer is not None:
            net.extractor.mixer.load_state_dict(mixer_init.state_dict())
        nets[name] = net
    return nets


def stratified_indices(labels: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """A fixed subset of ``size`` indices with (as nearly as possible) equal counts per
    class, drawn with ``seed``; the whole set when ``size`` covers it."""
    n = len(labels)
    if size >= n:
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    per, extra = divmod(size, len(classes))
    chosen = []
    for i, c in enumerate(classes.tolist()):
        idx = torch.nonzero(labels == c).flatten()
        take = min(len(idx), per + (1 if i < extra else 0))
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:take]])
    return torch.sort(torch.cat(chosen)).values


def _optimizer(net: SovereignNet, config: SovereignConfig, cycle: int):
    mixer = net.extractor.mixer
    mixer_params = {id(p) for p in mixer.parameters()} if mixer is not None else set()
    main = [p for p in net.parameters() if p.requires_grad and id(p) not in mixer_params]
    groups = [{"params": main, "lr": config.lr}]
    if mixer is not None and net.train_extractor:
        groups.append({"params": list(mixer.parameters()), "lr": config.mixer_lr})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay(cycle))


def train_cycle(
    net: SovereignNet,
    config: SovereignConfig,
    data: SovereignData,
    cycle: int,
    first_epoch: int,
    seed: int,
    chain: str,
    previous_gap: float | None = None,
) -> list[dict]:
    """Train ``net`` for one cycle in place; returns one log entry per epoch.

    ``previous_gap`` is the gap the first epoch's shock decision sees (the last
    epoch of the previous cycle when ``config.carry_gap``, else None).
    """
    n = config.train_size(cycle, len(data.train_y))
    order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(seed))
    subset = order[:n]
    device = next(net.parameters()).device
    batches = Batches(
        data.train_x[subset],
        data.train_y[subset],
        config.batch_size,
        seed=_seed_for(seed, cycle, _NET_INDEX[chain]),
        device=device,
    )
    fine_to_coarse = data.fine_to_coarse.to(device)
    opt = _optimizer(net, config, cycle)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs_per_cycle)
    clip_params = [p for p in net.parameters() if p.requires_grad]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    detector_state = getattr(net, "_phase", None)
    logs = []
    if not config.carry_gap:
        previous_gap = None
    for e in range(config.epochs_per_cycle):
        epoch = first_epoch + e
        lam = shock_lambda(previous_gap, config)
        if config.masks == "warmup" and epoch >= config.warmup and mask_sparsity(net.mlp) == 0:
            set_magnitude_masks(net.mlp, config.sparsity)
        elif config.masks == "gradual" and epoch >= config.warmup:
            target = gradual_sparsity(
                epoch, config.warmup, config.total_epochs - 1, config.sparsity
            )
            if target > mask_sparsity(net.mlp) / 100 + 1e-9:
                set_magnitude_masks(net.mlp, target)
        l1_on = config.l1 > 0 and epoch < config.warmup
        net.train()
        seen = 0
        # accuracy and loss sums stay on the device until the epoch ends (no per-step
        # host sync; float64, so the same numbers as Python floats would give)
        hits_t = torch.zeros((), dtype=torch.int64, device=device)
        loss_t = torch.zeros((), dtype=torch.float64, device=device)
        for xb, yb in batches.epoch(e):
            with autocast:
                fine, coarse = net(xb)
            fine, coarse = fine.float(), coarse.float()
            loss = F.cross_entropy(fine, yb)
            if lam > 0:
                loss = loss + lam * F.cross_entropy(coarse, fine_to_coarse[yb])
            if config.spectral_weight > 0:
                loss = loss + config.spectral_weight * sum(
                    spectral_terms(w)[0] for w in spectral_weights(net).values()
                )
            if l1_on:
                loss = loss + config.l1 * sum(
                    getattr(net.mlp, n).weight.abs().sum() for n in TaxonomicMLP.LAYERS
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clip_params, config.clip)
            opt.step()
            with torch.no_grad():
                for name in TaxonomicMLP.LAYERS:
                    getattr(net.mlp, name).weight.mul_(getattr(net.mlp, f"mask_{name}"))
            hits_t += (fine.argmax(1) == yb).sum()
            seen += len(yb)
            loss_t += loss.detach().double() * len(yb)
        sched.step()
        hits, loss_sum = int(hits_t), float(loss_t)
        train_acc = 100.0 * hits / seen
        val = evaluate_net(net, data.val_x, data.val_y, data.fine_to_coarse)
        gap = train_acc - val["fine"]
        with torch.no_grad():
            l_opt_total = float(sum(spectral_terms(w)[0] for w in spectral_weights(net).values()))
            monitor = l_mon(net.mlp.masked("fc1"))
        ratio = l_opt_total / monitor
        z, phase = detector_state.update(ratio) if detector_state is not None else (None, "INIT")
        logs.append(
            {
                "cycle": cycle,
                "epoch": epoch,
                "train_size": n,
                "lambda_tax": lam,
                "shock": lam == config.lambda_shock and config.lambda_shock != config.lambda_base,
                "train_loss": loss_sum / seen,
                "train_acc": train_acc,
                "val_acc": val["fine"],
                "val_coarse": val["coarse_head"],
                "gap": gap,
                "l_opt_total": l_opt_total,
                "l_mon": monitor,
                "ratio": ratio,
                "z": z,
                "phase": phase,
                "sparsity": mask_sparsity(net.mlp),
            }
        )
        previous_gap = gap
    return logs


# --------------------------------------------------------------------------- evolution


def _checkpoint_paths(run_dir: Path, cycle: int) -> tuple[Path, Path]:
    return run_dir / f"cycle_{cycle:02d}.safetensors", run_dir / f"cycle_{cycle:02d}.json"


def _save_checkpoint(run_dir: Path, cycle: int, alphas: dict, state: dict) -> None:
    """Tensors first, then the JSON (with the tensors' digest) as the commit marker."""
    tensors = {
        f"{chain}.{k}": v.detach().cpu().contiguous()
        for chain, net in alphas.items()
        for k, v in net.state_dict().items()
    }
    weights, meta = _checkpoint_paths(run_dir, cycle)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=run_dir)
    os.close(fd)
    save_file(tensors, tmp)
    os.replace(tmp, weights)
    state = {**state, "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=run_dir)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, meta)


def _load_checkpoint(run_dir: Path, cycle: int) -> tuple[dict, dict] | None:
    """The checkpoint after ``cycle``, or None if absent or unusable (with a warning)."""
    weights, meta = _checkpoint_paths(run_dir, cycle)
    if not meta.exists():
        return None
    try:
        state = json.loads(meta.read_text())
        if hashlib.sha256(weights.read_bytes()).hexdigest() != state["weights_sha256"]:
            raise ValueError("the weights do not match their recorded digest")
        tensors = load_file(str(weights))
        for key in ("cycle", "epochs", "cycles", "alpha_val"):
            state[key]  # noqa: B018 - a missing key makes the checkpoint unusable
        return tensors, state
    except Exception as exc:  # noqa: BLE001 - any defect means: use an earlier one
        warnings.warn(f"checkpoint {meta} is unusable ({exc}); not resuming from it", stacklevel=2)
        return None


def run_key(config: SovereignConfig, seed: int, fingerprint: str, chains=CHAINS) -> str:
    """The cache key of an evolution (its folder name under ``sovereign-run``)."""
    settings = asdict(config)
    if settings["precision"] == "fp32":
        del settings["precision"]  # the paper's precision: keys as before the option existed
    return cache_key(
        "sovereign-run",
        {
            "config": settings,
            "seed": seed,
            "fingerprint": fingerprint,
            "chains": list(chains),
        },
        VERSION,
    )


def run_dir_for(
    config: SovereignConfig,
    seed: int,
    data: SovereignData,
    cache_dir: str | os.PathLike | None = None,
    chains: tuple[str, ...] = CHAINS,
) -> Path:
    key = run_key(config, seed, data.dataset.fingerprint, chains)
    return paths.cache_dir(cache_dir) / "sovereign-run" / key


def _check_chains(chains) -> tuple[str, ...]:
    chains = tuple(chains)
    if not chains or len(set(chains)) != len(chains):
        raise ParameterError(f"chains={chains!r}: need one or more distinct names of {NETS}")
    for c in chains:
        check_choice("chain", c, NETS)
    return chains


def evolve(
    data: SovereignData,
    config: SovereignConfig,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
    stop_after_cycle: int | None = None,
    log: Callable[[str], None] | None = None,
    chains: tuple[str, ...] = CHAINS,
    device: str | torch.device | None = None,
) -> dict:
    """Run (or resume, or load) the evolution of ``chains``; returns the result dict.

    Each chain evolves independently (its own alpha, selection and phase detector),
    so an ablation can train APEX alone against a BLIND trained once. ``device``
    defaults to :func:`plasticity.train.default_device` (``PLASTICITY_DEVICE``).
    ``stop_after_cycle`` ends the run early after that cycle's checkpoint (to test
    resumption); the result is then marked incomplete and nothing final is cached.
    """
    from .train import default_device

    check_number("seed", seed, low=0, integer=True)
    chains = _check_chains(chains)
    device = torch.device(device) if device is not None else default_device()
    run_dir = run_dir_for(config, seed, data, cache_dir, chains)
    final = run_dir / "result.json"
    if final.is_file():
        try:
            return {**json.loads(final.read_text())["result"], "cached": True}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"{final} is unusable ({exc!r}); recomputing", stacklevel=2)
    run_dir.mkdir(parents=True, exist_ok=True)
    twin = _unshocked_twin(data, config, seed, cache_dir, chains)
    if twin is not None:
        _write_result(run_dir, config, seed, chains, device, twin)
        return {**twin, "cached": False}
    start = time.perf_counter()
    alphas = {k: v.to(device) for k, v in build_chains(config, seed, chains).items()}
    report_idx = stratified_indices(data.test_y, config.report_test_size, seed=0)
    latest = next(
        ((c, ckpt) for c in range(config.cycles, -1, -1) if (ckpt := _load_checkpoint(run_dir, c))),
        None,
    )
    if latest is not None:
        done, (tensors, state) = latest
        try:
            for chain, net in alphas.items():
                prefix = f"{chain}."
                net.load_state_dict(
                    {
                        k[len(prefix) :]: v.to(device)
                        for k, v in tensors.items()
                        if k.startswith(prefix)
                    }
                )
        except RuntimeError as exc:
            warnings.warn(
                f"checkpoint of cycle {done} does not fit ({exc}); restarting", stacklevel=2
            )
            alphas = {k: v.to(device) for k, v in build_chains(config, seed, chains).items()}
            latest = None
        else:
            if log:
                log(f"resuming after cycle {done}")
    if latest is None:
        state = {"cycle": 0, "epochs": [], "cycles": [], "alpha_val": {}}
        for chain, net in alphas.items():
            val = evaluate_net(net, data.val_x, data.val_y, data.fine_to_coarse)
            state["alpha_val"][chain] = val["fine"]
        state["cycles"].append(
            _cycle_report(0, alphas, data, dict.fromkeys(chains, True), state, report_idx)
        )
        _save_checkpoint(run_dir, 0, alphas, state)
    for cycle in range(state["cycle"] + 1, config.cycles + 1):
        accepted = {}
        for chain in chains:
            child = _copy_net(alphas[chain], config)
            child._phase = PhaseDetector(config.window, config.z_threshold)
            previous = [e for e in state["epochs"] if e["chain"] == chain]
            child._phase.ratios = [e["ratio"] for e in previous]
            first_epoch = (cycle - 1) * config.epochs_per_cycle
            logs = train_cycle(
                child,
                config,
                data,
                cycle,
                first_epoch,
                _seed_for(seed, cycle, 7),
                chain,
                previous_gap=previous[-1]["gap"] if previous else None,
            )
            del child._phase
            child_val = logs[-1]["val_acc"]
            accepted[chain] = child_val >= state["alpha_val"][chain]
            if accepted[chain]:
                alphas[chain] = child
                state["alpha_val"][chain] = child_val
            state["epochs"].extend({**e, "chain": chain} for e in logs)
        state["cycle"] = cycle
        state["cycles"].append(_cycle_report(cycle, alphas, data, accepted, state, report_idx))
        _save_checkpoint(run_dir, cycle, alphas, state)
        if log:
            r = state["cycles"][-1]
            accs = ", ".join(f"{c} {r[f'{c}_fine']:.2f} %" for c in chains)
            log(
                f"cycle {cycle}/{config.cycles}: {accs} (test), {time.perf_counter() - start:.0f} s"
            )
        if stop_after_cycle is not None and cycle >= stop_after_cycle and cycle < config.cycles:
            return {**_result(state, alphas, data, config), "complete": False, "cached": False}
    result = {
        **_result(state, alphas, data, config),
        "complete": True,
        "seconds": time.perf_counter() - start,
    }
    _write_result(run_dir, config, seed, chains, device, result)
    return {**result, "cached": False}


def _write_result(run_dir: Path, config, seed: int, chains, device, result: dict) -> None:
    payload = {
        "format": 1,
        "kind": "sovereign-run",
        "version": VERSION,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "config": asdict(config),
        "seed": seed,
        "chains": list(chains),
        "device": str(device),
        "result": result,
    }
    fd, tmp = tempfile.mkstemp(prefix=".result-", dir=run_dir)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, run_dir / "result.json")


def _unshocked_twin(data, config, seed, cache_dir, chains) -> dict | None:
    """For a run without the shock: the cached result of the same run with the shock,
    if the shock never fired there. The two runs are then the same computation (the
    shock switch changes nothing but lambda on shock epochs, and draws nothing), so
    the result is reused, marked ``same_as_shock_run``, instead of trained again."""
    if config.shock:
        return None
    twin_dir = run_dir_for(replace(config, shock=True), seed, data, cache_dir, chains)
    try:
        twin = json.loads((twin_dir / "result.json").read_text())["result"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not twin.get("complete") or any(twin.get("shock_epochs", {1: 1}).values()):
        return None
    return {**twin, "same_as_shock_run": twin_dir.name}


def _copy_net(net: SovereignNet, config: SovereignConfig) -> SovereignNet:
    child = SovereignNet(mixer=net.extractor.mixer is not None, train_extractor=net.train_extractor)
    child.load_state_dict(net.state_dict())
    return child.to(next(net.parameters()).device)


def _cycle_report(
    cycle: int,
    alphas: dict,
    data: SovereignData,
    accepted: dict,
    state: dict,
    report_idx: torch.Tensor,
) -> dict:
    """Test-set metrics of the alphas after a cycle (reporting only), on the fixed
    class-stratified subset ``report_idx`` of the test set."""
    out = {"cycle": cycle, "report_images": len(report_idx)}
    x, y = data.test_x[report_idx], data.test_y[report_idx]
    for chain, net in alphas.items():
        m = evaluate_net(net, x, y, data.fine_to_coarse)
        out[f"{chain}_fine"] = m["fine"]
        out[f"{chain}_coarse_head"] = m["coarse_head"]
        out[f"{chain}_coarse_from_fine"] = m["coarse_from_fine"]
        out[f"{chain}_val"] = state["alpha_val"][chain]
        out[f"{chain}_accepted"] = bool(accepted[chain])
        out[f"{chain}_sparsity"] = mask_sparsity(net.mlp)
    if "apex" in alphas and "blind" in alphas:
        out["d_struct"] = out["apex_fine"] - out["blind_fine"]
        out["d_hier"] = out["apex_coarse_head"] - out["blind_coarse_head"]
    return out


def _result(state: dict, alphas: dict, data: SovereignData, config: SovereignConfig) -> dict:
    epochs = state["epochs"]
    phases = {
        chain: {
            p: sum(1 for e in epochs if e["chain"] == chain and e["phase"] == p)
            for p in ("INIT", "STABLE", "SHIFTING")
        }
        for chain in alphas
    }
    benchmark = {
        chain: evaluate_net(net, data.test_x, data.test_y, data.fine_to_coarse)
        for chain, net in alphas.items()
    }
    out = {
        "cycles": state["cycles"],
        "epochs": epochs,
        "phases": phases,
        "benchmark": benchmark,
        "sparsity": {chain: mask_sparsity(net.mlp) for chain, net in alphas.items()},
        "shock_epochs": {
            chain: sum(1 for e in epochs if e["chain"] == chain and e["shock"]) for chain in alphas
        },
    }
    if "apex" in benchmark:
        out["mean_lambda_apex"] = float(
            np.mean(
                [e["lambda_tax"] for e in epochs if e["chain"] == "apex"] or [config.lambda_base]
            )
        )
    if "apex" in benchmark and "blind" in benchmark:
        out["d_struct"] = benchmark["apex"]["fine"] - benchmark["blind"]["fine"]
        out["d_hier"] = benchmark["apex"]["coarse_head"] - benchmark["blind"]["coarse_head"]
    return out


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


def clear_run(
    config: SovereignConfig,
    seed: int,
    data: SovereignData,
    cache_dir: str | os.PathLike | None = None,
) -> None:
    """Delete a run's checkpoints and result."""
    shutil.rmtree(run_dir_for(config, seed, data, cache_dir), ignore_errors=True)


# ----------------------------------------------------------------- published simplification


@torch.no_grad()
def _features(extractor, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    normalize = Normalizer()
    extractor.eval()
    return torch.cat([extractor(normalize(x[i : i + batch])) for i in range(0, len(x), batch)])


def frozen_extractor_ceiling(
    data: SovereignData,
    max_epochs: int = 200,
    seed: int = 0,
    lr: float = 0.005,
    batch_size: int = 256,
    patience: int = 10,
    whiten: bool = True,
) -> dict:
    """Train the taxonomic MLP on a frozen random patch projection with mean pooling
    (the published code's extractor, no mixer) until validation accuracy stops rising.

    The features are computed once (the extractor is frozen and there is no
    augmentation), so many epochs are cheap. With ``whiten`` they are standardised per
    dimension with the training split's mean and std (a better-conditioned problem for
    the same linear information). Training stops after ``patience`` epochs without a
    better validation accuracy (or at ``max_epochs``); the MLP of the best validation
    epoch is the one tested. Returns the feature rank, the per-epoch history, whether
    early stopping ended the run (``converged``) and the test accuracies.
    """
    check_number("max_epochs", max_epochs, low=1, integer=True)
    check_number("patience", patience, low=1, integer=True)
    torch.manual_seed(seed)
    net = SovereignNet(mixer=False, train_extractor=False)
    feats = {
        k: _features(net.extractor, x)
        for k, x in (("train", data.train_x), ("val", data.val_x), ("test", data.test_x))
    }
    centred = feats["train"][:5000] - feats["train"][:5000].mean(0)
    sv = torch.linalg.svdvals(centred.double())
    rank = int((sv > sv[0] * 1e-6).sum())
    if whiten:
        mean, std = feats["train"].mean(0), feats["train"].std(0).clamp_min(1e-8)
        feats = {k: (f - mean) / std for k, f in feats.items()}
    opt = torch.optim.AdamW(net.mlp.parameters(), lr=lr, weight_decay=0.01)
    y, c = data.train_y, data.fine_to_coarse
    history = []
    g = torch.Generator().manual_seed(seed)
    best_val, best_state, since = -1.0, None, 0
    for epoch in range(max_epochs):
        net.mlp.train()
        order = torch.randperm(len(y), generator=g)
        hits = 0
        for i in range(0, len(y), batch_size):
            idx = order[i : i + batch_size]
            fine, coarse = net.mlp(feats["train"][idx])
            loss = F.cross_entropy(fine, y[idx]) + 0.15 * F.cross_entropy(coarse, c[y[idx]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits += int((fine.argmax(1) == y[idx]).sum())
        with torch.no_grad():
            val = float((net.mlp(feats["val"])[0].argmax(1) == data.val_y).float().mean() * 100)
        history.append({"epoch": epoch + 1, "train_acc": 100.0 * hits / len(y), "val_acc": val})
        if val > best_val:
            best_val, since = val, 0
            best_state = {k: v.clone() for k, v in net.mlp.state_dict().items()}
        else:
            since += 1
            if since >= patience:
                break
    net.mlp.load_state_dict(best_state)
    with torch.no_grad():
        fine, coarse = net.mlp(feats["test"])
    cy = c[data.test_y]
    return {
        "feature_rank": rank,
        "feature_dim": int(feats["train"].shape[1]),
        "history": history,
        "epochs": len(history),
        "best_epoch": int(max(history, key=lambda h: h["val_acc"])["epoch"]),
        "best_val": best_val,
        "converged": len(history) < max_epochs,
        "test_fine": float((fine.argmax(1) == data.test_y).float().mean() * 100),
        "test_coarse_head": float((coarse.argmax(1) == cy).float().mean() * 100),
        "test_coarse_from_fine": float((c[fine.argmax(1)] == cy).float().mean() * 100),
    }


def ceiling_config(fingerprint: str, val_size: int, **kwargs) -> dict:
    """What determines a probe of :func:`cached_ceiling`: its settings (defaults
    filled in), the data fingerprint and the validation split. Keyed as
    ``cache_key("sovereign-probe", ceiling_config(...), VERSION)``."""
    from inspect import signature

    settings = signature(frozen_extractor_ceiling).bind(None, **kwargs)
    settings.apply_defaults()
    config = {k: v for k, v in settings.arguments.items() if k != "data"}
    config.update(fingerprint=fingerprint, val_size=val_size)
    return config


def cached_ceiling(
    data: SovereignData,
    *,
    cache_dir: str | os.PathLike | None = None,
    **kwargs,
) -> dict:
    """:func:`frozen_extractor_ceiling`, train-or-load: cached per data fingerprint,
    validation split and settings, so a rerun of the chapter reads it back."""
    from .runs import train_or_load

    return train_or_load(
        "sovereign-probe",
        ceiling_config(data.dataset.fingerprint, len(data.val_y), **kwargs),
        lambda: ({}, frozen_extractor_ceiling(data, **kwargs)),
        version=VERSION,
        cache_dir=cache_dir,
    ).result


# ----------------------------------------------------------------- phase detection's null rate


def phase_shares(ratios, window: int = 5, threshold: float = 1.5) -> dict:
    """Run the detector over a series; the share of STABLE and SHIFTING among the
    epochs it classifies (the first ``window`` are INIT)."""
    det = PhaseDetector(window, threshold)
    phases = [det.update(float(r))[1] for r in ratios]
    judged = [p for p in phases if p != "INIT"]
    n = len(judged)
    stable = sum(p == "STABLE" for p in judged)
    return {
        "judged": n,
        "stable_pct": 100.0 * stable / n if n else math.nan,
        "shifting_pct": 100.0 * (n - stable) / n if n else math.nan,
    }


def phase_null(
    ratios, window: int = 5, threshold: float = 1.5, draws: int = 200, seed: int = 0
) -> dict:
    """The detector's STABLE share on series with no phase structure, for comparison
    with the observed share: the same values in random order (``shuffled``), and
    i.i.d. Gaussian values with the same mean and variance (``iid``); mean over
    ``draws`` series of the same length."""
    x = np.asarray(ratios, dtype=np.float64)
    rng = np.random.default_rng(seed)
    shuffled, iid = [], []
    for _ in range(draws):
        shuffled.append(phase_shares(rng.permutation(x), window, threshold)["stable_pct"])
        noise = rng.normal(x.mean(), x.std() if len(x) > 1 else 1.0, len(x))
        iid.append(phase_shares(noise, window, threshold)["stable_pct"])
    return {
        "observed_stable_pct": phase_shares(x, window, threshold)["stable_pct"],
        "shuffled_stable_pct": float(np.nanmean(shuffled)) if len(x) > window else math.nan,
        "iid_stable_pct": float(np.nanmean(iid)) if len(x) > window else math.nan,
    }
