#!/usr/bin/env bash
# Installs what building and testing komp needs, idempotently:
# the wasm32-wasip2 target for components; with --chromium also Debian's
# chromium, which the test of the validation report renders it in, and
# chromium-driver (chromedriver), through which the web page tests drive it;
# with --oci also Debian's docker-registry (the CNCF distribution registry) and
# skopeo, which the OCI distribution tests (oci/) run on loopback, and openssl,
# with which they make a private CA for the TLS test.
set -euo pipefail
CHROMIUM=0
OCI=0
for arg in "$@"; do
    case "$arg" in
        --chromium) CHROMIUM=1 ;;
        --oci) OCI=1 ;;
        *) echo "setup: unknown option $arg (known: --chromium, --oci)" >&2; exit 2 ;;
    esac
done
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi
if [ "$CHROMIUM" = 1 ] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
    echo "setup: installing chromium and chromium-driver (Debian packages) for the report and web page tests" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ "$OCI" = 1 ] && ! { command -v docker-registry && command -v skopeo && command -v openssl; } >/dev/null 2>&1; then
    echo "setup: installing docker-registry, skopeo and openssl (Debian packages) for the OCI tests" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-registry skopeo openssl >/dev/null
fi
