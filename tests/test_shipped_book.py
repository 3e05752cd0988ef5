"""The results pack shipped with the published book (``book/results-<profile>.tar.xz``):
it was computed on the data the committed figures record, and a chapter replayed from
it in a clone with no data, no cache and no weights saves the committed tables."""

from __future__ import annotations

import json
import shutil
import tarfile

import pytest
from plasticity.book import publish, runner
from plasticity.engine import cache, results
from plasticity.foundations import paths
from plasticity.foundations.manifest import read_manifest

from .conftest import assert_same_tables

ROOT = paths.project_root()
PACKS = publish.shipped_packs(ROOT)
#: The chapters replayed from the pack: one Lazarus chapter and the headline table,
#: which reads every run of the book.
REPLAYED = ["04", "12"]

pytestmark = pytest.mark.skipif(not PACKS, reason="no results pack is shipped in book/")


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_the_shipped_pack_is_of_the_published_book_and_its_data(pack):
    """Its profile is the published pages' profile and its data sets are those every
    committed figure of that profile records: a pack from another run cannot pass."""
    with tarfile.open(pack) as tar:
        header = json.loads(tar.extractfile(results.HEADER).read())
        names = tar.getnames()
    assert not [n for n in names if not (n == results.HEADER or n.endswith("/result.json"))]
    recorded = {d["name"]: d["fingerprint"] for d in header["datasets"]}
    assert set(recorded) == {"cifar10", "cifar100"} and header["entries"] == len(names) - 1

    profiles = {
        json.loads(p.read_text())["metadata"]["papermill"]["parameters"]["profile"]
        for p in publish.published(ROOT).values()
    }
    assert profiles == {publish.pack_profile(pack)}
    entries = [
        e
        for e in read_manifest(ROOT / "figures")["files"].values()
        if e["profile"] == publish.pack_profile(pack) and not e["synthetic"]
    ]
    assert entries
    for entry in entries:
        for ds in entry["datasets"]:
            assert recorded[ds["name"]] == ds["fingerprint"], entry["path"]


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_a_chapter_replays_from_the_shipped_pack_with_the_committed_tables(
    pack, tmp_path, monkeypatch
):
    """A clone with no data and no cache: import the pack, replay chapters 4 and 12
    into scratch folders, and every table they save equals the committed one."""
    fresh = tmp_path / "cache"
    monkeypatch.setenv("PLASTICITY_CACHE_DIR", str(fresh))
    monkeypatch.setenv("PLASTICITY_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.delenv("PLASTICITY_DATA_ARCHIVE", raising=False)
    figures = tmp_path / "figures"
    shutil.copytree(ROOT / "figures", figures)
    assert results.import_pack(pack)["imported"] > 0
    done = runner.run(
        publish.pack_profile(pack),
        only=REPLAYED,
        output_dir=tmp_path / "executed",
        figures_dir=str(figures),
        progress=False,
        log=lambda *a, **k: None,
        replay=True,
    )
    assert len(done) == len(REPLAYED)
    assert not list(fresh.rglob(cache.MODEL_FILE)), "a replay wrote weights"
    compared = sum(
        assert_same_tables(figures, ROOT / "figures", (ROOT / "figures" / c.stem).glob("*.csv"))
        for c, _, _ in done
    )
    assert compared >= len(REPLAYED)
