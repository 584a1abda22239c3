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
PLATFORM_PID=""
finish() {
  if [[ -n $PLATFORM_PID ]]; then kill "$PLATFORM_PID" 2>/dev/null || true; wait "$PLATFORM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap finish EXIT
PG_URL="postgresql://postgres@127.0.0.1:$(sed -E 's/.*Port=([0-9]+).*/\1/' <<<"$CALLERN_DB")"
callern_create_database "$CALLERN_DB" "$DB"

start_once() { callern_run_platform "$WORK/state" "$PORT" "$CALLERN_DB;Database=$DB"; }

stop_once() {
  kill -TERM "$PLATFORM_PID"
  wait "$PLATFORM_PID" || true
  PLATFORM_PID=""
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
check "one demo tenant after two runs" "[[ \$(psql '$PG_URL/$DB' -qAt -c 'SELECT count(*) FROM tenants') == 1 ]]"
psql "$PG_URL/postgres" -qAt -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
echo "run-twice: $((2 + 2 - failures)) passed, $failures failed"
((failures == 0))
