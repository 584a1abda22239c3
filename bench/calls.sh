#!/usr/bin/env bash
# Calls benchmark: a throwaway PostgreSQL and platform, then bench/Callern.Bench.Calls rings,
# accepts and relays signals for N calls (request → ring, accept → notified and relay latency,
# platform CPU per relayed signal).
#
#   bench/calls.sh [calls=1000] [requests per second=50] [relay seconds=20] [ms between a side's signals=500]
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

source bench/platform.sh
dotnet build bench/Callern.Bench.Calls -c Release -nologo -clp:ErrorsOnly -v q >&2
bench_start_platform
# The load generator gets the platform's garbage-collector settings, so that its own pauses add as
# little as they can to the latency it measures (it reports its timer lag).
env "${CALLERN_PLATFORM_ENV[@]}" DOTNET_gcServer=0 dotnet bench/Callern.Bench.Calls/bin/Release/net10.0/Callern.Bench.Calls.dll \
  --url "http://127.0.0.1:$PORT" --demo "$RUN_DIR/demo.json" \
  --calls "$CALLS" --rate "$RATE" --relay "$RELAY" --every "$EVERY" --pid "$APP_PID"
