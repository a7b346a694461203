#!/usr/bin/env bash
# Runs the Autobahn|Testsuite (`wstest`) against every testee and compares the results with the
# checked-in expectations in tests/autobahn/expected-results.json.
#
#   scripts/autobahn.sh                  # all runs
#   RUNS="server-std client-smol" scripts/autobahn.sh
#   CASES='["1.*","2.*"]' scripts/autobahn.sh   # a subset (missing cases are then not checked)
#   COMPRESSION_RUNS="server-std-api client-smol" AUTOBAHN_JOBS=2 scripts/autobahn.sh
#
# Sections 12 and 13 (permessage-deflate, 216 cases) take 9-14 minutes per run inside wstest
# itself; COMPRESSION_RUNS names the runs that include them (default: every run). The others
# run sections 1-10 only, and their check leaves 12-13 out. CI runs 12-13 on one run per role.
# AUTOBAHN_JOBS (default 1) runs that many at a time.
#
# Each run is "<role>-<runtime>[-api]" (2 roles x 2 runtimes x 2 layers, all eight by default):
# `server-*` drives the fuzzing client against our
# autobahn-server, `client-*` runs our autobahn-client against the fuzzing server. A run fails on
# any FAILED, any NON-STRICT, any behaviour that differs from the expectations and any expected
# case missing from the report (wstest silently skips the rest when a testee refuses a
# connection). One summary line is printed per run. wstest is found in $WSTEST,
# /opt/autobahn-wstest/wstest or PATH, and installed if none is found.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

find_wstest() {
  for candidate in "${WSTEST:-}" /opt/autobahn-wstest/wstest "$(command -v wstest || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
if ! WSTEST=$(find_wstest); then
  bash "$root/scripts/wstest/install.sh" >&2
  WSTEST=$(find_wstest) || { echo "autobahn: wstest still not found after installing" >&2; exit 1; }
fi

RUNS=${RUNS:-"server-std server-smol client-std client-smol server-std-api server-smol-api client-std-api client-smol-api"}
CASES=${CASES:-'["*"]'}
COMPRESSION_RUNS=${COMPRESSION_RUNS:-$RUNS}
EXPECTED="$root/tests/autobahn/expected-results.json"
OUT=${OUT:-"$root/target/autobahn"}
rm -rf "$OUT"
mkdir -p "$OUT"

cargo build --release -q -p ws-tests --bin autobahn-server --bin autobahn-client
BIN="$root/target/release"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_for_port() {
  for _ in $(seq 1 600); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "autobahn: nothing listening on port $1" >&2
  return 1
}

# One run: starts the testee and wstest, then checks the report. Its summary goes to
# $OUT/<run>/summary.txt; it exits non-zero if the check failed.
one_run() {
  local run=$1 role runtime layer agent dir port log exclude pids=()
  trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
  IFS=- read -r role runtime layer <<<"$run"
  layer=${layer:-adapter}
  agent="ws-$role-$runtime-$layer"
  dir="$OUT/$run"
  mkdir -p "$dir"
  port=$(free_port)
  log="$dir/testee.log"
  case " $COMPRESSION_RUNS " in
    *" $run "*) exclude='[]' ;;
    *) exclude='["12.*", "13.*"]' ;;
  esac
  case "$role" in
    server)
      "$BIN/autobahn-server" --runtime "$runtime" --layer "$layer" --addr "127.0.0.1:$port" >"$log" 2>&1 &
      pids+=($!)
      wait_for_port "$port" || { echo "autobahn $run: FAILED: nothing listening" >"$dir/summary.txt"; return 1; }
      cat >"$dir/spec.json" <<JSON
{"outdir": "$dir/report", "servers": [{"agent": "$agent", "url": "ws://127.0.0.1:$port"}],
 "cases": $CASES, "exclude-cases": $exclude, "exclude-agent-cases": {}}
JSON
      (cd "$dir" && timeout 2400 "$WSTEST" -m fuzzingclient -s spec.json >"$dir/wstest.log" 2>&1) || true
      ;;
    client)
      # The fuzzing server binds a port chosen a moment earlier, which another process may take
      # first (runs in parallel, tests): try another port if it did not come up.
      local attempt wstest_pid=""
      for attempt in 1 2 3; do
        cat >"$dir/spec.json" <<JSON
{"url": "ws://127.0.0.1:$port", "outdir": "$dir/report", "cases": $CASES,
 "exclude-cases": $exclude, "exclude-agent-cases": {}}
JSON
        # -u 0: no web UI, whose fixed port (8080) two client runs at once would both take.
        (cd "$dir" && exec "$WSTEST" -m fuzzingserver -u 0 -s spec.json >"$dir/wstest.log" 2>&1) &
        wstest_pid=$!
        pids+=("$wstest_pid")
        # Still alive a moment after the port answers: it is the one listening there.
        if wait_for_port "$port" && sleep 2 && kill -0 "$wstest_pid" 2>/dev/null; then break; fi
        kill "$wstest_pid" 2>/dev/null || true
        if [ "$attempt" = 3 ]; then
          echo "autobahn $run: FAILED: the fuzzing server did not start" >"$dir/summary.txt"
          return 1
        fi
        port=$(free_port)
      done
      timeout 2400 "$BIN/autobahn-client" --runtime "$runtime" --layer "$layer" \
        --url "ws://127.0.0.1:$port" --agent "$agent" >"$log" 2>&1 || true
      ;;
    *) echo "autobahn: unknown run $run" >"$dir/summary.txt"; return 2 ;;
  esac
  if ! python3 scripts/autobahn_check.py "$run" "$agent" "$dir/report/index.json" "$EXPECTED" \
    "$CASES" "$exclude" >"$dir/summary.txt"; then
    echo "    (testee log: $log; wstest log: $dir/wstest.log)" >>"$dir/summary.txt"
    return 1
  fi
}

# Runs go JOBS at a time (each wstest is one Python process, mostly busy on one core); the
# summaries are printed in the order of RUNS.
JOBS=${AUTOBAHN_JOBS:-1}
running=()
cleanup() { for pid in "${running[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
declare -A run_pid
for run in $RUNS; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  one_run "$run" &
  run_pid[$run]=$!
  running+=($!)
done
status=0
for run in $RUNS; do
  wait "${run_pid[$run]}" || status=1
  cat "$OUT/$run/summary.txt"
done
exit $status
