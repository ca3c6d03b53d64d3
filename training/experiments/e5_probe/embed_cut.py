"""Embed the probe's rows with the exported graph (e5_export.py: the cut vocabulary, this project's tokeniser) in
onnxruntime, so that e5_probe.py --features e5cut can check that the encoder's gain survives the cut. Probe venv."""
import json, os, time
from probe_paths import D  # noqa: E402
import numpy as np, onnxruntime as ort
import e5_onnx

tok = e5_onnx.tokenizer(json.load(open(os.path.join(D, "e5-small-da-en.vocab.json")))["keep"])
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1
sess = ort.InferenceSession(os.path.join(D, "e5-small-da-en.onnx"), opts)
rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
for part in ("bank_train", "bank_heldout", "gen"):
    rs = [r for r in rows if r["part"] == part]; t = time.time()
    E = np.stack([sess.run(None, {"token_ids": np.array(tok.encode(r["subject"] + "\n" + r["body"], "query: "), np.int64)})[0][0]
                  for r in rs])
    np.save(os.path.join(D, f"e5cut_{part}.npy"), E)
    print(f"{part}: {len(rs)} in {time.time() - t:.0f} s", flush=True)
