#!/usr/bin/env bash
# Builds the CUDA benchmarks of the release preset (bench_sgemm_cuda, bench_kernels_cuda, bench_train_step_cuda),
# runs each with JSON output and writes bench/results/gpu_<date>.md: the GPU, driver and CUDA version, one
# markdown table per program, and the SGEMM ladder plot bench/results/gpu_<date>_sgemm.png (scripts/plot_bench.py;
# the plot needs python3-matplotlib). The raw JSON and console logs go to bench/results/gpu_<date>/.
# Every benchmark checks its result before timing it; a program with a wrong result exits 1, and so does this
# script (after writing the report, where the failed rows say what was wrong).
# Without an NVIDIA GPU it says so and exits 0.
#
#   scripts/bench_gpu.sh                          everything (about 10 minutes on an H100)
#   FILTER='sgemm_(cublas|[5-8])' scripts/bench_gpu.sh    only matching benchmarks (--benchmark_filter)
#   BUILD=build/release JOBS=8                    the build folder of the release preset and the build jobs
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench_gpu.sh: no NVIDIA GPU found (nvidia-smi is missing or lists no device); nothing to measure."
  exit 0
fi

BUILD=${BUILD:-build/release}
JOBS=${JOBS:-$(nproc)}
FILTER=${FILTER:-}
PROGRAMS=(sgemm_cuda kernels_cuda train_step_cuda)

cmake --preset release -DTANDEM_WITH_CUDA=ON
cmake --build "$BUILD" -j "$JOBS" --target "${PROGRAMS[@]/#/bench_}"

DATE=$(date +%Y-%m-%d)
RESULTS=bench/results
RAW=$RESULTS/gpu_$DATE
mkdir -p "$RAW"

GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
NVCC=$(grep -m1 '^CMAKE_CUDA_COMPILER:' "$BUILD/CMakeCache.txt" | cut -d= -f2)
CUDA_VERSION=$("${NVCC:-nvcc}" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
echo "bench_gpu.sh: $GPU, driver $DRIVER, CUDA $CUDA_VERSION"

status=0
JSON_FILES=()
for program in "${PROGRAMS[@]}"; do
  json=$RAW/$program.json
  JSON_FILES+=("$json")
  args=(--benchmark_out="$json" --benchmark_out_format=json --benchmark_counters_tabular=true)
  [[ -n $FILTER ]] && args+=(--benchmark_filter="$FILTER")
  echo "bench_gpu.sh: running bench_$program"
  if ! "$BUILD/bench/bench_$program" "${args[@]}" 2>&1 | tee "$RAW/$program.log"; then
    echo "bench_gpu.sh: bench_$program failed (see $RAW/$program.log)"
    status=1
  fi
done

/usr/bin/python3 scripts/plot_bench.py \
  --markdown "$RESULTS/gpu_$DATE.md" --plot "$RESULTS/gpu_${DATE}_sgemm.png" \
  --title "tandem CUDA benchmarks, $DATE" \
  --context "GPU: $GPU" --context "driver: $DRIVER" --context "CUDA toolkit: $CUDA_VERSION" \
  --context "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)" --context "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --context "raw JSON and logs: $RAW/" \
  "${JSON_FILES[@]}"

echo "bench_gpu.sh: report in $RESULTS/gpu_$DATE.md"
exit $status
