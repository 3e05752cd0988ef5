"""The train-or-load cache: hit, miss, corruption, partial entries, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from plasticity.engine import cache


def make_compute(calls: list, value: float = 1.0, fail: bool = False):
    def compute():
        calls.append(1)
        if fail:
            raise RuntimeError("training crashed")
        return {"w": torch.full((3, 2), value), "b": torch.arange(4.0)}, {"acc": value}

    return compute


CONFIG = {"seed": 0, "fingerprint": "abc", "lr": 0.01, "layers": (3, 2)}


def test_miss_then_hit(isolated):
    calls = []
    first = cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    second = cache.train_or_load("toy", CONFIG, make_compute(calls, value=9.0), version="v1")
    assert (first.hit, second.hit) == (False, True)
    assert len(calls) == 1
    assert second.result == {"acc": 1.0}
    torch.testing.assert_close(second.tensors["w"], torch.full((3, 2), 1.0))
    assert (first.path / "model.safetensors").is_file()
    assert first.path.parent.parent == isolated["cache"]


@pytest.mark.parametrize(
    "change",
    [
        {"config": {**CONFIG, "seed": 1}},
        {"config": {**CONFIG, "fingerprint": "other-data"}},
        {"version": "v2"},
    ],
)
def test_anything_that_determines_the_artefact_changes_the_key(change):
    calls = []
    cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    kwargs = {"config": CONFIG, "version": "v1", **change}
    again = cache.train_or_load(
        "toy", kwargs["config"], make_compute(calls), version=kwargs["version"]
    )
    assert not again.hit and len(calls) == 2


def test_key_ignores_mapping_order():
    a = cache.cache_key("toy", {"a": 1, "b": 2}, "v1")
    assert a == cache.cache_key("toy", {"b": 2, "a": 1}, "v1")


def test_paths_are_refused_in_keys():
    with pytest.raises(TypeError, match="fingerprint"):
        cache.cache_key("toy", {"data": Path("/tmp")}, "v1")


def test_corrupted_weights_are_detected_and_recomputed():
    calls = []
    first = cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    model = first.path / "model.safetensors"
    raw = bytearray(model.read_bytes())
    raw[-1] ^= 0xFF  # flip bits in the last tensor's data: still a parseable file
    model.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="does not match its recorded digest"):
        again = cache.train_or_load("toy", CONFIG, make_compute(calls, value=2.0), version="v1")
    assert not again.hit and len(calls) == 2 and again.result == {"acc": 2.0}
    assert cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1").hit


@pytest.mark.parametrize("damage", ["missing_result", "truncated_result", "missing_model"])
def test_partial_entries_are_recomputed(damage):
    calls = []
    first = cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    if damage == "missing_result":
        (first.path / "result.json").unlink()
    elif damage == "truncated_result":
        text = (first.path / "result.json").read_text()
        (first.path / "result.json").write_text(text[: len(text) // 2])
    else:
        (first.path / "model.safetensors").unlink()
    with pytest.warns(UserWarning, match="unusable"):
        again = cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    assert not again.hit and len(calls) == 2
    assert json.loads((again.path / "result.json").read_text())["result"] == {"acc": 1.0}


def test_failed_compute_leaves_no_entry_and_no_temporary_folder(isolated):
    with pytest.raises(RuntimeError, match="training crashed"):
        cache.train_or_load("toy", CONFIG, make_compute([], fail=True), version="v1")
    folder = isolated["cache"] / "toy"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_crash_while_writing_keeps_the_previous_state(monkeypatch, isolated):
    """A write that dies half-way leaves no visible entry; the next call recomputes."""
    calls = []

    def half_written(tensors, filename, *args, **kwargs):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache, "save_file", half_written)
    with pytest.raises(KeyboardInterrupt):
        cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    assert list((isolated["cache"] / "toy").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(isolated["cache"]))
    fresh = cache.train_or_load("toy", CONFIG, make_compute(calls), version="v1")
    assert not fresh.hit and len(calls) == 2


def test_checkpoints_are_safetensors_not_pickles():
    art = cache.train_or_load("toy", CONFIG, make_compute([]), version="v1")
    header_len = int.from_bytes((art.path / "model.safetensors").read_bytes()[:8], "little")
    header = json.loads((art.path / "model.safetensors").read_bytes()[8 : 8 + header_len])
    assert set(header) - {"__metadata__"} == {"w", "b"}


def test_list_and_clear():
    cache.train_or_load("toy", CONFIG, make_compute([]), version="v1")
    cache.train_or_load("other", CONFIG, make_compute([]), version="v1")
    rows = cache.list_entries()
    assert sorted(r["kind"] for r in rows) == ["other", "toy"]
    assert all(r["complete"] and r["bytes"] > 0 for r in rows)
    removed, left = cache.clear(kind="toy")
    assert len(removed) == 1 and left == []
    assert [r["kind"] for r in cache.list_entries()] == ["other"]


def test_the_ledger_counts_each_run_once_with_its_seed_and_recorded_compute_time(
    isolated, monkeypatch
):
    import torch
    from plasticity.book import plots
    from plasticity.engine import cache

    monkeypatch.setattr(cache, "_LEDGER", {})

    def inner():
        return {"w": torch.zeros(1)}, {"inner": True}

    def outer():
        cache.train_or_load("inner-kind", {"seed": 7}, inner, version="v1")
        return {"w": torch.ones(1)}, {"outer": True}

    first = cache.train_or_load("outer-kind", {"seed": 3, "x": 1}, outer, version="v1")
    # the nested computation is part of its parent's time, not a run of its own
    assert [k.split("/")[0] for k in cache.ledger()] == ["outer-kind"]
    (noted,) = cache.ledger().values()
    assert noted["seed"] == 3 and noted["seconds"] == pytest.approx(first.seconds)
    monkeypatch.setattr(cache, "_LEDGER", {})
    again = cache.train_or_load("outer-kind", {"seed": 3, "x": 1}, outer, version="v1")
    assert again.hit
    stored = json.loads((again.path / cache.RESULT_FILE).read_text())["compute_seconds"]
    assert cache.ledger()[f"outer-kind/{again.key}"]["seconds"] == stored
    facts = plots.provenance()
    assert facts["seeds"] == [3] and facts["runs"] == 1
    assert facts["torch"] == torch.__version__ and facts["device"] in ("cpu", "cuda", "mps")


def test_when_another_process_writes_the_entry_first_its_entry_is_kept(isolated):
    calls = []
    first = make_compute(calls, value=1.0)

    def slower():
        # meanwhile "another process" finishes the same entry and writes it
        cache.train_or_load("toy", CONFIG, first, version="v1")
        calls.append(2)
        return {"w": torch.full((3, 2), 5.0), "b": torch.arange(4.0)}, {"acc": 5.0}

    got = cache.train_or_load("toy", CONFIG, slower, version="v1")
    assert calls == [1, 2]
    assert got.result == {"acc": 1.0}
    torch.testing.assert_close(got.tensors["w"], torch.full((3, 2), 1.0))
    again = cache.train_or_load("toy", CONFIG, make_compute(calls, value=9.0), version="v1")
    assert again.hit and again.result == {"acc": 1.0}
    assert not [p for p in got.path.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    # an explicit recompute still replaces it
    redo = cache.train_or_load("toy", CONFIG, slower, version="v1", recompute=True)
    assert redo.result == {"acc": 5.0}
