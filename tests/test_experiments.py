"""The declared grids: every verdict run follows the seed's protocol on >= 3 seeds."""

from __future__ import annotations

import pandas as pd
import pytest
from plasticity.engine.profiles import get_profile
from plasticity.science import claims, experiments, sovereign_experiments


@pytest.mark.parametrize("name", ["quick", "paper"])
def test_verdict_runs_use_the_seeds_protocol_and_several_seeds(name):
    prof = get_profile(name)
    assert prof.lazarus.base_per_seed and len(prof.lazarus.seeds) >= 3
    for exp in experiments.EXPERIMENTS:
        for c in experiments.cells(exp, prof):
            if c.role == experiments.VERDICT:
                assert c.config.steps == claims.LAZARUS_STEPS, (exp, c)
                assert c.seed in prof.lazarus.seeds
    assert len(prof.sovereign_seeds) >= 3


def test_claims_read_only_verdict_cells():
    prof = get_profile("quick")
    verdict = {
        (c.condition, c.method)
        for e in experiments.EXPERIMENTS
        for c in experiments.cells(e, prof)
        if c.role == experiments.VERDICT
    }
    for cond in (
        "noise alpha=0.35",
        "noise alpha=0.2",
        "prune 80% frozen",
        "prune 70% frozen",
        "prune 70% regrow",
    ):
        assert any(c == cond for c, _ in verdict), cond
    for method in (
        "consistency_only",
        "teacher=original, inputs=cifar100",
        "teacher=original, inputs=gaussian",
        "teacher=damaged, inputs=train",
    ):
        assert any(m == method for _, m in verdict), method


def test_summaries_use_one_name_per_statistic():
    df = pd.DataFrame({"g": ["a", "a", "a"], "x": [1.0, 2.0, 3.0]})
    out = experiments.summarize(df, ["g"], ["x"])
    assert list(out.columns) == ["g", "n", "x_mean", "x_std", "x_ci_low", "x_ci_high"]
    runs = pd.DataFrame(
        {
            "condition": "c",
            "method": ["m", "m", "b", "b"],
            "seed": [0, 1, 0, 1],
            "v": [2.0, 3.5, 1.0, 1.0],
        }
    )
    row = experiments.paired(runs, "c", "m", "b", "v", "m vs b")
    assert tuple(row) == experiments.PAIRED_COLUMNS
    assert row["mean_diff"] == pytest.approx(1.75)


def test_sovereign_grid_trains_blind_once_per_seed_and_varies_apex_only():
    prof = get_profile("quick")
    grid = sovereign_experiments.grid(prof)
    for seed in prof.sovereign_seeds:
        mine = [r for r in grid if r["seed"] == seed and not r["variant"].startswith("ladder")]
        blind = [r for r in mine if r["chain"] == "blind"]
        assert len(blind) == 1 and blind[0]["variant"] == sovereign_experiments.FULL
        variants = {
            r["variant"]
            for r in mine
            if r["chain"] == "apex" and not r["variant"].startswith("shock threshold")
        }
        assert variants == set(sovereign_experiments.profile_variants(prof))
        assert "no shock" in variants and "lambda 0" in variants and "no mixer" in variants
    assert len(sovereign_experiments.ladder(prof)) >= 2
    # chapter 9's slider: one APEX run per threshold off the default, on the first seed
    extra = [r for r in grid if r["variant"].startswith("shock threshold")]
    own = sovereign_experiments.base_config(prof).shock_threshold
    assert {r["config"].shock_threshold for r in extra} == set(
        sovereign_experiments.threshold_grid(prof)
    ) - {own}
    assert {(r["chain"], r["seed"]) for r in extra} == {("apex", prof.sovereign_seeds[0])}


def test_saved_tables_keep_small_p_values_instead_of_rounding_them_to_zero():
    from plasticity.science import lazarus_claims

    tests = pd.DataFrame(
        [
            {
                "comparison": "repaired vs damaged",
                "condition": "noise alpha=0.2",
                "n": 10,
                "mean_diff": 1.901003,
                "std_diff": 0.764179,
                "ci_low": 1.354321,
                "ci_high": 2.447685,
                "t_p": 2.5312e-05,
                "wilcoxon_p": 0.001953125,
                "steps": 1000,
            },
            {
                "comparison": "repaired vs damaged",
                "condition": "noise alpha=0.35",
                "n": 3,
                "mean_diff": 6.7,
                "std_diff": 1.9,
                "ci_low": 2.0,
                "ci_high": 11.4,
                "t_p": float("nan"),
                "wilcoxon_p": 0.25,
                "steps": 1000,
            },
        ]
    )
    out = experiments.rounded(tests, 3)
    assert out.loc[0, "mean_diff"] == 1.901 and out.loc[0, "ci_low"] == 1.354
    assert out.loc[0, "t_p"] == 2.53e-05  # three significant digits, not 0.0
    assert out.loc[0, "wilcoxon_p"] == 0.00195
    assert pd.isna(out.loc[1, "t_p"]) and out.loc[1, "wilcoxon_p"] == 0.25
    assert tests.loc[0, "t_p"] == 2.5312e-05  # the input is left as it was
    # the registry computes the paired test from the per-seed runs: a tiny p is printed
    # with its digits, never as "p = 0"
    runs = pd.DataFrame(
        [
            {
                "condition": "noise alpha=0.2",
                "method": "full",
                "role": "verdict",
                "seed": s,
                "steps": 1000,
                "damaged": 68.0 + 0.01 * s,
                "restored": 70.0 + 0.013 * s,
            }
            for s in range(10)
        ]
    )
    judge = lazarus_claims._paired_claim(
        "repaired vs damaged", "noise alpha=0.2", lambda e: ("reproduces", "x")
    )
    text = judge(runs).ours
    assert "paired t p = " in text and "p = 0" not in text.replace("p = 0.", "")
