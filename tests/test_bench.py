"""The seed-protocol benchmark: the published script's data path and loops, and the
projection of both sides' whole protocol from timed slices."""

from __future__ import annotations

import math

import pytest
import torch
from plasticity import data
from plasticity.data import Normalizer, to_tensor
from plasticity.engine import bench
from plasticity.foundations.checks import ParameterError
from plasticity.lazarus import StabilityCNN


@pytest.fixture(scope="module")
def ds():
    return data.synthetic_dataset("cifar10", 300, 50)


def test_the_published_data_path_feeds_the_books_normalised_images(ds):
    _, test = bench.published_loaders(ds)
    ours = Normalizer()(to_tensor(ds.test_x))
    theirs = torch.cat([x for x, _ in test])
    labels = torch.cat([y for _, y in test])
    assert theirs.shape == ours.shape
    assert torch.allclose(theirs, ours, atol=1e-6)
    assert torch.equal(labels, torch.as_tensor(ds.test_y, dtype=labels.dtype))


def test_a_published_loader_reshuffles_when_it_runs_out(ds):
    train, _ = bench.published_loaders(ds, seed=3)
    batches = bench.Restarting(train)
    first_epoch = [next(batches)[1] for _ in range(math.ceil(300 / 64))]
    assert sum(len(y) for y in first_epoch) == 300  # the last batch is the remainder
    second = next(batches)[1]
    assert len(second) == 64
    assert not torch.equal(second, first_epoch[0])  # a new shuffle, not the old order


def test_the_published_test_loops_see_every_test_image_once_per_model(ds):
    _, test = bench.published_loaders(ds)
    models = [StabilityCNN(), StabilityCNN()]
    seen = [0, 0]
    for i, m in enumerate(models):
        m.register_forward_hook(lambda _m, inp, _o, i=i: seen.__setitem__(i, seen[i] + len(inp[0])))
    bench.published_test_loop(models, test)
    assert seen == [len(ds.test_y)] * 2


def test_the_published_repair_moves_the_student_and_never_the_teacher(ds):
    from plasticity import lazarus
    from plasticity.lazarus import damage

    teacher = StabilityCNN()
    student = damage.noisy_copy(teacher, 0.35, seed=1)
    before_t = [p.detach().clone() for p in teacher.parameters()]
    before_s = [p.detach().clone() for p in student.parameters()]
    train, _ = bench.published_loaders(ds)
    opt = torch.optim.Adam(student.parameters(), lr=1e-4)
    bench.published_repair_steps(
        student, teacher, bench.Restarting(train), 3, opt, lazarus.RepairConfig()
    )
    assert all(torch.equal(a, b) for a, b in zip(before_t, teacher.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(before_s, student.parameters(), strict=True))


def test_the_protocol_ratio_projects_each_side_from_its_own_slices(ds):
    out = bench.protocol_ratio(ds, repeats=2, train_steps=2, repair_steps=2, protocol_steps=1000)
    assert out["work"]["train steps"] == 5 * math.ceil(300 / 64)
    assert out["work"]["repair steps"] == 1000
    assert out["work"]["test passes (book)"] == 5  # original, damaged, steps 100 and 300, restored
    assert len(out["runs"]) == 2
    ratios = []
    for run in out["runs"]:
        for phases in run.values():
            parts = sum(v for k, v in phases.items() if k != "total")
            assert phases["total"] == pytest.approx(parts)
            assert all(v > 0 for v in phases.values())
        ratios.append(run["published"]["total"] / run["book"]["total"])
    assert out["ratio"] == pytest.approx(sum(ratios) / 2)  # the median of two
    low, high = out["ratio_range"]
    assert low == pytest.approx(min(ratios)) and high == pytest.approx(max(ratios))
    assert out["device"] == "cpu"
    if not torch.cuda.is_available():  # a GPU that is not there is refused before any work
        with pytest.raises(ParameterError, match="device='cuda'"):
            bench.protocol_ratio(ds, device="cuda")


@pytest.mark.parametrize("name", ["repeats", "train_steps", "repair_steps", "protocol_steps"])
def test_the_protocol_ratio_refuses_a_count_below_one(ds, name):
    with pytest.raises(ParameterError, match=name):
        bench.protocol_ratio(ds, **{name: 0})


def test_the_worker_bench_reports_both_rates_and_their_ratio(ds):
    r = bench.worker_rates(ds, workers=2, repairs=2, steps=2, repeats=1, threads=1)
    assert r["workers"] == 2 and r["threads"] == 1
    assert r["one_process_steps_per_s"] > 0 and r["workers_steps_per_s"] > 0
    # one repeat: the ratio is that repeat's, the same as the ratio of the medians
    assert r["speedup"] == pytest.approx(r["workers_steps_per_s"] / r["one_process_steps_per_s"])
    with pytest.raises(ParameterError, match="workers=0"):
        bench.worker_rates(ds, workers=0)


def test_the_peak_reports_fp32_kernels_and_every_phase_per_step(ds):
    peaks = bench.machine_peak(repeats=1)
    assert [r["fp32"] for r in peaks] == [True, True]  # tf32 and bf16 rows on a GPU only
    assert all(r["gflops"] > 0 and r["min"] <= r["gflops"] <= r["max"] for r in peaks)
    rows = bench.phase_rates(ds, steps=2, repeats=1)
    assert [r["phase"].split()[0] for r in rows] == ["train", "repair", "test-set"]
    for r in rows:
        assert r["ms_per_step"] > 0 and r["images_per_s"] > 0 and r["device"] == "cpu"
    # a train step of batch 64: its milliseconds and its images/s describe one rate
    assert rows[0]["ms_per_step"] == pytest.approx(1000 * 64 / rows[0]["images_per_s"])


def test_the_sovereign_step_bench_times_each_spectral_route():
    rows = bench.sovereign_step_rates(("none", "gram"), steps=2, repeats=1)
    assert [r["method"] for r in rows] == ["none", "gram"]
    assert all(r["ms_per_step"] > 0 for r in rows)
    with pytest.raises(ParameterError, match="method='qr'"):
        bench.sovereign_step_rates(("qr",))
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="device='cuda'"):
            bench.sovereign_step_rates(device="cuda")


def test_the_chain_stack_bench_reports_each_k_and_its_share_per_chain():
    rows = bench.sovereign_stack_rates((1, 2), ("gram",), steps=1, repeats=1)
    assert [(r["method"], r["k"]) for r in rows] == [("gram", 1), ("gram", 2)]
    for r in rows:
        assert r["ms_per_step"] > 0 and r["min"] <= r["ms_per_step"] <= r["max"]
        assert r["ms_per_chain_step"] == pytest.approx(r["ms_per_step"] / r["k"])
    with pytest.raises(ParameterError, match="k=0"):
        bench.sovereign_stack_rates((0,))
    with pytest.raises(ParameterError, match="method='qr'"):
        bench.sovereign_stack_rates((1,), ("qr",))
