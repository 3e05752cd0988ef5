"""The mechanisms of the cycle: hierarchical shock, magnitude masks and their warm-up or
gradual schedule, and phase detection (with its null rate).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..foundations.checks import check_number
from .config import SovereignConfig
from .model import TaxonomicMLP

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
