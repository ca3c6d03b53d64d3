"""A pretrained text encoder exported to ONNX (training/encoder/build_encoder.py's multilingual-e5-small), run at
training time exactly as a component feeds it through `wasi:nn`: the same tokeniser (`komp_train.sentencepiece`, the
twin of `komp_sdk::sentencepiece`), the same vocabulary file, the same prefix and length cut, one text at a time.
The graph takes `token_ids` (int64 [T]) and returns `embedding` (float32 [1, D]).

Why numpy and not an inference engine: the training outputs are checked byte for byte on every CI run, and an
engine's kernels differ in their last bits between CPUs (onnxruntime picks AVX-512 kernels where it finds them). This
forward pass reads the graph's own weights and does its math in float32 with numpy's matrix products (OpenBLAS) and
scipy's erf, which train_all.sh pins to one code path on every x86-64 CPU (`OPENBLAS_CORETYPE=Haswell`,
`NPY_DISABLE_CPU_FEATURES` without AVX-512). tract runs the same graph in the host; the two agree to float rounding,
which is why a component's golden vectors and card checks compare scores with a tolerance.

The architecture is the BERT-style encoder `e5_onnx.py` exports: word + position + type embedding, layer norm,
L layers of 12-head self-attention and GELU feed-forward (post-norm), mean over all tokens, L2 normalisation."""
from __future__ import annotations

import json
import os

import numpy as np

from komp_train.sentencepiece import Unigram


class EncoderError(ValueError):
    """The encoder's files are missing or not the graph this module runs; the message says what to do."""


def _weights(graph: str) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    w = {}
    for init in onnx.load(graph).graph.initializer:
        a = numpy_helper.to_array(init)
        name = init.name[:-2] if init.name.endswith(".h") else init.name   # float16 weights, cast at load
        w[name] = a.astype(np.float32) if a.dtype == np.float16 else a
    return w


class Encoder:
    """`graph`: the ONNX file; `vocabulary`: its JSON vocabulary file (pieces, scores, normalization, bos, eos, unk,
    prefix, max_content)."""

    def __init__(self, graph: str, vocabulary: str, heads: int = 12):
        for path in (graph, vocabulary):
            if not os.path.exists(path):
                raise EncoderError(f"{path} is missing; build the encoder first "
                                   "(.venv/bin/python training/encoder/build_encoder.py)")
        with open(vocabulary, encoding="utf-8") as f:
            v = json.load(f)
        self.prefix: str = v["prefix"]
        self.max_content: int = int(v["max_content"])
        self.tokenizer = Unigram(v["pieces"], v["scores"], v["normalization"], v["bos"], v["eos"], v["unk"])
        self.w = _weights(graph)
        self.layers = sum(1 for k in self.w if k.endswith(".q.b"))
        need = ["word", "pos", "type", "eln.w", "eln.b", "eps", "scale"]
        if self.layers == 0 or any(k not in self.w for k in need):
            raise EncoderError(f"{graph} is not an encoder graph of training/encoder/e5_onnx.py "
                               f"(it lacks {[k for k in need if k not in self.w] or 'its layers'})")
        self.heads = heads
        self.dim = self.w["word"].shape[1]

    def token_ids(self, text: str) -> np.ndarray:
        """The graph's input for `text`: <s>, the prefix and the text's first pieces, </s>."""
        return np.array(self.tokenizer.encode(text, self.prefix, self.max_content), np.int64)

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        m = x.mean(-1, keepdims=True)
        d = x - m
        v = (d * d).mean(-1, keepdims=True)
        return (d / np.sqrt(v + self.w["eps"])) * self.w[name + ".w"] + self.w[name + ".b"]

    def _lin(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".wt"] + self.w[name + ".b"]

    def embedding(self, ids: np.ndarray) -> np.ndarray:
        """The graph's math for one input, float32 [D]."""
        from scipy.special import erf

        w, T, H = self.w, len(ids), self.dim
        hd = H // self.heads
        x = self._ln(w["word"][ids] + w["pos"][:T] + w["type"], "eln")
        for l in range(self.layers):
            q, k, v = (self._lin(x, f"l{l}.{m}").reshape(T, self.heads, hd).transpose(1, 0, 2) for m in "qkv")
            s = (q @ k.transpose(0, 2, 1)) * w["scale"]
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(T, H)
            x = self._ln(x + self._lin(ctx, f"l{l}.ao"), f"l{l}.aln")
            f = self._lin(x, f"l{l}.fi")
            f = (f * w["half"]) * (w["onef"] + erf(f / w["rt2"]).astype(np.float32))
            x = self._ln(x + self._lin(f, f"l{l}.fo"), f"l{l}.oln")
        e = x.mean(0)
        return (e / np.sqrt((e * e).sum())).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One embedding per text, float32 [n, D], each computed alone (as the component does)."""
        return np.stack([self.embedding(self.token_ids(t)) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
