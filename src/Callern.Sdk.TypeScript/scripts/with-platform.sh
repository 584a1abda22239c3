#!/usr/bin/env bash
# Runs a command with CALLERN_DEMO pointing at a running platform's demo school: the one given
# (./test.sh starts the platform and sets it), or else a throwaway platform started here with the
# repository's ./run.sh (its own PostgreSQL cluster and coturn, no sample school, every port
# below 32768), stopped again when the command ends.
set -euo pipefail
if [[ -n ${CALLERN_DEMO:-} ]]; then exec "$@"; fi
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)

source "$ROOT/scripts/setup.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/callern-sdk-platform.XXXXXX")
chmod 755 "$STATE" # the cluster runs as the postgres user
PG_PORT=$(callern_free_port)
PORT=$(callern_free_port)
TURN_PORT=$(callern_free_port 20000 31999 100) # coturn owns port..port+99 (its relay ports)
PLATFORM_PID=""
cleanup() {
  if [[ -n $PLATFORM_PID ]]; then kill -TERM "$PLATFORM_PID" 2>/dev/null || true; wait "$PLATFORM_PID" 2>/dev/null || true; fi
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "with-platform: starting a throwaway platform on 127.0.0.1:$PORT (./run.sh builds it first)" >&2
# No database given: ./run.sh starts its own cluster under the state folder.
cd "$ROOT"
CALLERN_PG_PORT=$PG_PORT CALLERN_TURN_PORT=$TURN_PORT callern_run_platform "$STATE" "$PORT" ""
cd - >/dev/null
CALLERN_DEMO="$STATE/demo.json" "$@"
