#!/usr/bin/env bash
# Runs every cargo-fuzz target (or those named) for SECONDS each (default 600), one after the
# other, on a stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz use its nightly flags).
# New corpus entries go to fuzz/corpus/<target> (not checked in); the seeds stay untouched.
# Crashes are written to fuzz/artifacts/<target>/ and stop the run with a non-zero status.
#
#   scripts/fuzz.sh                      # all targets, 10 minutes each
#   SECONDS_PER_TARGET=60 scripts/fuzz.sh pair_ops
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(server_frames client_frames server_handshake client_handshake pair_ops)
SECS=${SECONDS_PER_TARGET:-600}
export RUSTC_BOOTSTRAP=1
mkdir -p target/fuzz-logs
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="target/fuzz-logs/$t.log"
  echo "fuzzing $t for ${SECS}s (log: $log)"
  cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- -max_total_time="$SECS" -print_final_stats=1 >"$log" 2>&1 \
    || { echo "  $t: FAILED, see $log and fuzz/artifacts/$t/"; tail -20 "$log"; exit 1; }
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  speed=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  cov=$(grep -E '#[0-9]+.*DONE' "$log" | grep -oE 'cov: [0-9]+' | tail -1)
  echo "  $t: $runs executions, $speed exec/s, $cov, no crash"
done
