"""Chapter 11's probe: a linear read-out trained to convergence on a frozen random extractor."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data import Normalizer
from ..foundations.checks import check_number
from .model import SovereignNet
from .split import SovereignData

# ----------------------------------------------------------------- published simplification


@torch.no_grad()
def _features(extractor, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    normalize = Normalizer()
    extractor.eval()
    return torch.cat([extractor(normalize(x[i : i + batch])) for i in range(0, len(x), batch)])


def frozen_extractor_ceiling(
    data: SovereignData,
    max_epochs: int = 200,
    seed: int = 0,
    lr: float = 0.005,
    batch_size: int = 256,
    patience: int = 10,
    whiten: bool = True,
) -> dict:
    """Train the taxonomic MLP on a frozen random patch projection with mean pooling
    (the published code's extractor, no mixer) until validation accuracy stops rising.

    The features are computed once (the extractor is frozen and there is no
    augmentation), so many epochs are cheap. With ``whiten`` they are standardised per
    dimension with the training split's mean and std (a better-conditioned problem for
    the same linear information). Training stops after ``patience`` epochs without a
    better validation accuracy (or at ``max_epochs``); the MLP of the best validation
    epoch is the one tested. Returns the feature rank, the per-epoch history, whether
    early stopping ended the run (``converged``) and the test accuracies.
    """
    check_number("max_epochs", max_epochs, low=1, integer=True)
    check_number("patience", patience, low=1, integer=True)
    torch.manual_seed(seed)
    net = SovereignNet(mixer=False, train_extractor=False)
    feats = {
        k: _features(net.extractor, x)
        for k, x in (("train", data.train_x), ("val", data.val_x), ("test", data.test_x))
    }
    centred = feats["train"][:5000] - feats["train"][:5000].mean(0)
    sv = torch.linalg.svdvals(centred.double())
    rank = int((sv > sv[0] * 1e-6).sum())
    if whiten:
        mean, std = feats["train"].mean(0), feats["train"].std(0).clamp_min(1e-8)
        feats = {k: (f - mean) / std for k, f in feats.items()}
    opt = torch.optim.AdamW(net.mlp.parameters(), lr=lr, weight_decay=0.01)
    y, c = data.train_y, data.fine_to_coarse
    history = []
    g = torch.Generator().manual_seed(seed)
    best_val, best_state, since = -1.0, None, 0
    for epoch in range(max_epochs):
        net.mlp.train()
        order = torch.randperm(len(y), generator=g)
        hits = 0
        for i in range(0, len(y), batch_size):
            idx = order[i : i + batch_size]
            fine, coarse = net.mlp(feats["train"][idx])
            loss = F.cross_entropy(fine, y[idx]) + 0.15 * F.cross_entropy(coarse, c[y[idx]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits += int((fine.argmax(1) == y[idx]).sum())
        with torch.no_grad():
            val = float((net.mlp(feats["val"])[0].argmax(1) == data.val_y).float().mean() * 100)
        history.append({"epoch": epoch + 1, "train_acc": 100.0 * hits / len(y), "val_acc": val})
        if val > best_val:
            best_val, since = val, 0
            best_state = {k: v.clone() for k, v in net.mlp.state_dict().items()}
        else:
            since += 1
            if since >= patience:
                break
    net.mlp.load_state_dict(best_state)
    with torch.no_grad():
        fine, coarse = net.mlp(feats["test"])
    cy = c[data.test_y]
    return {
        "feature_rank": rank,
        "feature_dim": int(feats["train"].shape[1]),
        "history": history,
        "epochs": len(history),
        "best_epoch": int(max(history, key=lambda h: h["val_acc"])["epoch"]),
        "best_val": best_val,
        "converged": len(history) < max_epochs,
        "test_fine": float((fine.argmax(1) == data.test_y).float().mean() * 100),
        "test_coarse_head": float((coarse.argmax(1) == cy).float().mean() * 100),
        "test_coarse_from_fine": float((c[fine.argmax(1)] == cy).float().mean() * 100),
    }
