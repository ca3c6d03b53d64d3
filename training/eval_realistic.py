"""Report the exported models on the project's hand-written realistic set (training/realistic/README.md), never
for tuning. Same math as the components (ONNX weights in float32, the same out-of-distribution rules and thresholds);
95% Wilson intervals.

Usage: eval_realistic.py [models_dir] [--write]

With --write (train_all.sh does this after training) the numbers also go to <models_dir>/postsortering.realistic.json
and underretning.realistic.json, keyed by the set's name, which write_manifests.py puts into the model cards next to the
synthetic test split (write_manifests.py reads only those two files, never the sets themselves). This script is
reporting only: nothing it computes feeds back into training, calibration or thresholds."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

import eval_bank as eb
import kutil
from komp_train.metrics import ece, proportion as prop

HERE = os.path.dirname(os.path.abspath(__file__))
WHAT = ("Hand-written by the komp project to look like what a municipal inbox receives; it is NOT real case data "
        "(no real citizen, child or case). Never used for training, calibration or choosing thresholds; only run "
        "and reported after the models are trained.")
# The independent set of each component (training/realistic/README.md): its name, its folder under training/ and what
# its numbers can be taken for. Spent sets are training data in training/bank/ (the first and second sets, and the third
# set's notifications).
SETS = {
    "postsortering": ("third", "realistic/third",
                      "Independent: written for issue 12's round 6, before that round's models were trained, by writers "
                      "who saw no earlier set, generator or model, and run once after every choice of that round was "
                      "made. It was written from the same brief as the second set, which is now training data."),
    "underretning": ("fourth", "realistic/fourth",
                     "Independent: written for issue 12's round 6 after the third set's notifications showed the "
                     "operating threshold falling short of its recall target (those notifications are training data "
                     "now), before the threshold rule was changed and the model retrained, by a writer who saw no "
                     "earlier set, generator or model; run once after every choice was made. It was written from the "
                     "same brief as the second and third sets' notifications, which are now training data."),
}


def load(name):
    folder = os.path.join(HERE, SETS[name][1])
    return [json.loads(l) for l in open(os.path.join(folder, name + ".jsonl"), encoding="utf-8")]


def about(name: str) -> dict:
    which, folder, status = SETS[name]
    return {"what": WHAT, "set": which, "files": "training/" + folder, "status": status}


def ci(m: dict) -> str:
    return f"{m['k']}/{m['n']} = {m['value']:.3f} ({m['wilson_95'][0]:.3f}-{m['wilson_95'][1]:.3f})"


def postsortering(d: str) -> dict:
    rows = load("postsortering")
    post = [(r["input"].get("sender_type"), r["label"], r["input"]["subject"], r["input"]["body"]) for r in rows]
    out, labels, thr = eb.post_scores(post, d)
    y = np.array([o[0] for o in out]); P = np.stack([o[1] for o in out]); od = np.array([o[2] for o in out])
    pred, conf = P.argmax(1), P.max(1)
    n = len(y)
    auto = (conf >= np.float32(thr)) & ~od
    return {
        **about("postsortering"),
        "rows": n,
        "review_threshold": thr,
        "accuracy": prop(int((pred == y).sum()), n),
        "routed_without_review": prop(int(auto.sum()), n),
        "accuracy_of_routed": prop(int((pred[auto] == y[auto]).sum()), int(auto.sum())),
        "wrong_with_top_at_least_0_9": prop(int(((pred != y) & (conf >= 0.9)).sum()), n),
        "out_of_distribution": int(od.sum()),
        "ece": round(float(ece(conf, pred == y)), 6),
        "brier": round(float(np.mean(np.sum((P - np.eye(len(labels))[y]) ** 2, 1))), 6),
        "targets": {"accuracy": ">= 0.90", "routed_without_review": ">= 0.60",
                    "accuracy_of_routed": ">= 0.97", "wrong_with_top_at_least_0_9": "< 0.02", "ece": "<= 0.08"},
    }


def underretning(d: str) -> dict:
    rows = load("underretning")
    und = [(r["input"]["reporter_type"], r["input"]["child_age"], r["input"]["prior_notifications_12m"],
            r["input"]["known_to_municipality"], r["label"] == "acute", r["input"]["text"]) for r in rows]
    meta = json.load(open(os.path.join(d, "underretning.meta.json")))
    thr = meta["operating_threshold"]["value"]
    with contextlib.redirect_stdout(io.StringIO()):
        p, yy = eb.und_report(und, d, "realistic")
    flag = p >= thr
    return {
        **about("underretning"),
        "rows": len(yy),
        "acute": int(yy.sum()),
        "threshold": thr,
        "recall_acute": prop(int((flag & (yy == 1)).sum()), int(yy.sum())),
        "not_acute_flagged": prop(int((flag & (yy == 0)).sum()), int((yy == 0).sum())),
        "roc_auc": round(float(roc_auc_score(yy, p)), 6),
        "ece": round(float(ece(p, yy)), 6),
        "brier": round(float(np.mean((p - yy) ** 2)), 6),
        "targets": {"recall_acute": ">= 0.95", "not_acute_flagged": "<= 0.35"},
    }


def main(d: str, write: bool) -> None:
    ps, us = postsortering(d), underretning(d)
    report = {"postsortering": {ps["set"]: ps}, "underretning": {us["set"]: us}}
    print(f"{ps['set']} set: postsortering ({ps['rows']} letters, review threshold {ps['review_threshold']}):")
    for k in ("accuracy", "routed_without_review", "accuracy_of_routed", "wrong_with_top_at_least_0_9"):
        print(f"  {k:28s} {ci(ps[k])}")
    print(f"  out of distribution {ps['out_of_distribution']}   ECE {ps['ece']:.3f}  Brier {ps['brier']:.3f}")
    print(f"{us['set']} set: underretning ({us['rows']} notifications, {us['acute']} acute, threshold {us['threshold']}):")
    print(f"  ROC AUC {us['roc_auc']:.3f}")
    for k in ("recall_acute", "not_acute_flagged"):
        print(f"  {k:28s} {ci(us[k])}")
    print(f"  ECE {us['ece']:.3f}  Brier {us['brier']:.3f}")
    if write:
        for name, obj in report.items():
            with open(os.path.join(d, name + ".realistic.json"), "w", encoding="utf-8") as f:
                json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=True)
                f.write("\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else kutil.OUT, "--write" in sys.argv)
