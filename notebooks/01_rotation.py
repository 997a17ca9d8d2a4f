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
# The first step of the method needs no learning: rotate the segmented chromosome until its
# horizontal extent $D(\theta) = x_R(\theta) - x_L(\theta)$ is smallest. This chapter shows
# $D(\theta)$ for a few chromosomes, the chromosomes before and after, and compares the
# faithful 1-degree sweep with the exact convex-hull minimum (and a principal-axis baseline)
# on chromosomes whose true angle is known.

# %% tags=["parameters"]
data = ""          # empty: synthetic chromosomes; else a folder with labels.csv of p-up crops, e.g. ../shared/data/pki3-gband
qband = ""         # optional folder of Q-band crops at metaphase angles (bright on black) to show as well
n_examples = 6     # chromosomes in the galleries
n_rotation = 460   # chromosomes in the method comparison
seed = 0

# %% tags=["remove-cell"]
from itertools import islice
from pathlib import Path


from chromolib import plots
from chromolib.book import glue
from chromolib.evaluation import method_agreement, rotation_errors, summarise_rotation
from chromolib.images import canonical_gray, read_image
from chromolib.karyotype import LONG_TYPES, karyotype_order
from chromolib.rotation import foreground_mask, largest_component, sweep_angle, upright
from chromolib.specimens import read_labels, specimens_from

# %% [markdown]
# ## Chromosomes at their metaphase angles
# Each crop below is a single chromosome as segmentation delivers it: tight, white background,
# at an arbitrary angle. With synthetic data (the default) the true angle is known because the
# generator drew it; with a real karyogram set every p-up crop is rotated by a known random angle.

# %%
def specimens(n):
    """The first ``n`` chromosomes of the data (46 per synthetic cell)."""
    return list(islice(specimens_from(data, n_cells=-(-n // 46), seed=seed), n))


examples = specimens(n_examples * 7)[::7]
fig = plots.gallery([s.image for s in examples], [f"chr{s.chromosome}, {s.angle:.0f}°" for s in examples],
                    ncols=n_examples)

# %% [markdown]
# ## The projection distance $D(\theta)$
# For every candidate angle the image is rotated counter-clockwise about its centre (the canvas
# grows, the new corners are white) and the horizontal extent of the chromosome is measured.
# The dotted lines mark $\theta^*$, the minimum of each curve.

# %%
masks = [largest_component(foreground_mask(canonical_gray(s.image)))[0] for s in examples]
sweeps = [sweep_angle(m) for m in masks]
ax = plots.projection_curves([(f"chr{s.chromosome}", r.angles, r.distances, r.angle)
                              for s, r in zip(examples, sweeps)])

# %% [markdown]
# ## Before and after
# Rotating by $\theta^*$ leaves each chromosome vertical. Whether the short arm is up is still
# a coin toss: that is the second step's job.

# %%
after = [upright(canonical_gray(s.image), method="sweep")[0] for s in examples]
fig = plots.gallery([s.image for s in examples] + after,
                    [f"before ({s.angle:.0f}°)" for s in examples] + [f"after (+{r.angle:.0f}°)" for r in sweeps],
                    ncols=n_examples)

# %% [markdown]
# ## Sweep, convex hull and principal axis on known angles
# $D(\theta)$ is the width of the region's convex hull in direction $(\cos\theta, \sin\theta)$.
# The width of a convex polygon is smallest in a direction normal to one of its edges, so
# checking the hull's few dozen edge normals gives the exact continuous minimum without
# rotating a single image (rotating calipers). The principal axis from image moments is a
# common shortcut, shown as a baseline. The error is the angle between the result and vertical.

# %%
errors = rotation_errors(specimens(n_rotation), progress=False)
straight = errors[errors.bent != True]  # noqa: E712  (None for real data: all count)
summary = summarise_rotation(straight)
summary

# %% tags=["remove-cell"]
summary_long = summarise_rotation(straight[straight.chromosome.isin(LONG_TYPES)])
glue("n_rot", len(straight) // 3)
glue("sweep_within_long", summary_long.loc["sweep", "within 1.5 deg (%)"])
glue("sweep_within", summary.loc["sweep", "within 1.5 deg (%)"])
glue("sweep_median", summary.loc["sweep", "median error (deg)"])
glue("agree", 100 * method_agreement(errors))
glue("speedup", summary.loc["sweep", "ms per chromosome"] / summary.loc["hull", "ms per chromosome"])
glue("sweep_ms", summary.loc["sweep", "ms per chromosome"])
glue("hull_ms", summary.loc["hull", "ms per chromosome"])

# %% [markdown]
# On {glue:text}`n_rot` straight chromosomes the sweep brings {glue:text}`sweep_within:.1f` % within
# 1.5 degrees of vertical (median error {glue:text}`sweep_median:.2f` degrees); of the long ones
# (chromosomes 1-12 and X) {glue:text}`sweep_within_long:.1f` %. The hull method
# agrees with the sweep within 1 degree on {glue:text}`agree:.1f` % of all chromosomes and needs
# {glue:text}`hull_ms:.2f` ms instead of {glue:text}`sweep_ms:.1f` ms, about {glue:text}`speedup:.0f` times
# faster. The cumulative error curves below include the bent chromosomes too: bending is where
# "the axis" stops being a single direction.

# %% tags=["hide-input"]
ax = plots.error_distribution(errors.pivot_table(index="source", columns="method", values="error"))

# %% [markdown]
# Where the errors are. The minimum-width direction is the chromosome's axis only for a shape
# of constant width. A chromosome whose outline narrows towards one end - a small p arm knob
# above the centromere of an acrocentric chromosome, say, with width $a$ at the top and $b$ at
# the bottom over a length $L$ - is narrowest when tilted by about
# $\arctan\frac{b - a}{2L}$: 2 px of taper over 25 px is 2.3 degrees. So the short
# chromosomes (13-15, 21, 22, Y) carry errors of a few degrees with *every* minimum-width
# method, sweep and hull alike, while the long ones are found to a fraction of a degree. The
# principal axis averages over the whole outline and is less sensitive to the ends. For the
# polarity step a few degrees do not matter: it only needs up or down.

# %% tags=["hide-input"]
by_type = straight.pivot_table(index="chromosome", columns="method", values="error", aggfunc="median")
by_type = by_type.reindex(karyotype_order(by_type.index))
ax = by_type.plot(marker="o", figsize=(8, 3), xticks=range(len(by_type)), rot=0)
ax.set_xticklabels(by_type.index)
ax.set(xlabel="chromosome", ylabel="median error (degrees)")
ax.grid(alpha=0.3)

# %% [markdown]
# ## Real Q-band chromosomes (bright on black)
# When the `qband` parameter names a folder of Q-band crops (for instance the BioImLab set), the
# same code rotates them: the background colour is detected from the border and the mask is
# taken from the bright side.

# %%
if qband:
    rows = read_labels(qband).sample(n_examples, random_state=seed)
    before = [read_image(Path(qband) / f) for f in rows.file]
    turned = [upright(b, method="hull")[0] for b in before]
    fig = plots.gallery(before + turned, [f"chr{c}" for c in rows.chromosome] + ["upright"] * n_examples,
                        ncols=n_examples)
else:
    print("no Q-band folder given (parameter qband); skipped")
