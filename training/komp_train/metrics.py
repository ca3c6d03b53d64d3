"""The numbers a model card needs, computed the same way for every component.

`card_metrics` gives the model card's `metrics` object for a classifier from its held-out rows; the helpers
(`wilson`, `proportion`, `ece`, `roc_auc`) are the definitions the standard components' cards and the Rust
evaluation tests use (tests/tests/suite/standard_components.rs recomputes them through the packed
components).

Why intervals: a proportion measured on a few hundred rows is uncertain by several points; every proportion
on a card therefore comes with its 95% Wilson score interval (`{"k", "n", "value", "wilson_95"}`), which, unlike
the normal approximation, stays inside [0, 1] and is honest for small n and for values near 0 or 1.
"""
from __future__ import annotations

import math

import numpy as np


def r6(x: float) -> float:
    """Rounded to 6 decimals, as a plain float (what the cards and meta files store)."""
    return float(round(float(x), 6))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (95% for z = 1.96); (0, 1) when n = 0."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def proportion(k: int, n: int) -> dict:
    """A proportion as the cards store it: {"k", "n", "value", "wilson_95": [lo, hi]}, rounded to 6 decimals
    (value None when n = 0)."""
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "value": round(k / n, 6) if n else None, "wilson_95": [round(lo, 6), round(hi, 6)]}


def ece(conf, correct, bins: int = 10) -> float:
    """Expected calibration error with equal-width bins on the confidence (the last bin includes 1.0).

    For a multiclass model pass the top probability and whether the top label was right; for a binary risk
    score pass P(positive) and the 0/1 truth (the reliability of the score itself)."""
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        m = (conf >= lo) & ((conf < hi) if i < bins - 1 else (conf <= hi))
        if m.any():
            total += m.sum() * abs(conf[m].mean() - correct[m].mean())
    return total / len(conf)


def roc_auc(scores: list, positive: list) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties, as scikit-learn). Pure Python,
    so that it can be recomputed independently of numpy."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    rank_sum = sum(r for r, y in zip(ranks, positive) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


COVERAGE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class MetricsError(ValueError):
    """The inputs to `card_metrics` do not fit together; the message says what is wrong."""


def _truth_indices(y_true, labels: list) -> np.ndarray:
    out = []
    for i, y in enumerate(y_true):
        if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
            if not 0 <= int(y) < len(labels):
                raise MetricsError(f"y_true[{i}] = {y} is not an index into the {len(labels)} labels")
            out.append(int(y))
        elif y in labels:
            out.append(labels.index(y))
        else:
            raise MetricsError(f"y_true[{i}] = {y!r} is not one of the labels {labels}")
    return np.array(out, dtype=np.int64)


def card_metrics(y_true, probabilities, labels: list[str], *, positive_label: str | None = None,
                 threshold: float | None = None) -> dict:
    """The model card's `metrics` for a classifier, from its held-out (test) rows.

    `y_true`: the true label of each row (a label id from `labels`, or its index). `probabilities`: what the
    exported graph gives, [N, C] with columns in `labels` order, or for a binary model [N] = P(positive_label)
    (`Exported*.probabilities` returns exactly these). Pass the graph's float32 outputs, not scikit-learn's:
    the card must describe what the component computes.

    Multiclass (or binary without `positive_label`): the label is the top class. Keys: `test_rows`, `accuracy`,
    `macro_f1`, `ece` (top probability vs. correct), `brier` (mean squared error of the probability vector),
    `per_class` ({label: precision, recall, f1, support}), and with a `threshold` (rows whose top probability is
    below it go to a person): `review_threshold`, `coverage_at_threshold`, `accuracy_auto_routed_at_threshold`
    and `coverage_vs_accuracy` (thresholds 0.3..0.9).

    Binary with `positive_label`: the label is `positive_label` when P >= `threshold` (default 0.5; compared in
    float32, as the component does). Keys as above (accuracy etc. at the threshold) plus `threshold`,
    `roc_auc`, `recall`, `precision`, `flagged_share`; `ece` and `brier` are those of P(positive).

    Every proportion is also in `intervals` as {"k", "n", "value", "wilson_95"}. Values are rounded to 6
    decimals. Deterministic; raises `MetricsError` when the inputs do not fit together."""
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise MetricsError(f"labels must be at least two distinct ids, got {labels}")
    y = _truth_indices(list(y_true), labels)
    n = len(y)
    if n == 0:
        raise MetricsError("no rows: card metrics need the held-out test rows")
    P = np.asarray(probabilities)
    binary = positive_label is not None
    if binary:
        if len(labels) != 2 or positive_label not in labels:
            raise MetricsError(f"positive_label={positive_label!r} needs exactly two labels, one of them it; got {labels}")
        pos = labels.index(positive_label)
        if P.ndim == 2 and P.shape[1] == 2:
            P = P[:, pos]
        if P.ndim != 1 or len(P) != n:
            raise MetricsError(f"binary probabilities must be [N] = P({positive_label}) for {n} rows, got shape {P.shape}")
        thr = 0.5 if threshold is None else float(threshold)
        flagged = P.astype(np.float32) >= np.float32(thr)
        pred = np.where(flagged, pos, 1 - pos)
    else:
        if P.ndim != 2 or P.shape != (n, len(labels)):
            raise MetricsError(f"probabilities must be [N, C] = [{n}, {len(labels)}] (columns in labels order), "
                               f"got shape {P.shape}")
        pred = P.argmax(1)
    if not np.all(np.isfinite(P)):
        raise MetricsError("probabilities contain NaN or infinity")
    correct = pred == y
    per_class, f1s = {}, []
    for c, label in enumerate(labels):
        tp = int(np.sum((pred == c) & (y == c)))
        pp, sup = int(np.sum(pred == c)), int(np.sum(y == c))
        prec, rec = (tp / pp if pp else 0.0), (tp / sup if sup else 0.0)
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[label] = {"precision": r6(prec), "recall": r6(rec), "f1": r6(f1), "support": sup}
        f1s.append(f1)
    out: dict = {
        "test_rows": n,
        "accuracy": r6(correct.mean()),
        "macro_f1": r6(sum(f1s) / len(f1s)),
        "per_class": per_class,
    }
    intervals = {"accuracy": proportion(int(correct.sum()), n)}
    if binary:
        truth = (y == pos)
        tp = int(np.sum(flagged & truth))
        out.update({
            "threshold": thr,
            "roc_auc": r6(roc_auc([float(p) for p in P], [bool(t) for t in truth])) if 0 < truth.sum() < n else None,
            "recall": r6(tp / truth.sum()) if truth.any() else None,
            "precision": r6(tp / flagged.sum()) if flagged.any() else None,
            "flagged_share": r6(flagged.mean()),
            "ece": r6(ece(P, truth)),
            "brier": r6(np.mean((P.astype(np.float64) - truth) ** 2)),
        })
        intervals["recall"] = proportion(tp, int(truth.sum()))
        intervals["precision"] = proportion(tp, int(flagged.sum()))
        intervals["flagged_share"] = proportion(int(flagged.sum()), n)
    else:
        conf = P.max(1)
        out["ece"] = r6(ece(conf, correct))
        out["brier"] = r6(np.mean(np.sum((P.astype(np.float64) - np.eye(len(labels))[y]) ** 2, 1)))
        if threshold is not None:
            thr = float(threshold)
            auto = conf.astype(np.float32) >= np.float32(thr)
            out["review_threshold"] = thr
            out["coverage_at_threshold"] = r6(auto.mean())
            out["accuracy_auto_routed_at_threshold"] = r6(correct[auto].mean()) if auto.any() else None
            table = []
            for t in COVERAGE_THRESHOLDS:
                m = conf.astype(np.float32) >= np.float32(t)
                table.append({"threshold": t, "coverage": r6(m.mean()),
                              "accuracy_auto_routed": r6(correct[m].mean()) if m.any() else None,
                              "manual_share": r6(1 - m.mean())})
            out["coverage_vs_accuracy"] = table
            intervals["routed_without_review"] = proportion(int(auto.sum()), n)
            intervals["accuracy_of_routed"] = proportion(int(correct[auto].sum()), int(auto.sum()))
    out["intervals"] = intervals
    return out

