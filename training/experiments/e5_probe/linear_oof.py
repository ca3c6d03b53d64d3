"""Today's linear model under the probe's protocol (read-only use of training/): 5-fold out-of-fold logits
on the bank TRAIN part (each fold: the shipped recipe = 19,200 generator rows weight 1 + the other 4/5 of the bank
train part weight 30, C = 60), and the shipped model's held-out logits recovered as T_shipped * log P_shipped.
Also writes the fold assignment shared with e5_probe.py. Project venv, PYTHONDONTWRITEBYTECODE=1."""
import sys, os, json, time
from probe_paths import D, TRAINING  # noqa: E402  (also puts training/ on sys.path)
import numpy as np
from sklearn.model_selection import StratifiedKFold
import train_postsortering as tp   # module level only reads data; main() is not called
import gen_post, kutil

rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
btr = [r for r in rows if r["part"] == "bank_train"]
yb = np.array([r["y"] for r in btr])
assert [r["id"] for r in btr] == [m["id"] for m in tp.BANK_TRAIN]
folds = np.zeros(len(btr), int)
for k, (_, va) in enumerate(StratifiedKFold(5, shuffle=True, random_state=20240501).split(np.zeros(len(yb)), yb)):
    folds[va] = k
np.save(os.path.join(D, "folds.npy"), folds)

t0 = time.time()
train, _ = gen_post.generate(tp.SEED, tp.N_TRAIN_PER_CLASS, tp.N_TEST_PER_CLASS)
y = np.array([tp.LABELS.index(m["label"]) for m in train])
X = tp.design(train); Xb = tp.design(tp.BANK_TRAIN)
print(f"features {time.time()-t0:.0f}s", flush=True)
oof = np.zeros((len(btr), len(tp.LABELS)))
for k in range(5):
    tr, va = folds != k, folds == k
    clf = tp.fit(*tp.with_bank(X, y, Xb[tr], yb[tr]))
    oof[va] = clf.decision_function(Xb[va])
    print(f"fold {k}: acc {np.mean(oof[va].argmax(1) == yb[va]):.3f} ({time.time()-t0:.0f}s)", flush=True)
np.save(os.path.join(D, "linear_oof_logits.npy"), oof)
meta = json.load(open(os.path.join(kutil.OUT, "postsortering.meta.json")))
T = meta["calibration"]["temperature"]
P = np.load(os.path.join(D, "shipped_bank_heldout_P.npy"))
np.save(os.path.join(D, "linear_heldout_logits.npy"), T * np.log(np.clip(P, 1e-30, None)))
print("shipped T", T, "oof acc", np.mean(oof.argmax(1) == yb))
