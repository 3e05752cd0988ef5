"""Statistics across seeds (the per-run metrics are in :mod:`plasticity.lazarus.metrics`).

* mean, sample std (ddof = 1), a 95 % t confidence interval, and paired tests across
  seeds (paired t-test and Wilcoxon signed-rank).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def t_half_width(std: float, n: int, confidence: float = 0.95) -> float:
    """Half the width of the t interval of a mean of ``n`` values with sample std
    ``std`` at ``confidence`` (NaN for fewer than two values)."""
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must lie in (0, 1)")
    if n < 2:
        return math.nan
    return float(stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * std / math.sqrt(n))


def summarize(values: Sequence[float], confidence: float = 0.95) -> dict:
    """n, mean, sample std (ddof 1), population std (ddof 0) and a t interval at
    ``confidence`` (95 % unless stated)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    n = len(x)
    if n == 0:
        return {
            "n": 0,
            "mean": math.nan,
            "std": math.nan,
            "std_pop": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
        }
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    half = t_half_width(std, n, confidence)
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "std_pop": float(x.std(ddof=0)),
        "ci_low": mean - half,
        "ci_high": mean + half,
    }


def paired_test(a: Sequence[float], b: Sequence[float]) -> dict:
    """Paired comparison of ``a`` against ``b`` (same seeds): mean difference and p-values.

    Returns the mean and 95 % interval of ``a - b``, the two-sided paired t-test
    p-value, and the exact Wilcoxon signed-rank p-value; both NaN when every difference
    is the same (no spread: nothing to test against).
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {len(x)} vs {len(y)}")
    diff = x - y
    out = {f"diff_{k}": v for k, v in summarize(diff).items()}
    # Identical differences (zero spread) make the t statistic infinite: p would read
    # 0 although the seeds carry no information about the spread. Report NaN instead.
    if len(diff) < 2 or np.all(diff == diff[0]):
        out.update(t_p=math.nan, wilcoxon_p=math.nan)
        return out
    out["t_p"] = float(stats.ttest_rel(x, y).pvalue)
    try:
        out["wilcoxon_p"] = float(stats.wilcoxon(x, y).pvalue)
    except ValueError:
        out["wilcoxon_p"] = math.nan
    return out
