"""NeuroSovereign runs as the engine computes them: an evolution cycle by cycle with its
checkpoints, resumable, cached under its key; the probe's ceiling cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..foundations import paths
from ..foundations.checks import check_number
from ..foundations.compute import determinism
from ..sovereign import (
    CHAINS,
    VERSION,
    PhaseDetector,
    SovereignConfig,
    SovereignData,
    frozen_extractor_ceiling,
    stratified_indices,
    with_taxonomy,
)
from ..sovereign.cycle import (
    build_chains,
    check_chains,
    copy_net,
    cycle_report,
    evaluate_net,
    evolution_result,
    seed_for,
    train_cycle,
)
from .cache import cache_key, ensure_writable, note_run

# --------------------------------------------------------------------------- evolution


def _checkpoint_paths(run_dir: Path, cycle: int) -> tuple[Path, Path]:
    return run_dir / f"cycle_{cycle:02d}.safetensors", run_dir / f"cycle_{cycle:02d}.json"


def _save_checkpoint(run_dir: Path, cycle: int, alphas: dict, state: dict) -> None:
    """Tensors first, then the JSON (with the tensors' digest) as the commit marker."""
    tensors = {
        f"{chain}.{k}": v.detach().cpu().contiguous()
        for chain, net in alphas.items()
        for k, v in net.state_dict().items()
    }
    weights, meta = _checkpoint_paths(run_dir, cycle)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=run_dir)
    os.close(fd)
    paths.honour_umask(tmp)
    save_file(tensors, tmp)
    os.replace(tmp, weights)
    state = {**state, "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=run_dir)
    paths.honour_umask(tmp)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, meta)


def _load_checkpoint(run_dir: Path, cycle: int) -> tuple[dict, dict] | None:
    """The checkpoint after ``cycle``, or None if absent or unusable (with a warning)."""
    weights, meta = _checkpoint_paths(run_dir, cycle)
    if not meta.exists():
        return None
    try:
        state = json.loads(meta.read_text())
        if hashlib.sha256(weights.read_bytes()).hexdigest() != state["weights_sha256"]:
            raise ValueError("the weights do not match their recorded digest")
        tensors = load_file(str(weights))
        for key in ("cycle", "epochs", "cycles", "alpha_val"):
            state[key]  # noqa: B018 - a missing key makes the checkpoint unusable
        return tensors, state
    except Exception as exc:  # noqa: BLE001 - any defect means: use an earlier one
        warnings.warn(f"checkpoint {meta} is unusable ({exc}); not resuming from it", stacklevel=2)
        return None


def run_key(config: SovereignConfig, seed: int, fingerprint: str, chains=CHAINS) -> str:
    """The cache key of an evolution (its folder name under ``sovereign-run``)."""
    settings = asdict(config)
    if settings["precision"] == "fp32":
        del settings["precision"]  # the paper's precision: keys as before the option existed
    if settings["spectral_method"] == "svd":
        del settings["spectral_method"]  # likewise for the reference spectral route
    for option in ("l1_epochs", "taxonomy_seed"):
        if settings[option] is None:
            del settings[option]  # the paper's pairing and taxonomy: keys as before
    return cache_key(
        "sovereign-run",
        {
            "config": settings,
            "seed": seed,
            "fingerprint": fingerprint,
            "chains": list(chains),
        },
        VERSION,
    )


def run_dir_for(
    config: SovereignConfig,
    seed: int,
    data: SovereignData,
    cache_dir: str | os.PathLike | None = None,
    chains: tuple[str, ...] = CHAINS,
) -> Path:
    key = run_key(config, seed, data.dataset.fingerprint, chains)
    return paths.cache_dir(cache_dir) / "sovereign-run" / key


def evolve(
    data: SovereignData,
    config: SovereignConfig,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
    stop_after_cycle: int | None = None,
    log: Callable[[str], None] | None = None,
    chains: tuple[str, ...] = CHAINS,
    device: str | torch.device | None = None,
) -> dict:
    """Run (or resume, or load) the evolution of ``chains``; returns the result dict.

    Each chain evolves independently (its own alpha, selection and phase detector),
    so an ablation can train APEX alone against a BLIND trained once. ``device``
    defaults to :func:`plasticity.foundations.compute.default_device` (``PLASTICITY_DEVICE``).
    ``stop_after_cycle`` ends the run early after that cycle's checkpoint (to test
    resumption); the result is then marked incomplete and nothing final is cached.
    """
    from ..foundations.compute import default_device

    check_number("seed", seed, low=0, integer=True)
    chains = check_chains(chains)
    device = torch.device(device) if device is not None else default_device()
    run_dir = run_dir_for(config, seed, data, cache_dir, chains)
    final = run_dir / "result.json"
    if final.is_file():
        try:
            payload = json.loads(final.read_text())
            result = payload["result"]
            note_run("sovereign-run", run_dir.name, {"seed": seed}, result["seconds"], payload)
            return {**result, "cached": True}
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            warnings.warn(f"{final} is unusable ({exc!r}); recomputing", stacklevel=2)
    ensure_writable(run_dir)
    data = with_taxonomy(data, config.taxonomy_seed)
    twin = _unshocked_twin(data, config, seed, cache_dir, chains)
    if twin is not None:
        _write_result(run_dir, config, seed, chains, device, twin)
        return {**twin, "cached": False}
    start = time.perf_counter()
    alphas = {k: v.to(device) for k, v in build_chains(config, seed, chains).items()}
    report_idx = stratified_indices(data.test_y, config.report_test_size, seed=0)
    latest = next(
        ((c, ckpt) for c in range(config.cycles, -1, -1) if (ckpt := _load_checkpoint(run_dir, c))),
        None,
    )
    if latest is not None:
        done, (tensors, state) = latest
        try:
            for chain, net in alphas.items():
                prefix = f"{chain}."
                net.load_state_dict(
                    {
                        k[len(prefix) :]: v.to(device)
                        for k, v in tensors.items()
                        if k.startswith(prefix)
                    }
                )
        except RuntimeError as exc:
            warnings.warn(
                f"checkpoint of cycle {done} does not fit ({exc}); restarting", stacklevel=2
            )
            alphas = {k: v.to(device) for k, v in build_chains(config, seed, chains).items()}
            latest = None
        else:
            if log:
                log(f"resuming after cycle {done}")
    #: compute time of the cycles before a resume (recorded in each checkpoint), so a
    #: resumed run records what the whole evolution cost, not the resume's share
    earlier = float(state.get("seconds", 0.0)) if latest is not None else 0.0
    if latest is None:
        state = {"cycle": 0, "epochs": [], "cycles": [], "alpha_val": {}}
        for chain, net in alphas.items():
            val = evaluate_net(net, data.val_x, data.val_y, data.fine_to_coarse)
            state["alpha_val"][chain] = val["fine"]
        state["cycles"].append(
            cycle_report(0, alphas, data, dict.fromkeys(chains, True), state, report_idx)
        )
        state["seconds"] = time.perf_counter() - start
        _save_checkpoint(run_dir, 0, alphas, state)
    for cycle in range(state["cycle"] + 1, config.cycles + 1):
        accepted = {}
        for chain in chains:
            child = copy_net(alphas[chain], config)
            child._phase = PhaseDetector(config.window, config.z_threshold)
            previous = [e for e in state["epochs"] if e["chain"] == chain]
            child._phase.ratios = [e["ratio"] for e in previous]
            first_epoch = (cycle - 1) * config.epochs_per_cycle
            logs = train_cycle(
                child,
                config,
                data,
                cycle,
                first_epoch,
                seed_for(seed, cycle, 7),
                chain,
                previous_gap=previous[-1]["gap"] if previous else None,
            )
            del child._phase
            child_val = logs[-1]["val_acc"]
            accepted[chain] = child_val >= state["alpha_val"][chain]
            if accepted[chain]:
                alphas[chain] = child
                state["alpha_val"][chain] = child_val
            state["epochs"].extend({**e, "chain": chain} for e in logs)
        state["cycle"] = cycle
        state["cycles"].append(cycle_report(cycle, alphas, data, accepted, state, report_idx))
        state["seconds"] = earlier + time.perf_counter() - start
        _save_checkpoint(run_dir, cycle, alphas, state)
        if log:
            r = state["cycles"][-1]
            accs = ", ".join(f"{c} {r[f'{c}_fine']:.2f} %" for c in chains)
            log(
                f"cycle {cycle}/{config.cycles}: {accs} (test), {time.perf_counter() - start:.0f} s"
            )
        if stop_after_cycle is not None and cycle >= stop_after_cycle and cycle < config.cycles:
            return {
                **evolution_result(state, alphas, data, config),
                "complete": False,
                "cached": False,
            }
    result = {
        **evolution_result(state, alphas, data, config),
        "complete": True,
        "seconds": earlier + time.perf_counter() - start,
        "resumed": latest is not None,
    }
    _write_result(run_dir, config, seed, chains, device, result)
    note_run(
        "sovereign-run",
        run_dir.name,
        {"seed": seed},
        result["seconds"],
        {"device": device.type, "determinism": determinism(device)},
    )
    return {**result, "cached": False}


def _write_result(run_dir: Path, config, seed: int, chains, device, result: dict) -> None:
    payload = {
        "format": 1,
        "kind": "sovereign-run",
        "version": VERSION,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "config": asdict(config),
        "seed": seed,
        "chains": list(chains),
        "device": torch.device(device).type,
        "determinism": determinism(device),
        "result": result,
    }
    fd, tmp = tempfile.mkstemp(prefix=".result-", dir=run_dir)
    paths.honour_umask(tmp)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, run_dir / "result.json")


def _unshocked_twin(data, config, seed, cache_dir, chains) -> dict | None:
    """For a run without the shock: the cached result of the same run with the shock,
    if the shock never fired there. The two runs are then the same computation (the
    shock switch changes nothing but lambda on shock epochs, and draws nothing), so
    the result is reused, marked ``same_as_shock_run``, instead of trained again."""
    if config.shock:
        return None
    twin_dir = run_dir_for(replace(config, shock=True), seed, data, cache_dir, chains)
    try:
        twin = json.loads((twin_dir / "result.json").read_text())["result"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not twin.get("complete") or any(twin.get("shock_epochs", {1: 1}).values()):
        return None
    return {**twin, "same_as_shock_run": twin_dir.name}


def clear_run(
    config: SovereignConfig,
    seed: int,
    data: SovereignData,
    cache_dir: str | os.PathLike | None = None,
) -> None:
    """Delete a run's checkpoints and result."""
    shutil.rmtree(run_dir_for(config, seed, data, cache_dir), ignore_errors=True)


def ceiling_config(fingerprint: str, val_size: int, **kwargs) -> dict:
    """What determines a probe of :func:`cached_ceiling`: its settings (defaults
    filled in), the data fingerprint and the validation split. Keyed as
    ``cache_key("sovereign-probe", ceiling_config(...), VERSION)``."""
    from inspect import signature

    settings = signature(frozen_extractor_ceiling).bind(None, **kwargs)
    settings.apply_defaults()
    config = {k: v for k, v in settings.arguments.items() if k != "data"}
    config.update(fingerprint=fingerprint, val_size=val_size)
    return config


def cached_ceiling(
    data: SovereignData,
    *,
    cache_dir: str | os.PathLike | None = None,
    **kwargs,
) -> dict:
    """:func:`frozen_extractor_ceiling`, train-or-load: cached per data fingerprint,
    validation split and settings, so a rerun of the chapter reads it back."""
    from .cache import train_or_load

    return train_or_load(
        "sovereign-probe",
        ceiling_config(data.dataset.fingerprint, len(data.val_y), **kwargs),
        lambda: ({}, frozen_extractor_ceiling(data, **kwargs)),
        version=VERSION,
        cache_dir=cache_dir,
    ).result
