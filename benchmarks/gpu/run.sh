#!/usr/bin/env bash
# On the GPU machine (the device tool runs this from the repository root), after prepare.sh:
#   bench    the speed benchmark (reference loop vs fast path, paper profile) and a profile
#   paper98  reference run (a): paper profile, 98 cells, through `chromolib train`; then the speed
#            benchmark if time is left in the call
#   full     reference run (b): all 612 cells, paper profile, in pieces of at most 9 minutes;
#            repeat until it prints "run (b) finished" (the machine must stay warm in between)
# Everything to commit lands in $OUT (the device tool brings it back). A smoke test of the same
# steps on a CPU: WHEELS= PY=.venv/bin/python PROFILE=tiny bash benchmarks/gpu/run.sh paper98
set -euo pipefail
STEP=${1:?usage: run.sh bench|paper98|full}
PROFILE=${PROFILE:-paper}
COMPILE=${COMPILE:-none}   # or a torch.compile mode, if the bench step's ablation shows that it pays
PY=${PY:-python3}
OUT=${OUT:-_build/gpu-out}
mkdir -p "$OUT"
WHEELS=${WHEELS-.gpu/whl}  # WHEELS= where papermill and friends are installed already
if [ -n "$WHEELS" ] && [ -d "$WHEELS" ]; then  # the chapters' papermill stack (not needed by the steps here)
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TQDM_DISABLE=1  # one line per epoch
$PY -c "import torch, torchvision, cv2; print('torch', torch.__version__, 'torchvision', torchvision.__version__, \
'opencv', cv2.__version__, 'device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
case $STEP in
bench)
    $PY -m chromolib.cli dataset runs/pki3-98/dataset --data .gpu/pki3-98 --quiet > /dev/null
    $PY -m chromolib.cli bench runs/pki3-98/dataset --profile "$PROFILE" --steps "${STEPS:-200}" --warmup 20 \
        --workers 8 --json "$OUT/bench.json" --trace "$OUT/trace.txt" | tee "$OUT/bench.txt"
    # what each speed setting adds: fp32, bf16, channels-last, CUDA graphs (torch.compile reduce-overhead)
    $PY -m chromolib.cli bench runs/pki3-98/dataset --profile "$PROFILE" --ablation --compile reduce-overhead \
        --steps 100 --warmup 20 --json "$OUT/ablation.json" | tee "$OUT/ablation.txt"
    ;;
paper98)
    # the paper profile on the patent-sized set through the command line: the chapters' papermill
    # wheels (39 MB) no longer fit beside the shipped models in the device tool's 64 MiB
    [ -f runs/gpu-98/dataset/manifest.csv ] ||
        $PY -m chromolib.cli dataset runs/gpu-98/dataset --data .gpu/pki3-98 --quiet > /dev/null
    resume=()
    [ -f runs/gpu-98/run/checkpoint.pt ] && resume=(--resume)
    $PY -m chromolib.cli train runs/gpu-98/dataset runs/gpu-98/run --profile "$PROFILE" --compile "$COMPILE" \
        "${resume[@]}" | tee "$OUT/train.log"
    cp runs/gpu-98/run/{metrics.json,history.csv,predictions.csv,config.json,review.json} "$OUT/"
    # then, in what is left of the call, the speed benchmark on the same data (two files back)
    if [ "$SECONDS" -lt "${BENCH_IF_UNDER_S:-330}" ]; then
        timeout $((${CALL_S:-540} - SECONDS)) $PY -m chromolib.cli bench runs/gpu-98/dataset --profile "$PROFILE" \
            --steps "${STEPS:-100}" --warmup 20 --workers 8 --json "$OUT/bench.json" | tee "$OUT/bench.txt" || true
    fi
    ;;
full)
    [ -f runs/pki3-all/dataset/manifest.csv ] ||
        $PY -m chromolib.cli dataset runs/pki3-all/dataset --data "${FULL_DATA:-.gpu/pki3-gband}" --quiet > /dev/null
    resume=()
    [ -f runs/pki3-all/run/checkpoint.pt ] && resume=(--resume)
    if timeout "${PIECE_S:-540}" $PY -m chromolib.cli train runs/pki3-all/dataset runs/pki3-all/run \
            --profile "$PROFILE" --compile "$COMPILE" "${resume[@]}" | tee "$OUT/train.log"; then
        cp runs/pki3-all/run/{metrics.json,history.csv,predictions.csv,config.json,review.json} "$OUT/"
        echo "run (b) finished"
    else
        done_epochs=0
        [ -f runs/pki3-all/run/history.csv ] && done_epochs=$(($(wc -l < runs/pki3-all/run/history.csv) - 1))
        echo "run (b) continues: $done_epochs epochs done; run this step again"
    fi
    ;;
*)
    echo "unknown step $STEP: bench, paper98 or full" >&2; exit 2 ;;
esac
