"""The static site: built offline from the smoke-profile book, opened in headless Chromium.

The browser part needs Node.js >= 20 and Chromium. When Chromium is missing, the
set-up installs Debian's ``chromium`` (as root, or with password-less sudo). If that is
impossible the browser tests are skipped, unless ``PLASTICITY_REQUIRE_BROWSER=1``
(set by CI), in which case they fail.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from plasticity.book import publish, runner, site
from plasticity.foundations import paths
from plasticity.foundations.manifest import read_manifest
from plasticity.science import headlines, verdicts

REQUIRE_ENV = "PLASTICITY_REQUIRE_BROWSER"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDGET_LEFTOVERS = [
    "application/vnd.jupyter.widget",
    "FloatSlider(",
    "IntSlider(",
    "VBox(",
    "HBox(",
    "Output()",
    "<IPython.core.display",
    "<Figure size",
]


def _unavailable(reason: str):
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason)


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _install_chromium() -> None:
    """Debian's chromium, as root or through password-less sudo."""
    if shutil.which("apt-get") is None:
        return
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and shutil.which("sudo") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        subprocess.run(prefix + cmd, env=env, capture_output=True, timeout=1200, check=False)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_chromium()
    if found is None:
        _install_chromium()
        found = _find_chromium()
    if found is None:
        _unavailable("Chromium is not installed and could not be installed (apt install chromium)")
    return found


@pytest.fixture(scope="session")
def node_ready() -> None:
    try:
        site.node_binary()
    except site.SiteError as exc:
        _unavailable(str(exc))


def _copy_sources(dest: Path) -> None:
    root = paths.project_root()
    for rel in site.SITE_SOURCES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest / rel)


def _project_copy(dest: Path, executed: Path, figures: Path) -> Path:
    """The book's site sources in ``dest``, with the given executed notebooks and figures."""
    _copy_sources(dest)
    shutil.copytree(executed, dest / "executed")
    shutil.copytree(figures, dest / "figures")
    return dest


@pytest.fixture(scope="module")
def built_site(smoke_book, node_ready, tmp_path_factory):
    book_root, _ = smoke_book
    dest = _project_copy(
        tmp_path_factory.mktemp("site-root"), book_root / "executed", book_root / "figures"
    )
    built = site.build(dest, dest / "_build" / "html", log=lambda *a: None)
    return dest, built


@pytest.fixture(scope="module")
def served(built_site):
    """The built site over HTTP on localhost, as a host would serve it."""
    _, built = built_site
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built.out_dir))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


# ---------------------------------------------------------------- no browser needed


def test_toc_lists_every_chapter_in_order():
    files = site.toc_files(site.read_config(paths.project_root()))
    chapters = [f"executed/{c.stem}.ipynb" for c in runner.chapters()]
    assert files[0] == "site/index.md"
    assert [f for f in files if f.startswith("executed/")] == chapters


def test_missing_chapter_in_toc_is_refused(tmp_path):
    text = (paths.project_root() / "myst.yml").read_text()
    (tmp_path / "myst.yml").write_text(
        text.replace("- file: executed/05_lazarus_pruning.ipynb", "")
    )
    with pytest.raises(site.SiteError, match="05_lazarus_pruning"):
        site.check_sources(tmp_path)


def test_missing_executed_notebook_fails_before_anything_is_built(tmp_path):
    shutil.copy2(paths.project_root() / "myst.yml", tmp_path / "myst.yml")
    out = tmp_path / "out"
    out.mkdir()
    (out / site.SITE_MARK).write_text("")  # a site this command built before
    (out / "keep.html").write_text("previous site")
    with pytest.raises(site.SiteError, match="make book"):
        site.build(tmp_path, out, log=lambda *a: None)
    assert (out / "keep.html").read_text() == "previous site"
    assert not (tmp_path / "_build").exists()


def test_myst_errors_fail_the_build(smoke_book, node_ready, tmp_path):
    book_root, _ = smoke_book
    dest = _project_copy(tmp_path, book_root / "executed", book_root / "figures")
    (dest / "figures" / "12_headlines" / "headlines.md").unlink()
    with pytest.raises(site.SiteError, match="headlines.md"):
        site.build(dest, dest / "_build" / "html", log=lambda *a: None)
    assert not (dest / "_build" / "html").exists()


def test_cli_names_the_missing_pages(tmp_path, capsys):
    from plasticity.cli import main

    shutil.copy2(paths.project_root() / "myst.yml", tmp_path / "myst.yml")
    assert main(["site", "build", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "executed/00_data.ipynb" in err and "make book" in err


# ---------------------------------------------------------------- the built site


def test_site_has_a_page_for_every_chapter(built_site):
    _, built = built_site
    sources = {p["source"] for p in built.pages}
    for chapter in runner.chapters():
        assert f"/executed/{chapter.stem}.ipynb" in sources, chapter.stem
    assert built.pages[0]["file"] == "index.html"
    for page in built.pages:
        assert (built.out_dir / page["file"]).stat().st_size > 0


def test_intro_table_is_generated_from_the_saved_tables(built_site):
    dest, built = built_site
    saved = pd.read_csv(dest / "figures" / "12_headlines" / "headlines.csv")
    # the page as a reader sees it: entities such as &#x3C; decoded
    html = unescape((built.out_dir / "index.html").read_text())

    # MyST typesets quotes and dashes; compare letters and digits only
    def plain(text: str) -> str:
        return "".join(ch for ch in text if ch.isalnum())

    page = plain(html)
    assert len(saved) == len(headlines.CLAIMS)
    for row in saved.itertuples(index=False):
        assert plain(row.claim) in page, row.claim
        assert plain(str(row.ours)) in page, row.ours
    assert set(saved["verdict"]) <= set(verdicts.VERDICTS)


def test_every_page_loads_with_title_images_and_no_widget_leftovers(built_site, served, browser):
    dest, built = built_site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    chapters = {f"/executed/{c.stem}.ipynb" for c in runner.chapters()}
    seen = set()
    for entry in built.pages:
        response = page.goto(served + entry["file"], wait_until="load")
        assert response is not None and response.ok, entry["file"]
        assert entry["title"] in page.title(), entry["file"]
        assert page.inner_text("h1.page-title").strip() == entry["title"]
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete,"
            " i.naturalWidth])"
        )
        broken = [src for src, complete, width in images if not complete or width == 0]
        assert not broken, f"{entry['file']}: images that did not load: {broken}"
        text = page.inner_text("article")
        for leftover in WIDGET_LEFTOVERS:
            assert leftover not in text, f"{entry['file']} shows {leftover!r}"
        empty = page.evaluate(
            "Array.from(document.querySelectorAll('.output')).filter("
            "o => !o.innerText.trim() && !o.querySelector('img')).length"
        )
        assert empty == 0, f"{entry['file']}: {empty} blank outputs"
        nav = page.evaluate("Array.from(document.querySelectorAll('nav.toc a')).length")
        assert nav == len(built.pages), entry["file"]
        if entry["source"] in chapters:
            assert images, f"{entry['file']} shows no figure"
            seen.add(entry["source"])
    assert seen == chapters
    assert not failed, f"requests that failed: {failed}"
    page.close()


def test_math_is_typeset_and_the_intro_links_to_the_headline_chapter(served, browser):
    page = browser.new_page()
    page.goto(served + "lazarus-vshape.html", wait_until="load")
    assert page.locator(".math-display .katex").count() >= 1
    page.goto(served + "index.html", wait_until="load")
    page.click("text=the headline chapter")
    assert page.url.endswith("headlines.html")
    assert "Headline results" in page.inner_text("h1.page-title")
    page.close()


def test_pages_work_straight_from_the_file_system(built_site, browser):
    _, built = built_site
    page = browser.new_page()
    for name in ("index.html", "lazarus-vshape.html"):
        page.goto((built.out_dir / name).as_uri(), wait_until="load")
        toc = page.evaluate("getComputedStyle(document.querySelector('nav.toc')).position")
        assert toc == "sticky", f"{name}: the stylesheet did not load"
        widths = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        assert all(w > 0 for w in widths), name
    page.click("nav.pager a[rel=next]")
    assert page.url.endswith("lazarus-recovery-curve.html")
    page.close()


def test_screenshot_of_the_index_page(built_site, served, browser):
    dest, _ = built_site
    from PIL import Image

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(served + "index.html", wait_until="load")
    shot = dest / "_build" / "screenshots" / "index.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    with Image.open(shot) as img:
        assert img.width == 1280 and img.height >= 1000
        colours = img.convert("L").getextrema()
    assert colours[1] - colours[0] > 100, "the screenshot is blank"
    print(f"screenshot of the index page: {shot}")


def test_wide_tables_scroll_inside_the_page_on_desktop_and_mobile(served, browser):
    """The headline table has seven columns: at desktop and phone widths it stays inside
    the page (scrolling in its own box), so the verdict column is never off-page."""
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(served + "index.html", wait_until="load")
        fit = page.evaluate(
            """() => {
              const t = document.querySelector('main table');
              const r = t.getBoundingClientRect();
              return {right: r.right, doc: document.documentElement.clientWidth,
                      scroll: document.documentElement.scrollWidth,
                      overflow: getComputedStyle(t).overflowX};
            }"""
        )
        assert fit["right"] <= fit["doc"] + 1, (width, fit)
        assert fit["scroll"] <= fit["doc"] + 1, (width, fit)  # no page-wide scroll
        assert fit["overflow"] == "auto"
        page.close()


def test_dark_mode_follows_the_readers_setting(served, browser):
    page = browser.new_page(color_scheme="dark")
    page.goto(served + "index.html", wait_until="load")
    dark = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    page.close()
    page = browser.new_page(color_scheme="light")
    page.goto(served + "index.html", wait_until="load")
    light = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    page.close()
    assert dark == "rgb(13, 17, 23)" and light != dark


def test_site_builds_with_no_network_at_all(built_site, tmp_path):
    """Rebuild inside a network namespace with no interfaces (Linux, as root)."""
    import sys

    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and util-linux's unshare for a network-less namespace")
    if subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("this kernel refuses new network namespaces")
    dest, built = built_site
    out = tmp_path / "html"
    cmd = [unshare, "-n", sys.executable, "-m", "plasticity", "site", "build"]
    result = subprocess.run(
        cmd + ["--root", str(dest), "--out", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    rebuilt = json.loads((out / "pages.json").read_text())["pages"]
    assert [p["file"] for p in rebuilt] == [p["file"] for p in built.pages]


def test_pages_manifest_matches_myst_config(built_site):
    dest, built = built_site
    config = json.loads((dest / "_build" / "site" / "config.json").read_text())
    slugs = [p["slug"] for p in config["projects"][0]["pages"] if "slug" in p]
    assert [p["slug"] for p in built.pages[1:]] == slugs


# ---------------------------------------------------------------- reader's features

#: Pages with a static slider: page file -> the parameter it moves.
SLIDER_PAGES = {
    "lazarus-vshape.html": "alpha",
    "lazarus-recovery-curve.html": "alpha",
    "lazarus-pruning.html": "prune_amount",
    "sovereign-evolution.html": "shock_threshold",
}
#: A page's size budget: HTML with its inline slider frames (images beside it are
#: separate files).
PAGE_BUDGET_BYTES = 3_000_000


def test_each_static_slider_moves_through_its_grid_and_swaps_the_image(served, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for file, name in SLIDER_PAGES.items():
        page.goto(served + file, wait_until="load")
        figure = page.locator(f'figure.static-slider[data-name="{name}"]')
        assert figure.count() == 1, file
        values = figure.locator("input[type=range]").get_attribute("data-values").split(", ")
        assert len(values) >= 2, f"{file}: grid {values}"
        assert f"precomputed at {name} in {{{', '.join(values)}}}" in figure.inner_text()

        def visible(figure=figure):
            return figure.evaluate(
                "f => Array.from(f.querySelectorAll('img')).filter(i => !i.hidden)"
                ".map(i => [i.dataset.value, i.src, i.naturalWidth])"
            )

        shown = set()
        slider = figure.locator("input[type=range]")
        slider.focus()
        page.keyboard.press("Home")
        for i, value in enumerate(values):
            if i:
                page.keyboard.press("ArrowRight")
            (frame,) = visible()
            assert frame[0] == value and frame[2] > 0, (file, frame)
            assert figure.locator("output").inner_text() == value
            shown.add(frame[1])
        # every grid value showed its own picture (no interpolation: only grid values)
        assert len(shown) == len(values), file
    page.close()


def test_every_figure_has_a_provenance_line_and_the_status_page_lists_every_chapter(
    built_site, served, browser
):
    dest, built = built_site
    page = browser.new_page()
    for entry in built.pages[1:]:
        page.goto(served + entry["file"], wait_until="load")
        figures = page.locator("img.output-image, figure.static-slider").count()
        lines = page.locator("p.provenance")
        assert figures and lines.count() == figures, entry["file"]
        text = lines.first.inner_text()
        assert "profile smoke" in text and "synthetic data" in text and "torch" in text
        links = page.locator("p.launch a")
        assert links.all_inner_texts() == [
            "Source (jupytext .py)",
            "Open in Binder",
            "Open in Colab",
        ], entry["file"]
    page.goto(served + "status.html", wait_until="load")
    rows = page.locator("table.status tbody tr")
    assert rows.count() == len(runner.chapters())
    for chapter in runner.chapters():
        assert chapter.title in page.inner_text("table.status")
    assert "not recorded" not in page.inner_text("table.status")
    page.close()


def test_every_page_stays_within_its_size_budget(built_site):
    _, built = built_site
    for entry in built.pages:
        size = (built.out_dir / entry["file"]).stat().st_size
        assert size <= PAGE_BUDGET_BYTES, f"{entry['file']}: {size} bytes"


def test_launch_links_derive_from_the_repository_in_myst_yml(tmp_path):
    from urllib.parse import urlparse

    config = site.read_config(paths.project_root())
    repo = site.repository(config)
    owner_repo = urlparse(repo).path.strip("/")
    assert repo == f"https://github.com/{owner_repo}" and owner_repo.count("/") == 1
    facts = site.provenance(tmp_path, config)["chapters"]
    assert len(facts) == len(runner.chapters())
    for chapter in runner.chapters():
        links = facts[f"/executed/{chapter.stem}.ipynb"]["links"]
        assert links["source"] == f"{repo}/blob/main/notebooks/{chapter.stem}.py"
        binder = urlparse(links["binder"])
        assert binder.netloc == "mybinder.org"
        assert binder.path == f"/v2/gh/{owner_repo}/main"
        assert binder.query == f"urlpath=lab/tree/notebooks/{chapter.stem}.py"
        colab = urlparse(links["colab"])
        assert colab.netloc == "colab.research.google.com"
        assert colab.path == f"/github/{owner_repo}/blob/colab/notebooks/{chapter.stem}.ipynb"
        assert (paths.project_root() / "notebooks" / f"{chapter.stem}.py").is_file()
    with pytest.raises(site.SiteError, match="project.github"):
        site.repository({"project": {"github": "github.com/no-scheme"}})
    assert site.repository({"project": {}}) is None


def test_provenance_caption_names_what_made_the_figures():
    entry = {
        "profile": "quick",
        "datasets": [{"name": "cifar10", "fingerprint": "6dbea93a8dad4997"}],
        "synthetic": False,
        "commit": "abc1234",
        "utc": "2026-11-23T10:00:00+00:00",
        "device": "cpu",
        "torch": "2.14.1",
        "seeds": [0, 1, 2],
        "runs": 9,
        "compute_seconds": 600.0,
    }
    assert site.caption(entry) == (
        "profile quick · data cifar10 6dbea93a8dad4997 · commit abc1234 · cpu, torch 2.14.1"
        " · seeds 0, 1, 2 · 9 cached runs, 10 min of compute · 2026-11-23"
    )
    old = {k: entry[k] for k in ("profile", "datasets", "synthetic", "commit", "utc")}
    assert site.caption(old) == (
        "profile quick · data cifar10 6dbea93a8dad4997 · commit abc1234 · 2026-11-23"
    )


def test_citation_file_validates_against_the_citation_file_format_schema():
    """CITATION.cff against CFF 1.2.0's JSON schema (tests/data, as cffconvert ships it)."""
    import jsonschema
    import yaml

    root = paths.project_root()
    schema = json.loads((root / "tests" / "data" / "cff-schema-1.2.0.json").read_text())
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    jsonschema.validate(cff, schema)  # raises on any violation
    assert cff["repository-code"] == site.repository(site.read_config(root))
    titles = " ".join(r["title"] for r in cff["references"])
    assert "Lazarus" in titles and "NeuroSovereign" in titles
    broken = {**cff, "authors": "nobody"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def _chapter_file(built) -> str:
    return next(p["file"] for p in built.pages if p["source"] and "01_base_model" in p["source"])


def test_search_finds_pages_offline_and_opens_the_first_hit(built_site, browser):
    """The prebuilt index is a script, so search works from the file system too."""
    _, built = built_site
    page = browser.new_page()
    page.goto((built.out_dir / "index.html").as_uri(), wait_until="load")
    box = page.locator("input.search-box")
    box.fill("base model")
    hits = page.locator("a.search-hit")
    hits.first.wait_for()
    titles = hits.all_inner_texts()
    assert any("base model" in t.lower() for t in titles), titles
    assert page.locator("a.search-hit mark").count() > 0
    box.fill("zzqx nothing")
    assert page.locator(".search-none").is_visible()
    box.fill("base model")
    hits.first.wait_for()
    target = hits.first.get_attribute("href")
    box.press("Enter")
    page.wait_for_load_state("load")
    assert page.url.endswith(target)
    page.close()


def test_code_is_highlighted_and_folds(built_site, served, browser):
    _, built = built_site
    page = browser.new_page()
    page.goto(served + _chapter_file(built), wait_until="load")
    assert page.locator("pre code span.tok-kw").count() > 0
    assert page.locator("pre code span.tok-str").count() > 0
    folds = page.locator("details.code-fold")
    n = folds.count()
    # folded by default: the page reads as text, outputs and figures
    assert n > 0 and page.locator("details.code-fold[open]").count() == 0
    toggle = page.locator("button.code-toggle")
    assert toggle.inner_text() == "Show code"
    # outputs stay visible with the code folded
    assert page.locator("img.output-image").first.is_visible()
    toggle.click()
    assert page.locator("details.code-fold[open]").count() == n
    assert toggle.inner_text() == "Hide code"
    toggle.click()
    assert page.locator("details.code-fold[open]").count() == 0
    page.close()


def test_pages_have_anchors_an_outline_numbered_figures_and_a_theme_toggle(
    built_site, served, browser
):
    _, built = built_site
    page = browser.new_page()
    page.goto(served + _chapter_file(built), wait_until="load")
    anchors = page.locator("main h2 a.anchor")
    assert anchors.count() > 0
    href = anchors.first.get_attribute("href")
    assert href.startswith("#") and page.locator(f"main h2[id='{href[1:]}']").count() == 1
    if page.locator("main h2").count() >= 2:
        assert page.locator("nav.outline li").count() == page.locator("main h2").count()
    numbers = page.locator("p.figure-number")
    assert numbers.count() > 0 and numbers.first.inner_text() == "Figure 1"
    theme = page.locator("button.theme-toggle")
    before = page.evaluate("getComputedStyle(document.body).color")
    theme.click()
    assert page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
    assert page.evaluate("getComputedStyle(document.body).color") != before
    page.goto(served + "index.html", wait_until="load")
    assert "cff-version" in page.locator("main").inner_text()  # the cite block
    page.close()


def test_the_contents_are_a_menu_on_a_phone(built_site, served, browser):
    _, built = built_site
    page = browser.new_page(viewport={"width": 390, "height": 800})
    page.goto(served + _chapter_file(built), wait_until="load")
    toc, menu = page.locator("nav.toc"), page.locator("button.menu-toggle")
    assert menu.is_visible() and not toc.is_visible()
    menu.click()
    assert toc.is_visible() and menu.get_attribute("aria-expanded") == "true"
    page.close()
    wide = browser.new_page(viewport={"width": 1280, "height": 800})
    wide.goto(served + _chapter_file(built), wait_until="load")
    assert wide.locator("nav.toc").is_visible()
    assert not wide.locator("button.menu-toggle").is_visible()
    wide.close()


# ---------------------------------------------------------------- a fresh clone


def _clone_like(dest: Path) -> Path:
    """The site's sources, the committed figures and published chapters (``book/``),
    and nothing executed: a fresh clone."""
    _copy_sources(dest)
    shutil.copytree(paths.project_root() / "figures", dest / "figures")
    if (paths.project_root() / publish.PUBLISHED_DIR).is_dir():
        shutil.copytree(paths.project_root() / publish.PUBLISHED_DIR, dest / publish.PUBLISHED_DIR)
    return dest


def test_a_preview_page_holds_the_chapters_text_code_and_saved_figures(tmp_path):
    root = _clone_like(tmp_path)
    chapter = next(c for c in runner.chapters() if c.stem == "05_lazarus_pruning")
    nb = site.preview_notebook(root, chapter)
    assert site.PREVIEW_KEY in nb.metadata
    first, note = nb.cells[0].source, nb.cells[1].source
    assert first.lstrip().startswith("# ") and note.startswith("**Preview.**")
    # the provenance of the chapter's committed figures, whichever profile made them
    made = {
        e["profile"]
        for e in read_manifest(root / "figures")["files"].values()
        if e["chapter"] == chapter.stem
    }
    assert len(made) == 1 and f"profile {made.pop()}" in note and "make book ONLY=05" in note
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] for c in code)
    saved = nb.cells[-1].source
    for png in (root / "figures" / chapter.stem).glob("*.png"):
        if ".frame-" in png.name:  # a slider's frames: its figure stands for them
            assert f"(../figures/{chapter.stem}/{png.name})" not in saved
            continue
        assert f"(../figures/{chapter.stem}/{png.name})" in saved
    assert "**runs.csv**" in saved and "| condition |" in saved
    # a preview is not an unfinished execution, but is not an executed page either
    target = root / "executed" / f"{chapter.stem}.ipynb"
    target.parent.mkdir()
    import nbformat

    nbformat.write(nb, target)
    assert site.is_preview(target)
    assert runner.execution_problem(target) is not None


def test_a_fresh_clone_builds_the_site_from_the_committed_figures(node_ready, tmp_path, browser):
    """No data, no cache, no executed notebook: every chapter shows its published run
    (``book/``) or else a preview of the committed figures, and the front page carries
    the committed headline table."""
    root = _clone_like(tmp_path / "clone")
    with pytest.raises(site.SiteError, match="missing"):
        site.build(root, tmp_path / "strict", log=lambda *a: None)
    said = []
    built = site.build(root, tmp_path / "html", log=said.append, preview=True)
    assert len(built.pages) == len(runner.chapters()) + 1
    index = (built.out_dir / "index.html").read_text()
    saved = pd.read_csv(root / "figures" / "12_headlines" / "headlines.csv")
    assert all(unescape(k) in unescape(index) for k in saved["section"].head(5))
    published = publish.published(root)
    kinds = {
        c.stem: ("Published run." if c.stem in published else "Preview.") for c in runner.chapters()
    }
    if published:
        assert any("shown as published" in line for line in said)
    page = browser.new_page()
    for stem, banner in kinds.items():
        file = next(p["file"] for p in built.pages if p["source"] and stem in p["source"])
        page.goto((built.out_dir / file).as_uri(), wait_until="load")
        assert banner in page.inner_text("article"), stem
        sizes = page.eval_on_selector_all("article img", "els => els.map(e => e.naturalWidth)")
        assert sizes and all(w > 0 for w in sizes), (stem, sizes)
        downloads = page.inner_text("p.downloads")
        assert ("published run" if stem in published else "this preview") in downloads
    for pack in publish.shipped_packs(root):  # the shipped results, linked and served
        page.goto((built.out_dir / "status.html").as_uri(), wait_until="load")
        link = page.get_attribute(f'p.results-pack a[href="{pack.name}"]', "href")
        assert link == pack.name
        assert (built.out_dir / pack.name).read_bytes() == pack.read_bytes()
    page.close()
