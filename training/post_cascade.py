"""Postsortering's cascade: the linear bag-of-words model answers alone when it is sure; otherwise the pretrained
encoder (multilingual-e5-small, training/encoder/) reads the letter too, and the answer is the average of the two
models' calibrated probabilities, re-tempered. `components/postsortering/src/lib.rs` does exactly this.

    P_lin                      the linear model (postsortering.onnx), calibrated
    top(P_lin) >= CUT     ->   P = P_lin                                   (the encoder does not run)
    otherwise             ->   P_head = head([embedding, sender one-hot])  (postsortering-head.onnx, calibrated)
                               P = softmax(ln((P_lin + P_head) / 2) / T_ensemble)

Why a cascade and not the ensemble for every letter: the encoder path costs ~100 ms per sandboxed call for a short letter and the linear
path ~0.15 ms (BENCHMARKS.md). Round 4 ran the encoder below CUT = 0.8 (20% of the held-out bank's letters). Round 5
moved CUT to 0.99, read off the hand-written validation letters with the ensemble temperature fitted out of fold
(experiments/cut/cut_sweep.py; training/README.md, "Issue 12, round 5"): at 0.8 the letters the linear model was
sure of, and wrong, never met the encoder (10 of 365 wrong with a top score >= 0.9); at 0.99 4, the same as with the
encoder on every letter, for the encoder on ~43% of letters instead of all."""
from __future__ import annotations

import json
import os

import numpy as np

from gen_post import SENDER_TYPES as SENDERS   # the one-hot order of both models
CUT = 0.99
GRAPH = "e5-small-da-en.onnx"
VOCAB = "e5-small-da-en.vocab.json"
HEAD = "postsortering-head.onnx"


def sender_onehot(senders) -> np.ndarray:
    s = np.zeros((len(senders), len(SENDERS)), np.float32)
    for i, t in enumerate(senders):
        if t in SENDERS:
            s[i, SENDERS.index(t)] = 1.0
    return s


def head_inputs(E: np.ndarray, senders) -> np.ndarray:
    """The head's `features` [n, D + 4]: the embedding, then the sender one-hot (the component's order)."""
    return np.hstack([np.asarray(E, np.float32), sender_onehot(senders)])


def combine(P_lin: np.ndarray, P_head: np.ndarray, t_ensemble: float) -> np.ndarray:
    """The ensemble's probabilities, in float64 (as the component computes them)."""
    a = np.log((P_lin.astype(np.float64) + P_head.astype(np.float64)) / 2) / t_ensemble
    a -= a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def head_weights(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(W [D + 4, C], bias [C]) of an exported head (komp_train.export.export_tabular_classifier)."""
    import onnx
    from onnx import numpy_helper
    init = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    return init["W"], init["bias"].reshape(-1)


class Cascade:
    """The cascade over one models folder: the encoder graph and its vocabulary, the head's weights and the
    ensemble temperature (`encoder` section of postsortering.meta.json, or given)."""

    def __init__(self, models_dir: str, w: np.ndarray, bias: np.ndarray, t_ensemble: float, cut: float = CUT,
                 encoder=None):
        from komp_train.encoder import Encoder
        self.encoder = encoder or Encoder(os.path.join(models_dir, GRAPH), os.path.join(models_dir, VOCAB))
        self.w, self.bias, self.t_ensemble, self.cut = w.astype(np.float32), bias.astype(np.float32), t_ensemble, cut

    @classmethod
    def from_models(cls, models_dir: str) -> "Cascade":
        """The shipped cascade: head weights from postsortering-head.onnx, T and cut from the meta file."""
        with open(os.path.join(models_dir, "postsortering.meta.json"), encoding="utf-8") as f:
            enc = json.load(f)["encoder"]
        w, bias = head_weights(os.path.join(models_dir, HEAD))
        return cls(models_dir, w, bias, enc["ensemble_temperature"], enc["cascade_below"])

    def head(self, texts, senders) -> np.ndarray:
        """The head's calibrated probabilities (float32, as the graph computes them)."""
        x = head_inputs(self.encoder.embed(list(texts)), senders)
        logits = (x @ self.w + self.bias).astype(np.float32)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def apply(self, P_lin: np.ndarray, texts, senders) -> tuple[np.ndarray, np.ndarray]:
        """(P float64 [n, C], encoder_ran bool [n]) for letters whose linear probabilities are `P_lin`."""
        P = P_lin.astype(np.float64).copy()
        ran = P_lin.max(axis=1) < np.float32(self.cut)
        idx = np.where(ran)[0]
        if len(idx):
            P_head = self.head([texts[i] for i in idx], [senders[i] for i in idx])
            P[idx] = combine(P_lin[idx], P_head, self.t_ensemble)
        return P, ran
