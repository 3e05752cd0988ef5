"""Many Lazarus repairs as one computation.

:func:`repair_many` runs K repairs of one network shape (the seeds, damages and base
models of a grid) as one forward and backward pass over stacked parameters
(``torch.func.functional_call`` under ``vmap``). Each repair keeps exactly its own
protocol: its own batch of ``batch_size`` inputs and its own noise, drawn from its own
generator in the order :func:`plasticity.lazarus.repair` draws them, its own loss and
its own Adam state (Adam is element-wise, so one Adam over stacked tensors is K
independent Adams). The results equal K sequential repairs to float tolerance
(``tests/test_batched.py``).

Whether it pays depends on the device: ``vmap`` turns the K convolutions into one
grouped convolution. ``python -m plasticity bench grid`` measures the per-repair step
time one at a time and batched, side by side, at K = 1, 2, 4, 8.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from ..data import Normalizer
from ..foundations.checks import ParameterError, check_choice, check_number, per_item
from ..foundations.compute import COMPILE_MODES
from ..foundations.progress import progress_bars
from .config import POOLED, RepairConfig
from .inputs import input_pixels, logits_table
from .model import StabilityCNN
from .repair import kd_loss

_KEYS = ("cons", "stab", "ent_penalty", "entropy", "total")


@functools.cache
def _stack_forward(classes: int, device: str, compile: str | None):
    """The forward pass of K stacked StabilityCNNs (parameters and pruning masks stacked
    along a leading axis), made once per shape, device and mode, so that every stack
    reuses it (and a compiled one is compiled once). The template holds no state: the
    network has no buffers, and every parameter is passed in."""
    template = StabilityCNN(classes).to(device)

    def forward(params, masks, x):
        effective = {n: p * masks[n] if n in masks else p for n, p in params.items()}
        return functional_call(template, effective, (x,))

    batched = vmap(forward)
    return batched if compile is None else torch.compile(batched, mode=compile)


def _weights(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(trainable tensors, pruning masks) of a StabilityCNN, named as a plain one names
    them: ``conv1.weight`` is ``weight_orig`` while a frozen mask is attached."""
    params, masks = {}, {}
    for name, p in model.named_parameters():
        params[name.removesuffix("_orig")] = p
    for name, b in model.named_buffers():
        if name.endswith("_mask"):
            masks[name.removesuffix("_mask")] = b
    return params, masks


class _Stream:
    """The inputs one repair sees, step by step, from its own generator: the same draws
    in the same order as :func:`plasticity.lazarus.repair`."""

    def __init__(self, config, generator, images, teacher_logits, labels, normalize):
        self.config, self.generator, self.normalize = config, generator, normalize
        self.images, self.teacher_logits, self.labels = images, teacher_logits, labels
        self.order_epoch, self.order = -1, None

    def batch(self, step: int):
        b, device = self.config.batch_size, self.generator.device
        if self.images is None:
            pixels = input_pixels(self.config.inputs, b, self.generator)
            return self.normalize(pixels.mul_(255)), None, None
        n = len(self.images)
        epoch, pos = divmod(step * b, n)
        if epoch != self.order_epoch:
            self.order_epoch = epoch
            self.order = torch.randperm(n, generator=self.generator, device=device)
        idx = self.order[pos : pos + b]
        t = self.teacher_logits[idx] if self.teacher_logits is not None else None
        y = self.labels[idx] if self.labels is not None else None
        return self.normalize(self.images[idx]), t, y


#: What every repair stacked into one computation shares: the schedule and the
#: optimiser (one Adam over stacked tensors), the kind of loss and how it is logged.
#: The loss weights, the entropy floor, the noise scale, the inputs and the KD
#: temperature may differ from repair to repair.
SHARED_FIELDS = (
    "steps",
    "batch_size",
    "lr",
    "loss",
    "log_every",
    "eval_at",
    "precision",
    "seek_steps",
    "teacher",
)


def stack_key(config: RepairConfig, pool_size: int | None = None) -> tuple:
    """Repairs with equal keys can run as one computation: their configs agree on
    :data:`SHARED_FIELDS`, and their batches have equal sizes at every step (generated
    inputs and pools of a multiple of the batch size always give full batches; another
    pool ends each pass over it with a short batch of its own size)."""
    pattern = None
    if pool_size is not None and config.inputs in POOLED and pool_size % config.batch_size:
        pattern = pool_size
    return (*(getattr(config, name) for name in SHARED_FIELDS), pattern)


def repair_many(
    students: Sequence[nn.Module],
    teachers: nn.Module | Sequence[nn.Module],
    config: RepairConfig | Sequence[RepairConfig],
    *,
    seeds: Sequence[int],
    images: torch.Tensor | Sequence[torch.Tensor] | None = None,
    labels: torch.Tensor | Sequence[torch.Tensor] | None = None,
    teacher_logits: torch.Tensor | Sequence[torch.Tensor] | None = None,
    progress: bool = False,
    on_checkpoint: Callable[[int, int, nn.Module], None] | None = None,
    compile: str | None = None,
) -> list[dict]:
    """Run ``len(students)`` repairs at once, each student in place; returns each
    repair's logged loss terms (as :func:`plasticity.lazarus.repair`).

    ``config`` is one config for all repairs or one per repair; configs given per
    repair must agree on :data:`SHARED_FIELDS` and may differ in the rest (loss
    weights, entropy floor, noise scale, inputs, temperature).

    ``teachers``, ``images``, ``labels`` and ``teacher_logits`` are given once for all
    repairs or as one entry per repair (repairs of different base models have
    different teachers and, for teacher inversion, different input pools).
    ``on_checkpoint(step, k, student)`` is called for every repair ``k`` after each
    step of ``config.eval_at``, with the student in eval mode. ``compile`` (opt-in,
    :data:`COMPILE_MODES`) compiles the stacked forward pass with ``torch.compile``.
    """
    from tqdm.auto import tqdm

    k = len(students)
    check_number("students", k, low=1, integer=True)
    check_choice("compile", compile, COMPILE_MODES)
    if len(seeds) != k:
        raise ParameterError(f"seeds: {len(seeds)} seeds for {k} students (one per student)")
    for s in seeds:
        check_number("seed", s, low=0, integer=True)
    configs = per_item(config, k, "config", "repair")
    config = configs[0]
    for other in configs[1:]:
        for name in SHARED_FIELDS:
            if getattr(other, name) != getattr(config, name):
                raise ParameterError(
                    f"config: {name}={getattr(other, name)!r} and {getattr(config, name)!r} "
                    f"in one stack; stacked repairs share {', '.join(SHARED_FIELDS)}"
                )
    if config.seek_steps:
        raise ParameterError(
            f"seek_steps={config.seek_steps}: repair_many runs repairs without seeking "
            "disagreement (seek_steps=0); run seeking repairs one at a time"
        )
    if config.precision != "fp32":
        raise ParameterError(f"precision={config.precision!r}: repair_many runs fp32 only")
    if config.teacher != "original":
        raise ParameterError(
            f"teacher={config.teacher!r}: repair_many takes its teachers as given "
            "(teacher='original'); pass frozen copies of the damaged models as teachers"
        )
    if not all(isinstance(s, StabilityCNN) for s in students):
        raise ParameterError("students: repair_many stacks StabilityCNN models only")
    teachers = per_item(teachers, k, "teachers", "repair")
    images = per_item(images, k, "images", "repair")
    labels = per_item(labels, k, "labels", "repair")
    teacher_logits = per_item(teacher_logits, k, "teacher_logits", "repair")
    pooled = [c.inputs in POOLED for c in configs]
    for c, is_pooled, x in zip(configs, pooled, images, strict=True):
        if is_pooled and x is None:
            raise ParameterError(f"inputs={c.inputs!r} needs images for every such repair")
    if config.loss == "supervised" and any(y is None for y in labels):
        raise ParameterError("the supervised loss needs labels for every repair")
    patterns = {
        stack_key(c, len(x) if x is not None else None)[-1]
        for c, x in zip(configs, images, strict=True)
    }
    if len(patterns) > 1:
        raise ParameterError(
            "images: pools whose size is not a multiple of the batch size end each pass "
            "with a short batch; stack only repairs whose batches have equal sizes "
            f"(pool sizes here: {sorted(p for p in patterns if p is not None)})"
        )

    weights = [_weights(s) for s in students]
    names, masked = sorted(weights[0][0]), sorted(weights[0][1])
    for params, masks in weights[1:]:
        if sorted(params) != names or sorted(masks) != masked:
            raise ParameterError(
                "students: every student must have the same tensors and the same pruned "
                "layers (a frozen mask on all or on none)"
            )
    device = weights[0][0][names[0]].device
    normalize = Normalizer()
    needs = [c.loss == "kd" or (c.loss == "lazarus" and c.w_cons > 0) for c in configs]
    stabs = [c.loss == "lazarus" and c.w_stab > 0 for c in configs]
    teacher_logits = [
        (t if t is not None else logits_table(m, x, normalize, fused=False)).to(device)
        if is_pooled and need
        else None
        for t, m, x, is_pooled, need in zip(
            teacher_logits, teachers, images, pooled, needs, strict=True
        )
    ]
    streams = [
        _Stream(
            c,
            torch.Generator(device=device).manual_seed(seed),
            x.to(device) if is_pooled else None,
            t,
            y.to(device) if y is not None else None,
            normalize,
        )
        for c, seed, x, t, y, is_pooled in zip(
            configs, seeds, images, teacher_logits, labels, pooled, strict=True
        )
    ]
    # per-repair loss settings as (K,) tensors
    per = {
        name: torch.tensor([float(getattr(c, name)) for c in configs], device=device)
        for name in ("w_cons", "w_stab", "w_ent", "h0")
    }
    need_mask = torch.tensor(needs, device=device)
    generated_teacher = any(n and not p for n, p in zip(needs, pooled, strict=True))

    classes = students[0].fc2.out_features
    batched_forward = _stack_forward(classes, str(device), compile)
    stacked = {
        n: torch.stack([w[0][n].detach() for w in weights]).clone().requires_grad_(True)
        for n in names
    }
    mask_stack = {n: torch.stack([w[1][n].detach() for w in weights]) for n in masked}

    shared_teacher = all(t is teachers[0] for t in teachers)
    for t in teachers:
        t.eval()
    if not shared_teacher and generated_teacher:
        t_weights = [_weights(t) for t in teachers]
        t_params = {n: torch.stack([w[0][n].detach() for w in t_weights]) for n in names}
        t_masks = {n: torch.stack([w[1][n].detach() for w in t_weights]) for n in t_weights[0][1]}

    opt = torch.optim.Adam(
        list(stacked.values()), lr=config.lr, fused=device.type in ("cpu", "cuda") or None
    )
    stab_on = any(stabs)
    sums = torch.zeros(k, len(_KEYS) + 1, dtype=torch.float64, device=device)
    histories = [
        {"step": [], **{key: [] for key in _KEYS}, "floor_active_pct": []} for _ in range(k)
    ]
    window = 0
    checkpoints = {s for s in config.eval_at if s < config.steps}
    for step in tqdm(
        range(config.steps),
        disable=not progress_bars(progress),
        desc=f"{k} repairs",
        leave=False,
        mininterval=2.0,
    ):
        drawn = [s.batch(step) for s in streams]
        x = torch.stack([d[0] for d in drawn])
        t_logits = None
        if any(needs):
            generated = None
            if generated_teacher:
                with torch.no_grad():
                    if shared_teacher:
                        flat = teachers[0](x.flatten(0, 1)).float()
                        generated = flat.view(k, -1, flat.shape[-1])
                    else:
                        teacher_forward = _stack_forward(classes, str(device), None)
                        generated = teacher_forward(t_params, t_masks, x).float()
            blank = torch.zeros(x.shape[1], students[0].fc2.out_features, device=device)
            t_logits = torch.stack(
                [
                    (d[1] if is_pooled else generated[i]) if need else blank
                    for i, (d, is_pooled, need) in enumerate(zip(drawn, pooled, needs, strict=True))
                ]
            )
        if stab_on:
            # each repair draws its noise from its own generator only if it uses it,
            # as it would alone
            noise = torch.stack(
                [
                    torch.randn(d[0].shape, generator=s.generator, device=device) * c.eps
                    if on
                    else torch.zeros_like(d[0])
                    for d, s, c, on in zip(drawn, streams, configs, stabs, strict=True)
                ]
            )
            both = batched_forward(stacked, mask_stack, torch.cat([x, x + noise], 1)).float()
            out, out_pert = both[:, : x.shape[1]], both[:, x.shape[1] :]
        else:
            out = batched_forward(stacked, mask_stack, x).float()
        logp = F.log_softmax(out, 2)
        entropy = -(logp.exp() * logp).sum(2).mean(1)
        ent_penalty = F.relu(entropy - per["h0"])
        zero = out.new_zeros(k)
        if t_logits is not None:
            cons = torch.where(need_mask, (out - t_logits).pow(2).mean((1, 2)), zero)
        else:
            cons = zero
        stab = (out - out_pert).pow(2).mean((1, 2)) if stab_on else zero
        if config.loss == "lazarus":
            loss = per["w_cons"] * cons + per["w_stab"] * stab + per["w_ent"] * ent_penalty
        elif config.loss == "kd":
            loss = torch.stack(
                [kd_loss(out[i], t_logits[i], configs[i].temperature) for i in range(k)]
            )
        else:
            y = torch.stack([d[2] for d in drawn])
            loss = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none")
            loss = loss.view(k, -1).mean(1)
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:
            loss.sum().backward()
            opt.step()
        window += 1
        with torch.no_grad():
            values = torch.stack([cons, stab, ent_penalty, entropy, loss], 1).detach()
            sums[:, : len(_KEYS)] += values.double()
            sums[:, len(_KEYS)] += (entropy > per["h0"]).double()
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            means = (sums / window).tolist()
            for history, row in zip(histories, means, strict=True):
                history["step"].append(step + 1)
                for key, v in zip(_KEYS, row, strict=False):
                    history[key].append(v)
                history["floor_active_pct"].append(100.0 * row[len(_KEYS)])
            sums.zero_()
            window = 0
        if on_checkpoint is not None and step + 1 in checkpoints:
            _write_back(stacked, weights)
            for i, s in enumerate(students):
                s.eval()
                on_checkpoint(step + 1, i, s)
                s.train()
    _write_back(stacked, weights)
    for s in students:
        s.eval()
    return histories


@torch.no_grad()
def _write_back(stacked: dict[str, torch.Tensor], weights: list) -> None:
    """Copy the stacked tensors into each student's own parameters."""
    for i, (params, _) in enumerate(weights):
        for n, p in params.items():
            p.copy_(stacked[n][i])
