#!/usr/bin/env bash
# Create the training venv at <repo>/.venv (git-ignored) and install the pinned requirements:
# requirements.txt (training) and requirements-test.txt (schemathesis for the API contract test,
# constrained by requirements.txt so the training pins never move; about 25 s more on a fresh venv), then the
# project's own package komp-train (training/komp_train, training/pyproject.toml) editable, so that the
# training scripts, the examples and a component author's training all import the same `komp_train`.
# Idempotent: when the venv exists and the requirements are unchanged it returns at once.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$HERE/requirements.txt"
REQ_TEST="$HERE/requirements-test.txt"
STAMP="$VENV/.komp-requirements.sha256"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating venv at $VENV"
  "$PY" -m venv "$VENV"
fi
want="$(cat "$REQ" "$REQ_TEST" "$HERE/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "import komp_train" 2>/dev/null; then
  exit 0
fi
echo "setup: installing $REQ and $REQ_TEST"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ_TEST" -c "$REQ"
# Editable and without dependencies (they are the pins above): the package's code is read from
# training/komp_train directly, so there is one copy. pip builds the small editable shim in an isolated
# environment with setuptools (training/pyproject.toml); that build leaves the pinned packages untouched.
echo "setup: installing komp-train (editable) from $HERE"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e "$HERE"
echo "$want" > "$STAMP"
