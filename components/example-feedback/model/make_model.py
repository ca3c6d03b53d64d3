"""Builds the example component's model: citizen feedback tone (positive/negative).

A linear model over the hashed text features of docs/text-features.md, with
hand-set weights for a small Danish lexicon. It is deliberately tiny and
transparent: it exists to exercise the whole path (build, pack, inspect,
predict) with a real ONNX graph of the same shape as the standard components'
(features -> probabilities, and per-feature contributions to the top label).

Run: .venv/bin/python components/example-feedback/model/make_model.py
(after training/setup.sh). Writes feedback.onnx next to this file and
../golden.json: golden vectors computed here in numpy with the training-side
feature function, independently of the Rust component. Deterministic.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIM = 1024
POSITIVE = ["tak", "god", "godt", "glad", "hurtig", "hurtigt", "venlig", "venligt", "hjaelpsom",
            "tilfreds", "fantastisk", "super", "dejlig", "dejligt", "flot", "imponeret"]
NEGATIVE = ["daarlig", "daarligt", "utilfreds", "langsom", "langsomt", "sur", "klage", "aldrig",
            "fejl", "ventet", "uacceptabelt", "skuffet", "uhoeflig", "problem", "irriteret", "ikke"]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main() -> None:
    # W[:, 0] argues for "positiv", W[:, 1] for "negativ".
    w = np.zeros((DIM, 2), dtype=np.float32)
    for words, col in ((POSITIVE, 0), (NEGATIVE, 1)):
        for word in words:
            h = fnv1a64(f"w={word}".encode())
            idx, sign = h & (DIM - 1), (1.0 if h >> 63 == 0 else -1.0)
            # The feature value at idx carries `sign`; multiply by it so the word
            # pushes the right way whatever its hash sign.
            w[idx, col] += 4.0 * sign
            w[idx, 1 - col] -= 4.0 * sign
    b = np.array([0.2, -0.2], dtype=np.float32)  # slight prior towards positive

    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["logits_raw"]),
        helper.make_node("Add", ["logits_raw", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        helper.make_node("ArgMax", ["logits"], ["top"], axis=1, keepdims=0),
        helper.make_node("Gather", ["Wt", "top"], ["w_top"], axis=0),
        helper.make_node("Mul", ["features", "w_top"], ["contributions"]),
    ]
    graph = helper.make_graph(
        nodes,
        "feedback",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, DIM])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, [1, DIM]),
        ],
        initializer=[
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.ascontiguousarray(w.T), "Wt"),
            numpy_helper.from_array(b, "b"),
        ],
    )
    model = helper.make_model(graph, producer_name="komp", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "feedback.onnx")
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {out}")
    write_golden(w, b, os.path.join(here, "..", "golden.json"))


GOLDEN_TEXTS = [
    "Tak for den hurtige og venlige hjælp, jeg er meget tilfreds!",
    "Jeg er utilfreds. Jeg har ventet i tre uger, det er uacceptabelt.",
    "Sagsbehandleren var hjælpsom, men systemet er langsomt.",
    "Hej, jeg vil bare høre om min ansøgning er modtaget.",
    "DÅRLIG SERVICE!!! aldrig igen",
    "Super flot arbejde, jeg er imponeret",
]


def write_golden(w: np.ndarray, b: np.ndarray, path: str) -> None:
    from komp_train.features import features  # the training side of docs/text-features.md (training/setup.sh)

    vectors = []
    for text in GOLDEN_TEXTS:
        x = features(text, DIM).astype(np.float32)
        logits = (x[None, :] @ w + b).astype(np.float32)[0]
        e = np.exp(logits - logits.max())
        p = e / e.sum()
        labels = ["positiv", "negativ"]
        vectors.append({
            "input": {"text": text},
            "expected": {"label": labels[int(np.argmax(p))], "scores": {l: float(p[i]) for i, l in enumerate(labels)}},
            "tolerance": 0.0001,
        })
    with open(path, "w", encoding="utf-8") as f:
        json.dump(vectors, f, ensure_ascii=False, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
