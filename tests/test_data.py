"""Data: archive import, the order of sources, the superclass map, synthetic data, batching."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from plasticity import data
from plasticity.data import archive as archive_module
from plasticity.foundations.checks import ParameterError

from .conftest import make_archive


@pytest.mark.parametrize("suffix", [".tar.xz", ".tar", ".zip"])
def test_archive_import_decodes_every_image_with_its_label(tmp_path, isolated, suffix):
    # Label order in meta.json is deliberately not the alphabetical folder order.
    classes = list(reversed(data.CIFAR10_CLASSES))
    archive = tmp_path / f"tiny{suffix}"
    written = make_archive(archive, classes=classes)

    ds = data.load_dataset("cifar10", archives=[archive], download=False)

    assert ds.train_x.shape == (30, 32, 32, 3) and ds.test_x.shape == (20, 32, 32, 3)
    assert ds.train_x.dtype == np.uint8
    members = sorted(m for m in written if "/train/" in m)
    for i, member in enumerate(members):
        folder = member.split("/")[2]
        assert ds.train_y[i] == classes.index(folder)
        np.testing.assert_array_equal(ds.train_x[i], written[member])
    assert np.bincount(ds.test_y).tolist() == [2] * 10
    assert "archive" in ds.source and not ds.synthetic
    assert (isolated["data"] / "arrays" / "cifar10" / "meta.json").is_file()


def test_second_load_reads_memory_mapped_cache_not_the_archive(tmp_path):
    archive = tmp_path / "tiny.tar.xz"
    make_archive(archive)
    first = data.load_dataset("cifar10", archives=[archive], download=False)
    archive.unlink()  # the cache must suffice from now on

    again = data.load_dataset("cifar10", download=False)

    assert isinstance(again.train_x, np.memmap)
    assert again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.train_x, first.train_x)


def test_cached_arrays_come_before_a_different_archive(tmp_path):
    one, two = tmp_path / "one.tar", tmp_path / "two.tar"
    make_archive(one)
    make_archive(two, per_class={"train": 4, "test": 1})
    first = data.load_dataset("cifar10", archives=[one], download=False)
    second = data.load_dataset("cifar10", archives=[two], download=False)
    assert second.fingerprint == first.fingerprint
    # An explicit import replaces the cache and changes the fingerprint.
    third = data.import_archive(two)
    assert third.fingerprint != first.fingerprint and len(third.train_y) == 40


def test_archive_from_environment_variable(tmp_path, monkeypatch):
    archive = tmp_path / "env.zip"
    make_archive(archive)
    monkeypatch.setenv(data.ARCHIVE_ENV, str(archive))
    assert len(data.load_dataset("cifar10", download=False).train_y) == 30


def test_broken_cache_is_rebuilt_from_the_archive(tmp_path, isolated):
    archive = tmp_path / "tiny.tar"
    make_archive(archive)
    data.load_dataset("cifar10", archives=[archive], download=False)
    (isolated["data"] / "arrays" / "cifar10" / "train_x.npy").write_bytes(b"garbage")

    with pytest.warns(UserWarning, match="unreadable cached arrays"):
        ds = data.load_dataset("cifar10", archives=[archive], download=False)
    assert ds.train_x.shape == (30, 32, 32, 3)


def test_ensure_imported_decodes_an_archive_only_once(tmp_path, monkeypatch):
    archive = tmp_path / "tiny.tar"
    make_archive(archive)
    data.ensure_imported(archive)

    def fail(*args, **kwargs):
        raise AssertionError("the archive was decoded again")

    monkeypatch.setattr(archive_module, "import_archive", fail)
    assert len(data.ensure_imported(archive).train_y) == 30


def test_archive_of_the_other_data_set_is_skipped(tmp_path):
    archive = tmp_path / "c100.tar"
    make_archive(
        archive,
        name="cifar100",
        classes=list(data.CIFAR100_FINE),
        per_class={"train": 1, "test": 1},
    )
    with pytest.raises(data.DataUnavailableError, match="holds cifar100, not cifar10"):
        data.load_dataset("cifar10", archives=[archive], download=False)
    c100 = data.load_dataset("cifar100", archives=[archive], download=False)
    assert c100.num_classes == 100 and c100.coarse(np.array([4]))[0] == 0


def test_unknown_class_folder_is_a_clear_error(tmp_path):
    archive = tmp_path / "bad.tar"
    make_archive(archive, extra_folder="unicorn")
    with pytest.raises(ValueError, match="unicorn"):
        data.import_archive(archive)


def test_no_source_gives_one_error_that_says_how_to_provide_data():
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_dataset("cifar10", download=False)
    message = str(info.value)
    assert "--data-archive" in message and data.ARCHIVE_ENV in message
    assert "cifar-10-batches-py" in message


def test_unknown_dataset_name_is_rejected():
    with pytest.raises(ParameterError, match="dataset='mnist'"):
        data.load_dataset("mnist", download=False)


def test_official_superclass_map():
    assert len(data.CIFAR100_FINE) == 100 and len(set(data.CIFAR100_FINE)) == 100
    assert len(data.CIFAR100_COARSE) == 20
    assert np.bincount(data.CIFAR100_FINE_TO_COARSE).tolist() == [5] * 20
    members = np.flatnonzero(data.CIFAR100_FINE_TO_COARSE == 0).tolist()
    assert members == [4, 30, 55, 72, 95]  # aquatic_mammals: beaver dolphin otter seal whale
    assert (
        data.CIFAR100_COARSE[data.CIFAR100_FINE_TO_COARSE[data.CIFAR100_FINE.index("bus")]]
        == "vehicles_1"
    )


def test_real_archives_match_the_official_data(real_archives, isolated):
    """Slow (about 25 s): decode both real archives and check counts, means and the map."""
    official_means = {"cifar10": (125.3, 123.0, 113.9), "cifar100": (129.3, 124.1, 112.4)}
    for name, archive in [("cifar10", "cifar10-jpeg.tar.xz"), ("cifar100", "cifar100-jpeg.tar.xz")]:
        path = real_archives / archive
        ds = data.import_archive(path)
        assert (len(ds.train_y), len(ds.test_y)) == (50_000, 10_000)
        per_class = 50_000 // ds.num_classes
        assert np.bincount(ds.train_y).tolist() == [per_class] * ds.num_classes
        means = ds.train_x.reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(means, official_means[name], atol=0.1)
    meta = json.loads((isolated["data"] / "arrays" / "cifar100" / "meta.json").read_text())
    assert meta["train"] == 50_000
    import tarfile

    with tarfile.open(real_archives / "cifar100-jpeg.tar.xz", "r:*") as tf:
        shipped = json.load(tf.extractfile("cifar100/meta.json"))
    assert shipped["fine_to_coarse"] == data.CIFAR100_FINE_TO_COARSE.tolist()


def test_synthetic_data_is_deterministic_and_labelled():
    a = data.synthetic_dataset("cifar10", 200, 50, seed=3)
    b = data.synthetic_dataset("cifar10", 200, 50, seed=3)
    c = data.synthetic_dataset("cifar10", 200, 50, seed=4)
    np.testing.assert_array_equal(a.train_x, b.train_x)
    assert not np.array_equal(a.train_x, c.train_x)
    assert a.synthetic and "synthetic" in a.title and a.describe()["fingerprint"] == "synthetic"
    assert a.train_x.shape == (200, 32, 32, 3) and np.bincount(a.train_y).tolist() == [20] * 10


def test_synthetic_cifar100_has_a_real_hierarchy():
    ds = data.synthetic_dataset("cifar100", 5000, 100)
    means = np.stack(
        [ds.train_x[ds.train_y == k].astype(np.float64).mean(0).ravel() for k in range(100)]
    )
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)
    same = data.CIFAR100_FINE_TO_COARSE[:, None] == data.CIFAR100_FINE_TO_COARSE[None]
    off_diagonal = ~np.eye(100, dtype=bool)
    within = dist[same & off_diagonal].mean()
    between = dist[~same].mean()
    assert within < 0.8 * between
    assert ds.coarse_classes == data.CIFAR100_COARSE


def test_batches_shuffle_is_deterministic_per_seed_and_covers_every_image():
    x = np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    y = np.arange(100)
    one = data.Batches(x, y, 32, seed=7)
    same = data.Batches(x, y, 32, seed=7)
    other = data.Batches(x, y, 32, seed=8)
    labels = torch.cat([yb for _, yb in one.epoch(0)])
    assert sorted(labels.tolist()) == list(range(100)) and len(one) == 4
    assert torch.equal(labels, torch.cat([yb for _, yb in same.epoch(0)]))
    assert not torch.equal(labels, torch.cat([yb for _, yb in other.epoch(0)]))
    assert not torch.equal(labels, torch.cat([yb for _, yb in one.epoch(1)]))


def test_batches_normalise_like_totensor_and_normalize():
    x = np.random.default_rng(1).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    xb, yb = next(iter(data.Batches(x, np.arange(10), 10, shuffle=False)))
    expected = (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(xb, expected)
    assert xb.min() >= -1 - 1e-6 and xb.max() <= 1 + 1e-6


def test_validation_split_is_fixed_and_disjoint():
    ds = data.synthetic_dataset("cifar10", 300, 10)
    a, b = ds.with_validation(50), ds.with_validation(50)
    assert len(a.val_y) == 50 and len(a.train_y) == 250
    np.testing.assert_array_equal(a.val_x, b.val_x)
    train_idx, val_idx = data.split_indices(300, 50)
    assert not set(train_idx) & set(val_idx) and len(set(train_idx) | set(val_idx)) == 300
    with pytest.raises(ParameterError, match="val_size"):
        ds.with_validation(300)


def test_copy_of_torchvision_layout_is_used(tmp_path, isolated):
    """The torchvision folder comes before archives; a broken one is reported, not fatal."""
    (isolated["data"] / "cifar-10-batches-py").mkdir()
    archive = tmp_path / "tiny.tar"
    make_archive(archive)
    ds = data.load_dataset("cifar10", archives=[archive], download=False)
    assert len(ds.train_y) == 30
    shutil.rmtree(isolated["data"] / "arrays")
    with pytest.raises(data.DataUnavailableError, match="torchvision layout in .*cifar-10"):
        data.load_dataset("cifar10", download=False)


def test_missing_data_reads_as_instructions_not_a_traceback_in_a_notebook(
    tmp_path, monkeypatch, capsys
):
    from IPython.core.interactiveshell import InteractiveShell
    from plasticity import data

    monkeypatch.delenv(data.ARCHIVE_ENV, raising=False)
    with pytest.raises(data.DataUnavailableError) as caught:
        data.load_dataset("cifar10", tmp_path, download=False)
    lines = caught.value._render_traceback_()
    text = "\n".join(lines)
    assert "python -m plasticity data import PATH" in text and "DATA_ARCHIVE" in text
    assert "Traceback" not in text and "File " not in text
    # what a reader sees when a cell raises it: the message, no traceback
    shell = InteractiveShell.instance()
    shell.user_ns["problem"] = caught.value
    shell.run_cell("raise problem")
    shown = capsys.readouterr().out
    assert "data import PATH" in shown and "Traceback" not in shown
