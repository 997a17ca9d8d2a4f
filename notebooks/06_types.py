# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chromosome type and the karyogram
#
# ```{glue:md} data_note
# :format: myst
# ```
#
# A karyogram is, by definition, the chromosomes of one cell by type and in pairs: 1 to 22, then
# X and Y. Until now the book has oriented chromosomes whose type a person had already written
# down. This chapter teaches the network the 24 types, and then uses what every cytogeneticist
# knows about a cell - two of each autosome, XX or XY - to correct it. The long runs are committed
# under `results/types/` with the commands that made them (`results/README.md`); this page reads
# them and runs the model that ships with `chromolib` on a held-out cell.

# %% tags=["parameters"]
data = ""                 # folder of p-up crops with labels.csv (the chapters' data), empty for synthetic
workdir = "../runs/quick"  # chapter 2's data set is reused
results = "../results"    # committed reference runs

# %% tags=["remove-cell"]
import json
from pathlib import Path

import numpy as np
import pandas as pd

from chromolib import book, plots
from chromolib.book import glue
from chromolib.evaluation import accuracy, mcnemar_runs, type_confusion
from chromolib.images import canonical_gray, read_image
from chromolib.karyogram import karyogram_sheet
from chromolib.orient import detect_stain, load_type_model
from chromolib.polarity_set import UP, network_input, read_manifest
from chromolib.runs import load_run
from chromolib.straighten import straighten

results = Path(results)
ds_dir = Path(workdir) / "dataset"
ds = book.dataset_summary(ds_dir)
glue("data_note", book.data_note(ds["data"], ds["cells"], ds["chromosomes"],
                                 extra="The tables and the confusion matrix come from the committed reference runs "
                                       "on all of Pki-3 and of BioImLab Q-band."),
     markdown=True)
runs = {"G-band (Pki-3)": load_run(results / "types" / "pki3-type"),
        "Q-band, from scratch": load_run(results / "types" / "qband-type"),
        "Q-band, from the G-band model": load_run(results / "types" / "qband-type-gband-init"),
        "Q-band, GRiCoL objective": load_run(results / "types" / "qband-gricol")}
external = json.loads((results / "types" / "karyonet.json").read_text())["type"]

# %% [markdown]
# ## What tells the types apart
# Three things, in the order a cytogeneticist learns them: the length (chromosome 1 is about four
# times as long as chromosome 21), the position of the centromere, and the bands
# {cite:p}`poletti2012`. The polarity network of chapters 3 and 5 sees every chromosome filling
# its frame, so it cannot see length. The type network sees the chromosomes of one cell at ONE
# scale, chosen so that the cell's median chromosome takes 0.42 of the frame's height: a
# chromosome 1 then stands about twice as tall as the median, a chromosome 21 about half
# ({numref}`fig-ty-input`). Everything else is the `cpu` recipe of chapter 5 (ResNet18
# {cite:p}`he2016resnet`, a 96 x 40 frame, tilts, a calibration temperature), with upside-down
# flips in training, since type does not depend on polarity, and at test time the chromosome and
# it upside down averaged (the four flips do no better on the cells kept aside for calibration:
# `results/orient/tta_views.txt`).

# %% tags=["remove-cell"]
manifest = read_manifest(ds_dir)
held_out = manifest[manifest.split == "test"]
reference_cells = set(runs["G-band (Pki-3)"].predictions.cell.astype(str))
never_seen = [c for c in held_out.cell.unique() if str(c) in reference_cells]
if ds["data"] and never_seen:  # real data: a cell the shipped model never trained on
    cell = never_seen[0]
    glue("cell_note", f"held-out cell {cell}, which the shipped model never saw in training")
elif ds["data"]:
    cell = held_out.cell.unique()[0]
    glue("cell_note", f"cell {cell} of this page's data, which the shipped model may have seen in training (the "
                      f"figure shows the layout; the accuracy is in the table above)")
else:
    cell = held_out.cell.unique()[0]
    glue("cell_note", f"cell {cell} of this page's synthetic chromosomes (the shipped model learnt real Pki-3 "
                      f"chromosomes: expect it to do badly here)")
rows = held_out[held_out.cell == cell].reset_index(drop=True)
# the data set's upright crops, turned short arm up by their known label, as `chromolib orient` leaves them
crops = [canonical_gray(read_image(ds_dir / f)) for f in rows.file]
crops = [c if lab == UP else np.ascontiguousarray(c[::-1, ::-1]) for c, lab in zip(crops, rows.label)]
order = np.argsort([-c.shape[0] for c in crops], kind="stable")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "One cell as the type network sees it, longest first: one scale for the whole cell, so that length counts (above), against each chromosome filling its frame as the polarity network sees it (below).", "name": "fig-ty-input"}}
shown = order[:: max(1, len(order) // 12)][:12]
cell_scale = network_input([crops[i] for i in shown], 96, 40, cells=[cell] * len(shown))
fill = network_input([crops[i] for i in shown], 96, 40)
fig = plots.gallery(list(cell_scale) + list(fill), ncols=len(shown))

# %% [markdown]
# ## Two of each: the cell as a whole
# A classifier that looks at one chromosome at a time can call two chromosomes "4" and three
# "5"; in a normal cell that is impossible. Given the network's probabilities $p_{i,t}$ that
# chromosome $i$ of a cell is of type $t$, the assignment gives every chromosome a slot $s_i$ of
# type $t(s_i)$ so that
#
# $$
# \sum_{i=1}^{N} \Big( -\log p_{i,\,t(s_i)} + c\,[\,s_i \text{ is an extra copy}\,] \Big)
# $$ (eq-ty-assign)
#
# is as small as possible, every slot used at most once. The slots are two for each autosome, two
# X and one Y (so XX and XY both fit), and one extra copy of each type at a cost of
# $c = \log 100$ nats, so that a trisomy is read when the network is sure of it. The Hungarian
# method {cite:p}`kuhn1955hungarian` solves {eq}`eq-ty-assign` exactly in well under a
# millisecond per cell (`chromolib.assignment`). Varifocal-Net {cite:p}`qin2019varifocal` and
# KaryoNet {cite:p}`xia2023karyonet` use the cell in the same spirit.
#
# ## The reference runs
# {numref}`tab-ty-runs` shows the committed runs: Pki-3 G-band (612 cells, split 7:3 by case as
# in every chapter) and BioImLab Q-band (119 cells, split 7:3 by cell; its crops were cut at
# metaphase angles and brought to vertical by chapter 1's rotation step first). The Q-band set is
# five times smaller, so it was trained twice: from random weights, and starting from the G-band
# network (both stains are read dark on white; the bands differ, the shapes do not) with half the
# learning rate.

# %% tags=["remove-cell"]
def _pct(a: dict) -> str:
    lo, hi = a["accuracy_ci95"]
    return f"{100 * a['accuracy']:.2f} % ({100 * lo:.2f}-{100 * hi:.2f})"


table = pd.DataFrame({name: {
    "held-out chromosomes (cells)": f"{r.metrics['n']:,} ({r.predictions.cell.nunique()})",
    "per chromosome": _pct(r.metrics["per_chromosome"]),
    "assigned over the cell": _pct(r.metrics),
    "cells with every type right": f"{100 * r.metrics['cells_all_right']:.1f} %",
    "training (2-core CPU)": f"{r.metrics['train_seconds_total'] / 60:.0f} min ({r.history.train_seconds.median():.0f} s "
                             f"a median epoch)",
} for name, r in runs.items()})
g, q0 = runs["G-band (Pki-3)"].metrics, runs["Q-band, from scratch"].metrics
q = runs["Q-band, from the G-band model"].metrics
qg = runs["Q-band, GRiCoL objective"].metrics
glue("g_per", 100 * g["per_chromosome"]["accuracy"])
glue("g_assigned", 100 * g["accuracy"])
glue("q0_assigned", 100 * q0["accuracy"])
glue("q_per", 100 * q["per_chromosome"]["accuracy"])
glue("q_assigned", 100 * q["accuracy"])
glue("qg_per", 100 * qg["per_chromosome"]["accuracy"])
glue("qg_assigned", 100 * qg["accuracy"])
glue("q0_per", 100 * q0["per_chromosome"]["accuracy"])
per, assigned = (mcnemar_runs(runs["Q-band, from scratch"].predictions, runs["Q-band, GRiCoL objective"].predictions,
                              pred=c, truth="chromosome") for c in ("pred", "assigned"))
glue("qg_p_per", per["p_value"])
glue("qg_p_assigned", "< 0.001" if assigned["p_value"] < 0.001 else f"= {assigned['p_value']:.3f}")
glue("qg_wins", assigned["only_b_right"])
glue("qg_losses", assigned["only_a_right"])
# per epoch, the median: both runs shared the CPU with other work in some epochs
glue("qg_cost", runs["Q-band, GRiCoL objective"].history.train_seconds.median()
     / runs["Q-band, from scratch"].history.train_seconds.median())
glue("g_errors_removed", 100 * (1 - (1 - g["accuracy"]) / max(1 - g["per_chromosome"]["accuracy"], 1e-9)))
glue("ext_acc", 100 * external["accuracy"])
glue("ext_lo", 100 * external["accuracy_ci95"][0])
glue("ext_hi", 100 * external["accuracy_ci95"][1])
glue("ext_n", external["n"])

# %% tags=["remove-input"]
book.table(table, "Chromosome type on held-out cells: accuracy with its Wilson 95 % interval per chromosome (the "
                  "network alone) and after the assignment over the cell (the equation above), the share of cells "
                  "whose every chromosome is right, and the training time. Published on these public sets, split by "
                  "image rather than by cell: GRiCoL 99.5 % (G-band) and 97.3 % (Q-band), a ResNet50 baseline 86.4 % "
                  "and 95.3 %.", "tab-ty-runs")

# %% [markdown]
# The assignment takes the G-band network from {glue:text}`g_per:.2f` % to
# {glue:text}`g_assigned:.2f` % per chromosome (it removes {glue:text}`g_errors_removed:.0f` % of
# the errors). On Q-band, starting from the G-band network lifts the assigned accuracy from
# {glue:text}`q0_assigned:.2f` % to {glue:text}`q_assigned:.2f` % ({glue:text}`q_per:.2f` % per
# chromosome); that network ships as the Q-band model.
# The published figures {cite:p}`gricol2024` split the images, not the cells, so chromosomes of
# one cell sit on both sides; the splits here keep a cell (and a Pki-3 case) whole.
#
# GRiCoL's grid reconstruction is a way of *training*: nine overlapping tiles of each chromosome
# share the network with the whole image, their features are gated and fused with their
# neighbours, and eleven classifiers learn at once; at inference only the whole-image network
# runs, so the model that comes out is an ordinary ResNet. `chromolib train --objective gricol`
# reproduces it scaled to a CPU (`chromolib.gricol`): the tiles are cut from the 96 x 40 frame
# itself rather than from an image at twice the resolution, the loss ramp is scaled to 12 epochs,
# and the optimiser stays the plain run's, so that the objective is the only difference. On the
# Q-band cells it gives {glue:text}`qg_per:.2f` % per chromosome and {glue:text}`qg_assigned:.2f` %
# assigned, against {glue:text}`q0_per:.2f` % and {glue:text}`q0_assigned:.2f` % for the plain
# run from random weights, for {glue:text}`qg_cost:.1f` times its training time per epoch (the median epoch of each
# run). The network alone is no better (McNemar's exact test on the same chromosomes: p =
# {glue:text}`qg_p_per:.2f`), but its probabilities are better ranked among the chromosomes of a
# cell: after the assignment it wins {glue:text}`qg_wins` chromosomes against {glue:text}`qg_losses`
# (p {glue:text}`qg_p_assigned`). Starting from the G-band network does more, at no extra
# cost.
#
# In another laboratory, the KaryoNet G-band cells {cite:p}`xia2023karyonet` (never trained on),
# turned at random angles and given to `chromolib orient` as a user would, get the right type for
# {glue:text}`ext_acc:.1f` % of {glue:text}`ext_n` chromosomes (95 % interval
# {glue:text}`ext_lo:.1f`-{glue:text}`ext_hi:.1f` %).
#
# {numref}`fig-ty-confusion` shows where the G-band errors are.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Type confusion of the G-band reference run on its held-out Pki-3 cells after the assignment: each row is a true type, the colour the share of it given each type (log scale; empty cells never happened).", "name": "fig-ty-confusion"}}
conf = type_confusion(runs["G-band (Pki-3)"].predictions)
ax = plots.type_confusion(conf)

# %% tags=["remove-cell"]
off = conf.to_numpy().copy()
np.fill_diagonal(off, 0)
i, j = np.unravel_index(off.argmax(), off.shape)
glue("pair_true", conf.index[i])
glue("pair_pred", conf.columns[j])
glue("pair_n", int(off[i, j]))

# %% [markdown]
# The most frequent confusion is a true {glue:text}`pair_true` read as
# {glue:text}`pair_pred` ({glue:text}`pair_n` times).
#
# ## A karyogram without a labels file
# `chromolib orient CELL_DIR OUT_DIR` now does all of it: rotation, polarity, type (the shipped
# model of the stain it reads from the images: bright on black is Q-band), the assignment, and
# the sheet in the standard layout. {numref}`fig-ty-sheets` is {glue:text}`cell_note`, laid out by
# the shipped model and by the types a cytogeneticist wrote down.

# %% tags=["remove-cell"]
model = load_type_model(detect_stain(crops))
names, probs = model.types(crops)
truth = rows.chromosome.astype(str).tolist()
right = np.array(names) == np.array(truth)
glue("cell_right", int(right.sum()))
glue("cell_n", len(right))
glue("cell_flagged", int((np.asarray(probs) < model.threshold).sum()))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "One held-out cell laid out by the shipped type model with the assignment over the cell (above) and by its true types (below); a type label stands under the first chromosome of each type.", "name": "fig-ty-sheets"}}
fig = plots.sheets({"by the shipped model": karyogram_sheet(crops, names),
                    "by the cytogeneticist's labels": karyogram_sheet(crops, truth)})

# %% [markdown]
# The model gives {glue:text}`cell_right` of the {glue:text}`cell_n` chromosomes their true type;
# {glue:text}`cell_flagged` fall below its review threshold and are flagged in `results.csv`.
#
# ## Straightened for reading
# A bent chromosome stands on the sheet as an arc, and its bands no longer line up with its
# homologue's. `chromolib orient --straighten` also writes each chromosome unrolled along its
# medial axis (`chromolib.straighten`): the image is sampled along the lines normal to the axis,
# one row per pixel of arc length, so the axis becomes vertical and the bands horizontal. A
# chromosome that is nearly straight, or too stubby to have an axis worth unrolling, stays as it
# is. It is a view for the reader only: rotation, polarity and type were decided on the crops
# above, which stay in the output folder beside the straightened ones. {numref}`fig-ty-straight`
# is the same cell; {glue:text}`straightened` of its {glue:text}`cell_n` chromosomes were bent
# enough to be unrolled.

# %% tags=["remove-cell"]
straight = [straighten(c) for c in crops]
glue("straightened", sum(s.shape != c.shape or not np.array_equal(s, c) for s, c in zip(straight, crops)))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The cell of the figure above by the shipped model, as oriented (above) and straightened along each chromosome's axis (below).", "name": "fig-ty-straight"}}
fig = plots.sheets({"as oriented": karyogram_sheet(crops, names),
                    "straightened": karyogram_sheet(straight, names)})

# %% [markdown]
# ## Exercises
#
# :::{exercise} The price of a third copy
# :label: ex-ty-extra
# The assignment charges $c = \log 100$ nats for a third copy of a type. Predict what happens to
# the held-out accuracy of normal cells when $c = 0$ (a third copy costs nothing) and when $c$ is
# very large, then measure both with the shipped model on the held-out cells of chapter 2's data
# set.
# :::
#
# :::{solution} ex-ty-extra
# :class: dropdown
# With $c = 0$ every chromosome may keep its most probable type among three slots, so the
# assignment only corrects fourth copies: the accuracy falls back towards the per-chromosome one.
# With a very large $c$ no cell can hold a third copy: normal cells gain a little, trisomies are
# forced into a wrong type.
#
# ```python
# import numpy as np
# from chromolib.assignment import assign_by_cell
# from chromolib.karyotype import TYPES
# from chromolib.orient import load_type_model
# from chromolib.images import read_image
# from chromolib.polarity_set import read_manifest
#
# root = "runs/quick/dataset"
# test = read_manifest(root).query("split == 'test'")
# model = load_type_model("gband")
# probs = model.trained.type_probs([read_image(f"{root}/{f}") for f in test.file], cells=test.cell)
# for c in (0.0, np.log(100), 50.0):
#     types = np.array(TYPES)[assign_by_cell(probs, test.cell, extra_cost=c)]
#     print(c, (types == test.chromosome.astype(str)).mean())
# ```
# :::
#
# :::{exercise} Two cells in one folder
# :label: ex-ty-two-cells
# `chromolib orient` reads one folder as one cell. Predict what happens to the types when a user
# puts two cells into one folder, then try it on two of chapter 2's held-out cells.
# :::
#
# :::{solution} ex-ty-two-cells
# :class: dropdown
# Two things break. The scale is set by the median of the folder, which is still about right if
# both cells are alike; but the assignment now has 92 chromosomes for 71 slots, more than one
# cell holds, so it falls back to each chromosome's most probable type and loses its correction
# (`chromolib.assignment.assign_cell`). Keep one cell per folder.
# :::
#
# :::{exercise} Length alone
# :label: ex-ty-length
# Before any network: how far does length alone go? Rank the chromosomes of each held-out cell by
# height, give the two longest type 1, the next two type 2, and so on in the order of
# `chromolib.karyotype.RELATIVE_LENGTH`, and predict the accuracy before you measure it.
# :::
#
# :::{solution} ex-ty-length
# :class: dropdown
# Length separates groups (A: 1-3, B: 4-5, ...) but not the members of a group of similar length
# (6-12 and X, 13-15, 19-20, 21-22 and Y): expect well under half right. That gap is what the
# bands are for, and why the network needs them.
#
# ```python
# import numpy as np
# from chromolib.images import read_image
# from chromolib.karyotype import RELATIVE_LENGTH
# from chromolib.polarity_set import read_manifest
#
# root = "runs/quick/dataset"
# test = read_manifest(root).query("split == 'test'").copy()
# test["height"] = [read_image(f"{root}/{f}").shape[0] for f in test.file]
# by_length = [t for t, _ in sorted(RELATIVE_LENGTH.items(), key=lambda kv: -kv[1]) for _ in range(2)]
# right = 0
# for _, cell in test.groupby("cell"):
#     guess = np.array(by_length[: len(cell)] + ["?"] * max(0, len(cell) - len(by_length)))
#     right += (guess == cell.sort_values("height", ascending=False).chromosome.astype(str).to_numpy()).sum()
# print(right / len(test))
# ```
# :::
