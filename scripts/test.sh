#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (the
# wasm target; Debian's chromium and chromium-driver for the report and web
# page tests; docker-registry and skopeo for the OCI tests; the pinned Python
# packages in .venv), builds everything once, builds the components from
# source, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --chromium --oci
training/setup.sh
# The komp-train package's own tests (training/tests, pytest from requirements-test.txt).
.venv/bin/python -m pytest -q training/tests
# One build of everything (the komp binary and every test), with one feature
# resolution: building the binary alone first (`-p komp`) resolves features
# differently from `cargo test --workspace` and compiles wasmtime, tract and
# tokio twice.
cargo build --workspace --all-targets
scripts/build-components.sh target/debug/komp
# With the venv and chromium in place, their tests must run, not skip.
KOMP_REQUIRE_SKLEARN=1 KOMP_REQUIRE_CHROMIUM=1 cargo test --workspace --no-fail-fast
# Retraining from the seeded synthetic data must give the committed models
# byte for byte.
training/check_reproducible.sh
