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
# # How good is it?
#
# The held-out cells of chapter 3, with "up" as the positive class as in the source: a true
# positive is an "up" chromosome predicted "up", a false positive a "down" chromosome
# predicted "up" (it would be left upside down in the karyogram).

# %% tags=["parameters"]
workdir = "../runs/quick"
results = "../results"   # committed reference runs (one folder each with metrics.json), shown beside this run
n_examples = 12

# %% tags=["remove-cell"]
from pathlib import Path

import matplotlib.pyplot as plt

from chromolib import plots
from chromolib.book import glue
from chromolib.evaluation import PATENT, comparison_table, error_rate_by_type
from chromolib.polarity_set import load_images
from chromolib.runs import load_run, reference_runs, run_setup

run = load_run(Path(workdir) / "run")
m = run.metrics

# %% [markdown]
# ## Confusion matrix

# %% tags=["hide-input"]
fig = plots.confusion_grid({f"this run ({run.config['arch']}, {run.config['image_size']} px)": m,
                            "patent (ResNet101, private data)": PATENT}, columns=2)

# %% tags=["remove-cell"]
glue("acc", 100 * m["accuracy"])
glue("lo", 100 * m["accuracy_ci95"][0])
glue("hi", 100 * m["accuracy_ci95"][1])
glue("n", m["n"])
glue("errors", m["FP"] + m["FN"])

# %% [markdown]
# {glue:text}`errors` of {glue:text}`n:,` held-out chromosomes are wrong: accuracy
# {glue:text}`acc:.2f` % (95 % Wilson interval {glue:text}`lo:.2f`-{glue:text}`hi:.2f` %).
#
# ## Beside the published result
# The patent's 96.36 % is on 1,347 private clinical chromosomes; synthetic chromosomes are
# easier or harder in other ways, so the comparison is about the pipeline, not the data.
# Runs on real Pki-3 chromosomes committed under `results/` appear as extra rows, each labelled
# with its network, input size, epochs and device (`results/README.md` has the command behind
# each). The `pki3-98-*` runs use 98 cells ({glue:text}`n98_all:,` chromosomes,
# {glue:text}`n98_test:,` of them held out), the
# same amount of data as the patent. So far they come from a CPU; the paper profile on a GPU
# is still to run (`benchmarks/gpu/README.md`).

# %% tags=["remove-cell"]
refs = reference_runs(results) if results else {}
p98 = refs["pki3-98-quick"]
glue("n98_all", p98["normalisation"]["n_train"] + p98["n"])
glue("n98_test", p98["n"])

# %% tags=["hide-input"]
comparison_table({"this run": {**m, "setup": run_setup(run.config, m)}, **refs})

# %% tags=["hide-input"]
if refs:
    fig = plots.confusion_grid(refs, columns=3)

# %% [markdown]
# ## How sure is the network?
# The probability of "up" for every held-out chromosome, by true label. Mistakes with a
# probability near 0.5 could be sent to a person for review.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3))
for lab, name in ((1, "up"), (0, "down")):
    ax.hist(run.predictions.prob_up[run.predictions.label == lab], bins=40, range=(0, 1), alpha=0.6, label=f"true {name}")
ax.set(xlabel="predicted probability of up", ylabel="chromosomes", yscale="log")
leg = ax.legend()

# %% [markdown]
# ## How many must a person still check?
# `chromolib orient` flags a chromosome `needs_review` when the network's confidence
# $\max(p, 1 - p)$ is below a threshold. The threshold is chosen
# on half of the held-out cells (the lowest confidence at which at most
# {glue:text}`target_error:.1f` % of the kept chromosomes are wrong); the curve below is measured
# on the other half.

# %% tags=["hide-input"]
ax = plots.review_curve(run.review)

# %% tags=["remove-cell"]
glue("target_error", 100 * run.review["target_error"])
glue("threshold", run.review["threshold"])
glue("flagged", 100 * run.review["report_flagged_fraction"])
glue("acc_kept", 100 * run.review["report_accuracy_kept"])
glue("acc_all", 100 * run.review["report_accuracy_all"])

# %% [markdown]
# At the chosen threshold ({glue:text}`threshold:.3f`) {glue:text}`flagged:.1f` % of the reporting
# half is flagged, and the accuracy of the chromosomes that are not flagged is
# {glue:text}`acc_kept:.2f` % (all of them: {glue:text}`acc_all:.2f` %).

# %% [markdown]
# ## The misclassified chromosomes
# As the network saw them (after rotation), with the true label and the probability of "up".

# %%
wrong = run.predictions[run.predictions.label != run.predictions.pred]
if len(wrong):
    show = wrong.head(n_examples)
    imgs = load_images(run.config["dataset"], show.file, size=96)
    fig = plots.gallery(list(imgs), [f"chr{c} {'up' if l else 'down'}\np(up)={p:.2f}"
                                     for c, l, p in zip(show.chromosome, show.label, show.prob_up)],
                        ncols=min(n_examples, 8))
else:
    print("no misclassified chromosomes in this run")

# %% [markdown]
# ## Errors by chromosome type
# Which chromosomes the network gets wrong most often (percentage of the held-out copies of
# each type).

# %% tags=["hide-input"]
rate = error_rate_by_type(run.predictions)
ax = plots.bar_by_type(rate, "error (%)")

# %% tags=["remove-cell"]
worst = rate.sort_values(ascending=False).head(3)
glue("worst", ", ".join(f"{c} ({v:.1f} %)" for c, v in worst.items()))

# %% [markdown]
# The highest error rates in this run: chromosomes {glue:text}`worst`.
