"""komp_train.encoder (the pretrained encoder's forward pass in numpy, used to fit and check postsortering's head) does
the graph's own math: on a small random encoder exported by training/encoder/e5_onnx.py it agrees with ONNX's
reference evaluator; and post_cascade's ensemble is the formula the component computes."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [TRAINING, os.path.join(TRAINING, "encoder")]

import e5_onnx  # noqa: E402
import post_cascade  # noqa: E402
from komp_train.encoder import Encoder, EncoderError  # noqa: E402

H, NH, FF, LAYERS, VOCAB, MAXP = 16, 4, 32, 2, 12, 32


def tiny_encoder(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    r = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(np.float32)   # noqa: E731
    W = {"word": r(VOCAB, H), "pos": r(MAXP, H), "type": r(1, H), "eln.w": 1 + r(H), "eln.b": r(H)}
    for l in range(LAYERS):
        for k, shape in (("q", (H, H)), ("k", (H, H)), ("v", (H, H)), ("ao", (H, H)), ("fi", (FF, H)), ("fo", (H, FF))):
            W[f"l{l}.{k}.w"], W[f"l{l}.{k}.b"] = r(*shape), r(shape[0])
        for k in ("aln", "oln"):
            W[f"l{l}.{k}.w"], W[f"l{l}.{k}.b"] = 1 + r(H), r(H)
    graph = str(tmp_path / "tiny.onnx")
    e5_onnx.export({"H": H, "NH": NH, "FF": FF, "NL": LAYERS, "eps": 1e-12}, W, graph, fp16=True)
    pieces = ["<s>", "</s>", "<unk>", "\u2581", "\u2581hej", "\u2581med", "\u2581dig", "h", "e", "j", "a", "b"]
    vocab = str(tmp_path / "tiny.vocab.json")
    with open(vocab, "w", encoding="utf-8") as f:
        json.dump({"pieces": pieces, "scores": [0.0, 0.0, 0.0] + [-float(i) for i in range(1, VOCAB - 2)],
                   "normalization": {"\t": " "}, "bos": 0, "eos": 1, "unk": 2, "prefix": "", "max_content": 6}, f)
    return graph, vocab


def test_the_numpy_forward_pass_is_the_graphs_math(tmp_path):
    from onnx.reference import ReferenceEvaluator

    graph, vocab = tiny_encoder(tmp_path)
    enc = Encoder(graph, vocab, heads=NH)
    ref = ReferenceEvaluator(graph)
    for text in ["hej med dig", "hej\tdig", "", "ab ab ab ab ab ab ab ab ab"]:
        ids = enc.token_ids(text)
        assert ids[0] == 0 and ids[-1] == 1 and len(ids) <= 6 + 2    # <s> ... </s>, cut at max_content
        want = ref.run(None, {"token_ids": ids})[0][0]
        got = enc.embedding(ids)
        assert got.dtype == np.float32 and got.shape == (H,)
        np.testing.assert_allclose(got, want, atol=2e-6)
        assert abs(float(np.linalg.norm(got)) - 1) < 1e-5
    E = enc.embed(["hej", "dig"])
    assert E.shape == (2, H) and enc.embed([]).shape == (0, H)


def test_missing_or_foreign_files_are_refused_with_what_to_do(tmp_path):
    graph, vocab = tiny_encoder(tmp_path)
    with pytest.raises(EncoderError, match="build_encoder.py"):
        Encoder(str(tmp_path / "absent.onnx"), vocab)
    from komp_train.export import export_tabular_classifier
    from sklearn.linear_model import LogisticRegression
    other = str(tmp_path / "other.onnx")
    export_tabular_classifier(other, LogisticRegression().fit(np.eye(3), [0, 1, 2]))
    with pytest.raises(EncoderError, match="not an encoder graph"):
        Encoder(other, vocab)


def test_the_cascade_runs_the_encoder_only_below_the_cut():
    P_lin = np.array([[0.9, 0.05, 0.05], [0.5, 0.3, 0.2]], np.float32)
    P_head = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]], np.float32)
    T = 0.5
    both = post_cascade.combine(P_lin, P_head, T)
    a = np.log((P_lin.astype(np.float64) + P_head) / 2) / T
    np.testing.assert_allclose(both, np.exp(a) / np.exp(a).sum(1, keepdims=True), rtol=1e-12)
    assert both[1].argmax() == 1                        # the head changed the second answer

    class Fixed(post_cascade.Cascade):
        def __init__(self):                             # no encoder: the head's answers are given
            self.t_ensemble, self.cut = T, 0.8

        def head(self, texts, senders):
            return P_head[[int(t) for t in texts]]

    P, ran = Fixed().apply(P_lin, ["0", "1"], [None, "citizen"])
    assert ran.tolist() == [False, True]
    np.testing.assert_array_equal(P[0], P_lin[0].astype(np.float64))
    np.testing.assert_allclose(P[1], both[1])
