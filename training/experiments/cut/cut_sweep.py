"""Issue 12, round 5: where should the cascade's cut be? Dev data only (the hand-written validation letters that
training uses for T and the review threshold); the realistic sets are not read.

For each cut, the ensemble temperature is fitted as training fits it (on the letters the encoder runs for), but
out-of-fold (5 folds), so the metrics are not on the letters T was fitted on. Run from training/:
    ../.venv/bin/python experiments/cut/cut_sweep.py
"""
import json, os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import kutil, ood
from post_cascade import Cascade, combine
from train_postsortering import POST_VAL, LABELS, DIM, text_of, sender_vec, ENGLISH_KNOWN
from komp_train.calibration import fit_temperature
from komp_train.features import features
from komp_train.metrics import ece
import eval_bank

CUTS = [0.8, 0.9, 0.95, 0.99, 2.0]
val = [{"subject": v[2], "body": v[3], "sender_type": v[0], "label": v[1]} for v in POST_VAL]
y = np.array([LABELS.index(m["label"]) for m in val])
rows = [(m["sender_type"], m["label"], m["subject"], m["body"]) for m in val]
w = eval_bank.inits(os.path.join(kutil.OUT, "postsortering.onnx"))
meta = json.load(open(os.path.join(kutil.OUT, "postsortering.meta.json")))
known = frozenset(meta["out_of_distribution"]["known_words"])
thr = meta["review_threshold"]["value"]
P_lin = np.zeros((len(val), len(LABELS)), np.float32)
for i, m in enumerate(val):
    z = features(text_of(m), DIM, False).astype(np.float32) @ w["W_text"] + sender_vec(m["sender_type"]) @ w["W_sender"] + w["bias"].reshape(-1)
    z = z - z.max(); e = np.exp(z); P_lin[i] = e / e.sum()
od = np.array([bool(ood.check(text_of(m), known, ENGLISH_KNOWN)) for m in val])
cache = os.path.join(os.path.dirname(__file__), "val_head.npy")
cas = Cascade.from_models(kutil.OUT)
if os.path.exists(cache):
    P_head = np.load(cache)
else:
    P_head = cas.head([text_of(m) for m in val], [m["sender_type"] for m in val])
    np.save(cache, P_head)
rng = np.random.default_rng(5)
fold = rng.permutation(len(val)) % 5
print(f"{len(val)} validation letters; linear alone acc {np.mean(P_lin.argmax(1) == y):.3f}; head alone {np.mean(P_head.argmax(1) == y):.3f}")
print("cut   enc%%   T(all)  acc    ece    wrong>=.9  routed@%.2f acc_routed  brier" % thr)
for cut in CUTS:
    ran = P_lin.max(1) < np.float32(cut)
    P = P_lin.astype(np.float64).copy()
    T_all = fit_temperature(np.log((P_lin[ran].astype(np.float64) + P_head[ran]) / 2), y[ran])
    for k in range(5):
        tr, te = (fold != k) & ran, (fold == k) & ran
        T = fit_temperature(np.log((P_lin[tr].astype(np.float64) + P_head[tr]) / 2), y[tr])
        P[te] = combine(P_lin[te], P_head[te], T)
    pred, conf = P.argmax(1), P.max(1)
    ok = pred == y
    auto = (conf >= thr) & ~od
    brier = np.mean(np.sum((P - np.eye(len(LABELS))[y]) ** 2, 1))
    print(f"{cut:<5} {ran.mean():.2f}  {T_all:.3f}   {ok.mean():.3f}  {ece(conf, ok):.3f}  {np.mean(~ok & (conf >= .9)):.3f} ({int(np.sum(~ok & (conf >= .9)))})"
          f"  {auto.mean():.3f}       {np.mean(ok[auto]):.3f}  {brier:.3f}")

# The review threshold at the chosen cut: routed share and accuracy (out-of-fold T) for each grid value.
CHOSEN = 0.99
ran = P_lin.max(1) < np.float32(CHOSEN)
P = P_lin.astype(np.float64).copy()
for k in range(5):
    tr, te = (fold != k) & ran, (fold == k) & ran
    P[te] = combine(P_lin[te], P_head[te], fit_temperature(np.log((P_lin[tr].astype(np.float64) + P_head[tr]) / 2), y[tr]))
pred, conf = P.argmax(1), P.max(1)
from komp_train.metrics import wilson
print(f"cut {CHOSEN}: threshold  routed  acc_routed  (95% Wilson)")
for t in [round(0.3 + 0.05 * i, 2) for i in range(14)]:
    a = (conf >= t) & ~od
    k = int(np.sum(pred[a] == y[a]))
    lo, hi = wilson(k, int(a.sum()))
    print(f"  {t:.2f}  {a.mean():.3f}  {k / a.sum():.3f}  ({lo:.3f}-{hi:.3f})")
