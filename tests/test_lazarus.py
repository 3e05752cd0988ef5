"""Lazarus: damage as published, masks, the repair loss, baselines, metrics."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from plasticity import data, lazarus
from plasticity.engine import cache, lazarus_runs
from plasticity.foundations.checks import ParameterError
from plasticity.lazarus import BaseTraining, StabilityCNN, damage, metrics
from plasticity.science import stats


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cache = tmp_path_factory.mktemp("lazarus-cache")
    ds = data.synthetic_dataset("cifar10", 2000, 500)
    return lazarus_runs.Lab(ds, BaseTraining(epochs=2, log_every=10), 0, cache_dir=cache)


def test_relative_noise_has_exactly_the_published_norm_per_tensor():
    torch.manual_seed(0)
    model = StabilityCNN()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    damage.add_relative_noise(model, 0.35, seed=3)
    assert len(before) == 8  # biases included
    for name, p in model.named_parameters():
        added = (p.detach() - before[name]).norm()
        torch.testing.assert_close(added, 0.35 * before[name].norm(), rtol=1e-5, atol=0)


def test_relative_noise_is_seeded():
    torch.manual_seed(0)
    model = StabilityCNN()
    a = damage.noisy_copy(model, 0.2, seed=1)
    b = damage.noisy_copy(model, 0.2, seed=1)
    c = damage.noisy_copy(model, 0.2, seed=2)
    assert torch.equal(a.fc1.weight, b.fc1.weight)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_global_pruning_zeroes_the_smallest_weights_and_keeps_biases():
    torch.manual_seed(0)
    model = StabilityCNN()
    biases = model.fc1.bias.detach().clone()
    weights = torch.cat([m.weight.detach().abs().flatten() for m, _ in damage.prunable(model)])
    info = damage.magnitude_prune(model, 0.7, "regrow")
    n = weights.numel()
    zeros = sum(int((m.weight == 0).sum()) for m, _ in damage.prunable(model))
    assert abs(zeros - math.floor(0.7 * n)) <= 1
    assert info["threshold"] >= float(weights.sort().values[math.floor(0.7 * n) - 1])
    assert torch.equal(model.fc1.bias, biases)
    assert damage.sparsity(model) == pytest.approx(70.0, abs=1e-3)


def _repair_pruned(lab, mode: str):
    student, info = lazarus.Damage("prune", 0.8, mode).apply(lab.model)
    teacher = lab.model
    images = lab.images("train")
    lazarus.repair(student, teacher, lazarus.RepairConfig(steps=15, lr=1e-3), images=images, seed=0)
    return student, info


def test_frozen_mask_keeps_pruned_weights_exactly_zero_through_repair(lab):
    student, info = _repair_pruned(lab, "frozen")
    grown = damage.regrowth(student, info["masks"], info["threshold"])
    assert grown["nonzero_pct"] == 0.0
    damage.finalize(student)
    for name, keep in info["masks"].items():
        w = dict(student.named_parameters())[name]
        assert torch.all(w[~keep] == 0), name
    assert set(student.state_dict()) == set(StabilityCNN().state_dict())


def test_regrow_changes_pruned_weights_and_regrowth_is_measured_honestly(lab):
    student, info = _repair_pruned(lab, "regrow")
    grown = damage.regrowth(student, info["masks"], info["threshold"])
    assert grown["nonzero_pct"] > 50.0  # Adam moves almost every pruned weight ...
    assert grown["above_threshold_pct"] < grown["nonzero_pct"]  # ... but few grow back


def test_the_regrowth_cosine_tells_a_return_from_a_random_drift(lab):
    _, info = lazarus.Damage("prune", 0.7, "regrow").apply(lab.model)
    masks, thr = info["masks"], info["threshold"]
    # weights exactly back where they were: cosine 1, norm 100 %
    back = damage.regrowth(copy.deepcopy(lab.model), masks, thr, lab.model)
    assert back["cosine"] == pytest.approx(1.0) and back["norm_restored_pct"] == pytest.approx(100)
    # a drift that ignores the old weights: the cosine sits within its null's spread
    drifted = copy.deepcopy(lab.model)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name in masks:
            p = drifted.get_parameter(name)
            p.copy_(torch.randn(p.shape, generator=gen) * 1e-3)
    drift = damage.regrowth(drifted, masks, thr, lab.model)
    assert abs(drift["cosine"]) < 4 * drift["cosine_null_sd"]
    assert abs(drift["cosine_null"]) < 4 * drift["cosine_null_sd"] < 0.05
    # the frozen mask keeps the pruned weights at zero: no direction to measure
    student, info = _repair_pruned(lab, "frozen")
    assert math.isnan(
        damage.regrowth(student, info["masks"], info["threshold"], lab.model)["cosine"]
    )


def test_consistency_with_damaged_teacher_starts_at_zero(lab):
    student, _ = lazarus.Damage("noise", 0.35).apply(lab.model)
    teacher = copy.deepcopy(student)
    config = lazarus.RepairConfig(steps=3, log_every=1, teacher="damaged")
    history = lazarus.repair(student, teacher, config, images=lab.images("train"), seed=0)
    assert history["cons"][0] == 0.0
    assert history["cons"][-1] > 0.0  # the student moves away under the stability term


def test_fused_clean_and_noisy_pass_equals_two_passes(lab):
    x = data.Normalizer()(lab.images("train")[:8])
    noise = torch.randn_like(x) * 0.05
    both = lab.model(torch.cat([x, x + noise]).contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(both[:8], lab.model(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(both[8:], lab.model(x + noise), rtol=1e-4, atol=1e-5)


def test_repair_improves_agreement_with_the_original(lab):
    result = lab.run(lazarus.Damage("noise", 0.5, seed=0), lazarus.RepairConfig(steps=60), 0)
    assert result["agreement_restored"] < 0.5 * result["agreement_damaged"]
    assert result["top1_restored"] > result["top1_damaged"]
    assert result["agreement_improvement"] > 0
    again = lab.run(lazarus.Damage("noise", 0.5, seed=0), lazarus.RepairConfig(steps=60), 0)
    assert again["cached"] and again["restored"] == result["restored"]


def test_entropy_floor_inactive_means_entropy_only_changes_nothing(lab):
    """When the batch entropy stays below H0 (on CIFAR-10 the published H0 = 1.5 sits
    far above a trained model's ~0.65 nats), the term and its gradient are zero and Adam
    never moves a weight; with the floor active, it does."""
    student, _ = lazarus.Damage("noise", 0.2).apply(lab.model)
    before = copy.deepcopy(student.state_dict())
    above_max = math.log(10) + 0.01
    config = lazarus.method_config("entropy_only", steps=10, log_every=5, h0=above_max)
    history = lazarus.repair(student, lab.model, config, images=lab.images("train"), seed=0)
    assert history["floor_active_pct"] == [0.0, 0.0]
    assert history["ent_penalty"] == [0.0, 0.0]
    for name, tensor in student.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    config = lazarus.method_config("entropy_only", steps=10, log_every=5, h0=0.0)
    history = lazarus.repair(student, lab.model, config, images=lab.images("train"), seed=0)
    assert history["floor_active_pct"] == [100.0, 100.0]
    assert not torch.equal(student.fc2.weight, before["fc2.weight"])


def test_noise_only_baseline_trains_on_noise_inputs(lab):
    student, _ = lazarus.Damage("noise", 0.3).apply(lab.model)
    before = student.fc1.weight.detach().clone()
    config = lazarus.method_config("noise_only", steps=5, log_every=5)
    assert config.inputs == "gaussian" and config.w_cons == 0 and config.w_stab == 0.5
    history = lazarus.repair(student, lab.model, config, seed=0)
    assert history["stab"][0] > 0
    assert not torch.equal(student.fc1.weight, before)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"w_cons": -1.0}, r"w_cons=-1.0 is out of range; valid range is \[0, inf\)"),
        ({"w_cons": 0.0, "w_stab": 0.0, "w_ent": 0.0}, "at least one loss weight"),
        ({"inputs": "imagenet"}, "inputs='imagenet'"),
        ({"teacher": "oracle"}, "teacher='oracle'"),
        ({"loss": "supervised", "inputs": "gaussian"}, "needs inputs='train'"),
        ({"steps": 0}, "steps=0"),
    ],
)
def test_bad_repair_settings_raise(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        lazarus.RepairConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "noise", "level": -0.1}, r"alpha=-0.1 .*\[0, inf\)"),
        ({"kind": "prune", "level": 1.0}, r"prune_amount=1.0 .*\[0, 1\)"),
        ({"kind": "prune", "level": 0.5, "mode": "grow"}, "prune_mode='grow'"),
        ({"kind": "melt", "level": 0.5}, "damage='melt'"),
    ],
)
def test_bad_damage_raises_before_compute(kwargs, message, monkeypatch):
    monkeypatch.setattr(lazarus_runs, "repair", lambda *a, **k: pytest.fail("repair started"))
    with pytest.raises(ParameterError, match=message):
        lazarus.Damage(**kwargs)
    with pytest.raises(ParameterError, match="alpha=-0.5"):
        damage.add_relative_noise(StabilityCNN(), -0.5, seed=0)


def test_recovery_and_agreement_metrics():
    assert metrics.recovery_pct(72.71, 68.30, 72.44) == pytest.approx(93.88, abs=0.01)
    assert math.isnan(metrics.recovery_pct(72.0, 72.5, 72.4))
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    assert metrics.agreement_mse(a, b) == pytest.approx((1 + 4) / 2)
    assert metrics.top1_agreement(a, torch.tensor([[2.0, 0.0], [3.0, 0.0]])) == 50.0


def test_summary_and_paired_tests():
    s = stats.summarize([1.02, 4.82, 1.94, 2.40, 1.61])  # the seed's alpha = 0.2 deltas
    assert s["mean"] == pytest.approx(2.358)
    assert s["std_pop"] == pytest.approx(1.311, abs=1e-3)
    assert s["std"] == pytest.approx(1.465, abs=1e-3)
    assert s["ci_low"] < s["mean"] < s["ci_high"]
    p = stats.paired_test([3.0, 4.0, 5.0, 6.0, 7.5], [1.0, 1.5, 2.0, 2.5, 3.0])
    assert p["diff_mean"] == pytest.approx(3.1) and p["t_p"] < 0.01
    same = stats.paired_test([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(same["t_p"])
    with pytest.raises(ValueError, match="differ in length"):
        stats.paired_test([1.0], [1.0, 2.0])


def test_lab_runs_every_named_method(lab):
    c100 = data.synthetic_dataset("cifar100", 500, 100)
    lab.extra_inputs["cifar100"] = c100
    rows = []
    for method in lazarus.METHODS:
        cfg = lazarus.method_config(method, steps=5)
        rows.append(lab.run(lazarus.Damage("noise", 0.3), cfg, 0))
    cfg = lazarus.RepairConfig(steps=5, inputs="cifar100", teacher="damaged")
    rows.append(lab.run(lazarus.Damage("prune", 0.5, "regrow"), cfg, 0))
    assert all(np.isfinite(r["restored"]) for r in rows)
    assert rows[-1]["regrowth"]["pruned_weights"] > 0


def test_fused_measurement_equals_the_model_itself_also_with_frozen_masks():
    torch.manual_seed(0)
    x = (torch.rand(300, 3, 32, 32) * 255).to(torch.uint8)
    normalize = data.Normalizer()
    plain = StabilityCNN()
    pruned = copy.deepcopy(plain)
    damage.magnitude_prune(pruned, 0.8, "frozen")
    pruned(normalize(x[:2]))
    with torch.no_grad():
        pruned.fc1.weight_orig.mul_(1.5)  # the hook's cached .weight is now stale
    for model in (plain, pruned):
        with torch.no_grad():
            eager = model(normalize(x))
        fused = lazarus.logits_table(model, x, normalize)
        torch.testing.assert_close(fused, eager, rtol=1e-4, atol=1e-5)
    assert torch.equal(fused.argmax(1), eager.argmax(1))


def test_damaged_model_is_measured_once_per_damage(lab):

    dmg = lazarus.Damage("noise", 0.25, seed=4)
    a = lab.run(dmg, lazarus.RepairConfig(steps=2), 0)
    b = lab.run(dmg, lazarus.method_config("consistency_only", steps=2), 0)
    entries = [e for e in cache.list_entries(lab.cache_dir) if e["kind"] == "lazarus-damaged"]
    measured = lab.measure(dmg.apply(lab.model)[0])
    assert a["damaged"] == b["damaged"] == measured["accuracy"]
    assert a["agreement_damaged"] == pytest.approx(measured["agreement"], rel=1e-6)
    keys = {e["key"] for e in entries}
    lab.run(dmg, lazarus.RepairConfig(steps=3), 1)  # another repair seed, same damage
    assert {
        e["key"] for e in cache.list_entries(lab.cache_dir) if e["kind"] == "lazarus-damaged"
    } == keys


def test_a_second_lab_loads_the_base_test_logits(lab):
    again = lazarus_runs.Lab(
        lab.dataset, BaseTraining(epochs=2, log_every=10), 0, cache_dir=lab.cache_dir
    )
    assert torch.equal(again.test_logits, lab.test_logits)
    assert again.accuracy == lab.accuracy


def test_bf16_precision_is_opt_in_and_keyed(lab):
    dmg = lazarus.Damage("noise", 0.3)
    fp32 = lazarus.RepairConfig(steps=5)
    bf16 = lazarus.RepairConfig(steps=5, precision="bf16")
    key32 = lazarus_runs.repair_config_key("b", dmg, fp32, 0, "train")
    key16 = lazarus_runs.repair_config_key("b", dmg, bf16, 0, "train")
    assert "precision" not in key32["repair"] and key16["repair"]["precision"] == "bf16"
    student, _ = dmg.apply(lab.model)
    history = lazarus.repair(student, lab.model, bf16, images=lab.images("train"), seed=0)
    assert all(p.dtype == torch.float32 for p in student.parameters())
    assert all(math.isfinite(v) for v in history["total"])
    with pytest.raises(ParameterError, match="precision"):
        lazarus.RepairConfig(precision="fp16")


def test_a_matched_damage_prunes_the_fraction_that_costs_the_target(lab):
    from plasticity.foundations.checks import ParameterError

    target = 5.0
    dmg = lazarus.Damage("prune", 0.0, "frozen", target_lost=target)
    with pytest.raises(ParameterError, match="resolve"):
        dmg.apply(lab.model)
    with pytest.raises(ParameterError, match="target_lost"):
        lazarus.Damage("noise", 0.2, target_lost=target)
    concrete = lab.resolve(dmg)
    assert not concrete.matched and 0 < concrete.level < 0.99
    lost = lab.accuracy - lab.measure(concrete.apply(lab.model)[0])["accuracy"]
    # the bisection's best step: within a few of the 500 test images of the target
    assert abs(lost - target) < 2.0, (concrete.level, lost)
    assert lab.resolve(dmg) == concrete  # read back from the cache
    # the key names the target, not the fraction it resolves to on this base model
    assert dmg.key() == {"kind": "prune", "target_lost": target, "mode": "frozen"}
    assert lazarus.Damage("prune", 0.0, "frozen", target_lost=2.0).key() != dmg.key()
    # a repair at the matched level records the fraction it pruned
    result = lab.run(dmg, lazarus.RepairConfig(steps=3, log_every=1), seed=0)
    assert result["prune_amount"] == pytest.approx(concrete.level)
    assert result["original"] - result["damaged"] == pytest.approx(lost, abs=1e-6)
