"""Writes a MiniLM-sized BERT encoder as ONNX, with random weights, for the benchmarks.

Shape of all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, intermediate 1536,
vocabulary 30522, sequence 128 (fixed). Inputs input_ids and attention_mask
(int64 [1,128]); output logits (float32 [1,2]) from a pooler + classifier on
[CLS]. Built from plain ONNX operators (opset 13: LayerNorm and GELU spelled
out, as older exporters do), so that tract and onnxruntime run the same graph.

The file is ~90 MB and is not committed: benches/run.sh generates it into
target/komp-bench/ at bench time.

    python benches/models/make_minilm.py OUT.onnx
"""
from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LAYERS, HIDDEN, HEADS, FF, VOCAB, SEQ = 6, 384, 12, 1536, 30522, 128
HEAD = HIDDEN // HEADS

rng = np.random.default_rng(20240501)
inits: list[onnx.TensorProto] = []
nodes: list[onnx.NodeProto] = []
_n = 0


def w(name: str, shape, scale: float = 0.02) -> str:
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
    return name


def const(name: str, value, dtype=np.float32) -> str:
    inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
    return name


def node(op: str, inputs: list[str], **attrs) -> str:
    global _n
    _n += 1
    out = f"{op.lower()}_{_n}"
    nodes.append(helper.make_node(op, inputs, [out], **attrs))
    return out


def layer_norm(x: str, p: str) -> str:
    g = const(p + ".gamma", np.ones(HIDDEN))
    b = const(p + ".beta", np.zeros(HIDDEN))
    mean = node("ReduceMean", [x], axes=[-1], keepdims=1)
    d = node("Sub", [x, mean])
    var = node("ReduceMean", [node("Mul", [d, d])], axes=[-1], keepdims=1)
    std = node("Sqrt", [node("Add", [var, "eps"])])
    return node("Add", [node("Mul", [node("Div", [d, std]), g]), b])


def linear(x: str, p: str, n_in: int, n_out: int) -> str:
    return node("Add", [node("MatMul", [x, w(p + ".w", (n_in, n_out))]), const(p + ".b", np.zeros(n_out))])


def heads(x: str) -> str:  # [1,S,H] -> [1,heads,S,head]
    return node("Transpose", [node("Reshape", [x, "shape_heads"])], perm=[0, 2, 1, 3])


def main(out: str) -> None:
    const("eps", 1e-12)
    const("half", 0.5)
    const("one", 1.0)
    const("sqrt2", np.sqrt(2.0))
    const("neg", -10000.0)
    const("scale", 1.0 / np.sqrt(HEAD))
    const("shape_heads", [1, SEQ, HEADS, HEAD], np.int64)
    const("shape_hidden", [1, SEQ, HIDDEN], np.int64)
    const("axes12", [1, 2], np.int64)
    const("zero_idx", [0], np.int64)

    emb = node("Gather", [w("word_embeddings", (VOCAB, HIDDEN)), "input_ids"])
    x = node("Add", [emb, w("position_plus_type_embeddings", (1, SEQ, HIDDEN))])
    x = layer_norm(x, "emb.ln")
    m = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    m = node("Unsqueeze", [m, "axes12"])  # [1,1,1,S]
    bias = node("Mul", [node("Sub", ["one", m]), "neg"])

    for i in range(LAYERS):
        p = f"l{i}"
        q = heads(linear(x, p + ".q", HIDDEN, HIDDEN))
        k = node("Transpose", [node("Reshape", [linear(x, p + ".k", HIDDEN, HIDDEN), "shape_heads"])], perm=[0, 2, 3, 1])
        v = heads(linear(x, p + ".v", HIDDEN, HIDDEN))
        s = node("Add", [node("Mul", [node("MatMul", [q, k]), "scale"]), bias])
        a = node("Softmax", [s], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [a, v])], perm=[0, 2, 1, 3]), "shape_hidden"])
        x = layer_norm(node("Add", [x, linear(ctx, p + ".o", HIDDEN, HIDDEN)]), p + ".ln1")
        h = linear(x, p + ".ff1", HIDDEN, FF)
        h = node("Mul", [node("Mul", [h, "half"]), node("Add", ["one", node("Erf", [node("Div", [h, "sqrt2"])])])])
        x = layer_norm(node("Add", [x, linear(h, p + ".ff2", FF, HIDDEN)]), p + ".ln2")

    cls = node("Reshape", [node("Gather", [x, "zero_idx"], axis=1), const("shape_cls", [1, HIDDEN], np.int64)])
    pooled = node("Tanh", [linear(cls, "pooler", HIDDEN, HIDDEN)])
    logits = linear(pooled, "classifier", HIDDEN, 2)
    nodes.append(helper.make_node("Identity", [logits], ["logits"]))

    graph = helper.make_graph(
        nodes,
        "minilm_sized_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQ]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, SEQ]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="komp-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)
    params = sum(int(np.prod(t.dims)) for t in inits)
    print(f"{out}: {params / 1e6:.1f} M parameters, {LAYERS} layers, hidden {HIDDEN}, sequence {SEQ}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "minilm.onnx")
