"""NeuroSovereign: shock, masks, phase detector, training, resumable evolution."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from plasticity import data, sovereign
from plasticity.data import batches
from plasticity.engine import sovereign_runs
from plasticity.foundations.checks import ParameterError
from plasticity.foundations.compute import count_parameters
from plasticity.sovereign import SovereignNet, cycle

TINY = sovereign.SovereignConfig(
    cycles=2,
    epochs_per_cycle=2,
    curriculum=((1, 200), (2, 300)),
    warmup=2,
    window=2,
    val_size=100,
    report_test_size=100,
)


@pytest.fixture(scope="module")
def tiny_data():
    ds = data.synthetic_dataset("cifar100", 600, 200)
    return sovereign.SovereignData.from_dataset(ds, TINY.val_size)


def test_parameter_counts_match_the_published_modules():
    apex, blind = SovereignNet(True, True), SovereignNet(False, False)
    assert count_parameters(apex)["total"] == 312_256
    assert count_parameters(blind)["total"] == 147_840
    fine, coarse = apex(torch.zeros(3, 3, 32, 32))
    assert fine.shape == (3, 100) and coarse.shape == (3, 20)


@pytest.mark.parametrize(
    "gap, expected",
    [
        (None, 0.15),
        (3.9, 0.15),
        (4.0, 0.15),
        (4.0001, 0.7),
        (25.0, 0.7),
        (-3.0, 0.15),
    ],
)
def test_shock_fires_exactly_when_the_gap_exceeds_the_threshold(gap, expected):
    assert sovereign.shock_lambda(gap, sovereign.SovereignConfig()) == expected


def test_no_shock_ablation_never_fires():
    cfg = sovereign.SovereignConfig(shock=False)
    assert sovereign.shock_lambda(50.0, cfg) == cfg.lambda_base


def test_shock_follows_the_previous_epochs_gap_in_training(tiny_data):
    cfg = sovereign.SovereignConfig(
        cycles=1,
        epochs_per_cycle=4,
        curriculum=((1, 200),),
        warmup=10,
        window=2,
        val_size=100,
        shock_threshold=1.0,
    )
    net = sovereign.build_chains(cfg, 0)["apex"]
    logs = sovereign.train_cycle(net, cfg, tiny_data, 1, 0, 0, "apex")
    assert logs[0]["lambda_tax"] == cfg.lambda_base
    for before, after in zip(logs, logs[1:], strict=False):
        fired = before["gap"] > cfg.shock_threshold
        assert after["lambda_tax"] == (cfg.lambda_shock if fired else cfg.lambda_base)


def test_masks_are_all_ones_before_warmup_and_pruned_weights_stay_zero(tiny_data):
    cfg = sovereign.SovereignConfig(
        cycles=1,
        epochs_per_cycle=4,
        curriculum=((1, 200),),
        warmup=2,
        window=2,
        val_size=100,
        sparsity=0.35,
    )
    net = sovereign.build_chains(cfg, 0)["apex"]
    logs = sovereign.train_cycle(net, cfg, tiny_data, 1, 0, 0, "apex")
    assert [round(e["sparsity"], 1) for e in logs] == [0.0, 0.0, 35.0, 35.0]
    for name in ("fc1", "fc2", "fc_super"):
        mask = getattr(net.mlp, f"mask_{name}")
        weight = getattr(net.mlp, name).weight
        assert torch.all(weight[mask == 0] == 0), name
        assert (mask == 0).float().mean().item() == pytest.approx(0.35, abs=1e-3)


def test_masks_stay_fixed_once_set():
    torch.manual_seed(0)
    net = SovereignNet(True, True)
    sovereign.set_magnitude_masks(net.mlp, 0.35)
    first = net.mlp.mask_fc1.clone()
    with torch.no_grad():
        net.mlp.fc1.weight.add_(torch.randn_like(net.mlp.fc1.weight))
    assert sovereign.mask_sparsity(net.mlp) == pytest.approx(35.0, abs=0.01)
    assert torch.equal(net.mlp.mask_fc1, first)


def test_phase_z_excludes_the_current_value():
    detector = sovereign.PhaseDetector(window=5, threshold=1.5)
    history = [1.0, 2.0, 1.0, 2.0, 1.0]
    assert [detector.update(v)[1] for v in history] == ["INIT"] * 5
    z, phase = detector.update(10.0)
    expected = abs(10.0 - np.mean(history)) / np.std(history)
    assert z == pytest.approx(expected) and phase == "SHIFTING"
    assert z > 2.0  # impossible if the current value were inside the window
    z, phase = detector.update(np.mean([2.0, 1.0, 2.0, 1.0, 10.0]))
    assert z == pytest.approx(0.0) and phase == "STABLE"


def test_spectral_loss_follows_the_published_definition():
    w = torch.diag(torch.tensor([4.0, 2.0, 1.0, 0.1]))
    loss, entropy, rank = sovereign.spectral_terms(w)
    p = np.array([4.0, 2.0, 1.0, 0.1]) / 7.1
    assert entropy == pytest.approx(float(-(p * np.log(p)).sum()), rel=1e-5)
    assert rank == 3  # 0.1 < 5 % of 4
    assert float(loss) == pytest.approx(abs(entropy - math.log(4)), rel=1e-5)
    assert sovereign.l_mon(w) == pytest.approx(1 / (float(loss) + 0.3), rel=1e-5)


def test_apex_mixer_learns_and_blind_extractor_stays_frozen(tiny_data):
    chains = sovereign.build_chains(TINY, 0)
    before = {k: copy.deepcopy(v.state_dict()) for k, v in chains.items()}
    assert torch.equal(
        before["apex"]["extractor.proj.weight"], before["blind"]["extractor.proj.weight"]
    )
    for chain, net in chains.items():
        sovereign.train_cycle(net, TINY, tiny_data, 1, 0, 0, chain)
    apex, blind = chains["apex"].state_dict(), chains["blind"].state_dict()
    assert not torch.equal(
        apex["extractor.mixer.gate.weight"], before["apex"]["extractor.mixer.gate.weight"]
    )
    assert not torch.equal(
        apex["extractor.mixer.token_mlp.0.weight"],
        before["apex"]["extractor.mixer.token_mlp.0.weight"],
    )
    for key in ("extractor.proj.weight", "extractor.proj.bias"):
        assert torch.equal(blind[key], before["blind"][key]), key
    assert not torch.equal(blind["mlp.fc1.weight"], before["blind"]["mlp.fc1.weight"])


def test_evolution_resumes_after_an_interruption_with_the_same_result(tiny_data, tmp_path):
    whole = sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=tmp_path / "a")
    part = sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=tmp_path / "b", stop_after_cycle=1)
    assert part["complete"] is False and len(part["cycles"]) == 2
    resumed = sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=tmp_path / "b")
    assert resumed["complete"] and not resumed["cached"]
    assert resumed["cycles"] == whole["cycles"]
    assert resumed["epochs"] == whole["epochs"]
    assert resumed["benchmark"] == whole["benchmark"]
    again = sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=tmp_path / "b")
    assert again["cached"] and again["cycles"] == whole["cycles"]


def test_a_resumed_evolution_records_the_compute_time_of_all_its_cycles(tiny_data, tmp_path):
    """The time recorded is the whole evolution's, not the resume's share: the
    checkpoint carries the seconds of the cycles before it."""
    folder = tmp_path / "c"
    sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=folder, stop_after_cycle=1)
    run_dir = sovereign_runs.run_dir_for(TINY, 0, tiny_data, folder)
    before = json.loads((run_dir / "cycle_01.json").read_text())["seconds"]
    assert before > 0
    start = time.perf_counter()
    resumed = sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=folder)
    resume_share = time.perf_counter() - start
    assert resumed["resumed"] is True
    # the cycles before the interruption plus at most the resume's own wall time
    assert before < resumed["seconds"] <= before + resume_share
    meta = json.loads((run_dir / "result.json").read_text())
    assert meta["result"]["seconds"] == pytest.approx(resumed["seconds"])
    assert meta["device"] == "cpu" and meta["determinism"] == "deterministic"


def test_selection_keeps_the_alpha_when_validation_drops(tiny_data, tmp_path):
    result = sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=tmp_path)
    for prev, cur in zip(result["cycles"], result["cycles"][1:], strict=False):
        for chain in ("apex", "blind"):
            assert cur[f"{chain}_val"] >= prev[f"{chain}_val"]
            if not cur[f"{chain}_accepted"]:
                assert cur[f"{chain}_fine"] == prev[f"{chain}_fine"]


def test_curriculum_between_keys_uses_the_key_below():
    cfg = sovereign.SovereignConfig()
    sizes = [cfg.train_size(c, 45_000) for c in range(1, 16)]
    assert sizes[:3] == [5000] * 3 and sizes[3:6] == [20000] * 3 and sizes[6:] == [45000] * 9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shock_threshold": -1.0}, r"shock_threshold=-1.0 .*\[0, inf\)"),
        ({"sparsity": 1.0}, r"sparsity=1.0 .*\[0, 1\)"),
        ({"warmup": -5}, r"warmup=-5 .*\[0, inf\)"),
        ({"warmup": 2.5}, "warmup=2.5 is not an integer"),
        ({"masks": "random"}, "masks='random'"),
    ],
)
def test_bad_settings_raise_before_compute(kwargs, message, monkeypatch):
    monkeypatch.setattr(sovereign_runs, "train_cycle", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ParameterError, match=message):
        sovereign.SovereignConfig(**kwargs)


def test_cifar10_is_refused_for_the_hierarchy():
    with pytest.raises(ParameterError, match="no superclasses"):
        sovereign.SovereignData.from_dataset(data.synthetic_dataset("cifar10", 300, 50), 50)


# ---------------------------------------------------------------- controls and reporting


def test_report_subset_is_stratified_where_a_prefix_is_not():
    labels = torch.arange(100).repeat_interleave(100)  # sorted by class, as the importer
    idx = sovereign.stratified_indices(labels, 2000, seed=0)
    counts = torch.bincount(labels[idx], minlength=100)
    assert len(idx) == 2000 and int(counts.min()) == int(counts.max()) == 20
    prefix = torch.bincount(labels[:2000], minlength=100)
    assert int((prefix > 0).sum()) == 20  # the old first-2,000 subset saw 20 classes
    assert torch.equal(idx, sovereign.stratified_indices(labels, 2000, seed=0))
    assert torch.equal(sovereign.stratified_indices(labels, 20000), torch.arange(10000))


def test_cycle_report_reads_the_stratified_subset(tiny_data, tmp_path):
    sorted_order = torch.argsort(tiny_data.test_y, stable=True)
    d = copy.copy(tiny_data)
    d.test_x, d.test_y = tiny_data.test_x[sorted_order], tiny_data.test_y[sorted_order]
    r = sovereign_runs.evolve(d, TINY, 0, cache_dir=tmp_path, chains=("blind",))
    report = r["cycles"][-1]
    idx = sovereign.stratified_indices(d.test_y, TINY.report_test_size, seed=0)
    expected = sovereign.evaluate_net(
        sovereign.build_chains(TINY, 0, ("blind",))["blind"],
        d.test_x[idx],
        d.test_y[idx],
        d.fine_to_coarse,
    )
    assert report["report_images"] == TINY.report_test_size
    assert r["cycles"][0]["blind_fine"] == pytest.approx(expected["fine"])
    assert len(torch.unique(d.test_y[idx])) > len(torch.unique(d.test_y[:100]))


def test_every_variant_starts_from_the_same_shared_weights():
    nets = sovereign.build_chains(TINY, 3, ("apex", "blind", "blind_mixer"))
    no_mixer = sovereign.build_chains(
        sovereign.SovereignConfig(**{**TINY.__dict__, "mixer": False}), 3, ("apex",)
    )["apex"]
    ref = nets["blind"]
    for net in (nets["apex"], nets["blind_mixer"], no_mixer):
        assert torch.equal(net.extractor.proj.weight, ref.extractor.proj.weight)
        for name in ("fc1", "fc2", "fc_super"):
            assert torch.equal(getattr(net.mlp, name).weight, getattr(ref.mlp, name).weight)
    assert no_mixer.extractor.mixer is None
    assert torch.equal(
        nets["apex"].extractor.mixer.gate.weight, nets["blind_mixer"].extractor.mixer.gate.weight
    )
    assert not nets["blind_mixer"].train_extractor
    other = sovereign.build_chains(TINY, 4, ("blind",))["blind"]
    assert not torch.equal(other.mlp.fc1.weight, ref.mlp.fc1.weight)


@pytest.mark.parametrize("carry, expected", [(True, 0.7), (False, 0.15)])
def test_carried_gap_can_shock_the_first_epoch_of_a_cycle(tiny_data, carry, expected):
    config = sovereign.SovereignConfig(**{**TINY.__dict__, "carry_gap": carry})
    net = sovereign.build_chains(config, 0, ("apex",))["apex"]
    logs = sovereign.train_cycle(net, config, tiny_data, 2, 2, 0, "apex", previous_gap=9.0)
    assert logs[0]["lambda_tax"] == expected


def test_lambda_zero_trains_no_coarse_head(tiny_data):
    changes = {"shock": False, "lambda_base": 0.0, "l1": 0.0}
    config = sovereign.SovereignConfig(**{**TINY.__dict__, **changes})
    net = sovereign.build_chains(config, 0, ("apex",))["apex"]
    head, body = net.mlp.fc_super.weight.detach().clone(), net.mlp.fc1.weight.detach().clone()
    sovereign.train_cycle(net, config, tiny_data, 1, 0, 0, "apex")
    # without the coarse loss (and the L1 term) no gradient reaches the coarse head
    assert torch.equal(net.mlp.fc_super.weight, head)
    assert not torch.equal(net.mlp.fc1.weight, body)
    with_coarse = sovereign.build_chains(TINY, 0, ("apex",))["apex"]
    sovereign.train_cycle(with_coarse, TINY, tiny_data, 1, 0, 0, "apex")
    assert not torch.equal(with_coarse.mlp.fc_super.weight, head)


def test_chosen_device_reaches_models_and_batches(tiny_data, tmp_path, monkeypatch):
    seen = []
    real = batches.Batches

    def spy(*args, **kwargs):
        seen.append(str(kwargs.get("device")))
        return real(*args, **kwargs)

    monkeypatch.setattr(cycle, "Batches", spy)
    r = sovereign_runs.evolve(
        tiny_data, TINY, 0, cache_dir=tmp_path, chains=("apex",), device="cpu"
    )
    assert seen and set(seen) == {"cpu"}
    meta = sovereign_runs.run_dir_for(TINY, 0, tiny_data, tmp_path, ("apex",)) / "result.json"
    assert '"device": "cpu"' in meta.read_text()
    assert r["complete"]


def test_phase_detector_null_rate():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=400)
    null = sovereign.phase_null(noise, draws=20)
    assert abs(null["observed_stable_pct"] - null["iid_stable_pct"]) < 8
    assert 50 < null["iid_stable_pct"] < 95  # the detector flags pure noise too
    trend = np.arange(60, dtype=float)  # a steady trend: z = 2.12 every epoch
    assert sovereign.phase_null(trend, draws=20)["observed_stable_pct"] == 0.0


def test_unknown_chain_is_refused_before_compute(tiny_data, tmp_path):
    with pytest.raises(ParameterError, match="chain"):
        sovereign_runs.evolve(tiny_data, TINY, 0, cache_dir=tmp_path, chains=("apex", "nope"))
    assert not (tmp_path / "sovereign-run").exists()


def test_ceiling_probe_stops_early_and_is_read_back_from_the_cache(tiny_data, tmp_path):
    first = sovereign_runs.cached_ceiling(
        tiny_data, max_epochs=30, patience=2, seed=1, cache_dir=tmp_path
    )
    assert first["epochs"] <= 30 and first["best_epoch"] <= first["epochs"]
    assert first["converged"] == (first["epochs"] < 30)
    assert first["epochs"] - first["best_epoch"] in (0, 2)  # patience ends it, or max_epochs
    again = sovereign_runs.cached_ceiling(
        tiny_data, max_epochs=30, patience=2, seed=1, cache_dir=tmp_path
    )
    assert again == first
    entries = [p for p in (tmp_path / "sovereign-probe").iterdir() if p.is_dir()]
    other = sovereign_runs.cached_ceiling(
        tiny_data, max_epochs=30, patience=2, seed=2, cache_dir=tmp_path
    )
    assert len([p for p in (tmp_path / "sovereign-probe").iterdir() if p.is_dir()]) == 2
    assert len(entries) == 1 and other["history"] != first["history"]
    with pytest.raises(ParameterError, match="max_epochs"):
        sovereign_runs.cached_ceiling(tiny_data, max_epochs=0, cache_dir=tmp_path)


def test_a_run_without_the_shock_reuses_the_shock_run_when_the_shock_never_fired(
    tiny_data, tmp_path, monkeypatch
):
    quiet = sovereign.SovereignConfig(
        cycles=2,
        epochs_per_cycle=2,
        curriculum=((1, 200),),
        warmup=1,
        val_size=100,
        report_test_size=100,
        shock_threshold=1000.0,
    )
    kw = {"cache_dir": tmp_path, "chains": ("apex",)}
    with_shock = sovereign_runs.evolve(tiny_data, quiet, 0, **kw)
    assert with_shock["shock_epochs"] == {"apex": 0}
    monkeypatch.setattr(sovereign_runs, "train_cycle", lambda *a, **k: 1 / 0)  # must not train
    without = sovereign_runs.evolve(tiny_data, replace(quiet, shock=False), 0, **kw)
    assert without["benchmark"] == with_shock["benchmark"] and without["same_as_shock_run"]
    assert sovereign_runs.evolve(tiny_data, replace(quiet, shock=False), 0, **kw)["cached"]
    monkeypatch.undo()
    # the reuse is exact: training the run without the shock gives the same numbers
    trained = sovereign_runs.evolve(
        tiny_data, replace(quiet, shock=False), 0, cache_dir=tmp_path / "b", chains=("apex",)
    )
    assert trained["benchmark"] == with_shock["benchmark"]
    assert trained["epochs"] == with_shock["epochs"]
    # a shock run in which the shock fired is never reused
    loud = replace(quiet, shock_threshold=0.0)
    fired = sovereign_runs.evolve(tiny_data, loud, 0, **kw)
    assert fired["shock_epochs"]["apex"] > 0
    assert "same_as_shock_run" not in sovereign_runs.evolve(
        tiny_data, replace(loud, shock=False), 0, **kw
    )


def test_bf16_is_opt_in_and_the_default_key_is_unchanged(tiny_data, tmp_path):
    from dataclasses import asdict

    from plasticity.engine.cache import cache_key

    config = sovereign.SovereignConfig()
    # the options added later (precision, spectral_method) leave the default key as it was
    added = ("precision", "spectral_method", "l1_epochs", "taxonomy_seed")
    legacy = {k: v for k, v in asdict(config).items() if k not in added}
    expected = cache_key(
        "sovereign-run",
        {"config": legacy, "seed": 0, "fingerprint": "f", "chains": list(sovereign.CHAINS)},
        sovereign.VERSION,
    )
    assert sovereign_runs.run_key(config, 0, "f") == expected
    assert sovereign_runs.run_key(replace(config, precision="bf16"), 0, "f") != expected
    small = sovereign.SovereignConfig(
        cycles=1,
        epochs_per_cycle=1,
        curriculum=((1, 100),),
        warmup=0,
        val_size=100,
        report_test_size=100,
        precision="bf16",
    )
    result = sovereign_runs.evolve(tiny_data, small, 0, cache_dir=tmp_path, chains=("apex",))
    assert math.isfinite(result["benchmark"]["apex"]["fine"])


def test_l1_follows_the_warm_up_unless_told_otherwise():
    paper = sovereign.SovereignConfig(warmup=3)
    assert [paper.l1_active(e) for e in range(5)] == [True, True, True, False, False]
    no_warmup = replace(paper, warmup=0)
    assert not any(no_warmup.l1_active(e) for e in range(5))  # L1 goes with it ...
    kept = replace(paper, warmup=0, l1_epochs=3)
    assert [kept.l1_active(e) for e in range(5)] == [True, True, True, False, False]  # ... or not
    with pytest.raises(ParameterError, match="l1_epochs"):
        replace(paper, l1_epochs=-1)


def test_a_random_taxonomy_keeps_the_superclass_sizes_and_loses_their_meaning(tiny_data):
    real = tiny_data.fine_to_coarse
    drawn = sovereign.random_taxonomy(real, 0)
    assert torch.equal(torch.bincount(drawn), torch.bincount(real))
    assert (drawn != real).float().mean() > 0.5
    assert torch.equal(drawn, sovereign.random_taxonomy(real, 0))
    assert not torch.equal(drawn, sovereign.random_taxonomy(real, 1))
    assert sovereign.with_taxonomy(tiny_data, None) is tiny_data
    assert torch.equal(sovereign.with_taxonomy(tiny_data, 0).fine_to_coarse, drawn)
    # the default keeps every existing key; a random taxonomy is another run
    config = sovereign.SovereignConfig()
    assert sovereign_runs.run_key(replace(config, taxonomy_seed=0), 0, "f") != (
        sovereign_runs.run_key(config, 0, "f")
    )


def test_the_random_taxonomy_arm_trains_its_own_blind_and_reads_it():
    from plasticity.engine.profiles import get_profile
    from plasticity.science import sovereign_experiments as sx

    smoke = get_profile("smoke")
    runs = [r for r in sx.grid(smoke) if r["variant"] == sx.PERMUTED]
    assert sorted({r["chain"] for r in runs}) == ["apex", "blind"]
    assert all(r["config"].taxonomy_seed == sx.TAXONOMY_SEED for r in runs)
    assert "no warm-up" in sx.profile_variants(smoke)
    assert sx.profile_variants(smoke)["no warm-up"].l1_epochs is None
    full = sx.profile_variants(get_profile("full"))["no warm-up"]
    assert full.warmup == 0 and full.l1_epochs == sx.base_config(get_profile("full")).warmup

    def result(fine, coarse):
        return {
            "benchmark": {c: {"fine": fine, "coarse_head": coarse} for c in ("apex", "blind")},
            "sparsity": {"apex": 35.0},
            "shock_epochs": {"apex": 0},
            "epochs": [],
            "phases": {"apex": {"SHIFTING": 0}},
        }

    results = {
        ("full", "apex", 0): result(20.0, 40.0),
        ("full", "blind", 0): result(10.0, 20.0),
        (sx.PERMUTED, "apex", 0): result(18.0, 25.0),
        (sx.PERMUTED, "blind", 0): result(10.0, 23.0),
    }
    table = sx.ablation_runs(results).set_index("variant")
    assert table.loc["full", "d_hier"] == 20.0
    assert table.loc[sx.PERMUTED, "d_hier"] == 2.0  # against its own BLIND, not the full one
