#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the wasm target, builds
# the components from source, builds the host once, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p komp-host --bin komp
scripts/build-components.sh target/debug/komp
cargo test --workspace --no-fail-fast
# Retraining from the seeded synthetic data must give the committed models
# byte for byte (installs the pinned Python packages into .venv on first run).
training/check_reproducible.sh
# The validation report's numbers against scikit-learn (needs the .venv made
# just above; the workspace run skips this check on a fresh clone).
KOMP_REQUIRE_SKLEARN=1 cargo test -p komp-validate --test sklearn
