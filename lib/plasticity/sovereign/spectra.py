"""The spectral terms: the entropy of a weight's singular values (L_opt), its effective
rank, and L_mon.

Three routes give the singular values: ``svd`` (:func:`torch.linalg.svdvals`, the
reference), ``gram`` (the eigenvalues of the smaller Gram matrix ``W Wᵀ`` in float64,
singular values as their square roots, with the exact gradient ``U diag(g) Vᵀ`` of
:class:`_GramSingularValues`) and ``host`` (the ``gram`` route with the
eigen-decomposition on the CPU, where LAPACK solves a 256 x 256 matrix faster than a
GPU's solver, which takes a stack of them one at a time). All are exact to float
rounding; which one is faster depends on the device (``bench spectral`` and ``bench
chains`` time them). ``svd`` and ``gram`` read nothing back to the host inside a
training step: :func:`spectral_loss` returns tensors only. ``host`` reads the Gram
matrices back by construction; :class:`HostSpectra` starts that copy and the CPU's
decomposition before the rest of a stacked step is queued on the GPU and collects them
after it, so the two overlap.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from .model import SovereignNet

#: How the training step computes singular values (``gram``, ``svd`` or ``host``).
SPECTRAL_METHODS = ("gram", "svd", "host")
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
        return _gram_gradient(a, u, s, grad_s, ctx.wide).to(ctx.dtype)


def _gram_gradient(
    a: torch.Tensor, u: torch.Tensor, s: torch.Tensor, grad_s: torch.Tensor, wide: bool
) -> torch.Tensor:
    """``U diag(g / s) Uᵀ A`` (float64): the gradient with respect to the matrix of a
    loss whose gradient with respect to its singular values (descending) is ``grad_s``,
    from the Gram matrix's eigenvectors ``u`` and singular values ``s`` (ascending);
    transposed back for a tall matrix."""
    g = grad_s.flip(-1).double()
    live = s > GRAM_ZERO * s[..., -1:]
    scale = torch.where(live, g / torch.where(live, s, torch.ones_like(s)), 0.0)
    grad = (u * scale.unsqueeze(-2)) @ (u.mT @ a)
    return grad if wide else grad.mT


def singular_values(weight: torch.Tensor, method: str = "gram") -> torch.Tensor:
    """The singular values of ``weight`` in descending order, with their gradient."""
    if method == "gram":
        return _GramSingularValues.apply(weight.float())
    if method == "svd":
        return torch.linalg.svdvals(weight.float())
    if method == "host":
        # the Gram route on the CPU, its values moved back (a host synchronisation on a
        # GPU; :class:`HostSpectra` overlaps it with the rest of a stacked step)
        return _GramSingularValues.apply(weight.float().cpu()).to(weight.device)
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
    return l_opt_of(singular_values(weight, method))


def l_opt_of(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_opt, H, rank_eff) of singular values ``s`` (descending, last axis)."""
    p = s / s.sum(-1, keepdim=True).clamp_min(1e-12)
    entropy = -(p * torch.log(p + 1e-12)).sum(-1)
    rank = (s > 0.05 * s.amax(-1, keepdim=True)).sum(-1)
    return (entropy - torch.log1p(rank.to(entropy.dtype))).abs(), entropy, rank


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spectra")
    return _POOL


class HostSpectra:
    """L_opt of (stacks of) matrices by the ``host`` route, in two halves around the rest
    of a training step. Made before the step's forward pass is queued: the Gram
    matrices are formed on the weights' device and copied to the host, and a worker
    thread decomposes them once they arrive (LAPACK, float64). :meth:`finish`, called
    after the step's backward pass has been queued, waits for the decompositions and
    returns each matrix's L_opt with its exact gradient ``U diag(g / s) Uᵀ A`` (the
    :class:`_GramSingularValues` gradient), the same value and gradient as
    ``spectral_loss(w, "gram")``."""

    def __init__(self, weights: list[torch.Tensor]):
        self.items = []
        with torch.no_grad():
            for w in weights:
                wide = w.shape[-2] <= w.shape[-1]
                a = (w if wide else w.mT).detach().double()
                gram = a @ a.mT
                host = torch.empty(gram.shape, dtype=gram.dtype, pin_memory=gram.is_cuda)
                host.copy_(gram, non_blocking=True)
                self.items.append((wide, a, host))
        event = None
        if any(w.is_cuda for w in weights):
            event = torch.cuda.Event()
            event.record()
        self.future = _pool().submit(_decompose, [h for _, _, h in self.items], event)

    def finish(self, weight: float = 1.0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(the sum of L_opt over the matrices, one value per stacked matrix; the
        gradient of ``weight`` x that sum with respect to each matrix)."""
        total, grads = 0.0, []
        for (wide, a, _), (lam, u) in zip(self.items, self.future.result(), strict=True):
            lam = lam.to(a.device, non_blocking=True)
            u = u.to(a.device, non_blocking=True)
            s = lam.clamp_min(0).sqrt()  # ascending, float64
            values = s.flip(-1).float().requires_grad_(True)
            with torch.enable_grad():
                loss = l_opt_of(values)[0]
                (g,) = torch.autograd.grad(loss.sum(), values)
            grads.append(_gram_gradient(a, u, s, g * weight, wide).float())
            total = total + loss.detach()
        return total, grads


def _decompose(hosts: list[torch.Tensor], event) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if event is not None:
        event.synchronize()  # the copies to the host have landed
    return [torch.linalg.eigh(h) for h in hosts]


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
    "HostSpectra",
    "l_opt_of",
    "SPECTRAL_METHODS",
    "l_mon",
    "singular_values",
    "spectral_loss",
    "spectral_terms",
    "spectral_weights",
]
