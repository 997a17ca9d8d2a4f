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
# # Rotation to vertical
#
# ```{glue:md} data_note
# :format: myst
# ```
#
# The first step of the method needs no learning: rotate the segmented chromosome until its
# horizontal extent $D(\theta) = x_R(\theta) - x_L(\theta)$ is smallest (equation {eq}`eq-projection`).
# This chapter shows $D(\theta)$ for a few chromosomes, the chromosomes before and after, and
# compares the faithful 1-degree sweep with the exact convex-hull minimum (and a principal-axis
# baseline) on chromosomes whose true angle is known. The last section asks which axis a
# cytogeneticist accepts, on two laboratories' karyograms.

# %% tags=["parameters"]
data = ""          # folder of p-up crops with labels.csv, empty for synthetic
qband = ""         # folder of Q-band crops (bright on black), empty to skip 1.5
n_examples = 6     # chromosomes in the galleries
n_rotation = 460   # chromosomes in the method comparison
seed = 0
results = "../results"  # committed reference runs (results/rotation: every axis on real karyograms)

# %% tags=["remove-cell"]
from itertools import islice
from pathlib import Path

import pandas as pd

from chromolib import book, plots
from chromolib.book import glue
from chromolib.evaluation import method_agreement, rotation_errors, summarise_rotation
from chromolib.images import canonical_gray, read_image
from chromolib.karyotype import LONG_TYPES
from chromolib.rotation import DEFAULT_METHOD, foreground_mask, largest_component, sweep_angle, upright
from chromolib.specimens import read_labels, specimens_from

# %% [markdown]
# ## Chromosomes at their metaphase angles
# Each crop in {numref}`fig-rot-inputs` is a single chromosome as segmentation delivers it:
# tight, white background, at an arbitrary angle. With synthetic data the true angle is known
# because the generator drew it; a real karyogram crop stands vertical with p up, so each one
# is turned by a seeded random angle and the true angle is known as well.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Chromosomes as the rotation step receives them, each titled with its type and the angle (counter-clockwise from p up) at which it lies.", "name": "fig-rot-inputs"}}
def specimens(n):
    """The first ``n`` chromosomes of the data (46 per synthetic cell)."""
    return list(islice(specimens_from(data, n_cells=-(-n // 46), seed=seed), n))


chromosomes = specimens(max(n_rotation, n_examples * 7))
examples = chromosomes[: n_examples * 7 : 7]
fig = plots.gallery([s.image for s in examples], [f"chr{s.chromosome}, {s.angle:.0f}°" for s in examples],
                    ncols=n_examples)

# %% [markdown]
# ## The projection distance $D(\theta)$
# For every candidate angle the image is rotated counter-clockwise about its centre (the canvas
# grows, the new corners are white) and the horizontal extent of the chromosome is measured. The
# chromosome itself is everything that stands out from the white background - the higher of
# Otsu's threshold {cite:p}`otsu1979` and the triangle threshold {cite:p}`zack1977`, holes
# filled - and its largest connected region ({ref}`sec-rot-accept` shows why not Otsu's alone).
# {numref}`fig-rot-projection` shows $D(\theta)$ for the chromosomes above: each curve
# has one deep minimum, where the chromosome stands upright, and a maximum about 90 degrees
# away, where it lies flat.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The projection distance $D(\\theta)$ of each chromosome of {numref}`fig-rot-inputs` over the 180 candidate rotations; dotted lines mark the minimum $\\theta^*$ of each curve.", "name": "fig-rot-projection"}}
masks = [largest_component(foreground_mask(canonical_gray(s.image)))[0] for s in examples]
sweeps = [sweep_angle(m) for m in masks]
ax = plots.projection_curves([(f"chr{s.chromosome}", r.angles, r.distances, r.angle)
                              for s, r in zip(examples, sweeps)])

# %% [markdown]
# ## Before and after
# Rotating by $\theta^*$ leaves each chromosome vertical ({numref}`fig-rot-after`). Whether the
# short arm is up is still a coin toss: that is the second step's job.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Top row: the chromosomes of {numref}`fig-rot-inputs` as received. Bottom row: after the rotation by $\\theta^*$ found by the 1-degree sweep; vertical, short arm up or down.", "name": "fig-rot-after"}}
after = [upright(canonical_gray(s.image), method="sweep")[0] for s in examples]
fig = plots.gallery([s.image for s in examples] + after,
                    [f"before ({s.angle:.0f}°)" for s in examples] + [f"after (+{r.angle:.0f}°)" for r in sweeps],
                    ncols=n_examples)

# %% [markdown]
# ## Sweep, convex hull and principal axis on known angles
# $D(\theta)$ is the width of the region's convex hull in direction $(\cos\theta, \sin\theta)$.
# The width of a convex polygon is smallest in a direction normal to one of its edges, so
# checking the hull's few dozen edge normals gives the exact continuous minimum without
# rotating a single image: the rotating calipers {cite:p}`toussaint1983,houle1988width`. The
# principal axis from image moments (the axis of least inertia) is a common shortcut, shown as a
# baseline. The error is the angle between the result and vertical; {numref}`tab-rot-methods`
# sums it up over the chromosomes that are not bent.

# %%
errors = rotation_errors(chromosomes[:n_rotation], methods=("sweep", "hull", "moments"), progress=False)
straight = errors[errors.bent != True]  # noqa: E712  (None for real data: all count)
summary = summarise_rotation(straight)

# %% tags=["remove-input"]
book.table(summary, "Rotation error of each method on the chromosomes of this run that are not bent (real crops: "
           "all of them): median and 95th percentile of the angle from vertical, the share within 1.5 degrees, "
           "and the time to find the angle from the mask.", "tab-rot-methods")

# %% tags=["remove-cell"]
summary_long = summarise_rotation(straight[straight.chromosome.isin(LONG_TYPES)])
n_cells = len({s.cell for s in chromosomes[:n_rotation]})
glue("n_rot", straight.source.nunique())
glue("sweep_within_long", summary_long.loc["sweep", "within 1.5 deg (%)"])
glue("sweep_within", summary.loc["sweep", "within 1.5 deg (%)"])
glue("sweep_median", summary.loc["sweep", "median error (deg)"])
glue("agree", 100 * method_agreement(errors))
glue("speedup", summary.loc["sweep", "ms per chromosome"] / summary.loc["hull", "ms per chromosome"])
glue("sweep_ms", summary.loc["sweep", "ms per chromosome"])
glue("hull_ms", summary.loc["hull", "ms per chromosome"])

# %% [markdown]
# On {glue:text}`n_rot` chromosomes the sweep brings {glue:text}`sweep_within:.1f` % within
# 1.5 degrees of vertical (median error {glue:text}`sweep_median:.2f` degrees); of the long ones
# (chromosomes 1-12 and X) {glue:text}`sweep_within_long:.1f` %. The hull method
# agrees with the sweep within 1 degree on {glue:text}`agree:.1f` % of all chromosomes and needs
# {glue:text}`hull_ms:.2f` ms instead of {glue:text}`sweep_ms:.1f` ms, about {glue:text}`speedup:.0f` times
# faster. The cumulative error curves of {numref}`fig-rot-cdf` include the bent chromosomes too:
# bending is where "the axis" stops being a single direction.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Share of chromosomes (all of this run, bent ones included) whose angle error is at most the value on the horizontal axis, for each method; higher and further left is better.", "name": "fig-rot-cdf"}}
ax = plots.error_distribution(errors.pivot_table(index="source", columns="method", values="error"))

# %% [markdown]
# Where the errors are. The minimum-width direction is the chromosome's axis only for a shape
# of constant width. A chromosome whose outline narrows towards one end - a small p arm knob
# above the centromere of an acrocentric chromosome, say, with width $a$ at the top and $b$ at
# the bottom over a length $L$ - is narrowest when tilted by about
# $\arctan\frac{b - a}{2L}$: 2 px of taper over 25 px is 2.3 degrees. So the short
# chromosomes (13-15, 21, 22, Y) carry larger errors than the long ones with *every*
# minimum-width method, sweep and hull alike ({numref}`fig-rot-by-type`). The principal axis
# averages over the whole outline and is less sensitive to the ends. On real karyogram crops
# part of every error is the reference's: "vertical" is where a person stood a chromosome that
# is rarely straight. For the polarity step a few degrees do not matter: it only needs up or down.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Median angle error per chromosome type and method, over the chromosomes of {numref}`tab-rot-methods`; types in karyogram order.", "name": "fig-rot-by-type"}}
ax = plots.median_error_by_type(straight)

# %% [markdown]
# ## Real Q-band chromosomes (bright on black)
# The same code rotates Q-banded chromosomes cut from metaphase images, bright on a black
# background: the background colour is detected from the border and the mask is taken from the
# bright side. {glue:md}`qband_text:myst`

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Q-band crops as cut from the metaphase (top row, type in the title) and after the hull rotation (bottom row).", "name": "fig-rot-qband"}}
if qband:
    rows = read_labels(qband).sample(n_examples, random_state=seed)
    before = [read_image(Path(qband) / f) for f in rows.file]
    turned = [upright(b, method="hull")[0] for b in before]
    fig = plots.gallery(before + turned, [f"chr{c}" for c in rows.chromosome] + ["upright"] * n_examples,
                        ncols=n_examples)

# %% tags=["remove-cell"]
if qband:
    qband_text = (f"{{numref}}`fig-rot-qband` shows {n_examples} {book.data_label(qband)} {{cite:p}}`poletti2012` "
                  f"before and after.")
    qband_note = f"Section 1.5 ran on {n_examples} {book.data_label(qband)}."
else:
    qband_text = ("This run had no Q-band folder (`chromolib data get bioimlab-qband` fetches the BioImLab set "
                  "{cite:p}`poletti2012`), so the section shows nothing.")
    qband_note = "Section 1.5 had no Q-band data."
glue("qband_text", qband_text, markdown=True)
glue("data_note", book.data_note(data, n_cells, n_rotation, extra=(
    "Each real crop was turned by a seeded random angle, so its true angle is known. " if data else "") + qband_note),
     markdown=True)

# %% [markdown]
# (sec-rot-accept)=
# ## Which axis a cytogeneticist accepts
# A crop cut from a karyogram stands where a cytogeneticist put it, or where the karyotyping
# software put it and a cytogeneticist let it stand. Turning such a crop by a known angle and
# asking a method to undo the turn therefore measures the method against an accepted placement.
# {numref}`tab-rot-accept` does this for seven axes on two masks, on chromosomes from the
# held-out cells of the Pki-3 karyograms, on all of KaryoNet (another laboratory's karyograms),
# and on synthetic chromosomes, whose axis is the one the generator drew. Four of the axes follow
# the chromosome's body instead of its outline's extent: `midline` fits a straight line through
# the mid-points of the body's cross-sections; `core` weights the principal axis by each
# pixel's distance to the outline; `skeleton` takes the chord between the two ends of the medial
# axis (the longest path through a thinned mask); `blend` is the mean direction of `hull` and
# `moments`. {glue:md}`accept_source:myst`

# %% tags=["remove-cell"]
real = pd.read_csv(Path(results) / "rotation" / "real.csv")
polarity = pd.read_csv(Path(results) / "rotation" / "polarity.csv")
sets = {"Pki-3 held out": "Pki-3", "KaryoNet": "KaryoNet", "synthetic straight": "synthetic, straight",
        "synthetic bent": "synthetic, bent"}


def cell(set_name, mask, method, column):
    row = real[(real.set == set_name) & (real["mask"] == mask) & (real.method == method)]
    return float(row[column].iloc[0])


rows = [(m, "outline") for m in real[real["mask"] == "outline"].method.unique()] + [("hull", "otsu")]
accept = pd.DataFrame({f"{short} {stat}": [cell(name, mask, m, col) for m, mask in rows]
                       for name, short in sets.items()
                       for stat, col in (("median", "median (deg)"), ("p95", "95th pct (deg)"))},
                      index=pd.Index([f"{m}, {mask}" for m, mask in rows], name="axis, mask"))
accept["ms"] = [cell("Pki-3 held out", mask, m, "ms mask + angle") for m, mask in rows]
glue("accept_source", "The table is the committed reference run `results/rotation/real.csv` "
     f"(`python benchmarks/rotation.py --real ../shared/data`, {int(cell('Pki-3 held out', 'outline', 'hull', 'n')):,} "
     f"held-out Pki-3 chromosomes and {int(cell('KaryoNet', 'outline', 'hull', 'n'))} from KaryoNet), read here "
     "rather than rerun: it takes minutes and needs the real data.", markdown=True)
for key, name in (("pk", "Pki-3 held out"), ("kn", "KaryoNet")):
    for mask in ("outline", "otsu"):
        glue(f"{key}_hull_{mask}_med", cell(name, mask, "hull", "median (deg)"))
        glue(f"{key}_hull_{mask}_p95", cell(name, mask, "hull", "95th pct (deg)"))
glue("pk_best_p95", cell("Pki-3 held out", "outline", "(best per chromosome)", "95th pct (deg)"))
glue("syn_moments_med", cell("synthetic straight", "outline", "moments", "median (deg)"))
glue("syn_hull_med", cell("synthetic straight", "outline", "hull", "median (deg)"))
glue("hull_ms_total", cell("Pki-3 held out", "outline", "hull", "ms mask + angle"))
glue("sweep_ms_total", cell("Pki-3 held out", "outline", "sweep", "ms mask + angle"))
glue("default_method", DEFAULT_METHOD)
learned = pd.concat([pd.read_csv(Path(results) / "rotation" / f"{f}.csv") for f in ("learned_axis", "residual_axis")])


def learned_cell(set_name, method, column):
    return float(learned[(learned.set == set_name) & (learned.method == method)][column].iloc[0])


for key, name in (("pk", "Pki-3 held out"), ("kn", "KaryoNet")):
    for short, method in (("sq", "learned"), ("res", "hull + residual network")):
        glue(f"{key}_{short}_med", learned_cell(name, method, "median (deg)"))
        glue(f"{key}_{short}_p95", learned_cell(name, method, "95th pct (deg)"))
glue("res_ms", learned_cell("Pki-3 held out", "hull + residual network", "ms per chromosome"))
direction = pd.read_csv(Path(results) / "rotation" / "direction.csv").set_index(["set", "method"])
for key, name in (("pk", "Pki-3 held out"), ("kn", "KaryoNet")):
    for short, method in (("one", "direction network (one step)"), ("two", "hull, then the polarity network (two steps)")):
        glue(f"{key}_{short}_up", direction.loc[(name, method), "short arm up (%)"])
    glue(f"{key}_one_p95", direction.loc[(name, "direction network (one step)"), "95th pct (deg)"])


def accuracy(set_name, method, mask):
    row = polarity[(polarity.set == set_name) & (polarity.method == method) & (polarity["mask"] == mask)]
    return row.iloc[0]


for key, name in (("kn", "KaryoNet"), ("pk", "Pki-3 held out")):
    before, after = accuracy(name, "hull", "otsu"), accuracy(name, DEFAULT_METHOD, "outline")
    glue(f"{key}_pol_before", before["accuracy (%)"])
    glue(f"{key}_pol_after", after["accuracy (%)"])
    glue(f"{key}_pol_n", int(after["n"]))
    glue(f"{key}_pol_p", after["McNemar p"])

# %% tags=["remove-input"]
book.table(accept.round(2), "Angle error (degrees) of each axis after undoing a known turn: median and 95th "
           "percentile on held-out Pki-3 karyogram crops, on KaryoNet's karyogram crops and on synthetic straight "
           "and bent chromosomes (p95: 95th percentile); every axis on the chromosome's outline, and the hull on "
           "Otsu's mask (chromolib's default before); ms: mask and angle per Pki-3 chromosome on a CPU (the load "
           "on the machine is in results/rotation/real.txt). The "
           "row '(best per chromosome)' takes, for each chromosome, the smallest error of any axis.", "tab-rot-accept")

# %% [markdown]
# **The mask before the axis.** Otsu's threshold splits a G-banded chromosome's dark bands from
# its pale ones as readily as the chromosome from the background: pale ends and pale bands drop
# out, the mask is a lopsided piece of the chromosome, and every axis found from it leans. With
# the whole outline the hull comes within {glue:text}`kn_hull_outline_med:.2f` degrees of
# KaryoNet's placement at the median and {glue:text}`kn_hull_outline_p95:.1f` at the 95th
# percentile, against {glue:text}`kn_hull_otsu_med:.2f` and {glue:text}`kn_hull_otsu_p95:.1f`
# on Otsu's mask; on Pki-3 the median falls from {glue:text}`pk_hull_otsu_med:.2f` to
# {glue:text}`pk_hull_outline_med:.2f` degrees.
#
# **Taper: which vertical.** On synthetic chromosomes the principal axis wins
# ({glue:text}`syn_moments_med:.2f` degrees against {glue:text}`syn_hull_med:.2f` for the hull):
# the generator's axis is the line of symmetry, and the minimum width of a tapered outline lies a
# little off it ("Where the errors are", above). On both laboratories' karyograms it is the
# other way round: the chromosomes stand the way the minimum width puts them, in the tightest
# upright box, and at the median the hull and the sweep match that placement better than any
# axis through the body. The body-following axes (`midline`, `core`) land where the principal
# axis does; `blend` lies between the two verticals, and has the shortest tail on Pki-3, where
# the bent chromosomes are.
#
# **Bending.** A strongly bent chromosome has no axis to find, and the karyograms follow no
# single rule for it: the worst errors of every method are the same V- and C-shaped chromosomes
# (`results/rotation/worst_pki3.png`), stood in a way that none of the seven axes describes. The
# medial axis does not help either: on a short chromosome with splayed chromatids its
# ends wander, and `skeleton` is the worst axis on every data set. Even taking, chromosome by
# chromosome, the best of all seven axes leaves a 95th percentile of {glue:text}`pk_best_p95:.1f`
# degrees on Pki-3 (the default's is {glue:text}`pk_hull_outline_p95:.1f`): the rest of the tail is
# the karyogram's own tilt, which no geometry recovers. The Pki-3 crops are cut tight, their pale
# rims often touching the crop's edge, and such a straight cut can help the minimum-width axes;
# KaryoNet's crops, centred in large frames, have none. Where no straight axis describes a bent
# chromosome, the sheet can show it unrolled along its medial axis instead (`chromolib orient
# --straighten`, chapter 6), beside the crop as it was turned.
#
# **Learning the vertical.** If the karyograms follow a person's habit rather than a rule, a
# network might learn the habit: every p-up crop turned by a known angle is a free example
# (`chromolib.axis`, trained on the Pki-3 training cells only). A small network that reads the
# axis from the crop at any angle reaches {glue:text}`pk_sq_med:.2f` / {glue:text}`pk_sq_p95:.1f`
# degrees (median / 95th percentile) on the held-out Pki-3 cells and
# {glue:text}`kn_sq_med:.2f` / {glue:text}`kn_sq_p95:.1f` on KaryoNet; a ResNet that reads the tilt
# the hull left, in the polarity network's tall frame, {glue:text}`pk_res_med:.2f` /
# {glue:text}`pk_res_p95:.1f` and {glue:text}`kn_res_med:.2f` / {glue:text}`kn_res_p95:.1f`
# ({glue:text}`res_ms:.1f` ms a chromosome). Both shorten the Pki-3 tail and lose at the median,
# and neither helps in the other laboratory: the habit learnt is one laboratory's, and the large
# errors of bent chromosomes remain (`results/rotation/learned_axis.txt`, `residual_axis.txt`).
# The small network can also be asked for the short arm's direction over the full 360 degrees,
# axis and polarity in one step: after the same 20 minutes of training it puts the short arm up
# for {glue:text}`pk_one_up:.2f` % of the held-out Pki-3 chromosomes and
# {glue:text}`kn_one_up:.2f` % of KaryoNet's, against {glue:text}`pk_two_up:.2f` % and
# {glue:text}`kn_two_up:.2f` % for the two steps of `chromolib orient` (hull, then the polarity
# network of chapter 5), and leaves a 95th percentile of {glue:text}`pk_one_p95:.1f` degrees on the
# axis (`results/rotation/direction.txt`). Splitting the job lets each step see the chromosome as
# it needs it: the polarity network reads an upright chromosome in a tall frame.
#
# **What the tools use.** `chromolib.rotation.DEFAULT_METHOD` is {glue:text}`default_method`
# on the outline: the best median on both laboratories' karyograms, {glue:text}`hull_ms_total:.2f`
# ms per chromosome with the mask. No axis through the body was clearly better. The patent's sweep stays
# as the source describes it, rotating the image 180 times: on the outline it reaches nearly the
# hull's accuracy (the two minimise the same width, the sweep on a 1-degree grid) at
# {glue:text}`sweep_ms_total:.0f` ms. The polarity model, trained on chromosomes rotated by the
# hull on Otsu's mask, gives {glue:text}`kn_pol_after:.2f` % right on KaryoNet after the new
# rotation, {glue:text}`kn_pol_before:.2f` % after the old one (the same
# {glue:text}`kn_pol_n` chromosomes, exact McNemar p = {glue:text}`kn_pol_p:.2f`), and
# {glue:text}`pk_pol_after:.2f` % against {glue:text}`pk_pol_before:.2f` % on
# {glue:text}`pk_pol_n:,` held-out Pki-3 chromosomes (p = {glue:text}`pk_pol_p:.2f`).

# %% [markdown]
# ## Exercises
#
# :::{exercise} A coarser sweep
# :label: ex-rot-step
# The sweep of equation {eq}`eq-projection` tries every whole degree. Predict how the median error of the
# sweep changes when it tries only every 5th or every 15th degree, then measure it on four
# synthetic cells with `chromolib.rotation.sweep_angle(mask, step=...)`.
# :::
#
# :::{solution} ex-rot-step
# :class: dropdown
# With a step $s$ the best candidate lies within $s/2$ of the true minimum, uniformly spread: the
# quantisation adds about $s/4$ degrees on average (1.25 for $s = 5$, 3.75 for $s = 15$) on top
# of the shape error of a few tenths of a degree, and the run time falls by the factor $s$.
#
# ```python
# import numpy as np
# from chromolib.images import canonical_gray
# from chromolib.rotation import angle_error, foreground_mask, largest_component, sweep_angle
# from chromolib.specimens import synthetic_specimens
#
# chromosomes = synthetic_specimens(4, seed=0)
# masks = [largest_component(foreground_mask(canonical_gray(s.image)))[0] for s in chromosomes]
# for step in (1, 5, 15):
#     errors = [angle_error(s.angle, sweep_angle(m, step=step).angle) for s, m in zip(chromosomes, masks)]
#     print(f"step {step:2d}: median error {np.median(errors):.2f} degrees")
# ```
# :::
#
# :::{exercise} Bent chromosomes
# :label: ex-rot-bent
# The synthetic generator knows which chromosomes it bent. Predict which of the three methods
# (sweep, hull, moments) suffers most from bending, then compare the median errors of bent and
# straight chromosomes with `chromolib.evaluation.rotation_errors` on five synthetic cells.
# :::
#
# :::{solution} ex-rot-bent
# :class: dropdown
# A bent chromosome has no single axis. The minimum-width direction then follows the longer of
# the two limbs or the chord between the ends, while the principal axis averages over all
# pixels; expect all three to err by several degrees on bent chromosomes, the minimum-width
# methods (sweep and hull, which agree) more than the principal axis on the strongly bent ones.
#
# ```python
# from chromolib.evaluation import rotation_errors
# from chromolib.specimens import synthetic_specimens
#
# errors = rotation_errors(synthetic_specimens(5, seed=1))
# print(errors.pivot_table(index="bent", columns="method", values="error", aggfunc="median").round(2))
# ```
# :::
#
# :::{exercise} Q-band without inverting
# :label: ex-rot-background
# `upright` detects the background from the image border. Predict what happens to the angle if
# you force the wrong background (`background="white"` for a bright-on-black Q-band crop), then
# try it on the BioImLab set (`chromolib data get bioimlab-qband` prints its folder) or, without
# it, on a synthetic chromosome inverted with `255 - image`.
# :::
#
# :::{solution} ex-rot-background
# :class: dropdown
# With the wrong background the mask is the black surroundings instead of the chromosome: its
# largest component is the frame around the chromosome, and the "minimum width" is that of the
# whole crop, so the angle is close to 0 or 90 degrees whatever the chromosome's own angle.
#
# ```python
# from chromolib.images import canonical_gray
# from chromolib.rotation import angle_error, upright
# from chromolib.specimens import synthetic_specimens
#
# for s in synthetic_specimens(1, seed=0)[:8]:
#     bright_on_black = 255 - canonical_gray(s.image)
#     right = upright(bright_on_black)[1]                       # background found from the border
#     wrong = upright(bright_on_black, background="white")[1]   # forced: the wrong side is the mask
#     print(f"chr{s.chromosome}: error {angle_error(s.angle, right):5.1f} vs {angle_error(s.angle, wrong):5.1f} degrees")
# ```
# :::
