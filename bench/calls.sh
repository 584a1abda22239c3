#!/usr/bin/env bash
# Calls benchmark: a throwaway PostgreSQL and platform, then bench/Callern.Bench.Calls rings,
# accepts and relays signals for N calls (request → ring, accept → notified and relay latency,
# platform CPU per relayed signal).
#
#   bench/calls.sh [calls=1000] [requests per second=50] [relay seconds=20] [ms between a side's signals=500]
#
# BENCH_NODES=N (2 or more): N nodes behind nginx with the Redis backplane, as CALLERN_NODES=N
# ./run.sh starts them. BENCH_ROUTE=balancer (the default) connects every party through nginx
# (the bench reads which node it reached); BENCH_ROUTE=nodes connects student i to node i % N and
# teacher i to node (i / 2) % N directly. Either way it reports the calls and signals that crossed
# nodes and the CPU of each node, of Redis and of nginx. BENCH_REDIS=1 (one node): that node with
# the Redis backplane, as each of several has it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
callern_require_tools

CALLS=${1:-1000}
RATE=${2:-50}
RELAY=${3:-20}
EVERY=${4:-500}
# Two hub connections per call in each process.
ulimit -n "$(ulimit -Hn)"

NODES=${BENCH_NODES:-1}
ROUTE=${BENCH_ROUTE:-balancer}
source bench/platform.sh
dotnet build bench/Callern.Bench.Calls -c Release -nologo -clp:ErrorsOnly -v q >&2
if ((NODES > 1)); then
  bench_start_nodes "$NODES"
  PLACEMENT=(--nodes "$NODE_URLS" --route "$ROUTE" --pid "$NODE_PIDS" --redis-pid "$REDIS_PID" --balancer-pid "$BALANCER_PID")
else
  bench_start_platform
  PLACEMENT=(--pid "$APP_PID" ${REDIS_PID:+--redis-pid "$REDIS_PID"})
fi
# The load generator gets the platform's garbage-collector settings, so that its own pauses add as
# little as they can to the latency it measures (it reports its timer lag).
env "${CALLERN_PLATFORM_ENV[@]}" DOTNET_gcServer=0 dotnet bench/Callern.Bench.Calls/bin/Release/net10.0/Callern.Bench.Calls.dll \
  --url "http://127.0.0.1:$PORT" --demo "$RUN_DIR/demo.json" \
  --calls "$CALLS" --rate "$RATE" --relay "$RELAY" --every "$EVERY" --pg-pid "$PG_PID" "${PLACEMENT[@]}"
