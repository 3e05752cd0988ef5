"""Many repairs as one: each batched repair equals the same repair run alone."""

from __future__ import annotations

import copy

import pytest
import torch
from plasticity import lazarus
from plasticity.engine import lazarus_runs, stacked
from plasticity.foundations.checks import ParameterError
from plasticity.lazarus import StabilityCNN, damage, repair_many


def _model(seed: int) -> StabilityCNN:
    torch.manual_seed(seed)
    return StabilityCNN()


_PROBE = torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(9))


def _assert_same_repair(batched, alone, start, h_b: dict, h_a: dict):
    """The same repair to float tolerance. Adam divides each step by the root of the
    squared-gradient average, so where a gradient is near zero its float rounding is
    amplified up to ``lr`` per step: a few weights in ten thousand may differ by a
    noticeable share of how far the repair moved them; on average they agree to a
    thousandth of that distance, and the models' outputs agree."""
    for (name, p), (_, q), (_, r) in zip(
        batched.state_dict().items(),
        alone.state_dict().items(),
        start.state_dict().items(),
        strict=True,
    ):
        if name.endswith("_mask"):
            assert torch.equal(p, r) and torch.equal(q, r), name
            continue
        moved = (q - r).abs().mean()
        assert moved > 0, name
        apart = (p - q).abs()
        assert (apart > 0.1 * moved).float().mean() <= 1e-4, name
        assert apart.mean() <= 1e-3 * moved, name
    with torch.no_grad():
        torch.testing.assert_close(batched(_PROBE), alone(_PROBE), rtol=1e-4, atol=1e-5)
    assert h_b["step"] == h_a["step"]
    for key in ("cons", "stab", "ent_penalty", "entropy", "total", "floor_active_pct"):
        torch.testing.assert_close(
            torch.tensor(h_b[key]), torch.tensor(h_a[key]), rtol=1e-4, atol=1e-6, msg=key
        )


def test_batched_generated_inputs_equal_each_repair_alone():
    teacher = _model(0)
    students = [damage.noisy_copy(teacher, a, seed=s) for a, s in ((0.35, 1), (0.5, 2), (0.2, 3))]
    config = lazarus.RepairConfig(steps=12, inputs="dead_leaves", log_every=4)
    seeds = [4, 5, 6]
    alone = [copy.deepcopy(s) for s in students]
    start = [copy.deepcopy(s) for s in students]
    calls = []
    histories = repair_many(
        students,
        teacher,
        config,
        seeds=seeds,
        on_checkpoint=lambda step, k, m: calls.append((step, k, m.training)),
    )
    for s, a, s0, h, seed in zip(students, alone, start, histories, seeds, strict=True):
        h_alone = lazarus.repair(a, teacher, config, seed=seed)
        _assert_same_repair(s, a, s0, h, h_alone)
    assert calls == []  # eval_at (100, 300) lies beyond 12 steps


def test_batched_pooled_inputs_with_their_own_teachers_and_frozen_masks():
    teachers = [_model(1), _model(2)]
    gen = torch.Generator().manual_seed(0)
    pools = [
        torch.randint(0, 256, (150, 3, 32, 32), dtype=torch.uint8, generator=gen) for _ in teachers
    ]
    prune = lazarus.Damage("prune", 0.8, "frozen")
    # a pruned model cannot be deep-copied (its weight is computed): prune three times
    students, alone, start = ([prune.apply(t)[0] for t in teachers] for _ in range(3))
    masks = [prune.apply(t)[1]["masks"] for t in teachers]
    config = lazarus.RepairConfig(steps=10, inputs="train", log_every=5, eval_at=(5,))
    seen = []
    histories = repair_many(
        students,
        teachers,
        config,
        seeds=[0, 1],
        images=pools,
        on_checkpoint=lambda step, k, m: seen.append((step, k, m.training)),
    )
    assert seen == [(5, 0, False), (5, 1, False)]
    for i, (s, a, h) in enumerate(zip(students, alone, histories, strict=True)):
        h_alone = lazarus.repair(a, teachers[i], config, images=pools[i], seed=i)
        _assert_same_repair(s, a, start[i], h, h_alone)
        damage.finalize(s)
        for name, mask in masks[i].items():
            module = s.get_submodule(name.rsplit(".", 1)[0])
            assert torch.count_nonzero(module.weight[~mask]) == 0, name


@pytest.mark.parametrize("loss", ["kd", "supervised"])
def test_batched_equals_alone_for_the_other_losses(loss):
    teacher = _model(3)
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (100, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (100,), generator=gen)
    students = [damage.noisy_copy(teacher, 0.35, seed=s) for s in (1, 2)]
    config = lazarus.method_config(
        "kd" if loss == "kd" else "finetune_labels", steps=6, log_every=3
    )
    alone = [copy.deepcopy(s) for s in students]
    start = [copy.deepcopy(s) for s in students]
    histories = repair_many(students, teacher, config, seeds=[7, 8], images=images, labels=labels)
    for s, a, s0, h, seed in zip(students, alone, start, histories, (7, 8), strict=True):
        h_alone = lazarus.repair(a, teacher, config, images=images, labels=labels, seed=seed)
        _assert_same_repair(s, a, s0, h, h_alone)


def test_repair_many_refuses_bad_input_before_touching_a_student():
    teacher = _model(0)
    students = [damage.noisy_copy(teacher, 0.35, seed=s) for s in (1, 2)]
    before = [copy.deepcopy(s.state_dict()) for s in students]
    config = lazarus.RepairConfig(steps=5, inputs="gaussian")
    with pytest.raises(ParameterError, match="seeds"):
        repair_many(students, teacher, config, seeds=[0])
    with pytest.raises(ParameterError, match="seek_steps"):
        repair_many(
            students,
            teacher,
            lazarus.RepairConfig(steps=5, inputs="dead_leaves", seek_steps=1),
            seeds=[0, 1],
        )
    with pytest.raises(ParameterError, match="teachers"):
        repair_many(students, [teacher], config, seeds=[0, 1])
    pruned, _ = lazarus.Damage("prune", 0.5, "frozen").apply(teacher)
    with pytest.raises(ParameterError, match="pruned layers"):
        repair_many([students[0], pruned], teacher, config, seeds=[0, 1])
    with pytest.raises(ParameterError, match="needs images"):
        repair_many(students, teacher, lazarus.RepairConfig(steps=5), seeds=[0, 1])
    for s, b in zip(students, before, strict=True):
        for name, value in s.state_dict().items():
            assert torch.equal(value, b[name]), name


def test_run_grid_caches_each_repair_under_its_own_key_as_when_run_alone(tmp_path):
    from plasticity import data
    from plasticity.engine.cache import list_entries
    from plasticity.lazarus import BaseTraining

    ds = data.synthetic_dataset("cifar10", 600, 300)
    training = BaseTraining(epochs=1, log_every=10)
    grid_lab = lazarus_runs.Lab(ds, training, 0, cache_dir=tmp_path / "grid")
    alone_lab = lazarus_runs.Lab(ds, training, 0, cache_dir=tmp_path / "alone")
    config = lazarus.RepairConfig(steps=20, eval_at=(10,))
    noise = lazarus.Damage("noise", 0.35)
    jobs = [(grid_lab, noise, config, s) for s in (0, 1, 2)]
    grid = stacked.run_grid(jobs, batch=2)
    assert [r["batched"] if "batched" in r else 1 for r in grid] == [2, 2, 1]
    assert not any(r["cached"] for r in grid[:2])  # computed by the grid, read back
    repairs = [e for e in list_entries(tmp_path / "grid") if e["kind"] == "lazarus-repair"]
    assert len(repairs) == 3
    again = stacked.run_grid(jobs, batch=2)
    assert all(r["cached"] for r in again)
    for s, r in zip((0, 1, 2), grid, strict=True):
        a = alone_lab.run(noise, config, s)
        assert grid_lab.repair_key(noise, config, s) == alone_lab.repair_key(noise, config, s)
        assert [p["step"] for p in r["budget"]] == [p["step"] for p in a["budget"]] == [0, 10, 20]
        assert r["restored"] == pytest.approx(a["restored"], abs=100 / 300 + 1e-9)  # one test image
        assert r["agreement_restored"] == pytest.approx(a["agreement_restored"], rel=1e-3)
    with pytest.raises(ParameterError, match="batch"):
        stacked.run_grid(jobs, batch=0)
    # configurations and damages mixed: full and consistency-only share a stack, a
    # frozen-pruned student does not join noise-damaged ones; keys stay as alone
    cons = lazarus.method_config("consistency_only", config)
    prune = lazarus.Damage("prune", 0.8, "frozen")
    mixed = [(grid_lab, noise, cons, 0), (grid_lab, prune, config, 0), (grid_lab, noise, cons, 1)]
    out = stacked.run_grid(mixed, batch=4)
    assert [r.get("batched", 1) for r in out] == [2, 1, 2]
    for (_, dmg, c, s), r in zip(mixed, out, strict=True):
        a = alone_lab.run(dmg, c, s)
        assert r["restored"] == pytest.approx(a["restored"], abs=100 / 300 + 1e-9)
        assert r["agreement_restored"] == pytest.approx(a["agreement_restored"], rel=1e-3)


def test_the_engine_stacks_on_a_gpu_and_runs_one_at_a_time_on_a_cpu():
    assert stacked.default_batch("cpu") == 1
    assert stacked.default_batch("cuda") == stacked.GPU_BATCH > 1
    keys = ["a", "a", None, "b", "a", "b", "a"]
    assert stacked.group_plan(keys, 2) == [[0, 1], [2], [3, 5], [4, 6]]
    assert stacked.group_plan(keys, 32) == [[0, 1, 4, 6], [2], [3, 5]]
    assert stacked.group_plan(keys, 1) == [[i] for i in range(len(keys))]


def test_bench_profile_sees_the_naive_step_do_three_times_the_convolution_passes():
    from plasticity import data
    from plasticity.engine import bench

    ds = data.synthetic_dataset("cifar10", 300, 50)
    tables = bench.profile_repair(ds, steps=2, top=40)

    def calls(name: str, op: str) -> int:
        return next(r["calls"] for r in tables[name] if r["operator"] == op)

    # naive: teacher + clean + noisy pass per step, each through both convolutions;
    # the book: one pass of the clean and noisy images together, teacher precomputed
    assert calls("naive", "aten::mkldnn_convolution") == 2 * 3 * 2
    assert calls("book", "aten::mkldnn_convolution") == 2 * 1 * 2
    for rows in tables.values():
        assert rows[-1]["operator"] == "all operators"
        assert sum(r["share_pct"] for r in rows[:-1]) <= 100.0 + 1e-6


def test_bench_grid_reports_each_k_with_its_ratio():
    from plasticity import data
    from plasticity.engine import bench

    ds = data.synthetic_dataset("cifar10", 300, 50)
    rows = bench.grid_rates(ds, ks=(1, 2), steps=2, repeats=1)
    assert [r["k"] for r in rows] == [1, 2]
    for r in rows:
        assert r["speedup"] == pytest.approx(r["alone_ms"] / r["batched_ms"])
        low, high = r["speedup_range"]
        assert low <= r["speedup"] <= high
    with pytest.raises(ParameterError, match="k=0"):
        bench.grid_rates(ds, ks=(0,), steps=2)


def test_repairs_of_different_configs_stack_and_each_equals_its_repair_alone():
    """One stack holding the full method, consistency only, a different floor, noise
    scale and entropy weight, and generated inputs beside pooled ones. Mixing changes
    nothing: each repair ends where a stack of its own config ends (weights to 1e-6,
    the same logged terms), and such a stack equals the repair run alone (the tests
    above)."""
    teacher = _model(0)
    gen = torch.Generator().manual_seed(0)
    # 192 images: full batches of 64, like the generated inputs beside them
    pool = torch.randint(0, 256, (192, 3, 32, 32), dtype=torch.uint8, generator=gen)
    base = lazarus.RepairConfig(steps=6, log_every=3)
    configs = [
        base,
        lazarus.method_config("consistency_only", base),
        lazarus.RepairConfig(steps=6, log_every=3, h0=0.5, eps=0.1, w_ent=0.2),
        lazarus.RepairConfig(steps=6, log_every=3, inputs="pink"),
        lazarus.RepairConfig(steps=6, log_every=3, inputs="dead_leaves", w_stab=0.0),
    ]
    k = len(configs)
    seeds = list(range(10, 10 + k))
    pools = [pool if c.inputs in lazarus.POOLED else None for c in configs]
    mixed = [damage.noisy_copy(teacher, 0.35, seed=s) for s in range(k)]
    histories = repair_many(mixed, teacher, configs, seeds=seeds, images=pools)
    for i, (c, seed, x) in enumerate(zip(configs, seeds, pools, strict=True)):
        own = [damage.noisy_copy(teacher, 0.35, seed=i) for _ in range(k)]
        own_h = repair_many(own, teacher, [c] * k, seeds=[seed] * k, images=[x] * k)
        for (name, p), (_, q) in zip(
            mixed[i].state_dict().items(), own[0].state_dict().items(), strict=True
        ):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-8, msg=f"{i} {name}")
        assert histories[i] == own_h[0]


def test_configs_that_cannot_share_one_stack_are_refused_before_compute():
    teacher = _model(0)
    students = [damage.noisy_copy(teacher, 0.35, seed=s) for s in range(2)]
    configs = [lazarus.RepairConfig(steps=10), lazarus.RepairConfig(steps=10, lr=1e-3)]
    with pytest.raises(ParameterError, match="lr=0.001 and 0.0001 in one stack"):
        repair_many(
            students,
            teacher,
            configs,
            seeds=[0, 1],
            images=torch.zeros((8, 3, 32, 32), dtype=torch.uint8),
        )
    assert lazarus.stack_key(configs[0]) != lazarus.stack_key(configs[1])
    short = [lazarus.RepairConfig(steps=10), lazarus.RepairConfig(steps=10, inputs="pink")]
    with pytest.raises(ParameterError, match="short batch"):
        repair_many(
            students,
            teacher,
            short,
            seeds=[0, 1],
            images=[torch.zeros((200, 3, 32, 32), dtype=torch.uint8), None],
        )
    assert lazarus.stack_key(short[0], 200) != lazarus.stack_key(short[1])
    assert lazarus.stack_key(short[0], 192) == lazarus.stack_key(short[1])
    same = lazarus.method_config("consistency_only", configs[0])
    assert lazarus.stack_key(same) == lazarus.stack_key(configs[0])


def test_a_compiled_stack_repairs_as_the_eager_one_and_a_bad_mode_is_refused():
    teacher = _model(0)
    prune = lazarus.Damage("prune", 0.5, "frozen")
    config = lazarus.RepairConfig(steps=6, inputs="dead_leaves", log_every=3)
    # frozen-pruned students: the compiled forward takes the masks too
    students = [prune.apply(teacher)[0], prune.apply(teacher)[0]]
    eager = [prune.apply(teacher)[0], prune.apply(teacher)[0]]
    start = [prune.apply(teacher)[0], prune.apply(teacher)[0]]
    h_compiled = repair_many(students, teacher, config, seeds=[1, 2], compile="default")
    h_eager = repair_many(eager, teacher, config, seeds=[1, 2])
    for s, e, s0, hc, he in zip(students, eager, start, h_compiled, h_eager, strict=True):
        _assert_same_repair(s, e, s0, hc, he)
    before = copy.deepcopy(eager[0].state_dict())
    with pytest.raises(ParameterError, match="compile='fast'"):
        repair_many(eager, teacher, config, seeds=[1, 2], compile="fast")
    assert all(torch.equal(v, before[k]) for k, v in eager[0].state_dict().items())
