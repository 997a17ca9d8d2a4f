# Two commands on a fresh machine:  make book  |  make test   (both install what they need)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test install notebooks bench model type-models segmenter clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch and torchvision first, pinned together (see README: versions that import together)
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

install: $(STAMP)

## book: execute every chapter with papermill (quick profile, CPU) and render HTML to _build/_build/html.
## Data: real Pki-3 (and BioImLab Q-band) crops from the download cache, ../shared/data or a download,
## else synthetic chromosomes; BOOK_ARGS="-p data DIR" for a folder of one's own, "--no-download" offline.
## The rendered pages are then checked (chromolib.book.page_problems): a page a reader should not see fails.
book: $(STAMP)
	$(BIN)/python -m chromolib.book --out _build $(BOOK_ARGS)
	@echo "open _build/_build/html/index.html"

## test: the test suite (unit tests, every notebook through papermill with tiny parameters, the book build)
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## notebooks: create the paired .ipynb next to each notebooks/*.py (for Jupyter Lab)
notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

## bench: rotation speed and accuracy, sweep against hull, one run
bench: $(STAMP)
	$(BIN)/python benchmarks/rotation.py

## model: train the `cpu` recipe on all of Pki-3 (2-core CPU: about an hour), measure it in another
## laboratory (KaryoNet G-band, never trained on) and export it into the package with its model card
PKI3     ?= $(shell test -d ../shared/data/pki3-gband && echo ../shared/data/pki3-gband || $(BIN)/chromolib data get pki3-gband --quiet)
KARYONET ?= ../shared/data/karyonet-gband
MODEL_RUN = runs/pki3-all/cpu
model: $(STAMP)
	$(BIN)/chromolib dataset runs/pki3-all/dataset --data $(PKI3)
	$(BIN)/chromolib train runs/pki3-all/dataset $(MODEL_RUN) --profile cpu
	mkdir -p results/pki3-cpu && cp $(MODEL_RUN)/config.json $(MODEL_RUN)/history.csv $(MODEL_RUN)/metrics.json \
		$(MODEL_RUN)/predictions.csv $(MODEL_RUN)/review.json results/pki3-cpu/
	$(BIN)/python benchmarks/orient_cell.py --data $(KARYONET) --all-cells --cells 0 --draws 5 --model $(MODEL_RUN) \
		--json results/pki3-cpu/karyonet.json --details results/pki3-cpu/karyonet_details.csv
	$(BIN)/chromolib export $(MODEL_RUN) --external results/pki3-cpu/karyonet.json

## type-models: train the type recipe (`--profile type`) on all of Pki-3 G-band (2-core CPU: about 50 minutes) and
## on BioImLab Q-band (from scratch, and from the G-band network: about 8 minutes each), commit-ready outputs under
## results/types/, the external check on KaryoNet through `chromolib orient`, and export the G-band model and the
## G-band-initialised Q-band model into the package with their model cards
QBAND    ?= $(shell test -d ../shared/data/bioimlab-qband && echo ../shared/data/bioimlab-qband || $(BIN)/chromolib data get bioimlab-qband --quiet)
TYPE_FILES = config.json history.csv metrics.json predictions.csv review.json
type-models: $(STAMP)
	$(BIN)/chromolib dataset runs/pki3-all/dataset --data $(PKI3)
	$(BIN)/chromolib train runs/pki3-all/dataset runs/types/pki3-type --profile type
	$(BIN)/chromolib dataset runs/qband/dataset --data $(QBAND) --as-cut
	$(BIN)/chromolib train runs/qband/dataset runs/types/qband-type --profile type
	$(BIN)/chromolib train runs/qband/dataset runs/types/qband-type-gband-init --profile type \
		--weights runs/types/pki3-type/checkpoint.pt --lr 0.005
	for r in pki3-type qband-type qband-type-gband-init; do mkdir -p results/types/$$r && \
		(cd runs/types/$$r && cp $(TYPE_FILES) ../../../results/types/$$r/); done
	$(BIN)/chromolib export runs/types/pki3-type --stain gband
	$(BIN)/chromolib export runs/types/qband-type-gband-init --stain qband
	$(BIN)/python benchmarks/orient_cell.py --data $(KARYONET) --all-cells --cells 0 --json results/types/karyonet.json
	$(BIN)/chromolib export runs/types/pki3-type --stain gband --external results/types/karyonet.json

## segmenter: train the U-Net segmenter on the BioImLab spreads (30 minutes on a 2-core CPU), compare it with the
## classical one on the held-out cases (results/segmentation-unet/) and ship it (chromolib/models/segmenter-qband.pt)
SPREADS  ?= $(shell test -d ../shared/data/bioimlab-spreads && echo ../shared/data/bioimlab-spreads || $(BIN)/chromolib data get bioimlab-spreads --quiet)
segmenter: $(STAMP)
	$(BIN)/python benchmarks/train_unet.py --data $(SPREADS) --minutes 30 --threads 2 --out runs/unet \
		--results results/segmentation-unet --ship

clean:
	rm -rf _build runs .pytest_cache
