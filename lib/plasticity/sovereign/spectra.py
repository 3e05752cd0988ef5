"""The spectral terms: the entropy of a weight's singular values (L_opt), its effective
rank, and L_mon.

Two routes give the singular values: ``svd`` (:func:`torch.linalg.svdvals`, the
reference) and ``gram`` (the eigenvalues of the smaller Gram matrix ``W Wᵀ`` in float64,
singular values as their square roots, with the exact gradient ``U diag(g) Vᵀ`` of
:class:`_GramSingularValues`). Both are exact to float rounding; which one is faster
depends on the device (``bench peak`` times both). Neither reads a value back to the
host inside a training step: :func:`spectral_loss` returns tensors only.
"""

from __future__ import annotations

import torch

from .model import SovereignNet

#: How the training step computes singular values (``gram`` or ``svd``).
SPECTRAL_METHODS = ("gram", "svd")
#: Singular values below this fraction of the largest count as zero in the ``gram``
#: route: their squares sit near float64's resolution of the Gram matrix, their
#: directions are not determined, and their share of the entropy is below 1e-5.
GRAM_ZERO = 1e-6


class _GramSingularValues(torch.autograd.Function):
    """Singular values of ``w`` (descending, as :func:`torch.linalg.svdvals`) from the
    eigen-decomposition of the smaller Gram matrix in float64; the backward pass is
    ``U diag(g) Vᵀ`` with ``V = Wᵀ U / s`` (singular values under :data:`GRAM_ZERO`
    of the largest contribute no direction)."""

    @staticmethod
    def forward(ctx, w: torch.Tensor) -> torch.Tensor:
        wide = w.shape[-2] <= w.shape[-1]
        a = (w if wide else w.mT).double()
        lam, u = torch.linalg.eigh(a @ a.mT)  # ascending
        s = lam.clamp_min(0).sqrt()
        ctx.save_for_backward(a, u, s)
        ctx.wide, ctx.dtype = wide, w.dtype
        return s.flip(-1).to(w.dtype)

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor) -> torch.Tensor:
        a, u, s = ctx.saved_tensors
        g = grad_s.flip(-1).double()
        live = s > GRAM_ZERO * s[..., -1:]
        scale = torch.where(live, g / torch.where(live, s, torch.ones_like(s)), 0.0)
        grad = (u * scale.unsqueeze(-2)) @ (u.mT @ a)
        return (grad if ctx.wide else grad.mT).to(ctx.dtype)


def singular_values(weight: torch.Tensor, method: str = "gram") -> torch.Tensor:
    """The singular values of ``weight`` in descending order, with their gradient."""
    if method == "gram":
        return _GramSingularValues.apply(weight.float())
    if method == "svd":
        return torch.linalg.svdvals(weight.float())
    raise ValueError(f"method={method!r}; choose one of {', '.join(SPECTRAL_METHODS)}")


def spectral_loss(
    weight: torch.Tensor, method: str = "gram"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``L_opt(W) = |H(S_norm) - log(rank_eff + 1)|`` with the published definitions,
    as three tensors on the weight's device (L_opt, H, rank_eff): nothing is read back.

    ``S_norm`` = singular values divided by their sum; ``H`` its entropy (nats);
    ``rank_eff`` = the number of singular values above 5 % of the largest (a hard
    count, so the gradient flows through ``H`` only). A stack of matrices
    (``(..., m, n)``) gives one value per matrix.
    """
    s = singular_values(weight, method)
    p = s / s.sum(-1, keepdim=True).clamp_min(1e-12)
    entropy = -(p * torch.log(p + 1e-12)).sum(-1)
    rank = (s > 0.05 * s.amax(-1, keepdim=True)).sum(-1)
    return (entropy - torch.log1p(rank.to(entropy.dtype))).abs(), entropy, rank


def spectral_terms(weight: torch.Tensor, method: str = "svd") -> tuple[torch.Tensor, float, int]:
    """:func:`spectral_loss` with H and rank_eff read back as numbers (for reports once
    an epoch, not for a training step). Returns (L_opt, H, rank_eff)."""
    loss, entropy, rank = spectral_loss(weight, method)
    return loss, float(entropy.detach()), int(rank)


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


__all__ = [
    "GRAM_ZERO",
    "SPECTRAL_METHODS",
    "l_mon",
    "singular_values",
    "spectral_loss",
    "spectral_terms",
    "spectral_weights",
]
