"""Benchmarks (not tests) that print numbers: training throughput, the seed's published
script beside the book, this machine's peak and each phase's share of it, stacked
repairs, worker processes. ``python -m plasticity bench ...`` runs them."""

from .protocol import protocol_ratio, vshape_protocol
from .published import (
    PUBLISHED_TEST_LOOPS,
    PilDataset,
    Restarting,
    naive_repair,
    published_loaders,
    published_repair_steps,
    published_test_loop,
    published_train_steps,
)
from .rates import (
    SPECTRAL_SHAPES,
    grid_rates,
    machine_peak,
    phase_rates,
    phase_work,
    profile_repair,
    sovereign_stack_rates,
    sovereign_step_rates,
    spectral_rates,
    stability_cnn_flops,
)
from .throughput import book_train_steps, train_throughput
from .workers import worker_rates

__all__ = [
    "PUBLISHED_TEST_LOOPS",
    "PilDataset",
    "Restarting",
    "book_train_steps",
    "grid_rates",
    "machine_peak",
    "naive_repair",
    "phase_rates",
    "phase_work",
    "profile_repair",
    "protocol_ratio",
    "published_loaders",
    "published_repair_steps",
    "published_test_loop",
    "published_train_steps",
    "SPECTRAL_SHAPES",
    "sovereign_stack_rates",
    "sovereign_step_rates",
    "spectral_rates",
    "stability_cnn_flops",
    "train_throughput",
    "vshape_protocol",
    "worker_rates",
]
