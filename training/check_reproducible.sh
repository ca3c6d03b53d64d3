#!/usr/bin/env bash
# Retrains every model from its seeded synthetic data and checks that each
# committed output (ONNX models, metadata, test rows, golden vectors,
# fixtures, the standard components' manifest sources) comes out byte for
# byte the same.
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATED_SOURCE=(model-card.md altai.md ai-act.md input-schema.json training-output.json reference.json operating-point.json)
OUTPUTS=(components/models/* "${GENERATED_SOURCE[@]/#/components/postsortering/}"
         "${GENERATED_SOURCE[@]/#/components/underretning/}"
         components/example-feedback/model/feedback.onnx components/example-feedback/golden.json
         tests/components/hostile/model/identity.onnx tests/components/hostile/model/empty_sum.onnx)
before=$(sha256sum "${OUTPUTS[@]}")
training/train_all.sh >/dev/null
.venv/bin/python components/example-feedback/model/make_model.py >/dev/null
.venv/bin/python tests/components/hostile/model/make_model.py >/dev/null
after=$(sha256sum "${OUTPUTS[@]}")
if [ "$before" != "$after" ]; then
    echo "training is not reproducible: these outputs changed:" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi
echo "reproducible: ${#OUTPUTS[@]} training outputs rebuilt byte for byte"
