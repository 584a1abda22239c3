#!/usr/bin/env bash
# Hub connection benchmark: a throwaway PostgreSQL and platform (as run.sh starts it, see
# bench/platform.sh), then bench/Callern.Bench.Hub opens and holds N authenticated WebSocket hub
# connections and reports connect rate and the platform's memory.
#
#   bench/hub-connections.sh [connections=10000] [parallel=64] [hold seconds=30]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
callern_require_tools

CONNECTIONS=${1:-10000}
PARALLEL=${2:-64}
HOLD=${3:-30}
# Each connection is a socket in each process, plus the platform's database connections: the
# usual default of 1024 descriptors stops at about a thousand. Raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= CONNECTIONS + 1000)) || callern_die "ulimit -n is $(ulimit -n); $CONNECTIONS connections need $((CONNECTIONS + 1000)) (raise the hard limit)"

source bench/platform.sh
dotnet build bench/Callern.Bench.Hub -c Release -nologo -clp:ErrorsOnly -v q >&2
bench_start_platform
DOTNET_gcServer=0 dotnet bench/Callern.Bench.Hub/bin/Release/net10.0/Callern.Bench.Hub.dll \
  --url "http://127.0.0.1:$PORT" --demo "$RUN_DIR/demo.json" \
  --connections "$CONNECTIONS" --parallel "$PARALLEL" --hold "$HOLD" --pid "$APP_PID"
