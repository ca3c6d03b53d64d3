#!/usr/bin/env bash
# Builds every component from source for wasm32-wasip2 (cargo profile
# `component`: small, stripped) and packs each into its single-file artifact:
#   target/komp-components/       the standard and example components, signed
#                                 with the development publisher key and
#                                 endorsed with the development approver key
#   target/komp-test-components/  test-only components (unsigned)
# $1 is the komp binary to pack with (default target/debug/komp, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo build --target wasm32-wasip2 --profile component \
    -p example-feedback -p postsortering -p underretning -p hostile

KOMP="${1:-target/debug/komp}"
if [ ! -x "$KOMP" ]; then cargo build -p komp --bin komp; fi

W=target/wasm32-wasip2/component
OUT=target/komp-components
TEST_OUT=target/komp-test-components
mkdir -p "$OUT" "$TEST_OUT"

pack() { # name crate model-name model-path golden out-dir
    "$KOMP" pack --component "$W/$2.wasm" --manifest "components/$1/manifest.json" \
        --model "$3=$4" --golden "$5" -o "$6/$1.wasm"
}
pack example-feedback example_feedback feedback components/example-feedback/model/feedback.onnx \
    components/example-feedback/golden.json "$OUT"
pack postsortering postsortering postsortering components/models/postsortering.onnx \
    components/postsortering/golden.json "$OUT"
pack underretning underretning underretning components/models/underretning.onnx \
    components/underretning/golden.json "$OUT"
"$KOMP" pack --component "$W/hostile.wasm" --manifest tests/components/hostile/manifest.json \
    --model identity=tests/components/hostile/model/identity.onnx -o "$TEST_OUT/hostile.wasm"

# Git checks files out world-readable; the key loader (like ssh) refuses that.
chmod 600 keys/dev/*.private.json
for f in "$OUT"/*.wasm; do
    "$KOMP" sign "$f" --key keys/dev/publisher-*.private.json >/dev/null
    "$KOMP" endorse "$f" --key keys/dev/approver-*.private.json >/dev/null
    "$KOMP" verify "$f" --policy keys/dev/policy.json >/dev/null
done
echo "components: $(ls "$OUT" | tr '\n' ' ')"
