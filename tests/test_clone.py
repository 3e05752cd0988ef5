"""A reader's commands in a fresh clone leave the published book and every tracked file
as they were: preparing JupyterLab (the shipped pack imported, the notebooks given the
published outputs), replaying a chapter from the pack, and running a chapter in another
profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from plasticity.book import publish
from plasticity.foundations import paths

ROOT = paths.project_root()


def _git(*args, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("needs the book's git repository")
    if _git("status", "--porcelain", "--untracked-files=no", cwd=ROOT).strip():
        pytest.skip("the working tree has uncommitted changes; the clone would not hold them")
    target = tmp_path_factory.mktemp("clone") / "book"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def _run(clone: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PLASTICITY_") or k == "PLASTICITY_HEADLESS"
    }
    env.update(
        PYTHONPATH=str(clone / "lib"),
        PLASTICITY_CACHE_DIR=str(tmp / "cache"),
        PLASTICITY_DATA_DIR=str(tmp / "data"),
    )
    return subprocess.run(
        [sys.executable, "-m", "plasticity", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_lab_preparation_and_a_replay_leave_the_clone_clean(clone, tmp_path):
    packs = publish.shipped_packs(clone)
    if not packs:
        pytest.skip("no results pack is shipped")
    for args in (
        ("results", "import", str(packs[0].relative_to(clone))),
        ("book", "outputs"),
        ("book", "run", "--profile", publish.pack_profile(packs[0]), "--replay", "--only", "04"),
    ):
        done = _run(clone, tmp_path, *args)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "the published book (figures/, book/) is not changed" in done.stdout + done.stderr
    assert _git("status", "--porcelain", cwd=clone).strip() == ""
    # the chapter ran, into the scratch folder, and its tables equal the published ones
    scratch = clone / "build" / publish.pack_profile(packs[0]) / "figures" / "04_lazarus_ablation"
    for table in scratch.glob("*.csv"):
        published = clone / "figures" / "04_lazarus_ablation" / table.name
        assert table.read_bytes() == published.read_bytes(), table.name


def test_a_run_of_another_profile_leaves_the_published_book_untouched(clone, tmp_path):
    done = _run(clone, tmp_path, "book", "run", "--profile", "smoke", "--only", "00")
    assert done.returncode == 0, done.stderr[-3000:]
    assert _git("status", "--porcelain", cwd=clone).strip() == ""
    assert (clone / "build" / "smoke" / "figures" / "00_data").is_dir()
