# shellcheck shell=bash
# Shared by ./run.sh and ./test.sh: source it. Installs what a fresh Debian machine lacks and
# starts a private PostgreSQL cluster. Expects the caller's "set -euo pipefail".

callern_log() { printf 'callern: %s\n' "$*" >&2; }
callern_die() { callern_log "$*"; exit 1; }

APT_UPDATED=0
# Installs Debian packages that are missing; apt-get update only when an install needs it.
callern_apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  callern_log "installing ${missing[*]}"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600)
  if ((EUID != 0)); then apt=(sudo -n "${apt[@]}"); fi
  if ((APT_UPDATED == 0)) && ! "${apt[@]}" install "${missing[@]}" >&2; then
    APT_UPDATED=1
    "${apt[@]}" update >&2
    "${apt[@]}" install "${missing[@]}" >&2
  elif ((APT_UPDATED == 1)); then
    "${apt[@]}" install "${missing[@]}" >&2
  fi
}

callern_require_tools() {
  command -v dotnet >/dev/null 2>&1 || callern_die "the .NET 10 SDK (dotnet) is required"
  command -v node >/dev/null 2>&1 || callern_die "Node.js 20+ (node, npm) is required"
  callern_apt_install postgresql
}

# A TCP port nobody listens on now, from the kernel's ephemeral range.
# callern_free_port [low=10000] [high=19999] [span=1]: a port in [low, high] that nothing listens
# on (TCP and UDP), with its span of ports after it free too (coturn owns port..port+99). Below
# 32768: the kernel hands ports above it to outgoing connections, which could take a server's.
callern_free_port() {
  python3 - "${1:-10000}" "${2:-19999}" "${3:-1}" <<'PY'
import random, socket, sys
low, high, span = (int(a) for a in sys.argv[1:4])
def free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True
candidates = (random.randrange(low, high - span + 2, max(span, 1)) for _ in range(200))
port = next((p for p in candidates if all(free(q) for q in {p, p + 1, p + 2, p + span - 1})), None)
if port is None:
    raise SystemExit(f"no free port in {low}-{high}")
print(port)
PY
}

PG_BIN=""
callern_pg_bin() {
  [[ -n $PG_BIN ]] && return 0
  PG_BIN=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -1 | xargs -r dirname)
  [[ -n $PG_BIN ]] || callern_die "PostgreSQL binaries not found under /usr/lib/postgresql"
}

# callern_pg_start <dir> <port> [extra postgres -c settings...]: initdb once, then start.
# initdb refuses root, so the cluster belongs to the postgres user when we are root.
callern_pg_start() {
  local dir=$1 port=$2
  shift 2
  callern_pg_bin
  local as=()
  if ((EUID == 0)); then as=(runuser -u postgres --); fi
  mkdir -p "$dir"
  if ((EUID == 0)); then chown postgres "$dir"; fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; callern_die "initdb failed"; }
  fi
  local opts="-p $port -k $dir -c listen_addresses=127.0.0.1"
  local setting
  for setting in "$@"; do opts+=" -c $setting"; done
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
    || { tail -20 "$dir/postgres.log" >&2; callern_die "PostgreSQL did not start"; }
}

callern_pg_stop() {
  local dir=$1
  callern_pg_bin
  [[ -f $dir/data/postmaster.pid ]] || return 0
  local as=()
  if ((EUID == 0)); then as=(runuser -u postgres --); fi
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# npm ci in <dir> unless its node_modules already matches package-lock.json (npm ci writes
# node_modules/.package-lock.json; a newer lock file means a changed one).
callern_npm_ci() {
  [[ $1/node_modules/.package-lock.json -nt $1/package-lock.json ]] && return 0
  (cd "$1" && npm ci --no-audit --no-fund >&2)
}

# callern_run_platform <state-dir> <port> <connection string>: starts ./run.sh in the background
# on that database and waits for its ready line. Sets PLATFORM_PID; stop it with kill -TERM.
# Without the sample school unless CALLERN_SAMPLES=1 (then on CALLERN_SAMPLES_PORT).
callern_run_platform() {
  local state=$1 port=$2 db=$3
  mkdir -p "$state"
  CALLERN_SAMPLES=${CALLERN_SAMPLES:-0} CALLERN_DB="$db" CALLERN_PORT=$port CALLERN_STATE_DIR="$state" ./run.sh >"$state/run.out" 2>&1 &
  PLATFORM_PID=$!
  local _
  # Up to 5 minutes: ./run.sh builds first, which on a fresh machine takes most of that.
  for _ in $(seq 1 600); do
    grep -q "Callern is ready at http://127.0.0.1:$port" "$state/run.out" && return 0
    kill -0 "$PLATFORM_PID" 2>/dev/null || break
    sleep 0.5
  done
  cat "$state/run.out" >&2
  callern_die "./run.sh did not print its ready line"
}

# The environment the platform runs in (run.sh, the benchmarks): `env "${CALLERN_PLATFORM_ENV[@]}"
# dotnet ...`, so the started process is dotnet itself. A 128 MiB gen0 budget per GC heap (the
# project runs server GC, one heap per core). With thousands of hub connections a gen0 collection
# pauses about as long at 64 MiB as at 128 MiB, so the larger budget halves how often it pauses:
# at 5,000 calls and 5,000 signals/s it collects every 8-9 s (docs/performance.md). The runtime
# reads this setting only from the environment.
# shellcheck disable=SC2034 # used by the scripts that source this one
CALLERN_PLATFORM_ENV=(DOTNET_GCgen0size=0x8000000)

# callern_wait_http <url> <pid> <log> <name>: waits up to 60 s for the url to answer 2xx; dies
# with the log's tail if the process exits first or the url never answers.
callern_wait_http() {
  local url=$1 pid=$2 log=$3 name=$4 _
  for _ in $(seq 1 120); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; callern_die "$name exited"; }
    sleep 0.5
  done
  tail -30 "$log" >&2
  callern_die "$name did not answer $url"
}

# callern_redis_start <dir> <port>: a Redis on 127.0.0.1:<port> in the background, for the SignalR
# backplane of several nodes: pub/sub only, so nothing is saved. Waits up to 10 s until this very
# process answers (not another Redis already on the port). Sets REDIS_PID; logs to <dir>/redis.log.
REDIS_PID=""
callern_redis_start() {
  local dir=$1 port=$2 _
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$dir" \
    </dev/null >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$port" info server 2>/dev/null | grep -q "^process_id:$REDIS_PID\b" && return 0
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$dir/redis.log" >&2
  callern_die "Redis did not start on 127.0.0.1:$port"
}

# Stops the Redis callern_redis_start started, if any.
callern_redis_stop() {
  [[ -n $REDIS_PID ]] || return 0
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
}

# callern_create_database <server connection string> <name>
callern_create_database() {
  local port
  port=$(sed -E 's/.*Port=([0-9]+).*/\1/' <<<"$1")
  psql "postgresql://postgres@127.0.0.1:$port/postgres" -qAt -c "CREATE DATABASE $2" >/dev/null
}
