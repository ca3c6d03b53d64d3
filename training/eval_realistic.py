"""Report the exported models on the hand-written realistic set (training/realistic/), run ONCE after the design is
frozen, never for tuning. Same math as the components (ONNX weights in float32, the same out-of-distribution rules
and thresholds); 95% Wilson intervals. Usage: eval_realistic.py [models_dir]"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

import eval_bank as eb
import kutil

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    return [json.loads(l) for l in open(os.path.join(HERE, "realistic", name + ".jsonl"), encoding="utf-8")]


def ci(k, n):
    lo, hi = eb.wilson(k, n)
    return f"{k}/{n} = {k / n:.3f} ({lo:.3f}-{hi:.3f})"


def main(d):
    rows = load("postsortering")
    post = [(r["input"].get("sender_type"), r["label"], r["input"]["subject"], r["input"]["body"]) for r in rows]
    out, labels, thr = eb.post_scores(post, d)
    y = np.array([o[0] for o in out]); P = np.stack([o[1] for o in out]); od = np.array([o[2] for o in out])
    pred, conf = P.argmax(1), P.max(1)
    n = len(y)
    auto = (conf >= thr) & ~od
    print(f"postsortering ({n} letters, review threshold {thr}):")
    print(f"  accuracy            {ci(int((pred == y).sum()), n)}")
    print(f"  routed w/o review   {ci(int(auto.sum()), n)}")
    print(f"  accuracy of routed  {ci(int((pred[auto] == y[auto]).sum()), int(auto.sum()))}")
    print(f"  wrong at top >= 0.9 {ci(int(((pred != y) & (conf >= 0.9)).sum()), n)}")
    print(f"  out of distribution {int(od.sum())}")
    print(f"  ECE {kutil.ece(conf, pred == y):.3f}  Brier {np.mean(np.sum((P - np.eye(len(labels))[y]) ** 2, 1)):.3f}")

    rows = load("underretning")
    und = [(r["input"]["reporter_type"], r["input"]["child_age"], r["input"]["prior_notifications_12m"],
            r["input"]["known_to_municipality"], r["label"] == "acute", r["input"]["text"]) for r in rows]
    meta = json.load(open(os.path.join(d, "underretning.meta.json")))
    thr = meta["operating_threshold"]["value"]
    import io, contextlib
    with contextlib.redirect_stdout(io.StringIO()):
        p, yy = eb.und_report(und, d, "realistic")
    flag = p >= thr
    print(f"underretning ({len(yy)} notifications, {int(yy.sum())} acute, threshold {thr}):")
    print(f"  ROC AUC {roc_auc_score(yy, p):.3f}")
    print(f"  recall              {ci(int((flag & (yy == 1)).sum()), int(yy.sum()))}")
    print(f"  non-acute flagged   {ci(int((flag & (yy == 0)).sum()), int((yy == 0).sum()))}")
    print(f"  ECE {kutil.ece(p, yy):.3f}  Brier {np.mean((p - yy) ** 2):.3f}")
    k95 = np.sort(p[yy == 1])[::-1][int(np.ceil(0.95 * yy.sum())) - 1]
    print(f"  (for reference only, not used: a threshold reaching 95% recall here would flag "
          f"{np.mean(p[yy == 0] >= k95):.3f} of non-acute)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else kutil.OUT)
