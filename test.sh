#!/usr/bin/env bash
# Runs every test: C# suites against a throwaway PostgreSQL and coturn, then the TypeScript SDK's.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
callern_require_tools
# Several nodes behind nginx sharing a Redis: the C# multi-node tests and the sample lesson below.
callern_apt_install redis-server nginx

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/callern-test.XXXXXX")
chmod 755 "$RUN_DIR" # the cluster runs as the postgres user
PG_PORT=$(callern_free_port)
PLATFORM_PID=""
cleanup() {
  if [[ -n $PLATFORM_PID ]]; then kill -TERM "$PLATFORM_PID" 2>/dev/null || true; wait "$PLATFORM_PID" 2>/dev/null || true; fi
  coturn/stop.sh "$RUN_DIR/turn" || true
  callern_pg_stop "$RUN_DIR/pg"
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A throwaway cluster: durability settings off for speed, room for many parallel test classes.
callern_pg_start "$RUN_DIR/pg" "$PG_PORT" fsync=off synchronous_commit=off full_page_writes=off max_connections=400
export CALLERN_TEST_DB="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"

# A throwaway coturn: the TURN tests allocate through it with credentials from the platform
# (C# tests), and the platforms that ./run.sh starts below hand out its URLs instead of
# starting their own. It owns ports TURN_PORT..TURN_PORT+99 (relays above TURN_PORT+1).
# Its block is below Linux's ephemeral range (32768-60999), where the local end of any outgoing
# connection could take one of its ports; start.sh refuses a port that is in use.
TURN_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
for attempt in 1 2 3 4 5; do
  TURN_PORT=$(((RANDOM % 120 + 200) * 100))
  coturn/start.sh "$RUN_DIR/turn" "$TURN_PORT" "$TURN_SECRET" >/dev/null && break
  ((attempt < 5)) || callern_die "coturn did not start"
done
export CALLERN_TEST_TURN_URL="turn:127.0.0.1:$TURN_PORT?transport=udp"
export CALLERN_TEST_TURN_SECRET="$TURN_SECRET"
export CALLERN_TURN_URLS="stun:127.0.0.1:$TURN_PORT $CALLERN_TEST_TURN_URL turn:127.0.0.1:$TURN_PORT?transport=tcp"
export CALLERN_TURN_SECRET="$TURN_SECRET"
# The production template must parse as written and deny what it says it denies.
coturn/check-prod-template.sh

dotnet build Callern.sln -c Release -nologo -clp:ErrorsOnly
# No NuGet package (direct or transitive) with a high or critical advisory (docs/security.md, "Dependencies").
scripts/audit-packages.sh
dotnet test Callern.sln -c Release --no-build -nologo --logger "console;verbosity=normal"

SERVER_DB="Host=127.0.0.1;Port=$PG_PORT;Username=postgres"

# The TypeScript SDK's tests talk to the real platform, started as ./run.sh starts it.
callern_create_database "$SERVER_DB" callern_sdk_tests
callern_run_platform "$RUN_DIR/platform" "$(callern_free_port)" "$SERVER_DB;Database=callern_sdk_tests"
(cd src/Callern.Sdk.TypeScript && npm ci --no-audit --no-fund && CALLERN_DEMO="$RUN_DIR/platform/demo.json" npm test)
# CallSession in two real browsers: against a stand-in hub through a throwaway coturn, then whole
# calls through this platform and its coturn, relay only (installs Debian's chromium and
# firefox-esr if missing).
(cd src/Callern.Sdk.TypeScript && CALLERN_DEMO="$RUN_DIR/platform/demo.json" npm run test:browser)
kill -TERM "$PLATFORM_PID" && wait "$PLATFORM_PID" || true
PLATFORM_PID=""

CALLERN_DB="$SERVER_DB" tests/scripts/run-twice.sh

# Both SDKs packed; a strict TypeScript consumer and a C# consumer (with the docs' C# snippets) compile against the packages.
tests/scripts/sdk-packages.sh

# The sample school (./run.sh with its samples) through two real Chromium processes: a whole
# lesson from purchase to rating, media relayed by the throwaway coturn (samples/e2e). Two
# platform nodes behind nginx, so the lesson's requests and hub connections land on both and its
# events cross between them through Redis. The port and the two after it: nginx, then the nodes.
callern_create_database "$SERVER_DB" callern_samples_tests
SAMPLES_PORT=$(callern_free_port)
CALLERN_NODES=2 CALLERN_REDIS_PORT=$(callern_free_port) CALLERN_SAMPLES=1 CALLERN_SAMPLES_PORT=$SAMPLES_PORT \
  callern_run_platform "$RUN_DIR/samples" "$(callern_free_port 10000 19999 3)" "$SERVER_DB;Database=callern_samples_tests"
(cd samples && CALLERN_E2E_SCHOOL_URL="http://127.0.0.1:$SAMPLES_PORT" npm run test:e2e)
kill -TERM "$PLATFORM_PID" && wait "$PLATFORM_PID" || true
PLATFORM_PID=""
