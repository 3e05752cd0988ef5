"""Headline verdicts follow their stated rules from the chapters' saved tables."""

from __future__ import annotations

import pandas as pd
import pytest
from plasticity import headlines, published


def _save(root, chapter, name, rows):
    (root / chapter).mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / chapter / f"{name}.csv", index=False)


@pytest.fixture
def figures(isolated):
    return isolated["figures"]


def _verdict(figures, claim):
    return claim(headlines.Tables(figures))


def test_effect_rule_reproduces_weaker_fails():
    assert headlines._effect_verdict(0.95 * 50, 50) == headlines.REPRODUCES
    assert headlines._effect_verdict(0.5 * 50, 50) == headlines.WEAKER
    assert headlines._effect_verdict(-1.0, 50) == headlines.FAILS
    assert headlines._effect_verdict(float("nan"), 50) == headlines.FAILS


@pytest.mark.parametrize(
    "recovery, verdict",
    [(93.0, headlines.REPRODUCES), (60.0, headlines.WEAKER), (-5.0, headlines.FAILS)],
)
def test_vshape_verdict(figures, recovery, verdict):
    _save(
        figures,
        "02_lazarus_vshape",
        "vshape",
        [
            {"quantity": "recovery (%)", "seed": 93.9, "ours": recovery},
            {"quantity": "repair steps", "seed": 1000, "ours": 300},
        ],
    )
    claim = _verdict(figures, headlines.vshape)
    assert claim.verdict == verdict
    assert "300 steps" in claim.ours


@pytest.mark.parametrize("peak, verdict", [(0.2, headlines.REPRODUCES), (0.4, headlines.FAILS)])
def test_curve_optimum_follows_the_peak(figures, peak, verdict):
    alphas = [0.1, 0.2, 0.3, 0.4]
    rows = [{"alpha": a, "recovery_pct_mean": 90.0 if a == peak else 50.0} for a in alphas]
    _save(figures, "03_lazarus_recovery_curve", "recovery_curve", rows)
    claim = _verdict(figures, headlines.curve_optimum)
    assert claim.verdict == verdict
    assert f"alpha {peak:g}" in claim.ours


def _paired_rows(gain, p_gain, diff, p_diff):
    rows = []
    for condition in ("noise alpha=0.2", "noise alpha=0.3"):
        rows.append(
            {
                "condition": condition,
                "comparison": "repaired (full) vs damaged",
                "n": 3,
                "mean difference (points)": gain,
                "paired t p": p_gain,
            }
        )
        rows.append(
            {
                "condition": condition,
                "comparison": "full vs consistency only",
                "n": 3,
                "mean difference (points)": diff,
                "paired t p": p_diff,
            }
        )
    return rows


def test_significance_and_extra_terms(figures):
    _save(figures, "06_lazarus_significance", "paired_tests", _paired_rows(1.0, 0.01, 0.0, 0.9))
    assert _verdict(figures, headlines.repair_significant).verdict == headlines.REPRODUCES
    assert _verdict(figures, headlines.extra_terms).verdict == headlines.FAILS
    _save(figures, "06_lazarus_significance", "paired_tests", _paired_rows(1.0, 0.2, 0.5, 0.01))
    assert _verdict(figures, headlines.repair_significant).verdict == headlines.WEAKER
    assert _verdict(figures, headlines.extra_terms).verdict == headlines.REPRODUCES


def test_regrowth_counts_only_weights_back_above_the_threshold(figures):
    rows = []
    for mode in ("frozen", "regrow"):
        rows.append(
            {
                "prune_amount": 0.8,
                "mode": mode,
                "recovery_pct": 40.0,
                "seed_recovery_pct": 85.3,
                "regrowth_nonzero_pct": 96.0 if mode == "regrow" else 0.0,
                "regrowth_above_threshold_pct": 0.0,
                "seed_regrowth_pct": 97.6 if mode == "regrow" else None,
            }
        )
    _save(figures, "05_lazarus_pruning", "pruning_curve", rows)
    claim = _verdict(figures, headlines.regrowth)
    assert claim.verdict == headlines.FAILS
    assert "96.0 % non-zero" in claim.ours
    assert _verdict(figures, headlines.pruning_recovery).verdict == headlines.WEAKER


def _ablation(figures, shock_epochs, diff, p):
    rows = [{"variant": "full", "n": 2, "d_hier vs full": None, "p (paired t)": None}]
    for variant in ("no warm-up", "no shock", "no mixer"):
        rows.append({"variant": variant, "n": 2, "d_hier vs full": diff, "p (paired t)": p})
    _save(figures, "10_sovereign_ablation", "ablation", rows)
    runs = [{"variant": "full", "seed": s, "shock_epochs": shock_epochs} for s in (0, 1)]
    _save(figures, "10_sovereign_ablation", "runs", runs)


def test_shock_claim_is_not_measured_when_the_shock_never_fired(figures):
    _ablation(figures, shock_epochs=0, diff=0.0, p=None)
    claim = _verdict(figures, headlines.shock_matters)
    assert claim.verdict == headlines.NOT_MEASURED
    assert "never fired" in claim.ours
    _ablation(figures, shock_epochs=3, diff=-5.0, p=0.01)
    assert _verdict(figures, headlines.shock_matters).verdict == headlines.REPRODUCES
    _ablation(figures, shock_epochs=3, diff=-5.0, p=0.2)
    assert _verdict(figures, headlines.warmup_matters).verdict == headlines.WEAKER
    _ablation(figures, shock_epochs=3, diff=+1.0, p=0.2)
    assert _verdict(figures, headlines.mixer_matters).verdict == headlines.FAILS


def test_hierarchy_advantage_against_the_paper(figures):
    seed = published.SOVEREIGN_BENCHMARK["delta"]
    _save(
        figures,
        "09_sovereign_evolution",
        "benchmark",
        [
            {"network": "APEX", "fine": 20.0, "coarse head": 10.0 + seed},
            {"network": "BLIND", "fine": 10.0, "coarse head": 10.0},
        ],
    )
    assert _verdict(figures, headlines.hierarchy_advantage).verdict == headlines.REPRODUCES
    assert _verdict(figures, headlines.structure_advantage).verdict == headlines.REPRODUCES


def test_collect_marks_claims_without_tables_as_not_measured(figures):
    df, used = headlines.collect(figures)
    assert len(df) == len(headlines.CLAIMS)
    assert set(df["verdict"]) == {headlines.NOT_MEASURED}
    assert used == []
    sovereign = df[df["paper"] == "NeuroSovereign"]
    assert len(sovereign) == len(headlines.SOVEREIGN_CLAIMS)
    assert sovereign["ours"].str.contains("run chapter").all()


def test_markdown_table_escapes_pipes():
    df = pd.DataFrame([{"a": "x | y", "b": 1.5}, {"a": "z", "b": float("nan")}])
    text = headlines.markdown_table(df)
    lines = text.strip().splitlines()
    assert lines[0] == "| a | b |"
    assert lines[2] == "| x \\| y | 1.5 |"
    assert lines[3] == "| z |  |"
