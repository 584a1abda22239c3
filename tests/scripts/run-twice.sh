#!/usr/bin/env bash
# ./run.sh started twice on one database keeps one demo tenant and prints the same key.
# Needs CALLERN_DB pointing at a PostgreSQL server (./test.sh passes its throwaway cluster).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh
: "${CALLERN_DB:?set CALLERN_DB to a PostgreSQL server connection string}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/callern-run-twice.XXXXXX")
DB="callern_run_twice_$$"
PORT=$(callern_free_port)
RUN_PID=""
finish() {
  if [[ -n $RUN_PID ]]; then kill "$RUN_PID" 2>/dev/null || true; wait "$RUN_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap finish EXIT
psql_server() { psql "postgresql://postgres@127.0.0.1:$(sed -E 's/.*Port=([0-9]+).*/\1/' <<<"$CALLERN_DB")/postgres" -qAt -c "$1"; }
psql_server "CREATE DATABASE $DB" >/dev/null

start_once() {
  CALLERN_DB="$CALLERN_DB;Database=$DB" CALLERN_PORT=$PORT CALLERN_STATE_DIR="$WORK/state" ./run.sh >"$WORK/out" 2>&1 &
  RUN_PID=$!
  for _ in $(seq 1 240); do
    grep -q "Callern is ready at http://127.0.0.1:$PORT" "$WORK/out" && break
    kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/out" >&2; exit 1; }
    sleep 0.5
  done
  grep -q "Callern is ready at" "$WORK/out" || { cat "$WORK/out" >&2; echo "run.sh never printed the ready line" >&2; exit 1; }
}

stop_once() {
  kill -TERM "$RUN_PID"
  wait "$RUN_PID" || true
  RUN_PID=""
  if curl -fsS "http://127.0.0.1:$PORT/health/live" >/dev/null 2>&1; then echo "run.sh left the platform running after TERM" >&2; exit 1; fi
}

failures=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1" >&2; failures=$((failures + 1)); fi; }

start_once
first=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["tenantId"], d["apiKeyId"])' "$WORK/state/demo.json")
read -r key_id secret < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["apiKeyId"], d["apiKeySecret"])' "$WORK/state/demo.json")
token=$(curl -fsS -u "$key_id:$secret" -H 'Content-Type: application/json' \
  -d '{"userId":"student-ana","role":"student"}' "http://127.0.0.1:$PORT/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
check "a token minted with the demo key reads /v1/me" \
  "curl -fsS -H 'Authorization: Bearer $token' http://127.0.0.1:$PORT/v1/me | grep -q '\"displayName\":\"Ana Souza\"'"
check "Swagger UI is served at /docs" "curl -fsS http://127.0.0.1:$PORT/docs/index.html | grep -qi swagger"
stop_once

start_once
second=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["tenantId"], d["apiKeyId"])' "$WORK/state/demo.json")
stop_once

check "the second run reuses the demo tenant and key" "[[ '$first' == '$second' ]]"
check "one demo tenant after two runs" \
  "[[ \$(psql_server \"SELECT 1\" >/dev/null; psql \"postgresql://postgres@127.0.0.1:$(sed -E 's/.*Port=([0-9]+).*/\1/' <<<"$CALLERN_DB")/$DB\" -qAt -c \"SELECT count(*) FROM tenants\") == 1 ]]"
psql_server "DROP DATABASE $DB WITH (FORCE)" >/dev/null
echo "run-twice: $((2 + 2 - failures)) passed, $failures failed"
((failures == 0))
