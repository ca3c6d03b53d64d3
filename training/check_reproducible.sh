#!/usr/bin/env bash
# Retrains every model from its seeded synthetic data and checks that each
# committed output (ONNX models, metadata, test rows, golden vectors,
# fixtures, the standard components' manifest sources) comes out byte for
# byte the same.
#
# The retraining runs in a scratch copy of the folders it reads and writes,
# so the working tree is never touched: the check can run while cargo builds
# and tests read the same files (scripts/test.sh runs it alongside the build).
# KOMP_KEEP_RETRAINED=DIR keeps the retrained copy in DIR, to inspect a difference.
#
# By default the head of postsortering's encoder is reused, not refitted
# (train_all.sh --reuse-encoder-head): everything computed from it (the
# ensemble temperature, the review threshold, test rows, golden vectors, the
# model cards) is still rebuilt and compared. --full refits it too (~4 minutes
# more of one core), as a release check does.
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATED_SOURCE=(model-card.md altai.md ai-act.md input-schema.json training-output.json reference.json operating-point.json)
# The committed files of components/models/ (the pinned encoder beside them is
# built, not committed, and checked against training/encoder/encoder.lock).
mapfile -t MODELS < <(git ls-files components/models | grep -v '/\.gitignore$')
OUTPUTS=("${MODELS[@]}" "${GENERATED_SOURCE[@]/#/components/postsortering/}"
         "${GENERATED_SOURCE[@]/#/components/underretning/}"
         components/example-feedback/model/feedback.onnx components/example-feedback/golden.json
         tests/components/hostile/model/identity.onnx tests/components/hostile/model/empty_sum.onnx)
reuse=--reuse-encoder-head
if [ "${1:-}" = "--full" ]; then reuse=""; fi
training/setup.sh
if [ -n "${KOMP_KEEP_RETRAINED:-}" ]; then
    scratch="$KOMP_KEEP_RETRAINED"
    rm -rf "$scratch" && mkdir -p "$scratch"
else
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
fi
# What training reads and writes: its own folder, the components (models,
# komp.toml), docs/ (the stop-word list), the test component's model; the
# venv is shared (the editable komp-train reads the same docs/).
mkdir -p "$scratch/tests/components/hostile"
cp -r training components docs "$scratch/"
cp -r tests/components/hostile/model "$scratch/tests/components/hostile/"
ln -s "$PWD/.venv" "$scratch/.venv"
(
    cd "$scratch"
    training/train_all.sh $reuse >/dev/null
    .venv/bin/python components/example-feedback/model/make_model.py >/dev/null
    .venv/bin/python tests/components/hostile/model/make_model.py >/dev/null
)
committed=$(sha256sum "${OUTPUTS[@]}")
retrained=$(cd "$scratch" && sha256sum "${OUTPUTS[@]}")
if [ "$committed" != "$retrained" ]; then
    echo "training is not reproducible: these outputs changed (< committed, > retrained):" >&2
    diff <(echo "$committed") <(echo "$retrained") >&2 || true
    echo "retrain in place with training/train_all.sh to see the difference with git diff," >&2
    echo "or keep the retrained copy with KOMP_KEEP_RETRAINED=DIR $0" >&2
    exit 1
fi
echo "reproducible: ${#OUTPUTS[@]} training outputs rebuilt byte for byte"
