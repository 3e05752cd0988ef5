"""What a pruned Lazarus network costs to store: dense fp32 beside two lossless sparse
formats, computed from the layer shapes and the share of weights that are exactly zero.

* dense: 4 bytes per parameter;
* CSR: each weight matrix (a convolution's kernel flattened per output channel) as
  4-byte values, 4-byte column indices and 4-byte row pointers; biases dense;
* bitmap: 4-byte values of the non-zero weights and one bit per weight saying which
  are non-zero; biases dense.

The manifesto's "5x compression" (§3, §5) counts the weights left after 80 % pruning; the
bytes a device stores are what these formats measure.
"""

from __future__ import annotations

import math

from ..foundations.checks import check_number

#: The StabilityCNN's weight matrices as (rows, columns) and its bias count.
LAZARUS_WEIGHTS = ((32, 27), (64, 288), (256, 4096), (10, 256))
LAZARUS_BIASES = 32 + 64 + 256 + 10
FORMATS = ("dense", "csr", "bitmap")


def storage_bytes(
    sparsity_pct: float,
    weights: tuple[tuple[int, int], ...] = LAZARUS_WEIGHTS,
    biases: int = LAZARUS_BIASES,
) -> dict[str, float]:
    """Bytes of the network in each of :data:`FORMATS` when ``sparsity_pct`` % of its
    weights (all matrices together) are exactly zero."""
    check_number("sparsity_pct", sparsity_pct, low=0, high=100)
    n = sum(r * c for r, c in weights)
    nonzero = round(n * (1 - sparsity_pct / 100))
    rows = sum(r + 1 for r, _ in weights)
    return {
        "dense": 4.0 * (n + biases),
        "csr": 8.0 * nonzero + 4.0 * rows + 4.0 * biases,
        "bitmap": 4.0 * nonzero + math.ceil(n / 8) + 4.0 * biases,
        "nonzero_weights": float(nonzero),
        "weights": float(n),
    }


def storage_table(rows) -> list[dict]:
    """One row per (condition, seed, sparsity): the bytes of each format and the
    compression of the best lossless one against dense fp32, beside the ratio of
    weights kept (what "5x" counts)."""
    out = []
    for condition, seed, sparsity in rows:
        b = storage_bytes(float(sparsity))
        best = min(b["dense"], b["csr"], b["bitmap"])
        out.append(
            {
                "condition": condition,
                "seed": int(seed),
                "sparsity_pct": float(sparsity),
                "dense_bytes": b["dense"],
                "csr_bytes": b["csr"],
                "bitmap_bytes": b["bitmap"],
                "compression_bytes": b["dense"] / best,
                "compression_weights": b["weights"] / max(b["nonzero_weights"], 1.0),
            }
        )
    return out
