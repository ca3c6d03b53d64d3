"""`training-output.json`: what a training run hands to `komp build`.

    {"metrics": {...}, "golden_vectors": [...]}                      (and optionally)
    {..., "group_results": {...}, "operating_point": {...}}

- `metrics` is exactly the model card's `metrics` object of the manifest (`model_card.metrics`, free-form
  JSON; `komp_train.metrics.card_metrics` makes one). A number `accuracy` at the top level is what the host
  compares when a component is upgraded.
- `golden_vectors` is exactly the manifest's `golden_vectors` list (artifact/src/manifest.rs, `GoldenVector`,
  read with `deny_unknown_fields`): `{"input": <the component's input JSON>, "expected": {"label": <id>,
  "scores": {<id>: <float>, ...}}, "tolerance": <float>}`. Installing fails if the component's answer for
  `input` has another label or differs by more than `tolerance` in any score.
- `group_results` and `operating_point` (optional) are the model card's fields of those names (results per
  group, the operating point with the numbers behind it), when the training run computes them.

The file is checked before it is written, so a mistake shows up in the training run that made it, with the
index of the bad vector, rather than later in `komp build`. Written deterministically (same inputs, same
bytes; numpy numbers become plain JSON numbers, float32 values exactly).
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

DEFAULT_TOLERANCE = 1e-4   # the manifest's default (artifact/src/manifest.rs)
FILE_NAME = "training-output.json"


class TrainingOutputError(ValueError):
    """The metrics or golden vectors do not have the manifest's shape; the message says which and why."""


def _plain(x, where: str):
    """numpy scalars and arrays -> plain Python, refusing NaN, infinities and types JSON does not have."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            if not isinstance(k, str):
                raise TrainingOutputError(f"{where}: key {k!r} is not a string (JSON object keys are strings)")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(list(x))]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if not math.isfinite(f):
            raise TrainingOutputError(f"{where}: {f} is not a finite number (JSON has no NaN or infinity)")
        return f
    if x is None or isinstance(x, str):
        return x
    raise TrainingOutputError(f"{where}: a {type(x).__name__} cannot be written as JSON")


def golden_vector(input: dict, scores: dict, label: str | None = None, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """One golden vector in the manifest's shape. `scores` maps every label id to the exported graph's float32
    score for `input`; `label` defaults to the top-scoring id (pass it for a thresholded binary decision)."""
    if label is None:
        if not scores:
            raise TrainingOutputError("golden_vector: no scores and no label")
        label = max(scores, key=lambda k: scores[k])
    return {"input": input, "expected": {"label": label, "scores": dict(scores)}, "tolerance": tolerance}


def check_golden_vectors(golden_vectors, labels: list[str] | None = None) -> list:
    """The golden vectors as plain JSON, or `TrainingOutputError` naming the first one that does not fit."""
    if not isinstance(golden_vectors, (list, tuple)):
        raise TrainingOutputError(f"golden_vectors must be a list, got a {type(golden_vectors).__name__}")
    if not golden_vectors:
        raise TrainingOutputError("golden_vectors is empty: give at least one input with its expected output, so that "
                                  "installing can check the component computes what was trained")
    out = []
    for i, g in enumerate(golden_vectors):
        where = f"golden_vectors[{i}]"
        g = _plain(g, where)
        if not isinstance(g, dict):
            raise TrainingOutputError(f"{where}: must be an object with input, expected and tolerance")
        extra = set(g) - {"input", "expected", "tolerance"}
        if extra:
            raise TrainingOutputError(f"{where}: unknown field(s) {sorted(extra)} (allowed: input, expected, tolerance)")
        if "input" not in g or g["input"] is None:
            raise TrainingOutputError(f"{where}: missing input (the JSON the component is called with)")
        e = g.get("expected")
        if not isinstance(e, dict) or not isinstance(e.get("label"), str) or not e["label"]:
            raise TrainingOutputError(f"{where}.expected: must be an object with a non-empty string label")
        extra = set(e) - {"label", "scores"}
        if extra:
            raise TrainingOutputError(f"{where}.expected: unknown field(s) {sorted(extra)} (allowed: label, scores)")
        scores = e.setdefault("scores", {})
        if not isinstance(scores, dict):
            raise TrainingOutputError(f"{where}.expected.scores: must be an object {{label id: score}}")
        for k, v in scores.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TrainingOutputError(f"{where}.expected.scores.{k}: {v!r} is not a number")
        if labels is not None:
            if e["label"] not in labels:
                raise TrainingOutputError(f"{where}.expected.label {e['label']!r} is not one of the labels {labels}")
            unknown = sorted(set(scores) - set(labels))
            if unknown:
                raise TrainingOutputError(f"{where}.expected.scores: {unknown} are not labels ({labels})")
        tol = g.setdefault("tolerance", DEFAULT_TOLERANCE)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
            raise TrainingOutputError(f"{where}.tolerance: must be a positive number, got {tol!r}")
        out.append(g)
    return out


OPTIONAL_CARD_FIELDS = ("group_results", "operating_point")


def write_training_output(path: str, *, metrics: dict, golden_vectors: list, labels: list[str] | None = None,
                          group_results: dict | None = None, operating_point: dict | None = None) -> str:
    """Write `training-output.json` (`{"metrics": ..., "golden_vectors": [...]}`) for `komp build`.

    `path` is the file, or a directory to write `training-output.json` into. `metrics` becomes the manifest's
    `model_card.metrics` as is; `golden_vectors` its `golden_vectors` (see `golden_vector`). With `labels`,
    every expected label and score key must be one of them. `group_results` and `operating_point`, when given,
    become the model card's fields of those names. Returns the path written; raises `TrainingOutputError`
    (nothing is written) when the shape is wrong."""
    if os.path.isdir(path):
        path = os.path.join(path, FILE_NAME)
    if not isinstance(metrics, dict) or not metrics:
        raise TrainingOutputError("metrics must be a non-empty object (the model card's metrics, e.g. card_metrics(...))")
    doc = {"metrics": _plain(metrics, "metrics"), "golden_vectors": check_golden_vectors(golden_vectors, labels)}
    for key, value in (("group_results", group_results), ("operating_point", operating_point)):
        if value is not None:
            if not isinstance(value, dict):
                raise TrainingOutputError(f"{key} must be an object (the model card's {key}), got a "
                                          f"{type(value).__name__}")
            doc[key] = _plain(value, key)
    text = json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def read_training_output(path: str) -> dict:
    """Read a `training-output.json` back, checking its shape as `write_training_output` does."""
    if os.path.isdir(path):
        path = os.path.join(path, FILE_NAME)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not {"metrics", "golden_vectors"} <= set(doc) \
            or set(doc) - {"metrics", "golden_vectors", *OPTIONAL_CARD_FIELDS}:
        raise TrainingOutputError(f"{path}: must be an object with metrics and golden_vectors "
                                  f"(and optionally {', '.join(OPTIONAL_CARD_FIELDS)})")
    if not isinstance(doc["metrics"], dict):
        raise TrainingOutputError(f"{path}: metrics must be an object")
    check_golden_vectors(doc["golden_vectors"])
    return doc
