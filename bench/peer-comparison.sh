#!/usr/bin/env bash
# Peer comparison: the PeerJS server (npm package `peer`, pinned in bench/peerjs) and the platform
# under the same load from the same load generator (bench/Callern.Bench.Calls), one after the
# other: CALLS pairs of connections (the platform: CALLS metered calls, 2 x CALLS hub connections),
# each side sending a 500-byte signal to the other every EVERY ms for RELAY s. Prints both runs,
# then the platform's figures as multiples of the PeerJS server's: relay p99, CPU per relayed
# signal and peak memory (and the idle cost of each, in cores).
#
#   bench/peer-comparison.sh [calls=5000] [relay seconds=20] [ms between a side's signals=2000] [requests per second=25]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
callern_require_tools

CALLS=${1:-5000}
RELAY=${2:-20}
EVERY=${3:-2000}
RATE=${4:-25}
ulimit -n "$(ulimit -Hn)"

callern_npm_ci bench/peerjs
dotnet build bench/Callern.Bench.Calls -c Release -nologo -clp:ErrorsOnly -v q >&2
OUT=$(mktemp -d "${TMPDIR:-/tmp}/callern-peer-comparison.XXXXXX")
PEER_PID=""
cleanup() {
  if [[ -n $PEER_PID ]]; then kill "$PEER_PID" 2>/dev/null || true; wait "$PEER_PID" 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

# The PeerJS server as its README runs it, with room for every connection (it refuses more than
# 5,000 by default).
PEER_PORT=$(callern_free_port)
node bench/peerjs/node_modules/peer/dist/bin/peerjs.js --host 127.0.0.1 --port "$PEER_PORT" \
  --concurrent_limit $((CALLS * 2 + 100)) >"$OUT/peerjs.log" 2>&1 &
PEER_PID=$!
callern_wait_http "http://127.0.0.1:$PEER_PORT/" "$PEER_PID" "$OUT/peerjs.log" "the PeerJS server"
echo "== PeerJS server (node $(node --version), peer $(node -p 'require("./bench/peerjs/node_modules/peer/package.json").version'))"
# The generator runs as bench/calls.sh runs it.
env "${CALLERN_PLATFORM_ENV[@]}" DOTNET_gcServer=0 dotnet bench/Callern.Bench.Calls/bin/Release/net10.0/Callern.Bench.Calls.dll \
  --peerjs "ws://127.0.0.1:$PEER_PORT/peerjs" --pid "$PEER_PID" \
  --calls "$CALLS" --relay "$RELAY" --every "$EVERY" | tee "$OUT/peerjs.out"
kill "$PEER_PID" && wait "$PEER_PID" 2>/dev/null || true
PEER_PID=""

echo "== Callern platform"
bench/calls.sh "$CALLS" "$RATE" "$RELAY" "$EVERY" | tee "$OUT/platform.out"

echo "== Callern ÷ PeerJS server ($CALLS calls, a 500-byte signal per side every $EVERY ms)"
awk '
  $1 == "summary" { for (i = 2; i <= NF; i++) if (split($i, kv, "=") == 2) v[FILENAME, kv[1]] = kv[2] }
  END {
    p = ARGV[1]; c = ARGV[2]
    printf "relay p99                %8.1f ms  vs %8.1f ms   %5.2fx\n", v[c, "relay_p99_ms"], v[p, "relay_p99_ms"], v[c, "relay_p99_ms"] / v[p, "relay_p99_ms"]
    printf "CPU per relayed signal   %8d us  vs %8d us   %5.2fx\n", v[c, "cpu_us_per_signal"], v[p, "cpu_us_per_signal"], v[c, "cpu_us_per_signal"] / v[p, "cpu_us_per_signal"]
    printf "peak memory              %8d MiB vs %8d MiB  %5.2fx\n", v[c, "peak_mib"], v[p, "peak_mib"], v[c, "peak_mib"] / v[p, "peak_mib"]
    printf "idle, no signals         %8.3f cores vs %6.3f cores (the platform: its metering; PeerJS: heartbeats)\n", v[c, "quiet_cores"], v[p, "quiet_cores"]
  }' "$OUT/peerjs.out" "$OUT/platform.out"
