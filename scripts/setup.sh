#!/usr/bin/env bash
# Installs what building and testing komp needs, idempotently:
# the wasm32-wasip2 target for components.
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi
