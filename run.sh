#!/usr/bin/env bash
# Runs the platform locally: a private PostgreSQL under .callern/ (unless CALLERN_DB is set),
# a private coturn on 127.0.0.1:${CALLERN_TURN_PORT:-3478} (unless CALLERN_TURN_URLS and
# CALLERN_TURN_SECRET name one), migrations, the demo school, then the API on
# http://127.0.0.1:${CALLERN_PORT:-5080}; then the sample school (samples/: its backend serving the
# student and teacher web apps) on http://127.0.0.1:${CALLERN_SAMPLES_PORT:-5090} unless
# CALLERN_SAMPLES=0. Ctrl+C or TERM stops everything it started.
#
# CALLERN_NODES=N (N >= 2) runs N platform nodes on ports CALLERN_PORT+1..CALLERN_PORT+N behind
# nginx on CALLERN_PORT (scripts/balancer.sh), sharing hub events through a private Redis on
# 127.0.0.1:${CALLERN_REDIS_PORT:-6390} (installs Debian's redis-server and nginx when missing).
# Node 1 migrates and seeds the demo school before the others start. Every printed URL is the
# balancer's; each node logs to $CALLERN_STATE_DIR/platform-<i>.log.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
callern_require_tools

STATE_DIR=${CALLERN_STATE_DIR:-$PWD/.callern}
PORT=${CALLERN_PORT:-5080}
BASE_URL="http://127.0.0.1:$PORT"
SAMPLES=${CALLERN_SAMPLES:-1}
SCHOOL_URL="http://127.0.0.1:${CALLERN_SAMPLES_PORT:-5090}"
NODES=${CALLERN_NODES:-1}
[[ $NODES =~ ^[1-9][0-9]*$ ]] || callern_die "CALLERN_NODES must be a number of nodes, 1 or more (got '$NODES')"
REDIS_PORT=${CALLERN_REDIS_PORT:-6390}
mkdir -p "$STATE_DIR"
if ((NODES > 1)); then
  callern_apt_install redis-server nginx
  # The balancer and every node must get their own port: one already taken would leave a node
  # (or the balancer) dead while a stranger answers in its place.
  for ((port = PORT; port <= PORT + NODES; port++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      callern_die "port $port is in use: CALLERN_NODES=$NODES needs $PORT (the balancer) to $((PORT + NODES)) (the nodes) free"
    fi
  done
fi

# One operator key per checkout, kept beside the cluster; never committed.
if [[ ! -s $STATE_DIR/operator-key ]]; then
  (umask 077 && printf 'op_%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$STATE_DIR/operator-key")
fi
OPERATOR_KEY=$(<"$STATE_DIR/operator-key")

STARTED_PG=""
STARTED_TURN=""
NODE_PIDS=()
BALANCER_PID=""
SCHOOL_PID=""
# Stops these processes (TERM, all at once) and waits for each.
stop_all() {
  (($# > 0)) || return 0
  kill "$@" 2>/dev/null || true
  local pid
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  if [[ -n $SCHOOL_PID ]]; then kill "$SCHOOL_PID" 2>/dev/null || true; wait "$SCHOOL_PID" 2>/dev/null || true; fi
  # The balancer first, so no request reaches a node that is stopping.
  if [[ -n $BALANCER_PID ]]; then stop_all "$BALANCER_PID"; fi
  stop_all "${NODE_PIDS[@]}"
  callern_redis_stop
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

# Every node shares the database, the data protection key ring (API key secrets are protected
# with it), the operator key and TURN; nodes also share classroom files, kept under the working
# directory they share.
# start_node <url> <log> [VAR=value...]: starts a node in the background; appends its pid to NODE_PIDS.
start_node() {
  local url=$1 log=$2
  shift 2
  env "${PLATFORM_ENV[@]}" "$@" \
  ConnectionStrings__Callern="$CALLERN_DB" \
  Callern__OperatorKey="$OPERATOR_KEY" \
  Callern__DataProtection__KeysPath="$STATE_DIR/keys" \
  ASPNETCORE_URLS="$url" \
  ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}" \
    env "${CALLERN_PLATFORM_ENV[@]}" dotnet src/Callern.Platform/bin/Release/net10.0/Callern.Platform.dll >"$log" 2>&1 &
  NODE_PIDS+=("$!")
}
# Node 1 migrates the database and seeds the demo school (its keys name the public address).
SEED=(Callern__Demo__Seed=true Callern__Demo__OutputPath="$STATE_DIR/demo.json" Callern__Demo__BaseUrl="$BASE_URL")

if ((NODES == 1)); then
  start_node "$BASE_URL" "$STATE_DIR/platform.log" "${SEED[@]}"
  callern_wait_http "$BASE_URL/health/ready" "${NODE_PIDS[0]}" "$STATE_DIR/platform.log" "the platform"
else
  callern_redis_start "$STATE_DIR/redis" "$REDIS_PORT"
  PLATFORM_ENV+=("ConnectionStrings__Redis=127.0.0.1:$REDIS_PORT")
  NODE_URLS=()
  for ((i = 1; i <= NODES; i++)); do NODE_URLS+=("http://127.0.0.1:$((PORT + i))"); done
  start_node "${NODE_URLS[0]}" "$STATE_DIR/platform-1.log" "${SEED[@]}"
  callern_wait_http "${NODE_URLS[0]}/health/ready" "${NODE_PIDS[0]}" "$STATE_DIR/platform-1.log" "node 1"
  # The others start on the migrated database, together.
  for ((i = 2; i <= NODES; i++)); do
    start_node "${NODE_URLS[i - 1]}" "$STATE_DIR/platform-$i.log" Callern__Demo__Seed=false
  done
  for ((i = 2; i <= NODES; i++)); do
    callern_wait_http "${NODE_URLS[i - 1]}/health/ready" "${NODE_PIDS[i - 1]}" "$STATE_DIR/platform-$i.log" "node $i"
  done
  mkdir -p "$STATE_DIR/balancer"
  scripts/balancer.sh "$STATE_DIR/balancer" "$PORT" "${NODE_URLS[@]##*:}" >>"$STATE_DIR/balancer/error.log" 2>&1 &
  BALANCER_PID=$!
  callern_wait_http "$BASE_URL/health/ready" "$BALANCER_PID" "$STATE_DIR/balancer/error.log" "the balancer (nginx)"
fi

SAMPLE_INFO=""
if [[ $SAMPLES == 1 ]]; then
  read -r KEY_ID KEY_SECRET < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["apiKeyId"], d["apiKeySecret"])' "$STATE_DIR/demo.json")
  Callern__BaseUrl="$BASE_URL" Callern__ApiKeyId="$KEY_ID" Callern__ApiKeySecret="$KEY_SECRET" \
  Callern__WebhookUrl="$SCHOOL_URL/callern/webhooks" \
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

if ((NODES == 1)); then
  NODE_INFO="Logs:        $STATE_DIR/platform.log
"
else
  NODE_INFO=""
  for ((i = 1; i <= NODES; i++)); do
    NODE_INFO+=$(printf '%-13s%s  logs: %s' "Node $i:" "${NODE_URLS[i - 1]}" "$STATE_DIR/platform-$i.log")$'\n'
  done
  NODE_INFO+="Balancer:    nginx on $BASE_URL, config and logs in $STATE_DIR/balancer/
Backplane:   Redis on 127.0.0.1:$REDIS_PORT, log: $STATE_DIR/redis/redis.log
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
${NODE_INFO}${SAMPLE_INFO}Callern is ready at $BASE_URL
INFO
if ((NODES == 1)); then
  wait "${NODE_PIDS[0]}"
else
  # The balancer skips a node that died: carry on while it and at least one node run.
  while kill -0 "$BALANCER_PID" 2>/dev/null; do
    alive=()
    for pid in "${NODE_PIDS[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi; done
    ((${#alive[@]} > 0)) || callern_die "every node has exited (logs: $STATE_DIR/platform-*.log)"
    wait -n "$BALANCER_PID" "${alive[@]}" || true
  done
  callern_die "the balancer has exited (log: $STATE_DIR/balancer/error.log)"
fi
