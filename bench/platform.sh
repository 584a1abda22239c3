# shellcheck shell=bash
# Shared by the benchmark scripts: source it after scripts/setup.sh. Starts a throwaway PostgreSQL
# and the platform in Release as run.sh starts it (the project's server GC, the gen0 budget of
# CALLERN_PLATFORM_ENV), with the HTTP rate limits raised: the load under test is one tenant's,
# not abuse.
# BENCH_REDIS=1: the one node with the Redis backplane, as each of several nodes has it (every hub
# message to a group then goes through Redis), to tell the backplane's cost from a second node's.
# Sets RUN_DIR, PORT, APP_PID and PG_PID, PostgreSQL's postmaster (and REDIS_PID with
# BENCH_REDIS=1); stops everything on exit.

bench_start_platform() {
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/callern-bench.XXXXXX")
  chmod 755 "$RUN_DIR"
  PG_PORT=$(callern_free_port)
  PORT=$(callern_free_port)
  APP_PID=""
  cleanup() {
    local status=$?
    if ((status != 0)) && [[ -f $RUN_DIR/platform.log ]]; then
      local kept="${TMPDIR:-/tmp}/callern-bench-platform.log"
      cp "$RUN_DIR/platform.log" "$kept"
      echo "the platform's first errors (whole log kept in $kept):" >&2
      grep -m3 -A8 -E '^fail:|"LogLevel":"(Error|Critical)"' "$RUN_DIR/platform.log" | cut -c1-700 >&2 || true
    fi
    if [[ -n $APP_PID ]]; then kill -TERM "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
    callern_redis_stop
    callern_pg_stop "$RUN_DIR/pg"
    rm -rf "$RUN_DIR"
  }
  trap cleanup EXIT

  callern_pg_start "$RUN_DIR/pg" "$PG_PORT" fsync=off synchronous_commit=off max_connections=200
  PG_PID=$(bench_listener_pid "$PG_PORT")
  dotnet build src/Callern.Platform -c Release -nologo -clp:ErrorsOnly -v q >&2
  # (the build prints its summary to stderr; the figures below go to stdout)
  local backplane=()
  if [[ ${BENCH_REDIS:-0} == 1 ]]; then
    local redis_port
    redis_port=$(callern_free_port)
    callern_redis_start "$RUN_DIR/redis" "$redis_port"
    backplane=("ConnectionStrings__Redis=127.0.0.1:$redis_port")
  fi

  ConnectionStrings__Callern="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Maximum Pool Size=50" \
  Callern__DataProtection__KeysPath="$RUN_DIR/keys" \
  Callern__Demo__Seed=true \
  Callern__Demo__OutputPath="$RUN_DIR/demo.json" \
  Callern__Demo__BaseUrl="http://127.0.0.1:$PORT" \
  Callern__Limits__PermitsPerUser=1000000 \
  Callern__Limits__PermitsPerTenant=1000000 \
  Logging__LogLevel__Default=Warning \
  ASPNETCORE_URLS="http://127.0.0.1:$PORT" \
    env "${CALLERN_PLATFORM_ENV[@]}" "${backplane[@]}" dotnet src/Callern.Platform/bin/Release/net10.0/Callern.Platform.dll >"$RUN_DIR/platform.log" 2>&1 &
  APP_PID=$!
  # Ready only after migrations and the demo seed (demo.json) are done.
  callern_wait_http "http://127.0.0.1:$PORT/health/ready" "$APP_PID" "$RUN_DIR/platform.log" "the platform"
  # The collector as the runtime reads it: the project's settings (runtimeconfig.json), then the environment.
  bench_describe "$(python3 -c 'import json, sys
settings = json.load(open(sys.argv[1]))["runtimeOptions"]["configProperties"]
print(" ".join(f"{k}={v}" for k, v in settings.items() if k.startswith("System.GC")))' \
    src/Callern.Platform/bin/Release/net10.0/Callern.Platform.runtimeconfig.json) ${CALLERN_PLATFORM_ENV[*]}; pid $APP_PID${REDIS_PID:+; Redis backplane pid $REDIS_PID}"
}

# bench_start_nodes <N>: N platform nodes behind nginx with the Redis backplane, started by
# ./run.sh itself (CALLERN_NODES=N: node 1 migrates and seeds, then the others; one shared key
# ring, operator key and database), on the throwaway PostgreSQL, with the settings of
# bench_start_platform (Production, rate limits raised, warnings only). TURN is named, not started:
# no call here reaches it. Sets RUN_DIR, PORT (the balancer), NODE_URLS (comma-separated),
# NODE_PIDS, REDIS_PID, BALANCER_PID (comma-separated pids for the bench's --pid) and PG_PID;
# stops everything on exit.
bench_start_nodes() {
  local nodes=$1
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/callern-bench.XXXXXX")
  chmod 755 "$RUN_DIR"
  PG_PORT=$(callern_free_port)
  # The balancer's port and the N after it (the nodes').
  PORT=$(callern_free_port 10000 19999 "$((nodes + 1))")
  local redis_port
  redis_port=$(callern_free_port)
  PLATFORM_PID=""
  cleanup() {
    local status=$?
    if ((status != 0)) && [[ -d $RUN_DIR/state ]]; then
      echo "the nodes' first errors (logs in $RUN_DIR/state, kept):" >&2
      grep -m3 -A8 -E '^fail:|"LogLevel":"(Error|Critical)"' "$RUN_DIR"/state/platform-*.log | cut -c1-700 >&2 || true
    fi
    # ./run.sh stops the balancer, the nodes and Redis it started.
    if [[ -n $PLATFORM_PID ]]; then kill -TERM "$PLATFORM_PID" 2>/dev/null || true; wait "$PLATFORM_PID" 2>/dev/null || true; fi
    callern_pg_stop "$RUN_DIR/pg"
    if ((status == 0)); then rm -rf "$RUN_DIR"; fi
  }
  trap cleanup EXIT

  callern_pg_start "$RUN_DIR/pg" "$PG_PORT" fsync=off synchronous_commit=off max_connections=200
  # shellcheck disable=SC2034 # used by the scripts that source this one
  PG_PID=$(bench_listener_pid "$PG_PORT")
  CALLERN_NODES=$nodes CALLERN_REDIS_PORT=$redis_port \
  CALLERN_TURN_URLS="turn:127.0.0.1:3478" CALLERN_TURN_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n")" \
  ASPNETCORE_ENVIRONMENT=Production \
  Callern__Limits__PermitsPerUser=1000000 \
  Callern__Limits__PermitsPerTenant=1000000 \
  Logging__LogLevel__Default=Warning \
    callern_run_platform "$RUN_DIR/state" "$PORT" "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Maximum Pool Size=50"
  cp "$RUN_DIR/state/demo.json" "$RUN_DIR/demo.json"
  local i urls=() pids=()
  for ((i = 1; i <= nodes; i++)); do
    urls+=("http://127.0.0.1:$((PORT + i))")
    pids+=("$(bench_listener_pid "$((PORT + i))")")
  done
  # shellcheck disable=SC2034 # used by the scripts that source this one
  NODE_URLS=$(IFS=,; echo "${urls[*]}")
  NODE_PIDS=$(IFS=,; echo "${pids[*]}")
  REDIS_PID=$(bench_listener_pid "$redis_port")
  BALANCER_PID=$(bench_listener_pid "$PORT")
  bench_describe "$nodes nodes ${urls[*]} (pids $NODE_PIDS) ${CALLERN_PLATFORM_ENV[*]}; Redis pid $REDIS_PID; nginx on $PORT, pid $BALANCER_PID"
}

# bench_describe <platform>: the machine, the platform under test, and what else takes the cores.
bench_describe() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version)"
  echo "platform: $1"
  # A kernel memory monitor (DAMON) samples every few hundred ms and takes a core while it does:
  # on 2 cores its bursts show in every latency tail (docs/performance.md).
  if grep -qs '^on$' /sys/kernel/mm/damon/admin/kdamonds/*/state; then
    echo "kernel: DAMON memory monitor on (its bursts add to the tails below)"
  fi
}

# The pid of the process listening on 127.0.0.1:<port>.
bench_listener_pid() {
  local pid
  pid=$(ss -ltnpH "sport = :$1" | grep -oP 'pid=\K[0-9]+' | head -1)
  [[ -n $pid ]] || callern_die "nothing listens on port $1"
  echo "$pid"
}
