#!/bin/sh
# Install the Debian packages sandtable needs, only those that are missing.
# As root: apt-get; else with sudo when it works without a password; else print the
# exact command and stop. Idempotent: does nothing when everything is installed.
set -eu

PACKAGES="postgresql-15 postgresql-15-postgis-3 postgresql-15-hll chromium chromium-driver fonts-noto-cjk poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "setup: installing system packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "setup: cannot install system packages without root; run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q -o DPkg::Lock::Timeout=600
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 $missing
