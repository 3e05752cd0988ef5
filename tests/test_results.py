"""Results packs: the cache's results without weights, imported elsewhere, read back
as cached runs; data sets known from their records; a replay that computes nothing."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
import torch
from plasticity import data, lazarus
from plasticity.cli import main
from plasticity.engine import cache, lazarus_runs, results
from plasticity.lazarus import BaseTraining

TINY = BaseTraining(epochs=1, log_every=10)


def _toy(cache_dir, value=1.0, calls=None):
    def compute():
        if calls is not None:
            calls.append(1)
        return {"w": torch.full((3,), value)}, {"score": value}

    return cache.train_or_load("toy", {"seed": 0}, compute, version="1", cache_dir=cache_dir)


def test_a_withheld_array_has_sizes_and_refuses_values():
    w = data.Withheld("cifar10", (50, 32, 32, 3))
    assert len(w) == 50 and w.shape == (50, 32, 32, 3)
    assert len(w[10:20]) == 10 and w[10:20].shape == (10, 32, 32, 3)
    assert len(w[np.arange(7)]) == 7 and len(w[torch.arange(4)]) == 4
    for read in (np.asarray, lambda a: a[3], lambda a: list(a), lambda a: a[np.ones(50, bool)]):
        with pytest.raises(data.DataUnavailableError, match="cifar10"):
            read(w)


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_a_recorded_data_set_stands_in_for_the_one_it_records(kind):
    ds = data.synthetic_dataset(kind, 300, 100)
    rec = data.ImageDataset.from_record(json.loads(json.dumps(ds.record())))
    assert rec.recorded and not ds.recorded
    assert (rec.name, rec.fingerprint, rec.classes, rec.title) == (
        ds.name,
        ds.fingerprint,
        ds.classes,
        ds.title,
    )
    assert len(rec.train_y) == 300 and len(rec.test_y) == 100 and rec.synthetic
    if kind == "cifar100":
        assert np.array_equal(rec.fine_to_coarse, ds.fine_to_coarse)
    with pytest.raises(data.DataUnavailableError):
        np.bincount(rec.train_y)


def test_export_then_import_reads_results_back_without_weights(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    _toy(src, 2.5)
    pack = tmp_path / "pack.tar.xz"
    ds = data.synthetic_dataset("cifar10", 200, 100)
    summary = results.export_pack(pack, [ds], cache_dir=src)
    assert summary["entries"] == 1 and summary["pack_bytes"] == pack.stat().st_size
    with tarfile.open(pack) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(".safetensors")]
    got = results.import_pack(pack, cache_dir=dst)
    assert (got["imported"], got["kept"], got["datasets"]) == (1, 0, [ds.name])

    calls = []
    art = _toy(dst, 9.0, calls)
    assert calls == [] and art.hit and art.result == {"score": 2.5}
    assert not (art.path / cache.MODEL_FILE).exists()
    assert cache.is_cached("toy", {"seed": 0}, "1", cache_dir=dst)
    with pytest.raises(cache.WeightsNotShipped, match=f"toy/{art.key}"):
        art.tensors["w"]
    with pytest.raises(cache.WeightsNotShipped):
        art.load_into(torch.nn.Linear(3, 1))
    assert results.recorded_dataset(ds.name, cache_dir=dst).fingerprint == ds.fingerprint
    assert results.recorded_dataset("cifar100", cache_dir=dst) is None


def test_import_keeps_an_entry_the_cache_holds_with_its_weights(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    _toy(src, 2.5)
    _toy(dst, 2.5)
    pack = tmp_path / "pack.tar.xz"
    results.export_pack(pack, [], cache_dir=src)
    assert results.import_pack(pack, cache_dir=dst)["kept"] == 1
    assert torch.equal(_toy(dst).tensors["w"], torch.full((3,), 2.5))


def _pack_with(tmp_path, members: dict[str, bytes], header=True) -> str:
    path = tmp_path / "bad.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        if header:
            members = {results.HEADER: json.dumps({"format": 1, "datasets": []}).encode()} | members
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return str(path)


@pytest.mark.parametrize(
    "members, header, match",
    [
        ({"../escape/result.json": b"{}"}, True, "not a pack member"),
        ({"toy/" + "a" * 20 + "/model.safetensors": b"x"}, True, "not a pack member"),
        ({"toy/" + "a" * 20 + "/result.json": b"[1"}, True, "not JSON"),
        ({"toy/" + "a" * 20 + "/result.json": b'{"format": 1, "kind": "other"}'}, True, "toy"),
        ({}, False, "not a results pack"),
    ],
)
def test_a_bad_pack_is_refused_before_the_cache_changes(tmp_path, members, header, match):
    dst = tmp_path / "dst"
    good = {
        f"toy/{cache.cache_key('toy', {'seed': 0}, '1')}/result.json": json.dumps(
            {"format": 1, "kind": "toy", "config": {"seed": 0}, "version": "1", "result": {}}
        ).encode()
    }
    with pytest.raises(results.PackError, match=match):
        results.import_pack(_pack_with(tmp_path, good | members, header), cache_dir=dst)
    assert not dst.exists() or not any(dst.rglob("result.json"))


def test_a_replay_computes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.REPLAY_ENV, "1")
    calls = []
    with pytest.raises(cache.NotRecorded, match="toy/"):
        _toy(tmp_path / "c", 1.0, calls)
    assert calls == [] and not (tmp_path / "c" / "toy").exists()


def test_a_lab_repairs_from_recorded_results_with_no_weights_and_no_data(tmp_path, monkeypatch):
    src, dst = tmp_path / "src", tmp_path / "dst"
    ds = data.synthetic_dataset("cifar10", 400, 200)
    config = lazarus.RepairConfig(steps=10)
    dmg = lazarus.Damage("noise", 0.3)
    computed = lazarus_runs.Lab(ds, TINY, 0, cache_dir=src).run(dmg, config, 0)
    pack = tmp_path / "pack.tar.xz"
    results.export_pack(pack, [ds], cache_dir=src)
    results.import_pack(pack, cache_dir=dst)

    monkeypatch.setenv(cache.REPLAY_ENV, "1")
    recorded = results.recorded_dataset(ds.name, cache_dir=dst)
    lab = lazarus_runs.Lab(recorded, TINY, 0, cache_dir=dst)
    again = lab.run(dmg, config, 0)
    assert again["cached"] and not computed["cached"]
    del again["cached"], computed["cached"]
    assert again == json.loads(json.dumps(computed))  # as the cache stores it
    assert lab.test_size == 200
    assert not list(dst.rglob(cache.MODEL_FILE))
    with pytest.raises(cache.WeightsNotShipped):
        lab.model  # noqa: B018 - the weights were never shipped
    with pytest.raises(cache.NotRecorded):  # a run the pack does not hold
        lab.run(lazarus.Damage("noise", 0.2), config, 0)


def test_results_cli_exports_and_imports(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    _toy(src, 1.5)
    pack = tmp_path / "p.tar.xz"
    assert (
        main(
            ["results", "--cache-dir", str(src), "export", str(pack), "--profile", "smoke"]
            + ["--all-runs"]
        )
        == 0
    )
    assert "1 results" in capsys.readouterr().out
    assert main(["results", "--cache-dir", str(dst), "import", str(pack)]) == 0
    out = capsys.readouterr().out
    assert "imported 1 results" in out and "synthetic-cifar100" in out
    assert main(["cache", "--cache-dir", str(dst), "ls"]) == 0
    assert "ok, results only (imported)" in capsys.readouterr().out
    assert main(["results", "--cache-dir", str(dst), "import", str(tmp_path / "none.tar.xz")]) == 2
    assert "archive=" in capsys.readouterr().err
    assert main(["results", "--cache-dir", str(src), "export", str(tmp_path / "p.zip")]) == 2
    assert "out=" in capsys.readouterr().err


def test_a_chapter_with_no_data_uses_an_imported_record_and_says_it_replays(tmp_path):
    from plasticity.book.chapter import Chapter

    ch = Chapter("04_lazarus_ablation", "quick", data_dir=tmp_path / "none")
    with pytest.raises(data.DataUnavailableError):
        ch.dataset("cifar10")  # no data and no record: how to get the data
    real_like = {"name": "cifar10", "fingerprint": "0123456789abcdef", "source": "test",
                 "synthetic": False, "train": 50000, "test": 10000}  # fmt: skip
    _toy(tmp_path / "src")
    pack = tmp_path / "pack.tar.xz"
    results.export_pack(
        pack, [data.ImageDataset.from_record(real_like)], cache_dir=tmp_path / "src"
    )
    results.import_pack(pack)  # into the test's cache
    ds = ch.dataset("cifar10")
    assert ds.recorded and ds.fingerprint == "0123456789abcdef" and ch.replaying
    assert ds.title == "CIFAR-10" and len(ds.test_y) == 10000


def test_export_of_a_profile_packs_its_own_runs_and_names_what_it_lacks(
    tmp_path, monkeypatch, capsys
):
    """`results export --profile P` packs the runs of P's plan only (a cache shared by
    profiles holds others), says which chapters the pack cannot replay, and
    `--all-runs` packs the whole cache."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("PLASTICITY_DATA_DIR", str(tmp_path / "data"))
    _toy(cache_dir, 2.5)  # no run of any profile
    pack = tmp_path / "smoke.tar.xz"
    args = ["results", "--cache-dir", str(cache_dir), "export", str(pack), "--profile", "smoke"]
    assert main(args) == 2 and not pack.exists()
    err = capsys.readouterr().err
    assert "runs are not in the cache" in err and "07b" in err
    assert "holds no usable result" in err

    assert main([*args, "--all-runs"]) == 0
    with tarfile.open(pack) as tar:
        assert [n for n in tar.getnames() if n.startswith("toy/")]
