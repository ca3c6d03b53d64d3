#!/usr/bin/env bash
# Create the training venv at <repo>/.venv (git-ignored) and install the pinned requirements.
# Idempotent: when the venv exists and the requirements are unchanged it returns at once.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.komp-requirements.sha256"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating venv at $VENV"
  "$PY" -m venv "$VENV"
fi
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "setup: installing $REQ"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
echo "$want" > "$STAMP"
