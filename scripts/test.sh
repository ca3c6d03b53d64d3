#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (the
# wasm target; Debian's chromium and chromium-driver for the report and web
# page tests; docker-registry and skopeo for the OCI tests; the pinned Python
# packages in .venv), builds everything once, builds the components from
# source, runs every test.
#
# What does not need the Rust build runs beside it, in the background: the
# installs (network-bound), then the komp-train package's tests and the
# byte-for-byte retraining check (one core, at a lower priority, in a scratch
# copy so the build never sees a file change), all done before the Rust tests. Each stage prints the seconds
# since the start, so a slow run shows where its time went.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh clone has no incremental state to reuse, and writing it makes a cold
# build of the workspace's own crates slower; set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
start=$SECONDS
stage() { echo "test.sh: [$((SECONDS - start)) s] $*" >&2; }
logs="$(mktemp -d)"
background=""
cleanup() { [ -z "$background" ] || kill "$background" 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT

stage "background: setup (wasm target, chromium, OCI tools, Python venv), then the training checks"
(
    scripts/setup.sh --chromium --oci
    training/setup.sh
    touch "$logs/setup.done"
    # The komp-train package's own tests (training/tests, pytest from requirements-test.txt).
    .venv/bin/python -m pytest -q training/tests
    # Retraining from the seeded synthetic data must give the committed models byte for byte.
    nice -n 10 training/check_reproducible.sh
) >"$logs/background.log" 2>&1 &
background=$!
background_failed() {
    echo "test.sh: the background stage failed; its output:" >&2
    cat "$logs/background.log" >&2
    exit 1
}

# One build of everything (the komp binary and every test), with one feature
# resolution: building the binary alone first (`-p komp`) resolves features
# differently from `cargo test --workspace` and compiles wasmtime, tract and
# tokio twice.
stage "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

stage "waiting for the setup"
until [ -e "$logs/setup.done" ]; do
    kill -0 "$background" 2>/dev/null || { wait "$background" || true; background_failed; }
    sleep 1
done
stage "building the components"
scripts/build-components.sh target/debug/komp
# The training checks end before the Rust tests start: some of those measure
# latency under load (tests/tests/isolation.rs) and must have the cores to
# themselves. On a cold build the checks are long done by now.
stage "waiting for the training checks"
if ! wait "$background"; then background="" && background_failed; fi
background=""
grep -E "passed|reproducible" "$logs/background.log" >&2 || true
# With the venv and chromium in place, their tests must run, not skip.
stage "cargo test --workspace"
KOMP_REQUIRE_SKLEARN=1 KOMP_REQUIRE_CHROMIUM=1 cargo test --workspace --no-fail-fast
stage "all tests passed"
