"""What every run shares: seeding, the default device, parameter counts."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn

from .checks import check_number


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch."""
    check_number("seed", seed, low=0, integer=True)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """``$PLASTICITY_DEVICE`` if set, else CUDA when available, else CPU."""
    wanted = os.environ.get("PLASTICITY_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts per tensor name, plus ``total``."""
    counts = {name: p.numel() for name, p in model.named_parameters()}
    counts["total"] = sum(counts.values())
    return counts
