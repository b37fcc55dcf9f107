#!/usr/bin/env bash
# Runs the multi-task benchmark tables recorded in bench/results/ (long: about an hour on one core of a quiet 2-core machine) with the
# release build's `tandem` program:
#   - Multi-Fashion, hard sharing (hps) with every weighting method, and MMoE with the main ones;
#   - the MMoE synthetic sweep over the task correlation p in {0.5, 0.9, 1.0}: shared-bottom (hps), one-gate
#     MoE and MMoE.
# Each table goes to bench/results/mtl/<name>/results.{md,csv} with one JSONL log per run (plot them with
# scripts/plot_mtl.py). Options: SEEDS, EPOCHS, TRAIN_SIZE, THREADS in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
TANDEM=${TANDEM:-build/release/cli/tandem}
SEEDS=${SEEDS:-2}
EPOCHS=${EPOCHS:-4}
TRAIN_SIZE=${TRAIN_SIZE:-10000}
THREADS=${THREADS:-1}
OUT=bench/results/mtl
if [[ ! -x $TANDEM ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target tandem_cli
fi
mkdir -p "$OUT"

for p in 0.5 0.9 1.0; do
  "$TANDEM" mtl --data mmoe-synthetic --correlation "$p" --arch hps,moe,mmoe --weighting ew --seeds 3 \
    --epochs 20 --threads "$THREADS" --out "$OUT/mmoe_synthetic_p$p" | tee "$OUT/mmoe_synthetic_p$p.log"
done

ALL=ew,fixed,uw,dwa,rlw,gls,gradnorm,famo,mgda,mgda:scope=rep,pcgrad,cagrad,gradvac,imtl,aligned_mtl,nash_mtl,db_mtl,upgrad,graddrop
"$TANDEM" mtl --data multi-fashion --arch hps --weighting "$ALL" --seeds "$SEEDS" --epochs "$EPOCHS" \
  --train-size "$TRAIN_SIZE" --test-size 5000 --threads "$THREADS" --out "$OUT/multi_fashion_hps" \
  | tee "$OUT/multi_fashion_hps.log"
"$TANDEM" mtl --data multi-fashion --arch mmoe --weighting ew,uw,mgda,pcgrad,cagrad --seeds "$SEEDS" \
  --epochs "$EPOCHS" --train-size "$TRAIN_SIZE" --test-size 5000 --threads "$THREADS" \
  --out "$OUT/multi_fashion_mmoe" | tee "$OUT/multi_fashion_mmoe.log"
