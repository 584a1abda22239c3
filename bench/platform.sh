# shellcheck shell=bash
# Shared by the benchmark scripts: source it after scripts/setup.sh. Starts a throwaway PostgreSQL
# and the platform in Release as run.sh starts it (the project's server GC, the gen0 budget of
# CALLERN_PLATFORM_ENV), with the HTTP rate limits raised: the load under test is one tenant's,
# not abuse.
# Sets RUN_DIR, PORT and APP_PID; stops everything on exit.

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
    callern_pg_stop "$RUN_DIR/pg"
    rm -rf "$RUN_DIR"
  }
  trap cleanup EXIT

  callern_pg_start "$RUN_DIR/pg" "$PG_PORT" fsync=off synchronous_commit=off max_connections=200
  dotnet build src/Callern.Platform -c Release -nologo -clp:ErrorsOnly -v q >&2
  # (the build prints its summary to stderr; the figures below go to stdout)

  ConnectionStrings__Callern="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Maximum Pool Size=50" \
  Callern__DataProtection__KeysPath="$RUN_DIR/keys" \
  Callern__Demo__Seed=true \
  Callern__Demo__OutputPath="$RUN_DIR/demo.json" \
  Callern__Demo__BaseUrl="http://127.0.0.1:$PORT" \
  Callern__Limits__PermitsPerUser=1000000 \
  Callern__Limits__PermitsPerTenant=1000000 \
  Logging__LogLevel__Default=Warning \
  ASPNETCORE_URLS="http://127.0.0.1:$PORT" \
    env "${CALLERN_PLATFORM_ENV[@]}" dotnet src/Callern.Platform/bin/Release/net10.0/Callern.Platform.dll >"$RUN_DIR/platform.log" 2>&1 &
  APP_PID=$!
  # Ready only after migrations and the demo seed (demo.json) are done.
  callern_wait_http "http://127.0.0.1:$PORT/health/ready" "$APP_PID" "$RUN_DIR/platform.log" "the platform"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version)"
  # The collector as the runtime reads it: the project's settings (runtimeconfig.json), then the environment.
  echo "platform: $(python3 -c 'import json, sys
settings = json.load(open(sys.argv[1]))["runtimeOptions"]["configProperties"]
print(" ".join(f"{k}={v}" for k, v in settings.items() if k.startswith("System.GC")))' \
    src/Callern.Platform/bin/Release/net10.0/Callern.Platform.runtimeconfig.json) ${CALLERN_PLATFORM_ENV[*]}; pid $APP_PID"
  # A kernel memory monitor (DAMON) samples every few hundred ms and takes a core while it does:
  # on 2 cores its bursts show in every latency tail (docs/performance.md).
  if grep -qs '^on$' /sys/kernel/mm/damon/admin/kdamonds/*/state; then
    echo "kernel: DAMON memory monitor on (its bursts add to the tails below)"
  fi
}
