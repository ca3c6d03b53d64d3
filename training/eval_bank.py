"""Score the exported models in components/models/ on the hand-written validation bank (training/validation_bank.py),
old part and hard part separately, with 95% Wilson intervals. Model choice only; never used to fit weights."""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

import kutil
import ood
import validation_bank as vb
from post_cascade import Cascade, sender_onehot
from komp_train.calibration import softmax
from komp_train.features import features
from komp_train.metrics import ece, wilson

DIM = 16384


def inits(path: str) -> dict:
    m = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def post_scores(rows, models_dir):
    w = inits(os.path.join(models_dir, "postsortering.onnx"))
    meta = json.load(open(os.path.join(models_dir, "postsortering.meta.json")))
    labels = [l["id"] for l in meta["labels"]]
    known = frozenset(meta["out_of_distribution"]["known_words"])
    thr = meta["review_threshold"]["value"]
    english = meta["out_of_distribution"].get("english_known", False)
    texts = [subj + "\n" + body for _, _, subj, body in rows]
    P_lin = np.zeros((len(rows), len(labels)), np.float32)
    for i, (s, _, _, _) in enumerate(rows):
        xt = features(texts[i], DIM, meta.get("request_marks", False)).astype(np.float32)
        xs = sender_onehot([s])[0]
        z = (xt @ w["W_text"] + xs @ w["W_sender"] + w["bias"].reshape(-1)).astype(np.float32)
        P_lin[i] = softmax(z[None])[0]
    # the component's answer: the cascade (post_cascade.py) when the model has an encoder
    if "encoder" in meta and len(rows):
        P, _ = Cascade.from_models(models_dir).apply(P_lin, texts, [r[0] for r in rows])
    else:
        P = P_lin.astype(np.float64)
    out = [(labels.index(r[1]), P[i], bool(ood.check(texts[i], known, english))) for i, r in enumerate(rows)]
    return out, labels, thr


def post_report(rows, models_dir, name, verbose=False):
    out, labels, thr = post_scores(rows, models_dir)
    y = np.array([o[0] for o in out]); P = np.stack([o[1] for o in out]); od = np.array([o[2] for o in out])
    pred, conf = P.argmax(1), P.max(1)
    n = len(y); k = int((pred == y).sum())
    auto = (conf >= thr) & ~od
    ka = int((pred[auto] == y[auto]).sum())
    w9 = int(((pred != y) & (conf >= 0.9)).sum())
    brier = float(np.mean(np.sum((P - np.eye(len(labels))[y]) ** 2, axis=1)))
    r = {"n": n, "acc": k / n, "acc_ci": wilson(k, n), "routed": auto.mean(), "routed_acc": ka / max(1, auto.sum()),
         "routed_acc_ci": wilson(ka, int(auto.sum())), "wrong_ge_0.9": w9 / n, "ece": ece(conf, pred == y),
         "brier": brier, "ood": int(od.sum()), "thr": thr}
    print(f"POST {name}: acc {r['acc']:.3f} ({r['acc_ci'][0]:.2f}-{r['acc_ci'][1]:.2f}) routed {r['routed']:.3f} "
          f"at {r['routed_acc']:.3f} ({ka}/{int(auto.sum())}) wrong>=0.9 {w9}/{n} ECE {r['ece']:.3f} Brier {brier:.3f} "
          f"ood {r['ood']} thr {thr}")
    if verbose:
        for i in np.where(pred != y)[0]:
            print(f"   miss {labels[y[i]]} -> {labels[pred[i]]} {conf[i]:.2f} {'OOD' if od[i] else ''} | {rows[i][2][:40]} | {rows[i][3][:60]!r}")
    return r


def und_report(rows, models_dir, name, thr=None, verbose=False):
    sys.path.insert(0, os.path.dirname(__file__))
    from train_underretning import structured
    w = inits(os.path.join(models_dir, "underretning.onnx"))
    meta = json.load(open(os.path.join(models_dir, "underretning.meta.json")))
    thr = meta["operating_threshold"]["value"] if thr is None else thr
    p, y = [], []
    for rep, age, prior, known, acute, text in rows:
        inp = {"text": text, "reporter_type": rep, "child_age": age, "prior_notifications_12m": prior,
               "known_to_municipality": known}
        z = features(text, DIM).astype(np.float32) @ w["w_text"].reshape(-1) + float(
            (structured(inp) * w["w_struct_row"].reshape(-1)).sum()) + float(w["bias"].reshape(-1)[0])
        p.append(1 / (1 + math.exp(-z))); y.append(int(acute))
    p, y = np.array(p), np.array(y)
    from sklearn.metrics import roc_auc_score
    flag = p >= thr
    tp = int((flag & (y == 1)).sum()); fp = int((flag & (y == 0)).sum())
    npos, nneg = int(y.sum()), int((1 - y).sum())
    auc = roc_auc_score(y, p)
    print(f"UND {name}: AUC {auc:.3f} recall {tp}/{npos}={tp/npos:.3f} ({wilson(tp,npos)[0]:.2f}-{wilson(tp,npos)[1]:.2f}) "
          f"non-acute flagged {fp}/{nneg}={fp/nneg:.3f} ({wilson(fp,nneg)[0]:.2f}-{wilson(fp,nneg)[1]:.2f}) thr {thr:.3f} "
          f"ECE {ece(np.where(p>=0.5,p,1-p), (p>=0.5)==(y==1)):.3f} Brier {np.mean((p-y)**2):.3f}")
    if verbose:
        for i in np.argsort(-p):
            if (p[i] >= thr) != (y[i] == 1):
                print(f"   {'MISS' if y[i] else 'FP  '} {p[i]:.3f} {rows[i][5][:90]!r}")
    return p, y


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else kutil.OUT
    v = "-v" in sys.argv
    post_report(vb.POST, d, "old bank")
    post_report(vb.POST_HARD, d, "hard bank", verbose=v)
    post_report(vb.POST + vb.POST_HARD, d, "all")
    und_report(vb.UND, d, "old bank")
    und_report(vb.UND_HARD, d, "hard bank", verbose=v)
    und_report(vb.UND + vb.UND_HARD, d, "all")
