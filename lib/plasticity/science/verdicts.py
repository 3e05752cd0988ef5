"""Verdict rules with uncertainty, fixed before any number is seen.

Every rule reads an :class:`Estimate` (n seeds, mean, sample std and 95 % t interval)
and returns one of:

- ``reproduces``: the whole 95 % interval supports the claim;
- ``does not reproduce``: the whole interval contradicts it;
- ``inconclusive``: the interval spans both, or there are fewer than
  :data:`MIN_SEEDS` seeds, or the seeds show no spread at all (identical values mean
  the seeds varied nothing, so n is effectively 1);
- ``not comparable``: the run's budget or protocol differs from the seed's (decided
  by the claim before its rule is applied).

``not measured`` is reserved for a claim whose table is missing; the book's contract
test fails on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from . import stats

REPRODUCES = "reproduces"
FAILS = "does not reproduce"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"
NOT_MEASURED = "not measured"
VERDICTS = (REPRODUCES, FAILS, INCONCLUSIVE, NOT_COMPARABLE, NOT_MEASURED)

#: Fewer seeds than this never decide a verdict.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Estimate:
    """n values summarised: mean, sample std and the 95 % t interval of the mean."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    #: the interval's confidence (0.95 unless a rule asks for a wider one)
    confidence: float = 0.95

    @property
    def ci(self) -> str:
        """How the rules name the interval: "95 % CI", "99 % CI"."""
        return f"{100 * self.confidence:.0f} % CI"

    def text(self, unit: str = "", digits: int = 1) -> str:
        if self.n == 0:
            return "no data"
        f = f"{{:.{digits}f}}"
        mean = f.format(self.mean) + unit
        if self.n < 2 or not math.isfinite(self.ci_low):
            return f"{mean} (n = {self.n})"
        return f"{mean} [{f.format(self.ci_low)}, {f.format(self.ci_high)}] (n = {self.n})"


def estimate(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """The :class:`Estimate` of ``values`` (NaNs dropped); the interval is at
    ``confidence`` (the rules name it in their reasons; wider when stated, e.g. a
    Bonferroni correction over several candidates)."""
    s = stats.summarize([float(v) for v in values], confidence)
    return Estimate(s["n"], s["mean"], s["std"], s["ci_low"], s["ci_high"], confidence)


def _guard(est: Estimate) -> str | None:
    if est.n < MIN_SEEDS:
        return f"n = {est.n} < {MIN_SEEDS} seeds"
    if est.std == 0:
        return "no spread across seeds: they varied nothing, so n is effectively 1"
    return None


def above(est: Estimate, level: float) -> tuple[str, str]:
    """The claim: the quantity exceeds ``level``."""
    if (g := _guard(est)) is not None:
        return INCONCLUSIVE, g
    if est.ci_low > level:
        return REPRODUCES, f"{est.ci} above {level:g}"
    if est.ci_high < level:
        return FAILS, f"{est.ci} below {level:g}"
    return INCONCLUSIVE, f"{est.ci} spans {level:g}"


def below(est: Estimate, level: float) -> tuple[str, str]:
    """The claim: the quantity is below ``level``."""
    if (g := _guard(est)) is not None:
        return INCONCLUSIVE, g
    if est.ci_high < level:
        return REPRODUCES, f"{est.ci} below {level:g}"
    if est.ci_low > level:
        return FAILS, f"{est.ci} above {level:g}"
    return INCONCLUSIVE, f"{est.ci} spans {level:g}"


def magnitude(est: Estimate, target: float, margin: float) -> tuple[str, str]:
    """Two-sided: the claim is the number ``target``; agreement within ``margin``.

    Reproduces if the whole interval lies in ``target +- margin``; does not reproduce
    if the whole interval lies outside it (too small *or* too large: overshooting a
    magnitude does not confirm it); inconclusive otherwise.
    """
    if (g := _guard(est)) is not None:
        return INCONCLUSIVE, g
    low, high = target - margin, target + margin
    band = f"[{low:g}, {high:g}]"
    if low <= est.ci_low and est.ci_high <= high:
        return REPRODUCES, f"{est.ci} inside {band}"
    if est.ci_high < low or est.ci_low > high:
        return FAILS, f"{est.ci} outside {band}"
    return INCONCLUSIVE, f"{est.ci} overlaps the edge of {band}"


def noninferior(est: Estimate, margin: float) -> tuple[str, str]:
    """The claim: A works as well as B; ``est`` is A - B, allowed to fall ``margin``
    short. Reproduces if the interval lies above ``-margin``; fails if below it."""
    return above(est, -margin)


def image_guard(
    lost_points: Sequence[float], min_images: int = 50, test_images: int = 10000
) -> str | None:
    """Recovery % divides by the accuracy the damage cost; below ``min_images`` test
    images on any seed that ratio is noise, and no verdict is drawn."""
    worst = min(lost_points) if len(lost_points) else math.nan
    images = worst * test_images / 100
    if not math.isfinite(worst) or images < min_images:
        return (
            f"the damage cost as little as {worst:.2f} points ({images:.0f} test images) "
            f"on one seed; recovery % needs >= {min_images} images"
        )
    return None
