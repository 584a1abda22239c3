#!/usr/bin/env bash
# Stops the coturn that coturn/start.sh started from <run-dir>.
#
#   coturn/stop.sh <run-dir>
#
# Kills the turnserver whose pid is in <run-dir>/turn.pid (SIGTERM, then SIGKILL after
# 5 s) and removes the pid file. Succeeds when nothing runs there any more, also when
# nothing ran; a pid that now belongs to another program is left alone.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

COTURN_SCRIPT=coturn/stop.sh
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$script_dir/common.sh"

if (($# != 1)); then
  echo "usage: coturn/stop.sh <run-dir>" >&2
  exit 2
fi
pid_file=$1/turn.pid

[[ -f $pid_file ]] || exit 0
pid=$(<"$pid_file")
[[ $pid =~ ^[0-9]+$ ]] || coturn_die "$pid_file holds no pid"
coturn_kill "$pid" || coturn_die "could not stop turnserver pid $pid"
rm -f -- "$pid_file"
