"""Issue 12, round 6: should the cascade's average lean on one of its two models? Dev data only (the hand-written
validation letters that training uses for T and the review threshold); the realistic set is not read.

At the shipped cut, the ensemble is softmax(ln(w * P_lin + (1 - w) * P_head) / T) for the letters the encoder reads;
w = 0.5 is what ships. For each w the temperature is fitted as training fits it, but out of fold (5 folds), so the
metrics are not on the letters T was fitted on. Run from training/ (KOMP_OUT_DIR: the models to read):
    ../.venv/bin/python experiments/ensemble/weight_sweep.py
"""
import json, os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import kutil, ood
from post_cascade import Cascade, CUT
from train_postsortering import POST_VAL, LABELS, DIM, text_of, sender_vec, ENGLISH_KNOWN
from komp_train.calibration import fit_temperature
from komp_train.features import features
from komp_train.metrics import ece, wilson
import eval_bank

WEIGHTS = [0.3, 0.4, 0.5, 0.6, 0.7]
val = [{"subject": v[2], "body": v[3], "sender_type": v[0], "label": v[1]} for v in POST_VAL]
y = np.array([LABELS.index(m["label"]) for m in val])
w = eval_bank.inits(os.path.join(kutil.OUT, "postsortering.onnx"))
meta = json.load(open(os.path.join(kutil.OUT, "postsortering.meta.json")))
known = frozenset(meta["out_of_distribution"]["known_words"])
thr = meta["review_threshold"]["value"]
P_lin = np.zeros((len(val), len(LABELS)), np.float32)
for i, m in enumerate(val):
    z = features(text_of(m), DIM, False).astype(np.float32) @ w["W_text"] + sender_vec(m["sender_type"]) @ w["W_sender"] + w["bias"].reshape(-1)
    z = z - z.max(); e = np.exp(z); P_lin[i] = e / e.sum()
od = np.array([bool(ood.check(text_of(m), known, ENGLISH_KNOWN)) for m in val])
ran = P_lin.max(1) < np.float32(CUT)
idx = np.where(ran)[0]
P_head = np.zeros_like(P_lin, dtype=np.float64)
P_head[idx] = Cascade.from_models(kutil.OUT).head([text_of(val[i]) for i in idx], [val[i]["sender_type"] for i in idx])
fold = np.random.default_rng(5).permutation(len(val)) % 5


def mix(wl, lin, head, T):
    a = np.log(wl * lin.astype(np.float64) + (1 - wl) * head) / T
    a -= a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


print(f"{len(val)} validation letters, encoder for {ran.mean():.2f}; linear alone acc {np.mean(P_lin.argmax(1) == y):.3f}; "
      f"head alone (where it runs) {np.mean(P_head[idx].argmax(1) == y[idx]):.3f} vs linear there {np.mean(P_lin[idx].argmax(1) == y[idx]):.3f}")
print(f"w_lin  acc    ece    wrong>=.9   routed@{thr:.2f}  acc_routed (95% Wilson)  brier")
for wl in WEIGHTS:
    P = P_lin.astype(np.float64).copy()
    for k in range(5):
        tr, te = (fold != k) & ran, (fold == k) & ran
        T = fit_temperature(np.log(wl * P_lin[tr].astype(np.float64) + (1 - wl) * P_head[tr]), y[tr])
        P[te] = mix(wl, P_lin[te], P_head[te], T)
    pred, conf = P.argmax(1), P.max(1)
    ok = pred == y
    auto = (conf >= thr) & ~od
    k_a = int(ok[auto].sum())
    lo, hi = wilson(k_a, int(auto.sum()))
    brier = np.mean(np.sum((P - np.eye(len(LABELS))[y]) ** 2, 1))
    print(f"{wl:<5}  {ok.mean():.3f}  {ece(conf, ok):.3f}  {np.mean(~ok & (conf >= .9)):.3f} ({int(np.sum(~ok & (conf >= .9)))})"
          f"   {auto.mean():.3f}        {k_a / auto.sum():.3f} ({lo:.3f}-{hi:.3f})  {brier:.3f}")
