#!/usr/bin/env bash
# Proves that coturn takes coturn/turnserver.prod.conf.template as written.
#
#   coturn/check-prod-template.sh [<base-port>]
#
# Renders the template with throwaway values (a self-signed certificate made with openssl,
# 127.0.0.1 only, random secrets, unprivileged ports <base-port>..<base-port>+99; by
# default a free block is picked) and runs turnserver on it three times:
#   1. as rendered: fails on any configuration complaint in the log ("Wrong address
#      format", "Bad configuration format", ...), when a denied-peer-ip line was not
#      loaded, when it does not listen on UDP, TCP and TLS, or when no TLS 1.2+
#      handshake completes;
#   2. plus allow-loopback-peers: a peer on 127.0.0.1 must still be refused, by the
#      denied range 127.0.0.0-127.255.255.255 (credential signed with the current secret);
#   3. plus allow-loopback-peers, without that range: the same peer must be relayed
#      (credential signed with the previous secret), so no other range denies IPv4
#      wholesale and both secrets are accepted.
# Prints "prod template OK" and exits 0, or exits non-zero with the reason. Kills every
# process it started and removes its temporary directory.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

COTURN_SCRIPT=coturn/check-prod-template.sh
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$script_dir/common.sh"

readonly START_TIMEOUT_SECONDS=15
readonly LOOPBACK_RANGE=127.0.0.0-127.255.255.255

if (($# > 1)); then
  echo "usage: coturn/check-prod-template.sh [<base-port>]" >&2
  exit 2
fi

coturn_install
command -v openssl >/dev/null 2>&1 || coturn_die "openssl is needed"

# True when no UDP or TCP socket listens on a port in <first>..<first>+99.
block_free() {
  local first=$1 listening
  coturn_have_ss || return 0
  listening=$(ss -Hlnut 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }')
  ! awk -v lo="$first" -v hi="$((first + 99))" '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }' \
    <<<"$listening"
}

if (($# == 1)); then
  base=$1
  if ! [[ $base =~ ^[1-9][0-9]{3,4}$ ]] || ((base < 1024 || base > 65436)); then
    coturn_die "base port must be 1024..65436, got '$base'"
  fi
  block_free "$base" || coturn_die "a port in $base..$((base + 99)) is in use"
else
  # Below Linux's ephemeral range (32768-60999): a port there may be the local end of any
  # outgoing connection, which a listener cannot bind even though nothing listens on it.
  for _ in {1..50}; do
    base=$(((RANDOM % 120 + 200) * 100))
    block_free "$base" && break
  done
  block_free "$base" || coturn_die "found no free block of 100 ports"
fi
port=$base
tls_port=$((base + 2))
peer_port=$((base + 95))

tmp=$(mktemp -d)
pid=""
peer_pid=""
cleanup() {
  if [[ -n $pid ]]; then coturn_kill "$pid" child || true; fi
  if [[ -n $peer_pid ]]; then
    kill "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
  fi
  rm -rf -- "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=turn.check.invalid" \
  -keyout "$tmp/pkey.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 ||
  coturn_die "openssl could not make a self-signed certificate"
secret_current=$(openssl rand -hex 20)
secret_previous=$(openssl rand -hex 20)

conf=$tmp/turnserver.conf
log_file=$tmp/turn.log
out_file=$tmp/turnserver.out
coturn_render "$script_dir/turnserver.prod.conf.template" \
  "TURN_REALM=turn.check.invalid" \
  "TURN_LISTEN_IP=127.0.0.1" \
  "TURN_RELAY_IP=127.0.0.1" \
  "TURN_EXTERNAL_IP=127.0.0.1" \
  "TURN_PORT=$port" \
  "TURN_TLS_PORT=$tls_port" \
  "TURN_MIN_PORT=$((base + 10))" \
  "TURN_MAX_PORT=$((base + 89))" \
  "TURN_TLS_CERT=$tmp/cert.pem" \
  "TURN_TLS_PKEY=$tmp/pkey.pem" \
  "TURN_SECRET_CURRENT=$secret_current" \
  "TURN_SECRET_PREVIOUS=$secret_previous" \
  "TURN_TOTAL_QUOTA=100" \
  "TURN_LOG_FILE=$log_file" \
  "TURN_PID_FILE=$tmp/turnserver.pid" >"$conf"
if grep -nE '=[[:space:]]*$' "$conf" >&2; then
  coturn_die "the rendered template has options without a value (above)"
fi

# Starts turnserver on <conf> and waits until it listens on UDP, TCP and TLS.
start_turn() {
  rm -f -- "$log_file" "$out_file"
  turnserver -c "$1" --log-file "$log_file" </dev/null >"$out_file" 2>&1 &
  pid=$!
  if ! coturn_wait_ready "$pid" "$START_TIMEOUT_SECONDS" "$log_file $out_file" \
    "udp:127.0.0.1:$port" "tcp:127.0.0.1:$port" "tcp:127.0.0.1:$tls_port"; then
    pid=""
    coturn_die "turnserver did not start on the rendered production template"
  fi
}

stop_turn() {
  coturn_kill "$pid" child || coturn_die "could not stop turnserver"
  pid=""
}

# Relays 5 messages to the peer through turnserver with a credential signed by <secret>;
# prints turnutils_uclient's output; true when it exits 0 and messages came back (it
# also exits 0 when nothing came back).
relay_through_turn() {
  local secret=$1 username password output rc=0 received
  { read -r username; read -r password; } < <(coturn_credential "$secret" "$(($(date +%s) + 600))" check)
  output=$(timeout 60 turnutils_uclient -e 127.0.0.1 -r "$peer_port" -u "$username" -w "$password" \
    -n 5 -m 1 -p "$port" 127.0.0.1 2>&1) || rc=$?
  printf '%s\n' "$output"
  received=$(grep -o 'tot_recv_msgs=[0-9]*' <<<"$output" | tail -n 1) || true
  received=${received#tot_recv_msgs=}
  ((rc == 0 && ${received:-0} > 0))
}

# 1. The template as rendered.
start_turn "$conf"
expected=$(grep -c '^denied-peer-ip=' "$conf")
loaded=$(grep -c 'Black listing: ' "$log_file" || true)
if ((loaded != expected)); then
  coturn_log "coturn loaded $loaded of $expected denied-peer-ip ranges; not loaded:"
  grep '^denied-peer-ip=' "$conf" | while IFS= read -r line; do
    grep -qF "Black listing: ${line#denied-peer-ip=}" "$log_file" || printf '  %s\n' "$line" >&2
  done
  exit 1
fi
tls=$(timeout 10 openssl s_client -brief -connect "127.0.0.1:$tls_port" \
  -servername turn.check.invalid </dev/null 2>&1) || true
[[ $tls =~ Protocol\ version:\ TLSv1\.[23] ]] ||
  coturn_die "no TLS 1.2+ handshake on 127.0.0.1:$tls_port: $tls"
stop_turn
coturn_log "1/3 parses: $loaded denied ranges loaded, listens on UDP/TCP $port and TLS $tls_port"

turnutils_peer -L 127.0.0.1 -p "$peer_port" >"$tmp/peer.out" 2>&1 &
peer_pid=$!

# 2. Loopback peers allowed in general: the denied range must still refuse 127.0.0.1.
{
  cat "$conf"
  echo "allow-loopback-peers"
} >"$tmp/loopback.conf"
start_turn "$tmp/loopback.conf"
if output=$(relay_through_turn "$secret_current"); then
  printf '%s\n' "$output" >&2
  coturn_die "a peer on 127.0.0.1 was relayed although $LOOPBACK_RANGE is denied"
fi
grep -qF "denied in the range: $LOOPBACK_RANGE" "$log_file" || {
  printf '%s\n' "$output" >&2
  coturn_die "the 127.0.0.1 peer was not refused by the range $LOOPBACK_RANGE"
}
stop_turn
coturn_log "2/3 a 127.0.0.1 peer is refused by denied-peer-ip=$LOOPBACK_RANGE"

# 3. Without the loopback range, nothing else may refuse the IPv4 peer.
grep -vxF "denied-peer-ip=$LOOPBACK_RANGE" "$tmp/loopback.conf" >"$tmp/open.conf"
start_turn "$tmp/open.conf"
if ! output=$(relay_through_turn "$secret_previous"); then
  printf '%s\n' "$output" >&2
  grep -E 'denied in the range|check_stun_auth' "$log_file" | head -n 5 >&2 || true
  coturn_die "without $LOOPBACK_RANGE a 127.0.0.1 peer was still not relayed"
fi
stop_turn
coturn_log "3/3 without that range the peer is relayed (credential of the previous secret)"

echo "prod template OK"
