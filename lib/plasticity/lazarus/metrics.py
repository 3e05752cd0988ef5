"""What the book measures of a repaired model.

* recovery % = (restored - damaged) / (original - damaged) x 100 (undefined, NaN, when
  the damage did not lower accuracy; the published code writes 0 there);
* agreement as published: the mean over test images of the summed squared logit
  difference to the original model (lower is closer), and top-1 agreement (%);
* mean predictive entropy in nats.
"""

from __future__ import annotations

import math

import torch


def recovery_pct(original: float, damaged: float, restored: float) -> float:
    """Share of the lost accuracy that came back, in percent; NaN if nothing was lost."""
    lost = original - damaged
    if lost <= 0:
        return math.nan
    return 100.0 * (restored - damaged) / lost


def agreement_mse(logits: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean per-image squared L2 distance between logit vectors (the published metric)."""
    return float(((logits.float() - reference.float()) ** 2).sum(dim=1).mean())


def top1_agreement(logits: torch.Tensor, reference: torch.Tensor) -> float:
    """Percentage of images on which both models predict the same class."""
    return float((logits.argmax(1) == reference.argmax(1)).float().mean() * 100.0)


def mean_entropy(logits: torch.Tensor) -> float:
    """Mean per-image predictive entropy in nats."""
    logp = torch.log_softmax(logits.float(), dim=1)
    return float(-(logp.exp() * logp).sum(dim=1).mean())
