#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser tests (npm run test:browser in the
# TypeScript SDK, npm run test:e2e in samples/), which run it before they start.
# The tests drive /usr/bin/chromium through playwright-core; no browser build is ever downloaded.
set -euo pipefail
[[ -x /usr/bin/chromium ]] && exit 0
export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: installing Debian's chromium" >&2
# The package lists may be stale or missing on a fresh machine: refresh them only if needed.
apt-get install -y chromium >&2 || { apt-get update >&2 && apt-get install -y chromium >&2; }
