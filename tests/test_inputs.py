"""Repair inputs made from no image: coloured 1/f noise and dead leaves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from plasticity import lazarus


def _radial_slope(images: torch.Tensor) -> float:
    """Log-log slope of the mean amplitude spectrum against frequency (natural: about -1)."""
    gray = images.mean(1)
    amp = torch.fft.fft2(gray - gray.mean((1, 2), keepdim=True)).abs().mean(0)
    f = torch.sqrt(torch.fft.fftfreq(32).view(-1, 1) ** 2 + torch.fft.fftfreq(32).view(1, -1) ** 2)
    keep = (f > 0.05) & (f < 0.4)
    return float(np.polyfit(np.log(f[keep].numpy()), np.log(amp[keep].numpy()), 1)[0])


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["pink", "dead_leaves"])
def test_sources_are_images_in_range_and_reproducible(kind):
    x = lazarus.input_pixels(kind, 16, _gen())
    assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and float(x.std()) > 0.05
    assert torch.equal(x, lazarus.input_pixels(kind, 16, _gen()))
    assert not torch.equal(x, lazarus.input_pixels(kind, 16, _gen(1)))


def test_pink_noise_has_a_natural_spectrum_and_white_noise_does_not():
    assert _radial_slope(lazarus.input_pixels("pink", 64, _gen())) == pytest.approx(-1, abs=0.2)
    assert abs(_radial_slope(lazarus.input_pixels("gaussian", 64, _gen()))) < 0.2
    # the channels move together, as in natural images
    x = lazarus.input_pixels("pink", 64, _gen())
    r, g = x[:, 0].flatten(), x[:, 1].flatten()
    assert float(torch.corrcoef(torch.stack([r, g]))[0, 1]) > 0.6


def test_dead_leaves_are_flat_regions_with_occlusion_edges_at_every_scale():
    x = lazarus.input_pixels("dead_leaves", 64, _gen())
    same = (x[..., 1:] == x[..., :-1]).all(1).float().mean()
    assert float(same) > 0.5  # piecewise constant: most neighbours share a disc
    colours = [len(torch.unique(img.flatten(1), dim=1).T) for img in x[:8]]
    assert min(colours) >= 5  # many discs visible, not one flat colour
    assert _radial_slope(x) < -0.8  # occlusions at every scale: a natural-like falloff


@pytest.mark.parametrize("kind", ["pink", "dead_leaves"])
def test_a_repair_accepts_them_and_an_unknown_source_is_refused(kind):
    assert lazarus.RepairConfig(inputs=kind).inputs == kind
    with pytest.raises(ValueError, match="inputs"):
        lazarus.RepairConfig(inputs="imagenet")
