# Two commands on a fresh machine:  make book  |  make test   (both install what they need)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test install notebooks bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch and torchvision first, pinned together (see README: versions that import together)
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

install: $(STAMP)

## book: execute every chapter with papermill (quick profile, CPU) and render HTML to _build/_build/html
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

clean:
	rm -rf _build runs .pytest_cache
