#!/usr/bin/env bash
# Side-by-side echo benchmark: the same load against four echo servers.
#
#   scripts/bench.sh                          # both scenarios, all four servers, 5 s each
#   SECONDS=10 CONNECTIONS=64 scripts/bench.sh
#   SIZE=1024 PIPELINE=8 scripts/bench.sh     # a single scenario with these settings
#   SERVERS="ws-runtime-std fastwebsockets" scripts/bench.sh
#
# Run it on an otherwise idle machine: the load generator and the server share the machine's
# cores, so any other busy process (a build, a fuzzer, a test run) skews the numbers, and not
# by the same amount for every server. Numbers from a busy machine are only a smoke test.
#
# Servers (each started alone on a free 127.0.0.1 port, measured, then stopped):
#   ws-runtime-std     cargo run --release -p ws-runtime-std  --example echo_server
#   ws-runtime-smol    cargo run --release -p ws-runtime-smol --example echo_server
#                      (with SMOL_THREADS=2 unless set: two executor threads)
#   tokio-tungstenite  bench/src/bin/peer_tungstenite.rs    (tokio, 2 worker threads)
#   fastwebsockets     bench/src/bin/peer_fastwebsockets.rs (hyper 1 + tokio, 2 worker threads)
# The load generator is bench/src/bin/load.rs; bench/ is a standalone package outside the
# workspace and is built into target/bench.
#
# Settings (environment):
#   CONNECTIONS  connections (default 32)
#   SIZE         message size in bytes      } if either is set, one scenario with these
#   PIPELINE     messages in flight per conn } (defaults 16 and 64); otherwise two scenarios:
#                small (16 B, pipeline 64) and medium (4096 B, pipeline 16)
#   SECONDS      measured seconds per run (default 5)
#   WARMUP       warm-up seconds before measuring (default 1)
#   THREADS      load generator threads (default: one per connection)
#   SERVERS      which servers, space-separated (default: all four, in the order above)
#
# Prints one table per scenario: messages/s, the ratio to tokio-tungstenite and to
# fastwebsockets, and the round-trip p50/p99 the load generator saw. Exits non-zero if any run
# failed (including echoes that did not match what was sent). Linux only (/proc, libc).
set -euo pipefail

# Bash's own SECONDS counts up from the value it inherited, so read the value given to this
# process from its initial environment instead.
seconds=$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^SECONDS=//p' | tail -n 1)
seconds=${seconds:-5}
cd "$(dirname "$0")/.."
root=$(pwd)

connections=${CONNECTIONS:-32}
warmup=${WARMUP:-1}
export SMOL_THREADS=${SMOL_THREADS:-2}
servers=${SERVERS:-"ws-runtime-std ws-runtime-smol tokio-tungstenite fastwebsockets"}
if [ -n "${SIZE:-}" ] || [ -n "${PIPELINE:-}" ]; then
  scenarios=("custom:${SIZE:-16}:${PIPELINE:-64}")
else
  scenarios=("small:16:64" "medium:4096:16")
fi

for server in $servers; do
  case "$server" in
    ws-runtime-std | ws-runtime-smol | tokio-tungstenite | fastwebsockets) ;;
    *) echo "bench: unknown server $server in SERVERS" >&2; exit 2 ;;
  esac
done

out="$root/target/bench"
bin="$out/bin"
logs="$out/logs"
mkdir -p "$bin" "$logs"

echo "building (release)..." >&2
# Both examples are named echo_server and land on the same path: copy each one away.
cargo build --release -q -p ws-runtime-std --example echo_server
cp -f "$root/target/release/examples/echo_server" "$bin/echo-server-std"
cargo build --release -q -p ws-runtime-smol --example echo_server
cp -f "$root/target/release/examples/echo_server" "$bin/echo-server-smol"
cargo build --release -q --manifest-path bench/Cargo.toml --target-dir "$out"
load="$out/release/load"

server_command() {
  case "$1" in
    ws-runtime-std) echo "$bin/echo-server-std" ;;
    ws-runtime-smol) echo "$bin/echo-server-smol" ;;
    tokio-tungstenite) echo "$out/release/peer-tungstenite" ;;
    fastwebsockets) echo "$out/release/peer-fastwebsockets" ;;
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

# The load generator gets a generous time limit so a stalled server cannot hang the script.
limit=$(awk -v s="$seconds" -v w="$warmup" 'BEGIN { print int(s + w + 60) }')
load_args=(--connections "$connections" --seconds "$seconds" --warmup "$warmup")
if [ -n "${THREADS:-}" ]; then load_args+=(--threads "$THREADS"); fi

status=0
results="$out/results.txt"
: >"$results"
for scenario in "${scenarios[@]}"; do
  IFS=: read -r name size pipeline <<<"$scenario"
  for server in $servers; do
    command=$(server_command "$server")
    port=$(free_port)
    log="$logs/$name-$server.log"
    echo "[$name] $server on 127.0.0.1:$port" >&2
    "$command" --addr "127.0.0.1:$port" >"$log" 2>&1 &
    server_pid=$!
    if ! wait_for_port "$port"; then
      echo "bench: $server is not listening on port $port (log: $log)" >&2
      echo "$name $server FAILED - -" >>"$results"
      status=1
      stop
      continue
    fi
    timeout "$limit" "$load" --url "ws://127.0.0.1:$port/" --size "$size" \
      --pipeline "$pipeline" "${load_args[@]}" >"$out/load.out" &
    load_pid=$!
    if wait "$load_pid"; then
      load_pid=""
      line=$(cat "$out/load.out")
      echo "  $line" >&2
      rate=$(awk '$1 == "messages/s:" { print $2 }' <<<"$line")
      p50=$(sed -n 's/.*rtt p50 \(.*\)  p99 .*/\1/p' <<<"$line" | tr ' ' '_')
      p99=$(sed -n 's/.*  p99 \(.*\)$/\1/p' <<<"$line" | tr ' ' '_')
      echo "$name $server ${rate:-FAILED} ${p50:--} ${p99:--}" >>"$results"
    else
      load_pid=""
      echo "bench: load against $server failed (server log: $log)" >&2
      echo "$name $server FAILED - -" >>"$results"
      status=1
    fi
    stop
  done
done

echo
for scenario in "${scenarios[@]}"; do
  IFS=: read -r name size pipeline <<<"$scenario"
  echo "$name: $size B messages, pipeline $pipeline, $connections connections," \
    "${seconds} s after ${warmup} s warm-up"
  awk -v scenario="$name" '
    $1 == scenario { n++; server[n] = $2; rate[n] = $3; p50[n] = $4; p99[n] = $5
                     if ($3 != "FAILED") ref[$2] = $3 }
    function ratio(r, base) {
      if (r == "FAILED" || base == "") return "-"
      return sprintf("%.2fx", r / base)
    }
    END {
      printf "  %-18s %12s %16s %16s %10s %10s\n", "server", "messages/s",
             "vs tungstenite", "vs fastwebsock.", "rtt p50", "rtt p99"
      for (i = 1; i <= n; i++) {
        p5 = p50[i]; p9 = p99[i]; gsub("_", " ", p5); gsub("_", " ", p9)
        printf "  %-18s %12s %16s %16s %10s %10s\n", server[i], rate[i],
               ratio(rate[i], ref["tokio-tungstenite"]), ratio(rate[i], ref["fastwebsockets"]),
               p5, p9
      }
    }' "$results"
  echo
done
exit "$status"
