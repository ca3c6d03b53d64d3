"""Read-only use of training/: dump bank split, a generator sample, OOD flags and today's shipped model's
held-out probabilities to $E5_PROBE_DIR/. Run with the project venv and PYTHONDONTWRITEBYTECODE=1."""
import sys, os, json, time
from probe_paths import D, TRAINING  # noqa: E402  (also puts training/ on sys.path)
import numpy as np
import bank_data, gen_post, ood, kutil
import eval_bank as eb

OUT = D
SEED = 20240501                         # train_postsortering.SEED
LABELS = gen_post.LABELS
tr, ho = bank_data.post_split()
print("bank", len(tr), len(ho))
t = time.time()
gtrain, _ = gen_post.generate(SEED, 1200, 150)   # exactly the shipped model's generator training rows (19,200)
print("generated", len(gtrain), f"{time.time()-t:.1f}s")
# sample: the first 200 per class in the generator's own shuffled order (fixed, no extra RNG)
cnt = {l: 0 for l in LABELS}; gs = []
for i, m in enumerate(gtrain):
    if cnt[m["label"]] < 200:
        cnt[m["label"]] += 1; gs.append(dict(m, gen_index=i))
meta = json.load(open(os.path.join(kutil.OUT, "postsortering.meta.json")))
known = frozenset(meta["out_of_distribution"]["known_words"]); eng = meta["out_of_distribution"].get("english_known", False)
def rows(ms, part):
    return [{"part": part, "subject": m["subject"], "body": m["body"], "sender_type": m["sender_type"],
             "label": m["label"], "y": LABELS.index(m["label"]), "family": m.get("family"), "id": m.get("id", m.get("gen_index")),
             "ood": bool(ood.check(m["subject"] + "\n" + m["body"], known, eng))} for m in ms]
allrows = rows(tr, "bank_train") + rows(ho, "bank_heldout") + rows(gs, "gen")
with open(os.path.join(OUT, "rows.jsonl"), "w") as f:
    for r in allrows: f.write(json.dumps(r, ensure_ascii=False) + "\n")
# today's shipped model (components/models/postsortering.onnx, read-only) on bank train + held-out
for part, ms in (("bank_train", tr), ("bank_heldout", ho)):
    out, labels, thr = eb.post_scores(bank_data.post_tuples(ms), kutil.OUT)
    assert labels == LABELS
    np.save(os.path.join(OUT, f"shipped_{part}_P.npy"), np.stack([o[1] for o in out]))
print("shipped threshold", thr, "labels ok")
json.dump({"shipped_threshold": thr, "labels": LABELS}, open(os.path.join(OUT, "info.json"), "w"))
