#!/usr/bin/env bash
# The one public address of several platform nodes: nginx in the foreground.
#
#   scripts/balancer.sh <dir> <listen-port> <node-port>...
#
# Writes <dir>/nginx.conf (pid, logs and temp folders all under <dir>) and execs nginx, so the
# pid the caller started is nginx's own and its only process: TERM stops it, KILL too.
# Listens on 127.0.0.1:<listen-port> and spreads REST requests over the nodes on
# 127.0.0.1:<node-port>... round robin; hub connections by a hash of their access token, so that a
# connection's negotiate request and its WebSocket reach the same node. A node that refuses a
# connection is skipped for 2 s and the request goes to the next one. Every response names the
# node that answered in its X-Callern-Node header. Logs: <dir>/error.log, <dir>/access.log.
set -euo pipefail

balancer_die() { printf 'balancer: %s\n' "$*" >&2; exit 2; }

(($# >= 3)) || balancer_die "usage: scripts/balancer.sh <dir> <listen-port> <node-port>..."
for port in "${@:2}"; do
  if ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then balancer_die "not a port: '$port'"; fi
done
mkdir -p "$1"
dir=$(cd "$1" && pwd)
# The folder goes into the config as a quoted string, where these would end it or read as variables.
case $dir in *[\"\'\$\\\;{}]*) balancer_die "the folder's path may not hold any of \" ' \$ \\ ; { }: $dir" ;; esac
listen=$2
shift 2

servers=""
for port in "$@"; do
  # A node that fails once (a refused connect) is left out for 2 s, then tried again.
  servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"$'\n'
done

cat >"$dir/nginx.conf" <<CONF
# Written by scripts/balancer.sh on every start; edits are lost.
daemon off;
# One process, no master: the pid the caller holds is the one serving, so a KILL leaves no
# worker behind still holding the port.
master_process off;
worker_processes 1;
# Descriptors for every connection below (see also the ulimit in scripts/balancer.sh).
worker_rlimit_nofile 65535;
pid "$dir/nginx.pid";
error_log "$dir/error.log" warn;

events {
    # Each proxied WebSocket holds two connections (browser and node): room for 30,000 of them.
    worker_connections 65535;
}

http {
    client_body_temp_path "$dir/client_body_temp";
    proxy_temp_path "$dir/proxy_temp";
    fastcgi_temp_path "$dir/fastcgi_temp";
    uwsgi_temp_path "$dir/uwsgi_temp";
    scgi_temp_path "$dir/scgi_temp";
    log_format callern '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent '
                       'node=\$upstream_addr node_status=\$upstream_status \${request_time}s';
    access_log "$dir/access.log" callern;
    server_tokens off;

    # A WebSocket handshake asks the node to upgrade; any other request closes its connection to
    # the node when answered.
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }

    # A hub connection is a negotiate request, then a WebSocket (or a resumed one, after a drop)
    # that only the node that negotiated it knows. Both carry the same access token: the
    # negotiate in its Authorization header, a browser's WebSocket as ?access_token=. Hashing
    # on it keeps them on one node with no session state here; a node that is down is skipped,
    # and its clients' next negotiate goes to another.
    map "\$http_authorization|\$arg_access_token" \$hub_affinity {
        "~^(?<header>[^|]+)\\|"   \$header;
        "~^\\|(?<query>.+)\$"     "Bearer \$query";
        default                  \$request_id;
    }

    upstream callern_nodes {
$servers    }

    upstream callern_hubs {
        hash \$hub_affinity consistent;
$servers    }

    server {
        listen 127.0.0.1:$listen;

        # The platform's largest body is a classroom file: at most 100 MiB (MaxFileBytesCap) plus
        # 64 KiB of multipart framing. The platform answers a larger one itself, with problem details.
        client_max_body_size 101m;

        location /hubs/ {
            proxy_pass http://callern_hubs;
            include "$dir/proxy.conf";
        }

        location / {
            proxy_pass http://callern_nodes;
            include "$dir/proxy.conf";
        }
    }
}
CONF

# What both locations do with a request they pass on.
cat >"$dir/proxy.conf" <<CONF
    proxy_http_version 1.1;
    proxy_set_header Upgrade \$http_upgrade;
    proxy_set_header Connection \$connection_upgrade;
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;

    # A connect refused by a dead node is retried on the next node, POST too: nothing
    # was sent. A request that reached a node is never sent twice (no non_idempotent).
    proxy_next_upstream error timeout;
    # Nodes are on loopback: a connect that takes seconds will not succeed.
    proxy_connect_timeout 5s;
    # A hub WebSocket is quiet between pings and lives as long as a lesson.
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;
    # Responses and uploads stream through as they come instead of being spooled to disk.
    proxy_buffering off;
    proxy_request_buffering off;

    # Which node answered (after a retry, every node tried).
    add_header X-Callern-Node \$upstream_addr always;
CONF

# worker_rlimit_nofile applies to worker processes only; with master_process off the one process
# takes the shell's limit. Raising it needs root above the hard limit: otherwise keep the hard one.
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < 65535)); then
  ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
# Debian installs nginx in /usr/sbin, which a non-root PATH may lack. -e: the log nginx writes to
# before it reads error_log from the config (the built-in one may not be writable).
nginx=$(command -v nginx || echo /usr/sbin/nginx)
exec "$nginx" -e "$dir/error.log" -c "$dir/nginx.conf" -p "$dir"
