# shellcheck shell=bash
# Shared by coturn/start.sh, coturn/stop.sh and coturn/check-prod-template.sh: source it,
# do not run it. Bash only; expects the caller's "set -euo pipefail" and COTURN_SCRIPT set
# to the caller's name (for messages).

# Lines that mean coturn did not take its configuration as written. coturn keeps running
# after most of them: a CIDR in denied-peer-ip, for one, is dropped with only
# "Wrong address format" in the log.
COTURN_FATAL_LOG_PATTERN='Wrong address format|Bad configuration format|Unknown boolean value|CONFIG ERROR|CONFIGURATION ALERT|Cannot bind|cannot bind'

coturn_log() { printf '%s: %s\n' "${COTURN_SCRIPT:-coturn}" "$*" >&2; }
coturn_die() { coturn_log "$*"; exit 1; }

# Installs Debian's coturn (turnserver, turnutils_uclient, turnutils_peer) when turnserver
# is missing. Runs apt-get update only when the install fails without it; waits for a
# dpkg lock held by another apt-get instead of failing.
coturn_install() {
  command -v turnserver >/dev/null 2>&1 && return 0
  coturn_log "turnserver not found: installing Debian's coturn"
  local -a root=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || coturn_die "installing coturn needs root or sudo"
    root=(sudo -n)
  fi
  local -a apt=("${root[@]}" env DEBIAN_FRONTEND=noninteractive
    apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold)
  if ! "${apt[@]}" install coturn >&2; then
    coturn_log "apt-get install coturn failed: running apt-get update and trying again"
    "${apt[@]}" update >&2 || coturn_die "apt-get update failed"
    "${apt[@]}" install coturn >&2 || coturn_die "apt-get install coturn failed"
  fi
  command -v turnserver >/dev/null 2>&1 || coturn_die "coturn installed, but turnserver is not on PATH"
}

# True while <pid> is a live (not zombie) turnserver process; a reused pid of another
# program does not count.
coturn_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $stat == "$pid (turnserver) "* ]] || return 1
  [[ ${stat#"$pid (turnserver) "} != Z* ]]
}

# True while <pid>, a child just started with "turnserver ... &", lives: right after the
# fork it may still be bash, before its exec of turnserver.
coturn_child_alive() {
  local pid=$1 stat
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ ${stat##*) } != Z* ]]
}

# Stops <pid> if it is a turnserver: SIGTERM, up to 5 s, then SIGKILL. With "child",
# stops it whatever program it runs (for a child this script just started).
coturn_kill() {
  local pid=$1 alive=coturn_alive i
  [[ ${2:-} == child ]] && alive=coturn_child_alive
  "$alive" "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    "$alive" "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    "$alive" "$pid" || return 0
    sleep 0.1
  done
  coturn_log "turnserver pid $pid survived SIGKILL"
  return 1
}

# Prints <template> with each ${NAME} replaced by VALUE, for the NAME=VALUE arguments,
# the way envsubst would; fails if a placeholder is left.
coturn_render() {
  local template=$1 text pair name
  shift
  text=$(<"$template")
  for pair in "$@"; do
    name=${pair%%=*}
    text=${text//"\${$name}"/"${pair#*=}"}
  done
  if [[ $text =~ \$\{[A-Za-z_][A-Za-z0-9_]*\} ]]; then
    coturn_die "$template: no value for ${BASH_REMATCH[0]}"
  fi
  printf '%s\n' "$text"
}

coturn_have_ss() { command -v ss >/dev/null 2>&1; }

# True when anything listens on <port> (UDP or TCP, any address). Without ss, only a TCP
# listener on 127.0.0.1 is seen.
coturn_port_busy() {
  local port=$1
  if coturn_have_ss; then
    [[ -n $(ss -Hlnut "sport = :$port" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# True when turnserver <pid> listens on <ip>:<port> with <proto> (udp or tcp). Checks the
# owner because coturn binds with SO_REUSEPORT: a second coturn on the same port starts
# without any error. Without ss, falls back to a TCP connect (coturn's TCP listener
# shares the port of its UDP one).
coturn_listening() {
  local pid=$1 ip=$2 port=$3 proto=$4 sockets line
  if coturn_have_ss; then
    sockets=$(ss -Hln"${proto:0:1}"p "sport = :$port" 2>/dev/null) || return 1
    while IFS= read -r line; do
      [[ $line == *" $ip:$port "* && $line == *"pid=$pid,"* ]] && return 0
    done <<<"$sockets"
    return 1
  else
    (exec 3<>"/dev/tcp/$ip/$port") 2>/dev/null
  fi
}

# Waits up to <timeout> seconds until turnserver <pid> listens on every <proto>:<ip>:<port>
# given. Fails (kills the process, prints the offending log lines) as soon as a log file
# shows a configuration error or the process is gone.
#   coturn_wait_ready <pid> <timeout> "<log files>" <proto>:<ip>:<port>...
coturn_wait_ready() {
  local pid=$1 timeout=$2 logs=$3 deadline endpoint ready proto ip port
  shift 3
  local -a log_files
  read -r -a log_files <<<"$logs"
  deadline=$((SECONDS + timeout))
  while true; do
    ready=1
    for endpoint in "$@"; do
      IFS=: read -r proto ip port <<<"$endpoint"
      coturn_listening "$pid" "$ip" "$port" "$proto" || { ready=0; break; }
    done
    # Checked after the listeners: coturn reads its whole configuration before it opens
    # them, so once it listens, every configuration complaint is in the log.
    if grep -qE "$COTURN_FATAL_LOG_PATTERN" "${log_files[@]}" 2>/dev/null; then
      coturn_log "turnserver did not accept its configuration:"
      grep -hE "$COTURN_FATAL_LOG_PATTERN" "${log_files[@]}" 2>/dev/null | sed 's/^/  /' >&2 || true
      coturn_kill "$pid" child || true
      return 1
    fi
    if ! coturn_child_alive "$pid"; then
      coturn_log "turnserver exited during startup; last log lines:"
      tail -n 20 "${log_files[@]}" 2>/dev/null | sed 's/^/  /' >&2 || true
      return 1
    fi
    ((ready)) && return 0
    if ((SECONDS >= deadline)); then
      coturn_log "turnserver does not listen on $* after ${timeout}s; last log lines:"
      tail -n 20 "${log_files[@]}" 2>/dev/null | sed 's/^/  /' >&2 || true
      coturn_kill "$pid" child || true
      return 1
    fi
    sleep 0.2
  done
}

# Prints a TURN REST credential: the username "<expiry>:<id>" on the first line and the
# password base64(HMAC-SHA1(secret, username)) on the second.
#   coturn_credential <secret> <expiry unix seconds> <id>
coturn_credential() {
  local secret=$1 username="$2:$3"
  printf '%s\n' "$username"
  printf '%s' "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64
}
