"""Execute the chapters with papermill and render the book (Jupyter Book 1.x); check the pages.

``python -m chromolib.book --help``; ``make book`` calls it with the quick profile.
The source of each chapter is ``notebooks/NN_name.py`` (jupytext percent format); it is
converted to ``.ipynb``, executed by papermill with the given parameters (only those the
chapter declares in its ``parameters`` cell), and the executed notebooks are rendered with
warnings as errors. ``page_problems`` then reads every rendered page as a reader would and
lists what a reader should never see (raw markup, this machine's paths, Python reprs, ...).

Data: the chapters' ``data`` (Pki-3 G-band karyogram crops), ``qband`` (BioImLab Q-band
crops) and ``spreads`` (BioImLab metaphase spreads) parameters left at ``"auto"`` are resolved
once, by ``resolve_data``, to a folder or to ``""`` (synthetic chromosomes; chapter 7 composes
its spreads from them); the chapters receive plain paths.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["CHAPTERS", "PROFILES", "AUTO_DATA", "glue", "resolve_data", "data_label", "data_note", "spreads_note", "dataset_summary",
           "compare_runs", "run_summary", "markdown_table", "table", "page_problems", "book_problems", "execute_chapter", "build_book", "main"]

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("01_rotation", "02_dataset", "03_training", "04_analysis", "05_beyond", "06_types", "07_spread")

#: Parameter sets for the whole book. ``quick`` = the notebooks' own defaults (CPU minutes; on
#: real data 98 cells, the patent's amount); ``tiny`` = seconds, for the tests.
PROFILES: dict[str, dict] = {
    "quick": {},
    "tiny": {"n_cells": 4, "max_cells": 4, "n_examples": 4, "n_rotation": 40, "n_spreads": 1, "profile": "tiny"},
    "paper": {"profile": "paper", "max_cells": 0},
}

#: chapter parameters that name a public data set, resolved by ``resolve_data`` when "auto"
AUTO_DATA = {"data": "pki3-gband", "qband": "bioimlab-qband", "spreads": "bioimlab-spreads"}
#: the developers' converted copies, beside the repository (absent on a user's machine)
SHARED_DATA = ROOT.parent / "shared" / "data"
#: what each public set is, for the pages
DATA_NAMES = {"pki3-gband": "Pki-3 G-band karyogram crops", "bioimlab-qband": "BioImLab Q-band crops",
              "karyonet-gband": "KaryoNet G-band karyogram crops", "bioimlab-spreads": "BioImLab Q-band metaphase spreads"}
SHORT_NAMES = {"pki3-gband": "Pki-3", "bioimlab-qband": "BioImLab Q-band", "karyonet-gband": "KaryoNet",
               "bioimlab-spreads": "BioImLab spreads"}


def glue(name: str, value, markdown: bool = False) -> None:
    """Store a number (or a short text) that a chapter's prose quotes, ``{glue:text}`name:.2f```,
    without showing it where it is computed. NumPy scalars become plain Python numbers, so the
    prose can format them. ``markdown=True`` stores MyST text for ``{glue:md}`` (a note, a list)."""
    from myst_nb import glue as myst_glue

    if markdown:
        from IPython.display import Markdown

        value = Markdown(str(value))
    myst_glue(name, value.item() if hasattr(value, "item") else value, display=False)


# ---------------------------------------------------------------------------------------------
# Which data: resolved once per build, described at the top of every chapter
# ---------------------------------------------------------------------------------------------

def resolve_data(name: str, value: str = "auto", download: bool = True,
                 shared: str | Path | None = None) -> tuple[str, str]:
    """A chapter's data parameter as a plain folder, or ``""`` for synthetic chromosomes, and
    where it came from (a few words for the build log).

    ``value`` other than ``"auto"`` is kept as it is (a folder, or ``""``: synthetic). For
    ``"auto"``, in this order: the set ``name`` converted in the download cache
    (``download.cache_dir()/name`` with its completion marker; ``$CHROMOLIB_DATA`` moves the
    cache); the developers' copy ``../shared/data/name`` beside the repository; with
    ``download``, ``download.get(name)`` (a user with a network); else synthetic."""
    from . import download as dl
    from .images import first_line

    if value != "auto":
        return (str(value) if value else "", "given" if value else "synthetic (given)")
    cached = dl.cache_dir() / name
    try:
        marker = json.loads((cached / dl.MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = {}
    if marker.get("set") == name and dl.holds(name, cached):
        return str(cached), "the download cache"
    copy = Path(shared if shared is not None else SHARED_DATA) / name
    if dl.holds(name, copy):
        return str(copy), "the developers' copy beside the repository"
    if download:
        try:
            return str(dl.get(name)), "downloaded"
        except dl.DataError as exc:
            return "", f"synthetic: {name} not found and not downloaded ({first_line(exc)})"
    return "", f"synthetic: {name} not found (downloads off)"


def _set_name(data: str | Path) -> str:
    """The public set a folder holds: from the download marker, else the folder's name."""
    from .download import MARKER

    try:
        return json.loads((Path(data) / MARKER).read_text(encoding="utf-8")).get("set") or Path(data).name
    except (OSError, ValueError):
        return Path(data).name


def data_label(data: str | Path | None, short: bool = False) -> str:
    """What ``data`` is, in words: "real Pki-3 G-band karyogram crops", "real chromosome crops
    from the folder `mine`" or "synthetic chromosomes generated by chromolib" (``short``:
    "Pki-3", "mine", "synthetic"). Never a path of this machine."""
    if not data:
        return "synthetic" if short else "synthetic chromosomes generated by chromolib"
    name = _set_name(data)
    if short:
        return SHORT_NAMES.get(name, name)
    return f"real {DATA_NAMES[name]}" if name in DATA_NAMES else f"real chromosome crops from the folder `{name}`"


def data_note(data: str | Path | None, cells: int, chromosomes: int, extra: str = "") -> str:
    """The note at the top of a chapter (MyST): which data the page ran on, how much of it (and
    of how much: a subset is said to be one, the full runs being the committed reference runs),
    or how to get the real set where it ran on synthetic chromosomes. ``extra``: one more sentence."""
    if data:
        from .specimens import read_labels

        total = int(read_labels(data).cell.nunique())
        if cells < total:
            what = (f"{cells:,} of the set's {total:,} cells ({chromosomes:,} chromosomes). The book uses a subset "
                    f"so that it builds in minutes on a laptop; the runs on more data are the committed reference "
                    f"runs under `results/`, shown in chapter 4.")
        else:
            what = f"all {cells:,} cells of the set ({chromosomes:,} chromosomes)."
    else:
        what = (f"{cells:,} cells, {chromosomes:,} chromosomes. No real data set was given or found: "
                f"`chromolib data get pki3-gband` downloads the public Pki-3 set once (`bioimlab-qband` the "
                f"Q-band set), and the next `make book` runs on it.")
    body = f"This page ran on **{data_label(data)}**: {what}" + (f" {extra}" if extra else "")
    return "\n".join([":::{admonition} Data on this page", ":class: note", body, ":::"])


def spreads_note(spreads: str | Path | None, spreads_used: int, chromosomes: int, held_out: int = 0,
                 extra: str = "") -> str:
    """The note at the top of a chapter on metaphase spreads (MyST): real spreads (``spreads``
    a folder; ``spreads_used`` of its ``held_out`` held-out spreads, ``chromosomes`` outlined in
    them) or spreads composed from synthetic chromosomes (``spreads`` empty), with how to get
    the real set. ``extra``: one more sentence."""
    if spreads:
        of = f" of the set's {held_out:,} held-out spreads" if held_out else " spreads"
        body = (f"This page ran on **{data_label(spreads)}**: {spreads_used:,}{of} ({chromosomes:,} outlined "
                f"chromosomes), never seen by the U-Net in training.")
    else:
        body = (f"This page ran on **spreads composed of {data_label(None)}**: {spreads_used:,} spreads, "
                f"{chromosomes:,} chromosomes, their outlines known exactly. No real spreads were given or found: "
                f"`chromolib data get bioimlab-spreads` downloads the BioImLab metaphase images with their outlines "
                f"once, and the next `make book` runs on them.")
    body += f" {extra}" if extra else ""
    return "\n".join([":::{admonition} Data on this page", ":class: note", body, ":::"])


def dataset_summary(dataset_dir: str | Path) -> dict:
    """What a polarity data set folder (``polarity_set.prepare_dataset``) was built from:
    ``data`` (the folder, or "" for synthetic), ``cells``, ``chromosomes`` and per split
    ``train_cells``, ``test_cells``, ``train``, ``test``."""
    from .polarity_set import read_manifest

    root = Path(dataset_dir)
    try:
        params = json.loads((root / "params.json").read_text())
    except (OSError, ValueError):
        params = {}
    df = read_manifest(root)
    out = {"data": params.get("data", ""), "cells": int(df.cell.nunique()), "chromosomes": len(df)}
    for split in ("train", "test"):
        part = df[df.split == split]
        out[split], out[f"{split}_cells"] = len(part), int(part.cell.nunique())
    return out


def compare_runs(run, results: str | Path | None = None):
    """The reader's run (``runs.load_run``) beside the patent and the committed reference runs
    under ``results``, as two tables that fit a page: what each run is (network and schedule,
    data, chromosomes in training and held out, held-out cells) and how it did (accuracy with
    its Wilson 95 % interval, sensitivity, specificity, precision, errors). Rows: ``patent``,
    ``this run``, then the reference runs by folder name."""
    import pandas as pd

    from .evaluation import comparison_table
    from .runs import reference_runs, run_setup

    ds = dataset_summary(run.config["dataset"])
    refs = reference_runs(results) if results else {}
    full = comparison_table({"this run": {**run.metrics, "setup": run_setup(run.config, run.metrics)}, **refs})
    full.index = ["patent", *full.index[1:]]
    n_train = {"patent": 3143, "this run": ds["train"],
               **{k: m.get("normalisation", {}).get("n_train") for k, m in refs.items()}}
    cells = {"patent": None, "this run": ds["test_cells"]}
    for name in refs:
        pred = Path(results) / name / "predictions.csv"
        cells[name] = int(pd.read_csv(pred, usecols=["cell"], dtype=str).cell.nunique()) if pred.exists() else None
    data = {"patent": "private clinical", "this run": f"{data_label(ds['data'], short=True)}, {ds['cells']:,} cells",
            **{k: "Pki-3" for k in refs}}
    what = pd.DataFrame({
        "network, input, epochs, device": full["setup"],
        "data": pd.Series(data),
        "training / held out": [f"{n_train[k]:,} / {int(full.loc[k, 'n']):,}" if n_train.get(k) else f"? / {int(full.loc[k, 'n']):,}"
                                for k in full.index],
        "held-out cells": pd.Series(cells, dtype="Int64"),
    }, index=full.index)
    how = pd.DataFrame({
        "accuracy (95 % interval)": [f"{a:.2f} ({ci.replace(' %', '')})"
                                     for a, ci in zip(full["accuracy"].astype(float), full["accuracy 95% CI"])],
        "sensitivity": full["sensitivity"].astype(float),
        "specificity": full["specificity"].astype(float),
        "precision": full["precision"].astype(float),
        "errors": (full["FP"] + full["FN"]).astype(int),
    }, index=full.index)
    return what, how


# ---------------------------------------------------------------------------------------------
# Numbered tables
# ---------------------------------------------------------------------------------------------

def run_summary(run) -> dict[str, str]:
    """One run (``runs.load_run``) in a few lines for a reader: network and input, training,
    held-out chromosomes, accuracy with its Wilson interval, errors, the share flagged for
    review, training time; one column of a comparison table."""
    from .training import TTA_NAMES

    c, m = run.config, run.metrics
    size = f"{c['image_size']} x {c.get('width') or c['image_size']} px"
    extras = [f"tilts up to {c['tilt']:g} degrees" if c.get("tilt") else "",
              "upside-down images with the other label" if c.get("turn") else "",
              TTA_NAMES[c["tta"]] if c.get("tta") else "", "calibrated" if m.get("calibration") else ""]
    lo, hi = m["accuracy_ci95"]
    return {"network, input": f"{c['arch']}, {size}",
            "training": ", ".join([f"{c['epochs']} epochs, flips", *filter(None, extras)]),
            "held-out chromosomes": f"{m['n']:,}",
            "accuracy (95 % interval)": f"{100 * m['accuracy']:.2f} % ({100 * lo:.2f}-{100 * hi:.2f})",
            "errors (FP + FN)": f"{m['FP']} + {m['FN']}",
            "flagged at 0.5 % error": f"{100 * run.review['report_flagged_fraction']:.1f} %",
            "training time": f"{m.get('train_seconds_total', 0) / 60:.0f} min"}


def _cell(value) -> str:
    import numbers

    import pandas as pd

    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(df, caption: str, name: str, index: bool = True, align: str | None = None) -> str:
    """A DataFrame as a MyST ``{table}`` directive (caption, label ``name`` for ``{numref}``):
    a numbered table that fits the page. Integers get thousands separators, floats two decimals
    (format them first for anything else); numeric columns are right-aligned."""
    import pandas as pd

    frame = df.reset_index() if index else df
    if index and frame.columns[0] == "index":
        frame = frame.rename(columns={"index": ""})
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame]
    head = "| " + " | ".join(_cell(str(c)) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if num else ":---" for num in numeric) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    opts = [f":name: {name}"] + ([f":align: {align}"] if align else [])
    return "\n".join([f":::{{table}} {caption}", *opts, "", head, rule, *rows, ":::"])


def table(df, caption: str, name: str, index: bool = True):
    """Show ``df`` as a numbered, captioned table (``markdown_table``) in a chapter."""
    from IPython.display import Markdown

    return Markdown(markdown_table(df, caption, name, index=index))


# ---------------------------------------------------------------------------------------------
# The page check: what a reader should never see
# ---------------------------------------------------------------------------------------------

#: (what, pattern) searched in a page's visible text (code included)
_TEXT_PROBLEMS = [
    ("raw MyST role", re.compile(r"\{(?:glue|numref|eq|cite|doc|ref|download|term|math|abbr|prf|bibliography)"
                                 r"(?::[\w:]*)?\}")),
    ("raw MyST directive", re.compile(r"(?:```|:::)\{[\w:-]+\}")),
    ("glue plumbing", re.compile(r"\bglue\(")),
    ("Python repr", re.compile(r"dtype: \w|object at 0x[0-9a-f]+|Linear\(in_features|<Figure size|<Axes[ :]|"
                               r"\[?Text\(\d|<matplotlib\.|tensor\(\[")),
    ("traceback", re.compile(r"Traceback \(most recent call last\)|\x1b\[|\[0;3\dm")),
    ("warning output", re.compile(r"\b[A-Z]\w*Warning: |\bwarnings\.warn\(|^WARNING\b", re.M)),
    ("papermill's injected parameters", re.compile(r"# Parameters\n|injected-parameters")),
    ("Sphinx problem", re.compile(r"System Message: (?:WARNING|ERROR|SEVERE)|\bUnknown (?:directive|interpreted)")),
]
#: searched in the prose only (code blocks left out)
_PROSE_PROBLEMS = [
    ("not-a-number in the prose", re.compile(r"(?<![\w.\"'])(?:nan|NaN|inf)(?![\w(\"'])")),
]
#: absolute paths that name a machine's folders
_PATH = re.compile(r"(?<![\w.~/:])/(?:home|Users|root|tmp|private|var/folders|mnt|media|work|opt)/[\w.-]+|"
                   r"\b[A-Za-z]:\\\\[\w.-]+|file://")


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 40):end + 40].split())


def page_problems(html_path: str | Path, chapter: bool | None = None, paths=(), min_exercises: int = 2) -> list[str]:
    """What a reader should never see on one rendered page, one line each (empty: the page is clean).

    In the page's text: raw MyST roles and directives, glue calls, Python reprs, tracebacks,
    warning and stderr output, papermill's injected cell, Sphinx problems, absolute paths (any
    of ``paths`` and any /home/..., /tmp/..., C:\\...) and NaN in the prose. In its structure: a
    figure or table without a numbered caption, a stderr or error output, an unnumbered title;
    on a chapter (``chapter`` None: a page under ``chapters/``) fewer than ``min_exercises``
    exercises, or an exercise without a folded solution."""
    from bs4 import BeautifulSoup

    path = Path(html_path)
    chapter = "chapters" in path.parts if chapter is None else chapter
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    main = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in main.find_all(["script", "style"]):
        tag.decompose()
    problems = []

    def add(what: str, detail: str = "") -> None:
        problems.append(f"{path.name}: {what}" + (f": {detail}" if detail else ""))

    text = main.get_text()
    for what, pattern in _TEXT_PROBLEMS:
        for m in list(pattern.finditer(text))[:3]:
            add(what, repr(_context(text, m.start(), m.end())))
    for p in {str(p) for p in paths if str(p) not in ("", "/", ".")}:
        if p in text:
            add("a path of the build machine", repr(_context(text, text.index(p), text.index(p) + len(p))))
    for m in list(_PATH.finditer(text))[:3]:
        add("an absolute path", repr(_context(text, m.start(), m.end())))
    prose = BeautifulSoup(str(main), "html.parser")
    for tag in prose.find_all(["pre", "code", "math"]) + prose.find_all(class_=["math", "highlight"]):
        tag.decompose()
    prose_text = prose.get_text()
    for what, pattern in _PROSE_PROBLEMS:
        for m in list(pattern.finditer(prose_text))[:3]:
            add(what, repr(_context(prose_text, m.start(), m.end())))

    for node in main.find_all(class_=["stderr", "traceback", "system-message", "problematic"]):
        add(f"a {' '.join(c for c in node.get('class', []) if c in ('stderr', 'traceback', 'system-message', 'problematic'))} "
            f"block", repr(" ".join(node.get_text().split())[:80]))
    for img in main.find_all("img"):
        fig = img.find_parent("figure")
        cap = fig.find("figcaption") if fig else None
        if cap is None or not cap.find(class_="caption-number"):
            add("a figure without a numbered caption", img.get("src", "?"))
    for tab in main.find_all("table"):
        cap = tab.find("caption")
        if cap is None or not cap.find(class_="caption-number"):
            head = tab.find("tr")
            add("a table without a numbered caption", repr(" ".join(head.get_text().split())[:60] if head else ""))
    title = main.find("h1")
    if chapter and (title is None or not title.find(class_="section-number")):
        add("the chapter title is not numbered", repr(title.get_text().strip() if title else "(no title)"))
    if chapter:
        exercises = main.find_all("div", class_="exercise")
        solutions = main.find_all("div", class_="solution")
        if len(exercises) < min_exercises:
            add(f"{len(exercises)} exercises (at least {min_exercises} wanted)")
        if len(solutions) < len(exercises):
            add(f"{len(exercises)} exercises but {len(solutions)} solutions")
        for sol in solutions:
            if "dropdown" not in sol.get("class", []):
                add("a solution that is not folded", repr(" ".join(sol.get_text().split())[:60]))
    return problems


def book_problems(html_dir: str | Path, paths=()) -> list[str]:
    """``page_problems`` of every page of a rendered book (``_build/html``), chapters under ``chapters/``."""
    html_dir = Path(html_dir)
    pages = sorted(p for p in html_dir.rglob("*.html")
                   if not any(part.startswith("_") for part in p.relative_to(html_dir).parts)
                   and p.name not in ("search.html", "genindex.html"))
    return [problem for page in pages for problem in page_problems(page, paths=paths)]


def execute_chapter(source: Path, target: Path, parameters: dict, cwd: Path) -> float:
    """Convert one py:percent chapter to ipynb and execute it with papermill; return seconds."""
    import jupytext
    import papermill as pm

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.with_suffix(".source.ipynb")
    jupytext.write(nb, raw)
    declared = pm.inspect_notebook(str(raw))
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    assigned = re.findall(r"^(\w+)\s*=", cell.source, flags=re.M) if cell is not None else []
    unparsed = [name for name in assigned if name not in declared]
    if unparsed:  # papermill would silently never set them
        raise ValueError(f"{source.name}: papermill cannot parse the parameter(s) {unparsed} of the parameters cell "
                         f"(keep each line `name = value  # comment`, no quotes in the comment)")
    params = {k: v for k, v in parameters.items() if k in declared}
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(raw), str(target), parameters=params, cwd=str(cwd), kernel_name="python3",
                            progress_bar=False, log_output=False)
    finally:
        raw.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    _hide_injected_parameters(target)
    return seconds


def _hide_injected_parameters(notebook: Path) -> None:
    """Papermill's injected cell holds this machine's paths: keep it in the executed notebook
    (a record of the run) but out of the rendered page."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, notebook)


def build_book(out: str | Path = "_build", parameters: dict | None = None, chapters=CHAPTERS,
               notebooks: str | Path = ROOT / "notebooks", book: str | Path = ROOT / "book",
               render: bool = True, download: bool = True, check: bool = True) -> Path:
    """Execute ``chapters`` into ``out/book/chapters`` and render HTML; return index.html
    (with ``render=False``, where Jupyter Book is not installed: the executed chapters' folder).

    Data parameters (``AUTO_DATA``) missing or ``"auto"`` are resolved once by ``resolve_data``
    (``download``: may fetch a public set). Working files (data sets, runs) go to ``out/work``;
    timings to ``out/timings.json``, the data each parameter resolved to to ``out/data.json``.
    ``check``: the rendered pages must pass ``page_problems`` (else RuntimeError).
    """
    out = Path(out).resolve()
    src = out / "book"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(book, src, ignore=shutil.ignore_patterns("_build", "chapters"))
    if tuple(chapters) != CHAPTERS:  # a subset: the table of contents lists only those
        toc = (src / "_toc.yml").read_text().splitlines()
        keep = [line for line in toc if "chapters/" not in line or any(c in line for c in chapters)]
        (src / "_toc.yml").write_text("\n".join(keep) + "\n")
    params = {"workdir": str(out / "work"), **(parameters or {})}
    sources = {}
    for key, name in AUTO_DATA.items():
        params[key], sources[key] = resolve_data(name, params.get(key, "auto"), download=download)
        print(f"{key}: {params[key] or 'synthetic chromosomes'} ({sources[key]})", flush=True)
    (out / "data.json").write_text(json.dumps({k: {"folder": params[k], "from": sources[k]} for k in AUTO_DATA},
                                              indent=2))
    # plain-text progress in executed notebooks (widgets would need JavaScript from a CDN)
    os.environ.setdefault("TQDM_DISABLE", "1")
    timings = {}
    for name in chapters:
        print(f"executing {name} with {params}", flush=True)
        timings[name] = round(execute_chapter(Path(notebooks) / f"{name}.py", src / "chapters" / f"{name}.ipynb",
                                              params, cwd=Path(notebooks).resolve()), 1)
        print(f"  {name}: {timings[name]} s", flush=True)
    (out / "timings.json").write_text(json.dumps(timings, indent=2))
    if not render:
        return src / "chapters"
    # warnings are errors, except for a subset of chapters (the intro links to all of them)
    strict = ["-W", "-n"] if tuple(chapters) == CHAPTERS else []
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(src), "--path-output", str(out), *strict,
           "--keep-going", "--builder", "html"]
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    timings["render"] = round(time.perf_counter() - t0, 1)
    (out / "timings.json").write_text(json.dumps(timings, indent=2))
    index = out / "_build" / "html" / "index.html"
    if not index.exists():
        raise RuntimeError(f"the book build finished without {index}")
    if check and tuple(chapters) == CHAPTERS:
        problems = book_problems(index.parent, paths=[out, ROOT, Path.home()])
        if problems:
            raise RuntimeError("the rendered pages show what a reader should not see:\n  " + "\n  ".join(problems))
    return index


def _value(text: str):
    """A parameter from the command line: JSON if it parses, an existing path made absolute
    (the chapters run in notebooks/, not where the command was typed), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return str(Path(text).resolve()) if text and Path(text).exists() else text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chromolib.book", description=(
        "Execute every chapter with papermill and render the book to OUT/_build/html."))
    p.add_argument("--out", default="_build", help="output folder (default _build)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                   help="parameter set: quick (notebook defaults, CPU minutes), tiny (tests), "
                        "paper (ResNet101, 224 px, 100 epochs: GPU)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override one chapter parameter, e.g. -p data ../my-crops (a folder in the layout of "
                        "data/README.md) or -p data '' (synthetic); data and qband default to auto")
    p.add_argument("--chapters", nargs="+", default=list(CHAPTERS), help="subset of chapters")
    p.add_argument("--execute-only", action="store_true",
                   help="execute the chapters, do not render HTML (e.g. on a GPU machine without Jupyter Book)")
    p.add_argument("--no-download", action="store_true",
                   help="never download a public data set: without one in the cache or ../shared/data, "
                        "the chapters run on synthetic chromosomes")
    p.add_argument("--no-check", action="store_true", help="do not check the rendered pages (page_problems)")
    args = p.parse_args(argv)
    params = {**PROFILES[args.profile], **{k: _value(v) for k, v in args.parameter}}
    index = build_book(args.out, params, chapters=args.chapters, render=not args.execute_only,
                       download=not args.no_download, check=not args.no_check)
    print(f"{'executed chapters' if args.execute_only else 'book'}: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
