"""Nothing a user types deletes or floods anything, and bad input fails before compute.

Each test names the failure it guards against: a cache clear that reaches outside the
cache, archive headers that exhaust memory, a damaged manifest that switches off the
guard of real figures, "cached" meaning different things to different commands,
failures found only after compute, leftovers of interrupted writes, private cache
folders, devices and chapters checked too late, and runs that do not say where they
were computed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
from plasticity import data
from plasticity.book import plan, plots, runner, site
from plasticity.cli import main
from plasticity.data import archive
from plasticity.engine import cache
from plasticity.foundations import compute, paths
from plasticity.foundations.checks import ParameterError
from plasticity.foundations.manifest import ManifestError, read_manifest
from safetensors.torch import save_file

from tests.conftest import make_archive


def _toy(calls: list | None = None):
    def compute_():
        if calls is not None:
            calls.append(1)
        return {"w": torch.ones(3)}, {"value": 1.0}

    return compute_


# ---------------------------------------------------------------- cache clear


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_cache_clear_refuses_a_kind_that_names_a_path(tmp_path):
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "sub" / "precious.txt").write_text("keep")
    cache_dir = tmp_path / "a" / "cache"
    cache.train_or_load("toy", {"seed": 0}, _toy(), version="v1", cache_dir=cache_dir)
    before = _tree(tmp_path)
    for kind in ("../../victim", "..", "/etc", "toy/../..", ".", ""):
        with pytest.raises(cache.CacheError, match="not a cache kind"):
            cache.clear(cache_dir, kind=kind)
    assert _tree(tmp_path) == before


def test_cache_clear_on_a_folder_that_is_not_a_cache_deletes_nothing(tmp_path, capsys):
    home = tmp_path / "home"
    for folder in ("Documents", "Pictures", ".config"):
        (home / folder / "inner").mkdir(parents=True)
        (home / folder / "inner" / "file.txt").write_text("mine")
    (home / "Documents" / "0123456789abcdef0123").mkdir()  # key-shaped, not an entry
    before = _tree(home)
    assert main(["cache", "--cache-dir", str(home), "clear"]) == 0
    out = capsys.readouterr().out
    assert "removed 0 entries" in out and "not cache entries" in out
    assert _tree(home) == before


def test_cache_clear_cli_names_the_refused_kind_and_removes_nothing(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("x")
    cache_dir = tmp_path / "x" / "y" / "cache"
    cache_dir.mkdir(parents=True)
    code = main(["cache", "--cache-dir", str(cache_dir), "clear", "--kind", "../../victim"])
    assert code == 2
    assert "kind='../../victim' is not a cache kind" in capsys.readouterr().err
    assert (victim / "keep.txt").read_text() == "x"


def test_cache_clear_removes_entries_and_leaves_what_it_cannot_prove(tmp_path):
    cache_dir = tmp_path / "cache"
    a = cache.train_or_load("toy", {"seed": 0}, _toy(), version="v1", cache_dir=cache_dir)
    b = cache.train_or_load("toy", {"seed": 1}, _toy(), version="v1", cache_dir=cache_dir)
    other = cache.train_or_load("other", {"seed": 0}, _toy(), version="v1", cache_dir=cache_dir)
    foreign = cache_dir / "toy" / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("x")
    impostor = cache_dir / "toy" / "fedcba9876543210fedc"  # key-shaped, someone else's json
    impostor.mkdir()
    (impostor / "result.json").write_text(json.dumps({"format": 1, "kind": "elsewhere"}))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    (cache_dir / "toy" / "aaaaaaaaaaaaaaaaaaaa").symlink_to(outside, target_is_directory=True)

    removed, left = cache.clear(cache_dir, kind="toy")
    assert sorted(removed) == sorted([a.path.resolve(), b.path.resolve()])
    assert {p.name for p in left} == {"notes", "fedcba9876543210fedc", "aaaaaaaaaaaaaaaaaaaa"}
    assert (foreign / "mine.txt").exists() and (outside / "keep.txt").exists()
    assert other.path.exists()  # another kind is untouched
    removed, left = cache.clear(cache_dir)
    assert [p.name for p in removed] == [other.key]


def test_an_interrupted_write_leaves_nothing_after_the_next_run(tmp_path):
    """A process killed while writing (SIGTERM) leaves its temporary folder; the next
    run in that kind removes it, while a live writer's folder is kept."""
    cache_dir = tmp_path / "cache"
    kind_dir = cache_dir / "toy"
    kind_dir.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = cache._HOST
    orphan = kind_dir / f".{'1' * 20}.{host}.{int(dead.stdout)}.abc_12"
    (orphan).mkdir()
    (orphan / "model.safetensors").write_bytes(b"half")
    alive = kind_dir / f".{'2' * 20}.{host}.{os.getpid()}.def_34"
    alive.mkdir()
    cache.train_or_load("toy", {"seed": 0}, _toy(), version="v1", cache_dir=cache_dir)
    assert not orphan.exists()
    assert alive.exists()  # this process is still writing it, as far as anyone knows


def test_cache_folders_honour_the_umask(tmp_path):
    art = cache.train_or_load("toy", {"seed": 0}, _toy(), version="v1", cache_dir=tmp_path)
    assert art.path.stat().st_mode & 0o777 == 0o777 & ~paths.UMASK
    assert (art.path / "result.json").stat().st_mode & 0o777 == 0o666 & ~paths.UMASK


# ---------------------------------------------------------------- before compute


def test_a_cache_that_cannot_be_written_fails_before_compute(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    calls: list = []
    with pytest.raises(cache.CacheError, match="cannot be written"):
        cache.train_or_load("toy", {"seed": 0}, _toy(calls), version="v1", cache_dir=blocker)
    assert calls == []


def test_a_full_disk_fails_before_compute(tmp_path, monkeypatch):
    real = cache.shutil.disk_usage
    monkeypatch.setattr(
        cache.shutil, "disk_usage", lambda p: real(p)._replace(free=cache.MIN_FREE_BYTES - 1)
    )
    calls: list = []
    with pytest.raises(cache.CacheError, match="MB free"):
        cache.train_or_load("toy", {"seed": 0}, _toy(calls), version="v1", cache_dir=tmp_path)
    assert calls == []


def test_data_import_of_a_missing_path_is_an_error_not_a_traceback(tmp_path, capsys):
    assert main(["data", "import", str(tmp_path / "nope.tar.xz")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


@pytest.mark.parametrize("meta", ["[1, 2, 3]", "[" * 100_000 + "]" * 100_000, '"text"'])
def test_a_meta_json_that_is_no_object_is_an_archive_error(tmp_path, meta):
    path = tmp_path / "cifar10.tar"
    make_archive(path)
    members = []
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            payload = tf.extractfile(m).read()
            if m.name.endswith("meta.json"):
                payload = meta.encode()
                m.size = len(payload)
            members.append((m, payload))
    with tarfile.open(path, "w") as tf:
        for m, payload in members:
            tf.addfile(m, io.BytesIO(payload))
    with pytest.raises(data.ArchiveError, match="meta.json"):
        data.import_archive(path, tmp_path / "d")


# ---------------------------------------------------------------- archive bombs

#: Peak memory a refused bomb may add to importing a tiny valid archive (KiB).
BOMB_MARGIN_KB = 96 * 1024
BOMB = 256 << 20  # bytes a header claims (the reports used 1 GiB; the bound is the same)

# The child's peak resident memory, from the moment the import starts: the high-water
# mark is reset first (Linux's clear_refs), since a child inherits its parent's.
_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from plasticity import data

    def peak_kb():
        try:
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    error = None
    try:
        data.import_archive(sys.argv[1], sys.argv[2])
    except data.ArchiveError as exc:
        error = str(exc)
    print(json.dumps({"error": error, "peak_kb": peak_kb()}))
    """
)


def _import_in_child(path: Path, tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(paths.project_root() / "lib")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), str(tmp / "data")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _header_bomb(path: Path, kind: bytes, size: int) -> None:
    """A .tar.gz whose first member is a header record (GNU long name or pax) claiming
    ``size`` bytes, streamed through gzip (the file stays about 1 MB)."""
    info = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "pax")
    info.type, info.size = kind, size
    header = info.tobuf(
        format=tarfile.GNU_FORMAT if kind == tarfile.GNUTYPE_LONGNAME else tarfile.USTAR_FORMAT
    )
    chunk = (b"a" * (1 << 20)) if kind == tarfile.GNUTYPE_LONGNAME else b"9 path=a\n" * 116508
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        written = 0
        while written < size:
            piece = chunk[: size - written]
            f.write(piece)
            written += len(piece)
        f.write(b"\0" * (-size % 512 + 1024))


@pytest.fixture(scope="module")
def baseline_peak(tmp_path_factory) -> int:
    tmp = tmp_path_factory.mktemp("baseline")
    make_archive(tmp / "cifar10.tar")
    result = _import_in_child(tmp / "cifar10.tar", tmp)
    assert result["error"] is None
    return result["peak_kb"]


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE])
def test_a_header_bomb_is_refused_within_bounded_memory(tmp_path, baseline_peak, kind):
    path = tmp_path / "cifar10.tar.gz"
    _header_bomb(path, kind, BOMB)
    assert path.stat().st_size < 4 << 20
    result = _import_in_child(path, tmp_path)
    assert result["error"] is not None and "header record" in result["error"]
    assert len(result["error"]) < 2000
    assert result["peak_kb"] < baseline_peak + BOMB_MARGIN_KB


def test_a_zip_member_that_inflates_past_its_declared_size_is_refused(tmp_path, baseline_peak):
    path = tmp_path / "cifar10.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cifar10/meta.json", json.dumps({"classes": []}))
        zf.writestr("cifar10/train/a/0.png", b"\0" * BOMB)
    raw = bytearray(path.read_bytes())
    declared = (1000).to_bytes(4, "little")
    local = raw.find(b"PK\x03\x04", raw.find(b"PK\x03\x04") + 4)  # the second member
    raw[local + 22 : local + 26] = declared
    central = raw.find(b"PK\x01\x02", raw.find(b"PK\x01\x02") + 4)
    raw[central + 24 : central + 28] = declared
    path.write_bytes(bytes(raw))
    result = _import_in_child(path, tmp_path)
    # refused either by the bounded read (past the cap) or by zipfile's CRC check at
    # the declared size; never inflated
    assert result["error"] is not None
    assert "inflates to" in result["error"] or "Bad CRC-32" in result["error"]
    assert result["peak_kb"] < baseline_peak + BOMB_MARGIN_KB


@pytest.mark.parametrize("suffix", [".tar", ".zip"])
def test_folders_count_towards_the_entry_cap(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(archive, "MAX_ARCHIVE_MEMBERS", 50)
    path = tmp_path / f"cifar10{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for i in range(60):
                zf.writestr(f"cifar10/d{i}/", b"")
    else:
        with tarfile.open(path, "w") as tf:
            for i in range(60):
                info = tarfile.TarInfo(f"cifar10/d{i}")
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
    with pytest.raises(data.ArchiveError, match="more than 50 entries|declares 60 entries"):
        data.import_archive(path, tmp_path / "d")


# ---------------------------------------------------------------- the manifest


CONFLICT = '<<<<<<< HEAD\n{"files": {}}\n=======\n{"files": {}}\n>>>>>>> other\n'


def test_a_damaged_manifest_stops_writes_into_its_folder(isolated):
    folder = isolated["figures"]
    table = __import__("pandas").DataFrame({"x": [1]})
    plots.save_table(
        table,
        "00_data",
        "real",
        profile="quick",
        datasets=[{"name": "cifar10", "fingerprint": "abc", "n_train": 1}],
    )
    saved = (folder / "00_data" / "real.csv").read_bytes()
    (folder / "MANIFEST.json").write_text(CONFLICT)
    with pytest.raises(ManifestError, match="merge conflict"):
        read_manifest(folder)
    for profile, fingerprint in (("smoke", "synthetic"), ("quick", "abc")):
        with pytest.raises(ManifestError):
            plots.save_table(
                table.assign(x=2),
                "00_data",
                "real",
                profile=profile,
                datasets=[{"name": "cifar10", "fingerprint": fingerprint, "n_train": 1}],
            )
    assert (folder / "00_data" / "real.csv").read_bytes() == saved
    assert (folder / "MANIFEST.json").read_text() == CONFLICT


def test_book_run_into_a_folder_with_a_damaged_manifest_stops_before_any_chapter(
    isolated, capsys, monkeypatch
):
    (isolated["figures"] / "MANIFEST.json").write_text(CONFLICT)
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("a chapter ran"))
    code = main(
        [
            "book",
            "run",
            "--profile",
            "smoke",
            "--only",
            "00",
            "--figures-dir",
            str(isolated["figures"]),
        ]
    )
    assert code == 1
    assert "MANIFEST.json cannot be used" in capsys.readouterr().err
    assert (isolated["figures"] / "MANIFEST.json").read_text() == CONFLICT


# ---------------------------------------------------------------- what "cached" means


def _fake_entry(folder: Path, kind: str, good: bool) -> None:
    folder.mkdir(parents=True)
    save_file({"w": torch.ones(2)}, str(folder / cache.MODEL_FILE))
    digest = cache._digest(folder / cache.MODEL_FILE) if good else "0" * 64
    meta = {
        "format": cache.FORMAT,
        "kind": kind,
        "key": folder.name,
        "result": {},
        "model_sha256": digest,
    }
    (folder / cache.RESULT_FILE).write_text(json.dumps(meta))


def test_plan_sweep_and_cache_ls_agree_on_what_is_cached(isolated, capsys):
    runs = plan.plan("smoke", ["01"])
    (base,) = [r for r in runs if r.kind == "lazarus-base"]
    folder = isolated["cache"] / base.kind / base.key
    _fake_entry(folder, base.kind, good=False)
    assert not cache.usable(folder)
    assert not [r for r in plan.plan("smoke", ["01"]) if r.key == base.key][0].cached
    main(["cache", "ls"])
    assert "corrupt" in capsys.readouterr().out
    from plasticity.book import sweep

    assert base.key in {j.key for j in sweep.jobs_for("smoke", ["01"])}
    folder.rename(folder.with_name("gone"))
    _fake_entry(folder, base.kind, good=True)
    assert [r for r in plan.plan("smoke", ["01"]) if r.key == base.key][0].cached
    assert base.key not in {j.key for j in sweep.jobs_for("smoke", ["01"])}


# ---------------------------------------------------------------- devices and chapters


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda", "no CUDA device is usable; this machine has cpu"),
        ("cuda:99", "no CUDA device is usable"),
        ("meta", "not on 'meta'"),
        ("tpu", "is not a device name"),
        ("cpu:3", "the CPU is cpu"),
    ],
)
def test_a_device_that_is_not_here_is_refused_before_compute(device, message, capsys):
    with pytest.raises(ParameterError, match=message):
        compute.check_device(device)
    code = main(
        ["book", "plan", "--profile", "smoke", "--only", "01", "--device", device, "--execute"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"device={device!r}" in err and "Traceback" not in err


def test_a_cluster_device_is_checked_by_name_only():
    assert compute.check_device("cuda:3", present=False).index == 3
    with pytest.raises(ParameterError):
        compute.check_device("meta", present=False)


@pytest.mark.parametrize("only", ["99", "../../etc/passwd", "nothing"])
def test_book_plan_only_says_what_book_run_says(only, capsys):
    assert main(["book", "plan", "--profile", "smoke", "--only", only]) == 2
    err = capsys.readouterr().err
    assert "names no chapter; choose from 00_data" in err and "Traceback" not in err


# ---------------------------------------------------------------- device provenance


def test_a_run_records_its_device_and_determinism(tmp_path):
    art = cache.train_or_load("toy", {"seed": 4}, _toy(), version="v1", cache_dir=tmp_path)
    meta = json.loads((art.path / cache.RESULT_FILE).read_text())
    assert meta["device"] == "cpu" and meta["determinism"] == "deterministic"
    assert cache.ledger()[f"toy/{art.key}"]["device"] == "cpu"
    assert plots.provenance()["run_devices"] == ["cpu"]


def test_cuda_without_deterministic_algorithms_is_called_nondeterministic(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    assert compute.determinism("cuda") == "nondeterministic (cuDNN)"
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    assert compute.determinism("cuda") == "deterministic"


def test_a_chapter_that_mixes_devices_says_so():
    entry = {
        "profile": "quick",
        "datasets": [],
        "commit": "abc",
        "utc": "2026-12-04",
        "device": "cpu",
        "torch": "2.x",
        "run_devices": ["cpu", "cuda"],
        "determinism": ["deterministic", "nondeterministic (cuDNN)"],
    }
    line = site.caption(entry)
    assert "runs on cpu, cuda (mixed devices)" in line
    assert "nondeterministic (cuDNN)" in line
    one = site.caption({**entry, "run_devices": ["cpu"], "determinism": ["deterministic"]})
    assert "mixed" not in one


# ---------------------------------------------------------------- a slow machine


def test_the_smoke_book_has_no_wall_clock_limit_but_real_runs_keep_theirs(monkeypatch, tmp_path):
    seen = {}

    def fake_execute_notebook(*args, **kwargs):
        seen.update(kwargs)
        Path(args[1]).write_text("{}")

    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute_notebook)
    chapter = runner.chapters()[0]
    runner.execute(chapter, profile="smoke", output_dir=tmp_path, progress=False)
    assert seen["execution_timeout"] is None
    runner.execute(chapter, profile="quick", output_dir=tmp_path, progress=False)
    assert seen["execution_timeout"] == 3600
    runner.execute(chapter, profile="quick", output_dir=tmp_path, progress=False, timeout=5)
    assert seen["execution_timeout"] == 5


# ---------------------------------------------------------------- pages that tell the truth


def _page(root: Path, stem: str, profile: str) -> None:
    (root / "executed").mkdir(parents=True, exist_ok=True)
    meta = {"papermill": {"parameters": {"profile": profile}, "duration": 12.0}}
    (root / "executed" / f"{stem}.ipynb").write_text(json.dumps({"cells": [], "metadata": meta}))


def _manifest(root: Path, profile: str) -> None:
    entry = {
        "profile": profile,
        "datasets": [{"name": "cifar10", "fingerprint": "abc"}],
        "synthetic": False,
        "commit": "c0ffee0",
        "utc": "2026-12-01T00:00:00+00:00",
        "device": "cpu",
        "torch": "2.x",
        "runs": 3,
        "compute_seconds": 6480.0,
    }
    files = {f"{c}/x.png": {**entry, "chapter": c} for c in ("02_lazarus_vshape", "12_headlines")}
    files["12_headlines/headlines.md"] = {**entry, "chapter": "12_headlines"}
    (root / "figures").mkdir(parents=True, exist_ok=True)
    (root / "figures" / "MANIFEST.json").write_text(json.dumps({"files": files}))


def test_a_smoke_page_never_carries_the_real_books_provenance(tmp_path):
    _manifest(tmp_path, "quick")
    _page(tmp_path, "02_lazarus_vshape", "smoke")
    facts = site.provenance(tmp_path)
    page = facts["chapters"]["/executed/02_lazarus_vshape.ipynb"]
    assert page["profile"] == "smoke" and page["synthetic"] is True
    assert "profile smoke · synthetic data" in page["caption"]
    assert "quick" not in page["caption"] and "108 min" not in page["caption"]
    assert "executed with profile smoke" in facts["mismatch"]


def test_a_page_of_the_same_run_keeps_its_manifest_provenance(tmp_path):
    _manifest(tmp_path, "quick")
    _page(tmp_path, "02_lazarus_vshape", "quick")
    facts = site.provenance(tmp_path)
    page = facts["chapters"]["/executed/02_lazarus_vshape.ipynb"]
    assert page["caption"].startswith("profile quick · data cifar10 abc")
    assert facts["mismatch"] is None
