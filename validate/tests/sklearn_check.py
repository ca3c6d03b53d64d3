"""Recompute a komp validation report's numbers with scikit-learn and numpy.

Usage: sklearn_check.py PREDICTIONS.jsonl LABELS.json REPORT.json

PREDICTIONS.jsonl has one line per case: truth, label (the component's
proposal), scores (one per label, in LABELS order), review, district. The
Rust test validate/tests/sklearn.rs writes all three files and runs this
script. Every number is compared to 1e-9; the first mismatch fails.
"""
import json
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

TOL = 1e-9
checked = 0


def close(name, ours, theirs):
    global checked
    if ours is None or theirs is None or (isinstance(theirs, float) and np.isnan(theirs)):
        if not (ours is None and (theirs is None or np.isnan(theirs))):
            sys.exit(f"{name}: report has {ours!r}, scikit-learn {theirs!r}")
        checked += 1
        return
    if abs(float(ours) - float(theirs)) > TOL:
        sys.exit(f"{name}: report has {ours!r}, scikit-learn {theirs!r}")
    checked += 1


def main():
    pred_path, labels_path, report_path = sys.argv[1:4]
    labels = json.load(open(labels_path))
    rows = [json.loads(l) for l in open(pred_path) if l.strip()]
    report = json.load(open(report_path))
    idx = {l: i for i, l in enumerate(labels)}
    y_true = np.array([idx[r["truth"]] for r in rows])
    y_pred = np.array([idx[r["label"]] for r in rows])
    proba = np.array([r["scores"] for r in rows], dtype=np.float64)
    k = len(labels)
    kind = report["component"]["kind"]

    # Accuracy and confusion matrix.
    cl = report["classification"]
    close("accuracy", cl["accuracy"]["value"], accuracy_score(y_true, y_pred))
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    if cl["confusion"]["matrix"] != cm.tolist() or cl["confusion"]["labels"] != labels:
        sys.exit(f"confusion matrix differs:\n{cl['confusion']['matrix']}\n{cm.tolist()}")
    checked_cm = cm.size

    # Per label: undefined (no prediction / no support) is null in the report, nan here.
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(k)), zero_division=np.nan
    )
    present = set(y_true) | set(y_pred)
    for i, lm in enumerate(cl["per_label"]):
        assert lm["label"] == labels[i]
        close(f"precision[{labels[i]}]", lm["precision"]["value"], p[i])
        close(f"recall[{labels[i]}]", lm["recall"]["value"], r[i])
        close(f"f1[{labels[i]}]", lm["f1"]["value"], f[i] if i in present else np.nan)
        if lm["support"] != int(s[i]):
            sys.exit(f"support[{labels[i]}]: {lm['support']} vs {s[i]}")
    close("macro_f1", cl["macro_f1"]["value"], f1_score(y_true, y_pred, average="macro", zero_division=0))

    # Brier (multi-class, not halved) and, for a flag component, binary Brier and AUC.
    cal = report["calibration"]
    close("brier", cal["brier"]["value"], brier_score_loss(y_true, proba, labels=list(range(k)), scale_by_half=False))
    if kind["type"] == "flag":
        pos = idx[kind["positive"]]
        y_pos = (y_true == pos).astype(int)
        close("brier_positive", cal["brier_positive"]["value"], brier_score_loss(y_pos, proba[:, pos]))
        close("roc_auc", cal["roc_auc"]["value"], roc_auc_score(y_pos, proba[:, pos]))
        conf, hit = proba[:, pos], y_pos
    else:
        conf = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y_true).astype(int)

    # Calibration bins: scikit-learn's uniform bins are the report's bins.
    prob_true, prob_pred = calibration_curve(hit, conf, n_bins=10, strategy="uniform")
    nonempty = [b for b in cal["bins"] if b["n"] > 0]
    if len(nonempty) != len(prob_true):
        sys.exit(f"non-empty calibration bins: {len(nonempty)} vs {len(prob_true)}")
    for b, t, pp in zip(nonempty, prob_true, prob_pred):
        close(f"bin {b['lower']} observed", b["observed"]["value"], t)
        close(f"bin {b['lower']} mean score", b["mean_score"], pp)
    bin_ids = np.searchsorted(np.linspace(0.0, 1.0, 11)[1:-1], conf, side="right")
    counts = np.bincount(bin_ids, minlength=10)
    if [b["n"] for b in cal["bins"]] != counts.tolist():
        sys.exit(f"bin counts {[b['n'] for b in cal['bins']]} vs {counts.tolist()}")
    ece = sum(counts[i] * abs(prob_pred[j] - prob_true[j]) for j, i in enumerate(np.flatnonzero(counts))) / len(conf)
    close("ece", cal["ece"]["value"], ece)

    # Threshold curves, compared as float32 like the components.
    curve = report["threshold_curve"]
    for pt in curve["points"]:
        t = np.float32(pt["threshold"])
        if curve["type"] == "review":
            sel = proba.max(axis=1).astype(np.float32) >= t
            close(f"routed@{pt['threshold']}", pt["routed"]["value"], sel.mean())
            acc = accuracy_score(y_true[sel], y_pred[sel]) if sel.any() else None
            close(f"accuracy_routed@{pt['threshold']}", pt["accuracy_routed"]["value"], acc)
        else:
            sel = proba[:, pos].astype(np.float32) >= t
            close(f"flagged@{pt['threshold']}", pt["flagged"]["value"], sel.mean())
            tp = int((sel & (y_pos == 1)).sum())
            close(f"recall@{pt['threshold']}", pt["recall"]["value"], tp / y_pos.sum() if y_pos.sum() else None)
            close(f"precision@{pt['threshold']}", pt["precision"]["value"], tp / sel.sum() if sel.sum() else None)

    # Groups: accuracy per district.
    district = np.array([r["district"] for r in rows])
    for g in report["groups"]:
        for v in g["values"]:
            m = district == v["value"]
            if v["n"] != int(m.sum()):
                sys.exit(f"group {v['value']}: n {v['n']} vs {m.sum()}")
            close(f"group {v['value']} accuracy", v["metrics"]["accuracy"]["value"], accuracy_score(y_true[m], y_pred[m]))

    # Aggregates: the same confusion matrix, no text.
    agg = report["aggregates"]
    if agg["confusion"]["matrix"] != cm.tolist() or agg["n"] != len(rows):
        sys.exit("aggregates differ from the report")
    print(f"ok: {checked} numbers and {checked_cm} confusion cells equal scikit-learn to {TOL} ({report_path})")


if __name__ == "__main__":
    main()
