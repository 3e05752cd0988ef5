"""The executed book, committed small: ``book/`` beside ``figures/``.

A real-data ``book run`` leaves its executed notebooks in ``executed/`` (git-ignored,
a few MB of embedded images). :func:`publish` turns each into two committed files:

- ``book/<chapter>.ipynb``: the executed notebook with its outputs, where every image
  that is one of the chapter's saved figures is a *reference* to ``figures/<chapter>/``
  instead of embedded bytes. A static slider keeps its default frame (as that
  reference) and drops its other frames. :func:`restore` embeds the images again.
- ``book/<chapter>.md``: the same page as GitHub-flavoured Markdown, figures linked to
  ``../figures/``, code folded, so GitHub renders every chapter with its outputs.

and ``book/README.md``, the contents with each chapter's provenance. ``make lab`` opens
the notebooks with these outputs (:func:`lab_notebooks`), and ``make site`` shows them
for every chapter not executed in the build, so a clone shows the executed book with
no data, cache or compute.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from ..foundations import paths
from ..foundations.manifest import read_manifest
from ..foundations.profile_names import PROFILE_NAMES, is_real
from .chapters import chapters as all_chapters
from .chapters import execution_problem

#: The committed folder of published chapters (relative to the repository root).
PUBLISHED_DIR = "book"

#: Output metadata key of an image published as a reference to a saved figure.
FIGURE_KEY = "plasticity_figure"

#: Notebook metadata key of a published notebook (what made it, where its figures are).
PUBLISHED_KEY = "plasticity_published"

_SAVE_CALL = re.compile(
    r"(?:save_figure\([^,()]+(?:\([^()]*\))?,\s*|show_saved_figure\()"  # the call
    r"[\"']([\w.-]+)[\"']"  # the figure's name
)
#: The largest HTML table a published page keeps (characters); a larger one keeps
#: its plain-text form.
MAX_TABLE_HTML = 96_000

_STYLER_ID = re.compile(r"T_[0-9a-f]{5}(?=[_\"' ])")
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)


class PublishError(ValueError):
    """A notebook that cannot be published (synthetic data, not executed, no chapter)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def saved_figure_names(source: str) -> list[str]:
    """The figure names a cell's code saves or shows, in order of appearance
    (``ch.save_figure(fig, "name")``, ``ch.show_saved_figure("name")``), each once: a
    cell that shows a saved figure in a replay and draws and saves it otherwise names
    it twice and displays it once."""
    return list(dict.fromkeys(_SAVE_CALL.findall(source)))


def notebook_profile(nb: dict) -> str | None:
    """The profile papermill injected into an executed notebook, or None."""
    return (nb.get("metadata", {}).get("papermill", {}).get("parameters") or {}).get("profile")


def slim(nb: dict, chapter: str, figures_dir: Path) -> tuple[dict, list[str]]:
    """A copy of the executed notebook ``nb`` with each image output that shows one of
    ``figures_dir/<chapter>/*.png`` replaced by a reference to it.

    An image is that figure when its bytes equal the file's, or when its cell saves
    (or shows) as many named figures as it displays images, in the same order. A
    static slider (``text/html`` frames) has its frames saved beside its figure. Returns the
    notebook and the images that matched no saved figure (dropped, with a note in
    their place), so that the caller can report them.
    """
    nb = copy.deepcopy(nb)
    _slim_tables(nb)
    folder = Path(figures_dir) / chapter
    by_hash = {
        _sha(p.read_bytes()): p.name
        for p in (folder.glob("*.png") if folder.is_dir() else ())
        if ".frame-" not in p.name  # a slider's frames are named after its figure
    }
    unmatched: list[str] = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        names = saved_figure_names(_text(cell.get("source", "")))
        by_order = len(names) == len(images)
        for k, out in enumerate(images):
            data = out["data"]
            png = base64.b64decode(_text(data["image/png"]))
            name = by_hash.get(_sha(png))
            if name is None and by_order and (folder / f"{names[k]}.png").is_file():
                name = f"{names[k]}.png"
            html = _text(data.get("text/html", ""))
            slider = "static-slider" in html
            frames = save_frames(html, folder, name) if slider and name else []
            for key in ("image/png", "text/html"):
                data.pop(key, None)
            if name is None:
                unmatched.append(f"cell {index}, image {k + 1}")
                data["text/markdown"] = (
                    "*(An image drawn in the notebook and not saved in `figures/`: "
                    "executing the chapter shows it.)*"
                )
                continue
            rel = f"{chapter}/{name}"
            ref = {"path": rel, "slider": slider}
            if frames:
                ref["frames"] = [{"value": v, "path": f"{chapter}/{f}"} for v, f in frames["files"]]
                ref["name"], ref["value"] = frames["name"], frames["value"]
            out.setdefault("metadata", {})[FIGURE_KEY] = ref
            note = ""
            if frames:
                others = ", ".join(f"[{v:g}](../figures/{chapter}/{f})" for v, f in frames["files"])
                note = f"\n\n*(A slider on the site; each {frames['name']}: {others}.)*"
            elif slider:
                note = (
                    "\n\n*(The slider's default frame; executing the chapter gives every frame.)*"
                )
            data["text/markdown"] = f"![{Path(name).stem}](../figures/{rel}){note}"
    return nb, unmatched


_FRAME = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" data-value="([^"]+)"')
_SLIDER_NAME = re.compile(r'<figure class="static-slider" data-name="([^"]*)"')
_SLIDER_VALUE = re.compile(r"<output>([^<]*)</output>")


def save_frames(html: str, folder: Path, name: str) -> dict:
    """Save every frame of a static slider (:func:`~plasticity.book.widgets.static_slider_html`)
    beside its figure as ``<figure>.frame-<value>.png``, so a published page carries the
    whole slider by reference; returns its name, default value and (value, file) pairs,
    or {} when the HTML holds no frames."""
    import html as html_lib

    found = _FRAME.findall(html)
    label = _SLIDER_NAME.search(html)
    current = _SLIDER_VALUE.search(html)
    if not found or label is None or current is None:
        return {}
    stem = Path(name).stem
    files = []
    for b64, value in found:
        v = float(value)
        file = f"{stem}.frame-{v:g}.png"
        (folder / file).write_bytes(base64.b64decode(b64))
        files.append((v, file))
    return {
        "name": html_lib.unescape(label.group(1)),
        "value": float(current.group(1)),
        "files": files,
    }


def _slider_output(figures_dir: Path, ref: dict) -> str | None:
    """The static slider a published reference describes, its frames read back from
    ``figures_dir`` (confined there); None when a frame is missing or malformed."""
    from .widgets import MAX_FRAMES, static_slider_html

    frames = ref.get("frames")
    if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES:
        return None
    loaded = []
    for frame in frames:
        value = frame.get("value") if isinstance(frame, dict) else None
        path = figure_path(figures_dir, frame) if isinstance(frame, dict) else None
        if path is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        loaded.append((float(value), path.read_bytes()))
    value = ref.get("value")
    value = float(value) if isinstance(value, (int, float)) else loaded[0][0]
    return static_slider_html(str(ref.get("name", "value"))[:80], loaded, value)


def _slim_tables(nb: dict) -> None:
    """HTML tables without their plain-text twin; a table over :data:`MAX_TABLE_HTML`
    characters as that plain text (pandas' abridged form) when it has one (a styled
    table's plain text names only its object, so it keeps its HTML)."""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html = _text(data.get("text/html", ""))
            if "<table" not in html:
                continue
            # pandas' Styler names its table with a random id: a fixed one here, so that
            # re-publishing the same numbers writes the same page
            if _STYLER_ID.search(html):
                html = _STYLER_ID.sub("T_table", html)
                data["text/html"] = html
            plain = _text(data.pop("text/plain", ""))
            if len(html) > MAX_TABLE_HTML and plain and not plain.startswith("<"):
                data.pop("text/html")
                data["text/markdown"] = (
                    f"*(A table of {len(html) // 1000} kB, abridged here; executing the "
                    f"chapter shows it whole.)*\n\n{_fence(plain, 'text')}"
                )


def restored_notebook(path: Path, figures_dir: Path):
    """The published notebook at ``path`` with its figures embedded again
    (:func:`restore`), as an nbformat notebook."""
    import nbformat

    nb = restore(read_page(path), figures_dir)
    return nbformat.reads(json.dumps(nb), as_version=4)


def read_page(path: Path) -> dict:
    """A published notebook as a dict; :class:`PublishError` naming the file when it is
    not a notebook (empty, truncated, not JSON)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PublishError(
            f"{path} is not a readable notebook ({type(exc).__name__}: {str(exc)[:200]}); "
            f"restore it with `git checkout -- {path.name}` or publish the chapter again"
        ) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise PublishError(f"{path} is not a notebook (no cells)")
    return nb


def figure_path(figures_dir: Path, ref) -> Path | None:
    """The file a figure reference names, confined to ``figures_dir``: a relative
    ``<chapter>/<name>.png`` of plain names whose real path lies inside the folder, else
    None (an absolute path, ``..``, a link out of the folder, another suffix)."""
    rel = ref.get("path") if isinstance(ref, dict) else None
    if not isinstance(rel, str) or not _FIGURE_REF.match(rel):
        return None
    root = Path(figures_dir).resolve()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


_FIGURE_REF = re.compile(r"^[0-9][0-9a-z_]*/[\w.-]+\.png$")
_ALLOWED_ATTRIBUTES = {"*": {"class", "id", "title", "colspan", "rowspan", "align", "alt"}}


def clean_html(html: str) -> str:
    """HTML from a notebook output made safe to insert in a page: an allow-list
    sanitiser (``nh3``, the Rust ``ammonia`` library) keeps text, tables, lists, links
    and images and drops scripts, styles, event handlers and ``javascript:`` links."""
    import nh3

    attributes = {tag: set(a) for tag, a in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag, extra in _ALLOWED_ATTRIBUTES.items():
        attributes[tag] = attributes.get(tag, set()) | extra
    return nh3.clean(html, attributes=attributes, link_rel="noopener noreferrer")


_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.S | re.M)


def clean_markdown(text: str) -> str:
    """Markdown from a notebook output with any raw HTML in it sanitised
    (:func:`clean_html`); fenced code blocks are kept as they are (their text is never
    HTML)."""
    parts, at = [], 0
    for match in _FENCE.finditer(text):
        parts.append(_clean_prose(text[at : match.start()]))
        parts.append(match.group(0))
        at = match.end()
    parts.append(_clean_prose(text[at:]))
    return "".join(parts)


def _clean_prose(text: str) -> str:
    if "<" not in text:
        return text
    cleaned = clean_html(text)
    # the sanitiser escapes what it keeps as text; Markdown wants these characters back
    return cleaned.replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", '"')


def safe_outputs(nb: dict) -> dict:
    """``nb`` (a notebook as a dict, changed in place and returned) with every HTML and
    Markdown output sanitised, and every output that a page cannot show safely (a
    script, a JavaScript or widget view) removed."""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            for mime in list(data):
                if mime in ("text/html", "image/svg+xml"):
                    data[mime] = clean_html(_text(data[mime]))
                elif mime == "text/markdown":
                    data[mime] = clean_markdown(_text(data[mime]))
                elif mime not in ("text/plain", "image/png", "image/jpeg", "application/json"):
                    data.pop(mime)
    return nb


def restore(nb: dict, figures_dir: Path) -> dict:
    """A copy of a published notebook, its outputs sanitised (:func:`safe_outputs`), with
    each figure reference embedded again from ``figures_dir``; a reference whose file
    is missing, or that points outside ``figures_dir``, keeps its Markdown link."""
    nb = safe_outputs(copy.deepcopy(nb))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            meta = out.get("metadata")
            ref = meta.get(FIGURE_KEY) if isinstance(meta, dict) else None
            path = figure_path(figures_dir, ref) if ref else None
            if path is None:
                continue
            out["data"]["image/png"] = base64.b64encode(path.read_bytes()).decode()
            out["data"].pop("text/markdown", None)
            slider = _slider_output(figures_dir, ref) if ref.get("frames") else None
            if slider:
                out["data"]["text/html"] = slider
    return nb


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _output_markdown(out: dict) -> str | None:
    kind = out.get("output_type")
    if kind == "stream":
        text = _text(out.get("text", "")).strip()
        return _fence(text, "text") if text else None
    if kind == "error":
        return _fence(f"{out.get('ename')}: {out.get('evalue')}", "text")
    data = out.get("data", {})
    if "text/markdown" in data:
        return _text(data["text/markdown"]).strip()
    if "text/html" in data:
        # GitHub drops <style>; without it the table reads the same
        return _STYLE.sub("", _text(data["text/html"])).strip()
    if "text/plain" in data:
        text = _text(data["text/plain"]).strip()
        return _fence(text, "text") if text and not text.startswith("<") else None
    return None


def markdown_page(nb: dict, chapter: str, made: str) -> str:
    """The published notebook ``nb`` as one GitHub-flavoured Markdown page: its text,
    its code folded under "Code", its outputs in place, figures linked to
    ``../figures/``; ``made`` (what made the page) heads it after the title."""
    parts: list[str] = []
    for cell in nb.get("cells", []):
        source = _text(cell.get("source", "")).strip()
        if cell.get("cell_type") == "markdown":
            if not parts:
                # what made the page, under its title
                title, _, rest = source.partition("\n")
                figures = f"[`figures/{chapter}/`](../figures/{chapter}/)"
                parts.extend([title, f"> {made} Figures and tables: {figures}.", rest.strip()])
            else:
                parts.append(source)
        elif cell.get("cell_type") == "code":
            if source and "parameters" not in cell.get("metadata", {}).get("tags", []):
                parts.append(
                    f"<details><summary>Code</summary>\n\n{_fence(source, 'python')}\n\n</details>"
                )
            parts.extend(md for md in (_output_markdown(o) for o in cell.get("outputs", [])) if md)
    return "\n\n".join(p for p in parts if p) + "\n"


def _made(nb: dict, chapter: str, manifest: dict) -> str:
    """One line: the profile, data, commit, date and device of a chapter's run, the
    compute behind its figures (its runs, cached or not) and the notebook's runtime.
    Only the manifest's entries of the page's own profile speak for it."""
    profile = notebook_profile(nb) or "?"
    entries = [
        e
        for e in manifest.get("files", {}).values()
        if e.get("chapter") == chapter and e.get("profile") == profile
    ]
    runtime = nb.get("metadata", {}).get("papermill", {}).get("duration")
    line = f"Executed with profile `{profile}`"
    if entries:
        e = max(entries, key=lambda e: e.get("utc", ""))
        data = ", ".join(f"{d['name']} ({d['fingerprint']})" for d in e.get("datasets", []))
        line += (
            f" on {data or 'no data set'}, commit `{e.get('commit')}`, {e.get('utc', '')[:10]}, "
            f"device {e.get('device')}"
        )
        runs = max(x.get("runs", 0) for x in entries)
        compute = max(x.get("compute_seconds", 0.0) for x in entries)
        if runs:
            line += f"; its {runs} runs took {compute / 60:.1f} min of compute"
    if runtime:
        line += f"; the notebook ran {runtime:.0f} s"
    return line + "."


def publish(
    root: Path,
    chapters: list[str] | None = None,
    *,
    executed_dir: Path | None = None,
    log=print,
) -> list[str]:
    """Publish the executed notebooks of ``root/executed`` (or ``executed_dir``) into
    ``root/book``: each chapter's slim notebook and Markdown page, then the contents.

    Only real-data pages are published: a notebook executed on synthetic data, or
    not executed by papermill, raises :class:`PublishError` before anything is
    written. ``chapters`` (stems) defaults to every executed chapter. Returns the
    chapters published.
    """
    import nbformat

    root = Path(root)
    executed_dir = Path(executed_dir) if executed_dir else root / "executed"
    figures_dir = root / "figures"
    known = {c.stem: c for c in all_chapters()}
    if chapters is None:
        chapters = [s for s in known if (executed_dir / f"{s}.ipynb").is_file()]
    manifest = read_manifest(figures_dir)
    pages = {}
    for stem in chapters:
        if stem not in known:
            raise PublishError(f"chapter {stem!r} is not one of the book's: {', '.join(known)}")
        path = executed_dir / f"{stem}.ipynb"
        problem = execution_problem(path)
        if problem:
            raise PublishError(f"{path}: {problem}; only finished pages are published")
        nb = json.loads(path.read_text())
        profile = notebook_profile(nb)
        if not is_real(profile):
            real = ", ".join(p for p in PROFILE_NAMES if is_real(p))
            raise PublishError(
                f"{path} was executed with profile {profile!r}: only real-data profiles "
                f"({real}) are published"
            )
        pages[stem] = nb
    out = root / PUBLISHED_DIR
    out.mkdir(exist_ok=True)
    for stem, nb in pages.items():
        small, unmatched = slim(nb, stem, figures_dir)
        made = _made(nb, stem, manifest)
        small.setdefault("metadata", {})[PUBLISHED_KEY] = {"made": made}
        write_atomic(out / f"{stem}.ipynb", nbformat.writes(nbformat.from_dict(small)) + "\n")
        write_atomic(out / f"{stem}.md", markdown_page(small, stem, made))
        size = (out / f"{stem}.ipynb").stat().st_size + (out / f"{stem}.md").stat().st_size
        dropped = f"; {len(unmatched)} unsaved image(s) left out" if unmatched else ""
        log(f"published {stem}: {size / 1e3:.0f} kB{dropped}")
    write_contents(root)
    return list(pages)


def shipped_packs(root: Path) -> list[Path]:
    """The results packs shipped beside the published chapters: ``book/results-<profile>.tar.xz``
    (written by ``make publish``)."""
    folder = Path(root) / PUBLISHED_DIR
    return sorted(folder.glob("results-*.tar.xz")) if folder.is_dir() else []


def pack_profile(pack: Path) -> str:
    """The profile a shipped pack holds, from its name: ``results-quick.tar.xz`` -> quick."""
    return Path(pack).name.removeprefix("results-").removesuffix(".tar.xz")


def published(root: Path) -> dict[str, Path]:
    """The chapters published in ``root/book``: stem -> slim notebook."""
    folder = Path(root) / PUBLISHED_DIR
    return {p.stem: p for p in sorted(folder.glob("*.ipynb"))} if folder.is_dir() else {}


def write_contents(root: Path) -> Path:
    """``book/README.md``: every chapter, linked to its published page where there is
    one (else to its source), with what made it."""
    root = Path(root)
    have = published(root)
    lines = [
        "# The executed book",
        "",
        "Every chapter as the run that published it executed it: text, code (folded) "
        "and outputs, with its figures from [`figures/`](../figures/). These pages are "
        "written only by a publishing run (`make book PUBLISH=1`, `python -m plasticity "
        "book run --publish`, or `book publish` for chapters already executed); the notebooks "
        "beside them are the same pages for JupyterLab (`make lab` opens them with "
        "their outputs). A chapter's sources are in [`notebooks/`](../notebooks/).",
        "",
    ]
    for pack in shipped_packs(root):
        profile = pack_profile(pack)
        digest = hashlib.sha256(pack.read_bytes()).hexdigest()
        lines += [
            f"The results of the `{profile}` profile's runs, without weights or data, are "
            f"[`{pack.name}`]({pack.name}) ({pack.stat().st_size / 1e6:.2f} MB, SHA-256 "
            f"`{digest}`): `make replay PROFILE={profile} ONLY=04` re-executes a chapter from "
            "them on a CPU, with no data and no training (the README's \"Re-executing from "
            'recorded results"). A replay writes to `build/`, never to these pages, and names '
            "every table that comes out different; only a cache holding this pack alone can "
            "republish them (`book run --replay --publish`).",
            "",
        ]
    for chapter in all_chapters():
        if chapter.stem in have:
            nb = read_page(have[chapter.stem])
            made = nb.get("metadata", {}).get(PUBLISHED_KEY, {}).get("made", "")
            lines.append(f"- [{chapter.title}]({chapter.stem}.md): {made}")
        else:
            lines.append(
                f"- {chapter.title}: not published yet; its source is "
                f"[`notebooks/{chapter.stem}.py`](../notebooks/{chapter.stem}.py) and its "
                f"last saved figures are in [`figures/{chapter.stem}/`]"
                f"(../figures/{chapter.stem}/)."
            )
    path = root / PUBLISHED_DIR / "README.md"
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, "\n".join(lines) + "\n")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it renamed into place,
    so an interrupted write leaves the previous file whole; an error names the file."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise PublishError(f"{path} cannot be written ({exc})") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~paths.UMASK)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PublishError(
            f"{path} could not be written ({exc}); the previous file is kept"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def lab_notebooks(root: Path, *, force: bool = False, log=print) -> list[str]:
    """Give each ``notebooks/<stem>.ipynb`` the published outputs, for JupyterLab: the
    cells' code is the paired ``.py``'s (so nothing written since is lost) and each
    cell whose code is unchanged since publication gets its recorded outputs.

    A notebook that already has outputs (a reader's own run) is kept unless ``force``.
    Returns the chapters written.
    """
    import jupytext
    from jupytext.combine import combine_inputs_with_outputs

    root = Path(root)
    written = []
    for stem, path in published(root).items():
        source = root / "notebooks" / f"{stem}.py"
        target = root / "notebooks" / f"{stem}.ipynb"
        if not source.is_file():
            continue
        if target.is_file() and not force:
            try:
                current = json.loads(target.read_text())
            except (OSError, ValueError, RecursionError):
                log(f"{target} is not a readable notebook: kept as it is (--force replaces it)")
                continue
            cells = current.get("cells", []) if isinstance(current, dict) else []
            # a reader's own outputs, or images pasted into a Markdown cell, are kept
            if any(c.get("outputs") or c.get("attachments") for c in cells):
                continue
        outputs = restored_notebook(path, root / "figures")
        nb = combine_inputs_with_outputs(jupytext.read(source), outputs, fmt="py:percent")
        jupytext.write(nb, target)
        written.append(stem)
    if written:
        log(f"notebooks with the published outputs: {', '.join(written)}")
    return written
