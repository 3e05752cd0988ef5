"""Every NeuroSovereign run of chapters 9 and 10, declared once.

Per seed, BLIND is trained once with the full configuration and every ablation
changes APEX only, so a variant's change in dHier is APEX's change alone; all
networks of a seed start from the same projection and MLP weights
(:func:`plasticity.sovereign.build_chains`). The controls:

- ``no shock``: lambda_tax constant at 0.15, the paper's "No Shock";
- ``constant lambda 0.7``: the shock's weight on every epoch, no trigger;
- ``lambda 0``: no coarse loss at all (the coarse head is never trained);
- ``no warm-up``, ``no mixer``: the paper's ablations;
- ``gradual pruning (GMP)``: the standard alternative to a one-shot cut;
- ``blind_mixer``: BLIND with a frozen random mixer (a spatial non-linearity that is
  never trained) beside BLIND.

The budget ladder trains APEX and BLIND (full configuration, same seeds) at several
epochs per cycle, to show which way dHier and dStruct move as training grows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, replace

import pandas as pd

from .. import sovereign
from ..data import ImageDataset
from ..engine import sovereign_runs
from ..engine.profiles import Profile, get_profile
from ..sovereign import SovereignConfig, SovereignData

FULL = "full"


#: Chapter 11's probe of the published extractor
#: (:func:`plasticity.engine.sovereign_runs.cached_ceiling`):
#: at most this many MLP epochs per seed (early stopping ends most sooner), 5 on synthetic data.
PROBE_CHAPTER = "11_sovereign_published_code"
PROBE_EPOCHS = 200
SYNTHETIC_PROBE_EPOCHS = 5


def probe_epochs(profile: Profile, max_epochs: int | None = None) -> int:
    """The probe's epoch cap under ``profile`` (``max_epochs`` overrides it on real data)."""
    cap = PROBE_EPOCHS if max_epochs is None else max_epochs
    return min(cap, SYNTHETIC_PROBE_EPOCHS) if profile.synthetic else cap


def base_config(profile: Profile) -> SovereignConfig:
    return SovereignConfig(**profile.sovereign)


def variants(base: SovereignConfig) -> dict[str, SovereignConfig]:
    """APEX's variants (BLIND is always the full configuration)."""
    return {
        FULL: base,
        "no warm-up": replace(base, warmup=0),
        "no shock": replace(base, shock=False),
        "constant lambda 0.7": replace(base, shock=False, lambda_base=base.lambda_shock),
        "lambda 0": replace(base, shock=False, lambda_base=0.0),
        "no mixer": replace(base, mixer=False),
        "gradual pruning (GMP)": replace(base, masks="gradual"),
    }


#: The arm with random superclasses: both APEX and BLIND train on it (section 6.3).
PERMUTED = "permuted superclasses"

#: The seed of the random taxonomy (one fixed draw, the same for every run seed).
TAXONOMY_SEED = 0


def profile_variants(profile: Profile) -> dict[str, SovereignConfig]:
    """The variants a profile runs: ``extras["sovereign_skip"]`` leaves some out;
    ``extras["no_warmup_keeps_l1"]`` keeps L1 for the warm-up's epochs in the "no
    warm-up" arm (so that it removes the warm-up alone); ``extras["sovereign_permuted"]``
    adds the arm with random superclasses."""
    base = base_config(profile)
    out = variants(base)
    if profile.extras.get("no_warmup_keeps_l1"):
        out["no warm-up"] = replace(base, warmup=0, l1_epochs=base.warmup)
    if profile.extras.get("sovereign_permuted"):
        out[PERMUTED] = replace(base, taxonomy_seed=TAXONOMY_SEED)
    skip = set(profile.extras.get("sovereign_skip", ()))
    return {k: v for k, v in out.items() if k not in skip}


def ladder(profile: Profile) -> tuple[int, ...]:
    """Epochs per cycle of the budget ladder (the profile's own budget included)."""
    own = base_config(profile).epochs_per_cycle
    return tuple(sorted({*profile.extras.get("sovereign_ladder", ()), own}))


#: Shock thresholds (points of train - validation gap) of chapter 9's slider: the gap
#: crosses 2 often, 4 (the paper's) now and then, 8 rarely at short budgets.
SHOCK_THRESHOLDS = (2.0, 4.0, 8.0)


def threshold_grid(profile: Profile) -> tuple[float, ...]:
    """The shock thresholds chapter 9 computes (APEX, first seed), its own included."""
    own = base_config(profile).shock_threshold
    return tuple(sorted({*profile.extras.get("shock_thresholds", SHOCK_THRESHOLDS), own}))


def grid(profile: Profile) -> list[dict]:
    """Every evolution: chapter, label, variant, chain, config and seed."""
    base = base_config(profile)
    out = []
    for seed in profile.sovereign_seeds:
        out.append(
            {
                "chapter": "09_sovereign_evolution",
                "variant": FULL,
                "chain": "blind",
                "config": base,
                "seed": seed,
            }
        )
        out.append(
            {
                "chapter": "09_sovereign_evolution",
                "variant": FULL,
                "chain": "apex",
                "config": base,
                "seed": seed,
            }
        )
        out.append(
            {
                "chapter": "10_sovereign_ablation",
                "variant": FULL,
                "chain": "blind_mixer",
                "config": base,
                "seed": seed,
            }
        )
        for name, cfg in profile_variants(profile).items():
            if name == FULL:
                continue
            # BLIND is fixed (the full configuration) except where the data change:
            # with random superclasses both chains train on them
            for chain in ("apex", "blind") if name == PERMUTED else ("apex",):
                out.append(
                    {
                        "chapter": "10_sovereign_ablation",
                        "variant": name,
                        "chain": chain,
                        "config": cfg,
                        "seed": seed,
                    }
                )
        for epochs in ladder(profile):
            if epochs == base.epochs_per_cycle:
                continue
            cfg = replace(base, epochs_per_cycle=epochs, warmup=_scaled_warmup(base, epochs))
            for chain in ("apex", "blind"):
                out.append(
                    {
                        "chapter": "10_sovereign_ablation",
                        "variant": f"ladder {epochs}",
                        "chain": chain,
                        "config": cfg,
                        "seed": seed,
                    }
                )
    first = profile.sovereign_seeds[0]
    for threshold in threshold_grid(profile):
        if threshold != base.shock_threshold:
            out.append(
                {
                    "chapter": "09_sovereign_evolution",
                    "variant": f"shock threshold {threshold:g}",
                    "chain": "apex",
                    "config": replace(base, shock_threshold=threshold),
                    "seed": first,
                }
            )
    for run in out:
        run["label"] = f"{run['variant']}, {run['chain']}, seed {run['seed']}"
    return out


def _scaled_warmup(base: SovereignConfig, epochs: int) -> int:
    """The warm-up at the same share of training as in ``base``."""
    share = base.warmup / base.total_epochs
    return max(1, round(share * base.cycles * epochs)) if base.warmup else 0


def work_units(config: dict, chains) -> float:
    """Training work of an evolution in thousands of image-epochs per chain."""
    cfg = SovereignConfig(**{**config, "curriculum": tuple(map(tuple, config["curriculum"]))})
    per_chain = sum(
        cfg.epochs_per_cycle * cfg.train_size(c, 50000 - cfg.val_size) / 1000
        for c in range(1, cfg.cycles + 1)
    )
    return per_chain * len(chains or sovereign.CHAINS)


def evolve(run: dict, data: SovereignData, cache_dir=None, log=None) -> dict:
    return sovereign_runs.evolve(
        data, run["config"], run["seed"], chains=(run["chain"],), cache_dir=cache_dir, log=log
    )


def runs(
    profile: Profile,
    wanted: Callable[[str], bool],
    load_cifar100: Callable[[], ImageDataset],
    *,
    cache_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """The plan's entries for chapters 9, 10 and 11 (see :mod:`plasticity.book.plan`);
    ``load_cifar100()`` gives the data set, called only when a run needs it."""
    chosen = [r for r in grid(profile) if wanted(r["chapter"])]
    if wanted("10_sovereign_ablation") and not wanted("09_sovereign_evolution"):
        chosen = grid(profile)  # chapter 10 compares against chapter 9's runs
    probes = wanted(PROBE_CHAPTER)
    if not chosen and not probes:
        return []
    ds = load_cifar100()
    holder: dict[int, SovereignData] = {}

    def data_for(config: SovereignConfig) -> SovereignData:
        if config.val_size not in holder:
            holder[config.val_size] = SovereignData.from_dataset(ds, config.val_size)
        return holder[config.val_size]

    out = []
    for r in chosen:
        key = sovereign_runs.run_key(r["config"], r["seed"], ds.fingerprint, (r["chain"],))
        out.append(
            {
                "kind": "sovereign-run",
                "key": key,
                "label": r["label"],
                "units": work_units(asdict(r["config"]), (r["chain"],)),
                "compute": lambda r=r: evolve(r, data_for(r["config"]), cache_dir),
                "job": lambda r=r: (
                    "sovereign-run",
                    data_for(r["config"]),
                    r["config"],
                    r["seed"],
                    (r["chain"],),
                    cache_dir,
                ),
                "order": 2,
                "chapter": r["chapter"],
            }
        )
    if probes:
        from ..engine.cache import cache_key

        epochs = probe_epochs(profile)
        val_size = base_config(profile).val_size
        for seed in profile.sovereign_seeds:
            config = sovereign_runs.ceiling_config(
                ds.fingerprint, val_size, max_epochs=epochs, seed=seed
            )
            out.append(
                {
                    "kind": "sovereign-probe",
                    "key": cache_key("sovereign-probe", config, sovereign.VERSION),
                    "label": f"published extractor probe, seed {seed}",
                    "units": epochs,
                    "compute": lambda seed=seed: sovereign_runs.cached_ceiling(
                        data_for(base_config(profile)),
                        max_epochs=epochs,
                        seed=seed,
                        cache_dir=cache_dir,
                    ),
                    "order": 2,
                    "chapter": PROBE_CHAPTER,
                }
            )
    return out


def run_all(
    profile: str | Profile,
    data: SovereignData,
    cache_dir=None,
    log=None,
    chapter: str | None = None,
) -> dict[tuple[str, str, int], dict]:
    """Every evolution of the grid (or of one chapter), from the cache or computed:
    ``{(variant, chain, seed): result}``."""
    prof = get_profile(profile)
    out = {}
    for r in grid(prof):
        if chapter is not None and r["chapter"] != chapter:
            continue
        out[(r["variant"], r["chain"], r["seed"])] = evolve(r, data, cache_dir, log)
    return out


def _schedule(config: SovereignConfig | None) -> dict:
    """The schedule a verdict needs to tell whether a run exercised a mechanism."""
    if config is None:
        return {"warmup_epochs": math.nan, "phase_window": math.nan}
    return {"warmup_epochs": config.warmup, "phase_window": config.window}


def ablation_runs(results: dict, profile: Profile | str | None = None) -> pd.DataFrame:
    """One row per (variant, seed): APEX's fine and coarse accuracy, the fixed
    BLIND's, the deltas, what the shock and the masks did, and (given the profile)
    each variant's warm-up and phase window."""
    configs = profile_variants(get_profile(profile)) if profile is not None else {}
    rows = []
    for (variant, chain, seed), r in results.items():
        if chain != "apex" or variant.startswith(("ladder", "shock threshold")):
            continue
        own = results.get((variant, "blind", seed)) if variant == PERMUTED else None
        blind = (own or results[(FULL, "blind", seed)])["benchmark"]["blind"]
        apex = r["benchmark"]["apex"]
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                "apex_fine": apex["fine"],
                "apex_coarse": apex["coarse_head"],
                "blind_fine": blind["fine"],
                "blind_coarse": blind["coarse_head"],
                "d_struct": apex["fine"] - blind["fine"],
                "d_hier": apex["coarse_head"] - blind["coarse_head"],
                "apex_sparsity": r["sparsity"]["apex"],
                "shock_epochs": r["shock_epochs"]["apex"],
                "epochs": len([e for e in r["epochs"] if e["chain"] == "apex"]),
                "apex_shifting": r["phases"]["apex"]["SHIFTING"],
                "reused_full_run": bool(r.get("same_as_shock_run")),
                **_schedule(configs.get(variant)),
            }
        )
    return pd.DataFrame(rows)


def control_runs(results: dict) -> pd.DataFrame:
    """BLIND and BLIND with a frozen random mixer, per seed (full configuration)."""
    rows = []
    for (variant, chain, seed), r in results.items():
        if variant == FULL and chain in ("blind", "blind_mixer"):
            b = r["benchmark"][chain]
            rows.append(
                {"network": chain, "seed": seed, "fine": b["fine"], "coarse": b["coarse_head"]}
            )
    return pd.DataFrame(rows)


def ladder_runs(results: dict, profile: Profile) -> pd.DataFrame:
    """dHier and dStruct per seed at each budget of the ladder."""
    base = base_config(profile)
    rows = []
    for seed in profile.sovereign_seeds:
        for epochs in ladder(profile):
            variant = FULL if epochs == base.epochs_per_cycle else f"ladder {epochs}"
            apex = results[(variant, "apex", seed)]["benchmark"]["apex"]
            blind = results[(variant, "blind", seed)]["benchmark"]["blind"]
            rows.append(
                {
                    "epochs_per_cycle": epochs,
                    "total_epochs": base.cycles * epochs,
                    "seed": seed,
                    "d_hier": apex["coarse_head"] - blind["coarse_head"],
                    "d_struct": apex["fine"] - blind["fine"],
                    "apex_fine": apex["fine"],
                    "blind_fine": blind["fine"],
                }
            )
    return pd.DataFrame(rows)
