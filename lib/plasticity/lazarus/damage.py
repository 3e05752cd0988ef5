"""Damage: relative weight noise and global magnitude pruning, as the Lazarus code does.

* :func:`add_relative_noise`: for every parameter tensor ``p`` (biases included), add a
  random unit-norm direction scaled to ``alpha * ||p||``; one seeded draw per tensor
  in registration order.
* :func:`magnitude_prune`: global L1 (magnitude) pruning over the weight tensors
  (``dim > 1``; biases kept) with ``torch.nn.utils.prune.global_unstructured``. In
  ``frozen`` mode the mask stays attached (``weight = weight_orig * weight_mask``), so
  pruned weights stay exactly zero through any optimiser; in ``regrow`` mode the mask is
  removed at once and the zeros are ordinary trainable values.
* :func:`regrowth`: how many pruned weights came back, measured honestly: the share
  that exceeds a stated magnitude, beside the published "non-zero" count.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.utils import prune

from ..foundations.checks import check_choice, check_number

PRUNE_MODES = ("frozen", "regrow")


@torch.no_grad()
def add_relative_noise(model: nn.Module, alpha: float, seed: int) -> nn.Module:
    """Add noise of Frobenius norm exactly ``alpha * ||p||`` to every parameter, in place."""
    check_number("alpha", alpha, low=0)
    check_number("seed", seed, low=0, integer=True)
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        z = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p)
        z /= z.norm().clamp_min(1e-12)
        p.add_(alpha * p.norm().clamp_min(1e-12) * z)
    return model


def noisy_copy(model: nn.Module, alpha: float, seed: int) -> nn.Module:
    """A damaged deep copy; the original is untouched."""
    check_number("alpha", alpha, low=0)
    return add_relative_noise(copy.deepcopy(model), alpha, seed)


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, "weight") for every weight tensor with more than one dimension
    (also while ``torch.nn.utils.prune`` re-parametrises it as ``weight_orig``)."""
    out = []
    for module in model.modules():
        w = getattr(module, "weight_orig", None)
        if w is None:
            w = getattr(module, "weight", None)
        if isinstance(w, nn.Parameter) and w.dim() > 1:
            out.append((module, "weight"))
    return out


def effective_weight(module: nn.Module) -> torch.Tensor:
    """The weight the module computes with: ``weight_orig * weight_mask`` while pruned."""
    if hasattr(module, "weight_mask"):
        return module.weight_orig.detach() * module.weight_mask
    return module.weight.detach()


def magnitude_prune(model: nn.Module, amount: float, mode: str = "frozen") -> dict:
    """Globally prune the smallest-magnitude fraction ``amount`` of the weights, in place.

    Returns the boolean keep-masks by parameter name and the pruning threshold (the
    smallest surviving magnitude). ``torch`` prunes ``round(amount * N)`` weights; the
    published code prunes ``floor(amount * N)``: at most one weight apart.
    """
    check_number("prune_amount", amount, low=0, high=1, high_inclusive=False)
    check_choice("prune_mode", mode, PRUNE_MODES)
    targets = prunable(model)
    names = {id(m): n for n, m in model.named_modules()}
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    masks = {f"{names[id(m)]}.weight": m.weight_mask.detach().bool().clone() for m, _ in targets}
    with torch.no_grad():
        kept = torch.cat([m.weight[m.weight_mask.bool()].abs().flatten() for m, _ in targets])
    threshold = float(kept.min()) if kept.numel() else 0.0
    if mode == "regrow":
        for module, name in targets:
            prune.remove(module, name)
    return {"masks": masks, "threshold": threshold, "amount": amount, "mode": mode}


def finalize(model: nn.Module) -> nn.Module:
    """Make pruning permanent (``weight = weight_orig * mask``) so the state dict is plain."""
    for module, name in prunable(model):
        if hasattr(module, f"{name}_mask"):
            prune.remove(module, name)
    return model


@torch.no_grad()
def weight_distance(model: nn.Module, original: nn.Module) -> float:
    """Relative distance of ``model``'s parameters from ``original``'s: the Euclidean norm
    of the difference over every parameter (the effective weight while pruned), divided by
    the norm of the original's."""
    diff = norm = 0.0
    mods = dict(original.named_modules())
    for name, module in model.named_modules():
        other = mods.get(name)
        if other is None:
            continue
        for pname, _ in list(module.named_parameters(recurse=False)):
            pname = pname.removesuffix("_orig")
            mine = effective_weight(module) if pname == "weight" else getattr(module, pname)
            theirs = effective_weight(other) if pname == "weight" else getattr(other, pname)
            mine, theirs = mine.detach().float().cpu(), theirs.detach().float().cpu()
            diff += float(((mine - theirs) ** 2).sum())
            norm += float((theirs**2).sum())
    return (diff / norm) ** 0.5 if norm else 0.0


@torch.no_grad()
def regrowth(
    model: nn.Module,
    masks: dict[str, torch.Tensor],
    threshold: float,
    original: nn.Module | None = None,
) -> dict:
    """How many pruned weights are non-zero, and how many exceed ``threshold`` in size.

    Adam's first step moves every weight that gets any gradient by about its learning
    rate, so "non-zero" (the published measure) counts nearly everything; the share
    above the pruning threshold says how many pruned weights grew back to the size of
    a surviving one. Quantiles of ``|w| / threshold`` over the pruned weights say how
    far the rest moved. With ``original`` (the undamaged model), ``norm_restored_pct``
    is the L2 norm of the pruned weights now as a share of their norm before pruning:
    the direct test of "the weights come back" (100 = back to full size), and
    ``cosine`` the cosine between the pruned weights now and before pruning: whether
    they grew back *towards* their old values. Its null, ``cosine_null``, is the same
    cosine for the same regrown magnitudes with random signs (one seeded draw; about
    0 for a drift that ignores the old weights), and ``cosine_null_sd`` that null's
    standard deviation over sign draws.
    """
    magnitudes, now, before = [], [], []
    for name, keep in masks.items():
        w = effective_weight(model.get_submodule(name.rsplit(".", 1)[0]))
        pruned = w[~keep.to(w.device)].flatten().detach().double().cpu()
        magnitudes.append(pruned.abs().float())
        if original is not None:
            w0 = original.get_parameter(name).detach()
            now.append(pruned)
            before.append(w0[~keep.to(w0.device)].flatten().double().cpu())
    values = torch.cat(magnitudes) if magnitudes else torch.zeros(0)
    cosine = cosine_null = cosine_null_sd = math.nan
    before_sq = 0.0
    if before:
        v, v0 = torch.cat(now), torch.cat(before)
        before_sq = float((v0**2).sum())
        scale = float(v.norm() * v0.norm())
        if scale > 0:
            gen = torch.Generator().manual_seed(0)
            signs = torch.randint(0, 2, v.shape, generator=gen, dtype=torch.int8).double() * 2 - 1
            cosine = float((v * v0).sum()) / scale
            cosine_null = float((signs * v * v0).sum()) / scale
            cosine_null_sd = float(((v * v0) ** 2).sum().sqrt()) / scale
    n = values.numel()
    share = 100.0 / n if n else 0.0
    ratio = values / threshold if threshold > 0 else values
    quantiles = (
        torch.quantile(
            ratio[: 2**24].double(), torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64)
        ).tolist()
        if n
        else [0.0, 0.0, 0.0]
    )
    return {
        "pruned_weights": n,
        "nonzero_pct": int((values != 0).sum()) * share,
        "above_threshold_pct": int((values > threshold).sum()) * share,
        "threshold": threshold,
        "median_ratio": quantiles[0],
        "p90_ratio": quantiles[1],
        "p99_ratio": quantiles[2],
        "norm_restored_pct": (
            100.0 * math.sqrt(float((values.double() ** 2).sum()) / before_sq)
            if original is not None and before_sq > 0
            else math.nan
        ),
        "cosine": cosine,
        "cosine_null": cosine_null,
        "cosine_null_sd": cosine_null_sd,
    }


def sparsity(model: nn.Module) -> float:
    """Percentage of exactly-zero entries over the prunable weight tensors."""
    total = zeros = 0
    for module, _ in prunable(model):
        w = effective_weight(module)
        total += w.numel()
        zeros += int((w == 0).sum())
    return 100.0 * zeros / total if total else 0.0
