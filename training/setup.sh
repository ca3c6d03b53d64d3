#!/usr/bin/env bash
# Create the training venv at <repo>/.venv (git-ignored) and install the pinned requirements:
# requirements.txt (training) and requirements-test.txt (schemathesis for the API contract test,
# constrained by requirements.txt so the training pins never move; about 25 s more on a fresh venv).
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
want="$(cat "$REQ" "$REQ_TEST" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "setup: installing $REQ and $REQ_TEST"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ_TEST" -c "$REQ"
echo "$want" > "$STAMP"
