"""A cascade: run the encoder only for letters the linear model is unsure of (its calibrated top probability below
a cut), and take the ensemble's answer there. How much of the ensemble's gain on the held-out bank is kept, and for
what share of the letters the encoder runs. The cut is not chosen here: every cut of the grid is shown, and the
share of letters that would run the encoder is read off the bank's TRAIN part (out-of-fold), not the held-out one.
Probe venv; after e5_probe.py."""
import json, os, sys
from probe_paths import D  # noqa: E402
import numpy as np

FEATURES = sys.argv[sys.argv.index("--features") + 1] if "--features" in sys.argv else "e5"   # e5cut: the cut graph
E = np.load(os.path.join(D, f"ensembles_{FEATURES}.npz"))
ens = "bank w30 + gen 3200 + sender"
rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
y = {p: np.array([r["y"] for r in rows if r["part"] == p]) for p in ("bank_train", "bank_heldout")}
print(f"cascade with the ensemble '{ens}' on {FEATURES} embeddings (held-out bank, n = {len(y['bank_heldout'])})")
print("cut | encoder runs: train CV / held-out | accuracy: train CV / held-out")
for cut in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01):
    out = []
    for part, key in (("bank_train", "oof"), ("bank_heldout", "heldout")):
        L, N = E["linear_" + key], E[f"{ens}|{key}"]
        run = L.max(1) < cut
        P = np.where(run[:, None], N, L)
        out.append((run.mean(), np.mean(P.argmax(1) == y[part])))
    print(f"{cut:4.2f} | {out[0][0]:.2f} / {out[1][0]:.2f} | {out[0][1]:.3f} / {out[1][1]:.3f}")
