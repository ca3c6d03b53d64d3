#!/usr/bin/env bash
# Installs what building and testing komp needs, idempotently:
# the wasm32-wasip2 target for components; with --chromium also Debian's
# chromium, which the test of the validation report renders it in, and
# chromium-driver (chromedriver), through which the web page tests drive it.
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi
if [ "${1:-}" = "--chromium" ] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
    echo "setup: installing chromium and chromium-driver (Debian packages) for the report and web page tests" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
