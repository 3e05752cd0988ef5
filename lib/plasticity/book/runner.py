"""The book runner: sync jupytext pairs and execute every chapter with papermill.

Chapters are ``notebooks/NN_name.py`` (py:percent, the source of truth), paired with
``notebooks/NN_name.ipynb`` for JupyterLab. The runner syncs each pair, executes the
notebook with papermill (kernel ``python3``, a per-cell timeout, ``headless=True``
so widgets draw their static figure) into a hidden temporary file, and moves it to
``executed/NN_name.ipynb`` only when every cell succeeded; a failed run is left
beside it as ``NN_name.failed.ipynb`` and the previous good page stays. The paired
notebook itself stays free of run outputs. It stops at the first failing chapter.
Synthetic-data profiles (``smoke``) write to ``build/<profile>/`` by default.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .. import data
from ..engine import cache
from ..engine.profiles import get_profile
from ..foundations import paths
from ..foundations.checks import ParameterError
from ..foundations.manifest import ManifestError, read_manifest
from . import publish
from . import publish as publishing  # run() takes a flag of that name
from .chapters import ChapterFile, chapter_number, chapters, select
from .chapters import execution_problem as execution_problem  # the runner's, re-exported


class BookError(RuntimeError):
    """A chapter failed; the message names it and carries its error."""


def sync(chapter: ChapterFile) -> Path:
    """Create or update the paired ``.ipynb`` from the ``.py`` source (jupytext --sync)."""
    import jupytext
    from jupytext.cli import jupytext as jupytext_cli

    if not chapter.notebook.exists():
        notebook = jupytext.read(chapter.path)
        jupytext.write(notebook, chapter.notebook)
    status = jupytext_cli(["--sync", "--quiet", str(chapter.path)])
    if status:
        raise BookError(f"jupytext --sync failed for {chapter.path} (exit {status})")
    return chapter.notebook


def execute(
    chapter: ChapterFile,
    *,
    profile: str,
    output_dir: Path,
    data_dir: str | None = None,
    figures_dir: str | None = None,
    timeout: int | None = None,
    progress: bool = True,
) -> Path:
    """Execute one chapter with papermill; returns the executed notebook's path."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    prof = get_profile(profile)
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / chapter.notebook.name
    running = output_dir / f".{chapter.stem}.running.ipynb"
    failed = failed_path(output)
    parameters = {
        "profile": prof.name,
        "headless": True,
        "data_dir": data_dir,
        "figures_dir": figures_dir,
    }
    try:
        pm.execute_notebook(
            str(chapter.notebook),
            str(running),
            parameters=parameters,
            kernel_name="python3",
            language="python",
            cwd=str(chapter.path.parent),
            execution_timeout=timeout or prof.execution_timeout,
            start_timeout=600,  # a kernel on a loaded machine may take minutes to start
            progress_bar=progress,
            request_save_on_cell_execute=True,
            config=_kernel_config(),
        )
    except PapermillExecutionError as exc:
        os.replace(running, failed)
        kept = f"; the previous page {output} is kept" if output.is_file() else ""
        raise BookError(
            f"chapter {chapter.stem} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"executed notebook with the traceback: {failed}{kept}"
        ) from exc
    os.replace(running, output)
    failed.unlink(missing_ok=True)
    return output


WARNING_MARKERS = ("is unusable", "recomputing", "not resuming")


def warnings_in(path: str | os.PathLike) -> list[str]:
    """Cache and checkpoint warnings printed inside an executed notebook, so the book
    runner can repeat them on the command line."""
    import json

    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    found = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream":
                continue
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            found += [
                line.strip()
                for line in text.splitlines()
                if any(m in line for m in WARNING_MARKERS)
            ]
    return found


def _kernel_config():
    """Kernel-manager settings for the chapters' kernels: CurveZMQ transport
    encryption where the kernel supports it (ipykernel 7 warns on every start of an
    unencrypted TCP kernel)."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}})


def failed_path(executed: Path) -> Path:
    """Where a failed execution of the page ``executed`` is left for reading."""
    return executed.with_name(f"{executed.stem}.failed.ipynb")


def run(
    profile: str = "quick",
    *,
    only: Sequence[str] | None = None,
    archives: Sequence[str | os.PathLike] = (),
    data_dir: str | None = None,
    figures_dir: str | None = None,
    output_dir: str | os.PathLike | None = None,
    timeout: int | None = None,
    progress: bool = True,
    log=print,
    plan_first: bool = True,
    replay: bool = False,
    publish: bool = False,
) -> list[tuple[ChapterFile, float, Path]]:
    """Run the book (or the chapters in ``only``); stop at the first failure. First
    say what it will cost (``plan_first``), then after each chapter how long the book
    has run and roughly how much compute is left. ``replay``: the chapters read every
    run from the cache (an imported results pack) and compute none; a run missing
    there stops its chapter (:class:`~plasticity.engine.cache.NotRecorded`).

    Only with ``publish`` does the run write the published book (``figures/``,
    ``executed/`` and each chapter's page in ``book/``); otherwise it writes to
    ``build/<profile>/`` and, where the published book was made by the same profile,
    says which of its tables came out different."""
    prof = get_profile(profile)
    if timeout is not None and (
        isinstance(timeout, bool) or int(timeout) != timeout or timeout < 1
    ):
        raise ParameterError(f"timeout={timeout!r} must be a whole number of seconds >= 1")
    if publish:
        check_publishable(prof, replay=replay, figures_dir=figures_dir, output_dir=output_dir)
    selected = select(chapters(), only)
    archive_paths = [Path(a).expanduser().resolve() for a in archives]
    for path in archive_paths:
        if not path.is_file():
            raise ParameterError(f"data_archive={str(path)!r} does not exist")
    with _publish_env(publish):
        scratch = prof.name
        out = paths.executed_dir(output_dir, scratch=scratch)
        for what, folder in (
            ("output_dir", out),
            ("figures_dir", paths.figures_dir(figures_dir, scratch=scratch)),
        ):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ParameterError(
                    f"{what}={str(folder)!r} cannot be made ({exc.strerror})"
                ) from None
        # before any chapter runs: the figures folder's manifest must be readable
        read_manifest(paths.figures_dir(figures_dir, scratch=scratch))
        if prof.synthetic:
            from .plots import RealResultsError, check_synthetic_target

            try:
                check_synthetic_target(paths.figures_dir(figures_dir, scratch=scratch))
            except RealResultsError as exc:
                raise ParameterError(str(exc)) from exc

        # The kernels inherit this environment.
        os.environ["PLASTICITY_HEADLESS"] = "1"
        if replay:
            plan_first = False  # nothing is computed: there is no cost to state
        if archive_paths:
            existing = data.archives_from_env()
            os.environ[data.ARCHIVE_ENV] = os.pathsep.join(map(str, archive_paths + existing))
            for path in archive_paths:
                start = time.perf_counter()
                log(f"data: {path.name} ...", end=" ", flush=True)
                ds = data.ensure_imported(path, data_dir)
                log(f"{ds.name} ({ds.fingerprint}) ready in {time.perf_counter() - start:.1f} s")

        # a real-data run into the book's own folders also publishes each chapter it
        # executes (book/, committed): never a scratch, synthetic or redirected run
        root = paths.project_root()
        figures = paths.figures_dir(figures_dir, scratch=scratch)
        own = (
            publish
            and out.resolve() == (root / "executed").resolve()
            and figures.resolve() == paths.published_figures_dir().resolve()
        )
        done = []
        mode = ", replaying recorded results (nothing is computed)" if replay else ""
        log(f"book: profile {prof.name}, {len(selected)} chapter(s){mode} -> {out}")
        if not own:
            log(
                f"book: figures and tables -> {figures}; the published book (figures/, book/) "
                "is not changed (`--publish` writes it)"
            )
        left = cost_by_chapter(prof.name, selected, data_dir, log) if plan_first else {}
        book_start = time.perf_counter()
        with _replay_env(replay):
            for i, chapter in enumerate(selected, 1):
                log(f"[{i}/{len(selected)}] {chapter.stem}: {chapter.title}", flush=True)
                start = time.perf_counter()
                sync(chapter)
                try:
                    executed = execute(
                        chapter,
                        profile=prof.name,
                        output_dir=out,
                        data_dir=data_dir,
                        figures_dir=figures_dir,
                        timeout=timeout,
                        progress=progress,
                    )
                except KeyboardInterrupt:
                    log(
                        f"\ninterrupted in {chapter.stem}: every run finished so far is "
                        "cached; the same command resumes from there"
                    )
                    raise
                seconds = time.perf_counter() - start
                left.pop(chapter.stem, None)
                remaining = sum(left.values())
                elapsed = time.perf_counter() - book_start
                eta = f", about {_duration(remaining)} of compute left" if left else ""
                log(
                    f"[{i}/{len(selected)}] {chapter.stem} done in {seconds:.1f} s; book "
                    f"{_duration(elapsed)} so far{eta}",
                    flush=True,
                )
                for line in warnings_in(executed):
                    log(f"    warning: {line}")
                if own:
                    publishing.publish(root, [chapter.stem], executed_dir=out, log=log)
                else:
                    for line in differences(figures, chapter.stem, prof.name):
                        log(f"    {line}")
                done.append((chapter, seconds, executed))
        return done


def check_publishable(prof, *, replay: bool, figures_dir=None, output_dir=None) -> None:
    """Refuse ``--publish`` before anything runs unless the run can make the published
    book: real data, the book's own folders, and for a replay only the committed
    results pack imported into the cache."""
    if prof.synthetic:
        raise ParameterError(
            f"--publish with profile={prof.name!r}: synthetic data never make the published book"
        )
    if figures_dir or output_dir:
        raise ParameterError(
            "--publish writes the book's own folders; drop --figures-dir/--output-dir"
        )
    if replay:
        from ..engine import results

        shipped = publish.shipped_packs(paths.project_root())
        digests = {results.pack_digest(p) for p in shipped}
        imported = set(results.imported_packs())
        if not shipped or imported - digests or not imported:
            raise ParameterError(
                "--publish --replay republishes the book from recorded results only when the "
                "cache holds the committed pack alone (book/results-<profile>.tar.xz); this "
                f"cache has imported {len(imported)} pack(s), "
                f"{len(imported - digests)} of them not the committed one. Replay without "
                "--publish (it writes to build/ and says what differs), or use a fresh cache"
            )


def differences(figures: Path, chapter: str, profile: str, limit: int = 8) -> list[str]:
    """What a chapter run into ``figures`` changed against the published book, when the
    published book was made by the same ``profile``: each table of the chapter that
    differs, with its first differing cells (published -> this run). Empty when the
    folders are the same, the profiles differ, or nothing moved."""
    import pandas as pd

    from .chapter import published_profile

    published = paths.published_figures_dir()
    figures = Path(figures)
    if figures.resolve() == published.resolve() or published_profile(published) != profile:
        return []
    lines, same = [], 0
    for path in sorted((figures / chapter).glob("*.csv")):
        ref = published / chapter / path.name
        if not ref.is_file():
            lines.append(f"{chapter}/{path.name}: not in the published book")
            continue
        if ref.read_bytes() == path.read_bytes():
            same += 1
            continue
        old, new = pd.read_csv(ref), pd.read_csv(path)
        if old.shape != new.shape or list(old.columns) != list(new.columns):
            lines.append(
                f"{chapter}/{path.name} differs from the published table: shape "
                f"{old.shape} -> {new.shape}"
            )
            continue
        moved = []
        for col in old.columns:
            for i, (a, b) in enumerate(zip(old[col], new[col], strict=True)):
                if not (a == b or (pd.isna(a) and pd.isna(b))):
                    moved.append(f"row {i} {col}: {a} -> {b}")
        lines.append(
            f"{chapter}/{path.name} differs from the published table in {len(moved)} cell(s): "
            + "; ".join(moved[:limit])
            + ("; ..." if len(moved) > limit else "")
        )
    if lines:
        lines.insert(
            0,
            f"{chapter}: {len(lines)} table(s) differ from the published book "
            f"(figures/), {same} equal",
        )
    return lines


@contextlib.contextmanager
def _flag_env(name: str, on: bool, *, clear_when_off: bool):
    """Set the environment flag ``name`` (to 1) while the block runs when ``on``; when
    not, remove it if ``clear_when_off`` (else an inherited value stays). The chapters'
    kernels inherit it; this process gets its environment back afterwards."""
    previous = os.environ.get(name)
    if on:
        os.environ[name] = "1"
    elif clear_when_off:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _publish_env(publish: bool):
    """:data:`~plasticity.foundations.paths.PUBLISH_ENV` while the book publishes, and
    never otherwise (not even inherited)."""
    return _flag_env(paths.PUBLISH_ENV, publish, clear_when_off=True)


def _replay_env(replay: bool):
    """:data:`~plasticity.engine.cache.REPLAY_ENV` while the book replays."""
    return _flag_env(cache.REPLAY_ENV, replay, clear_when_off=False)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def cost_by_chapter(profile: str, selected: Sequence[ChapterFile], data_dir, log) -> dict:
    """Say what the book will cost before it starts: the plan's run count and its
    estimate on this device; returns each chapter's share (seconds), each missing run
    counted in the first selected chapter that needs it."""
    from ..foundations.compute import default_device
    from .plan import estimate, plan

    runs = plan(profile, [c.stem for c in selected], data_dir=data_dir)
    table = estimate(runs)
    missing = table[~table["cached"].astype(bool)]
    order = {chapter_number(c.stem): c.stem for c in selected}
    share: dict[str, float] = dict.fromkeys((c.stem for c in selected), 0.0)
    for _, r in missing.iterrows():
        first = min((n for n in str(r["chapters"]).split(",") if n in order), default=None)
        if first is not None:
            share[order[first]] += float(r["est_seconds"])
    total = sum(share.values())
    log(
        f"plan: {len(table)} runs, {len(table) - len(missing)} cached, {len(missing)} to "
        f"compute: about {_duration(total)} on {default_device().type} at this machine's "
        "measured rates (the notebooks add about a minute each)",
        flush=True,
    )
    return {stem: sec for stem, sec in share.items() if sec > 0}


def use_device(device: str | None, *, present: bool = True) -> None:
    """Make ``device`` the default of every model and batch (``$PLASTICITY_DEVICE``,
    which papermill's kernels inherit). A device that is not a supported name, or (when
    ``present``) not on this machine, is a ParameterError naming what is available."""
    if not device:
        return
    from ..foundations.compute import check_device

    check_device(device, present=present)
    os.environ["PLASTICITY_DEVICE"] = device


def main_run(args) -> int:
    try:
        use_device(getattr(args, "device", None))
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        done = run(
            args.profile,
            only=args.only,
            archives=args.data_archive or [],
            data_dir=args.data_dir,
            figures_dir=args.figures_dir,
            output_dir=args.output_dir,
            timeout=args.timeout,
            progress=not args.no_progress,
            replay=args.replay,
            publish=getattr(args, "publish", False),
        )
    except (BookError, ParameterError, data.DataUnavailableError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    total = sum(s for _, s, _ in done)
    print(f"book: {len(done)} chapter(s) in {total:.1f} s")
    return 0
