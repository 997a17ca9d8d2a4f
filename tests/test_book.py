"""The book: every chapter executes through papermill with tiny parameters and renders offline;
the rendered pages pass the page check (``chromolib.book.page_problems``), which is shown to
catch each defect a reader should never see; data resolution, data notes and tables."""
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from chromolib import book as cbook
from chromolib.book import CHAPTERS, PROFILES, ROOT, book_problems, build_book, page_problems

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The whole book built once with the tiny profile (real Pki-3 crops when ../shared/data is
    there, else synthetic; never a download). ``build_book`` itself fails on a page problem."""
    out = tmp_path_factory.mktemp("book")
    index = build_book(out, PROFILES["tiny"], download=False)
    return out, index.parent


# --------------------------------------------------------------------------------------------
# The built book
# --------------------------------------------------------------------------------------------

@slow
def test_book_has_intro_references_and_every_chapter(book):
    _, html = book
    assert (html / "intro.html").exists() and (html / "references.html").exists()
    for name in CHAPTERS:
        assert (html / "chapters" / f"{name}.html").exists(), name


@slow
def test_every_chapter_executed_without_error_outputs(book):
    out, _ = book
    for name in CHAPTERS:
        nb = json.loads((out / "book" / "chapters" / f"{name}.ipynb").read_text())
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        assert nb["metadata"]["papermill"]["parameters"], f"{name}: papermill injected no parameters"


@slow
def test_every_chapter_has_numbered_captioned_figures(book):
    _, html = book
    for name in CHAPTERS:
        page = (html / "chapters" / f"{name}.html").read_text()
        assert len(re.findall(r"<img [^>]*src=\"[^\"]+\.png\"", page)) >= 1, f"{name} has no figure"
        assert re.search(r"caption-number\">Fig\. \d\.\d", page), f"{name}: figures not numbered by chapter"


@slow
def test_pages_pass_the_page_check(book):
    out, html = book
    assert book_problems(html, paths=[out, ROOT]) == []


@slow
def test_every_chapter_says_which_data_it_ran_on(book):
    out, html = book
    used = json.loads((out / "data.json").read_text())
    for name in CHAPTERS:
        key = "spreads" if name == "07_spread" else "data"  # chapter 7 runs on whole spreads
        want = cbook.data_label(used[key]["folder"])  # e.g. "real Pki-3 G-band karyogram crops"
        text = re.sub(r"<[^>]+>", "", (html / "chapters" / f"{name}.html").read_text())
        assert "Data on this page" in text and want in text, name


@slow
def test_the_tiny_profile_runs_on_few_cells_of_real_data_when_it_is_there(book):
    out, _ = book
    data = json.loads((out / "data.json").read_text())["data"]
    if not (cbook.SHARED_DATA / "pki3-gband" / "labels.csv").exists():
        assert data["folder"] == "" or "cache" in data["from"]
        return
    assert data["folder"]
    summary = cbook.dataset_summary(out / "work" / "dataset")
    assert summary["cells"] == PROFILES["tiny"]["max_cells"] and summary["data"]


@slow
def test_numbers_in_prose_are_glued_from_the_run(book):
    out, html = book
    page = (html / "chapters" / "04_analysis.html").read_text()
    metrics = json.loads((out / "work" / "run" / "metrics.json").read_text())
    assert f"{100 * metrics['accuracy']:.2f}" in page


@slow
def test_book_loads_nothing_from_the_network(book):
    _, html = book
    for page in html.rglob("*.html"):
        text = page.read_text()
        remote = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", text)
        assert not remote, f"{page.name} loads {remote[:3]}"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()


@slow
def test_bibliography_lists_every_entry_of_the_bib_file_and_each_is_cited(book):
    _, html = book
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), flags=re.M)
    assert len(keys) >= 10
    sources = "\n".join(p.read_text() for p in [*(ROOT / "book").glob("*.md"), *(ROOT / "notebooks").glob("*.py")])
    cited = {k.strip() for roles in re.findall(r"\{cite:[pt]\}`([^`]+)`", sources) for k in roles.split(",")}
    assert set(keys) <= cited, f"never cited: {sorted(set(keys) - cited)}"
    listed = (html / "references.html").read_text().count('<div class="citation"')
    assert listed == len(keys)


@slow
def test_chapters_and_equations_are_numbered(book):
    _, html = book
    toc = (ROOT / "book" / "_toc.yml").read_text()
    assert "numbered: true" in toc
    intro = (html / "intro.html").read_text()
    assert len(re.findall(r'class="eqno">\(\d\)', intro)) >= 4
    for i, name in enumerate(CHAPTERS, 1):
        page = (html / "chapters" / f"{name}.html").read_text()
        assert f'<span class="section-number">{i}. </span>' in page, name


# --------------------------------------------------------------------------------------------
# The page check catches each defect when planted in a copy of a built page
# --------------------------------------------------------------------------------------------

def _article(soup):
    return soup.find("article") or soup.body


def _append(html: str):
    def plant(soup, out):
        from bs4 import BeautifulSoup

        _article(soup).append(BeautifulSoup(html.replace("{OUT}", str(out)), "html.parser"))
    return plant


def _unnumber_title(soup, out):
    soup.find("article").find("h1").find(class_="section-number").decompose()


def _drop_captions(soup, out):
    for cap in _article(soup).find_all("figcaption"):
        cap.decompose()


def _drop_exercises(soup, out):
    for div in _article(soup).find_all("div", class_=["exercise", "solution"]):
        div.decompose()


def _unfold_solutions(soup, out):
    for div in _article(soup).find_all("div", class_="solution"):
        div["class"] = [c for c in div["class"] if c != "dropdown"]


DEFECTS = {
    "raw glue role": (_append("<p>accuracy {glue:text}`acc:.2f` %</p>"), "raw MyST role"),
    "glue role in backticks": (_append("<p>on the <code>{glue:text}</code>device</p>"), "raw MyST role"),
    "raw numref": (_append("<p>as {numref}`fig-x` shows</p>"), "raw MyST role"),
    "raw directive": (_append("<pre>:::{exercise}</pre>"), "raw MyST directive"),
    "glue call": (_append("<pre>glue(\"acc\", 0.9)</pre>"), "glue plumbing"),
    "build path": (_append("<p>written to {OUT}/work/run</p>"), "path"),
    "home path": (_append("<p>see /home/alice/pki3</p>"), "absolute path"),
    "pandas repr": (_append("<pre>Name: error, dtype: float64</pre>"), "Python repr"),
    "object repr": (_append("<pre>&lt;chromolib.runs.Run object at 0x7f3a2b1c&gt;</pre>"), "Python repr"),
    "module repr": (_append("<pre>Linear(in_features=512, out_features=2, bias=True)</pre>"), "Python repr"),
    "matplotlib repr": (_append("<pre>[Text(0, 0.5, 'chromosomes')]</pre>"), "Python repr"),
    "traceback": (_append('<div class="output traceback"><pre>Traceback (most recent call last):\n  File "x"</pre></div>'),
                  "traceback"),
    "stderr output": (_append('<div class="output stderr"><pre>loading</pre></div>'), "stderr"),
    "warning output": (_append("<pre>UserWarning: the input is small</pre>"), "warning output"),
    "sphinx problem": (_append('<div class="system-message"><p>System Message: WARNING/2</p></div>'), "Sphinx problem"),
    "injected parameters": (_append("<pre># Parameters\nworkdir = 'x'\n</pre>"), "injected parameters"),
    "nan in prose": (_append("<p>accuracy nan %</p>"), "not-a-number"),
    "unnumbered chapter": (_unnumber_title, "chapter title is not numbered"),
    "figure without caption": (_drop_captions, "figure without a numbered caption"),
    "loose image": (_append('<p><img src="x.png"/></p>'), "figure without a numbered caption"),
    "table without caption": (_append("<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"),
                              "table without a numbered caption"),
    "no exercises": (_drop_exercises, "exercises (at least 2 wanted)"),
    "solution not folded": (_unfold_solutions, "solution that is not folded"),
}


@slow
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_the_page_check_catches_a_planted_defect(book, tmp_path, defect):
    from bs4 import BeautifulSoup

    out, html = book
    source = html / "chapters" / "01_rotation.html"
    paths = [out, ROOT]
    assert page_problems(source, paths=paths) == []
    plant, expected = DEFECTS[defect]
    soup = BeautifulSoup(source.read_text(), "html.parser")
    plant(soup, out)
    planted = tmp_path / "chapters" / source.name
    planted.parent.mkdir()
    planted.write_text(str(soup))
    problems = page_problems(planted, paths=paths)
    assert any(expected in p for p in problems), problems


# --------------------------------------------------------------------------------------------
# Data resolution, notes and tables (no book build)
# --------------------------------------------------------------------------------------------

def _set(folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "labels.csv").write_text("file,cell,chromosome,copy\nimages/a.png,c1,1,0\nimages/b.png,c2,2,0\n")
    if name:
        from chromolib.download import MARKER

        (folder / MARKER).write_text(json.dumps({"set": name}))
    return folder


def test_resolve_data_prefers_what_is_given_then_the_cache_then_the_shared_copy(tmp_path, monkeypatch):
    from chromolib import download

    monkeypatch.setenv("CHROMOLIB_DATA", str(tmp_path / "cache"))
    shared = tmp_path / "shared"
    calls = []
    monkeypatch.setattr(download, "get", lambda name, *a, **k: calls.append(name) or str(tmp_path / "fetched"))
    assert cbook.resolve_data("pki3-gband", "") == ("", "synthetic (given)")
    assert cbook.resolve_data("pki3-gband", "/my/crops")[0] == "/my/crops"
    # nothing anywhere: download (mocked)
    assert cbook.resolve_data("pki3-gband", shared=shared)[0] == str(tmp_path / "fetched") and calls == ["pki3-gband"]
    copy = _set(shared / "pki3-gband")
    assert cbook.resolve_data("pki3-gband", shared=shared) == (str(copy), "the developers' copy beside the repository")
    cached = _set(tmp_path / "cache" / "pki3-gband", name="pki3-gband")
    assert cbook.resolve_data("pki3-gband", shared=shared) == (str(cached), "the download cache")
    assert calls == ["pki3-gband"]


def test_resolve_data_falls_back_to_synthetic_with_a_notice(tmp_path, monkeypatch):
    from chromolib import download

    monkeypatch.setenv("CHROMOLIB_DATA", str(tmp_path / "cache"))
    _set(tmp_path / "cache" / "pki3-gband")  # no completion marker: not trusted

    def offline(name, *a, **k):
        raise download.DataError("cannot get the data set 'pki3-gband': download failed (offline)\n  Download ...")

    monkeypatch.setattr(download, "get", offline)
    folder, why = cbook.resolve_data("pki3-gband", shared=tmp_path / "none")
    assert folder == "" and why.startswith("synthetic") and "offline" in why and "\n" not in why
    assert cbook.resolve_data("pki3-gband", shared=tmp_path / "none", download=False) == (
        "", "synthetic: pki3-gband not found (downloads off)")


def test_data_notes_name_the_data_never_a_path(tmp_path):
    real = _set(tmp_path / "pki3-gband")
    note = cbook.data_note(str(real), 1, 46)
    assert "real Pki-3 G-band karyogram crops" in note and "1 of the set's 2 cells" in note
    assert str(tmp_path) not in note and note.startswith(":::{admonition}")
    assert "all 2 cells" in cbook.data_note(str(real), 2, 92)
    mine = _set(tmp_path / "my-crops")
    assert cbook.data_label(str(mine)) == "real chromosome crops from the folder `my-crops`"
    synthetic = cbook.data_note("", 30, 1380)
    assert "synthetic chromosomes generated by chromolib" in synthetic and "chromolib data get pki3-gband" in synthetic
    assert cbook.data_label("", short=True) == "synthetic" and cbook.data_label(str(real), short=True) == "Pki-3"


def test_markdown_table_is_a_numbered_myst_table():
    df = pd.DataFrame({"n": [1347, 46], "accuracy": [96.3641, float("nan")], "setup": ["a | b", None]},
                      index=pd.Index(["patent", "this run"], name="run"))
    text = cbook.markdown_table(df, "The runs.", "tab-runs")
    lines = text.splitlines()
    assert lines[0] == ":::{table} The runs." and lines[1] == ":name: tab-runs" and lines[-1] == ":::"
    assert "| run | n | accuracy | setup |" in lines and "|:---|---:|---:|:---|" in lines
    assert "| patent | 1,347 | 96.36 | a \\| b |" in lines and "| this run | 46 | – | – |" in lines


def test_compare_runs_says_which_data_and_which_run(tiny_run):
    from chromolib.runs import load_run

    what, how = cbook.compare_runs(load_run(tiny_run.run), ROOT / "results")
    assert list(what.index[:2]) == ["patent", "this run"] and len(what) > 2
    assert what.loc["this run", "data"] == "synthetic, 2 cells" and what.loc["patent", "data"] == "private clinical"
    assert set(what.data.iloc[2:]) == {"Pki-3"}
    assert how.loc["patent", "accuracy (95 % interval)"] == "96.36 (95.22-97.24)" and how.loc["patent", "errors"] == 49
    assert len(what.columns) <= 4 and len(how.columns) <= 5  # fits the page


def test_a_parameter_papermill_cannot_parse_fails_the_chapter(tmp_path):
    source = tmp_path / "00_bad.py"
    source.write_text('# %% tags=["parameters"]\ndata = ""   # folder ("" = synthetic)\nseed = 0\n\n# %%\nprint(seed)\n')
    with pytest.raises(ValueError, match="cannot parse the parameter.*data"):
        cbook.execute_chapter(source, tmp_path / "out.ipynb", {"data": "x"}, cwd=tmp_path)


def test_run_summary_describes_a_committed_run():
    from chromolib.book import run_summary
    from chromolib.runs import load_run

    s = run_summary(load_run(ROOT / "results" / "pki3-cpu-otsu"))  # a frozen record
    assert s["network, input"] == "resnet18, 96 x 32 px"
    assert s["training"] == "20 epochs, flips, tilts up to 12 degrees, flip TTA, calibrated"
    assert s["accuracy (95 % interval)"] == "98.04 % (97.72-98.32)" and s["held-out chromosomes"] == "8,420"
