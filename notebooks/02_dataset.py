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
# Every chromosome is rotated to vertical (chapter 1) and labelled **up** (1) or **down** (0).
# Nobody clicks: the chromosome started at a known angle $\alpha$ from "p up", the rotation
# step turned it by $\theta^*$, so it ends with the short arm up exactly when
# $\cos(\alpha + \theta^*) > 0$. The set is split 7:3 **by cell**, so no metaphase has
# chromosomes on both sides, and normalised with the training split's mean and standard
# deviation (formula II).

# %% tags=["parameters"]
data = ""              # empty: synthetic chromosomes; else a folder with labels.csv of p-up crops
n_cells = 30           # synthetic metaphases (46 chromosomes each)
max_cells = 0          # real data: use at most this many cells, 0 for all
method = "hull"        # rotation method: hull (exact, fast) or sweep (the faithful 1-degree search)
profile = "quick"      # sets the input size (see chapter 3)
image_size = 0         # override the profile's input size in pixels
seed = 0
workdir = "../runs/quick"
n_examples = 8

# %% tags=["remove-cell"]
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from chromolib import plots
from chromolib.book import glue
from chromolib.polarity_set import LABELS, PolarityTensors, load_images, normalisation_stats, prepare_dataset
from chromolib.training import PROFILES

size = image_size or PROFILES[profile].image_size
root = Path(workdir) / "dataset"

# %%
manifest = prepare_dataset(data, root, n_cells=n_cells, seed=seed, method=method,
                           max_cells=max_cells or None)
manifest.head()

# %% [markdown]
# ## Examples of each class
# After rotation, "up" chromosomes have the short arm (above the centromere) at the top; "down"
# chromosomes are the same kind of image upside down.

# %%
rng = np.random.default_rng(seed)
picks = {lab: rng.choice(manifest.index[manifest.label == lab], n_examples, replace=False) for lab in (1, 0)}
imgs = {lab: load_images(root, manifest.file[idx], size=max(size, 64)) for lab, idx in picks.items()}
fig = plots.gallery(list(imgs[1]) + list(imgs[0]),
                    [f"up, chr{c}" for c in manifest.chromosome[picks[1]]]
                    + [f"down, chr{c}" for c in manifest.chromosome[picks[0]]], ncols=n_examples)

# %% [markdown]
# ## Label balance and the split by cell

# %%
counts = manifest.groupby(["split", "label"]).size().unstack().rename(columns=LABELS)
counts["cells"] = manifest.groupby("split").cell.nunique()
counts["total"] = counts["up"] + counts["down"]
counts

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(5, 3))
counts[["up", "down"]].plot.bar(ax=ax, rot=0)
ax.set(ylabel="chromosomes", title="labels per split")

# %% tags=["remove-cell"]
cells_overlap = set(manifest.cell[manifest.split == "train"]) & set(manifest.cell[manifest.split == "test"])
assert not cells_overlap, "a cell on both sides of the split"
glue("n_total", len(manifest))
glue("n_train", int(counts.loc["train", "total"]))
glue("n_test", int(counts.loc["test", "total"]))
glue("up_share", 100 * manifest.label.mean())

# %% [markdown]
# {glue:text}`n_total:,` chromosomes, {glue:text}`up_share:.1f` % of them "up"; {glue:text}`n_train:,` for
# training and {glue:text}`n_test:,` held out, and no cell on both sides.
#
# ## Normalisation statistics
# Images are padded to a square with white (keeping their shape) and resized; the mean $m$ and
# standard deviation $\delta$ come from the training split only (the source reports 0.772 and
# 0.245 for its data).

# %%
train_images = load_images(root, manifest.file[manifest.split == "train"], size)
mean, std = normalisation_stats(train_images)

# %% tags=["remove-cell"]
glue("mean", mean)
glue("std", std)
glue("size", size)

# %% [markdown]
# At {glue:text}`size` px this training split has $m$ = {glue:text}`mean:.3f` and
# $\delta$ = {glue:text}`std:.3f`.
#
# ## Augmentation
# The only augmentation of the method is a horizontal flip with probability 0.5: a mirrored
# chromosome keeps its short arm where it was. Below, the same training images as the network
# sees them in two epochs (normalised, so shown with their own contrast).

# %%
import torch

ds = PolarityTensors(train_images[:n_examples], np.zeros(n_examples), mean, std, train=True)
views = [v for epoch in range(2) for v in ds.views(range(n_examples), torch.Generator().manual_seed(epoch))]
fig = plots.gallery(views, [f"epoch {e + 1}" for e in range(2) for _ in range(n_examples)], ncols=n_examples)
