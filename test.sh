#!/usr/bin/env bash
# Runs every test: C# suites against a throwaway PostgreSQL and coturn, then the TypeScript SDK's.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
callern_require_tools

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/callern-test.XXXXXX")
PG_PORT=$(callern_free_port)
cleanup() {
  callern_pg_stop "$RUN_DIR/pg"
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A throwaway cluster: durability settings off for speed, room for many parallel test classes.
callern_pg_start "$RUN_DIR/pg" "$PG_PORT" fsync=off synchronous_commit=off full_page_writes=off max_connections=400
export CALLERN_TEST_DB="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"

dotnet build Callern.sln -c Release -nologo -clp:ErrorsOnly
dotnet test Callern.sln -c Release --no-build -nologo --logger "console;verbosity=normal"

(cd src/Callern.Sdk.TypeScript && npm ci --no-audit --no-fund && npm test)

CALLERN_DB="Host=127.0.0.1;Port=$PG_PORT;Username=postgres" tests/scripts/run-twice.sh
