"""The NeuroSovereign networks: patch extractor, gated token mixer, taxonomic MLP, and
the APEX / BLIND nets built from them.
"""

from __future__ import annotations

import torch
from torch import nn

# --------------------------------------------------------------------------- NeuroSovereign


class GatedTokenMixer(nn.Module):
    """Token-mixing MLP with a sigmoid gate: ``x + sigmoid(G x) * T(x)``.

    ``T`` mixes along the token axis (tokens -> 2 x tokens -> tokens, GELU), shared by
    all channels; the gate ``G`` is a per-token linear map over channels.
    """

    def __init__(self, tokens: int = 64, dim: int = 384, hidden: int = 128):
        super().__init__()
        self.token_mlp = nn.Sequential(
            nn.Linear(tokens, hidden), nn.GELU(), nn.Linear(hidden, tokens)
        )
        self.gate = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, tokens, dim)
        mixed = self.token_mlp(x.transpose(1, 2)).transpose(1, 2)
        return x + torch.sigmoid(self.gate(x)) * mixed


class PatchFeatureExtractor(nn.Module):
    """4x4 patches of a 32x32 image -> 64 tokens of 384 dimensions -> (mixer) -> mean.

    The patch projection is a stride-4 convolution, initialised with a truncated
    normal (std 0.02) as published. ``mixer=True`` adds a :class:`GatedTokenMixer`.
    """

    def __init__(self, dim: int = 384, patch: int = 4, image: int = 32, mixer: bool = True):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        nn.init.trunc_normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)
        self.tokens = (image // patch) ** 2
        self.mixer = GatedTokenMixer(self.tokens, dim) if mixer else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)  # (B, 64, 384)
        if self.mixer is not None:
            tokens = self.mixer(tokens)
        return tokens.mean(dim=1)


class TaxonomicMLP(nn.Module):
    """384 -> 256 (ReLU) -> fine head (100) and coarse head (20), no biases.

    Each weight is multiplied by a mask buffer (all ones until masks are set), so a
    pruned weight contributes nothing and receives no gradient.
    """

    LAYERS = ("fc1", "fc2", "fc_super")

    def __init__(self, dim: int = 384, hidden: int = 256, fine: int = 100, coarse: int = 20):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, fine, bias=False)
        self.fc_super = nn.Linear(hidden, coarse, bias=False)
        for name in self.LAYERS:
            layer = getattr(self, name)
            nn.init.normal_(layer.weight, std=0.02)
            self.register_buffer(f"mask_{name}", torch.ones_like(layer.weight))

    def masked(self, name: str) -> torch.Tensor:
        return getattr(self, name).weight * getattr(self, f"mask_{name}")

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.relu(nn.functional.linear(features, self.masked("fc1")))
        return (
            nn.functional.linear(hidden, self.masked("fc2")),
            nn.functional.linear(hidden, self.masked("fc_super")),
        )


class SovereignNet(nn.Module):
    """APEX (``mixer=True``, extractor trained end to end) or BLIND (no mixer,
    ``train_extractor=False``: the MLP on a frozen random patch projection)."""

    def __init__(self, mixer: bool, train_extractor: bool):
        super().__init__()
        self.extractor = PatchFeatureExtractor(mixer=mixer)
        self.mlp = TaxonomicMLP()
        self.train_extractor = train_extractor
        if not train_extractor:
            for p in self.extractor.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.train_extractor:
            return self.mlp(self.extractor(x))
        with torch.no_grad():
            features = self.extractor(x)
        return self.mlp(features)
