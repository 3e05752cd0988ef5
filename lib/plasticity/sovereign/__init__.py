"""The NeuroSovereign v15.4 system: APEX and BLIND on CIFAR-100 with fine and coarse heads.

Modules, from the bottom up: :mod:`.config` (the paper's settings, nets, chains,
ablations), :mod:`.model` (patch extractor, gated token mixer, taxonomic MLP),
:mod:`.spectra` (spectral entropy, effective rank, L_mon), :mod:`.mechanisms` (shock,
masks and their warm-up, phase detection), :mod:`.split` (train / validation / test with
coarse labels), :mod:`.cycle` (one evolutionary cycle), :mod:`.many` (one cycle of many
chains stacked into one computation), :mod:`.probe` (chapter 11's probe on a frozen
extractor).

This package knows nothing of caching, scheduling, verdicts or pages: the engine
(:mod:`plasticity.engine.sovereign_runs`) runs its evolutions cycle by cycle.
"""

from .config import (
    CHAINS,
    MASK_MODES,
    NETS,
    VERSION,
    SovereignConfig,
    ablation_configs,
)
from .cycle import build_chains, build_net, evaluate_net, train_cycle
from .mechanisms import (
    PhaseDetector,
    gradual_sparsity,
    mask_sparsity,
    phase_null,
    phase_shares,
    set_magnitude_masks,
    shock_lambda,
)
from .model import GatedTokenMixer, PatchFeatureExtractor, SovereignNet, TaxonomicMLP
from .probe import frozen_extractor_ceiling
from .spectra import l_mon, spectral_terms, spectral_weights
from .split import SovereignData, random_taxonomy, stratified_indices, with_taxonomy

__all__ = [
    "CHAINS",
    "MASK_MODES",
    "NETS",
    "VERSION",
    "GatedTokenMixer",
    "PatchFeatureExtractor",
    "PhaseDetector",
    "SovereignConfig",
    "SovereignData",
    "random_taxonomy",
    "with_taxonomy",
    "SovereignNet",
    "TaxonomicMLP",
    "ablation_configs",
    "build_chains",
    "build_net",
    "evaluate_net",
    "frozen_extractor_ceiling",
    "gradual_sparsity",
    "l_mon",
    "mask_sparsity",
    "phase_null",
    "phase_shares",
    "set_magnitude_masks",
    "shock_lambda",
    "spectral_terms",
    "spectral_weights",
    "stratified_indices",
    "train_cycle",
]
