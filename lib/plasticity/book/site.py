"""The book as a static site: ``myst.yml``'s pages built into ``_build/html``, offline.

Two steps, both from the MyST project's own tools:

1. ``myst build --site`` (mystmd, installed from PyPI with the package) reads
   ``myst.yml`` and the executed notebooks and writes each page's AST to
   ``_build/site/``. ``myst.yml`` names a project-owned site template
   (``site/template.yml``), so nothing is downloaded.
2. ``site/render.mjs`` turns that AST into static HTML with ``myst-to-html`` (and
   ``myst-parser`` for Markdown outputs, KaTeX's stylesheet for math): one file per
   page, relative links, images and notebooks under ``assets/``.

The pages come from the notebooks ``make book`` executed (``executed/``); nothing is
re-executed. With internet, MyST's own book theme works too: ``myst build --html``
after setting ``site: template: book-theme`` in ``myst.yml``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..foundations import paths
from ..foundations.profile_names import is_synthetic
from . import chapters as chapter_files
from . import launch, publish
from .chapters import ChapterFile

MIN_NODE = 20
CONFIG = launch.CONFIG
EXECUTED_PREFIX = "executed/"


class SiteError(RuntimeError):
    """The site cannot be built; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class Built:
    out_dir: Path
    pages: list[dict]
    seconds: float


def sources_dir() -> Path:
    """``site/``: the template, the renderer, its npm lock file and the stylesheet."""
    return paths.project_root() / "site"


def read_config(root: Path) -> dict:
    if not (root / CONFIG).is_file():
        raise SiteError(
            f"{root / CONFIG} not found: the site is described by {CONFIG} at the book's root"
        )
    return launch.read_config(root)


def toc_files(config: dict) -> list[str]:
    """Every ``file:`` in the table of contents, in reading order."""
    found: list[str] = []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("children"))

    walk(config.get("project", {}).get("toc"))
    return found


#: The site's sources besides the executed pages and the figures.
SITE_SOURCES = (CONFIG, "README.md", "CITATION.cff", "site/index.md", "site/template.yml")

#: Metadata key of a preview page (a chapter not executed in this build).
PREVIEW_KEY = "plasticity_preview"

#: Rows of a saved table a preview page shows.
PREVIEW_ROWS = 20


def _not_executed_here(notebook: Path) -> dict | None:
    """A page's :data:`PREVIEW_KEY` record (a preview, or a published run shown in a
    build that did not execute it), or None for an executed page."""
    try:
        return json.loads(notebook.read_text()).get("metadata", {}).get(PREVIEW_KEY)
    except (OSError, ValueError, AttributeError):
        return None


def is_preview(notebook: Path) -> bool:
    return _not_executed_here(notebook) is not None


def preview_notebook(root: Path, chapter: ChapterFile, chapters_facts: dict | None = None) -> dict:
    """The page of a chapter that was not executed in this build: its text and code
    (the paired ``notebooks/<stem>.py``, with no outputs) and, after them, the figures
    and tables its last run saved in ``figures/<stem>/``, with the manifest's account of
    that run (``chapters_facts``: :func:`provenance`'s chapters, read here when not
    given). No data, cache or compute is needed."""
    import jupytext
    import nbformat
    import pandas as pd

    from ..science.tables import markdown_table

    nb = jupytext.read(chapter.path)
    folder = root / "figures" / chapter.stem
    if chapters_facts is None:
        chapters_facts = provenance(root)["chapters"]
    facts = chapters_facts.get(f"/{EXECUTED_PREFIX}{chapter.stem}.ipynb")
    made = facts.get("caption") if facts else None
    intro = (
        f"**Preview.** This page was not executed in this build: it shows the chapter's "
        f"text and code, and at the end the figures and tables its last run saved in "
        f"`figures/{chapter.stem}/`"
        + (f" ({made})" if made else " (no run of it is recorded)")
        + f". `make book ONLY={chapter.number}` executes it with its outputs in place."
    )
    cells = [c for c in nb.cells if c.cell_type in ("markdown", "code")]
    # after the chapter's first cell, which holds its title (the page's heading)
    cells.insert(
        1 if cells and cells[0].cell_type == "markdown" else 0, nbformat.v4.new_markdown_cell(intro)
    )
    for c in cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    saved = [f"## The saved figures and tables of `figures/{chapter.stem}/`"]
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        if ".frame-" in png.name:  # a slider's frames: its figure is shown once
            continue
        saved.append(f"**{png.stem}**\n\n![{png.stem}](../figures/{chapter.stem}/{png.name})")
    for csv in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        table = pd.read_csv(csv)
        shown = table.head(PREVIEW_ROWS).round(3)
        more = (
            f" (the first {PREVIEW_ROWS} of {len(table)} rows)" if len(table) > PREVIEW_ROWS else ""
        )
        saved.append(f"**{csv.name}**{more}\n\n" + markdown_table(shown))
    if len(saved) == 1:
        saved.append("No figure or table of this chapter is in `figures/` yet.")
    cells.append(nbformat.v4.new_markdown_cell("\n\n".join(saved)))
    nb.cells = cells
    nb.metadata[PREVIEW_KEY] = {"figures": f"figures/{chapter.stem}"}
    return nb


def published_page(root: Path, chapter: ChapterFile, path: Path) -> dict:
    """The page of a chapter not executed in this build but published in ``book/``:
    the published notebook with its figures embedded again from ``figures/``
    (:func:`publish.restore`) and a note saying which run made it."""
    import nbformat

    nb = publish.restored_notebook(path, root / "figures")
    made = nb.metadata.get(publish.PUBLISHED_KEY, {}).get("made", "")
    note = nbformat.v4.new_markdown_cell(
        f"**Published run.** This page was not executed in this build: it shows the "
        f"outputs of the chapter's last published run (`{publish.PUBLISHED_DIR}/{path.name}`). "
        f"{made} `make book ONLY={chapter.number}` executes the chapter here."
    )
    first = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
    nb.cells.insert(first, note)
    nb.metadata[PREVIEW_KEY] = {"published": f"{publish.PUBLISHED_DIR}/{path.name}"}
    return nb


def preview_root(root: Path, dest: Path, log=print) -> list[str]:
    """A copy of the site's sources in ``dest`` where every chapter executed in
    ``root`` keeps its page, every other one published in ``book/`` gets its
    :func:`published_page`, and the rest a :func:`preview_notebook`. Returns the
    chapters not executed here."""
    import nbformat

    shutil.rmtree(dest, ignore_errors=True)
    for rel in SITE_SOURCES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest / rel)
    if (root / "figures").is_dir():
        shutil.copytree(root / "figures", dest / "figures")
    for pack in publish.shipped_packs(root):  # offered for download on the status page
        (dest / publish.PUBLISHED_DIR).mkdir(exist_ok=True)
        shutil.copy2(pack, dest / publish.PUBLISHED_DIR / pack.name)
    (dest / "executed").mkdir(parents=True, exist_ok=True)
    facts = provenance(root)["chapters"]  # the manifest and pages read once for all
    pages = publish.published(root)
    previewed, shown = [], []
    for chapter in chapter_files.chapters():
        page = root / f"{EXECUTED_PREFIX}{chapter.stem}.ipynb"
        target = dest / f"{EXECUTED_PREFIX}{chapter.stem}.ipynb"
        if page.is_file():
            shutil.copy2(page, target)
        elif chapter.stem in pages:
            nbformat.write(published_page(root, chapter, pages[chapter.stem]), target)
            shown.append(chapter.stem)
        else:
            nbformat.write(preview_notebook(root, chapter, facts), target)
            previewed.append(chapter.stem)
    if shown:
        log(f"{len(shown)} chapter(s) not executed here, shown as published: {', '.join(shown)}")
    if previewed:
        names = ", ".join(previewed)
        log(f"{len(previewed)} chapter(s) not executed here, shown as previews: {names}")
    return shown + previewed


def check_sources(root: Path, chapters: list[ChapterFile] | None = None) -> list[str]:
    """Raise unless the toc lists every chapter and every listed file exists."""
    files = toc_files(read_config(root))
    chapters = chapter_files.chapters() if chapters is None else chapters
    expected = [f"{EXECUTED_PREFIX}{c.stem}.ipynb" for c in chapters]
    left_out = [f for f in expected if f not in files]
    if left_out:
        raise SiteError(f"{CONFIG}'s toc leaves out chapters: {', '.join(left_out)}")
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        raise SiteError(
            f"{len(missing)} page(s) of the site are missing: {', '.join(missing)}. "
            "The chapters' pages are the notebooks `make book` executes; run it first "
            '(or `make book ONLY="NN"` for single chapters).'
        )
    unfinished = {
        f: problem
        for f in files
        if f.endswith(".ipynb")
        and not is_preview(root / f)
        and (problem := chapter_files.execution_problem(root / f))
    }
    if unfinished:
        raise SiteError(
            f"{len(unfinished)} page(s) were not fully executed: "
            + "; ".join(f"{f}: {why}" for f, why in unfinished.items())
            + '. Run those chapters again (`make book ONLY="NN"`).'
        )
    return files


def _executed_facts(notebook: Path) -> dict:
    """What an executed page says of itself: papermill's runtime and the parameters it
    ran with (its profile), from the notebook's own metadata."""
    try:
        meta = json.loads(notebook.read_text()).get("metadata", {})
    except (OSError, ValueError, RecursionError, AttributeError):
        return {}
    papermill = meta.get("papermill", {}) if isinstance(meta, dict) else {}
    params = papermill.get("parameters", {}) if isinstance(papermill, dict) else {}
    duration = papermill.get("duration") if isinstance(papermill, dict) else None
    return {
        "runtime_seconds": float(duration) if isinstance(duration, (int, float)) else None,
        "profile": params.get("profile") if isinstance(params, dict) else None,
    }


def _chapter_runtime(notebook: Path) -> float | None:
    """How long papermill took to execute a page (its own record in the notebook)."""
    return _executed_facts(notebook).get("runtime_seconds")


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def caption(entry: dict) -> str:
    """The provenance line under a chapter's figures, from its manifest entries'
    summary (:func:`provenance`). Fields the manifest does not hold are left out."""
    parts = [f"profile {entry['profile']}"]
    data = ", ".join(f"{d['name']} {d['fingerprint']}" for d in entry.get("datasets", []))
    parts.append("synthetic data" if entry.get("synthetic") else f"data {data or 'none'}")
    parts.append(f"commit {entry['commit']}")
    if entry.get("device"):
        parts.append(f"{entry['device']}, torch {entry['torch']}")
    devices = [d for d in entry.get("run_devices", []) if d != "unrecorded"]
    if devices:
        mixed = " (mixed devices)" if len(devices) > 1 else ""
        modes = ", ".join(m for m in entry.get("determinism", []) if m != "unrecorded")
        parts.append(f"runs on {', '.join(devices)}{mixed}" + (f", {modes}" if modes else ""))
    if entry.get("seeds"):
        parts.append("seeds " + ", ".join(str(s) for s in entry["seeds"]))
    if entry.get("runs"):
        parts.append(
            f"{entry['runs']} cached runs, {_minutes(entry['compute_seconds'])} of compute"
        )
    parts.append(entry["utc"][:10])
    return " · ".join(parts)


def repository(config: dict) -> str | None:
    """The repository URL declared once in ``myst.yml`` (``project.github``)."""
    try:
        return launch.repository(config)
    except launch.LaunchError as exc:
        raise SiteError(str(exc)) from exc


launch_links = launch.launch_links


def provenance(root: Path, config: dict | None = None) -> dict:
    """Per chapter page (``/executed/<stem>.ipynb``): what made its figures, how long
    the page took to execute, and where to open it.

    From the executed notebook: its profile (papermill's parameters) and runtime. From
    ``figures/MANIFEST.json``, only for entries of that same profile: data, device,
    torch version, the commit, the seeds and compute time of the cached runs behind
    the chapter's figures. A page whose profile the manifest does not hold says so.
    """
    try:
        files = json.loads((root / "figures" / "MANIFEST.json").read_text())["files"]
    except (OSError, json.JSONDecodeError, KeyError):
        files = {}
    repo = repository(config) if config is not None else None
    chapters = {}
    for chapter in chapter_files.chapters():
        entries = sorted(
            (e for e in files.values() if e.get("chapter") == chapter.stem),
            key=lambda e: e.get("utc", ""),
        )
        executed = _executed_facts(root / "executed" / f"{chapter.stem}.ipynb")
        runtime = executed.get("runtime_seconds")
        info: dict = {"stem": chapter.stem, "title": chapter.title, "runtime_seconds": runtime}
        page_profile = executed.get("profile")
        info["executed_profile"] = page_profile
        record = _not_executed_here(root / "executed" / f"{chapter.stem}.ipynb")
        info["preview"] = record is not None
        info["published"] = "published" in (record or {})
        if page_profile is not None:
            # a figure's manifest entry speaks for this page only if the page ran with
            # the same profile: a smoke page never carries a real book's provenance
            entries = [e for e in entries if e.get("profile") == page_profile]
            if not entries:
                synthetic = _synthetic_profile(page_profile)
                info.update(
                    profile=page_profile,
                    synthetic=synthetic,
                    caption=f"profile {page_profile} · "
                    + ("synthetic data" if synthetic else "data not recorded for this page")
                    + " · the figures folder holds another run's results",
                )
        if entries:
            last = entries[-1]
            summary = {
                "profile": last["profile"],
                "datasets": last.get("datasets", []),
                "synthetic": any(e.get("synthetic") for e in entries),
                "commit": ", ".join(sorted({e["commit"] for e in entries})),
                "utc": last["utc"],
                "device": last.get("device"),
                "run_devices": sorted({d for e in entries for d in e.get("run_devices", [])}),
                "determinism": sorted({m for e in entries for m in e.get("determinism", [])}),
                "torch": last.get("torch"),
                "seeds": sorted({s for e in entries for s in e.get("seeds", [])}),
                "runs": max(e.get("runs", 0) for e in entries),
                "compute_seconds": max(e.get("compute_seconds", 0.0) for e in entries),
            }
            info.update(summary, caption=caption(summary))
        if repo:
            info["links"] = launch_links(repo, chapter.stem)
        chapters[f"/{EXECUTED_PREFIX}{chapter.stem}.ipynb"] = info
    packs = [{"name": p.name, "bytes": p.stat().st_size} for p in publish.shipped_packs(root)]
    return {
        "repository": repo,
        "chapters": chapters,
        "mismatch": _mismatch(files, chapters),
        "packs": packs,
    }


def _mismatch(files: dict, chapters: dict) -> str | None:
    """A sentence for the front page when the headline table (read from the figures
    folder) and the executed pages come from different profiles; None when they agree."""
    headline = files.get("12_headlines/headlines.md", {}).get("profile")
    pages = sorted({c["executed_profile"] for c in chapters.values() if c.get("executed_profile")})
    if headline is None or not pages or pages == [headline]:
        return None
    return (
        f"The headline table below comes from the figures of the {headline} book; the "
        f"pages of this build were executed with profile {', '.join(pages)}, so their "
        "numbers are not the table's. Run `make book` and `make site` again to build both "
        "from one run."
    )


def _synthetic_profile(name: str) -> bool:
    return is_synthetic(name)


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise SiteError(
            f"Node.js >= {MIN_NODE} is needed to build the site and was not found on PATH "
            "(Debian/Ubuntu: apt install nodejs; or https://nodejs.org)"
        )
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.match(r"v(\d+)", out.strip())
    if not match or int(match.group(1)) < MIN_NODE:
        raise SiteError(f"Node.js >= {MIN_NODE} is needed to build the site; found {out.strip()}")
    return node


def ensure_renderer(site_sources: Path | None = None, log=print) -> Path:
    """Install the renderer's npm packages (``npm ci``) unless they are up to date."""
    site_sources = site_sources or sources_dir()
    lock = site_sources / "package-lock.json"
    installed = site_sources / "node_modules" / ".package-lock.json"
    if installed.is_file() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return site_sources
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError("npm (from Node.js) is needed once to install the site renderer")
    log("installing the site renderer (npm ci in site/)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=site_sources,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SiteError(f"npm ci in {site_sources} failed:\n{result.stderr[-3000:]}")
    return site_sources


def myst_script() -> Path:
    """The MyST command line bundled in the ``mystmd`` Python package."""
    try:
        from importlib.resources import files

        script = Path(str(files("mystmd_py") / "myst.cjs"))
    except ModuleNotFoundError as exc:
        raise SiteError("the mystmd package is missing: pip install -e '.[dev]'") from exc
    if not script.is_file():
        raise SiteError(f"mystmd's command line is missing at {script}")
    return script


#: The file that marks a folder as a site this command built: only such a folder (or
#: an empty one) is ever replaced by ``site build``.
SITE_MARK = ".plasticity-site"
SITE_MARK_TEXT = "A static site built by `python -m plasticity site build`; rebuilt in place.\n"


def _owned(folder: Path) -> bool:
    """Whether ``folder`` is a site this command built (its mark), or lies in the book's
    own build folder (``<root>/_build``, git-ignored, written only by the book)."""
    mark = folder / SITE_MARK
    if mark.is_file() and not mark.is_symlink():
        return True
    build = (paths.project_root() / "_build").resolve()
    return build in folder.resolve().parents


def check_out(out: Path, root: Path | None = None) -> None:
    """Refuse an output folder the build could not replace safely, before anything is
    built: a file, a folder holding the book itself (or one of its parents), a non-empty
    folder this command did not make (no :data:`SITE_MARK`), or one whose parent cannot
    be written."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SiteError(f"--out {out} is not a folder; give a new or empty folder")
    for protected in [paths.project_root(), *([root] if root else [])]:
        protected = Path(protected).resolve()
        if out == protected or out in protected.parents:
            raise SiteError(
                f"--out {out} holds the book's own files; give a new or empty folder "
                "(the default is _build/html)"
            )
    if out.is_dir() and any(out.iterdir()) and not _owned(out):
        raise SiteError(
            f"--out {out} is not empty and was not built by `site build` (no {SITE_MARK} "
            "in it); nothing was changed. Give a new or empty folder"
        )
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SiteError(f"--out {out}: its parent folder cannot be made ({exc.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SiteError(f"--out {out}: its parent folder {parent} cannot be written")
    try:  # a file system that takes no folder (/proc, /sys) fails here, at once
        probe = Path(tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=parent))
        probe.rmdir()
    except OSError as exc:
        raise SiteError(f"--out {out}: no folder can be made in {parent} ({exc})") from None


def _staging_folder(out: Path) -> Path:
    """A fresh private folder beside ``out`` for the site being rendered."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as exc:
        raise SiteError(f"--out {out}: no folder can be made beside it ({exc})") from None
    paths.honour_umask(staging, directory=True)
    staging.rmdir()  # render.mjs makes it
    return staging


def _replace(staging: Path, out: Path) -> None:
    """Move the finished site ``staging`` to ``out``: an earlier site there (marked as
    this command's, or an empty folder) is moved aside first and removed after, so
    ``out`` always holds a whole site."""
    if out.exists():
        if any(out.iterdir()) and not _owned(out):  # it changed during the build
            shutil.rmtree(staging, ignore_errors=True)
            raise SiteError(f"--out {out} was filled during the build; nothing was replaced")
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "site")
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _run(cmd: list[str], cwd: Path, what: str, env: dict | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SiteError(f"{what} failed (exit {result.returncode}):\n{output[-4000:]}")
    return output


def build(
    root: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    log=print,
    preview: bool = False,
) -> Built:
    """Build the static site of the project at ``root`` into ``out_dir``.

    ``root`` holds ``myst.yml`` and the executed notebooks (default: the book's
    root); ``out_dir`` defaults to ``<root>/_build/html``. Checks come first: a
    missing chapter raises before anything is built, and a previous site stays
    untouched. With ``preview``, a chapter not executed here is shown as a preview
    (:func:`preview_notebook`: its text, code and saved figures), so that a fresh
    clone builds the site with no data and no compute; the site is then built from a
    copy of the sources in ``<root>/_build/preview-root``.
    """
    start = time.perf_counter()
    root = Path(root).resolve() if root else paths.project_root()
    out = Path(out_dir).resolve() if out_dir else root / "_build" / "html"
    check_out(out, root)
    if preview:
        read_config(root)
        stage = root / "_build" / "preview-root"
        preview_root(root, stage, log=log)
        built = build(stage, out, log=log)
        return Built(built.out_dir, built.pages, time.perf_counter() - start)
    files = check_sources(root)
    node = node_binary()
    renderer = ensure_renderer(log=log)

    # Start from an empty AST folder so that no page or image of an earlier build lingers.
    shutil.rmtree(root / "_build" / "site", ignore_errors=True)
    env = {**os.environ, "MYST_LANG": "PYTHON", "BROWSER": "none"}
    log(f"myst build --site ({len(files)} pages)")
    output = _run([node, str(myst_script()), "build", "--site", "--ci"], root, "myst build", env)
    problems = [line for line in output.splitlines() if line.lstrip().startswith(("⛔", "🛑"))]
    if problems:
        raise SiteError("myst build reported errors:\n" + "\n".join(problems))

    staging = _staging_folder(out)
    facts = root / "_build" / "provenance.json"
    facts.write_text(json.dumps(provenance(root, read_config(root)), indent=1))
    try:
        _run(
            [
                node,
                str(renderer / "render.mjs"),
                str(root / "_build" / "site"),
                str(staging),
                str(facts),
            ],
            root,
            "render.mjs",
        )
        pages = json.loads((staging / "pages.json").read_text())["pages"]
        rendered = {p["source"].lstrip("/") for p in pages if p.get("source")}
        lost = [f for f in files if f not in rendered]
        if lost:
            raise SiteError(f"the site was built without these pages: {', '.join(lost)}")
        for pack in publish.shipped_packs(root):  # the status page links it
            shutil.copy2(pack, staging / pack.name)
        (staging / SITE_MARK).write_text(SITE_MARK_TEXT)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    log(f"site: {len(pages)} pages in {out} ({seconds:.1f} s)")
    return Built(out, pages, seconds)


def main_build(args) -> int:
    try:
        built = build(
            args.root,
            args.out,
            log=lambda *a: print(*a, file=sys.stderr),
            preview=getattr(args, "preview", False),
        )
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(built.out_dir / "index.html")
    return 0
