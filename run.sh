#!/usr/bin/env bash
# Runs the platform locally: a private PostgreSQL under .callern/ (unless CALLERN_DB is set),
# a private coturn on 127.0.0.1:${CALLERN_TURN_PORT:-3478} (unless CALLERN_TURN_URLS and
# CALLERN_TURN_SECRET name one), migrations, the demo school, then the API on
# http://127.0.0.1:${CALLERN_PORT:-5080}; then the sample school (samples/: its backend serving the
# student and teacher web apps) on http://127.0.0.1:${CALLERN_SAMPLES_PORT:-5090} unless
# CALLERN_SAMPLES=0. Ctrl+C or TERM stops everything it started.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
callern_require_tools

STATE_DIR=${CALLERN_STATE_DIR:-$PWD/.callern}
PORT=${CALLERN_PORT:-5080}
BASE_URL="http://127.0.0.1:$PORT"
SAMPLES=${CALLERN_SAMPLES:-1}
SCHOOL_URL="http://127.0.0.1:${CALLERN_SAMPLES_PORT:-5090}"
mkdir -p "$STATE_DIR"

# One operator key per checkout, kept beside the cluster; never committed.
if [[ ! -s $STATE_DIR/operator-key ]]; then
  (umask 077 && printf 'op_%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$STATE_DIR/operator-key")
fi
OPERATOR_KEY=$(<"$STATE_DIR/operator-key")

STARTED_PG=""
STARTED_TURN=""
APP_PID=""
SCHOOL_PID=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n $SCHOOL_PID ]]; then kill "$SCHOOL_PID" 2>/dev/null || true; wait "$SCHOOL_PID" 2>/dev/null || true; fi
  if [[ -n $APP_PID ]]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
  if [[ -n $STARTED_TURN ]]; then coturn/stop.sh "$STARTED_TURN" || true; fi
  if [[ -n $STARTED_PG ]]; then callern_pg_stop "$STARTED_PG"; fi
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if [[ -z ${CALLERN_DB:-} ]]; then
  PG_PORT=${CALLERN_PG_PORT:-55432}
  callern_pg_start "$STATE_DIR/pg" "$PG_PORT"
  STARTED_PG="$STATE_DIR/pg"
  CALLERN_DB="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"
fi

# TURN: the platform signs credentials with the secret coturn checks them against. One secret
# per checkout, generated once, like the operator key; or an existing coturn (./test.sh's).
if [[ -n ${CALLERN_TURN_URLS:-} || -n ${CALLERN_TURN_SECRET:-} ]]; then
  [[ -n ${CALLERN_TURN_URLS:-} && -n ${CALLERN_TURN_SECRET:-} ]] || callern_die "set both CALLERN_TURN_URLS and CALLERN_TURN_SECRET, or neither"
  TURN_SECRET=$CALLERN_TURN_SECRET
  read -r -a TURN_URLS <<<"$CALLERN_TURN_URLS"
else
  if [[ ! -s $STATE_DIR/turn-secret ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE_DIR/turn-secret")
  fi
  TURN_SECRET=$(<"$STATE_DIR/turn-secret")
  TURN_PORT=${CALLERN_TURN_PORT:-3478}
  coturn/start.sh "$STATE_DIR/turn" "$TURN_PORT" "$TURN_SECRET" >/dev/null
  STARTED_TURN="$STATE_DIR/turn"
  TURN_URLS=("stun:127.0.0.1:$TURN_PORT" "turn:127.0.0.1:$TURN_PORT?transport=udp" "turn:127.0.0.1:$TURN_PORT?transport=tcp")
fi
PLATFORM_ENV=("Callern__Turn__Secrets__0=$TURN_SECRET")
for i in "${!TURN_URLS[@]}"; do PLATFORM_ENV+=("Callern__Turn__Urls__$i=${TURN_URLS[$i]}"); done

callern_log "building"
if [[ $SAMPLES == 1 ]]; then
  # The school backend's build also builds the platform and the SDKs (it generates the TypeScript client).
  dotnet build samples/school-backend -c Release -nologo -clp:ErrorsOnly -v q >&2
  callern_npm_ci src/Callern.Sdk.TypeScript && (cd src/Callern.Sdk.TypeScript && npm run build >&2)
  callern_npm_ci samples && (cd samples && npm run build >&2)
  # The web apps are served by the school backend's origin and call the platform from there.
  PLATFORM_ENV+=("Callern__Cors__AllowedOrigins__0=$SCHOOL_URL")
else
  dotnet build src/Callern.Platform -c Release -nologo -clp:ErrorsOnly -v q >&2
fi

env "${PLATFORM_ENV[@]}" \
ConnectionStrings__Callern="$CALLERN_DB" \
Callern__OperatorKey="$OPERATOR_KEY" \
Callern__DataProtection__KeysPath="$STATE_DIR/keys" \
Callern__Demo__Seed=true \
Callern__Demo__OutputPath="$STATE_DIR/demo.json" \
Callern__Demo__BaseUrl="$BASE_URL" \
ASPNETCORE_URLS="$BASE_URL" \
ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development} \
  env "${CALLERN_PLATFORM_ENV[@]}" dotnet src/Callern.Platform/bin/Release/net10.0/Callern.Platform.dll >"$STATE_DIR/platform.log" 2>&1 &
APP_PID=$!

callern_wait_http "$BASE_URL/health/ready" "$APP_PID" "$STATE_DIR/platform.log" "the platform"

SAMPLE_INFO=""
if [[ $SAMPLES == 1 ]]; then
  read -r KEY_ID KEY_SECRET < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["apiKeyId"], d["apiKeySecret"])' "$STATE_DIR/demo.json")
  Callern__BaseUrl="$BASE_URL" Callern__ApiKeyId="$KEY_ID" Callern__ApiKeySecret="$KEY_SECRET" \
  WebApps__StudentRoot="$PWD/samples/student-web/dist" WebApps__TeacherRoot="$PWD/samples/teacher-web/dist" \
  ASPNETCORE_URLS="$SCHOOL_URL" ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development} \
    dotnet samples/school-backend/bin/Release/net10.0/Callern.Samples.SchoolBackend.dll >"$STATE_DIR/school.log" 2>&1 &
  SCHOOL_PID=$!
  callern_wait_http "$SCHOOL_URL/student/api/config" "$SCHOOL_PID" "$STATE_DIR/school.log" "the school backend"
  SAMPLE_INFO="Student app: $SCHOOL_URL/student/
Teacher app: $SCHOOL_URL/teacher/
School logs: $STATE_DIR/school.log
"
fi

cat <<INFO
API:         $BASE_URL/v1
Swagger UI:  $BASE_URL/docs
OpenAPI:     $BASE_URL/swagger/v1/swagger.json
Health:      $BASE_URL/health/ready
Hub:         ${BASE_URL/http/ws}/hubs/calls
TURN:        ${TURN_URLS[*]}
Demo keys:   $STATE_DIR/demo.json
Logs:        $STATE_DIR/platform.log
${SAMPLE_INFO}Callern is ready at $BASE_URL
INFO
wait "$APP_PID"
