#!/usr/bin/env bash
# the real-data measurements behind results/ (run from the repository root)
set -e
. .venv/bin/activate
D=../shared/data/pki3-gband
( time python benchmarks/rotation.py --data $D --max-cells 100 --plot results/rotation/pki3.png ) > results/rotation/pki3.txt 2>&1
( time python benchmarks/rotation.py --cells 20 --plot results/rotation/synthetic.png ) > results/rotation/synthetic.txt 2>&1
( time python benchmarks/robustness.py --data $D --max-cells 200 ) > results/robustness.log 2>&1
( time python benchmarks/orient_cell.py --data $D --model runs/robustness/quick --cells 3 ) > results/orient/pki3_cells.txt 2>&1
( time chromolib bench runs/robustness/dataset --profile quick --steps 40 --warmup 4 --workers 2 --json results/bench/cpu-quick.json ) > results/bench/cpu-quick.txt 2>&1
echo ALLDONE
