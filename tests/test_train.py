"""Training: determinism, learning on synthetic data, the shared base model cache."""

from __future__ import annotations

import torch
from plasticity import data
from plasticity.engine import lazarus_runs
from plasticity.foundations.compute import count_parameters
from plasticity.lazarus import BaseTraining, StabilityCNN

TINY = BaseTraining(epochs=1, log_every=5)


def test_published_architecture_has_the_published_parameter_count():
    counts = count_parameters(StabilityCNN())
    assert counts["total"] == 1_070_794
    assert counts["fc1.weight"] == 4096 * 256
    assert StabilityCNN()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    ds = data.synthetic_dataset("cifar10", 640, 100)
    a, _ = lazarus_runs.base_model(ds, TINY, seed=1, progress=False, cache_dir=tmp_path / "a")
    b, _ = lazarus_runs.base_model(ds, TINY, seed=1, progress=False, cache_dir=tmp_path / "b")
    c, _ = lazarus_runs.base_model(ds, TINY, seed=2, progress=False, cache_dir=tmp_path / "c")
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_base_model_learns_the_synthetic_task_and_is_cached():
    ds = data.synthetic_dataset("cifar10", 2000, 500)
    model, art = lazarus_runs.base_model(ds, BaseTraining(epochs=2, log_every=10), progress=False)
    assert not art.hit
    assert art.result["test_accuracy"] > 60.0  # chance is 10 %
    assert len(art.result["history"]["epoch_eval"]) == 2
    again, art2 = lazarus_runs.base_model(ds, BaseTraining(epochs=2, log_every=10), progress=False)
    assert art2.hit and art2.key == art.key
    assert torch.equal(again.fc2.weight, model.fc2.weight)
    # A different recipe is a different artefact.
    _, art3 = lazarus_runs.base_model(ds, TINY, progress=False)
    assert not art3.hit and art3.key != art.key


def test_the_bench_flop_count_matches_torch_flop_counter():
    from plasticity.engine import bench
    from plasticity.lazarus import StabilityCNN
    from torch.utils.flop_counter import FlopCounterMode

    model = StabilityCNN()
    x = torch.randn(4, 3, 32, 32)
    with FlopCounterMode(display=False) as forward:
        model(x)
    with FlopCounterMode(display=False) as both:
        model(x).sum().backward()
    ours = bench.stability_cnn_flops()
    assert ours["forward"] * 4 == forward.get_total_flops()
    assert ours["train"] * 4 == both.get_total_flops()


def test_base_models_trained_stacked_equal_the_ones_trained_alone(tmp_path):
    """Three seeds as one vmap-ed computation: each model ends where it would alone
    (float rounding), is cached under its own key, and says it was stacked."""
    import pytest
    from plasticity.engine.cache import is_cached

    ds = data.synthetic_dataset("cifar10", 640, 100)
    training = BaseTraining(epochs=2, log_every=5)
    seeds = [0, 1, 2]
    stacked = lazarus_runs.base_models(ds, training, seeds, device="cpu", cache_dir=tmp_path / "a")
    alone = [
        lazarus_runs.base_model(
            ds, training, s, device="cpu", progress=False, cache_dir=tmp_path / "b"
        )
        for s in seeds
    ]
    for (m1, a1), (m2, a2) in zip(stacked, alone, strict=True):
        assert a1.key == a2.key  # the same cache key as alone
        for (name, p1), p2 in zip(m1.state_dict().items(), m2.state_dict().values(), strict=True):
            # rounding differences grow over 20 SGD steps, by how much depends on the
            # CPU's vector units (up to 1.6e-3 of a tensor's norm seen); a model trained
            # from another seed or on other batches differs by the order of its norm
            assert (p1 - p2).norm() <= 1e-2 * p2.norm(), name
        assert a1.result["stacked"] == 3 and "stacked" not in a2.result
        h1, h2 = a1.result["history"], a2.result["history"]
        assert h1["step"] == h2["step"]
        assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-3)
        # these near-chance models hold many near-ties on the 100 test images, and the
        # rounding above flips a few of them (2 seen)
        assert a1.result["test_accuracy"] == pytest.approx(a2.result["test_accuracy"], abs=5)
    for s in seeds:
        assert is_cached(
            "lazarus-base",
            lazarus_runs.base_config(ds, training, s),
            lazarus_runs.BASE_VERSION,
            tmp_path / "a",
        )
    # different seeds are different networks
    assert not torch.equal(stacked[0][0].fc1.weight, stacked[1][0].fc1.weight)
