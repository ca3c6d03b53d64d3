"""Compute-only latency of onnxruntime on the encoder graph: session.run on prepared
inputs (the same tokens as komp-sandbox --engine-only), single-threaded and with all
cores. Prints one JSON object with the median over rounds and the spread.

    python benches/peers/ort_compute.py MODEL.onnx ROUNDS CALLS
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

SEQ, VOCAB = 128, 30522
TEXT = ("Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. "
        "Kan I sende nogen ud og tømme den hurtigst muligt? Med venlig hilsen Jens")


def tokenize(text):  # = tokenize in benches/src/bin/komp-sandbox.rs
    ids = np.zeros((1, SEQ), np.int64)
    mask = np.zeros((1, SEQ), np.int64)
    ids[0, 0] = 101
    mask[0, 0] = 1
    for i, w in enumerate(text.split()[: SEQ - 1]):
        h = 0xCBF29CE484222325
        for b in w.lower().encode():
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        ids[0, i + 1] = 1000 + h % (VOCAB - 1000)
        mask[0, i + 1] = 1
    return ids, mask


def bench(path, threads, rounds, calls):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    ids, mask = tokenize(TEXT)
    feed = {"input_ids": ids, "attention_mask": mask}
    for _ in range(3):
        s.run(None, feed)
    meds = []
    for _ in range(rounds):
        t = []
        for _ in range(calls):
            a = time.perf_counter()
            s.run(None, feed)
            t.append((time.perf_counter() - a) * 1e6)
        meds.append(statistics.median(t))
    return {"median": statistics.median(meds), "min": min(meds), "max": max(meds), "rounds": meds}


if __name__ == "__main__":
    path, rounds, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n = os.cpu_count() or 1
    print(json.dumps({"engine": "onnxruntime " + ort.__version__, "single_thread_us": bench(path, 1, rounds, calls),
                      "all_cores_us": bench(path, n, rounds, calls), "threads": n}))
