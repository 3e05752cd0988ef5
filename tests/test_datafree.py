"""Repair inputs without a real image: inversion, disagreement seeking, the teacher's view."""

from __future__ import annotations

import builtins
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from plasticity import lazarus
from plasticity.book import plan
from plasticity.data import Normalizer
from plasticity.engine import lazarus_runs
from plasticity.engine.profiles import get_profile
from plasticity.foundations.checks import ParameterError
from plasticity.lazarus import StabilityCNN, datafree
from plasticity.science import experiments

SMALL = datafree.InversionConfig(pool=40, steps=8, batch_size=16)


def _teacher(seed: int = 0) -> StabilityCNN:
    """A random StabilityCNN with a last layer scaled up, so that its logits move with
    its input as a trained model's do (a fresh one predicts nearly uniformly)."""
    torch.manual_seed(seed)
    model = StabilityCNN().eval()
    with torch.no_grad():
        model.fc2.weight.mul_(30)
    return model


def test_inversion_is_deterministic_for_a_seed_and_differs_between_seeds():
    t = _teacher()
    a, info = datafree.invert(t, SMALL, 3)
    b, _ = datafree.invert(t, SMALL, 3)
    c, _ = datafree.invert(t, SMALL, 4)
    assert a.dtype == torch.uint8 and a.shape == (40, 3, 32, 32)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # balanced targets: every class 4 times in a pool of 40
    assert sorted(torch.bincount(torch.tensor(info["targets"])).tolist()) == [4] * 10


def test_inversion_lowers_the_teachers_loss_on_its_target_classes():
    t = _teacher()
    images, info = datafree.invert(t, replace(SMALL, steps=30), 0)
    targets = torch.tensor(info["targets"])
    with torch.no_grad():
        after = F.cross_entropy(t(Normalizer()(images)), targets)
    start, _ = datafree.invert(t, replace(SMALL, steps=0), 0)  # the dead-leaves starts
    with torch.no_grad():
        before = F.cross_entropy(t(Normalizer()(start)), targets)
    assert float(after) < 0.5 * float(before)
    assert info["teacher_ce_after"] == pytest.approx(float(after), rel=1e-4)
    assert info["teacher_ce_before"] == pytest.approx(float(before), rel=1e-4)
    # the teacher is left as it was: frozen flags restored, eval mode kept
    assert all(p.requires_grad for p in t.parameters())


def test_the_diversity_term_spreads_same_class_features():
    t = _teacher()
    plain = replace(SMALL, steps=30, w_div=0.0)
    diverse = replace(SMALL, steps=30, w_div=5.0)
    sims = []
    for cfg in (plain, diverse):
        images, info = datafree.invert(t, cfg, 0)
        with torch.no_grad():
            feats = datafree.penultimate(t, Normalizer()(images))
        sims.append(float(datafree.same_class_similarity(feats, torch.tensor(info["targets"]))))
    assert sims[1] < sims[0]


def test_seeking_disagreement_widens_the_gap_and_leaves_the_models_alone():
    teacher = _teacher()
    student = lazarus.Damage("noise", 0.5, seed=0).apply(teacher)[0]
    x = lazarus.input_pixels("dead_leaves", 16, torch.Generator().manual_seed(0))
    moved = datafree.seek_disagreement(student, teacher, x, 3, 0.03)

    def gap(z):
        with torch.no_grad():
            n = (z - 0.5) / 0.5
            return float((student(n) - teacher(n)).pow(2).sum(1).mean())

    assert gap(moved) > gap(x)
    assert float((moved - x).abs().max()) <= 3 * 0.03 + 1e-6
    assert float(moved.min()) >= 0 and float(moved.max()) <= 1
    assert all(p.grad is None for p in [*student.parameters(), *teacher.parameters()])
    assert torch.equal(moved, datafree.seek_disagreement(student, teacher, x, 3, 0.03))


def test_no_source_reads_the_data_directory(isolated, monkeypatch):
    data_dir = Path(isolated["data"]).resolve()
    opened = []
    real_open = builtins.open

    def watch(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).resolve().is_relative_to(data_dir):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watch)
    teacher = _teacher()
    for kind in lazarus.GENERATED:
        lazarus.input_pixels(kind, 8, torch.Generator().manual_seed(0))
    datafree.invert(teacher, SMALL, 0)
    student = lazarus.Damage("prune", 0.5).apply(teacher)[0]
    cfg = lazarus.RepairConfig(steps=3, batch_size=8, inputs="dead_leaves", seek_steps=1)
    history = lazarus.repair(student, teacher, cfg, seed=0)
    assert len(history["step"]) == 1
    assert opened == []
    assert list(data_dir.iterdir()) == []


def test_a_repair_with_seeking_is_deterministic_and_differs_from_one_without():
    teacher = _teacher()

    def repaired(seek):
        student = lazarus.Damage("noise", 0.4, seed=0).apply(teacher)[0]
        cfg = lazarus.RepairConfig(steps=4, batch_size=8, inputs="pink", seek_steps=seek)
        lazarus.repair(student, teacher, cfg, seed=1)
        return torch.cat([p.detach().flatten() for p in student.parameters()])

    assert torch.equal(repaired(2), repaired(2))
    assert not torch.equal(repaired(2), repaired(0))


def test_seeking_is_refused_for_pooled_inputs_and_out_of_range_values():
    with pytest.raises(ParameterError, match="seek_steps"):
        lazarus.RepairConfig(inputs="train", seek_steps=2)
    with pytest.raises(ParameterError, match="seek_steps"):
        lazarus.RepairConfig(inputs="pink", seek_steps=-1)
    with pytest.raises(ParameterError, match="seek_size"):
        lazarus.RepairConfig(inputs="pink", seek_steps=1, seek_size=0)
    with pytest.raises(ParameterError, match="inversion pool"):
        datafree.InversionConfig(pool=0)
    with pytest.raises(ParameterError, match="inversion start"):
        datafree.InversionConfig(start="imagenet")


def test_repair_keys_without_seeking_are_those_before_the_option_existed():
    cfg = lazarus.RepairConfig()
    key = lazarus_runs.repair_config_key("base", lazarus.Damage("noise", 0.35), cfg, 0, "fp")
    assert "seek_steps" not in key["repair"] and "seek_size" not in key["repair"]
    seek = lazarus_runs.repair_config_key(
        "base", lazarus.Damage("noise", 0.35), replace(cfg, inputs="pink", seek_steps=2), 0, "fp"
    )
    assert seek["repair"]["seek_steps"] == 2


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_moved_one():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 5, generator=g)
    assert datafree.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = torch.tensor([1.0, 2.0, 0.0, 0.0, 0.0])
    assert datafree.frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    assert datafree.frechet_distance(a, 3 * a) > 5.0


def test_teacher_view_tells_one_class_noise_from_balanced_inputs():
    teacher = _teacher()
    with torch.no_grad():
        teacher.fc2.bias.zero_()
        teacher.fc2.bias[3] = 50.0  # every input is class 3
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    view = datafree.teacher_view(teacher, x, x)
    assert view["top_class_share"] == 100.0 and view["class_balance"] == 0.0
    assert view["feature_distance"] == pytest.approx(0, abs=1e-6)


def test_the_plan_lists_the_inversion_pools_of_each_base_model_before_its_repairs():
    runs = plan.plan("smoke", ["07b"])
    pools = [r for r in runs if r.kind == "lazarus-inversion"]
    # smoke shares one base model across seeds: one pool per inversion variant
    assert sorted(r.label for r in pools) == [
        "plain teacher inversion pool, base seed 0",
        "teacher inversion pool, base seed 0",
    ]
    repairs = [r for r in runs if r.kind == "lazarus-repair"]
    cells = experiments.cells("datafree", get_profile("smoke"))
    assert len(repairs) == len(cells)
    assert max(map(runs.index, pools)) < min(map(runs.index, repairs))
    seek = [r for r in repairs if "seeking" in r.label]
    plain = [r for r in repairs if "seeking" not in r.label]
    assert seek[0].units == 3 * plain[0].units  # 2 seek steps: 3x the work per step
