#!/usr/bin/env bash
# Makes sure Debian's firefox-esr is installed for the browser tests that put a Firefox teacher in
# a call with a Chromium student (npm run test:browser). puppeteer-core drives /usr/bin/firefox-esr
# over WebDriver BiDi; no browser build is ever downloaded.
set -euo pipefail
[[ -x /usr/bin/firefox-esr ]] && exit 0
export DEBIAN_FRONTEND=noninteractive
echo "ensure-firefox: installing Debian's firefox-esr" >&2
# The package lists may be stale or missing on a fresh machine: refresh them only if needed.
apt-get install -y firefox-esr >&2 || { apt-get update >&2 && apt-get install -y firefox-esr >&2; }
