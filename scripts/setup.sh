#!/usr/bin/env bash
# Installs, from Debian's archive, what a fresh Debian 12 (bookworm) machine lacks to build tandem, run its
# tests, the demo and the benchmarks. Only missing packages are installed; sudo is used when not root.
# The CUDA toolkit is not installed here: when nvcc is present (/usr/local/cuda), the build uses it.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ ccache           # the build
  libgtest-dev                           # tests
  libbenchmark-dev libopenblas-dev       # benchmarks (OpenBLAS only as a comparison)
  zlib1g-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  dataset-fashion-mnist                  # real data (IDX files under /usr/share/datasets/fashion-mnist)
  python3-matplotlib                     # plots of benchmark and training results
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages are already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
