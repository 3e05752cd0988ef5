"""The Lazarus v3 repair of one damaged model: consistency + stability + entropy floor
(or plain distillation, or labelled fine-tuning), Adam, logged without host syncs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Normalizer
from ..foundations.checks import check_number
from ..foundations.progress import progress_bars
from .config import POOLED, RepairConfig
from .datafree import seek_disagreement
from .inputs import channels_last, input_pixels, logits_table

#: Bump when the repair code changes what it produces.
REPAIR_VERSION = "lazarus-repair-v4"


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    t = temperature
    return (
        F.kl_div(
            F.log_softmax(student / t, 1),
            F.log_softmax(teacher / t, 1),
            reduction="batchmean",
            log_target=True,
        )
        * t
        * t
    )


def repair(
    student: nn.Module,
    teacher: nn.Module,
    config: RepairConfig,
    *,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    teacher_logits: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
    on_checkpoint: Callable[[int, nn.Module], None] | None = None,
) -> dict:
    """Run the repair on ``student`` in place; returns the logged loss terms.

    ``on_checkpoint(step, student)`` is called after each step listed in
    ``config.eval_at`` (below ``config.steps``), with the student in eval mode; the
    repair continues unchanged afterwards (nothing random is drawn by the callback).

    ``images`` (uint8, N x 3 x 32 x 32) are the unlabeled inputs for ``train`` /
    ``cifar100``; ``teacher_logits`` may hold the teacher's logits for all of them
    (computed once and reused: the teacher is frozen). Clean and noisy inputs go
    through the student in one batch of 2B (the network has no BatchNorm, so this is
    the same function as two passes). Frozen pruning masks stay attached and keep
    pruned weights at zero.
    """
    from tqdm.auto import tqdm

    check_number("seed", seed, low=0, integer=True)
    real = config.inputs in POOLED
    if real and images is None:
        raise ValueError(f"inputs={config.inputs!r} needs images")
    if config.loss == "supervised" and labels is None:
        raise ValueError("the supervised loss needs labels")
    device = next(student.parameters()).device
    normalize = Normalizer()
    # everything the loop touches lives on the model's device: images, targets, labels
    # and the generator behind the shuffles and the noise (on CPU the same draws as a
    # plain CPU generator), so no step copies data to or from the host
    generator = torch.Generator(device=device).manual_seed(seed)
    need_teacher = config.loss == "kd" or (config.loss == "lazarus" and config.w_cons > 0)
    if real and need_teacher and teacher_logits is None:
        teacher_logits = logits_table(teacher, images, normalize, fused=False)
    if real:
        images = images.to(device)
        teacher_logits = teacher_logits.to(device) if teacher_logits is not None else None
        labels = labels.to(device) if labels is not None else None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    teacher.eval()
    student.train()
    # fused Adam: one kernel for all tensors (about 14x faster per step than the
    # per-tensor loop on CPU, the same update to float rounding)
    fused = device.type in ("cpu", "cuda")
    opt = torch.optim.Adam(student.parameters(), lr=config.lr, fused=fused or None)
    b = config.batch_size
    order_epoch, order = -1, None
    keys = ("cons", "stab", "ent_penalty", "entropy", "total")
    # running sums as float64 tensors on the device (the values Python floats would
    # give), read back only when a log line is written: no per-step host sync
    sums = torch.zeros(len(keys) + 1, dtype=torch.float64, device=device)
    history: dict[str, list] = {"step": [], **{k: [] for k in keys}, "floor_active_pct": []}
    window = 0
    checkpoints = {s for s in config.eval_at if s < config.steps}
    for step in tqdm(
        range(config.steps),
        disable=not progress_bars(progress),
        desc="repair",
        leave=False,
        mininterval=2.0,
    ):
        y = t_logits = None
        if real:
            n = len(images)
            epoch, pos = divmod(step * b, n)
            if epoch != order_epoch:
                order_epoch = epoch
                order = torch.randperm(n, generator=generator, device=device)
            idx = order[pos : pos + b]
            x = normalize(images[idx])
            if teacher_logits is not None:
                t_logits = teacher_logits[idx]
            if labels is not None:
                y = labels[idx]
        else:
            pixels = input_pixels(config.inputs, b, generator)
            if config.seek_steps:
                pixels = seek_disagreement(
                    student, teacher, pixels, config.seek_steps, config.seek_size
                )
            x = normalize(pixels.mul_(255))
            if need_teacher:
                with torch.no_grad(), autocast:
                    t_logits = teacher(x).float()
        stab_on = config.loss == "lazarus" and config.w_stab > 0
        with autocast:
            if stab_on:
                noise = torch.randn(x.shape, generator=generator, device=device) * config.eps
                out_both = student(channels_last(torch.cat([x, x + noise]))).float()
                out, out_pert = out_both[: len(x)], out_both[len(x) :]
            else:
                out = student(x).float()
        logp = F.log_softmax(out, 1)
        entropy = -(logp.exp() * logp).sum(1).mean()
        ent_penalty = F.relu(entropy - config.h0)
        zero = out.new_zeros(())
        cons = F.mse_loss(out, t_logits) if t_logits is not None else zero
        stab = F.mse_loss(out, out_pert) if stab_on else zero
        if config.loss == "lazarus":
            loss = config.w_cons * cons + config.w_stab * stab + config.w_ent * ent_penalty
        elif config.loss == "kd":
            loss = kd_loss(out, t_logits, config.temperature)
        else:
            loss = F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:
            loss.backward()
            opt.step()
        window += 1
        with torch.no_grad():
            values = torch.stack([cons, stab, ent_penalty, entropy, loss]).detach()
            sums[: len(keys)] += values.double()
            sums[len(keys)] += (entropy > config.h0).double()
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            means = (sums / window).tolist()
            history["step"].append(step + 1)
            for k, v in zip(keys, means, strict=False):
                history[k].append(v)
            history["floor_active_pct"].append(100.0 * means[len(keys)])
            sums.zero_()
            window = 0
        if on_checkpoint is not None and step + 1 in checkpoints:
            student.eval()
            on_checkpoint(step + 1, student)
            student.train()
    student.eval()
    return history
