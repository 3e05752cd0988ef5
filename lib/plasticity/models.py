"""The networks of the book.

``StabilityCNN`` is the Lazarus base network exactly as published (two 3x3 conv
layers with ReLU and 2x2 max-pooling, then 4096 -> 256 -> 10; no BatchNorm, no
dropout, PyTorch default initialisation; 1,070,794 parameters).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


class StabilityCNN(nn.Module):
    """The Lazarus CIFAR-10 network (``research/lazarus_published_code.md`` section 1.1)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 8 * 8, 256)
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


def _effective(module: nn.Module, name: str) -> torch.Tensor:
    """``name`` as the module computes with it (``*_orig * *_mask`` while pruned)."""
    if hasattr(module, f"{name}_mask"):
        return getattr(module, f"{name}_orig").detach() * getattr(module, f"{name}_mask")
    return getattr(module, name).detach()


@torch.no_grad()
def inference_copy(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """A frozen copy of ``model`` for evaluation only.

    On CPU, a :class:`StabilityCNN` (pruning masks included) is traced, frozen and
    passed to ``torch.jit.optimize_for_inference``, which fuses each convolution
    with its ReLU in oneDNN: about 2x faster test-set passes, with logits equal to
    the eager model's to about 1e-7. Any other model or device gets the model itself.
    ``example`` is one input batch (any batch size works afterwards).
    """
    device = next(model.parameters()).device
    if device.type != "cpu" or not isinstance(model, StabilityCNN):
        return model
    plain = StabilityCNN(model.fc2.out_features)
    for name in ("conv1", "conv2", "fc1", "fc2"):
        source, target = getattr(model, name), getattr(plain, name)
        target.weight.copy_(_effective(source, "weight"))
        target.bias.copy_(_effective(source, "bias"))
    plain.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.freeze(torch.jit.trace(plain, example))
        return torch.jit.optimize_for_inference(traced)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts per tensor name, plus ``total``."""
    counts = {name: p.numel() for name, p in model.named_parameters()}
    counts["total"] = sum(counts.values())
    return counts


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
