#!/usr/bin/env bash
# Builds the release configuration's `tandem` program (and the library it needs) and runs the flagship demo,
# `tandem mtl`: a LeNet with hard parameter sharing on Multi-Fashion (two 10-class tasks on overlaid
# Fashion-MNIST items), trained with four task-weighting methods (ew, uw, pcgrad, cagrad) and compared with
# single-task training in a results table with Δm%. A few minutes on 2 cores. Extra arguments go to
# `tandem mtl` (see `build/release/cli/tandem mtl --help`), e.g. --arch hps,mmoe --seeds 3.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
fi
cmake --preset release >/dev/null
cmake --build --preset release --target tandem_cli
exec build/release/cli/tandem mtl "$@"
