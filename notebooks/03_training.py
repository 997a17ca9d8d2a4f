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
# A torchvision ResNet whose last layer is replaced by a 2-way fully connected layer, trained
# with cross-entropy and momentum SGD (momentum 0.9, weight decay $5\times10^{-4}$, learning
# rate 0.01 divided by 10 at 60 % and 90 % of the epochs, batch 32). The *quick* profile (the
# default here) is a ResNet18 at 64 px for a few epochs, minutes on a CPU; the *paper* profile
# is the published ResNet101 at 224 px for 100 epochs and wants a GPU:
#
# ```
# python -m chromolib.book --out _build/paper --profile paper -p data ../shared/data/pki3-gband
# ```
#
# On a GPU the same code takes the fast path: the data set decoded once into GPU memory,
# flips and normalisation there on whole batches, bf16 autocast and channels-last, and no
# waiting on the GPU inside an epoch. `chromolib bench` measures it against a plain loop.

# %% tags=["parameters"]
data = ""              # empty: synthetic chromosomes; else a folder with labels.csv of p-up crops
n_cells = 30           # synthetic metaphases (46 chromosomes each)
max_cells = 0          # real data: use at most this many cells, 0 for all
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


from chromolib import plots
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

# %%
prepare_dataset(data, root, n_cells=n_cells, seed=seed, method=method, max_cells=max_cells or None)
config_table(cfg, build_model(cfg.arch, cfg.weights))

# %% [markdown]
# ## Training
# One line per epoch: the training loss and accuracy, and the accuracy on the held-out cells.
# A checkpoint is written after every epoch (`run/checkpoint.pt`), so an interrupted run
# continues with `chromolib train ... --resume`.

# %%
run = train_run(root, cfg, run_dir, resume=resume)

# %%
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

# %% [markdown]
# The {glue:text}`arch` at {glue:text}`size` px trained for {glue:text}`epochs` epochs in
# {glue:text}`train_s:.0f` s on the {glue:text}`device` ({glue:text}`steps_s:.0f` s of it in the training
# steps, {glue:text}`images_per_s:.0f` images/s, the rest scoring the held-out cells after every
# epoch); the training loss went from
# {glue:text}`loss_first:.3f` to {glue:text}`loss_last:.3f` (the source reports 0.448 to 0.001 over
# 100 epochs), and the held-out accuracy at the end is {glue:text}`acc_last:.2f` %. Chapter 4
# looks at those predictions in detail.
