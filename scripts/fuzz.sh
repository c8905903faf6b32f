#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS
#   Builds the libFuzzer targets (clang-14, ASan + UBSan, tests/fuzz/) in build-fuzz and runs
#   TARGET (json, msgpack, registry, subsystems, worker, skim, broker, or all) for SECONDS each,
#   starting from the committed seeds (tests/fuzz/corpus/TARGET); what it finds new goes to
#   build-fuzz/corpus/TARGET. A crash or a leak leaves its input in build-fuzz/artifacts/
#   and makes the script exit non-zero: turn that input into a regression test.
#   FUZZ_SEED=N makes a run repeatable (make test uses 1; 0, the default: random).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
targets=(json msgpack registry subsystems worker skim broker)
[ "$target" = all ] || targets=("$target")
CC=${FUZZ_CC:-clang-14}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Debug -DAC_FUZZ=ON \
  -DAC_SANITIZE=ON -DAC_WERROR=ON -DAC_BUILD_TESTS=OFF -DAC_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
mkdir -p build-fuzz/artifacts
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  echo "== fuzz_$t: ${seconds} s"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
    -seed="${FUZZ_SEED:-0}" \
    -artifact_prefix="build-fuzz/artifacts/$t-" -rss_limit_mb=2048 \
    "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" 2>&1 |
    grep -E "^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::average_exec_per_sec|cov:|==[0-9]+==ERROR|SUMMARY|artifact)" |
    tail -6 || true
  # libFuzzer's own exit status is lost in the pipe: a crash leaves an artifact
  if ls "build-fuzz/artifacts/$t-"* >/dev/null 2>&1; then
    echo "fuzz_$t: crashed; input in build-fuzz/artifacts/" >&2
    status=1
  fi
done
exit $status
