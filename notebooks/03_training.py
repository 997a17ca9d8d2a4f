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
# # Training the polarity network
#
# ```{glue:md} data_note
# :format: myst
# ```
#
# A torchvision ResNet {cite:p}`he2016resnet` whose last layer is replaced by a 2-way fully
# connected layer, trained with the cross-entropy of equation {eq}`eq-softmax` and the momentum SGD of
# equation {eq}`eq-sgd` {cite:p}`polyak1964,sutskever2013momentum` (momentum 0.9, weight decay
# $5\times10^{-4}$, learning rate 0.01 divided by 10 at 60 % and 90 % of the epochs, batch 32).
# A ResNet stacks residual blocks, each adding its input to what its convolutions compute, with
# batch normalisation {cite:p}`ioffe2015batchnorm` after every convolution: that is what lets
# networks of 18 to 101 layers train from random weights. The *quick* profile (the default here)
# is a ResNet18 at 64 px for 8 epochs, minutes on a CPU; the *paper* profile is the published
# ResNet101 at 224 px for 100 epochs and wants a GPU:
#
# ```
# python -m chromolib.book --out _build/paper --profile paper
# ```
#
# On a GPU the same code takes the fast path: the data set decoded once into GPU memory,
# flips and normalisation there on whole batches, bf16 autocast and channels-last, and no
# waiting on the GPU inside an epoch. `chromolib bench` measures it against a plain loop.

# %% tags=["parameters"]
data = ""              # folder of p-up crops with labels.csv, empty for synthetic
n_cells = 30           # synthetic metaphases (46 chromosomes each)
max_cells = 98         # real data: at most this many cells (98, the patent's amount), 0 for all
method = "hull"
profile = "quick"      # quick | paper | tiny (chromolib.training.PROFILES)
arch = ""              # override the profile's backbone (any torchvision classifier, e.g. resnet101)
weights = ""           # torchvision weights name or local .pth file, empty for random initialisation
image_size = 0         # override the profile's input size
epochs = 0             # override the profile's epochs
batch_size = 0         # override the profile's batch size
seed = 0
compile_mode = "none"  # GPU: a torch.compile mode (none | default | reduce-overhead | max-autotune)
resume = False         # continue an interrupted run from workdir/run/checkpoint.pt
workdir = "../runs/quick"

# %% tags=["remove-cell"]
from pathlib import Path

from chromolib import book, plots
from chromolib.book import glue
from chromolib.model import build_model
from chromolib.polarity_set import prepare_dataset
from chromolib.runs import train_run
from chromolib.training import PROFILES, config_table

cfg = PROFILES[profile].with_(arch=arch or None, weights=weights or None, image_size=image_size or None,
                              epochs=epochs or None, batch_size=batch_size or None, seed=seed,
                              compile=compile_mode)
root = Path(workdir) / "dataset"
run_dir = Path(workdir) / "run"

# %% [markdown]
# ## The configuration of this run
# The data set of chapter 2 (built again only if its parameters changed) and the settings of
# {numref}`tab-train-config`. Without pretrained weights the network starts from random ones;
# the patent starts from weights trained on ImageNet {cite:p}`deng2009imagenet`, which a
# machine without a network cannot download (`weights` takes a torchvision weights name or a
# local file).

# %% tags=["remove-input"]
manifest = prepare_dataset(data, root, n_cells=n_cells, seed=seed, method=method, max_cells=max_cells or None,
                           progress=False)
book.table(config_table(cfg, build_model(cfg.arch, cfg.weights)).rename_axis(None),
           "The configuration of this run: network, input, schedule, optimiser, augmentation and device.",
           "tab-train-config")

# %% [markdown]
# ## Training
# One line per epoch: the training loss and accuracy, and the accuracy on the held-out cells.
# A checkpoint is written after every epoch (`run/checkpoint.pt`), so an interrupted run
# continues with `chromolib train ... --resume`.

# %%
run = train_run(root, cfg, run_dir, resume=resume)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: the training objective (cross-entropy, log scale) per epoch on the training split and on the held-out cells. Right: the accuracy on both.", "name": "fig-train-curves"}}
fig = plots.training_curves(run.history)

# %% tags=["remove-cell"]
h = run.history
glue("arch", cfg.arch)
glue("size", cfg.image_size)
glue("epochs", cfg.epochs)
glue("loss_first", h.train_loss.iloc[0])
glue("loss_last", h.train_loss.iloc[-1])
glue("acc_last", 100 * run.metrics["accuracy"])
glue("train_s", h.seconds.sum())
glue("steps_s", h.train_seconds.sum())
glue("images_per_s", run.metrics["train_images_per_s"])
glue("device", run.metrics["environment"].get("gpu") or run.metrics["environment"]["device"].upper())
glue("data_note", book.data_note(data, manifest.cell.nunique(), len(manifest)), markdown=True)

# %% [markdown]
# The {glue:text}`arch` at {glue:text}`size` px trained for {glue:text}`epochs` epochs in
# {glue:text}`train_s:.0f` s on the {glue:text}`device` ({glue:text}`steps_s:.0f` s of it in the training
# steps, {glue:text}`images_per_s:.0f` images/s, the rest scoring the held-out cells after every
# epoch); the training loss went from {glue:text}`loss_first:.3f` to {glue:text}`loss_last:.3f`
# ({numref}`fig-train-curves`; the source reports 0.448 to 0.001 over 100 epochs), and the
# held-out accuracy at the end is {glue:text}`acc_last:.2f` %. Chapter 4 looks at those
# predictions in detail.
#
# ## Exercises
#
# The exercises train small networks on synthetic chromosomes: a ResNet18 at 32 px on six cells
# trains in well under a minute per epoch on a laptop.
#
# :::{exercise} The learning rate
# :label: ex-train-lr
# Predict what a learning rate ten times larger (0.1) or ten times smaller (0.001) than the
# method's 0.01 does to the training loss after four epochs, then measure it.
# :::
#
# :::{solution} ex-train-lr
# :class: dropdown
# A coin toss has the loss $\log 2 \approx 0.69$. Too large a rate overshoots: the first
# steps throw the weights far off, the loss starts well above 0.69 and jumps about, and the
# held-out accuracy is the lowest of the three. Too small a rate moves the weights less per
# step: the loss falls, but more slowly, and four epochs are not enough to show its final level.
# Batch normalisation makes ResNets fairly tolerant of the rate, which is why 0.001 and 0.01 end
# up closer than their factor of ten suggests.
#
# ```python
# from chromolib.polarity_set import prepare_dataset
# from chromolib.runs import train_run
# from chromolib.training import PROFILES
#
# root = "exercise-train/dataset"
# prepare_dataset("", root, n_cells=6, seed=0, progress=False)
# for lr in (0.1, 0.01, 0.001):
#     cfg = PROFILES["tiny"].with_(epochs=4, lr=lr, batch_size=32)
#     run = train_run(root, cfg, f"exercise-train/lr-{lr}", progress=False)
#     print(f"lr {lr}: loss", run.history.train_loss.round(3).tolist(), f"held-out {run.metrics['accuracy']:.3f}")
# ```
# :::
#
# :::{exercise} Fewer pixels
# :label: ex-train-size
# The quick profile reads 64 x 64 px, the patent 224 x 224. Predict how much faster an epoch is
# at 32 px than at 64 px, and whether the held-out accuracy suffers, then measure both.
# :::
#
# :::{solution} ex-train-size
# :class: dropdown
# The convolutions' work grows with the number of pixels, so 32 px is about four times less
# arithmetic per image than 64 px; on a CPU the gain is smaller, because the fixed costs of every
# batch (and anything else running on the machine) remain - measure, do not assume. The bands
# that tell p from q are a few pixels wide at 64 px and blur into each other at 32 px: expect a
# clearly lower held-out accuracy at 32 px.
#
# ```python
# from chromolib.runs import train_run
# from chromolib.training import PROFILES
#
# root = "exercise-train/dataset"          # the data set of the previous exercise
# for size in (32, 64):
#     cfg = PROFILES["quick"].with_(image_size=size, epochs=4)
#     run = train_run(root, cfg, f"exercise-train/size-{size}", progress=False)
#     print(f"{size} px: {run.history.train_seconds.mean():.1f} s per epoch, held-out {run.metrics['accuracy']:.3f}")
# ```
# :::
