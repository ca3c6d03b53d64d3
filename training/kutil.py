"""Small helpers of the standard components' training: where the outputs go, deterministic JSON, file digests.

Features, calibration, ONNX export, verification and metrics are in the komp-train package (`komp_train`),
shared with an author's own training."""
from __future__ import annotations

import hashlib
import json
import os


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.environ.get("KOMP_OUT_DIR") or os.path.join(ROOT, "components", "models")  # override: experiments only


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, sort_keys=True, indent=2)
        f.write("\n")


def write_jsonl(path: str, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
            f.write("\n")


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
