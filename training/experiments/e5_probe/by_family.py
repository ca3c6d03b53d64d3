"""Where the candidates win/lose against the shipped model on the held-out bank, by the bank's family tag."""
import os
import json, collections, numpy as np
from probe_paths import D, TRAINING  # noqa: E402  (also puts training/ on sys.path)
rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]; HO = [r for r in rows if r["part"] == "bank_heldout"]
P = np.load(os.path.join(D, "shipped_bank_heldout_P.npy")); base = P.argmax(1) == np.array([r["y"] for r in HO])
res = {r["name"]: np.array(r["correct"]) for r in json.load(open(os.path.join(D, "results.json")))}
for name in ("e5 head: bank w30 + gen 3200", "ensemble: bank w30 + gen 3200 + sender + linear"):
    c = res[name]; d = collections.defaultdict(lambda: [0, 0, 0])
    for r, ci, bi in zip(HO, c, base):
        f = d[r["family"]]; f[0] += 1; f[1] += int(ci and not bi); f[2] += int(bi and not ci)
    print(name, "| family n +win -loss:", ", ".join(f"{k[5:]} {v[0]} +{v[1]} -{v[2]}" for k, v in sorted(d.items())))
