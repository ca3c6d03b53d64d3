#!/usr/bin/env bash
# Runs the municipal HTTP host with the standard components on an embedded
# default registry: builds komp (release) and the components from source,
# signs them with the development keys (keys/dev/, local use only), and on
# first start publishes them into the local registry in ./komp-data.
# Extra arguments go to `komp serve` (see `komp serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p komp --bin komp
scripts/build-components.sh target/release/komp
exec target/release/komp serve --dev --data-dir komp-data --seed-dir target/komp-components "$@"
