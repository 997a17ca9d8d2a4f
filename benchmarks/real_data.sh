#!/usr/bin/env bash
# The real-data measurements behind results/ (see results/README.md). Run from the repository
# root with ../shared/data beside it: bash benchmarks/real_data.sh   (about 15 minutes on 2 cores)
set -euo pipefail
PY=.venv/bin/python
D=../shared/data
mkdir -p results/rotation results/orient results/bench
$PY benchmarks/rotation.py --data $D/pki3-gband --max-cells 100 --plot results/rotation/pki3.png > results/rotation/pki3.txt
$PY benchmarks/rotation.py --cells 20 --plot results/rotation/synthetic.png > results/rotation/synthetic.txt
$PY benchmarks/rotation.py --data $D/bioimlab-qband --max-cells 30 --consistency \
    --plot results/rotation/qband_consistency.png > results/rotation/qband_consistency.txt
$PY benchmarks/robustness.py --data $D/pki3-gband --max-cells 200 > results/robustness/log.txt
$PY benchmarks/orient_cell.py --data $D/pki3-gband --model runs/robustness/quick --cells 12 > results/orient/pki3_cells.txt
.venv/bin/chromolib bench runs/robustness/dataset --profile quick --steps 40 --warmup 4 --workers 2 \
    --json results/bench/cpu-quick.json > results/bench/cpu-quick.txt
