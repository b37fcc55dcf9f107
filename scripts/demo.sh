#!/usr/bin/env bash
# Builds the release configuration's `tandem` program (and the library it needs) and runs its demo:
# a two-task network trained with tandem's tensors and autograd. Extra arguments go to `tandem demo`
# (--seed, --steps, --lr, --threads; see `build/release/cli/tandem demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
fi
cmake --preset release >/dev/null
cmake --build --preset release --target tandem_cli
exec build/release/cli/tandem demo "$@"
