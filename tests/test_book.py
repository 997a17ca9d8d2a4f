"""Every chapter executes through papermill with tiny parameters and the book renders offline."""
import json
import re

import pytest

from chromolib.book import CHAPTERS, PROFILES, build_book

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    index = build_book(out, PROFILES["tiny"])
    return out, index.parent


def test_book_has_intro_and_every_chapter(book):
    _, html = book
    assert (html / "intro.html").exists()
    for name in CHAPTERS:
        assert (html / "chapters" / f"{name}.html").exists(), name


def test_every_chapter_executed_without_error_outputs(book):
    out, _ = book
    for name in CHAPTERS:
        nb = json.loads((out / "book" / "chapters" / f"{name}.ipynb").read_text())
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        assert nb["metadata"]["papermill"]["parameters"], f"{name}: papermill injected no parameters"


def test_every_chapter_has_figures(book):
    _, html = book
    for name in CHAPTERS:
        page = (html / "chapters" / f"{name}.html").read_text()
        assert len(re.findall(r"<img [^>]*src=\"[^\"]+\.png\"", page)) >= 1, f"{name} has no figure"


def test_numbers_in_prose_are_glued_from_the_run(book):
    out, html = book
    page = (html / "chapters" / "04_analysis.html").read_text()
    metrics = json.loads((out / "work" / "run" / "metrics.json").read_text())
    assert f"{100 * metrics['accuracy']:.2f}" in page


def test_book_loads_nothing_from_the_network(book):
    _, html = book
    for page in html.rglob("*.html"):
        text = page.read_text()
        remote = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", text)
        assert not remote, f"{page.name} loads {remote[:3]}"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_pages_show_nothing_a_reader_should_not_see(book):
    out, html = book
    for name in CHAPTERS:
        page = (html / "chapters" / f"{name}.html").read_text()
        text = re.sub(r"<[^>]+>", "", page)
        assert str(out) not in text, f"{name} shows the build machine's paths"
        assert "Parameters" not in text and "injected" not in text, f"{name} shows papermill's injected cell"
        assert "glue(" not in text and "{glue" not in text, f"{name} shows glue plumbing or raw markup"
        assert "dtype:" not in text and "Linear(in_features" not in text, f"{name} shows a raw repr"
