#!/usr/bin/env bash
# The whole test suite: the release build's tests, the same tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, then a check that an installed tandem works from an outside CMake project.
# Every step runs even when an earlier one failed; the last line sums them up and the exit status is non-zero
# on any failure. Run from anywhere: bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."

# Use ccache when it is installed (only read when a build folder is configured for the first time); paths
# relative to the checkout let another clone of the repository reuse the cache.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
fi

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
passed=0
failed=0
skipped=0
failed_steps=()

# Adds the counts of ctest's closing lines in $1 to the totals; returns 1 if there were none.
count_ctest() {
  local line total fails skips
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  [ -n "$line" ] || return 1
  fails=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  skips=$(grep -cE '\*\*\*Skipped|Not Run \(Disabled\)' "$1" || true)
  passed=$((passed + total - fails - skips))
  failed=$((failed + fails))
  skipped=$((skipped + skips))
}

run_workflow() {
  local preset=$1 log="$log_dir/$1.log" start=$SECONDS
  echo "==== cmake --workflow --preset $preset"
  if cmake --workflow --preset "$preset" 2>&1 | tee "$log"; then
    count_ctest "$log" || { failed_steps+=("$preset (no test summary)"); failed=$((failed + 1)); }
  else
    if ! count_ctest "$log"; then failed=$((failed + 1)); fi  # configure or build failed: count the step
    failed_steps+=("$preset")
  fi
  echo "==== $preset took $((SECONDS - start)) s"
}

run_workflow test
run_workflow asan-test

echo "==== scripts/check_install.sh"
if bash scripts/check_install.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  failed_steps+=("check_install")
fi

echo
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
fi
echo "summary: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ ${#failed_steps[@]} -eq 0 ]
