#!/usr/bin/env bash
# Installs the release build (build/release, made by `cmake --workflow --preset test`) into a temporary prefix,
# then builds and runs a small outside project that finds it with find_package(tandem) and links tandem::tandem.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir=${1:-$root/build/release}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  echo "check_install: $build_dir is not a configured build; run cmake --workflow --preset test first" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log"

mkdir -p "$work/app"
cat >"$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(tandem_consumer LANGUAGES CXX)
find_package(tandem REQUIRED)
add_executable(app main.cpp)
target_link_libraries(app PRIVATE tandem::tandem)
CMAKE
cat >"$work/app/main.cpp" <<'CPP'
// Uses an installed tandem: a tensor, an op, a backward pass.
#include <tandem.h>

#include <cmath>
#include <iostream>

int main() {
  namespace td = tandem;
  td::Tensor x = td::tensor({1.0, 2.0, 3.0}, td::requires_grad());
  td::Tensor y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  const std::vector<double> g = x.grad().to_vector<double>();
  const bool ok = y.item<double>() == 14.0 && g == std::vector<double>{2.0, 4.0, 6.0};
  std::cout << "installed tandem: y = " << y.item<double>() << ", dy/dx = " << x.grad() << '\n';
  return ok ? 0 : 1;
}
CPP

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
  "${launcher[@]}" >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/app/build" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/app/build/app"
echo "check_install: find_package(tandem) + tandem::tandem from an install prefix works"
