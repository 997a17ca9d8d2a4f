#!/usr/bin/env bash
# The real-data measurements behind results/ (see results/README.md). Run from the repository
# root with ../shared/data beside it: bash benchmarks/real_data.sh   (about an hour on 2 cores)
set -euo pipefail
PY=.venv/bin/python
D=../shared/data
mkdir -p results/rotation results/orient results/bench
$PY benchmarks/rotation.py --data $D/pki3-gband --max-cells 100 --plot results/rotation/pki3.png > results/rotation/pki3.txt
$PY benchmarks/rotation.py --cells 20 --plot results/rotation/synthetic.png > results/rotation/synthetic.txt
$PY benchmarks/rotation.py --data $D/bioimlab-qband --max-cells 30 --consistency \
    --plot results/rotation/qband_consistency.png > results/rotation/qband_consistency.txt
$PY benchmarks/rotation.py --real $D --out results/rotation > /dev/null        # real.txt, real.csv, worst_*.png
$PY benchmarks/rotation_polarity.py --real $D --out results/rotation > /dev/null   # polarity.txt, polarity.csv
$PY benchmarks/robustness.py --data $D/pki3-gband --max-cells 200 > results/robustness/log.txt
$PY benchmarks/orient_cell.py --data $D/pki3-gband --model runs/robustness/quick --cells 12 > results/orient/pki3_cells.txt
.venv/bin/chromolib bench runs/robustness/dataset --profile quick --steps 40 --warmup 4 --workers 2 \
    --json results/bench/cpu-quick.json > results/bench/cpu-quick.txt
# patent-sized (98 cells): the chapters through papermill, then variants on the same data set
$PY -m chromolib.book --out _build/quick-98 -p data $D/pki3-gband -p max_cells 98
DS=_build/quick-98/work/dataset
keep() { mkdir -p "results/$2"; cp "$1"/{metrics.json,history.csv,predictions.csv,config.json,review.json} "results/$2/"; }
keep _build/quick-98/work/run pki3-98-quick
.venv/bin/chromolib train $DS runs/quick98-e24 --profile quick --epochs 24 --quiet && keep runs/quick98-e24 pki3-98-quick-24ep
.venv/bin/chromolib train $DS runs/quick98-bf16 --profile quick --precision bf16 --layout channels_last --quiet &&
    keep runs/quick98-bf16 pki3-98-quick-bf16
.venv/bin/chromolib train $DS runs/r101-64-e24 --profile paper --size 64 --epochs 24 --precision bf16 \
    --layout channels_last --quiet && keep runs/r101-64-e24 pki3-98-resnet101-64px
.venv/bin/chromolib bench $DS --accuracy --profile quick --workers 2 --quiet \
    --json results/bench/cpu-quick-accuracy.json > results/bench/cpu-quick-accuracy.txt
for a in resnet18 resnet101; do
    .venv/bin/chromolib bench $DS --profile quick --arch $a --ablation --steps 30 --warmup 5 \
        --json results/bench/cpu-ablation-$a.json
done > results/bench/cpu-ablation.txt
