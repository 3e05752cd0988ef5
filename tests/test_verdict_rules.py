"""The verdict rules simulated on synthetic per-seed data: their error rates at a true
effect below, at and above the claim's margin, and that a verdict only ever moves from
"inconclusive" towards the truth as seeds are added."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plasticity.science import claims, verdicts
from plasticity.science.verdicts import FAILS, INCONCLUSIVE, REPRODUCES

NS = (3, 5, 10, 20, 40)
REPS = 300
#: Monte Carlo slack on a rate estimated from REPS draws (about 3 standard errors at 5 %).
SLACK = 0.04


def _rates(rule, truth: float, n: int, sd: float = 1.0, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed + 1000 * n)
    counts = dict.fromkeys((REPRODUCES, FAILS, INCONCLUSIVE), 0)
    for _ in range(REPS):
        est = verdicts.estimate(rng.normal(truth, sd, n))
        counts[rule(est)[0]] += 1
    return {k: c / REPS for k, c in counts.items()}


MARGIN = 1.0


def _preference(est):
    return verdicts.preference(est, MARGIN)


@pytest.mark.parametrize("truth", [0.0, 0.5, 1.0])
def test_preference_rarely_reproduces_an_effect_within_its_margin(truth):
    for n in NS:
        assert _rates(_preference, truth, n)[REPRODUCES] <= 0.05 + SLACK, (truth, n)


@pytest.mark.parametrize("truth", [2.0, 3.0])
def test_preference_rarely_refutes_an_effect_beyond_its_margin(truth):
    for n in NS:
        assert _rates(_preference, truth, n)[FAILS] <= 0.05 + SLACK, (truth, n)


@pytest.mark.parametrize("truth, correct", [(0.0, FAILS), (0.3, FAILS), (2.5, REPRODUCES)])
def test_preference_converges_to_the_truth_as_seeds_are_added(truth, correct):
    rates = [_rates(_preference, truth, n)[correct] for n in NS]
    for a, b in zip(rates, rates[1:], strict=False):
        assert b >= a - SLACK, rates  # never moves away from the truth
    assert rates[-1] >= 0.8, rates


def test_preference_never_reproduces_with_its_interval_inside_the_margin():
    rng = np.random.default_rng(7)
    for _ in range(2000):
        est = verdicts.estimate(rng.normal(rng.uniform(-1, 3), rng.uniform(0.1, 2), 8))
        if verdicts.preference(est, MARGIN)[0] == REPRODUCES:
            assert est.ci_low > MARGIN


def _magnitude(est):
    return verdicts.magnitude(est, 10.0, 1.0)


@pytest.mark.parametrize("truth, wrong", [(10.0, FAILS), (10.5, FAILS), (12.5, REPRODUCES)])
def test_magnitude_error_rates(truth, wrong):
    for n in NS:
        assert _rates(_magnitude, truth, n)[wrong] <= 0.05 + SLACK, (truth, n)


def test_above_error_rates_and_convergence():
    def rule(e):
        return verdicts.above(e, 0.0)

    for n in NS:
        assert _rates(rule, -0.5, n)[REPRODUCES] <= 0.025 + SLACK
        assert _rates(rule, 0.5, n)[FAILS] <= 0.025 + SLACK
    assert _rates(rule, 0.8, 40)[REPRODUCES] >= 0.9


def test_a_single_seed_run_drawn_like_ours_reproduces_about_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    for n in (5, 10, 40):
        hits = 0
        for _ in range(REPS):
            est = verdicts.estimate(rng.normal(0, 1, n))
            hits += verdicts.single_run(est, float(rng.normal(0, 1)))[0] == REPRODUCES
        assert abs(hits / REPS - 0.95) <= SLACK + 0.01, (n, hits / REPS)


RULES = {
    "preference": lambda e: verdicts.preference(e, 1.0),
    "no_difference": lambda e: verdicts.no_difference(e, 1.0),
    "magnitude": lambda e: verdicts.magnitude(e, 0.0, 1.0),
    "above": lambda e: verdicts.above(e, 0.5),
    "below": lambda e: verdicts.below(e, 0.5),
    "noninferior": lambda e: verdicts.noninferior(e, 1.0),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_a_verdict_once_decided_stays_decided_as_seeds_are_added(name):
    """For a fixed mean and spread the verdict as a function of n is inconclusive up to
    some n and then one decided verdict for good: never decided -> inconclusive, never
    one decided verdict -> the other."""
    rule = RULES[name]
    for mean in np.linspace(-3, 3, 25):
        for std in (0.3, 1.0, 2.5):
            base = verdicts.Estimate(3, float(mean), std, np.nan, np.nan)
            seen = [
                rule(verdicts.hypothetical(base, n))[0] for n in (3, 4, 6, 10, 20, 40, 100, 400)
            ]
            decided = [x for x in seen if x != INCONCLUSIVE]
            assert len(set(decided)) <= 1, (name, mean, std, seen)
            if decided:
                first = seen.index(decided[0])
                assert all(x != INCONCLUSIVE for x in seen[first:]), (name, mean, std, seen)


def test_seeds_to_decide_is_the_first_n_that_decides():
    rule = RULES["preference"]
    est = verdicts.estimate([1.3, 1.9, 1.1, 2.2, 0.9])  # mean 1.48 against a margin of 1
    assert rule(est)[0] == INCONCLUSIVE
    n = verdicts.seeds_to_decide(est, rule)
    assert n is not None and n > est.n
    assert rule(verdicts.hypothetical(est, n))[0] == REPRODUCES
    assert rule(verdicts.hypothetical(est, n - 1))[0] == INCONCLUSIVE
    on_edge = verdicts.Estimate(5, 1.0, 1.0, 0.0, 2.0)  # the mean on the margin itself
    assert verdicts.seeds_to_decide(on_edge, rule) is None


def test_an_inconclusive_finding_says_how_many_seeds_would_decide_it():
    est = verdicts.estimate([1.3, 1.9, 1.1, 2.2, 0.9])
    f = claims.judge_finding(est, "", None, RULES["preference"], " points")
    assert f.verdict == INCONCLUSIVE and "seeds would decide it" in f.reason


def test_stability_counts_leave_one_out_subsets_and_names_the_seed_it_rests_on():
    df = pd.DataFrame({"seed": range(10), "x": [2.0, 2.1, 1.9, 2.2, 2.0, 1.8, 2.1, 2.0, 1.9, 9.0]})

    def judge(rows):
        est = verdicts.estimate(rows["x"])
        verdict = REPRODUCES if est.mean > 2.5 else FAILS
        return claims.Finding("", "", verdict, "")

    got = claims._stability(judge, df, REPRODUCES)
    assert got["loo_kept"] == "9/10" and got["rests_on"] == "seed 9"
    assert got["halves"].startswith("contradict")
    small = claims._stability(judge, df.head(5), FAILS)
    assert small["halves"].startswith("n/a")
