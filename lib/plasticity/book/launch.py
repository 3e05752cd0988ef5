"""Where a chapter can be opened: GitHub source, Binder and Colab, and Colab's notebooks.

The repository is declared once, in ``myst.yml`` (``project.github``). Every link is
derived from it:

- the chapter's jupytext source on GitHub;
- Binder, which builds ``environment.yml`` and opens the ``.py`` in JupyterLab;
- Colab, which opens only ``.ipynb`` files from GitHub. The repository keeps the
  chapters as jupytext ``.py``, so ``python -m plasticity.book.launch colab --out DIR`` writes
  one ``.ipynb`` per chapter, whose first cell installs the book inside Colab (and does
  nothing anywhere else). The ``colab`` workflow publishes them to the ``colab`` branch,
  which the Colab links point to.

This module needs only ``jupytext`` and ``pyyaml`` (no torch), so the workflow that
publishes Colab's notebooks installs nothing else.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import yaml

from ..foundations import paths

CONFIG = "myst.yml"
#: The branch the Colab links open, written by ``.github/workflows/colab.yml``.
COLAB_BRANCH = "colab"
#: Where Colab keeps the book inside its virtual machine.
COLAB_ROOT = "/content/plasticity"
#: Colab's (and JupyterLab's default) Python kernel.
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
_REPO = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


class LaunchError(ValueError):
    """A launch link or a Colab notebook cannot be made; the message says why."""


def read_config(root: Path | None = None) -> dict:
    path = (root or paths.project_root()) / CONFIG
    if not path.is_file():
        raise LaunchError(f"{path} not found: the repository is declared in {CONFIG}")
    return yaml.safe_load(path.read_text()) or {}


def repository(config: dict) -> str | None:
    """The repository URL declared once in ``myst.yml`` (``project.github``)."""
    url = (config.get("project") or {}).get("github")
    if not url:
        return None
    url = str(url).rstrip("/")
    if not _REPO.fullmatch(url):
        raise LaunchError(
            f"project.github={url!r} in {CONFIG} is not https://github.com/OWNER/REPO"
        )
    return url


def launch_links(repo: str, stem: str, branch: str = "main") -> dict[str, str]:
    """Where a chapter can be read or run: its jupytext source on GitHub, Binder (which
    builds ``environment.yml`` and opens the paired notebook in JupyterLab), and Colab
    (the chapter's notebook on the ``colab`` branch)."""
    slug = repo.removeprefix("https://github.com/")
    source = f"notebooks/{stem}.py"
    return {
        "source": f"{repo}/blob/{branch}/{source}",
        "binder": f"https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/{source}",
        "colab": (
            f"https://colab.research.google.com/github/{slug}/blob/{COLAB_BRANCH}"
            f"/notebooks/{stem}.ipynb"
        ),
    }


def install_cell(repo: str, commit: str) -> str:
    """The first cell of a Colab notebook: fetch the book at ``commit``, install it, and
    turn on Colab's widget manager for the sliders. Outside Colab it does nothing."""
    if not _REPO.fullmatch(repo):
        raise LaunchError(f"repo={repo!r} is not https://github.com/OWNER/REPO")
    if not _COMMIT.fullmatch(commit):
        raise LaunchError(f"commit={commit!r} is not a git commit (7 to 40 hex digits)")
    return "\n".join(
        [
            "# Colab only: fetch the book at the commit this notebook was made from and install",
            "# it (a few minutes; CIFAR is downloaded by the first chapter that needs it).",
            "# Anywhere else this cell does nothing.",
            "import sys",
            "",
            'if "google.colab" in sys.modules:',
            f"    !git clone -q {repo} {COLAB_ROOT}",
            f"    !git -C {COLAB_ROOT} checkout -q {commit}",
            f"    %pip install -q -e {COLAB_ROOT}",
            f'    sys.path.insert(0, "{COLAB_ROOT}/lib")',
            f"    %cd {COLAB_ROOT}/notebooks",
            "    from google.colab import output",
            "",
            "    output.enable_custom_widget_manager()",
        ]
    )


def chapter_sources(root: Path | None = None) -> list[Path]:
    """The chapters' jupytext sources, in order."""
    folder = (root or paths.project_root()) / "notebooks"
    return sorted(p for p in folder.glob("*.py") if paths.CHAPTER_PATTERN.match(p.name))


def colab_notebook(source: Path, repo: str, commit: str):
    """The chapter ``source`` (jupytext .py) as a notebook for Colab: the install cell
    first, then the chapter's own cells unchanged."""
    import jupytext
    import nbformat

    nb = jupytext.read(source)
    cell = nbformat.v4.new_code_cell(install_cell(repo, commit))
    cell.metadata["tags"] = ["colab-install"]
    nb.cells.insert(0, cell)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("jupytext", None)
    nb.metadata["colab"] = {"provenance": []}
    return nb


def write_colab(out: Path, repo: str, commit: str, root: Path | None = None) -> list[Path]:
    """One Colab notebook per chapter in ``out/notebooks``; returns their paths."""
    import nbformat

    folder = Path(out) / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in chapter_sources(root):
        target = folder / f"{source.stem}.ipynb"
        nbformat.write(colab_notebook(source, repo, commit), target)
        written.append(target)
    (Path(out) / "README.md").write_text(
        f"# Colab notebooks of {repo}\n\n"
        f"Generated from commit {commit} of the `main` branch by `python -m plasticity.book.launch "
        "colab`. Do not edit: the chapters live in `notebooks/*.py` on `main`.\n"
    )
    return written


def _head_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LaunchError("no git commit found: pass --commit") from exc
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plasticity.book.launch")
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("colab", help="write one Colab notebook per chapter")
    p.add_argument("--out", required=True, help="folder (gets notebooks/ and README.md)")
    p.add_argument("--commit", help="commit the install cell checks out (default: HEAD)")
    args = parser.parse_args(argv)
    root = paths.project_root()
    try:
        repo = repository(read_config(root))
        if repo is None:
            raise LaunchError(f"project.github is not set in {CONFIG}")
        written = write_colab(Path(args.out), repo, args.commit or _head_commit(root), root)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} Colab notebooks in {Path(args.out) / 'notebooks'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
