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
from .cache import NotRecorded, cache_key, ensure_writable, note_run, replaying

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
    return recorded_run_key(asdict(config), seed, fingerprint, chains)


def recorded_run_key(settings: dict, seed: int, fingerprint: str, chains) -> str:
    """:func:`run_key` from a recorded configuration (a ``result.json``'s ``config``),
    so that an imported evolution can be checked against its folder name."""
    settings = dict(settings)
    if settings.get("precision") == "fp32":
        del settings["precision"]  # the paper's precision: keys as before the option existed
    if settings.get("spectral_method") == "svd":
        del settings["spectral_method"]  # likewise for the reference spectral route
    for option in ("l1_epochs", "taxonomy_seed"):
        if option in settings and settings[option] is None:
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


class _Evolution:
    """One evolution between its cycles: opened from the cache (a final result, a
    twin's, or the latest checkpoint) or started, then advanced cycle by cycle by
    :func:`evolve` (its chains one at a time) or :func:`evolve_many` (chains of many
    evolutions stacked), and finished. Its compute time counts what was spent on it:
    its own work, and its share of a stacked cycle."""

    def __init__(self, data, config, seed, chains, cache_dir, device, log):
        check_number("seed", seed, low=0, integer=True)
        self.chains = check_chains(chains)
        self.config, self.seed, self.cache_dir, self.log = config, seed, cache_dir, log
        self.device = device
        self.data = data
        self.run_dir = run_dir_for(config, seed, data, cache_dir, self.chains)
        self.stacked = 1
        self.compiled = None

    def open(self) -> dict | None:
        """The cached (or twin's) result, or None once the run is ready to train."""
        config, seed, chains, device = self.config, self.seed, self.chains, self.device
        final = self.run_dir / "result.json"
        if final.is_file():
            try:
                payload = json.loads(final.read_text())
                result = payload["result"]
                note_run(
                    "sovereign-run", self.run_dir.name, {"seed": seed}, result["seconds"], payload
                )
                return {**result, "cached": True}
            except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
                warnings.warn(f"{final} is unusable ({exc!r}); recomputing", stacklevel=3)
        if replaying():
            raise NotRecorded(
                f"sovereign-run/{self.run_dir.name} is not among the recorded results, and "
                "a replay computes nothing; run the chapter without --replay to compute it"
            )
        ensure_writable(self.run_dir)
        data = self.data = with_taxonomy(self.data, config.taxonomy_seed)
        twin = _unshocked_twin(data, config, seed, self.cache_dir, chains)
        if twin is not None:
            _write_result(self.run_dir, config, seed, chains, device, twin)
            return {**twin, "cached": False}
        start = time.perf_counter()
        alphas = {k: v.to(device) for k, v in build_chains(config, seed, chains).items()}
        self.report_idx = stratified_indices(data.test_y, config.report_test_size, seed=0)
        latest = next(
            (
                (c, ckpt)
                for c in range(config.cycles, -1, -1)
                if (ckpt := _load_checkpoint(self.run_dir, c))
            ),
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
                    f"checkpoint of cycle {done} does not fit ({exc}); restarting", stacklevel=3
                )
                alphas = {k: v.to(device) for k, v in build_chains(config, seed, chains).items()}
                latest = None
            else:
                if self.log:
                    self.log(f"resuming after cycle {done}")
        self.alphas, self.resumed = alphas, latest is not None
        if latest is not None:
            # compute time of the cycles before the resume (recorded in each checkpoint),
            # so a resumed run records what the whole evolution cost
            self.state = state
            self.seconds = float(state.get("seconds", 0.0))
            return None
        self.state = state = {"cycle": 0, "epochs": [], "cycles": [], "alpha_val": {}}
        for chain, net in alphas.items():
            val = evaluate_net(net, data.val_x, data.val_y, data.fine_to_coarse)
            state["alpha_val"][chain] = val["fine"]
        state["cycles"].append(
            cycle_report(0, alphas, data, dict.fromkeys(chains, True), state, self.report_idx)
        )
        self.seconds = time.perf_counter() - start
        state["seconds"] = self.seconds
        _save_checkpoint(self.run_dir, 0, alphas, state)
        return None

    @property
    def next_cycle(self) -> int | None:
        """The cycle to train next (None: all done)."""
        cycle = self.state["cycle"] + 1
        return cycle if cycle <= self.config.cycles else None

    def children(self, cycle: int) -> list[dict]:
        """What each chain trains in ``cycle``: a copy of its alpha with its phase
        detector, and the arguments of :func:`~plasticity.sovereign.train_cycle`."""
        out = []
        for chain in self.chains:
            child = copy_net(self.alphas[chain], self.config)
            child._phase = PhaseDetector(self.config.window, self.config.z_threshold)
            previous = [e for e in self.state["epochs"] if e["chain"] == chain]
            child._phase.ratios = [e["ratio"] for e in previous]
            out.append(
                {
                    "chain": chain,
                    "cycle": cycle,
                    "net": child,
                    "config": self.config,
                    "data": self.data,
                    "first_epoch": (cycle - 1) * self.config.epochs_per_cycle,
                    "seed": seed_for(self.seed, cycle, 7),
                    "previous_gap": previous[-1]["gap"] if previous else None,
                }
            )
        return out

    def end_cycle(self, cycle: int, children: list[dict], logs: list[list[dict]], seconds: float):
        """Select, report and checkpoint after ``cycle``; ``seconds``: its training time."""
        start = time.perf_counter()
        state, alphas = self.state, self.alphas
        accepted = {}
        for child, log in zip(children, logs, strict=True):
            chain, net = child["chain"], child["net"]
            del net._phase
            child_val = log[-1]["val_acc"]
            accepted[chain] = child_val >= state["alpha_val"][chain]
            if accepted[chain]:
                alphas[chain] = net
                state["alpha_val"][chain] = child_val
            state["epochs"].extend({**e, "chain": chain} for e in log)
        state["cycle"] = cycle
        state["cycles"].append(
            cycle_report(cycle, alphas, self.data, accepted, state, self.report_idx)
        )
        self.seconds += seconds + time.perf_counter() - start
        state["seconds"] = self.seconds
        _save_checkpoint(self.run_dir, cycle, alphas, state)
        if self.log:
            r = state["cycles"][-1]
            accs = ", ".join(f"{c} {r[f'{c}_fine']:.2f} %" for c in self.chains)
            self.log(f"cycle {cycle}/{self.config.cycles}: {accs} (test), {self.seconds:.0f} s")

    def partial(self) -> dict:
        return {
            **evolution_result(self.state, self.alphas, self.data, self.config),
            "complete": False,
            "cached": False,
        }

    def finish(self) -> dict:
        start = time.perf_counter()
        result = evolution_result(self.state, self.alphas, self.data, self.config)
        self.seconds += time.perf_counter() - start
        result = {
            **result,
            "complete": True,
            "seconds": self.seconds,
            "resumed": self.resumed,
        }
        if self.stacked > 1:
            result["stacked"] = self.stacked
        if self.compiled is not None:
            result["compiled"] = self.compiled
        _write_result(self.run_dir, self.config, self.seed, self.chains, self.device, result)
        note_run(
            "sovereign-run",
            self.run_dir.name,
            {"seed": self.seed},
            result["seconds"],
            {"device": self.device.type, "determinism": determinism(self.device)},
        )
        return {**result, "cached": False}


def _train(child: dict) -> list[dict]:
    return train_cycle(
        child["net"],
        child["config"],
        child["data"],
        child["cycle"],
        child["first_epoch"],
        child["seed"],
        child["chain"],
        previous_gap=child["previous_gap"],
    )


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

    device = torch.device(device) if device is not None else default_device()
    run = _Evolution(data, config, seed, chains, cache_dir, device, log)
    cached = run.open()
    if cached is not None:
        return cached
    while (cycle := run.next_cycle) is not None:
        start = time.perf_counter()
        children = run.children(cycle)
        logs = [_train(child) for child in children]
        run.end_cycle(cycle, children, logs, time.perf_counter() - start)
        if stop_after_cycle is not None and cycle >= stop_after_cycle and cycle < config.cycles:
            return run.partial()
    return run.finish()


def evolve_many(
    jobs: list[tuple[SovereignData, SovereignConfig, int, tuple[str, ...]]],
    *,
    batch: int = 16,
    cache_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    device: str | torch.device | None = None,
    compile: str | None = None,
) -> list[dict]:
    """:func:`evolve` for every ``(data, config, seed, chains)``, the evolutions in
    lockstep, cycle by cycle: the chains of one kind whose configs share a schedule
    (:func:`plasticity.sovereign.many.stack_key`) train each cycle ``batch`` at a time
    as one computation (:func:`~plasticity.sovereign.many.train_cycle_many`). Each
    evolution is cached as its own entry, under the same key as when run alone, with
    results equal to a run alone to float rounding (a discrete choice, a mask's tie or
    a selection at equal accuracy, can turn on that rounding). A run without the shock
    reuses its shock twin's result where the twin is already cached and its shock never
    fired (as :func:`evolve` does); a twin among ``jobs`` is trained beside it rather
    than waited for: one more chain in a stack costs less than a second lockstep round
    for the runs that waited. ``compile``
    (opt-in, :data:`plasticity.foundations.compute.COMPILE_MODES`) compiles the stacks'
    forward passes; a result trained so records it. ``log`` hears one line a cycle
    (evolutions, chains and stack sizes, time so far).
    """
    from ..foundations.checks import check_choice
    from ..foundations.compute import COMPILE_MODES, default_device
    from ..sovereign.many import architecture, stack_key, train_cycle_many
    from .stacked import group_plan

    check_number("batch", batch, low=1, integer=True)
    check_choice("compile", compile, COMPILE_MODES)
    device = torch.device(device) if device is not None else default_device()
    runs = [_Evolution(d, c, s, ch, cache_dir, device, None) for d, c, s, ch in jobs]
    first = {}  # one computation per key: a job given twice is computed once
    for i, run in enumerate(runs):
        first.setdefault(run.run_dir, i)
    results: list[dict | None] = [None] * len(runs)
    live = []
    for i, run in enumerate(runs):
        if first[run.run_dir] == i:
            results[i] = run.open()
            if results[i] is None:
                live.append(i)
    start_all = time.perf_counter()
    while todo := [i for i in live if runs[i].next_cycle is not None]:
        cycle = min(runs[i].next_cycle for i in todo)
        members = [i for i in todo if runs[i].next_cycle == cycle]
        children = {i: runs[i].children(cycle) for i in members}
        units = [(i, j) for i in members for j in range(len(children[i]))]
        keys = [
            stack_key(children[i][j]["config"], architecture(children[i][j]["net"]))
            for i, j in units
        ]
        logs: dict[tuple[int, int], list[dict]] = {}
        seconds = dict.fromkeys(members, 0.0)
        chunks = group_plan(keys, batch)
        for chunk in chunks:
            group = [units[u] for u in chunk]
            kids = [children[i][j] for i, j in group]
            start = time.perf_counter()
            if len(group) == 1:
                out = [_train(kids[0])]
            else:
                out = train_cycle_many(
                    [c["net"] for c in kids],
                    [c["config"] for c in kids],
                    [c["data"] for c in kids],
                    cycle,
                    kids[0]["first_epoch"],
                    [c["seed"] for c in kids],
                    [c["chain"] for c in kids],
                    [c["previous_gap"] for c in kids],
                    compile=compile,
                )
            share = (time.perf_counter() - start) / len(group)
            for unit, entry in zip(group, out, strict=True):
                logs[unit] = entry
                seconds[unit[0]] += share
                runs[unit[0]].stacked = max(runs[unit[0]].stacked, len(group))
                if len(group) > 1 and compile is not None:
                    runs[unit[0]].compiled = compile
        for i in members:
            entries = [logs[(i, j)] for j in range(len(children[i]))]
            runs[i].end_cycle(cycle, children[i], entries, seconds[i])
        if log:
            sizes = sorted((len(c) for c in chunks), reverse=True)
            log(
                f"cycle {cycle}: {len(members)} evolutions, {len(units)} chains in stacks of "
                f"{', '.join(map(str, sizes))} ({time.perf_counter() - start_all:.0f} s so far)"
            )
    for i in live:
        results[i] = runs[i].finish()
    return [results[first[run.run_dir]] for run in runs]


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
