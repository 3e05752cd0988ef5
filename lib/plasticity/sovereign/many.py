"""Many NeuroSovereign chains trained for one cycle as one computation.

:func:`train_cycle_many` trains K networks of one kind (see :func:`stack_key`) in
lockstep: their weights stacked along a leading axis, one vectorised forward and
backward pass (:func:`torch.func.vmap`) and one optimizer step for all K, with
per-chain losses, shock weights, L1 switches, taxonomies, data orders and gradient
clipping. Each chain computes what :func:`~plasticity.sovereign.cycle.train_cycle`
computes for it alone, to float rounding. Everything decided once an epoch (masks,
validation, spectra, phase) runs per chain on its own network, as alone.

Which configurations can share a stack is :func:`stack_key`'s answer: the optimizer,
its schedule and the batches must agree; the shock, the mask schedule, L1, the
taxonomy and the seed may differ.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from ..foundations.checks import ParameterError, check_choice, check_number, per_item
from ..foundations.compute import COMPILE_MODES
from .config import SovereignConfig
from .cycle import cycle_batches, epoch_log, epoch_setup
from .model import SovereignNet, TaxonomicMLP
from .spectra import HostSpectra, spectral_loss
from .split import SovereignData

#: Config fields every chain of a stack shares: the optimizer and its schedule, the
#: batches, the precision and the spectral term's weight and route.
SHARED_FIELDS = (
    "epochs_per_cycle",
    "curriculum",
    "batch_size",
    "lr",
    "mixer_lr",
    "weight_decay_early",
    "weight_decay_late",
    "weight_decay_switch",
    "clip",
    "precision",
    "spectral_weight",
    "spectral_method",
    "val_size",
)

_MIXER = "extractor.mixer."
_SPECTRAL = {
    "fc1": "mlp.fc1.weight",
    "token_mlp.0": _MIXER + "token_mlp.0.weight",
    "token_mlp.2": _MIXER + "token_mlp.2.weight",
}


def architecture(net: SovereignNet) -> tuple[bool, bool]:
    """(has a mixer, extractor trained): networks stack only with their own kind."""
    return (net.extractor.mixer is not None, net.train_extractor)


def coarse_head(config: SovereignConfig) -> str | None:
    """Whether the coarse loss acts: ``always`` (lambda_tax > 0 on every epoch),
    ``never`` (0 on every epoch), or None (some epochs only). A stack cannot hold a
    coarse head that is trained beside one that is not: AdamW skips a tensor with no
    gradient but decays one whose gradient is zero."""
    shock = config.lambda_shock if config.shock else config.lambda_base
    if config.lambda_base > 0 and shock > 0:
        return "always"
    if config.lambda_base == 0 and shock == 0:
        return "never"
    return None


def stack_key(config: SovereignConfig, kind: tuple[bool, bool]) -> tuple | None:
    """Chains with equal keys can train one cycle as one computation (None: the chain
    trains alone): networks of one kind (:func:`architecture`) whose configs agree on
    :data:`SHARED_FIELDS` and whose coarse heads are all trained, or none of them and
    all under one L1 schedule (L1 is then the coarse head's only gradient)."""
    coarse = coarse_head(config)
    if coarse is None:
        return None
    l1 = None
    if coarse == "never":
        l1 = (config.l1, config.warmup if config.l1_epochs is None else config.l1_epochs)
    return (kind, coarse, l1, *(getattr(config, name) for name in SHARED_FIELDS))


@functools.cache
def _data_loss(kind: tuple[bool, bool], coarse: bool, precision: str, device: str, compile):
    """The forward pass of a stack and every term but the spectral one (fine and
    coarse cross-entropy, L1), per chain, as one function per kind of stack: made (and
    compiled) once, so that every cycle's stack reuses it."""
    template = SovereignNet(*kind).to(device)
    forward = vmap(lambda tensors, x: functional_call(template, tensors, (x,)))
    autocast_on = precision == "bf16"
    device_type = torch.device(device).type

    def data_loss(tensors, xb, yb, lam, l1, to_coarse, use_l1: bool):
        k = xb.shape[0]
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast_on):
            fine, coarse_logits = forward(tensors, xb)
        fine, coarse_logits = fine.float(), coarse_logits.float()
        loss = F.cross_entropy(fine.flatten(0, 1), yb.flatten(), reduction="none")
        loss = loss.view(k, -1).mean(1)
        if coarse:
            rows = torch.arange(k, device=yb.device).unsqueeze(1)
            target = to_coarse[rows, yb]
            coarse_ce = F.cross_entropy(
                coarse_logits.flatten(0, 1), target.flatten(), reduction="none"
            )
            loss = loss + lam * coarse_ce.view(k, -1).mean(1)
        if use_l1:
            # a chain with L1 off adds 0 x its norm: the same value and gradient (its
            # coarse head has a gradient from the coarse loss, or, in a stack whose
            # heads are not trained, shares the L1 schedule)
            loss = loss + l1 * sum(
                tensors[f"mlp.{layer}.weight"].abs().sum((1, 2)) for layer in TaxonomicMLP.LAYERS
            )
        return loss, fine

    return data_loss if compile is None else torch.compile(data_loss, mode=compile)


class ChainStack:
    """K networks of one kind as one set of stacked tensors with one AdamW (the
    optimizer :func:`~plasticity.sovereign.cycle.train_cycle` builds, per chain) and
    its cosine schedule over the cycle; :meth:`step` is one training step of all K.
    ``compile`` (opt-in) compiles the forward pass and the data terms with
    ``torch.compile`` in that mode; the spectral term and the optimizer stay eager."""

    def __init__(
        self,
        nets: Sequence[SovereignNet],
        config: SovereignConfig,
        cycle: int,
        compile: str | None = None,
    ):
        check_choice("compile", compile, COMPILE_MODES)
        self.k, self.config = len(nets), config
        device = next(nets[0].parameters()).device
        names = [name for name, p in nets[0].named_parameters() if p.requires_grad]
        own = [dict(net.named_parameters()) | dict(net.named_buffers()) for net in nets]
        self.tensors = {
            name: torch.stack([o[name].detach() for o in own]).requires_grad_(name in names)
            for name in own[0]
        }
        groups = [
            {
                "params": [self.tensors[m] for m in names if not m.startswith(_MIXER)],
                "lr": config.lr,
            }
        ]
        mixer = [self.tensors[m] for m in names if m.startswith(_MIXER)]
        if mixer:
            groups.append({"params": mixer, "lr": config.mixer_lr})
        self.opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay(cycle))
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.opt, T_max=config.epochs_per_cycle
        )
        self.trained = [self.tensors[m] for m in names]
        self.spectral = [v for v in _SPECTRAL.values() if v in self.tensors]
        self.data_loss = _data_loss(
            architecture(nets[0]),
            coarse_head(config) == "always",
            config.precision,
            str(device),
            compile,
        )

    def mask(self, name: str) -> torch.Tensor | None:
        """The pruning mask of the weight ``name`` (None: it has none)."""
        return self.tensors[f"mlp.mask_{name.split('.')[1]}"] if name.startswith("mlp.fc") else None

    def masked(self, name: str) -> torch.Tensor:
        mask = self.mask(name)
        return self.tensors[name] if mask is None else self.tensors[name] * mask

    def step(
        self,
        xb: torch.Tensor,
        yb: torch.Tensor,
        lam: torch.Tensor,
        l1: torch.Tensor,
        to_coarse: torch.Tensor,
        use_l1: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of every chain: images ``xb`` (K, B, 3, 32, 32), labels ``yb``
        (K, B), per-chain lambda_tax and L1 weights (K,), taxonomies (K, 100);
        ``use_l1``: whether any chain's L1 weight is on (known to the caller); returns
        each chain's loss (K,) and fine logits (K, B, 100). Nothing is read back."""
        config, tensors = self.config, self.tensors
        host = None
        if config.spectral_weight > 0 and config.spectral_method == "host":
            # decomposed on CPU threads while the device runs the rest of the step
            host = HostSpectra([self.masked(name) for name in self.spectral])
        loss, fine = self.data_loss(tensors, xb, yb, lam, l1, to_coarse, use_l1)
        if config.spectral_weight > 0 and host is None:
            loss = loss + config.spectral_weight * sum(
                spectral_loss(self.masked(name), config.spectral_method)[0]
                for name in self.spectral
            )
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        if host is not None:
            values, grads = host.finish(config.spectral_weight)
            loss = loss.detach() + config.spectral_weight * values
            with torch.no_grad():
                for name, grad in zip(self.spectral, grads, strict=True):
                    tensor = tensors[name]
                    if not tensor.requires_grad:
                        continue  # a frozen mixer: its L_opt counts, nothing trains it
                    if (mask := self.mask(name)) is not None:
                        grad = grad * mask
                    tensor.grad = grad if tensor.grad is None else tensor.grad + grad
        _clip_per_chain(self.trained, config.clip)
        self.opt.step()
        with torch.no_grad():
            for layer in TaxonomicMLP.LAYERS:
                tensors[f"mlp.{layer}.weight"].mul_(tensors[f"mlp.mask_{layer}"])
        return loss.detach(), fine.detach()

    @torch.no_grad()
    def load(self, nets: Sequence[SovereignNet]) -> None:
        """Copy each network's weights and masks into the stack (its optimizer state kept)."""
        for i, net in enumerate(nets):
            for name, value in (dict(net.named_parameters()) | dict(net.named_buffers())).items():
                self.tensors[name][i].copy_(value)

    @torch.no_grad()
    def store(self, nets: Sequence[SovereignNet]) -> None:
        """Copy the stacked weights and masks into each network's own tensors."""
        for i, net in enumerate(nets):
            for name, value in (dict(net.named_parameters()) | dict(net.named_buffers())).items():
                value.copy_(self.tensors[name][i])


def train_cycle_many(
    nets: Sequence[SovereignNet],
    configs: SovereignConfig | Sequence[SovereignConfig],
    data: SovereignData | Sequence[SovereignData],
    cycle: int,
    first_epoch: int,
    seeds: Sequence[int],
    chains: Sequence[str],
    previous_gaps: Sequence[float | None] | None = None,
    compile: str | None = None,
) -> list[list[dict]]:
    """Train ``nets`` for one cycle in place, as one computation; returns each
    network's log, one entry per epoch, as :func:`train_cycle` does for it alone.

    ``configs`` and ``data`` are one for all or one per network (a taxonomy of its
    own, :func:`plasticity.sovereign.with_taxonomy`); ``seeds`` and ``chains`` give
    each network's cycle seed and chain name (its data order), ``previous_gaps`` the
    gap its first epoch's shock decision sees; ``compile`` a mode of
    :data:`COMPILE_MODES` (opt-in, see :class:`ChainStack`).
    """
    k = len(nets)
    check_number("nets", k, low=1, integer=True)
    check_choice("compile", compile, COMPILE_MODES)
    configs = per_item(configs, k, "configs", "network")
    data = per_item(data, k, "data", "network")
    seeds = per_item(list(seeds), k, "seeds", "network")
    chains = per_item(list(chains), k, "chains", "network")
    previous_gaps = per_item(
        [None] * k if previous_gaps is None else list(previous_gaps), k, "previous_gaps", "network"
    )
    keys = {stack_key(c, architecture(n)) for c, n in zip(configs, nets, strict=True)}
    if len(keys) > 1 or None in keys:
        raise ParameterError(
            "nets: one stack trains networks of one kind (mixer, extractor trained) whose "
            f"configs agree on {', '.join(SHARED_FIELDS)} and on whether the coarse head "
            "is trained (see stack_key)"
        )
    if len({len(d.train_y) for d in data}) > 1:
        raise ParameterError("data: every network of a stack needs a training split of one size")
    config = configs[0]
    device = next(nets[0].parameters()).device
    drawn = [
        cycle_batches(c, d, cycle, s, ch, device)
        for c, d, s, ch in zip(configs, data, seeds, chains, strict=True)
    ]
    n = drawn[0][0]
    batches = [b for _, b in drawn]
    to_coarse = torch.stack([d.fine_to_coarse.to(device) for d in data])  # (K, 100)

    stack = ChainStack(nets, config, cycle, compile)
    logs: list[list[dict]] = [[] for _ in range(k)]
    gaps = [g if c.carry_gap else None for g, c in zip(previous_gaps, configs, strict=True)]
    for e in range(config.epochs_per_cycle):
        epoch = first_epoch + e
        settings = []
        for i, net in enumerate(nets):
            settings.append(epoch_setup(net, configs[i], epoch, gaps[i]))
        stack.load(nets)  # the masks (and the weights they zeroed) set this epoch
        lam = torch.tensor([s[0] for s in settings], device=device)
        l1 = torch.tensor(
            [c.l1 if s[1] else 0.0 for c, s in zip(configs, settings, strict=True)], device=device
        )
        use_l1 = any(c.l1 > 0 and s[1] for c, s in zip(configs, settings, strict=True))
        seen = 0
        hits_t = torch.zeros(k, dtype=torch.int64, device=device)
        loss_t = torch.zeros(k, dtype=torch.float64, device=device)
        for pairs in zip(*(b.epoch(e) for b in batches), strict=True):
            xb = torch.stack([p[0] for p in pairs])
            yb = torch.stack([p[1] for p in pairs])
            loss, fine = stack.step(xb, yb, lam, l1, to_coarse, use_l1)
            hits_t += (fine.argmax(2) == yb).sum(1)
            seen += yb.shape[1]
            loss_t += loss.detach().double() * yb.shape[1]
        stack.sched.step()
        stack.store(nets)
        hits, sums = hits_t.tolist(), loss_t.tolist()
        for i, net in enumerate(nets):
            entry = epoch_log(
                net, configs[i], data[i], cycle, epoch, n, settings[i][0], hits[i], seen, sums[i]
            )
            logs[i].append(entry)
            gaps[i] = entry["gap"]
    return logs


@torch.no_grad()
def _clip_per_chain(tensors: list[torch.Tensor], max_norm: float) -> None:
    """:func:`torch.nn.utils.clip_grad_norm_` for each chain of a stack on its own: the
    norm of chain i's gradient over all its tensors, and its own scale."""
    grads = [t.grad for t in tensors if t.grad is not None]
    if not grads:
        return
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1)  # (K, tensors)
    total = norms.norm(dim=1)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))


__all__ = [
    "SHARED_FIELDS",
    "ChainStack",
    "architecture",
    "coarse_head",
    "stack_key",
    "train_cycle_many",
]
