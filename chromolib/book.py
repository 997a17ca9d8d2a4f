"""Execute the chapters with papermill and render the book (Jupyter Book 1.x).

``python -m chromolib.book --help``; ``make book`` calls it with the quick profile.
The source of each chapter is ``notebooks/NN_name.py`` (jupytext percent format); it is
converted to ``.ipynb``, executed by papermill with the given parameters (only those the
chapter declares in its ``parameters`` cell), and the executed notebooks are rendered with
warnings as errors.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["CHAPTERS", "PROFILES", "glue", "execute_chapter", "build_book", "main"]

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("01_rotation", "02_dataset", "03_training", "04_analysis")

#: Parameter sets for the whole book. ``quick`` = the notebooks' own defaults.
PROFILES: dict[str, dict] = {
    "quick": {},
    "tiny": {"n_cells": 4, "n_examples": 4, "n_rotation": 40, "profile": "tiny"},
    "paper": {"profile": "paper"},
}


def glue(name: str, value) -> None:
    """Store a number (or a short text) that a chapter's prose quotes, ``{glue:text}`name:.2f```,
    without showing it where it is computed. NumPy scalars become plain Python numbers, so the
    prose can format them."""
    from myst_nb import glue as myst_glue

    myst_glue(name, value.item() if hasattr(value, "item") else value, display=False)


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
               render: bool = True) -> Path:
    """Execute ``chapters`` into ``out/book/chapters`` and render HTML; return index.html
    (with ``render=False``, where Jupyter Book is not installed: the executed chapters' folder).

    Working files (data sets, runs) go to ``out/work``; timings to ``out/timings.json``.
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
    subprocess.run(cmd, check=True)
    index = out / "_build" / "html" / "index.html"
    if not index.exists():
        raise RuntimeError(f"the book build finished without {index}")
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
                   help="override one chapter parameter, e.g. -p data ../shared/data/pki3-gband")
    p.add_argument("--chapters", nargs="+", default=list(CHAPTERS), help="subset of chapters")
    p.add_argument("--execute-only", action="store_true",
                   help="execute the chapters, do not render HTML (e.g. on a GPU machine without Jupyter Book)")
    args = p.parse_args(argv)
    params = {**PROFILES[args.profile], **{k: _value(v) for k, v in args.parameter}}
    index = build_book(args.out, params, chapters=args.chapters, render=not args.execute_only)
    print(f"{'executed chapters' if args.execute_only else 'book'}: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
