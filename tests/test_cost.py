"""The cost table: CPU time measured on short runs, GPU time from stated assumptions."""

from __future__ import annotations

import pytest
from plasticity import data
from plasticity.book import plan
from plasticity.book.plan import Run
from plasticity.engine import bench, cost
from plasticity.engine.profiles import get_profile
from plasticity.foundations.checks import ParameterError


def _costs() -> dict[str, cost.KindCost]:
    return {
        "a": cost.KindCost("a", "step", cpu_seconds=0.1, flops=1e12, steps=1.0),
        "b": cost.KindCost("b", "epoch", cpu_seconds=10.0, flops=1e9, steps=100.0),
    }


def test_a_gpu_step_costs_its_flops_or_the_floor_whichever_is_larger():
    heavy, light = _costs()["a"], _costs()["b"]
    assert heavy.gpu_seconds(tflops=10, step_ms=4) == pytest.approx(0.1)  # FLOP-bound
    assert light.gpu_seconds(tflops=10, step_ms=4) == pytest.approx(0.4)  # 100 steps x 4 ms
    assert light.gpu_seconds(tflops=10, step_ms=0) == pytest.approx(1e-4)


def test_table_and_wall_time_follow_the_plans_stages():
    runs = [
        Run("a", "k1", "a1", units=3600, order=0),
        Run("b", "k2", "b1", units=360, order=1),
        Run("b", "k3", "b2", units=720, order=1),
    ]
    gpu = {"tflops": 10.0, "step_ms": 4.0}
    table = cost.cost_table(runs, _costs(), **gpu).set_index("kind")
    assert table.loc["a", "cpu_hours"] == pytest.approx(0.1)
    assert table.loc["b", "cpu_hours"] == pytest.approx(3.0)
    assert table.loc["a", "gpu_hours"] == pytest.approx(0.1)
    assert table.loc["b", "gpu_hours"] == pytest.approx(1080 * 0.4 / 3600)
    # stage 0: one run of 0.1 h; stage 1: 0.12 h over 2 GPUs, but its longest run is 0.08 h
    assert cost.wall_hours(runs, _costs(), 1, **gpu) == pytest.approx(0.1 + 0.12)
    assert cost.wall_hours(runs, _costs(), 2, **gpu) == pytest.approx(0.1 + 0.08)
    assert cost.wall_hours(runs, _costs(), 8, **gpu) == pytest.approx(0.1 + 0.08)
    with pytest.raises(KeyError, match="'c'"):
        cost.cost_table([Run("c", "k", "c", 1.0)], _costs())
    with pytest.raises(ParameterError, match="gpus"):
        cost.wall_hours(runs, _costs(), 0, **gpu)
    with pytest.raises(ParameterError, match="gpu_tflops"):
        cost.cost_table(runs, _costs(), tflops=0)


def test_measured_gpu_seconds_replace_the_estimate_kind_by_kind():
    runs = [Run("a", "k1", "a1", units=3600, order=0), Run("b", "k2", "b1", units=360, order=1)]
    gpu = {"tflops": 10.0, "step_ms": 4.0}
    measured = {
        "b": cost.KindCost("b", "epoch", cpu_seconds=2.0, flops=1e9, steps=100.0, device="cuda:0")
    }
    table = cost.cost_table(runs, _costs(), gpu_costs=measured, **gpu).set_index("kind")
    assert table.loc["b", "gpu_hours"] == pytest.approx(360 * 2.0 / 3600)
    assert bool(table.loc["b", "gpu_measured"]) and not bool(table.loc["a", "gpu_measured"])
    assert table.loc["a", "gpu_hours"] == pytest.approx(0.1)  # still the estimate
    assert cost.wall_hours(runs, _costs(), 1, gpu_costs=measured, **gpu) == pytest.approx(0.3)
    # a "measurement" on the CPU is not a GPU's: the estimate stays
    on_cpu = {"b": cost.KindCost("b", "epoch", cpu_seconds=2.0, flops=1e9, steps=100.0)}
    table = cost.cost_table(runs, _costs(), gpu_costs=on_cpu, **gpu).set_index("kind")
    assert not bool(table.loc["b", "gpu_measured"])


def test_measured_costs_cover_every_planned_kind_and_count_the_networks_flops():
    prof = get_profile("smoke")
    c10 = data.synthetic_dataset("cifar10", n_train=2000, n_test=500)
    c100 = data.synthetic_dataset("cifar100", n_train=6000, n_test=500)
    costs = cost.measure_cpu(c10, c100, prof, repair_steps=5, epoch_images=1000)
    kinds = {r.kind for r in plan.plan("smoke")}
    assert kinds <= set(costs)
    assert all(c.cpu_seconds > 0 and c.flops > 0 and c.steps > 0 for c in costs.values())
    # the counter agrees with the StabilityCNN's analytic count: a repair step trains
    # on 128 images (clean and noisy), a base epoch on the training split
    per_image = bench.stability_cnn_flops()["train"]
    assert costs["lazarus-repair"].flops == pytest.approx(128 * per_image, rel=0.1)
    epoch = costs["lazarus-base"]
    assert epoch.flops == pytest.approx(len(c10.train_y) * per_image, rel=0.1)
    assert epoch.steps == pytest.approx(len(c10.train_y) / 64)


def test_an_evolution_is_priced_per_chain_when_chains_are_stacked():
    prof = get_profile("smoke")
    c10 = data.synthetic_dataset("cifar10", n_train=1000, n_test=200)
    c100 = data.synthetic_dataset("cifar100", n_train=3000, n_test=200)
    kw = {"repair_steps": 2, "epoch_images": 500}
    alone = cost.measure(c10, c100, prof, **kw)["sovereign-run"]
    stacked = cost.measure(c10, c100, prof, chains=3, **kw)["sovereign-run"]
    assert "chains stacked" not in alone.unit and "3 chains stacked" in stacked.unit
    # FLOPs are counted per chain: three chains stacked do each chain's work once
    assert stacked.flops == pytest.approx(alone.flops, rel=0.05)
    assert stacked.cpu_seconds > 0 and stacked.steps == alone.steps
    with pytest.raises(ParameterError, match="chains=0"):
        cost.measure(c10, c100, prof, chains=0)
