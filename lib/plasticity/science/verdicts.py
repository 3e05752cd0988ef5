"""Verdict rules with uncertainty, written down before the runs they judge.

Every rule reads an :class:`Estimate` (n seeds, mean, sample std and 95 % t interval)
and returns one of:

- ``reproduces``: the whole 95 % interval supports the claim;
- ``does not reproduce``: the whole interval contradicts it;
- ``inconclusive``: the interval spans both, or there are fewer than
  :data:`MIN_SEEDS` seeds, or the seeds show no spread at all (identical values mean
  the seeds varied nothing, so n is effectively 1);
- ``not comparable``: the run's budget or protocol differs from the seed's, the
  profile's schedule cannot exercise the mechanism, or the damage differs too much from
  the seed's for a number in points to be compared (decided by the claim before its
  rule is applied).

Claims of a *preference* ("A works better than B") and of *no difference* can be
refuted: :func:`preference` and :func:`equivalent` use two one-sided tests (TOST) at
5 %, i.e. the 90 % interval against a margin the seed's own numbers put within noise.

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

    def interval(self, confidence: float) -> tuple[float, float]:
        """The t interval of the mean at another ``confidence`` (same n, mean, std)."""
        half = stats.t_half_width(self.std, self.n, confidence)
        return self.mean - half, self.mean + half

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
    band = f"[{round(low, 9) + 0.0:.4g}, {round(high, 9) + 0.0:.4g}]"  # + 0.0: no "-0"
    if low <= est.ci_low and est.ci_high <= high:
        return REPRODUCES, f"{est.ci} inside {band}"
    if est.ci_high < low or est.ci_low > high:
        return FAILS, f"{est.ci} outside {band}"
    return INCONCLUSIVE, f"{est.ci} overlaps the edge of {band}"


def noninferior(est: Estimate, margin: float) -> tuple[str, str]:
    """The claim: A works as well as B; ``est`` is A - B, allowed to fall ``margin``
    short. Reproduces if the interval lies above ``-margin``; fails if below it."""
    return above(est, -margin)


def tost_confidence(est: Estimate) -> float:
    """The interval two one-sided tests read: 90 % for a 95 % estimate (each test at
    5 %), 98 % for a 99 % one."""
    return 1 - 2 * (1 - est.confidence)


def equivalent(est: Estimate, margin: float) -> bool:
    """Two one-sided tests (TOST): the :func:`tost_confidence` interval lies inside
    ``+-margin``."""
    low, high = est.interval(tost_confidence(est))
    return math.isfinite(low) and -margin <= low and high <= margin


def _tost(est: Estimate) -> str:
    return f"{100 * tost_confidence(est):.0f} % CI"


def preference(est: Estimate, margin: float, unit: str = " points") -> tuple[str, str]:
    """The claim: A works better than B; ``est`` is A - B, and a difference within
    ``+-margin`` counts as none (a minimum-effect rule).

    Reproduces if the whole 95 % interval lies above ``+margin`` (the effect is larger
    than no difference); does not reproduce if A and B are equivalent (TOST: the 90 %
    interval of a 95 % estimate lies inside ``+-margin``) or the whole 95 % interval lies
    below 0; inconclusive otherwise. As seeds are added the interval narrows around the
    true difference, so the verdict only ever moves from inconclusive towards the truth:
    "reproduces" for a true effect above the margin, "does not reproduce" below it.
    """
    if (g := _guard(est)) is not None:
        return INCONCLUSIVE, g
    if est.ci_low > margin:
        return REPRODUCES, f"{est.ci} above the +{margin:g}{unit} of no difference"
    if equivalent(est, margin):
        return FAILS, f"{_tost(est)} inside +-{margin:g}{unit}: equivalent (TOST), no preference"
    if est.ci_high < 0:
        return FAILS, f"{est.ci} below 0: the other way round"
    return (
        INCONCLUSIVE,
        f"{est.ci} not above +{margin:g}{unit} and the {_tost(est)} not inside +-{margin:g}{unit}",
    )


PREFERENCE_RULE = (
    "reproduces if the 95 % CI lies above +{margin} (more than no difference); does not "
    "reproduce if equivalent within +-{margin} (TOST, 90 % CI) or the 95 % CI is below 0"
)


def preference_rule(margin: float, unit: str = " points") -> str:
    """The words of :func:`preference` for a claim's rule column."""
    return PREFERENCE_RULE.format(margin=f"{margin:g}{unit}")


def hypothetical(est: Estimate, n: int) -> Estimate:
    """``est`` as it would read from ``n`` seeds with the same mean and spread."""
    half = stats.t_half_width(est.std, n, est.confidence)
    return Estimate(n, est.mean, est.std, est.mean - half, est.mean + half, est.confidence)


#: Beyond this many seeds a verdict is called undecidable at the observed spread.
MAX_SEEDS = 1000


def seeds_to_decide(est: Estimate, rule) -> int | None:
    """About how many seeds would decide an inconclusive verdict, if the mean and the
    spread stayed as observed: the smallest n at which ``rule`` (a function of an
    :class:`Estimate`) decides; None when even :data:`MAX_SEEDS` would not (the mean
    sits on a boundary of the rule) or the spread is unknown. Every rule here only
    narrows towards a decision as n grows, so a bisection finds it."""
    if est.n < 2 or not math.isfinite(est.std) or est.std <= 0 or not math.isfinite(est.mean):
        return None

    def decided(n: int) -> bool:
        return rule(hypothetical(est, n))[0] in (REPRODUCES, FAILS)

    low, high = max(est.n, MIN_SEEDS), MAX_SEEDS
    if not decided(high):
        return None
    if decided(low):
        return low
    while high - low > 1:
        mid = (low + high) // 2
        if decided(mid):
            high = mid
        else:
            low = mid
    return high


def prediction_interval(est: Estimate, confidence: float = 0.95) -> tuple[float, float]:
    """Where one more run would fall: mean +- t * s * sqrt(1 + 1/n)."""
    if est.n < 2 or not math.isfinite(est.std):
        return math.nan, math.nan
    half = stats.t_half_width(est.std, est.n, confidence) * math.sqrt(est.n + 1)
    return est.mean - half, est.mean + half


def single_run(est: Estimate, seed_value: float) -> tuple[str, str]:
    """The seed reports one unseeded run: is it a run these seeds could have given?
    Reproduces if ``seed_value`` lies inside the book's 95 % prediction interval for one
    run; does not reproduce if outside."""
    if (g := _guard(est)) is not None:
        return INCONCLUSIVE, g
    low, high = prediction_interval(est)
    band = f"[{low:.3g}, {high:.3g}]"
    if low <= seed_value <= high:
        return REPRODUCES, f"the seed's single run {seed_value:g} lies inside our 95 % PI {band}"
    return FAILS, f"the seed's single run {seed_value:g} lies outside our 95 % PI {band}"


def no_difference(est: Estimate, margin: float, unit: str = " points") -> tuple[str, str]:
    """The claim: A and B do not differ (``est`` is A - B) by more than ``margin``.

    Reproduces if they are equivalent (90 % interval inside ``+-margin``); does not
    reproduce if the whole 95 % interval lies outside ``+-margin``; inconclusive
    otherwise.
    """
    if (g := _guard(est)) is not None:
        return INCONCLUSIVE, g
    if equivalent(est, margin):
        return REPRODUCES, f"{_tost(est)} inside +-{margin:g}{unit}: equivalent (TOST)"
    if est.ci_low > margin or est.ci_high < -margin:
        return FAILS, f"{est.ci} wholly outside +-{margin:g}{unit}"
    return INCONCLUSIVE, f"{est.ci} not inside +-{margin:g}{unit} and not wholly outside"


def image_guard(
    lost_points: Sequence[float], min_images: int = 50, test_images: int = 10000
) -> str | None:
    """Recovery % divides by the accuracy the damage cost; when the damage costs fewer
    than ``min_images`` test images *on average over the seeds*, that ratio is noise
    and no verdict is drawn. The mean, unlike the worst seed, does not get stricter as
    seeds are added."""
    values = [float(x) for x in lost_points if math.isfinite(float(x))]
    mean = sum(values) / len(values) if values else math.nan
    images = mean * test_images / 100
    if not math.isfinite(mean) or images < min_images:
        return (
            f"the damage cost {mean:.2f} points ({images:.0f} test images) on average over "
            f"the seeds; recovery % needs >= {min_images} images"
        )
    return None
