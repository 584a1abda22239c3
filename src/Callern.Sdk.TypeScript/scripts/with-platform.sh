#!/usr/bin/env bash
# Runs a command with CALLERN_DEMO pointing at a running platform's demo school: the one given
# (./test.sh starts the platform and sets it), or else a throwaway platform started here with the
# repository's ./run.sh (its own PostgreSQL cluster and coturn, no sample school, every port
# below 32768), stopped again when the command ends.
set -euo pipefail
if [[ -n ${CALLERN_DEMO:-} ]]; then exec "$@"; fi
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)

# A port in [from, to] that nothing listens on (TCP and UDP), taking `span` ports from there.
free_port() {
  python3 - "$1" "$2" "${3:-1}" <<'PY'
import random, socket, sys
low, high, span = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True
for _ in range(200):
    port = random.randrange(low, high - span + 1, max(span, 1))
    if all(free(p) for p in (port, port + 1, port + 2, port + span - 1)):
        print(port)
        sys.exit(0)
sys.exit("no free port")
PY
}

STATE=$(mktemp -d "${TMPDIR:-/tmp}/callern-sdk-platform.XXXXXX")
chmod 755 "$STATE" # the cluster runs as the postgres user
PG_PORT=$(free_port 15000 17499)
PORT=$(free_port 17500 19999)
TURN_PORT=$(free_port 20000 31999 100) # coturn owns port..port+99 (its relay ports)
(cd "$ROOT" && CALLERN_STATE_DIR="$STATE" CALLERN_PG_PORT=$PG_PORT CALLERN_PORT=$PORT CALLERN_TURN_PORT=$TURN_PORT \
  CALLERN_SAMPLES=0 exec ./run.sh >"$STATE/run.out" 2>&1) &
PLATFORM_PID=$!
cleanup() {
  kill -TERM "$PLATFORM_PID" 2>/dev/null || true
  wait "$PLATFORM_PID" 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "with-platform: starting a throwaway platform on 127.0.0.1:$PORT (./run.sh builds it first)" >&2
for _ in $(seq 1 600); do
  grep -q "Callern is ready at" "$STATE/run.out" && break
  kill -0 "$PLATFORM_PID" 2>/dev/null || { cat "$STATE/run.out" >&2; echo "with-platform: ./run.sh exited" >&2; exit 1; }
  sleep 0.5
done
grep -q "Callern is ready at" "$STATE/run.out" || { cat "$STATE/run.out" >&2; echo "with-platform: ./run.sh did not get ready" >&2; exit 1; }
CALLERN_DEMO="$STATE/demo.json" "$@"
