"""Small shared helpers for training: deterministic JSON, metrics, ONNX building."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.environ.get("KOMP_OUT_DIR") or os.path.join(ROOT, "components", "models")  # override: experiments only
OPSET = 13
IR_VERSION = 8


def r6(x: float) -> float:
    return float(round(float(x), 6))


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, sort_keys=True, indent=2)
        f.write("\n")


def write_jsonl(path: str, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
            f.write("\n")


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error with equal-width bins on the confidence."""
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        m = (conf >= lo) & ((conf < hi) if i < bins - 1 else (conf <= hi))
        if m.any():
            total += m.sum() * abs(conf[m].mean() - correct[m].mean())
    return total / len(conf)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) (deterministic 1-D search)."""
    def nll(t):
        p = softmax(logits / t)
        return -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)))
    lo, hi = np.log(0.05), np.log(20.0)
    grid = np.linspace(lo, hi, 401)
    vals = [nll(np.exp(g)) for g in grid]
    g = grid[int(np.argmin(vals))]
    a, b = g - (hi - lo) / 400, g + (hi - lo) / 400
    for _ in range(60):  # golden-section refinement
        c = b - (b - a) * 0.618033988749895
        d = a + (b - a) * 0.618033988749895
        if nll(np.exp(c)) < nll(np.exp(d)):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """p = sigmoid(a*z + c) by Newton's method on the log-loss (deterministic)."""
    a, c = 1.0, 0.0
    z = z.astype(np.float64)
    y = y.astype(np.float64)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * z + c)))
        g = np.array([np.sum((p - y) * z), np.sum(p - y)])
        w = p * (1 - p)
        H = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(H, g)
        a, c = a - step[0], c - step[1]
        if np.abs(step).max() < 1e-12:
            break
    return float(a), float(c)


def _init(name: str, arr: np.ndarray):
    return numpy_helper.from_array(np.ascontiguousarray(arr.astype(np.float32)), name)


def _finish(graph, path: str, doc: str) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="komp-training", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = doc
    onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))


def export_multiclass(path: str, w_text: np.ndarray, w_sender: np.ndarray, bias: np.ndarray, doc: str) -> None:
    """w_text [D,C], w_sender [S,C], bias [C] (already calibrated).

    The text input is sparse (docs/text-features.md, "Model input"): `feature_ids` int64[n] and
    `feature_values` float[n], the n non-zero buckets in ascending order. The graph gathers the n rows of
    W_text it needs, so a call costs O(n*C), not O(D*C), and `contributions` has one value per given
    bucket: contributions[j] = feature_values[j] * W_text[feature_ids[j], top]."""
    D, C = w_text.shape
    S = w_sender.shape[0]
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("Gather", ["W_text", "feature_ids"], ["W_rows"], axis=0),            # [n, C]
        helper.make_node("Unsqueeze", ["feature_values", "axis0"], ["values_row"]),           # [1, n]
        helper.make_node("MatMul", ["values_row", "W_rows"], ["logits_text"]),                # [1, C]
        helper.make_node("MatMul", ["sender", "W_sender"], ["logits_sender"]),
        helper.make_node("Add", ["logits_text", "logits_sender"], ["logits_nb"]),
        helper.make_node("Add", ["logits_nb", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["top"], axis=1, keepdims=0),                  # [1]
        helper.make_node("Gather", ["W_rows", "top"], ["w_top"], axis=1),                     # [n, 1]
        helper.make_node("Squeeze", ["w_top", "axis1"], ["w_top_flat"]),                      # [n]
        helper.make_node("Mul", ["feature_values", "w_top_flat"], ["contributions"]),         # [n]
        helper.make_node("Transpose", ["W_sender"], ["W_sender_T"], perm=[1, 0]),
        helper.make_node("Gather", ["W_sender_T", "top"], ["ws_top"], axis=0),
        helper.make_node("Mul", ["sender", "ws_top"], ["sender_contributions"]),
    ]
    graph = helper.make_graph(
        nodes, "postsortering",
        [helper.make_tensor_value_info("feature_ids", i64, ["n"]),
         helper.make_tensor_value_info("feature_values", f32, ["n"]),
         helper.make_tensor_value_info("sender", f32, [1, S])],
        [helper.make_tensor_value_info("probabilities", f32, [1, C]),
         helper.make_tensor_value_info("contributions", f32, ["n"]),
         helper.make_tensor_value_info("sender_contributions", f32, [1, S])],
        [_init("W_text", w_text), _init("W_sender", w_sender), _init("bias", bias),
         numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    _finish(graph, path, doc)


def export_binary(path: str, w_text: np.ndarray, w_struct: np.ndarray, bias: float, doc: str) -> None:
    """w_text [D], w_struct [K], bias scalar (already calibrated):
    P = sigmoid(sum_j feature_values[j] * w_text[feature_ids[j]] + structured.w_struct + b).

    Sparse text input as in `export_multiclass`; text_contributions[j] = feature_values[j] * w_text[feature_ids[j]]."""
    D, K = len(w_text), len(w_struct)
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("Gather", ["w_text", "feature_ids"], ["w_rows"], axis=0),             # [n]
        helper.make_node("Mul", ["feature_values", "w_rows"], ["text_contributions"]),         # [n]
        # A MatMul, not a ReduceSum: it also gives 0 for a text without features (n = 0).
        helper.make_node("Unsqueeze", ["feature_values", "axis0"], ["values_row"]),            # [1, n]
        helper.make_node("Unsqueeze", ["w_rows", "axis1"], ["w_col"]),                         # [n, 1]
        helper.make_node("MatMul", ["values_row", "w_col"], ["logit_text"]),                   # [1, 1]
        helper.make_node("Transpose", ["w_struct_row"], ["w_struct_col"], perm=[1, 0]),
        helper.make_node("MatMul", ["structured", "w_struct_col"], ["logit_struct"]),          # [1, 1]
        helper.make_node("Add", ["logit_text", "logit_struct"], ["logit_nb"]),
        helper.make_node("Add", ["logit_nb", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
        helper.make_node("Mul", ["structured", "w_struct_row"], ["structured_contributions"]),
    ]
    graph = helper.make_graph(
        nodes, "underretning",
        [helper.make_tensor_value_info("feature_ids", i64, ["n"]),
         helper.make_tensor_value_info("feature_values", f32, ["n"]),
         helper.make_tensor_value_info("structured", f32, [1, K])],
        [helper.make_tensor_value_info("probability", f32, [1, 1]),
         helper.make_tensor_value_info("text_contributions", f32, ["n"]),
         helper.make_tensor_value_info("structured_contributions", f32, [1, K])],
        [_init("w_text", w_text), _init("w_struct_row", w_struct.reshape(1, K)),
         _init("bias", np.array([bias])),
         numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    _finish(graph, path, doc)


def sparse_feeds(x: np.ndarray) -> dict:
    """The sparse text input of one dense float32 feature vector: its non-zero buckets, ascending."""
    ids = np.flatnonzero(x).astype(np.int64)
    return {"feature_ids": ids, "feature_values": x[ids].astype(np.float32)}


def run_reference(path: str, feeds: dict) -> dict:
    from onnx.reference import ReferenceEvaluator
    sess = ReferenceEvaluator(path)
    names = [o.name for o in onnx.load(path).graph.output]
    outs = sess.run(None, feeds)
    return dict(zip(names, outs))
