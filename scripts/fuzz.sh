#!/usr/bin/env bash
# Runs the cargo-fuzz targets (every target in fuzz/Cargo.toml, or those named) for
# SECONDS_PER_TARGET each, on a stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz use its
# nightly flags). Installs cargo-fuzz (and a C++ compiler for libFuzzer) if missing.
#
#   scripts/fuzz.sh                                     # every target, 10 minutes each
#   SECONDS_PER_TARGET=60 scripts/fuzz.sh pair_ops      # one target, 1 minute
#   SECONDS_PER_TARGET=30 FUZZ_JOBS=2 scripts/fuzz.sh   # CI: 30 s each, two at a time
#
# Each target starts from its checked-in seeds (fuzz/seeds/<target>/, never written to) and
# its local corpus (fuzz/corpus/<target>/, created here, not checked in), and uses
# fuzz/dicts/<target>.dict if there is one. A crash, a panic, a timeout (an input running
# longer than FUZZ_TIMEOUT seconds) or running out of memory is written to
# fuzz/artifacts/<target>/ and printed (in base64 too, for CI logs) with the command that makes
# it a regression seed; the other targets still run, and the script exits non-zero at the end.
#
# Environment: SECONDS_PER_TARGET (600), FUZZ_JOBS (1) targets at a time, FUZZ_TIMEOUT (10),
# FUZZ_SANITIZER (none): `address` builds the targets with AddressSanitizer, at about half the
# speed (see the README's Fuzzing section).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
SECS=${SECONDS_PER_TARGET:-600}
JOBS=${FUZZ_JOBS:-1}
TIMEOUT=${FUZZ_TIMEOUT:-10}
SANITIZER=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
if ! command -v c++ >/dev/null && ! command -v clang++ >/dev/null; then
  # libfuzzer-sys compiles libFuzzer (C++).
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ >/dev/null
  else
    echo "fuzz.sh: a C++ compiler is needed to build libFuzzer (e.g. apt-get install g++)" >&2
    exit 1
  fi
fi
if [ "$SANITIZER" = address ]; then
  # `cc` instruments C++ for the sanitizer rustc uses; libFuzzer itself must not be, or its
  # per-input bookkeeping runs under ASan too (it roughly halves the speed again).
  export CXXFLAGS="${CXXFLAGS:-} -fno-sanitize=address"
fi
BUILD=(--sanitizer "$SANITIZER")

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(cargo fuzz list)
  [ ${#TARGETS[@]} -gt 0 ] || { echo "fuzz.sh: cargo fuzz list found no targets" >&2; exit 1; }
fi

mkdir -p target/fuzz-logs
start=$SECONDS
echo "building ${#TARGETS[@]} fuzz targets (sanitizer: $SANITIZER)"
fuzz_build() {
  cargo fuzz build "${BUILD[@]}" "$@" >target/fuzz-logs/build.log 2>&1 \
    || { tail -40 target/fuzz-logs/build.log; exit 1; }
}
if [ $# -eq 0 ]; then
  fuzz_build # every target
else
  for t in "${TARGETS[@]}"; do fuzz_build "$t"; done
fi
echo "  built in $((SECONDS - start))s"

# Runs one target; prints one summary line, or the finding. Fails on a finding.
run_target() {
  local t=$1 log="target/fuzz-logs/$1.log" dict=()
  mkdir -p "fuzz/corpus/$t"
  if [ -f "fuzz/dicts/$t.dict" ]; then dict=(-dict="fuzz/dicts/$t.dict"); fi
  if cargo fuzz run "${BUILD[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$SECS" -timeout="$TIMEOUT" -print_final_stats=1 \
      ${dict[@]+"${dict[@]}"} >"$log" 2>&1; then
    local runs speed cov
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    speed=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
    cov=$(grep -E '#[0-9]+.*DONE' "$log" | grep -oE 'cov: [0-9]+' | tail -1 || true)
    echo "  $t: $runs executions, $speed exec/s, $cov, no crash"
    return 0
  fi
  echo "  $t: FAILED (log: $log)"
  { grep -E 'panicked at' -A4 "$log" | head -10 || true; } | sed 's/^/    /'
  { grep -E 'ERROR: libFuzzer|^SUMMARY' "$log" || true; } | sed 's/^/    /'
  local found=0 artifact
  for artifact in $(grep -oE 'Test unit written to [^ ]+' "$log" | awk '{print $5}' || true); do
    found=1
    echo "    input: $artifact ($(wc -c <"$artifact") bytes)"
    echo "    make it a regression seed (README, Fuzzing):"
    echo "      cp $artifact fuzz/seeds/$t/regress-<what-it-found>"
    echo "    or, from this log:"
    echo "base64 -d > fuzz/seeds/$t/regress-WHAT <<'EOF'"
    base64 -w 76 "$artifact"
    echo "EOF"
  done
  [ $found = 1 ] || tail -20 "$log" | sed 's/^/    /'
  return 1
}

failed=()
for ((i = 0; i < ${#TARGETS[@]}; i += JOBS)); do
  batch=("${TARGETS[@]:i:JOBS}")
  echo "fuzzing ${batch[*]} for ${SECS}s"
  pids=()
  for t in "${batch[@]}"; do
    run_target "$t" &
    pids+=($!)
  done
  for j in "${!pids[@]}"; do
    wait "${pids[$j]}" || failed+=("${batch[$j]}")
  done
done

echo "fuzzing took $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "findings in: ${failed[*]}" >&2
  exit 1
fi
