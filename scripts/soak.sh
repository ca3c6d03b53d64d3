#!/usr/bin/env bash
# The soak run, before a release (not in CI): a release build of `komp serve`
# with the standard components and the hostile component, under high load
# from concurrent clients sending a mix of good requests, bad requests and
# hostile calls, for a bounded time. Fails on any unexpected answer (a 5xx
# to a good or bad request, a 2xx to a bad one, a dropped connection, a
# hang) or if the server's memory grows; prints the counts and RSS at the
# start (after warm-up) and the end. See SECURITY.md.
#
#   scripts/soak.sh                 # 10 minutes, 16 clients
#   scripts/soak.sh --minutes 60 --clients 32
#   scripts/soak.sh --seconds 30    # a quick check of the script itself
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=600
CLIENTS=16
PROFILE=release
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) SECONDS_TOTAL=$(( $2 * 60 )); shift 2 ;;
        --seconds) SECONDS_TOTAL=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --debug) PROFILE=debug; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$PROFILE" = release ]; then
    cargo build --release -p komp --bin komp
    scripts/build-components.sh target/release/komp
    KOMP_SOAK_SECONDS=$SECONDS_TOTAL KOMP_SOAK_CLIENTS=$CLIENTS \
        cargo test --release -p komp-tests --test suite soak:: -- --ignored --nocapture
else
    cargo build -p komp --bin komp
    scripts/build-components.sh target/debug/komp
    KOMP_SOAK_SECONDS=$SECONDS_TOTAL KOMP_SOAK_CLIENTS=$CLIENTS \
        cargo test -p komp-tests --test suite soak:: -- --ignored --nocapture
fi
