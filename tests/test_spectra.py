"""The spectral term's fast route (the Gram matrix's eigenvalues in float64, with the
exact gradient U diag(g) Vᵀ) against a float64 SVD reference: value and gradient, on
the shapes the training step uses, near-degenerate spectra and rank-deficient (masked)
matrices; and it reads nothing back to the host."""

from __future__ import annotations

import pytest
import torch
from plasticity.sovereign import spectra

SHAPES = [(256, 384), (64, 128), (128, 64), (20, 20)]


def _reference(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L_opt and its gradient from float64 svdvals."""
    w64 = w.detach().double().requires_grad_(True)
    s = torch.linalg.svdvals(w64)
    p = s / s.sum()
    h = -(p * torch.log(p + 1e-12)).sum()
    rank = (s > 0.05 * s.max()).sum()
    loss = (h - torch.log1p(rank.double())).abs()
    loss.backward()
    return loss.detach(), w64.grad


def _fast(w: torch.Tensor, method: str = "gram") -> tuple[torch.Tensor, torch.Tensor]:
    w = w.detach().clone().requires_grad_(True)
    loss = spectra.spectral_loss(w, method)[0]
    loss.backward()
    return loss.detach(), w.grad


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)) < rtol


@pytest.mark.parametrize("method", ["gram", "host"])
@pytest.mark.parametrize("shape", SHAPES)
def test_value_and_gradient_match_the_float64_svd(shape, method):
    torch.manual_seed(sum(shape))
    w = torch.randn(*shape) / shape[1] ** 0.5
    ref_loss, ref_grad = _reference(w)
    loss, grad = _fast(w, method)
    assert abs(float(loss) - float(ref_loss)) <= 1e-4 * abs(float(ref_loss))
    assert _close(grad, ref_grad)


def test_near_degenerate_singular_values():
    """Clusters of singular values equal to 1e-6: the eigenvectors inside a cluster are
    not unique, the gradient is."""
    torch.manual_seed(1)
    u, _ = torch.linalg.qr(torch.randn(64, 64, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(128, 64, dtype=torch.float64))
    s = torch.cat(
        [torch.full((20,), 1.0), 1.0 + 1e-6 * torch.arange(20), torch.linspace(0.2, 0.5, 24)]
    )
    w = (u * s.to(torch.float64)) @ v.T
    ref_loss, ref_grad = _reference(w.float())
    loss, grad = _fast(w.float())
    assert abs(float(loss) - float(ref_loss)) <= 1e-4 * abs(float(ref_loss))
    assert _close(grad, ref_grad)


def test_a_masked_rank_deficient_matrix_gives_the_same_gradient_on_its_weights():
    """fc1 with half its rows pruned has zero singular values; what reaches the weights
    through the mask is the same as the reference's."""
    torch.manual_seed(2)
    raw = torch.randn(256, 384) / 20
    mask = (torch.rand(256, 1) > 0.5).float().expand(256, 384)

    def through_mask(fn):
        r = (
            raw.clone().double().requires_grad_(True)
            if fn is None
            else raw.clone().requires_grad_(True)
        )
        w = r * mask.to(r.dtype)
        if fn is None:
            s = torch.linalg.svdvals(w)
            p = s / s.sum()
            h = -(p * torch.log(p + 1e-12)).sum()
            loss = (h - torch.log1p((s > 0.05 * s.max()).sum().double())).abs()
        else:
            loss = fn(w)
        loss.backward()
        return loss.detach(), r.grad

    ref_loss, ref_grad = through_mask(None)
    loss, grad = through_mask(lambda w: spectra.spectral_loss(w, "gram")[0])
    assert abs(float(loss) - float(ref_loss)) <= 1e-4 * abs(float(ref_loss))
    assert _close(grad, ref_grad)
    assert torch.isfinite(grad).all()


def test_the_svd_route_is_the_reference_and_both_agree_on_h_and_rank():
    torch.manual_seed(3)
    w = torch.randn(64, 128)
    for method in spectra.SPECTRAL_METHODS:
        loss, h, rank = spectra.spectral_loss(w, method)
        assert isinstance(rank, torch.Tensor) and isinstance(h, torch.Tensor)
    a, b = spectra.spectral_loss(w, "gram"), spectra.spectral_loss(w, "svd")
    assert int(a[2]) == int(b[2]) and float(a[1]) == pytest.approx(float(b[1]), rel=1e-5)
    with pytest.raises(ValueError, match="method='qr'"):
        spectra.spectral_loss(w, "qr")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_training_step_term_reads_nothing_back_on_cuda():
    w = torch.randn(256, 384, device="cuda", requires_grad=True)
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss = spectra.spectral_loss(w, "gram")[0]
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert w.grad is not None


def test_the_gram_route_is_opt_in_and_keyed_separately():
    from dataclasses import replace

    from plasticity.engine import sovereign_runs
    from plasticity.sovereign import SovereignConfig

    base = SovereignConfig(cycles=1, epochs_per_cycle=1)
    assert base.spectral_method == "svd"
    gram = replace(base, spectral_method="gram")
    host = replace(base, spectral_method="host")
    keys = {sovereign_runs.run_key(c, 0, "fp") for c in (base, gram, host)}
    assert len(keys) == 3
    with pytest.raises(Exception, match="spectral_method"):
        replace(base, spectral_method="eig")


def test_a_training_cycle_on_the_gram_route_follows_the_reference_closely():
    """One epoch of APEX on either route from the same start: the same numbers to the
    tolerance that float rounding over a hundred Adam steps allows."""
    from dataclasses import replace

    from plasticity import data, sovereign

    config = sovereign.SovereignConfig(
        cycles=1,
        epochs_per_cycle=1,
        curriculum=((1, 300),),
        warmup=0,
        window=2,
        val_size=100,
        report_test_size=100,
    )
    split = sovereign.SovereignData.from_dataset(data.synthetic_dataset("cifar100", 400, 100), 100)
    logs = {}
    for method in ("svd", "gram"):
        net = sovereign.build_chains(replace(config, spectral_method=method), 0, ("apex",))["apex"]
        logs[method] = sovereign.train_cycle(
            net, replace(config, spectral_method=method), split, 1, 0, 7, "apex"
        )[-1]
    assert logs["gram"]["l_opt_total"] == pytest.approx(logs["svd"]["l_opt_total"], rel=1e-3)
    assert logs["gram"]["train_loss"] == pytest.approx(logs["svd"]["train_loss"], rel=1e-3)


def test_bench_spectral_prints_both_routes_and_refuses_an_absent_device(capsys):
    from plasticity.cli import main

    assert main(["bench", "spectral", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("fc1", "token_mlp.0", "token_mlp.2"):
        assert f"{name}" in out
    rows = [line for line in out.splitlines() if " ms" in line and "x" in line.split()[1]]
    assert sorted(line.split()[2] for line in rows) == ["gram"] * 3 + ["host"] * 3 + ["svd"] * 3
    assert "per APEX step: svd" in out
    assert main(["bench", "spectral", "--device", "meta"]) == 2
    assert "device='meta'" in capsys.readouterr().err


def test_the_overlapped_host_route_gives_the_gram_route_s_values_and_gradients():
    """HostSpectra (decomposed on a worker thread, gradient formed by hand) against
    autograd through the Gram route, on a stack with a masked, rank-deficient member
    and on a tall matrix."""
    torch.manual_seed(4)
    wide = torch.randn(3, 64, 96) / 10
    wide[1, 32:] = 0  # half the rows pruned
    tall = torch.randn(3, 96, 64) / 10
    pending = spectra.HostSpectra([wide, tall])
    total, grads = pending.finish(weight=0.05)
    ref_total = 0.0
    for w, grad in zip((wide, tall), grads, strict=True):
        leaf = w.clone().requires_grad_(True)
        loss = spectra.spectral_loss(leaf, "gram")[0]
        (0.05 * loss.sum()).backward()
        ref_total = ref_total + loss.detach()
        assert grad.shape == w.shape
        assert _close(grad, leaf.grad)
    assert torch.allclose(total, ref_total, rtol=1e-5)
