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
# # Building the polarity data set
#
# ```{glue:md} data_note
# :format: myst
# ```
#
# Every chromosome is rotated to vertical (chapter 1) and labelled **up** (1) or **down** (0).
# Nobody clicks: the chromosome started at a known angle $\alpha$ from "p up", the rotation
# step turned it by $\theta^*$, so it ends with the short arm up exactly when
# $\cos(\alpha + \theta^*) > 0$. The set is split 7:3 **by case**, so no patient (and so no
# metaphase) has chromosomes on both sides, and normalised with the training split's mean and
# standard deviation (equation {eq}`eq-normalise`).

# %% tags=["parameters"]
data = ""              # folder of p-up crops with labels.csv, empty for synthetic
n_cells = 30           # synthetic metaphases (46 chromosomes each)
max_cells = 98         # real data: at most this many cells (98, the patent's amount), 0 for all
method = "hull"        # rotation: hull (exact, fast) or sweep (the 1-degree search)
profile = "quick"      # sets the input size (see chapter 3)
image_size = 0         # override the profile's input size in pixels
seed = 0
workdir = "../runs/quick"
n_examples = 8

# %% tags=["remove-cell"]
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from chromolib import book, plots
from chromolib.book import glue
from chromolib.polarity_set import LABELS, PolarityTensors, load_images, normalisation_stats, prepare_dataset
from chromolib.training import PROFILES

size = image_size or PROFILES[profile].image_size
root = Path(workdir) / "dataset"

# %% [markdown]
# ## One row per chromosome
# `prepare_dataset` rotates every chromosome with the hull method, writes the upright image and
# records where it came from, the two angles and the label; {numref}`tab-ds-manifest` shows the
# first rows.

# %%
manifest = prepare_dataset(data, root, n_cells=n_cells, seed=seed, method=method, max_cells=max_cells or None,
                           progress=False)

# %% tags=["remove-input"]
book.table(manifest[["cell", "chromosome", "angle_true", "angle_applied", "label", "split"]].head(),
           "The first rows of the data set: the cell (metaphase) and type of each chromosome, the angle "
           r"$\alpha$ at which it started (`angle_true`), the rotation $\theta^*$ that made it vertical "
           "(`angle_applied`, degrees counter-clockwise), its label (1 = up) and its side of the split.",
           "tab-ds-manifest", index=False)

# %% [markdown]
# ## Examples of each class
# After rotation, "up" chromosomes have the short arm (above the centromere) at the top; "down"
# chromosomes are the same kind of image upside down ({numref}`fig-ds-examples`).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Upright chromosomes of the data set as the network will see them: top row labelled up (short arm at the top), bottom row labelled down.", "name": "fig-ds-examples"}}
rng = np.random.default_rng(seed)
picks = {lab: rng.choice(manifest.index[manifest.label == lab], n_examples, replace=False) for lab in (1, 0)}
imgs = {lab: load_images(root, manifest.file[idx], size=max(size, 64)) for lab, idx in picks.items()}
fig = plots.gallery(list(imgs[1]) + list(imgs[0]),
                    [f"up, chr{c}" for c in manifest.chromosome[picks[1]]]
                    + [f"down, chr{c}" for c in manifest.chromosome[picks[0]]], ncols=n_examples)

# %% [markdown]
# ## Label balance and the split by case
# {numref}`tab-ds-split` and {numref}`fig-ds-balance` count the labels on each side of the split.

# %% tags=["remove-input"]
counts = manifest.groupby(["split", "label"]).size().unstack().rename(columns=LABELS)
counts["cells"] = manifest.groupby("split").cell.nunique()
counts["total"] = counts["up"] + counts["down"]
book.table(counts.rename_axis("split", axis=0).rename_axis(None, axis=1),
           "Chromosomes per label and split, and the cells (metaphases) on each side.", "tab-ds-split")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Up and down labels in the training and test splits: the counts of {numref}`tab-ds-split` as bars.", "name": "fig-ds-balance"}}
fig, ax = plt.subplots(figsize=(5, 3))
counts[["up", "down"]].plot.bar(ax=ax, rot=0, ylabel="chromosomes")
fig.tight_layout()

# %% tags=["remove-cell"]
cells_overlap = set(manifest.cell[manifest.split == "train"]) & set(manifest.cell[manifest.split == "test"])
assert not cells_overlap, "a cell on both sides of the split"
glue("n_total", len(manifest))
glue("n_train", int(counts.loc["train", "total"]))
glue("n_test", int(counts.loc["test", "total"]))
glue("up_share", 100 * manifest.label.mean())
glue("data_note", book.data_note(data, manifest.cell.nunique(), len(manifest)), markdown=True)

# %% [markdown]
# {glue:text}`n_total:,` chromosomes, {glue:text}`up_share:.1f` % of them "up"; {glue:text}`n_train:,` for
# training and {glue:text}`n_test:,` held out, and no cell on both sides. Why by case: the
# chromosomes of one metaphase share its staining, its resolution and its patient; a random
# split by chromosome would put homologues of the same cell on both sides and measure how well
# the network recognises a cell it has already seen ({ref}`ex-ds-leak`).
#
# ## Normalisation statistics
# Images are padded to a square with white (keeping their shape) and resized; the mean $m$ and
# standard deviation $\delta$ of equation {eq}`eq-normalise` come from the training split only (the
# source reports 0.772 and 0.245 for its data).

# %%
train_images = load_images(root, manifest.file[manifest.split == "train"], size)
mean, std = normalisation_stats(train_images)

# %% tags=["remove-cell"]
glue("mean", mean)
glue("std", std)
glue("size", size)

# %% [markdown]
# At {glue:text}`size` px this training split has $m$ = {glue:text}`mean:.3f` and
# $\delta$ = {glue:text}`std:.3f`: much of each square is white background (pixel value 1), which
# is why $m$ is high.
#
# ## Augmentation
# The only augmentation of the method is a horizontal flip with probability 0.5: a mirrored
# chromosome keeps its short arm where it was. {numref}`fig-ds-augment` shows the same
# training images as the network sees them in two epochs.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The same eight training images in two epochs, after the random horizontal flip and normalisation (each shown with its own contrast); some are mirrored between the rows, none is turned upside down.", "name": "fig-ds-augment"}}
ds = PolarityTensors(train_images[:n_examples], np.zeros(n_examples), mean, std, train=True)
views = [v for epoch in range(2) for v in ds.views(range(n_examples), torch.Generator().manual_seed(epoch))]
fig = plots.gallery(views, [f"epoch {e + 1}" for e in range(2) for _ in range(n_examples)], ncols=n_examples)

# %% [markdown]
# ## Exercises
#
# :::{exercise} Split by chromosome instead of by case
# :label: ex-ds-leak
# Predict how many of the test cells would also have chromosomes in the training split if the
# 7:3 split drew each chromosome at random instead of keeping cases whole. Then measure it on a
# data set of ten synthetic cells.
# :::
#
# :::{solution} ex-ds-leak
# :class: dropdown
# A cell has 46 chromosomes; the chance that all of them land on the test side is
# $0.3^{46} \approx 10^{-24}$, so *every* cell with a chromosome in the test split also has
# chromosomes in the training split: the test measures the network on cells it has trained on.
#
# ```python
# import numpy as np
# from chromolib.polarity_set import prepare_dataset
#
# df = prepare_dataset("", "exercise-data/dataset", n_cells=10, seed=0, progress=False)
# test = np.random.default_rng(0).random(len(df)) >= 0.7
# leaked = set(df.cell[test]) & set(df.cell[~test])
# print(f"{len(leaked)} of {df.cell[test].nunique()} test cells also in training")
# print("split by case:", set(df.cell[df.split == "test"]) & set(df.cell[df.split == "train"]))
# ```
# :::
#
# :::{exercise} Normalisation at other sizes
# :label: ex-ds-size
# Predict whether $m$ and $\delta$ of equation {eq}`eq-normalise` grow or shrink when the images are
# resized to 32 or 128 px instead of 64, then measure them with `load_images` and
# `normalisation_stats` on the data set of {ref}`ex-ds-leak`.
# :::
#
# :::{solution} ex-ds-size
# :class: dropdown
# The share of white background in the padded square does not depend on the size, and area
# resizing keeps the mean: $m$ does not move. Shrinking averages dark band pixels with their
# lighter neighbours, which pulls pixels towards the mean, so $\delta$ is a little smaller at
# 32 px and a little larger at 128 px - by about a percent, because most of the variance is the
# contrast between the whole chromosome and the white margin, which no resizing removes.
#
# ```python
# from chromolib.polarity_set import load_images, normalisation_stats, read_manifest
#
# root = "exercise-data/dataset"
# df = read_manifest(root)
# for size in (32, 64, 128):
#     m, d = normalisation_stats(load_images(root, df.file[df.split == "train"], size))
#     print(f"{size:3d} px: m = {m:.3f}, delta = {d:.3f}")
# ```
# :::
