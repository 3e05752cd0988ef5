"""One evolutionary cycle: build the chains, train them for the cycle's epochs with the
shock, the masks and the spectral losses, and report.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from ..data import Batches, Normalizer
from ..foundations.checks import ParameterError, check_choice
from .config import CHAINS, NET_INDEX, NETS, SovereignConfig
from .mechanisms import gradual_sparsity, mask_sparsity, set_magnitude_masks, shock_lambda
from .model import GatedTokenMixer, SovereignNet, TaxonomicMLP
from .spectra import l_mon, spectral_loss, spectral_terms, spectral_weights
from .split import SovereignData

# --------------------------------------------------------------------------- training


def seed_for(*parts: int) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


@torch.no_grad()
def evaluate_net(
    net: SovereignNet,
    x: torch.Tensor,
    y: torch.Tensor,
    fine_to_coarse: torch.Tensor,
    batch: int = 500,
) -> dict:
    """Fine accuracy, coarse-head accuracy and coarse accuracy of the fine predictions."""
    net.eval()
    device = next(net.parameters()).device
    normalize = Normalizer()
    to_coarse = fine_to_coarse.to(device)
    # the counts stay on the device until the pass ends (one host sync, not three a batch)
    hits = torch.zeros(3, dtype=torch.int64, device=device)
    with torch.no_grad():
        for i in range(0, len(x), batch):
            fine, coarse = net(normalize(x[i : i + batch].to(device)))
            yb = y[i : i + batch].to(device)
            cb = to_coarse[yb]
            predicted = fine.argmax(1)
            hits[0] += (predicted == yb).sum()
            hits[1] += (coarse.argmax(1) == cb).sum()
            hits[2] += (to_coarse[predicted] == cb).sum()
    fine_hits, coarse_hits, mapped_hits = hits.tolist()
    n = len(x)
    return {
        "fine": 100.0 * fine_hits / n,
        "coarse_head": 100.0 * coarse_hits / n,
        "coarse_from_fine": 100.0 * mapped_hits / n,
    }


def build_net(name: str, config: SovereignConfig) -> SovereignNet:
    """An untrained network of kind ``name`` (see :data:`NETS`)."""
    check_choice("chain", name, NETS)
    if name == "apex":
        return SovereignNet(mixer=config.mixer, train_extractor=True)
    return SovereignNet(mixer=name == "blind_mixer", train_extractor=False)


def build_chains(
    config: SovereignConfig, seed: int, chains: tuple[str, ...] = CHAINS
) -> dict[str, SovereignNet]:
    """The networks of ``chains``, seed-paired: whatever the variant, the projection
    and the MLP come from one draw seeded by ``seed``, and every mixer from another;
    so APEX, its ablations and BLIND start from identical shared weights."""
    torch.manual_seed(seed)
    shared = SovereignNet(mixer=False, train_extractor=True)
    torch.manual_seed(seed_for(seed, 11))
    mixer_init = GatedTokenMixer()
    nets = {}
    for name in chains:
        net = build_net(name, config)
        net.extractor.proj.load_state_dict(shared.extractor.proj.state_dict())
        net.mlp.load_state_dict(shared.mlp.state_dict())
        if net.extractor.mixer is not None:
            net.extractor.mixer.load_state_dict(mixer_init.state_dict())
        nets[name] = net
    return nets


def _optimizer(net: SovereignNet, config: SovereignConfig, cycle: int):
    mixer = net.extractor.mixer
    mixer_params = {id(p) for p in mixer.parameters()} if mixer is not None else set()
    main = [p for p in net.parameters() if p.requires_grad and id(p) not in mixer_params]
    groups = [{"params": main, "lr": config.lr}]
    if mixer is not None and net.train_extractor:
        groups.append({"params": list(mixer.parameters()), "lr": config.mixer_lr})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay(cycle))


def cycle_batches(
    config: SovereignConfig, data: SovereignData, cycle: int, seed: int, chain: str, device
) -> tuple[int, Batches]:
    """The cycle's training images (``train_size`` of them, a subset drawn with
    ``seed``) and their batches (shuffled per epoch with a seed of the chain's own)."""
    n = config.train_size(cycle, len(data.train_y))
    order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(seed))
    subset = order[:n]
    batches = Batches(
        data.train_x[subset],
        data.train_y[subset],
        config.batch_size,
        seed=seed_for(seed, cycle, NET_INDEX[chain]),
        device=device,
    )
    return n, batches


def epoch_setup(
    net: SovereignNet, config: SovereignConfig, epoch: int, previous_gap: float | None
) -> tuple[float, bool]:
    """Before ``epoch``: set the masks its schedule asks for; returns (lambda_tax, L1 on)."""
    lam = shock_lambda(previous_gap, config)
    if config.masks == "warmup" and epoch >= config.warmup and mask_sparsity(net.mlp) == 0:
        set_magnitude_masks(net.mlp, config.sparsity)
    elif config.masks == "gradual" and epoch >= config.warmup:
        target = gradual_sparsity(epoch, config.warmup, config.total_epochs - 1, config.sparsity)
        if target > mask_sparsity(net.mlp) / 100 + 1e-9:
            set_magnitude_masks(net.mlp, target)
    return lam, config.l1_active(epoch)


def epoch_log(
    net: SovereignNet,
    config: SovereignConfig,
    data: SovereignData,
    cycle: int,
    epoch: int,
    n: int,
    lam: float,
    hits: int,
    seen: int,
    loss_sum: float,
) -> dict:
    """After ``epoch``: validation, spectra, the phase (from ``net._phase`` if set) and
    the epoch's log entry."""
    detector_state = getattr(net, "_phase", None)
    train_acc = 100.0 * hits / seen
    val = evaluate_net(net, data.val_x, data.val_y, data.fine_to_coarse)
    gap = train_acc - val["fine"]
    with torch.no_grad():
        l_opt_total = float(sum(spectral_terms(w)[0] for w in spectral_weights(net).values()))
        monitor = l_mon(net.mlp.masked("fc1"))
    ratio = l_opt_total / monitor
    z, phase = detector_state.update(ratio) if detector_state is not None else (None, "INIT")
    return {
        "cycle": cycle,
        "epoch": epoch,
        "train_size": n,
        "lambda_tax": lam,
        "shock": lam == config.lambda_shock and config.lambda_shock != config.lambda_base,
        "train_loss": loss_sum / seen,
        "train_acc": train_acc,
        "val_acc": val["fine"],
        "val_coarse": val["coarse_head"],
        "gap": gap,
        "l_opt_total": l_opt_total,
        "l_mon": monitor,
        "ratio": ratio,
        "z": z,
        "phase": phase,
        "sparsity": mask_sparsity(net.mlp),
    }


def train_cycle(
    net: SovereignNet,
    config: SovereignConfig,
    data: SovereignData,
    cycle: int,
    first_epoch: int,
    seed: int,
    chain: str,
    previous_gap: float | None = None,
) -> list[dict]:
    """Train ``net`` for one cycle in place; returns one log entry per epoch.

    ``previous_gap`` is the gap the first epoch's shock decision sees (the last
    epoch of the previous cycle when ``config.carry_gap``, else None).
    """
    device = next(net.parameters()).device
    n, batches = cycle_batches(config, data, cycle, seed, chain, device)
    fine_to_coarse = data.fine_to_coarse.to(device)
    opt = _optimizer(net, config, cycle)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs_per_cycle)
    clip_params = [p for p in net.parameters() if p.requires_grad]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    logs = []
    if not config.carry_gap:
        previous_gap = None
    for e in range(config.epochs_per_cycle):
        epoch = first_epoch + e
        lam, l1_on = epoch_setup(net, config, epoch, previous_gap)
        net.train()
        seen = 0
        # accuracy and loss sums stay on the device until the epoch ends (no per-step
        # host sync; float64, so the same numbers as Python floats would give)
        hits_t = torch.zeros((), dtype=torch.int64, device=device)
        loss_t = torch.zeros((), dtype=torch.float64, device=device)
        for xb, yb in batches.epoch(e):
            with autocast:
                fine, coarse = net(xb)
            fine, coarse = fine.float(), coarse.float()
            loss = F.cross_entropy(fine, yb)
            if lam > 0:
                loss = loss + lam * F.cross_entropy(coarse, fine_to_coarse[yb])
            if config.spectral_weight > 0:
                loss = loss + config.spectral_weight * sum(
                    spectral_loss(w, config.spectral_method)[0]
                    for w in spectral_weights(net).values()
                )
            if l1_on:
                loss = loss + config.l1 * sum(
                    getattr(net.mlp, n).weight.abs().sum() for n in TaxonomicMLP.LAYERS
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clip_params, config.clip)
            opt.step()
            with torch.no_grad():
                for name in TaxonomicMLP.LAYERS:
                    getattr(net.mlp, name).weight.mul_(getattr(net.mlp, f"mask_{name}"))
            hits_t += (fine.argmax(1) == yb).sum()
            seen += len(yb)
            loss_t += loss.detach().double() * len(yb)
        sched.step()
        entry = epoch_log(net, config, data, cycle, epoch, n, lam, int(hits_t), seen, float(loss_t))
        logs.append(entry)
        previous_gap = entry["gap"]
    return logs


def check_chains(chains) -> tuple[str, ...]:
    chains = tuple(chains)
    if not chains or len(set(chains)) != len(chains):
        raise ParameterError(f"chains={chains!r}: need one or more distinct names of {NETS}")
    for c in chains:
        check_choice("chain", c, NETS)
    return chains


def copy_net(net: SovereignNet, config: SovereignConfig) -> SovereignNet:
    child = SovereignNet(mixer=net.extractor.mixer is not None, train_extractor=net.train_extractor)
    child.load_state_dict(net.state_dict())
    return child.to(next(net.parameters()).device)


def cycle_report(
    cycle: int,
    alphas: dict,
    data: SovereignData,
    accepted: dict,
    state: dict,
    report_idx: torch.Tensor,
) -> dict:
    """Test-set metrics of the alphas after a cycle (reporting only), on the fixed
    class-stratified subset ``report_idx`` of the test set."""
    out = {"cycle": cycle, "report_images": len(report_idx)}
    x, y = data.test_x[report_idx], data.test_y[report_idx]
    for chain, net in alphas.items():
        m = evaluate_net(net, x, y, data.fine_to_coarse)
        out[f"{chain}_fine"] = m["fine"]
        out[f"{chain}_coarse_head"] = m["coarse_head"]
        out[f"{chain}_coarse_from_fine"] = m["coarse_from_fine"]
        out[f"{chain}_val"] = state["alpha_val"][chain]
        out[f"{chain}_accepted"] = bool(accepted[chain])
        out[f"{chain}_sparsity"] = mask_sparsity(net.mlp)
    if "apex" in alphas and "blind" in alphas:
        out["d_struct"] = out["apex_fine"] - out["blind_fine"]
        out["d_hier"] = out["apex_coarse_head"] - out["blind_coarse_head"]
    return out


def evolution_result(
    state: dict, alphas: dict, data: SovereignData, config: SovereignConfig
) -> dict:
    epochs = state["epochs"]
    phases = {
        chain: {
            p: sum(1 for e in epochs if e["chain"] == chain and e["phase"] == p)
            for p in ("INIT", "STABLE", "SHIFTING")
        }
        for chain in alphas
    }
    benchmark = {
        chain: evaluate_net(net, data.test_x, data.test_y, data.fine_to_coarse)
        for chain, net in alphas.items()
    }
    out = {
        "cycles": state["cycles"],
        "epochs": epochs,
        "phases": phases,
        "benchmark": benchmark,
        "sparsity": {chain: mask_sparsity(net.mlp) for chain, net in alphas.items()},
        "shock_epochs": {
            chain: sum(1 for e in epochs if e["chain"] == chain and e["shock"]) for chain in alphas
        },
    }
    if "apex" in benchmark:
        out["mean_lambda_apex"] = float(
            np.mean(
                [e["lambda_tax"] for e in epochs if e["chain"] == "apex"] or [config.lambda_base]
            )
        )
    if "apex" in benchmark and "blind" in benchmark:
        out["d_struct"] = benchmark["apex"]["fine"] - benchmark["blind"]["fine"]
        out["d_hier"] = benchmark["apex"]["coarse_head"] - benchmark["blind"]["coarse_head"]
    return out
