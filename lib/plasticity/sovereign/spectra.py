"""The spectral terms: the entropy of a weight's singular values (L_opt), its effective
rank, and L_mon.
"""

from __future__ import annotations

import math

import torch

from .model import SovereignNet

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
