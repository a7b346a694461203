#!/usr/bin/env bash
# Side-by-side echo benchmark: the same load against our servers, the reference Rust servers
# and a plain TCP echo (the ceiling), then idle memory per connection and the core's
# micro-benchmarks. Writes BENCHMARKS-style Markdown tables and an SVG chart.
#
#   scripts/bench.sh                 # the full run for the record (about 13 minutes)
#   scripts/bench.sh quick           # under 3 minutes, for iterating
#   SERVERS="tcp-raw smol" SCENARIOS="small-8x128" scripts/bench.sh quick
#
# Servers (each started alone on a free 127.0.0.1 port, measured, then stopped):
#   tcp-raw            bench/src/bin/peer_tcp.rs: answers the handshake, then echoes bytes
#   tokio-tungstenite  bench/src/bin/peer_tungstenite.rs (tokio, 2 worker threads)
#   fastwebsockets     bench/src/bin/peer_fastwebsockets.rs (hyper 1 + tokio, 2 workers)
#   smol               ws-runtime-smol's echo_server example (SMOL_THREADS executor threads)
#   std                ws-runtime-std's echo_server example
#   ws-api-smol        ws-api's echo_server example, --runtime smol (callbacks on the blocking
#                      pool, the default: safe for callbacks that block)
#   ws-api-smol-inline the same with --inline-callbacks (callbacks on the executor)
#   ws-api-std         ws-api's echo_server example, --runtime std
#   smol-before        with BASELINE=<git revision>: smol's, std's and ws-api's echo_server
#   std-before         examples built at that revision, measured in the same run (a
#   ws-api-std-before  before/after comparison)
#   ws-api-smol-before
#   node-ws            bench/peers/node_ws_echo.js: Node `ws` with perMessageDeflate (compressed
#                      scenarios only; installed by scripts/setup-interop.sh)
#   py-websockets      bench/peers/py_ws_echo.py: Python `websockets` (compressed scenarios only)
# The load generator is bench/src/bin/load.rs, idle memory bench/src/bin/idle.rs, the core's
# micro-benchmarks bench/src/bin/proto.rs; bench/ is a standalone package outside the
# workspace, built into target/bench.
#
# Scenarios (connections × messages in flight, size):
#   latency      1 × 1, 16 B binary (one round trip at a time)
#   small-64x16  64 × 16, 16 B binary
#   small-8x128  8 × 128, 16 B binary (about a hundred messages per read)
#   text-1k      64 × 4, 1 KiB text (UTF-8 with multi-byte characters)
#   64k          64 × 2, 64 KiB binary
#   1m           1 × 2, 1 MiB binary
#   conns-1000   1000 × 1, 1 KiB binary
#
# Compressed scenarios (permessage-deflate, text the load generator sends compressed and the
# servers compress back; DEFLATE_SERVERS, default smol std ws-api-std node-ws py-websockets):
#   deflate-1k   64 × 4, 1 KiB JSON-like text
#   deflate-64k  64 × 2, 64 KiB JSON-like text
# with their own report section (ratios to node-ws) and memory per compressing connection
# (idle --deflate: the connections offer compression and exchange one compressed 1 KiB text).
#
# Method: with two or more cores the server is pinned to core 0 and the load generator to
# core 1 (taskset), so neither steals the other's CPU; smol servers then get one executor
# thread (SMOL_THREADS, unless set). Repeats are interleaved (every scenario and server once,
# then again), so a slow phase of the machine hits every server alike; the report gives the
# median and the spread of the repeats, and every median as a ratio to tokio-tungstenite and
# to raw TCP. Run it on an otherwise idle machine: figures from a busy machine (a build, a
# test run) are only a smoke test.
#
# Settings (environment): BASELINE (a git revision, see smol-before above), REPEATS, SECONDS (measured seconds per run), WARMUP, IDLE_CONNECTIONS
# (0 skips the idle measurement), SERVERS, SCENARIOS, PROTO (0 skips the micro-benchmarks),
# OUT (output directory, default target/bench/report), DEFLATE (0 skips the compressed
# scenarios), DEFLATE_SERVERS. Modes set the defaults:
#   full:  REPEATS=3 SECONDS=2 WARMUP=1 IDLE_CONNECTIONS=10000 PROTO=1
#   quick: REPEATS=1 SECONDS=1 WARMUP=0.5 IDLE_CONNECTIONS=1000 PROTO=1
# Outputs in OUT: results.tsv, idle.tsv, proto.tsv, results-deflate.tsv, idle-deflate.tsv (raw),
# report.md (tables), chart.svg.
# Exits non-zero if any run failed (including echoes that did not match what was sent).
# Linux only (/proc, taskset).
set -euo pipefail

mode=${1:-full}
case "$mode" in
  full) d_repeats=3 d_seconds=2 d_warmup=1 d_idle=10000 ;;
  quick) d_repeats=1 d_seconds=1 d_warmup=0.5 d_idle=1000 ;;
  *) echo "usage: scripts/bench.sh [full|quick]" >&2; exit 2 ;;
esac
# Bash's own SECONDS counts up from the value it inherited, so read the value given to this
# process from its initial environment instead.
seconds=$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^SECONDS=//p' | tail -n 1)
seconds=${seconds:-$d_seconds}
repeats=${REPEATS:-$d_repeats}
warmup=${WARMUP:-$d_warmup}
idle_connections=${IDLE_CONNECTIONS:-$d_idle}
run_proto=${PROTO:-1}
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-$root/target/bench/report}

all_servers="tcp-raw tokio-tungstenite fastwebsockets smol std ws-api-smol ws-api-smol-inline ws-api-std"
if [ -n "${BASELINE:-}" ]; then
  all_servers="$all_servers smol-before std-before ws-api-smol-before ws-api-std-before"
fi
servers=${SERVERS:-$all_servers}
run_deflate=${DEFLATE:-1}
deflate_servers=${DEFLATE_SERVERS:-"smol std ws-api-std node-ws py-websockets"}
# id:connections:pipeline:size:kind:description, as below; all text, sent compressed.
deflate_scenarios=(
  "deflate-1k:64:4:1024:deflate:64 × 4, 1 KiB text, compressed"
  "deflate-64k:64:2:65536:deflate:64 × 2, 64 KiB text, compressed"
)
# id:connections:pipeline:size:kind:description
all_scenarios=(
  "latency:1:1:16:binary:1 conn, 16 B ping-pong"
  "small-64x16:64:16:16:binary:64 conns × 16 in flight, 16 B"
  "small-8x128:8:128:16:binary:8 conns × 128 in flight, 16 B"
  "text-1k:64:4:1024:text:64 × 4, 1 KiB text"
  "64k:64:2:65536:binary:64 × 2, 64 KiB"
  "1m:1:2:1048576:binary:1 × 2, 1 MiB"
  "conns-1000:1000:1:1024:binary:1000 conns × 1, 1 KiB"
)
scenarios=()
for scenario in "${all_scenarios[@]}"; do
  id=${scenario%%:*}
  if [ -z "${SCENARIOS:-}" ] || [[ " $SCENARIOS " == *" $id "* ]]; then
    scenarios+=("$scenario")
  fi
done
for server in $servers; do
  case " $all_servers " in
    *" $server "*) ;;
    *) echo "bench: unknown server $server in SERVERS (known: $all_servers)" >&2; exit 2 ;;
  esac
done
for server in $deflate_servers; do
  case " smol std ws-api-smol ws-api-std node-ws py-websockets " in
    *" $server "*) ;;
    *) echo "bench: $server in DEFLATE_SERVERS does not compress" >&2; exit 2 ;;
  esac
done

# What the script runs besides Cargo: python3 (free ports, the report) and taskset (pinning).
for tool in python3 taskset; do
  if ! command -v "$tool" >/dev/null; then
    package=$([ "$tool" = taskset ] && echo util-linux || echo python3)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "$package" >/dev/null
    elif [ "$tool" = python3 ]; then
      echo "bench: python3 is needed (e.g. apt-get install python3)" >&2
      exit 1
    fi
  fi
done

# Pinning: the server on core 0, the load generator on core 1.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server=(taskset -c 0)
  pin_load=(taskset -c 1)
  export SMOL_THREADS=${SMOL_THREADS:-1}
else
  echo "bench: fewer than two cores (or no taskset): server and load share the CPU" >&2
  pin_server=()
  pin_load=()
  export SMOL_THREADS=${SMOL_THREADS:-2}
fi
# Every connection is a file descriptor on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bin="$root/target/bench/bin"
logs="$out/logs"
mkdir -p "$bin" "$logs"

echo "building (release)..." >&2
# The examples are all named echo_server and land on the same path: copy each one away.
cargo build --release -q -p ws-runtime-std --example echo_server
cp -f "$root/target/release/examples/echo_server" "$bin/echo-server-std"
cargo build --release -q -p ws-runtime-smol --example echo_server
cp -f "$root/target/release/examples/echo_server" "$bin/echo-server-smol"
cargo build --release -q -p ws-api --example echo_server
cp -f "$root/target/release/examples/echo_server" "$bin/echo-server-api"
cargo build --release -q --manifest-path bench/Cargo.toml --target-dir "$root/target/bench"
if [ -n "${BASELINE:-}" ]; then
  # The same examples at the baseline revision, from a worktree of their own.
  base_src="$root/target/bench/baseline-src"
  base_target="$root/target/bench/baseline-target"
  git worktree remove --force "$base_src" 2>/dev/null || rm -rf "$base_src"
  git worktree add --detach -q "$base_src" "$BASELINE"
  for runtime in std smol; do
    cargo build --release -q --manifest-path "$base_src/Cargo.toml" --target-dir "$base_target" \
      -p "ws-runtime-$runtime" --example echo_server
    cp -f "$base_target/release/examples/echo_server" "$bin/echo-server-$runtime-before"
  done
  cargo build --release -q --manifest-path "$base_src/Cargo.toml" --target-dir "$base_target" \
    -p ws-api --example echo_server
  cp -f "$base_target/release/examples/echo_server" "$bin/echo-server-api-before"
  git worktree remove --force "$base_src"
fi
tools="$root/target/bench/release"
python=python3
if [ "$run_deflate" = 1 ]; then
  # Python websockets and Node ws, the compressing peers (the interop tests' pinned versions).
  python=$(scripts/setup-interop.sh | tail -n 1)
  export NODE_PATH="$root/target/interop/node/node_modules"
fi

server_command() {
  case "$1" in
    tcp-raw) echo "$tools/peer-tcp" ;;
    tokio-tungstenite) echo "$tools/peer-tungstenite" ;;
    fastwebsockets) echo "$tools/peer-fastwebsockets" ;;
    smol) echo "$bin/echo-server-smol" ;;
    std) echo "$bin/echo-server-std" ;;
    ws-api-smol) echo "$bin/echo-server-api --runtime smol" ;;
    ws-api-smol-inline) echo "$bin/echo-server-api --runtime smol --inline-callbacks" ;;
    ws-api-std) echo "$bin/echo-server-api --runtime std" ;;
    smol-before) echo "$bin/echo-server-smol-before" ;;
    std-before) echo "$bin/echo-server-std-before" ;;
    ws-api-smol-before) echo "$bin/echo-server-api-before --runtime smol" ;;
    ws-api-std-before) echo "$bin/echo-server-api-before --runtime std" ;;
    node-ws) echo "node $root/bench/peers/node_ws_echo.js" ;;
    py-websockets) echo "$python $root/bench/peers/py_ws_echo.py" ;;
  esac
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_for_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# The load generator and the server run in the background, so a signal interrupts `wait` and
# the EXIT trap stops whichever of them is running.
server_pid=""
load_pid=""
stop() {
  local pid
  for pid in "$load_pid" "$server_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  load_pid=""
  server_pid=""
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts server $1 with its log in $2; sets server_pid and port.
start_server() {
  local command
  command=$(server_command "$1")
  port=$(free_port)
  # shellcheck disable=SC2086 # the command carries its arguments
  "${pin_server[@]}" $command --addr "127.0.0.1:$port" >"$2" 2>&1 &
  server_pid=$!
  wait_for_port "$port"
}

status=0
# A stalled server cannot hang the script: the load generator gets a generous time limit.
limit=$(awk -v s="$seconds" -v w="$warmup" 'BEGIN { print int(s + w + 60) }')

# Runs every scenario of the remaining arguments against every server in $2, $repeats times,
# appending rows to the results file $1.
measure() {
  local results=$1 servers=$2 repeat scenario name connections pipeline size kind description
  local server log row line
  shift 2
  printf 'scenario\tdescription\tserver\trepeat\tmessages_per_s\tp50_us\tp99_us\n' >"$results"
  for repeat in $(seq 1 "$repeats"); do
    for scenario in "$@"; do
      IFS=: read -r name connections pipeline size kind description <<<"$scenario"
      load_args=(--connections "$connections" --pipeline "$pipeline" --size "$size"
        --seconds "$seconds" --warmup "$warmup" --tsv)
      if [ "$kind" = text ]; then load_args+=(--text); fi
      if [ "$kind" = deflate ]; then load_args+=(--text --deflate); fi
      # Past 64 connections, poll(2) threads instead of one blocking thread per connection.
      if [ "$connections" -gt 64 ]; then load_args+=(--threads 4); fi
      for server in $servers; do
        log="$logs/$name-$server-$repeat.log"
        extra=()
        if [ "$server" = tcp-raw ]; then extra=(--masked-echo); fi
        echo "[$repeat/$repeats $name] $server" >&2
        row="$name	$description	$server	$repeat"
        if ! start_server "$server" "$log"; then
          echo "bench: $server is not listening (log: $log)" >&2
          printf '%s\tFAILED\t-\t-\n' "$row" >>"$results"
          status=1
          stop
          continue
        fi
        timeout "$limit" "${pin_load[@]}" "$tools/load" --url "ws://127.0.0.1:$port/" \
          "${load_args[@]}" "${extra[@]}" >"$out/load.out" 2>>"$log" &
        load_pid=$!
        if wait "$load_pid"; then
          load_pid=""
          line=$(cat "$out/load.out")
          echo "  $line" >&2
          printf '%s\t%s\n' "$row" "$line" >>"$results"
        else
          load_pid=""
          echo "bench: load against $server failed (log: $log)" >&2
          printf '%s\tFAILED\t-\t-\n' "$row" >>"$results"
          status=1
        fi
        stop
      done
    done
  done
}

results="$out/results.tsv"
measure "$results" "$servers" "${scenarios[@]}"
results_deflate="$out/results-deflate.tsv"
if [ "$run_deflate" = 1 ]; then
  measure "$results_deflate" "$deflate_servers" "${deflate_scenarios[@]}"
fi

# Idle memory: the server's resident memory per connection with IDLE_CONNECTIONS open
# WebSocket connections (one of them the warm-up connection), after the handshake and after
# one 1 KiB message echoed on each. The plain TCP echo is not a WebSocket server: left out.
# Measures idle memory for the servers in $2 into the file $1; further arguments go to idle.
measure_idle() {
  local idle=$1 servers=$2 server log line
  shift 2
  printf 'server\tconnections\trss_per_conn_handshake\trss_per_conn_echo\tthreads\n' >"$idle"
  for server in $servers; do
    [ "$server" = tcp-raw ] && continue
    log="$logs/idle-$server$*.log"
    echo "[idle$*] $server, $idle_connections connections" >&2
    if ! start_server "$server" "$log"; then
      printf '%s\t%s\tFAILED\tFAILED\t-\n' "$server" "$idle_connections" >>"$idle"
      status=1
      stop
      continue
    fi
    if line=$(timeout 300 "${pin_load[@]}" "$tools/idle" --addr "127.0.0.1:$port" \
      --pid "$server_pid" --connections "$((idle_connections - 1))" "$@" 2>>"$log"); then
      echo "  $line" >&2
      field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
      printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$(($(field connections) + 1))" \
        "$(field per_conn_after_handshake)" "$(field per_conn_after_message)" \
        "$(field server_threads_after)" >>"$idle"
    else
      echo "bench: idle measurement of $server failed (log: $log)" >&2
      printf '%s\t%s\tFAILED\tFAILED\t-\n' "$server" "$idle_connections" >>"$idle"
      status=1
    fi
    stop
  done
}
idle="$out/idle.tsv"
idle_deflate="$out/idle-deflate.tsv"
if [ "$idle_connections" -gt 0 ]; then
  measure_idle "$idle" "$servers"
  if [ "$run_deflate" = 1 ]; then measure_idle "$idle_deflate" "$deflate_servers" --deflate; fi
fi

proto="$out/proto.tsv"
: >"$proto"
if [ "$run_proto" = 1 ]; then
  echo "[proto] ws-proto micro-benchmarks" >&2
  "${pin_load[@]}" "$tools/proto" --tsv >"$proto"
fi

report_args=(--results "$results" --markdown "$out/report.md" --svg "$out/chart.svg")
if [ "$idle_connections" -gt 0 ]; then report_args+=(--idle "$idle"); fi
if [ -s "$proto" ]; then report_args+=(--proto "$proto"); fi
python3 scripts/bench_report.py "${report_args[@]}"
if [ "$run_deflate" = 1 ]; then
  deflate_args=(--results "$results_deflate" --baseline node-ws --ceiling smol --latency none)
  if [ "$idle_connections" -gt 0 ]; then deflate_args+=(--idle "$idle_deflate"); fi
  {
    echo
    echo "## Compressed (permessage-deflate)"
    echo
    echo "The load sends JSON-like text compressed (RSV1) and counts the echoes, which every"
    echo "server compresses back. Idle memory: connections that negotiated compression and"
    echo "exchanged one compressed 1 KiB text message."
    echo
    python3 scripts/bench_report.py "${deflate_args[@]}" | sed 's/^### /### Compressed: /'
  } >>"$out/report.md"
fi
{
  echo
  echo "Mode $mode: $repeats repeat(s), ${seconds} s measured after ${warmup} s warm-up per run."
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1);" \
    "$(uname -sr); $(rustc --version)."
} >>"$out/report.md"
cat "$out/report.md"
echo >&2
echo "report: $out/report.md, chart: $out/chart.svg" >&2
exit "$status"
