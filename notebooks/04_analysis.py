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
# ```{glue:md} data_note
# :format: myst
# ```
#
# The held-out cells of chapter 3, with "up" as the positive class as in the source: a true
# positive is an "up" chromosome predicted "up", a false positive a "down" chromosome
# predicted "up" (it would be left upside down in the karyogram).

# %% tags=["parameters"]
workdir = "../runs/quick"
results = "../results"   # committed reference runs, shown beside this run
n_examples = 12

# %% tags=["remove-cell"]
from pathlib import Path

from chromolib import book, plots
from chromolib.book import glue
from chromolib.evaluation import PATENT, mcnemar_runs
from chromolib.polarity_set import load_images
from chromolib.runs import load_run, reference_runs

run = load_run(Path(workdir) / "run")
m = run.metrics
ds = book.dataset_summary(run.config["dataset"])
this_data = f"{book.data_label(ds['data'], short=True)}, {ds['cells']:,} cells"
glue("data_note", book.data_note(ds["data"], ds["cells"], ds["chromosomes"]), markdown=True)
glue("this_data", this_data)

# %% [markdown]
# ## Confusion matrix
# {numref}`fig-an-confusion` puts the counts of this run beside the patent's.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Confusion matrices, rows the true label and columns the prediction: this run on its held-out cells (left) and the patent on its 1,347 private test chromosomes (right).", "name": "fig-an-confusion"}}
fig = plots.confusion_grid({f"this run ({this_data})": m, "patent (ResNet101, private data)": PATENT}, columns=2)

# %% tags=["remove-cell"]
glue("acc", 100 * m["accuracy"])
glue("lo", 100 * m["accuracy_ci95"][0])
glue("hi", 100 * m["accuracy_ci95"][1])
glue("n", m["n"])
glue("errors", m["FP"] + m["FN"])

# %% [markdown]
# {glue:text}`errors` of {glue:text}`n:,` held-out chromosomes are wrong: accuracy
# {glue:text}`acc:.2f` % (95 % interval {glue:text}`lo:.2f`-{glue:text}`hi:.2f` %). The interval
# is Wilson's score interval {cite:p}`wilson1927`, which stays inside 0-100 % and keeps its
# coverage for small counts and for accuracies close to 100 %, where the textbook
# $\hat p \pm 1.96\sqrt{\hat p(1-\hat p)/n}$ fails.
#
# ## Beside the published result
# The patent's 96.36 % is on 1,347 private clinical chromosomes; another data set is easier or
# harder in other ways, so the comparison is about the pipeline as much as the data.
# {numref}`tab-an-runs` says what each run is and {numref}`tab-an-results` how it did: the
# patent, this run ({glue:text}`this_data`), and the runs committed under `results/` (each
# labelled with its network, input size, epochs and device; `results/README.md` has the command
# behind each). All committed runs are on real Pki-3 chromosomes {cite:p}`pki3_repository`; the
# `pki3-98-*` runs use 98 cells ({glue:text}`n98_all:,` chromosomes, {glue:text}`n98_test:,` of them
# held out), the same amount of data as the patent, and `pki3-98-quick` is the quick profile of
# this book on exactly that data. They come from the 2-core CPU, except `pki3-98-paper`: the
# method's own profile (ResNet101, 224 px, 100 epochs) on one GPU, on the same data. It puts
# {glue:text}`paper98_acc:.2f` % (95 % interval {glue:text}`paper98_lo:.2f`-{glue:text}`paper98_hi:.2f` %)
# of the held-out chromosomes right, beside the patent's 96.36 % on its own chromosomes; on the
# same chromosomes the `cpu` profile of chapter 5 (`pki3-98-cpu`, {glue:text}`cpu98_minutes:.0f` minutes
# of training on the CPU) is
# right where the paper profile is wrong {glue:text}`paper98_cpu_only` times and the other way
# round {glue:text}`paper98_paper_only` times (McNemar p = {glue:text}`paper98_p:.2f`).

# %% tags=["remove-cell"]
refs = reference_runs(results) if results else {}
what, how = book.compare_runs(run, results)
p98 = refs.get("pki3-98-quick", {"normalisation": {"n_train": 0}, "n": 0})
glue("n98_all", p98["normalisation"]["n_train"] + p98["n"])
glue("n98_test", p98["n"])
paper98 = refs.get("pki3-98-paper", {"accuracy": float("nan"), "accuracy_ci95": [float("nan")] * 2})
glue("paper98_acc", 100 * paper98["accuracy"])
glue("paper98_lo", 100 * paper98["accuracy_ci95"][0])
glue("paper98_hi", 100 * paper98["accuracy_ci95"][1])
paired = (mcnemar_runs(*(load_run(Path(results) / r).predictions for r in ("pki3-98-paper", "pki3-98-cpu")))
          if {"pki3-98-paper", "pki3-98-cpu"} <= set(refs) else {})
glue("paper98_paper_only", paired.get("only_a_right", 0))
glue("paper98_cpu_only", paired.get("only_b_right", 0))
glue("paper98_p", paired.get("p_value", float("nan")))
glue("cpu98_minutes", refs.get("pki3-98-cpu", {}).get("train_seconds_total", float("nan")) / 60)

# %% tags=["remove-input"]
book.table(what, "What each run is: network, input size, epochs and device; the data it was trained and tested "
           "on; chromosomes in training and held out; the held-out cells (the patent does not say).", "tab-an-runs")

# %% tags=["remove-input"]
book.table(how, "How each run of {numref}`tab-an-runs` did on its own held-out chromosomes, in percent, "
           "\"up\" being the positive class: accuracy with its Wilson 95 % interval, sensitivity (share of the up "
           "chromosomes found), specificity (share of the down ones found), precision (share of the up predictions "
           "that are right), and the number of errors.", "tab-an-results")

# %% [markdown]
# Two runs are only comparable on the same test chromosomes: the `pki3-98-*` rows share theirs,
# the other rows each have their own. Where two intervals overlap, {numref}`tab-an-results`
# does not show a difference; a paired test on the same chromosomes is sharper
# ({ref}`ex-an-mcnemar`). {numref}`fig-an-ref-confusion` shows the confusion matrices of the
# committed runs.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Confusion matrices of the committed reference runs under results/ (real Pki-3 chromosomes), rows the true label, columns the prediction.", "name": "fig-an-ref-confusion"}}
if refs:
    fig = plots.confusion_grid(refs, columns=3)

# %% [markdown]
# ## How sure is the network?
# {numref}`fig-an-probability` shows the probability of "up" for every held-out chromosome, by
# true label. Modern networks tend to be over-confident: their probabilities are more extreme
# than their accuracy justifies {cite:p}`guo2017calibration`. Mistakes with a probability near
# 0.5 could still be sent to a person for review.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Predicted probability of up for the held-out chromosomes of this run, truly up (blue) and truly down (orange), on a log scale: the mistakes are the blue mass left of 0.5 and the orange mass right of it.", "name": "fig-an-probability"}}
ax = plots.probability_histogram(run.predictions)

# %% [markdown]
# ## How many must a person still check?
# `chromolib orient` flags a chromosome `needs_review` when the network's confidence
# $\max(p, 1 - p)$ is below a threshold. The threshold is chosen on half of the held-out cells
# (the lowest confidence at which at most {glue:text}`target_error:.1f` % of the kept
# chromosomes are wrong); {numref}`fig-an-review` is measured on the other half.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Accuracy of the chromosomes that are not flagged against the share flagged for review, as the confidence threshold rises, on the reporting half of the held-out cells; the dotted line marks the chosen threshold.", "name": "fig-an-review"}}
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
#
# ## The misclassified chromosomes
# {glue:md}`wrong_text:myst`

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Held-out chromosomes this run got wrong, as the network saw them (after rotation), each titled with its type, its true label and the predicted probability of up.", "name": "fig-an-wrong"}}
wrong = run.predictions[run.predictions.label != run.predictions.pred]
if len(wrong):
    show = wrong.head(n_examples)
    imgs = load_images(run.config["dataset"], show.file, size=96)
    fig = plots.gallery(list(imgs), [f"chr{c} {'up' if l else 'down'}\np(up)={p:.2f}"
                                     for c, l, p in zip(show.chromosome, show.label, show.prob_up)],
                        ncols=min(n_examples, 8))

# %% tags=["remove-cell"]
glue("wrong_text", f"{{numref}}`fig-an-wrong` shows {min(len(wrong), n_examples)} of the {len(wrong)} "
     f"misclassified chromosomes." if len(wrong) else "This run misclassified no held-out chromosome.",
     markdown=True)

# %% [markdown]
# ## Errors by chromosome type
# Which chromosomes the network gets wrong most often: the share of the held-out copies of each
# type that are wrong ({numref}`fig-an-by-type`). Each type has only a few dozen held-out copies,
# so each bar carries its Wilson 95 % interval and the count it rests on.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Error rate per chromosome type on the held-out cells of this run, with Wilson 95 % intervals; each type is labelled with its errors / held-out copies.", "name": "fig-an-by-type"}}
rates = plots.error_rates_by_type(run.predictions)
ax = plots.rate_bars(rates, "error (%)")

# %% tags=["remove-cell"]
worst = rates[rates.k > 0].sort_values(["rate", "k"], ascending=False).head(3)
glue("worst", "; ".join(f"chromosome {c}: {int(r.k)} of {int(r.n)} wrong ({r.rate:.0f} %, 95 % interval "
                        f"{r.lo:.0f}-{r.hi:.0f} %)" for c, r in worst.iterrows()) or "none: no errors")

# %% [markdown]
# The highest error rates in this run: {glue:text}`worst`. Intervals this wide mean that a
# ranking of types from one run of this size says little. There is a reason to expect the long
# chromosomes 1-5 to be harder, though: a square 64 px canvas shrinks a chromosome of 130 px
# about twofold, so their bands are the most compressed.
#
# ## Exercises
#
# :::{exercise} How many test chromosomes?
# :label: ex-an-size
# The patent's 96.36 % rests on 1,347 chromosomes. Predict the half-width of its 95 % interval,
# and how many test chromosomes it would take to halve it; then compute both with
# `chromolib.evaluation.wilson_interval`.
# :::
#
# :::{solution} ex-an-size
# :class: dropdown
# The half-width is about $1.96\sqrt{p(1-p)/n} \approx 1.96\sqrt{0.0364 \cdot 0.9636 / 1347}
# \approx 1.0$ point. It shrinks with $1/\sqrt{n}$: halving it takes four times the chromosomes,
# about 5,400.
#
# ```python
# from chromolib.evaluation import wilson_interval
#
# for n in (1347, 2 * 1347, 4 * 1347):
#     lo, hi = wilson_interval(round(0.9636 * n), n)
#     print(f"n = {n:5d}: {100 * lo:.2f}-{100 * hi:.2f} %, half-width {50 * (hi - lo):.2f} points")
# ```
# :::
#
# :::{exercise} Is 24 epochs better than 8?
# :label: ex-an-mcnemar
# The committed runs `pki3-98-quick` (8 epochs) and `pki3-98-quick-24ep` (24 epochs) are scored
# on the same 1,379 held-out chromosomes. Predict whether their difference is significant, then
# test it with the exact McNemar test {cite:p}`mcnemar1947` (`chromolib.evaluation.mcnemar`) on
# their `predictions.csv`.
# :::
#
# :::{solution} ex-an-mcnemar
# :class: dropdown
# Their intervals in {numref}`tab-an-results` overlap, which would suggest "no difference". The
# paired test only counts the chromosomes on which the two runs disagree; with many more fixed
# by the longer run than broken, it can be significant where the unpaired intervals are not.
#
# ```python
# import pandas as pd
# from chromolib.evaluation import mcnemar
#
# a = pd.read_csv("results/pki3-98-quick/predictions.csv").set_index("file")   # from the repository root
# b = pd.read_csv("results/pki3-98-quick-24ep/predictions.csv").set_index("file").loc[a.index]
# print(mcnemar(a.label == a.pred, b.label == b.pred))
# ```
# :::
#
# :::{exercise} A stricter review threshold
# :label: ex-an-review
# Predict how the share of chromosomes flagged for review changes when the target error of the
# kept chromosomes goes from 0.5 % to 0.1 %, then measure it with
# `chromolib.evaluation.choose_threshold` on the predictions of `results/pki3-98-quick`.
# :::
#
# :::{solution} ex-an-review
# :class: dropdown
# A stricter target needs a higher confidence threshold, so more chromosomes are flagged; because
# some errors are confident ({numref}`fig-an-probability`), reaching 0.1 % may need a large
# share flagged, or may not be reachable at all on the choosing half.
#
# ```python
# import pandas as pd
# from chromolib.evaluation import choose_threshold
#
# pred = pd.read_csv("results/pki3-98-quick/predictions.csv", dtype={"cell": str})
# for target in (0.005, 0.001):
#     r = choose_threshold(pred, target_error=target)
#     print(f"target {100 * target:.1f} %: threshold {r['threshold']:.3f}, "
#           f"flagged {100 * r['report_flagged_fraction']:.1f} %, kept accuracy {100 * r['report_accuracy_kept']:.2f} %")
# ```
# :::
