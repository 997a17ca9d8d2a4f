#!/usr/bin/env bash
# Here, on the CPU machine, before a GPU session: put what the device tool must carry into .gpu/
# (ignored by git). The GPU machine has PyTorch, torchvision, OpenCV, pandas and matplotlib but
# no network, no ../shared and no Jupyter stack. Run from the repository root:
#   bash benchmarks/gpu/prepare.sh        (about a minute; then see benchmarks/gpu/README.md)
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data/pki3-gband}
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
mkdir -p .gpu
# run (a): the 98 cells that `max_cells 98` picks (about 4,500 chromosomes, 6 MB)
rm -rf .gpu/pki3-98
$PY -c "from chromolib.specimens import copy_cells; df = copy_cells('$DATA', '.gpu/pki3-98', max_cells=98); \
print(f'{len(df)} chromosomes of {df.cell.nunique()} cells in .gpu/pki3-98')"
# run (b): all 612 cells (34 MB)
rm -rf .gpu/pki3-gband && cp -r "$DATA" .gpu/pki3-gband
# papermill, jupytext and myst-nb (the chapters glue numbers) for the machine's Python 3.12
rm -rf .gpu/whl
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .gpu/whl papermill==2.7.0 jupytext==1.19.6 ipykernel==7.4.0 myst-nb==1.4.0
du -sh --apparent-size .gpu/*
