#!/usr/bin/env bash
# Starts a private coturn on 127.0.0.1 for local runs and tests.
#
#   coturn/start.sh <run-dir> <port> <secret> [<secret>...]
#
# Installs Debian's coturn when turnserver is missing, renders
# turnserver.local.conf.template into <run-dir>/turnserver.conf, starts turnserver in the
# background and waits (at most 15 s) until it listens on 127.0.0.1:<port> (UDP and TCP).
# Prints the pid as the last line of stdout and writes it to <run-dir>/turn.pid; all other
# output goes to stderr. Exits non-zero, with the offending log lines, when coturn rejects
# a configuration line, dies, or does not listen in time.
#
# <port>       1024..65436; relay ports are <port>+2 .. <port>+99: an instance owns the
#              ports <port>..<port>+99, so instances 100 ports apart never collide.
# <secret>...  TURN REST secrets: sign credentials with the first; all are accepted.
# Stop it with coturn/stop.sh <run-dir>. The log is <run-dir>/turn.log.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

COTURN_SCRIPT=coturn/start.sh
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$script_dir/common.sh"

readonly START_TIMEOUT_SECONDS=15

if (($# < 3)); then
  echo "usage: coturn/start.sh <run-dir> <port> <secret> [<secret>...]" >&2
  exit 2
fi
run_dir=$1
port=$2
shift 2

if ! [[ $port =~ ^[1-9][0-9]{3,4}$ ]] || ((port < 1024 || port > 65436)); then
  coturn_die "port must be 1024..65436 (relay ports are port+2..port+99), got '$port'"
fi
for secret in "$@"; do
  [[ -n $secret && $secret != *[[:space:][:cntrl:]\"]* ]] ||
    coturn_die "a secret must be non-empty, without whitespace, control characters or '\"'"
done
[[ -n $run_dir && $run_dir != *[[:space:][:cntrl:]\"]* ]] ||
  coturn_die "the run directory must be non-empty, without whitespace or '\"' (coturn's config syntax)"

coturn_install

mkdir -p -- "$run_dir"
run_dir=$(cd -- "$run_dir" && pwd)
conf=$run_dir/turnserver.conf
pid_file=$run_dir/turn.pid
log_file=$run_dir/turn.log
out_file=$run_dir/turnserver.out

if [[ -f $pid_file ]]; then
  old_pid=$(<"$pid_file")
  if coturn_alive "$old_pid"; then
    coturn_die "coturn already runs from $run_dir (pid $old_pid); stop it with coturn/stop.sh $run_dir"
  fi
  rm -f -- "$pid_file"
fi

# coturn binds with SO_REUSEPORT: a second instance on a taken port starts without any
# error and shares the traffic, so refuse a busy port up front.
if coturn_port_busy "$port"; then
  coturn_die "port $port is already in use on this machine"
fi

secret_lines=$(printf 'static-auth-secret=%s\n' "$@")
rm -f -- "$conf" "$log_file" "$out_file" "$run_dir/turnserver.pid"
(
  umask 077
  coturn_render "$script_dir/turnserver.local.conf.template" \
    "TURN_PORT=$port" \
    "TURN_MIN_PORT=$((port + 2))" \
    "TURN_MAX_PORT=$((port + 99))" \
    "TURN_RUN_DIR=$run_dir" \
    "TURN_STATIC_AUTH_SECRET_LINES=$secret_lines" >"$conf"
)

# In the foreground of a background job, not as a daemon (-o): $! is turnserver's pid.
# --log-file on the command line too, or coturn first opens a log under /var/log before
# it reads the config. Its stdout/stderr go to a file so that a caller capturing this
# script's output with $(...) is not held open by turnserver.
turnserver -c "$conf" --log-file "$log_file" </dev/null >"$out_file" 2>&1 &
pid=$!
printf '%s\n' "$pid" >"$pid_file"

if ! coturn_wait_ready "$pid" "$START_TIMEOUT_SECONDS" "$log_file $out_file" \
  "udp:127.0.0.1:$port" "tcp:127.0.0.1:$port"; then
  rm -f -- "$pid_file"
  coturn_die "coturn failed to start from $conf"
fi

coturn_log "coturn listens on 127.0.0.1:$port (relay ports $((port + 2))-$((port + 99))), log $log_file"
printf '%s\n' "$pid"
