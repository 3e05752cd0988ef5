"""The executed book committed small (``book/``): figures referenced instead of
embedded, embedded again for JupyterLab and the site, and a Markdown page per chapter
that GitHub renders."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from plasticity.book import publish, runner, site
from plasticity.foundations import paths


def _images(nb: dict) -> list[bytes]:
    return [
        base64.b64decode(o["data"]["image/png"])
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]


def _real_like(smoke_book, dest: Path) -> Path:
    """A project folder holding the smoke book's executed pages and figures, with
    each page saying it ran with the real-data profile ``quick``."""
    book_root, _ = smoke_book
    shutil.copytree(book_root / "figures", dest / "figures")
    (dest / "executed").mkdir(parents=True)
    for page in (book_root / "executed").glob("*.ipynb"):
        nb = json.loads(page.read_text())
        nb["metadata"]["papermill"]["parameters"]["profile"] = "quick"
        (dest / "executed" / page.name).write_text(json.dumps(nb))
    return dest


def test_saved_figure_names_are_read_from_a_cells_code_once_each():
    code = (
        'if ch.replaying:\n    ch.show_saved_figure("grid")\nelse:\n'
        '    ch.save_figure(fig, "grid")\nch.save_figure(plt.gcf(), "counts")\n'
    )
    assert publish.saved_figure_names(code) == ["grid", "counts"]
    assert publish.saved_figure_names("plt.show()") == []


def test_slim_references_every_saved_figure_and_restore_embeds_the_same_bytes(smoke_book):
    book_root, done = smoke_book
    figures = book_root / "figures"
    total_images = 0
    for chapter, _, executed in done:
        nb = json.loads(Path(executed).read_text())
        small, unmatched = publish.slim(nb, chapter.stem, figures)
        total_images += len(_images(nb))
        assert unmatched == [], (chapter.stem, unmatched)
        assert _images(small) == [], chapter.stem
        refs = [
            o["metadata"][publish.FIGURE_KEY]
            for c in small["cells"]
            for o in c.get("outputs", [])
            if publish.FIGURE_KEY in o.get("metadata", {})
        ]
        assert len(refs) == len(_images(nb))
        assert all((figures / r["path"]).is_file() for r in refs)
        assert len(json.dumps(small)) <= len(json.dumps(nb))
        # every other output is kept, a table without its plain-text twin
        for before, after in zip(nb["cells"], small["cells"], strict=True):
            kept = [o for o in before.get("outputs", []) if "image/png" not in o.get("data", {})]
            rest = [
                o
                for o in after.get("outputs", [])
                if publish.FIGURE_KEY not in o.get("metadata", {})
            ]
            assert len(kept) == len(rest)
            for old, new in zip(kept, rest, strict=True):
                html = "".join(old.get("data", {}).get("text/html", ""))
                if "<table" in html:
                    table = html[html.index("<table") : html.rindex("</table>")]
                    assert "text/plain" not in new["data"]
                    if "text/html" in new["data"]:
                        assert new["data"]["text/html"] == old["data"]["text/html"]
                    else:  # a large table keeps its plain-text form
                        assert len(table) > publish.MAX_TABLE_HTML // 2
                        assert "abridged" in new["data"]["text/markdown"]
                else:
                    assert old == new
        back = publish.restore(small, figures)
        assert _images(back) == [(figures / r["path"]).read_bytes() for r in refs]
    assert total_images >= 10  # the book draws figures in most chapters


def test_a_slider_keeps_every_frame_by_reference(smoke_book, tmp_path):
    book_root, done = smoke_book
    executed = next(e for c, _, e in done if c.stem == "02_lazarus_vshape")
    nb = json.loads(Path(executed).read_text())
    assert "static-slider" in json.dumps(nb)
    figures = tmp_path / "figures"
    shutil.copytree(book_root / "figures", figures)
    small, _ = publish.slim(nb, "02_lazarus_vshape", figures)
    assert "static-slider" not in json.dumps(small)  # the page stays small
    sliders = [
        o
        for c in small["cells"]
        for o in c.get("outputs", [])
        if o.get("metadata", {}).get(publish.FIGURE_KEY, {}).get("slider")
    ]
    assert len(sliders) == 1
    frames = sliders[0]["metadata"][publish.FIGURE_KEY]["frames"]
    assert len(frames) >= 2 and all((figures / f["path"]).is_file() for f in frames)
    assert "A slider on the site" in sliders[0]["data"]["text/markdown"]
    html = publish.restore(small, figures)
    shown = [o for c in html["cells"] for o in c.get("outputs", []) if "text/html" in o["data"]]
    assert any(o["data"]["text/html"].count("data-value=") == len(frames) for o in shown)


def test_an_image_that_is_no_saved_figure_is_reported_and_left_out(tmp_path):
    (tmp_path / "figures" / "00_data").mkdir(parents=True)
    (tmp_path / "figures" / "00_data" / "kept.png").write_bytes(b"\x89PNG saved")
    png = base64.b64encode(b"\x89PNG drawn").decode()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plt.plot([1, 2])\nplt.show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    nb.cells = [cell]
    small, unmatched = publish.slim(
        json.loads(nbformat.writes(nb)), "00_data", tmp_path / "figures"
    )
    assert unmatched == ["cell 0, image 1"]
    out = small["cells"][0]["outputs"][0]
    assert "image/png" not in out["data"] and "not saved" in out["data"]["text/markdown"]
    # the same image saved under the cell's name is referenced by its order
    (tmp_path / "figures" / "00_data" / "curve.png").write_bytes(b"\x89PNG other bytes")
    cell.source = 'ch.save_figure(fig, "curve")\nplt.show()'
    small, unmatched = publish.slim(
        json.loads(nbformat.writes(nb)), "00_data", tmp_path / "figures"
    )
    assert unmatched == []
    ref = small["cells"][0]["outputs"][0]["metadata"][publish.FIGURE_KEY]
    assert ref == {"path": "00_data/curve.png", "slider": False}


def test_publishing_refuses_synthetic_or_unfinished_pages_before_writing(smoke_book, tmp_path):
    book_root, _ = smoke_book
    root = tmp_path / "proj"
    shutil.copytree(book_root / "executed", root / "executed")
    shutil.copytree(book_root / "figures", root / "figures")
    with pytest.raises(publish.PublishError, match="profile 'smoke'.*real-data profiles"):
        publish.publish(root, log=lambda *a: None)
    assert not (root / "book").exists()
    with pytest.raises(publish.PublishError, match="not one of the book's"):
        publish.publish(root, ["99_nothing"], log=lambda *a: None)
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, root / "executed" / "00_data.ipynb")
    with pytest.raises(publish.PublishError, match="only finished pages"):
        publish.publish(root, ["00_data"], log=lambda *a: None)
    assert not (root / "book").exists()


def test_published_pages_are_small_github_markdown_with_linked_figures(smoke_book, tmp_path):
    root = _real_like(smoke_book, tmp_path / "proj")
    said = []
    done = publish.publish(root, log=said.append)
    assert done == [c.stem for c in runner.chapters()]
    assert len(said) == len(done)
    executed = sum(p.stat().st_size for p in (root / "executed").glob("*.ipynb"))
    book = sum(p.stat().st_size for p in (root / "book").iterdir())
    assert book < executed / 2, (book, executed)
    for stem in done:
        md = (root / "book" / f"{stem}.md").read_text()
        title, made = md.split("\n\n")[:2]
        assert title.startswith("# ") and made.startswith("> Executed with profile `quick`")
        assert "data:image" not in md and "<style" not in md
        assert md.count("<details><summary>Code</summary>") == md.count("</details>") > 0
        for link in re.findall(r"\]\(\.\./figures/([^)]+\.png)\)", md):
            assert (root / "figures" / link).is_file(), link
    contents = (root / "book" / "README.md").read_text()
    assert all(f"]({stem}.md)" in contents for stem in done)
    assert "not published yet" not in contents


def test_the_lab_notebooks_get_published_outputs_under_the_current_code(
    smoke_book, tmp_path, monkeypatch
):
    root = _real_like(smoke_book, tmp_path / "proj")
    publish.publish(root, ["00_data", "01_base_model"], log=lambda *a: None)
    shutil.copytree(
        paths.notebooks_dir(), root / "notebooks", ignore=shutil.ignore_patterns("*.ipynb")
    )
    source = root / "notebooks" / "01_base_model.py"
    text = source.read_text()
    # a reader edits one cell after publication: that cell has no recorded output
    edited = text.replace(
        "display(Markdown(ch.summary()))", "display(Markdown(ch.summary()))  # edited", 1
    )
    assert edited != text
    source.write_text(edited)
    own = nbformat.v4.new_notebook()
    own.cells = [
        nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output("stream", text="mine")])
    ]
    nbformat.write(own, root / "notebooks" / "00_data.ipynb")

    assert publish.lab_notebooks(root, log=lambda *a: None) == ["01_base_model"]
    kept = nbformat.read(root / "notebooks" / "00_data.ipynb", as_version=4)
    assert kept.cells[0].source == "1"
    assert source.read_text() == edited  # the reader's code is never rewritten
    nb = nbformat.read(root / "notebooks" / "01_base_model.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any("# edited" in c.source and not c.outputs for c in code)
    assert _images(nb) and sum(bool(c.outputs) for c in code) >= 3
    assert publish.lab_notebooks(root, force=True, log=lambda *a: None) == [
        "00_data",
        "01_base_model",
    ]


def test_the_site_shows_a_published_chapter_with_its_outputs_in_place(smoke_book, tmp_path):
    root = _real_like(smoke_book, tmp_path / "proj")
    publish.publish(root, ["03_lazarus_recovery_curve"], log=lambda *a: None)
    chapter = next(c for c in runner.chapters() if c.stem == "03_lazarus_recovery_curve")
    nb = site.published_page(root, chapter, root / "book" / f"{chapter.stem}.ipynb")
    assert nb.cells[1].source.startswith("**Published run.**")
    assert "book/03_lazarus_recovery_curve.ipynb" in nb.cells[1].source
    assert "make book ONLY=03" in nb.cells[1].source
    executed = json.loads((root / "executed" / f"{chapter.stem}.ipynb").read_text())
    shown = _images(json.loads(nbformat.writes(nb)))
    saved = {p.read_bytes() for p in (root / "figures" / chapter.stem).glob("*.png")}
    assert len(shown) == len(_images(executed)) > 0 and set(shown) <= saved
    target = tmp_path / "page.ipynb"
    nbformat.write(nb, target)
    assert site.is_preview(target)  # not executed in this build
    assert site._executed_facts(target)["profile"] == "quick"  # its own run's profile
