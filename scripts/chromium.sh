#!/usr/bin/env bash
# Debian's Chromium and its WebDriver (packages chromium, chromium-driver) for the dashboard's
# real-browser test (tests/tests/dashboard.rs): installed with apt-get when missing. CI runs on a
# fresh Debian machine as root. The test starts Chromium headless with flags that keep it off the
# network; nothing here starts it.
#
#   CANARY_SKIP_APT=1   never call apt-get (fail if the packages are missing)
set -euo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "chromium.sh: $(chromium --version 2>/dev/null | head -1), $(chromedriver --version | head -1)"
  exit 0
fi
[[ "${CANARY_SKIP_APT:-0}" != 1 ]] || { echo "chromium.sh: chromium or chromedriver missing (CANARY_SKIP_APT=1)" >&2; exit 1; }
[[ $EUID -eq 0 ]] || { echo "chromium.sh: run as root to apt-get install chromium chromium-driver" >&2; exit 1; }
echo "chromium.sh: installing chromium chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Another apt-get (up.sh in a parallel job) may hold the lock for a while.
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 chromium chromium-driver
echo "chromium.sh: $(chromium --version 2>/dev/null | head -1), $(chromedriver --version | head -1)"
