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
# # From the spread to the karyogram
#
# ```{glue:md} data_note
# :format: myst
# ```
#
# Every chapter so far started from chromosomes that someone had already cut out of the image.
# Under the microscope there is no such thing: the camera sees a *metaphase spread*, some 46
# chromosomes scattered over the field at any angle, a few of them touching or lying across each
# other, beside the round nuclei of cells that were not dividing and specks of debris. This
# chapter cuts the chromosomes out of whole spreads with two segmenters, measures both on spreads
# whose outlines a person drew, looks at where they fail, and takes one spread the whole way to
# its karyogram with the tools of the earlier chapters.

# %% tags=["parameters"]
spreads = "auto"           # BioImLab spreads folder, empty: composed spreads
n_spreads = 12             # held-out spreads scored on this page
workdir = "../runs/quick"  # one spread is taken to its karyogram here
results = "../results"     # committed reference runs

# %% tags=["remove-cell"]
import json
import time
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from chromolib import book, plots
from chromolib.book import glue
from chromolib.compose import held_out_names, read_spread, synthetic_spread
from chromolib.images import read_image, write_image_atomic
from chromolib.orient import POLARITY_UNSURE
from chromolib.segmentation import instance_metrics, match_instances, segment_classical
from chromolib.spread import draw_overlay, karyotype_spread, objects_from_outlines, objects_from_segmentation, zoom
from chromolib.unet import SEGMENTER, load_segmenter

results = Path(results)
committed = json.loads((results / "segmentation-unet" / "metrics.json").read_text())
if spreads:  # real spreads: the held-out ones of the benchmarks' split, never a training spread of the U-Net
    held_out = held_out_names(spreads)
    truth = [read_spread(spreads, name) for name in held_out[:n_spreads]]
else:  # spreads composed from synthetic chromosomes, their outlines known exactly
    held_out = []
    truth = [synthetic_spread(seed=k) for k in range(n_spreads)]
n_true = sum(len(s) for s in truth)
glue("data_note", book.spreads_note(spreads, len(truth), n_true, held_out=len(held_out),
                                    extra="The scores on all held-out spreads are the committed reference run under "
                                          "`results/segmentation-unet/`."),
     markdown=True)
glue("n_spreads", len(truth))
glue("n_true", n_true)
glue("n_outlines0", len(truth[0]))
glue("spread_words", "a held-out BioImLab spread" if spreads else "a spread composed from synthetic chromosomes")

# %% [markdown]
# ## A spread and its outlines
# The BioImLab set {cite:p}`poletti2012` holds Q-band metaphases photographed at 768 x 576 px:
# the chromosomes shine on a black background, about 14 px wide. {cite:t}`wang2023spreads` drew
# the outline of every chromosome of these spreads in labelme; those outlines are the truth of
# this chapter. The spreads were split 70/30 by case, as every split in this book keeps a patient
# whole: the segmenters were tuned and trained on the training cases, and this page scores only
# held-out spreads. {numref}`fig-sp-truth` is {glue:text}`spread_words` with its
# {glue:text}`n_outlines0` outlines. Where no real spreads are at hand, `chromolib.compose`
# lays out the 46 synthetic chromosomes of one cell at random angles and places, with a nucleus,
# a few specks, and a few pairs that touch or cross, so that the page still runs with a known
# truth.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "A metaphase spread with the chromosome outlines a person drew (the truth of this chapter), numbered in the order of the annotation file.", "name": "fig-sp-truth"}}
first = truth[0]
fig, ax = plt.subplots(figsize=(9, 6.75))
ax.imshow(cv2.cvtColor(draw_overlay(first.image, objects_from_outlines(first.outlines, first.image.shape)),
                       cv2.COLOR_BGR2RGB))
ax.axis("off")
fig.tight_layout()

# %% [markdown]
# ## Two segmenters
# The **classical segmenter** (`segment_classical`) thresholds the blurred image at a fraction
# of Otsu's threshold {cite:p}`otsu1979`, drops specks below 90 px² as debris and large round
# objects as nuclei, and splits an object that is not convex enough by a marker watershed
# {cite:p}`beucher1979watershed`, accepting a split only where the pieces meet at a narrow neck.
# The **U-Net** {cite:p}`ronneberger2015unet` that ships with `chromolib` (trained for
# {glue:text}`train_minutes:.0f` minutes on a 2-core CPU) labels every pixel as background, chromosome interior,
# or the thin boundary band inside an outline; two touching chromosomes then have two bands
# between their interiors, and each connected interior grows back into one chromosome. Both
# flag an object as a *cluster* when its size or shape says that it is likely several
# chromosomes.
#
# A predicted object $P$ and a true outline $T$ *match* when their intersection over union
#
# $$
# \mathrm{IoU}(P, T) = \frac{|P \cap T|}{|P \cup T|}
# $$ (eq-sp-iou)
#
# is at least 0.5, each object and each outline matched at most once. Matched pairs are the true
# positives TP, unmatched objects the false positives FP, unmatched outlines the false negatives
# FN, and
#
# $$
# \text{precision} = \frac{\mathrm{TP}}{\mathrm{TP} + \mathrm{FP}}, \qquad
# \text{recall} = \frac{\mathrm{TP}}{\mathrm{TP} + \mathrm{FN}},
# $$ (eq-sp-pr)
#
# $$
# F_1 = \frac{2 \cdot \text{precision} \cdot \text{recall}}{\text{precision} + \text{recall}}.
# $$ (eq-sp-f1)
#
# AP50 is the COCO average precision at IoU 0.5 {cite:p}`lin2014coco`: the objects ranked by the
# segmenter's confidence, precision averaged over recall from 0 to 1. A *merged* object covers at
# least half of each of two or more outlines; a *split* outline has two or more objects each
# holding a fifth of it. Outlines that cross count in full for both chromosomes, so a crossing
# that stays one object costs a false negative and a merge.

# %% tags=["remove-cell"]
unet = load_segmenter(SEGMENTER)
segmenters = {"classical": segment_classical, "U-Net": unet}
segs, seconds = {}, {}
for name, segment in segmenters.items():
    segment(truth[0].image)  # the first call pays for loading and warming up, not for a spread
    t0 = time.perf_counter()
    segs[name] = [segment(s.image) for s in truth]
    seconds[name] = (time.perf_counter() - t0) / len(truth)
masks = [s.masks for s in truth]
scores = {name: instance_metrics([g.labels for g in segs[name]], masks,
                                 [g.objects.score.to_numpy() for g in segs[name]]) for name in segmenters}
for name, m in scores.items():
    m["clusters"] = sum(int(g.objects.cluster.sum()) for g in segs[name])
    m["n_images"], m["ms_per_image"] = len(truth), 1000 * seconds[name]
full = committed["metrics"]
page = "this page" if spreads else "this page (composed)"
columns = {f"classical, {page}": scores["classical"], f"U-Net, {page}": scores["U-Net"],
           f"classical, all {full['classical']['n_images']} held out": full["classical"],
           f"U-Net, all {full['unet']['n_images']} held out": full["unet"]}
rows = {"spreads": ("n_images", "{:,}"), "true chromosomes": ("n_true", "{:,}"), "objects found": ("n_pred", "{:,}"),
        "precision": ("precision", "{:.3f}"), "recall": ("recall", "{:.3f}"), "F1 at IoU 0.5": ("f1", "{:.3f}"),
        "AP50": ("ap50", "{:.3f}"), "mean IoU of the matches": ("mean_iou", "{:.3f}"),
        "merged objects": ("merged", "{:,}"), "split outlines": ("split", "{:,}"),
        "flagged as cluster": ("clusters", "{:,}"), "ms per spread": ("ms_per_image", "{:,.0f}")}
table = pd.DataFrame({col: {row: fmt.format(m[key]) for row, (key, fmt) in rows.items()} for col, m in columns.items()})
for key, name in (("classical", "classical"), ("unet", "U-Net")):
    glue(f"{key}_f1", scores[name]["f1"])
    glue(f"{key}_ap", 100 * scores[name]["ap50"])
    glue(f"{key}_merged", scores[name]["merged"])
    glue(f"{key}_full_f1", full[key]["f1"])
    glue(f"{key}_full_ap", 100 * full[key]["ap50"])
    glue(f"{key}_full_merged", full[key]["merged"])
glue("n_full", full["unet"]["n_images"])
glue("n_full_true", full["unet"]["n_true"])
glue("train_minutes", committed["unet"]["config"]["minutes"])
glue("unet_ms", 1000 * seconds["U-Net"])
glue("classical_ms", 1000 * seconds["classical"])
glue("scored_words", "the held-out spreads of this page" if spreads else
     "this page's composed spreads (synthetic chromosomes, which neither segmenter was tuned on)")

# %% tags=["remove-input"]
book.table(table, "Both segmenters scored against the drawn outlines at IoU 0.5 (the equations above): on the spreads "
                  "of this page, and on all held-out BioImLab spreads in the committed reference run "
                  "(`results/segmentation-unet/`). Milliseconds per spread are wall-clock on the machine that ran "
                  "each column.", "tab-sp-scores")

# %% [markdown]
# On {glue:text}`scored_words` the U-Net reaches $F_1$ = {glue:text}`unet_f1:.3f` and AP50
# {glue:text}`unet_ap:.1f` %, the classical segmenter $F_1$ = {glue:text}`classical_f1:.3f` and
# AP50 {glue:text}`classical_ap:.1f` % ({numref}`tab-sp-scores`, equations {eq}`eq-sp-iou` to
# {eq}`eq-sp-f1`). On all
# {glue:text}`n_full` held-out spreads ({glue:text}`n_full_true` chromosomes) the committed run
# gives the U-Net $F_1$ = {glue:text}`unet_full_f1:.3f` and AP50 {glue:text}`unet_full_ap:.1f` %
# against {glue:text}`classical_full_f1:.3f` and {glue:text}`classical_full_ap:.1f` %, and
# {glue:text}`unet_full_merged` merged objects against {glue:text}`classical_full_merged`: what
# the network gains, it gains mostly where chromosomes touch. It costs time: about
# {glue:text}`unet_ms:.0f` ms a spread on the machine that built this page against
# {glue:text}`classical_ms:.0f` ms, still far below the time a person takes to look at the spread. {numref}`fig-sp-side` shows both on the
# same spread.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The same spread segmented by the classical segmenter (left) and the U-Net (right), cut to the part that holds chromosomes: each object outlined and numbered, green for one chromosome, orange for an object flagged as a cluster.", "name": "fig-sp-side"}}
ys, xs = np.nonzero(np.any(first.masks, axis=0))  # the part of the spread that holds chromosomes
box = np.s_[max(ys.min() - 10, 0):ys.max() + 11, max(xs.min() - 10, 0):xs.max() + 11]
fig, axes = plt.subplots(1, 2, figsize=(12, 6.5 * (box[0].stop - box[0].start) / (box[1].stop - box[1].start)))
for ax, name in zip(axes, segmenters):
    seg = segs[name][0]
    f1 = instance_metrics(seg.labels, first.masks)["f1"]
    ax.imshow(cv2.cvtColor(draw_overlay(first.image, objects_from_segmentation(seg)), cv2.COLOR_BGR2RGB)[box])
    ax.set_title(f"{name}: {seg.n} objects, F1 {f1:.3f}", fontsize=10)
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# ## Where they fail
# Three things go wrong, on every segmenter this book has tried:
#
# - **clusters**: chromosomes that touch along their length, or lie across each other, come out
#   as one object. A crossing cannot be split into two masks that a label image holds (the
#   pixels where they cross belong to both), so the U-Net was taught to keep a crossing whole,
#   and both segmenters flag such objects as clusters: `chromolib karyotype` leaves them off the
#   karyogram and lists them for review;
# - **nuclei**: a nucleus is bright and large; both segmenters reject a large round convex
#   object, but a nucleus that touches a chromosome or is not round slips through;
# - **debris and faint chromosomes**: a speck above the debris size becomes an object, a faint
#   small chromosome falls below the threshold.
#
# On the spreads of this page the two segmenters together rejected {glue:text}`n_nuclei` objects
# as nuclei and {glue:text}`n_debris` as debris. Objects that the U-Net flagged as clusters:
# {glue:text}`unet_clusters`, of which {glue:text}`unet_clusters_right` cover two or more drawn
# outlines; objects that cover two or more outlines without a flag: {glue:text}`unet_merged_quiet`.
# {numref}`fig-sp-failures` zooms in on a few.

# %% tags=["remove-cell"]
zooms, titles = [], []


n_nuclei = sum(int((g.rejected.reason == "nucleus").sum()) for name in segmenters for g in segs[name])
n_debris = sum(int((g.rejected.reason == "debris").sum()) for name in segmenters for g in segs[name])
clusters_right = merged_quiet = 0
for s, seg in zip(truth, segs["U-Net"]):
    m = match_instances(seg.labels, s.masks)
    covers = ((m.inter / np.maximum(m.true_area[:, None], 1)) >= 0.5).sum(0)  # outlines each object covers
    overlay = cv2.cvtColor(draw_overlay(s.image, objects_from_segmentation(seg)), cv2.COLOR_BGR2RGB)
    for r in seg.objects.itertuples():
        several = covers[r.object - 1] >= 2
        clusters_right += int(r.cluster and several)
        merged_quiet += int(several and not r.cluster)
        if several and len(zooms) < 8 and titles.count("merged" if not r.cluster else "cluster") < 3:
            zooms.append(zoom(overlay, (r.x, r.y, r.w, r.h)))
            titles.append("cluster" if r.cluster else "merged")
for s, seg in zip(truth, segs["classical"]):
    plain = cv2.cvtColor(s.image, cv2.COLOR_GRAY2RGB)
    for r in seg.rejected[seg.rejected.reason == "nucleus"].head(2).itertuples():
        if titles.count("nucleus") < 2:
            zooms.append(zoom(plain, (r.x, r.y, r.w, r.h), pad=24))
            titles.append("nucleus")
glue("n_nuclei", n_nuclei)
glue("n_debris", n_debris)
glue("unet_clusters", scores["U-Net"]["clusters"])
glue("unet_clusters_right", clusters_right)
glue("unet_merged_quiet", merged_quiet)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Failure cases on the spreads of this page, zoomed: objects of the U-Net that cover two or more drawn outlines, flagged as a cluster (orange) or not (merged, green), and nuclei that the classical segmenter rejected (no outline drawn).", "name": "fig-sp-failures"}}
if zooms:
    fig = plots.gallery(zooms, titles, ncols=min(len(zooms), 4), height=3.0)
else:
    fig, ax = plt.subplots(figsize=(4, 1))
    ax.text(0.5, 0.5, "no cluster, merge or nucleus on these spreads", ha="center", va="center")
    ax.axis("off")

# %% [markdown]
# ## The whole way: a spread to its karyogram
# `chromolib karyotype SPREAD OUT_DIR` chains it all: the U-Net cuts the spread into objects,
# each single chromosome is cut out onto the background, turned upright and given its polarity
# (chapters 1-5) and its type, the types assigned over the cell (chapter 6), and the karyogram
# laid out; clusters and chromosomes touching the border are listed for review. Here it runs
# through its Python entry point, `spread.karyotype_spread`, on {glue:text}`spread_words`
# ({numref}`fig-sp-karyogram`, {numref}`tab-sp-results`).

# %% tags=["remove-cell"]
out = Path(workdir) / "spread"
image_path = first.path
if image_path is None:  # a composed spread: written out as a user would have it
    image_path = out / "input" / f"{first.name}.png"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    write_image_atomic(image_path, first.image)
t0 = time.perf_counter()
res = karyotype_spread(image_path, out / "karyotype", segmenter=unet)
glue("karyotype_s", time.perf_counter() - t0)
glue("k_objects", len(res))
glue("k_clusters", int(res.cluster.sum()))
glue("k_typed", int((res.chromosome.astype(str) != "").sum()))
glue("k_review", int((res.needs_review == "True").sum()))
glue("k_review_polarity", int(res.note.astype(str).str.contains(POLARITY_UNSURE, regex=False).sum()))
sheet = read_image(out / "karyotype" / first.name / "karyogram.png")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The karyogram of one spread, made by `chromolib karyotype` with the models that ship: the U-Net cut it, the chromosomes were turned upright, given their polarity and their types (assigned over the cell). Clusters are left off.", "name": "fig-sp-karyogram"}}
fig, ax = plt.subplots(figsize=(4, 4 * sheet.shape[0] / sheet.shape[1]))
ax.imshow(sheet, cmap="gray", vmin=0, vmax=255)
ax.axis("off")
fig.tight_layout()

# %% tags=["remove-input"]
shown = pd.DataFrame({"object": res.object, "cluster": res.cluster, "type": res.chromosome,
                      "p(type)": pd.to_numeric(res.type_probability, errors="coerce"), "polarity": res.polarity,
                      "p(polarity)": pd.to_numeric(res.probability, errors="coerce"), "note": res.note}).head(8)
book.table(shown, "The first rows of the spread's `results.csv`: one row per object, whether it is a cluster, its "
                  "type with the type model's probability, its polarity with the polarity model's probability, and "
                  "why it needs a person's look.", "tab-sp-results", index=False)

# %% [markdown]
# `chromolib karyotype` found {glue:text}`k_objects` objects in {glue:text}`karyotype_s:.0f` s,
# {glue:text}`k_clusters` of them clusters, and typed {glue:text}`k_typed`;
# {glue:text}`k_review` rows ask for a person's look, because a cluster, an object at the border,
# or a polarity or type below its model's review threshold is never passed silently. Of these,
# {glue:text}`k_review_polarity` are unsure of the polarity: the polarity model that ships learnt
# G-band chromosomes (Pki-3), and no public Q-band set says which way up its chromosomes are, so
# on Q-band it is often unsure, and says so. The outlines
# it used are written as a labelme file beside the results: a person corrects them in labelme and
# reruns with `--outlines`, and the karyogram follows.
#
# ## Exercises
#
# :::{exercise} A stricter match
# :label: ex-sp-iou
# The table scores a match at IoU 0.5. Predict which segmenter loses more when a match needs an
# IoU of 0.75 (look at the mean IoU of the matches first), then measure both on the spreads of this
# page.
# :::
#
# :::{solution} ex-sp-iou
# :class: dropdown
# The mean IoU of the matches is about 0.82-0.83 for both, so many matches lie between 0.5 and
# 0.75 and both lose a good share of their true positives. The drawn outlines are generous (a
# few pixels outside the chromosome), so the segmenter whose outlines are the tighter loses more;
# neither is wrong, the truth is blurry at that level, which is why IoU 0.5 is the usual bar.
#
# ```python
# from chromolib.compose import held_out_names, read_spread
# from chromolib.segmentation import instance_metrics, segment_classical
# from chromolib.unet import SEGMENTER, load_segmenter
#
# folder = "shared/data/bioimlab-spreads"  # or the folder `chromolib data get bioimlab-spreads` printed
# spreads = [read_spread(folder, n) for n in held_out_names(folder)[:12]]
# unet = load_segmenter(SEGMENTER)
# for name, segment in (("classical", segment_classical), ("U-Net", unet)):
#     segs = [segment(s.image) for s in spreads]
#     for iou in (0.5, 0.75):
#         m = instance_metrics([g.labels for g in segs], [s.masks for s in spreads], iou=iou)
#         print(name, iou, round(m["f1"], 3))
# ```
# :::
#
# :::{exercise} More crossings
# :label: ex-sp-crossings
# Compose spreads with six crossing pairs instead of two
# (`chromolib.compose.synthetic_spread(seed, n_overlapping=6)`). Predict how many merged objects
# and how much recall each crossing costs, then measure it with the classical segmenter.
# :::
#
# :::{solution} ex-sp-crossings
# :class: dropdown
# A crossing stays one object: it covers at least half of both outlines (one merged object) and
# matches at most one of them at IoU 0.5, often the longer one. Each extra crossing therefore
# adds one merged object and costs about one of the 46 true positives: with four more crossings,
# expect about four more merged objects and four fewer chromosomes found a spread, recall down
# by about 0.08.
#
# ```python
# from chromolib.compose import synthetic_spread
# from chromolib.segmentation import instance_metrics, segment_classical
#
# for k in (2, 6):
#     spreads = [synthetic_spread(seed, n_overlapping=k) for seed in range(5)]
#     segs = [segment_classical(s.image) for s in spreads]
#     m = instance_metrics([g.labels for g in segs], [s.masks for s in spreads])
#     print(k, m["merged"], m["fn"], round(m["recall"], 3))
# ```
# :::
#
# :::{exercise} A G-band spread
# :label: ex-sp-gband
# The U-Net learnt Q-band spreads, bright on black; the classical segmenter inverts a G-band
# spread (dark on light) and treats it alike. Compose a G-band spread from the Pki-3 crops of one
# cell (`compose_spread(crops, stain="gband")`) and predict which segmenter does better on it
# before you measure. Keep such numbers apart from those on real spreads: a composed spread has
# no out-of-focus edge, no uneven background and no true crossing.
# :::
#
# :::{solution} ex-sp-gband
# :class: dropdown
# The network's input is inverted the same way (`unet.bright_gray`), so it sees bright
# chromosomes on black of about the size it learnt, but G-band bands are not Q-band bands, and
# a composed spread has none of the touching chromosomes where the U-Net gains on real spreads.
# Expect the classical segmenter, which only thresholds and looks at shapes, to do as well or
# better here: on two Pki-3 cells it scored $F_1$ 0.97-0.98 against the U-Net's 0.96.
#
# ```python
# from chromolib.compose import compose_spread
# from chromolib.images import read_image
# from chromolib.segmentation import instance_metrics, segment_classical
# from chromolib.specimens import read_labels
# from chromolib.unet import SEGMENTER, load_segmenter
#
# root = "shared/data/pki3-gband"  # or the folder `chromolib data get pki3-gband` printed
# labels = read_labels(root)
# cell = labels[labels.cell == labels.cell.iloc[0]]
# spread = compose_spread([read_image(f"{root}/{f}") for f in cell.file], stain="gband", labels=cell.chromosome)
# for name, segment in (("classical", segment_classical), ("U-Net", load_segmenter(SEGMENTER))):
#     print(name, round(instance_metrics(segment(spread.image).labels, spread.masks)["f1"], 3))
# ```
# :::
