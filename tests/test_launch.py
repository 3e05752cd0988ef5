"""Colab's notebooks: the chapter's own cells behind one install cell that only acts in Colab."""

from __future__ import annotations

import subprocess
import sys

import jupytext
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from plasticity.book import launch, runner
from plasticity.foundations import paths

REPO = "https://github.com/owner/book"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_colab_notebooks_are_the_chapters_behind_an_install_cell(tmp_path):
    written = launch.write_colab(tmp_path, REPO, COMMIT)
    assert [p.stem for p in written] == [c.stem for c in runner.chapters()]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        first, *rest = nb.cells
        assert first.cell_type == "code" and first.metadata["tags"] == ["colab-install"]
        assert f"git clone -q {REPO} " in first.source and f"checkout -q {COMMIT}" in first.source
        own = jupytext.read(paths.project_root() / "notebooks" / f"{path.stem}.py")
        assert [(c.cell_type, c.source) for c in rest] == [
            (c.cell_type, c.source) for c in own.cells
        ]
        assert any("parameters" in c.metadata.get("tags", []) for c in rest), path.name
        assert nb.metadata["kernelspec"]["name"] == "python3"
    assert COMMIT in (tmp_path / "README.md").read_text()


def test_the_install_cell_is_valid_ipython_and_does_nothing_outside_colab(monkeypatch):
    code = TransformerManager().transform_cell(launch.install_cell(REPO, COMMIT))
    calls = []
    shell = type("Shell", (), {})()
    shell.system = lambda cmd: calls.append(("system", cmd))
    shell.run_line_magic = lambda name, line, *a: calls.append((name, line))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(code, "<install>", "exec"), {"get_ipython": lambda: shell})
    assert calls == []
    # inside Colab it clones, checks out the commit, installs and changes folder, in order
    fake = type(sys)("google.colab")
    fake.output = type(sys)("google.colab.output")
    fake.output.enable_custom_widget_manager = lambda: calls.append(("widgets", ""))
    monkeypatch.setitem(sys.modules, "google", type(sys)("google"))
    monkeypatch.setitem(sys.modules, "google.colab", fake)
    monkeypatch.setattr(sys.modules["google"], "colab", fake, raising=False)
    path = list(sys.path)
    try:
        exec(compile(code, "<install>", "exec"), {"get_ipython": lambda: shell})
    finally:
        sys.path[:] = path
    assert [c[0] for c in calls] == ["system", "system", "pip", "cd", "widgets"]
    assert calls[1][1].endswith(COMMIT) and "-e /content/plasticity" in calls[2][1]


@pytest.mark.parametrize(
    ("repo", "commit", "match"),
    [("github.com/owner/book", COMMIT, "repo="), (REPO, "main; rm -rf /", "commit=")],
)
def test_the_install_cell_refuses_what_is_not_a_repository_or_a_commit(repo, commit, match):
    with pytest.raises(launch.LaunchError, match=match):
        launch.install_cell(repo, commit)


def test_the_colab_command_runs_without_torch(tmp_path):
    # the publishing workflow installs only jupytext and pyyaml
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('torch is not installed here')\n")
    out = tmp_path / "colab"
    env_path = f"{blocker}:{paths.project_root() / 'lib'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "plasticity.book.launch",
            "colab",
            "--out",
            str(out),
            "--commit",
            COMMIT,
        ],
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((out / "notebooks").glob("*.ipynb"))) == len(runner.chapters())
