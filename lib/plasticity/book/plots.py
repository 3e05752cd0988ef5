"""The book's figure style, and saving figures and tables with a manifest entry.

Every saved file lands in ``<figures dir>/<chapter>/<name>.png|.csv`` and gets an
entry in ``<figures dir>/MANIFEST.json``: path, chapter, profile, data sets with
their fingerprints (or "synthetic"), the git commit and the UTC time.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

from ..foundations import locks, paths
from ..foundations.manifest import MANIFEST, read_manifest

PALETTE = "colorblind"
#: Set to 1 to let synthetic-data results replace real-data ones on purpose.
OVERWRITE_ENV = "PLASTICITY_ALLOW_SYNTHETIC_OVERWRITE"


class RealResultsError(RuntimeError):
    """A synthetic-data run would replace results computed from real data."""


def _real_entries(figures_dir: Path, chapter: str | None = None) -> list[str]:
    files = read_manifest(figures_dir)["files"]  # a damaged manifest stops here
    return [
        rel
        for rel, e in files.items()
        if not e.get("synthetic", False)
        and (chapter is None or e.get("chapter") == chapter)
        and (figures_dir / rel).is_file()
    ]


def check_synthetic_target(
    figures_dir: str | os.PathLike, chapter: str | None = None, file: str | None = None
) -> None:
    """Raise :class:`RealResultsError` if ``figures_dir`` holds real-data results (of
    ``chapter``, or of any chapter; only ``file`` when given) that a synthetic run
    would replace, unless ``$PLASTICITY_ALLOW_SYNTHETIC_OVERWRITE=1``."""
    if os.environ.get(OVERWRITE_ENV, "") in ("1", "true", "yes"):
        return
    root = Path(figures_dir)
    real = [rel for rel in _real_entries(root, chapter) if file is None or rel == file]
    if real:
        raise RealResultsError(
            f"{root} holds {len(real)} file(s) computed from real data (e.g. {real[0]}); a "
            f"synthetic-data run does not replace them. Write elsewhere with "
            f"PLASTICITY_FIGURES_DIR=<folder> (or figures_dir=...), or set "
            f"{OVERWRITE_ENV}=1 to replace them on purpose."
        )


def _manifest_lock(figures_dir: Path):
    """An exclusive lock on the manifest, so concurrent writers lose no entries."""
    return locks.exclusive(figures_dir / ".manifest.lock")


def use_style() -> None:
    """Apply the book's one figure style (seaborn whitegrid, colour-blind palette)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    matplotlib.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
        }
    )


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The project's current commit (short), with ``-dirty`` for uncommitted changes
    outside what a book run writes (``figures/``, ``book/``)."""
    root = paths.project_root()
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)figures",
                ":(exclude)book",  # the book run's own outputs: figures and published pages
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if status else head


def provenance() -> dict:
    """What produced a result, beyond its data and commit: the device and torch
    version, the seeds of the cached runs this process has read or computed, how many
    there were and their compute time (as recorded when each was computed)."""
    import torch

    from ..engine.cache import ledger
    from ..foundations.compute import default_device

    used = ledger().values()
    return {
        "device": str(default_device()),
        # where the runs behind the figure were computed, as each recorded it: a chapter
        # that mixes a GPU's runs with a CPU's shows both
        "run_devices": sorted({u.get("device", "unrecorded") for u in used}),
        "determinism": sorted({u.get("determinism", "unrecorded") for u in used}),
        "torch": torch.__version__,
        "seeds": sorted({u["seed"] for u in used if u["seed"] is not None}),
        "runs": len(used),
        "compute_seconds": round(sum(u["seconds"] for u in used), 1),
    }


def _dataset_entries(datasets: Iterable[dict]) -> list[dict]:
    return [{"name": d["name"], "fingerprint": d["fingerprint"]} for d in datasets]


def _record(
    figures_dir: Path, path: Path, *, kind: str, chapter: str, profile: str, datasets: list[dict]
) -> dict:
    """Add or replace the manifest entry of ``path`` (atomic rewrite of the manifest,
    under an exclusive lock)."""
    with _manifest_lock(figures_dir):
        return _record_locked(
            figures_dir, path, kind=kind, chapter=chapter, profile=profile, datasets=datasets
        )


def _record_locked(
    figures_dir: Path, path: Path, *, kind: str, chapter: str, profile: str, datasets: list[dict]
) -> dict:
    manifest_path = figures_dir / MANIFEST
    manifest = read_manifest(figures_dir)  # never started over: ManifestError
    rel = path.relative_to(figures_dir).as_posix()
    entry = {
        "path": rel,
        "kind": kind,
        "chapter": chapter,
        "profile": profile,
        "datasets": _dataset_entries(datasets),
        "synthetic": any(d["fingerprint"] == "synthetic" for d in datasets),
        "commit": git_commit(),
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **provenance(),
    }
    manifest["files"][rel] = entry
    manifest["files"] = dict(sorted(manifest["files"].items()))
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=figures_dir)
    paths.honour_umask(tmp)
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(tmp, manifest_path)
    return entry


def _target(figures_dir: str | os.PathLike | None, chapter: str, name: str, suffix: str):
    if not chapter or not name or "/" in name:
        raise ValueError(f"chapter={chapter!r} and name={name!r} must be non-empty plain names")
    root = paths.figures_dir(figures_dir)
    path = root / chapter / f"{name}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return root, path


def _save(
    write,
    chapter: str,
    name: str,
    suffix: str,
    *,
    kind: str,
    profile: str,
    datasets: Iterable[dict],
    figures_dir: str | os.PathLike | None,
) -> Path:
    """Write ``<chapter>/<name><suffix>`` with ``write(path, datasets)``; record it."""
    datasets = list(datasets)
    root, path = _target(figures_dir, chapter, name, suffix)
    read_manifest(root)  # a damaged manifest stops the write before the file is replaced
    if any(d["fingerprint"] == "synthetic" for d in datasets):
        check_synthetic_target(root, file=path.relative_to(root).as_posix())
    write(path, datasets)
    _record(root, path, kind=kind, chapter=chapter, profile=profile, datasets=datasets)
    return path


def _stamp_if_synthetic(fig, datasets: list[dict]) -> None:
    if any(d["fingerprint"] == "synthetic" for d in datasets) and not getattr(
        fig, "_plasticity_stamped", False
    ):
        fig.text(
            0.995,
            0.005,
            "synthetic data",
            ha="right",
            va="bottom",
            fontsize=8,
            color="crimson",
            style="italic",
        )
        fig._plasticity_stamped = True


def save_figure(
    fig,
    chapter: str,
    name: str,
    *,
    profile: str,
    datasets: Iterable[dict] = (),
    figures_dir: str | os.PathLike | None = None,
) -> Path:
    """Save ``fig`` as ``<chapter>/<name>.png`` and record it in the manifest.

    Figures made from synthetic data get a visible "synthetic data" stamp.
    """

    def write(path, datasets):
        _stamp_if_synthetic(fig, datasets)
        fig.savefig(path)

    return _save(
        write,
        chapter,
        name,
        ".png",
        kind="figure",
        profile=profile,
        datasets=datasets,
        figures_dir=figures_dir,
    )


def save_table(
    df,
    chapter: str,
    name: str,
    *,
    profile: str,
    datasets: Iterable[dict] = (),
    figures_dir: str | os.PathLike | None = None,
) -> Path:
    """Save a pandas DataFrame as ``<chapter>/<name>.csv`` and record it in the manifest."""
    return _save(
        lambda path, _: df.to_csv(path, index=False),
        chapter,
        name,
        ".csv",
        kind="table",
        profile=profile,
        datasets=datasets,
        figures_dir=figures_dir,
    )


def save_markdown(
    text: str,
    chapter: str,
    name: str,
    *,
    profile: str,
    datasets: Iterable[dict] = (),
    figures_dir: str | os.PathLike | None = None,
) -> Path:
    """Save Markdown (a table for a page to include) as ``<chapter>/<name>.md``."""
    return _save(
        lambda path, _: path.write_text(text),
        chapter,
        name,
        ".md",
        kind="table",
        profile=profile,
        datasets=datasets,
        figures_dir=figures_dir,
    )


def image_grid(images, labels, class_names, *, rows: int = 4, cols: int = 8, title: str = ""):
    """A grid of uint8 images (N, 32, 32, 3) with their class names."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25))
    for ax, img, label in zip(axes.flat, images, labels, strict=False):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(class_names[int(label)], fontsize=7)
        ax.axis("off")
    for ax in list(axes.flat)[len(images) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def repair_history(history: dict, *, h0: float | None = None, title: str = ""):
    """The logged terms of one repair: consistency, stability, batch entropy vs H0."""
    import matplotlib.pyplot as plt

    fig, (ax_terms, ax_ent) = plt.subplots(1, 2, figsize=(11, 3.6))
    steps = history["step"]
    for key, label in (
        ("cons", "consistency MSE"),
        ("stab", "stability MSE"),
        ("total", "total loss"),
    ):
        if any(v > 0 for v in history[key]):
            ax_terms.plot(steps, history[key], label=label)
    ax_terms.set(
        xlabel="repair step", ylabel="loss (window mean)", yscale="log", title="loss terms"
    )
    ax_terms.legend()
    ax_ent.plot(steps, history["entropy"], label="batch-mean entropy")
    if h0 is not None:
        ax_ent.axhline(h0, color="crimson", ls="--", label=f"H0 = {h0:g} (term acts above)")
    ax_ent.set(xlabel="repair step", ylabel="nats", title="entropy term", ylim=(0, None))
    ax_ent.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def budget_curves(budget, *, title: str = "", seed_steps: int = 1000):
    """Restored accuracy and recovery against repair steps, one line per seed and
    condition/method (``budget`` from :func:`plasticity.science.experiments.budget_table`)."""
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_rec) = plt.subplots(1, 2, figsize=(11, 4))
    groups = list(budget.groupby(["condition", "method"], sort=False))
    for i, ((cond, method), part) in enumerate(groups):
        color = f"C{i % 10}"
        label = cond if len({m for (_, m), _ in groups}) == 1 else f"{cond}, {method}"
        for j, (_, one) in enumerate(part.groupby("seed")):
            one = one.sort_values("step")
            kw = {"label": label} if j == 0 else {}
            ax_acc.plot(one["step"], one["restored"], "o-", color=color, alpha=0.7, ms=3, **kw)
            ax_rec.plot(one["step"], one["recovery_pct"], "o-", color=color, alpha=0.7, ms=3)
    for ax in (ax_acc, ax_rec):
        ax.axvline(seed_steps, color="grey", ls=":", lw=1)
        ax.set_xlabel("repair step (0 = damaged)")
    ax_acc.set(ylabel="test accuracy (%)", title="accuracy during the repair")
    ax_rec.set(ylabel="recovery (%)", title="share of the loss recovered")
    ax_acc.legend(fontsize=7)
    fig.suptitle(title or "How the result depends on the repair budget (one line per seed)")
    fig.tight_layout()
    return fig
