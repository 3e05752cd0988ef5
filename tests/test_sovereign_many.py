"""NeuroSovereign chains stacked: one computation for K chains gives what each chain
gives alone; evolutions in lockstep are cached as they would be alone; the engine's
grouping."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch
from plasticity import data, sovereign
from plasticity.book import execute
from plasticity.book.plan import Run
from plasticity.engine import sovereign_runs
from plasticity.foundations.checks import ParameterError
from plasticity.sovereign.many import (
    _clip_per_chain,
    architecture,
    coarse_head,
    stack_key,
    train_cycle_many,
)
from plasticity.sovereign.spectra import spectral_loss

#: One cycle of three epochs on 200 images; the warm-up beyond it (masks come in
#: their own test), a threshold the gap crosses, so that the shock fires on some chains.
ONE = sovereign.SovereignConfig(
    cycles=1,
    epochs_per_cycle=3,
    curriculum=((1, 200),),
    warmup=10,
    window=2,
    val_size=100,
    report_test_size=100,
    shock_threshold=1.0,
)


@pytest.fixture(scope="module")
def tiny():
    ds = data.synthetic_dataset("cifar100", 600, 200)
    return sovereign.SovereignData.from_dataset(ds, ONE.val_size)


def _both(configs, datas, chain, seeds=(0, 1, 2, 3)):
    """Each config's network trained alone, and all of them stacked (same start)."""
    nets = [
        sovereign.build_chains(c, s, (chain,))[chain] for c, s in zip(configs, seeds, strict=False)
    ]
    alone = [copy.deepcopy(n) for n in nets]
    _both.start = [copy.deepcopy(n.state_dict()) for n in nets]
    for n in alone + nets:
        n._phase = sovereign.PhaseDetector(2, 1.5)
    cycle_seeds = [10 + s for s in seeds[: len(nets)]]
    logs_alone = [
        sovereign.train_cycle(n, c, d, 1, 0, s, chain)
        for n, c, d, s in zip(alone, configs, datas, cycle_seeds, strict=True)
    ]
    logs_stacked = train_cycle_many(nets, configs, datas, 1, 0, cycle_seeds, [chain] * len(nets))
    return alone, nets, logs_alone, logs_stacked


def _assert_same_training(start: dict, nets_a, nets_b, share: float = 0.05):
    """Each tensor's update agrees between the two to ``share`` of its size: AdamW
    moves a weight by up to lr a step whatever its gradient's size, so a weight whose
    gradient is at rounding level can move differently (up to 1 % of the update has
    been seen after four steps), but not the update as a whole; a wrong gradient, mask
    or learning rate gives a difference of the update's own size."""
    for i, (a, b) in enumerate(zip(nets_a, nets_b, strict=True)):
        for name, wa in a.state_dict().items():
            update = (wa - start[i][name]).norm()
            assert (wa - b.state_dict()[name]).norm() <= share * update + 1e-6, name


def _assert_logs_close(logs_alone, logs_stacked, rel=1e-4):
    for a, m in zip(logs_alone, logs_stacked, strict=True):
        assert len(a) == len(m)
        for ea, em in zip(a, m, strict=True):
            assert ea.keys() == em.keys()
            for key, va in ea.items():
                if key == "z":
                    # |ratio - mean| / SD over a window of two: it divides a rounding-level
                    # difference by a near-zero SD; the ratio it reads is compared below
                    continue
                vm = em[key]
                if isinstance(va, float):
                    assert vm == pytest.approx(va, rel=rel, abs=1e-6), (key, ea["epoch"])
                else:
                    assert vm == va, (key, ea["epoch"])


@pytest.mark.parametrize("chain", ["apex", "blind"])
def test_stacked_chains_equal_chains_trained_alone(tiny, chain):
    permuted = sovereign.with_taxonomy(tiny, 3)
    configs = [
        ONE,
        replace(ONE, shock=False),
        replace(ONE, shock=False, lambda_base=0.7),
        replace(ONE, taxonomy_seed=3, l1_epochs=1),
    ]
    datas = [tiny, tiny, tiny, permuted]
    alone, nets, logs_alone, logs_stacked = _both(configs, datas, chain)
    _assert_logs_close(logs_alone, logs_stacked)
    lambdas = {tuple(e["lambda_tax"] for e in log) for log in logs_stacked}
    assert len(lambdas) > 1  # the chains' shock weights differ within the stack
    assert any(e["shock"] for log in logs_stacked for e in log)
    _assert_same_training(_both.start, alone, nets)


def test_each_chain_of_a_stack_keeps_its_own_mask_schedule(tiny):
    configs = [
        replace(ONE, warmup=0),
        replace(ONE, warmup=2),
        replace(ONE, masks="none"),
        replace(ONE, warmup=1, sparsity=0.5),
    ]
    alone, nets, logs_alone, logs_stacked = _both(configs, [tiny] * 4, "apex")
    expected = [[35.0] * 3, [0.0, 0.0, 35.0], [0.0] * 3, [0.0, 50.0, 50.0]]
    for log, want in zip(logs_stacked, expected, strict=True):
        assert [round(e["sparsity"], 1) for e in log] == want
    for log_a, log_m in zip(logs_alone, logs_stacked, strict=True):
        assert [e["sparsity"] for e in log_a] == [e["sparsity"] for e in log_m]
    for a, m in zip(alone, nets, strict=True):
        for layer in sovereign.TaxonomicMLP.LAYERS:
            mask_a, mask_m = getattr(a.mlp, f"mask_{layer}"), getattr(m.mlp, f"mask_{layer}")
            weight = getattr(m.mlp, layer).weight
            assert torch.all(weight[mask_m == 0] == 0), layer
            # magnitude masks of nearly equal weights may part at a tie, no more
            assert (mask_a == mask_m).float().mean() > 0.999, layer


def test_a_stack_of_untrained_coarse_heads_leaves_them_untouched(tiny):
    no_coarse = replace(ONE, shock=False, lambda_base=0.0, l1=0.0)
    assert coarse_head(no_coarse) == "never"
    heads = [
        sovereign.build_chains(no_coarse, s, ("apex",))["apex"].mlp.fc_super.weight.clone()
        for s in (0, 1)
    ]
    alone, nets, logs_alone, logs_stacked = _both([no_coarse] * 2, [tiny] * 2, "apex", (0, 1))
    _assert_logs_close(logs_alone, logs_stacked)
    for net, head in zip(nets, heads, strict=True):
        assert torch.equal(net.mlp.fc_super.weight, head)  # no decay, no update


def test_a_stack_refuses_chains_that_cannot_share_it(tiny):
    apex = sovereign.build_chains(ONE, 0, ("apex",))["apex"]
    blind = sovereign.build_chains(ONE, 0, ("blind",))["blind"]
    before = copy.deepcopy(apex.state_dict())
    cases = [
        ([apex, blind], [ONE, ONE]),  # two kinds of network
        ([apex, copy.deepcopy(apex)], [ONE, replace(ONE, lr=0.01)]),  # two optimizers
        # a coarse head trained on shock epochs only: never stacked (AdamW would decay it)
        ([apex, copy.deepcopy(apex)], [replace(ONE, lambda_base=0.0)] * 2),
    ]
    for nets, configs in cases:
        with pytest.raises(ParameterError, match="nets"):
            train_cycle_many(nets, configs, tiny, 1, 0, [0, 1], ["apex", "apex"])
    with pytest.raises(ParameterError, match="seeds"):
        train_cycle_many([apex], ONE, tiny, 1, 0, [0, 1], ["apex"])
    assert all(torch.equal(v, before[k]) for k, v in apex.state_dict().items())
    assert stack_key(replace(ONE, lambda_base=0.0), architecture(apex)) is None
    assert stack_key(ONE, architecture(apex)) != stack_key(ONE, architecture(blind))
    # the shock, the masks, L1 and the taxonomy may differ within a stack
    varied = [
        replace(ONE, shock=False),
        replace(ONE, warmup=0),
        replace(ONE, l1_epochs=0),
        replace(ONE, taxonomy_seed=1),
    ]
    assert {stack_key(c, architecture(apex)) for c in varied} == {
        stack_key(ONE, architecture(apex))
    }


@pytest.mark.parametrize("method", ["svd", "gram"])
def test_the_spectral_loss_of_a_stack_is_each_matrix_s_own(method):
    w = torch.randn(3, 40, 24, dtype=torch.float64).float()
    w[1, :, 12:] = 0  # rank-deficient
    losses, entropies, ranks = spectral_loss(w, method)
    for i in range(3):
        one = spectral_loss(w[i], method)
        assert losses[i] == pytest.approx(float(one[0]), rel=1e-6)
        assert entropies[i] == pytest.approx(float(one[1]), rel=1e-6)
        assert int(ranks[i]) == int(one[2])


def test_gradient_clipping_acts_on_each_chain_alone():
    torch.manual_seed(0)
    grads = [torch.randn(4, 5, 3) * s for s in (0.1, 10.0)] + [torch.randn(4, 7) * 3]
    stacked = [g.clone().requires_grad_(True) for g in grads]
    for t, g in zip(stacked, grads, strict=True):
        t.grad = g.clone()
    _clip_per_chain(stacked, 1.0)
    for i in range(4):
        own = [g[i].clone().requires_grad_(True) for g in grads]
        for t, g in zip(own, grads, strict=True):
            t.grad = g[i].clone()
        torch.nn.utils.clip_grad_norm_(own, 1.0)
        for t, s in zip(own, stacked, strict=True):
            assert torch.allclose(t.grad, s.grad[i], rtol=1e-5, atol=1e-7)


TWO = replace(
    ONE,
    cycles=2,
    epochs_per_cycle=2,
    curriculum=((1, 200), (2, 300)),
    warmup=2,
)


def test_evolutions_in_lockstep_equal_evolutions_alone_and_share_their_cache(tiny, tmp_path):
    jobs = [
        (tiny, TWO, 0, ("apex",)),
        (tiny, TWO, 1, ("apex",)),
        (tiny, replace(TWO, lambda_base=0.7, shock=False), 0, ("apex",)),
        (tiny, TWO, 0, ("blind",)),
        (tiny, TWO, 1, ("blind",)),
        (tiny, TWO, 0, ("apex",)),  # given twice: computed once
    ]
    together = sovereign_runs.evolve_many(jobs, batch=8, cache_dir=tmp_path / "many")
    assert [r["stacked"] for r in together] == [3, 3, 3, 2, 2, 3]
    assert not any(r["cached"] for r in together)
    for (d, c, s, chains), stacked in zip(jobs, together, strict=True):
        alone = sovereign_runs.evolve(d, c, s, chains=chains, cache_dir=tmp_path / "alone")
        assert "stacked" not in alone
        assert len(stacked["epochs"]) == len(alone["epochs"])
        for ea, em in zip(alone["epochs"], stacked["epochs"], strict=True):
            for key in ("val_acc", "train_loss", "ratio", "lambda_tax", "sparsity"):
                assert em[key] == pytest.approx(ea[key], rel=1e-4, abs=1e-6), key
        one_image = 100.0 / len(d.test_y)  # a test image whose argmax turns on rounding
        for chain in chains:
            for metric, value in alone["benchmark"][chain].items():
                assert stacked["benchmark"][chain][metric] == pytest.approx(value, abs=one_image)
        # the stacked run is cached under the key it has alone
        again = sovereign_runs.evolve(d, c, s, chains=chains, cache_dir=tmp_path / "many")
        assert again["cached"] and again["epochs"] == stacked["epochs"]


def test_evolutions_of_several_chains_stack_each_chain_with_its_own_kind(tiny, tmp_path):
    jobs = [(tiny, TWO, s, ("apex", "blind")) for s in (0, 1)]
    lines = []
    together = sovereign_runs.evolve_many(
        jobs, batch=8, cache_dir=tmp_path / "many", log=lines.append
    )
    assert [r["stacked"] for r in together] == [2, 2]  # APEX with APEX, BLIND with BLIND
    assert [line.split(" (")[0] for line in lines] == [
        f"cycle {c}: 2 evolutions, 4 chains in stacks of 2, 2" for c in (1, 2)
    ]
    one_image = 100.0 / len(tiny.test_y)
    for (d, c, s, chains), stacked in zip(jobs, together, strict=True):
        alone = sovereign_runs.evolve(d, c, s, chains=chains, cache_dir=tmp_path / "alone")
        assert [e["chain"] for e in stacked["epochs"]] == [e["chain"] for e in alone["epochs"]]
        for ea, em in zip(alone["epochs"], stacked["epochs"], strict=True):
            assert em["val_acc"] == pytest.approx(ea["val_acc"], rel=1e-4, abs=1e-6)
        assert stacked["d_hier"] == pytest.approx(alone["d_hier"], abs=2 * one_image)


def test_a_run_without_the_shock_trains_beside_its_twin_and_reuses_a_cached_one(tiny, tmp_path):
    quiet = replace(TWO, shock_threshold=1000.0)
    jobs = [(tiny, replace(quiet, shock=False), 0, ("apex",)), (tiny, quiet, 0, ("apex",))]
    without, with_shock = sovereign_runs.evolve_many(jobs, batch=4, cache_dir=tmp_path / "a")
    # trained in one stack: the same computation (the shock never fired), not a copy
    assert with_shock["shock_epochs"] == {"apex": 0}
    assert "same_as_shock_run" not in without and without["stacked"] == 2
    for ea, eb in zip(with_shock["epochs"], without["epochs"], strict=True):
        assert eb["val_acc"] == pytest.approx(ea["val_acc"], rel=1e-4)
    # with the twin already cached, the run without the shock reuses it
    sovereign_runs.evolve(tiny, quiet, 0, chains=("apex",), cache_dir=tmp_path / "b")
    (reused,) = sovereign_runs.evolve_many(jobs[:1], batch=4, cache_dir=tmp_path / "b")
    assert reused["same_as_shock_run"]


def test_an_interrupted_lockstep_resumes_each_evolution_from_its_checkpoint(tiny, tmp_path):
    jobs = [(tiny, TWO, s, ("apex",)) for s in (0, 1)]
    # one evolution got one cycle further alone before the lockstep starts
    partial = sovereign_runs.evolve(
        tiny, TWO, 1, chains=("apex",), cache_dir=tmp_path, stop_after_cycle=1
    )
    assert not partial["complete"]
    resumed = sovereign_runs.evolve_many(jobs, batch=4, cache_dir=tmp_path)
    assert [r["resumed"] for r in resumed] == [False, True]
    assert [len(r["epochs"]) for r in resumed] == [4, 4]
    fresh = sovereign_runs.evolve(tiny, TWO, 1, chains=("apex",), cache_dir=tmp_path / "b")
    for ea, em in zip(fresh["epochs"], resumed[1]["epochs"], strict=True):
        assert em["val_acc"] == pytest.approx(ea["val_acc"], rel=1e-4)
    assert math.isfinite(resumed[1]["seconds"]) and resumed[1]["seconds"] > 0


def test_the_engine_sends_a_data_set_s_evolutions_to_one_stacked_call(monkeypatch, tmp_path):
    class Fingerprinted:
        class dataset:
            fingerprint = "f"

    def sovereign_run(i):
        job = ("sovereign-run", Fingerprinted, ONE, i, ("apex",), tmp_path)
        return Run("sovereign-run", f"k{i}", f"run {i}", 1.0, order=2, job=lambda j=job: j)

    calls = []
    monkeypatch.setattr(
        sovereign_runs,
        "evolve_many",
        lambda jobs, batch, cache_dir, compile, log: calls.append((len(jobs), batch, compile)),
    )
    runs = [sovereign_run(i) for i in range(5)]
    execute.execute(runs, log=lambda m: None, batch=2, compile="default")
    assert calls == [(5, 2, "default")]  # one call; it stacks 2 chains at a time
    assert all(r.cached for r in runs)
    # one at a time (the CPU's default): each evolution computes alone
    computed = []
    runs = [sovereign_run(i) for i in range(3)]
    for r in runs:
        r.compute = lambda r=r: computed.append(r.key)
    execute.execute(runs, log=lambda m: None, batch=1)
    assert computed == ["k0", "k1", "k2"] and len(calls) == 1
    keys = [("sovereign-run", "f")] * 3 + [None, ("lazarus-base", "f", 1)] * 2
    assert execute._chunks(keys, 4) == [[0, 1, 2], [3], [4, 6], [5]]


def test_a_stacked_step_with_the_host_route_equals_the_gram_route():
    """The host route decomposes on a CPU thread and adds its gradient by hand; the
    weights it trains are the Gram route's to float rounding, masked or not."""
    from plasticity.sovereign.many import ChainStack

    torch.manual_seed(0)
    nets = [sovereign.build_net("apex", ONE) for _ in range(3)]
    sovereign.set_magnitude_masks(nets[1].mlp, 0.35)
    x = torch.rand(3, 16, 3, 32, 32)
    y = torch.randint(0, 100, (3, 16))
    to_coarse = torch.randint(0, 20, (3, 100))
    lam, l1 = torch.tensor([0.15, 0.7, 0.15]), torch.tensor([1e-4, 0.0, 1e-4])
    out = {}
    for method in ("gram", "host"):
        stack = ChainStack(
            [copy.deepcopy(n) for n in nets], replace(ONE, spectral_method=method), 1
        )
        losses = torch.stack([stack.step(x, y, lam, l1, to_coarse)[0] for _ in range(3)])
        out[method] = losses, {k: v.detach().clone() for k, v in stack.tensors.items()}
    assert torch.allclose(out["host"][0], out["gram"][0], rtol=1e-5)
    for name, value in out["gram"][1].items():
        assert torch.allclose(out["host"][1][name], value, atol=ONE.lr / 50), name
    # pruned weights stay pruned
    mask = out["host"][1]["mlp.mask_fc1"][1]
    assert torch.all(out["host"][1]["mlp.fc1.weight"][1][mask == 0] == 0)


def test_a_compiled_stack_trains_as_the_eager_one_and_a_bad_mode_is_refused(tiny):
    nets = [sovereign.build_chains(ONE, s, ("apex",))["apex"] for s in (0, 1)]
    twins = [copy.deepcopy(n) for n in nets]
    start = [copy.deepcopy(n.state_dict()) for n in nets]
    one = replace(ONE, epochs_per_cycle=1)
    eager = train_cycle_many(nets, one, tiny, 1, 0, [5, 6], ["apex"] * 2)
    compiled = train_cycle_many(twins, one, tiny, 1, 0, [5, 6], ["apex"] * 2, compile="default")
    _assert_logs_close(eager, compiled)
    _assert_same_training(start, nets, twins)
    before = copy.deepcopy(nets[0].state_dict())
    with pytest.raises(ParameterError, match="compile='fast'"):
        train_cycle_many(nets, one, tiny, 1, 0, [5, 6], ["apex"] * 2, compile="fast")
    with pytest.raises(ParameterError, match="compile='fast'"):
        sovereign_runs.evolve_many([(tiny, one, 0, ("apex",))], compile="fast")
    assert all(torch.equal(v, before[k]) for k, v in nets[0].state_dict().items())
