"""The context every chapter starts from: profile, data, figures, headless flag.

A notebook's parameters cell holds plain literals; the first code cell after it is

    ch = plasticity.book.chapter.Chapter("01_base_model", profile=profile, data_dir=data_dir,
                                    figures_dir=figures_dir, headless=headless)

and from then on ``ch.dataset("cifar10")`` returns real or synthetic data as the
profile says, and ``ch.save_figure`` / ``ch.save_table`` write into the book's
figures folder with manifest entries that name the data actually used. A synthetic
profile writes to ``build/<profile>/figures`` unless told otherwise, and refuses at
once (before any compute) to replace real-data results.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import data
from ..engine import cache, results
from ..engine.profiles import Profile, get_profile
from ..foundations import paths
from ..foundations.progress import is_headless
from . import plots


def _assigned(source: str) -> set[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        t.id
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }


def check_injected_parameters(history: list[str] | None = None) -> None:
    """Refuse parameters papermill injected that the chapter does not declare.

    papermill inserts its "# Parameters" cell right after the cell tagged
    ``parameters`` and only warns about unknown names; a misspelt ``-p`` would then
    be ignored silently. ``history`` defaults to the kernel's executed cells (``In``).
    """
    from ..foundations.checks import ParameterError

    if history is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        history = list(shell.user_ns.get("In", [])) if shell is not None else []
    for i, cell in enumerate(history):
        if cell.lstrip().startswith(("# Parameters", "# Injected parameters")) and i > 0:
            declared = _assigned(history[i - 1])
            unknown = sorted(_assigned(cell) - declared)
            if declared and unknown:
                raise ParameterError(
                    f"unknown parameter(s) {', '.join(map(repr, unknown))}: this chapter "
                    f"takes {', '.join(sorted(declared))}"
                )


def seed_scratch(folder: Path, profile: str) -> bool:
    """Start a scratch figures folder from the published book's when the published book
    was made by ``profile``: a reader who runs one chapter then has every other
    chapter's tables beside it (chapter 12 reads them all), and what the run changes can
    be compared with the published numbers. Returns whether it copied. Nothing happens
    when ``folder`` is the published folder itself or already holds a manifest."""
    import shutil

    from ..foundations.manifest import MANIFEST

    published = paths.published_figures_dir()
    folder = Path(folder)
    if folder.resolve() == published.resolve() or (folder / MANIFEST).exists():
        return False
    if published_profile(published) != profile:
        return False
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(published, folder, dirs_exist_ok=True)
    return True


def published_profile(figures: Path | None = None) -> str | None:
    """The profile that made the published figures (every manifest entry's), or None."""
    from ..foundations.manifest import ManifestError, read_manifest

    try:
        files = read_manifest(figures or paths.published_figures_dir()).get("files", {})
    except (ManifestError, OSError, ValueError):
        return None
    profiles = {e.get("profile") for e in files.values() if isinstance(e, dict)}
    return profiles.pop() if len(profiles) == 1 else None


class Chapter:
    """Per-chapter settings and the data sets the chapter has used so far."""

    def __init__(
        self,
        name: str,
        profile: str | Profile = "quick",
        *,
        data_dir: str | os.PathLike | None = None,
        figures_dir: str | os.PathLike | None = None,
        headless: bool | None = None,
    ):
        check_injected_parameters()
        self.profile = get_profile(profile)
        self.name = name
        self.data_dir = paths.data_dir(data_dir)
        self.figures_dir = paths.figures_dir(figures_dir, scratch=self.profile.name)
        if self.profile.synthetic:
            plots.check_synthetic_target(self.figures_dir, name)
        seed_scratch(self.figures_dir, self.profile.name)
        self.headless = is_headless(headless)
        self.datasets: dict[str, data.ImageDataset] = {}
        plots.use_style()

    def dataset(self, kind: str) -> data.ImageDataset:
        """CIFAR-10 / CIFAR-100, or their synthetic look-alikes in a synthetic profile."""
        if kind not in self.datasets:
            name = f"synthetic-{kind}" if self.profile.synthetic else kind
            if cache.replaying():
                # a replay keys its runs by the data they were computed on
                ds = results.recorded_dataset(name)
                if ds is None:
                    raise data.DataUnavailableError(
                        f"a replay needs the record of {name} from a results pack, and this "
                        "cache holds none: `python -m plasticity results import PACK` first"
                    )
            elif self.profile.synthetic:
                ds = data.synthetic_dataset(
                    kind, self.profile.synthetic_train, self.profile.synthetic_test
                )
            else:
                try:
                    ds = data.load_dataset(kind, self.data_dir)
                except data.DataUnavailableError:
                    ds = results.recorded_dataset(name)  # no data, but a pack's results
                    if ds is None:
                        raise
            self.datasets[kind] = ds
        return self.datasets[kind]

    def _described(self) -> list[dict]:
        described = [ds.describe() for ds in self.datasets.values()]
        if self.profile.synthetic and not described:
            # results of a synthetic profile derive from synthetic data even when this
            # chapter loaded none itself (it reads other chapters' tables)
            described = [{"name": f"{self.profile.name} profile", "fingerprint": "synthetic"}]
        return described

    def _save(self, save, obj, name: str, datasets: list[dict] | None):
        return save(
            obj,
            self.name,
            name,
            profile=self.profile.name,
            datasets=self._described() if datasets is None else datasets,
            figures_dir=self.figures_dir,
        )

    def save_figure(self, fig, name: str, datasets: list[dict] | None = None):
        """Save ``fig`` as ``figures/<chapter>/<name>.png`` with a manifest entry.

        ``datasets`` defaults to the data sets this chapter loaded.
        """
        return self._save(plots.save_figure, fig, name, datasets)

    def save_table(self, df, name: str, datasets: list[dict] | None = None):
        """Save ``df`` as ``figures/<chapter>/<name>.csv`` with a manifest entry."""
        return self._save(plots.save_table, df, name, datasets)

    def save_markdown(self, text: str, name: str, datasets: list[dict] | None = None):
        """Save Markdown as ``figures/<chapter>/<name>.md`` with a manifest entry."""
        return self._save(plots.save_markdown, text, name, datasets)

    @property
    def replaying(self) -> bool:
        """Whether this chapter replays recorded results (``book run --replay``, or a
        data set known from a results pack's record only): cells that compute from
        images or weights then show what the run that computed them saved
        (:meth:`saved_table`, :meth:`show_saved_figure`) instead."""
        return cache.replaying() or any(ds.recorded for ds in self.datasets.values())

    def _saved(self, name: str, suffix: str) -> Path:
        path = self.figures_dir / self.name / f"{name}{suffix}"
        if not path.is_file():
            raise data.DataUnavailableError(
                f"{path} is not there: this cell computes it from images or weights, which a "
                "replay does not have, and shows what the computing run saved instead"
            )
        return path

    def saved_table(self, name: str):
        """The table ``<name>.csv`` this chapter saved when it computed it."""
        import pandas as pd

        return pd.read_csv(self._saved(name, ".csv"))

    def show_saved_figure(self, name: str) -> None:
        """Display the figure ``<name>.png`` this chapter saved when it computed it."""
        from IPython.display import Image, Markdown, display

        path = self._saved(name, ".png")
        display(Image(filename=str(path)))
        display(
            Markdown(
                f"*Saved by the run that computed it (`{path.name}`); a replay "
                "has no images or weights to draw it again.*"
            )
        )

    def summary(self) -> str:
        """One Markdown paragraph: profile, its budget, the data in use."""
        used = (
            ", ".join(f"{d.title} ({d.describe()['fingerprint']})" for d in self.datasets.values())
            or "none yet"
        )
        return f"**Profile `{self.profile.name}`**: {self.profile.description}. Data: {used}."
