"""What every run shares: seeding, the default device, parameter counts."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn

from .checks import COMPILE_MODES as _COMPILE_MODES
from .checks import ParameterError, check_number


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch."""
    check_number("seed", seed, low=0, integer=True)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


DEVICE_ENV = "PLASTICITY_DEVICE"
#: Device types the book computes on; others (meta, xla, ...) are refused up front.
SUPPORTED_DEVICES = ("cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """The devices this machine can compute on now: ``cpu``, each ``cuda:N``, ``mps``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def check_device(name: str | torch.device, *, present: bool = True, param: str = "device"):
    """``name`` as a :class:`torch.device`, or :class:`ParameterError` naming the
    parameter, the value and what is available, before any compute. ``present=False``
    checks the name only (a device of another machine, such as a cluster job's)."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(
            f"{param}={str(name)!r} is not a device name ({exc}); use cpu, cuda, cuda:N or mps"
        ) from None
    if device.type not in SUPPORTED_DEVICES:
        raise ParameterError(
            f"{param}={str(name)!r}: the book computes on {', '.join(SUPPORTED_DEVICES)} "
            f"(cuda:N for one GPU), not on {device.type!r}"
        )
    if not present:
        return device
    available = available_devices()
    here = f"this machine has {', '.join(available)}"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"{param}={str(name)!r}: no CUDA device is usable; {here}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ParameterError(f"{param}={str(name)!r}: no such CUDA device; {here}")
    elif device.type == "mps" and "mps" not in available:
        raise ParameterError(f"{param}={str(name)!r}: no MPS device is usable; {here}")
    elif device.type == "cpu" and device.index not in (None, 0):
        raise ParameterError(f"{param}={str(name)!r}: the CPU is cpu (or cpu:0); {here}")
    return device


def default_device() -> torch.device:
    """``$PLASTICITY_DEVICE`` if set (checked: present and supported), else CUDA when
    available, else CPU."""
    wanted = os.environ.get(DEVICE_ENV)
    if wanted:
        return check_device(wanted, param=DEVICE_ENV)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: ``torch.compile`` modes a stacked computation's forward pass may be compiled with
#: (None: eager); ``reduce-overhead`` replays it as CUDA graphs on a GPU.
COMPILE_MODES = _COMPILE_MODES  # torch.compile modes the engine accepts (None: eager)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts per tensor name, plus ``total``."""
    counts = {name: p.numel() for name, p in model.named_parameters()}
    counts["total"] = sum(counts.values())
    return counts


def determinism(device: str | torch.device) -> str:
    """How reproducible a computation on ``device`` is, as a run records it:
    ``deterministic`` (the CPU, or CUDA with deterministic algorithms / cuDNN), or
    ``nondeterministic (cuDNN)``: the same seeds give slightly different models run to
    run, which can move a verdict that sits near its margin."""
    device = torch.device(device)
    if device.type == "cuda":
        forced = torch.are_deterministic_algorithms_enabled()
        if forced or (torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark):
            return "deterministic"
        return "nondeterministic (cuDNN)"
    if device.type == "mps":
        return "nondeterministic (MPS)"
    return "deterministic"
