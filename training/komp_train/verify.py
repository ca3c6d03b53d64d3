"""Checks an exported graph before anything is built on it.

Three independent computations must agree (the check the standard components' training has always made):

1. scikit-learn itself: `predict_proba` against the link function of `decision_function` (is the classifier
   what the exporter assumes: a linear score through softmax or sigmoid?);
2. the exported weights' math in float32 numpy (`Exported*.probabilities`) against the calibrated
   scikit-learn scores in float64 (did the fold of the calibration into the weights work?);
3. the written ONNX file run by `onnx.reference.ReferenceEvaluator` (the ONNX specification's own
   interpreter, independent of tract and of numpy's matmul) against (2), for the probabilities *and* every
   contribution output.

Any difference above the tolerance raises `VerificationError` with the numbers, so a training script fails
instead of shipping a graph that disagrees with its model card.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import scipy.sparse as sp

from .calibration import sigmoid, softmax
from .export import ExportedTabularClassifier, ExportedTextClassifier

SKLEARN_TOLERANCE = 1e-6      # (1): both float64
CALIBRATED_TOLERANCE = 1e-5   # (2): float32 graph math against float64
REFERENCE_TOLERANCE = 1e-5    # (3): probabilities
CONTRIBUTION_TOLERANCE = 1e-6


class VerificationError(AssertionError):
    """The exported graph disagrees with the classifier it was exported from."""


@dataclass(frozen=True)
class VerificationReport:
    """The largest differences seen; `rows_checked_by_reference` rows ran through the reference evaluator."""
    sklearn_link: float
    calibrated: float
    reference: float
    contributions: float
    rows_checked_by_reference: int
    probabilities: np.ndarray

    def summary(self) -> str:
        return (f"|sklearn proba - link(dec)|={self.sklearn_link:.2e} |onnx math - calibrated sklearn|="
                f"{self.calibrated:.2e} |reference evaluator - onnx math|={self.reference:.2e}")


def run_reference(path: str, feeds: dict) -> dict:
    """Run the ONNX file at `path` once with `onnx.reference`; returns {output name: array}."""
    from onnx.reference import ReferenceEvaluator
    sess = ReferenceEvaluator(path)
    names = [o.name for o in onnx.load(path).graph.output]
    return dict(zip(names, sess.run(None, feeds)))


class _Reference:
    """One reference session for many rows (loading the model once)."""

    def __init__(self, path: str):
        from onnx.reference import ReferenceEvaluator
        self.sess = ReferenceEvaluator(path)
        self.names = [o.name for o in onnx.load(path).graph.output]

    def run(self, feeds: dict) -> dict:
        return dict(zip(self.names, self.sess.run(None, feeds)))


def _sample(n: int, samples: int) -> range:
    return range(0, n, max(1, n // samples))


def _calibrated(dec: np.ndarray, binary: bool, temperature, platt) -> np.ndarray:
    if binary:
        if temperature is not None:
            platt = (1.0 / temperature, 0.0)
        a, c = platt if platt is not None else (1.0, 0.0)
        return sigmoid(a * dec + c)
    t = 1.0 if temperature is None else temperature
    return softmax(dec / t)


def _link_check(classifier, X, dec: np.ndarray, binary: bool) -> float:
    proba = classifier.predict_proba(X)
    return float(np.abs(proba[:, 1] - sigmoid(dec)).max() if binary else np.abs(proba - softmax(dec)).max())


def _raise_if(report: VerificationReport, what: str) -> VerificationReport:
    bad = []
    if report.sklearn_link >= SKLEARN_TOLERANCE:
        bad.append(f"scikit-learn's predict_proba is not the link of its decision_function (max diff "
                   f"{report.sklearn_link:.2e}): export supports plain linear classifiers such as LogisticRegression")
    if report.calibrated >= CALIBRATED_TOLERANCE:
        bad.append(f"the exported weights' math differs from the calibrated classifier by {report.calibrated:.2e}: "
                   "pass the same temperature=/platt= to verify as to export")
    if report.reference >= REFERENCE_TOLERANCE:
        bad.append(f"the ONNX reference evaluator's probabilities differ from the weights' math by {report.reference:.2e}")
    if report.contributions >= CONTRIBUTION_TOLERANCE:
        bad.append(f"the ONNX reference evaluator's contributions differ by {report.contributions:.2e}")
    if bad:
        raise VerificationError(f"{what}: " + "; ".join(bad))
    return report


def _check_sampled_rows(path: str, P: np.ndarray, binary: bool, samples: int, row) -> tuple[float, float, int]:
    """Runs every (N // samples)-th row through the ONNX reference evaluator. `row(i, top)` gives the row's feeds
    and a function from the evaluator's outputs to the arrays of contribution differences (`top` is the row's top
    class, None for a binary model). Returns the largest probability and contribution differences and the count."""
    ref = _Reference(path)
    ref_diff, contrib_diff, checked = 0.0, 0.0, 0
    for i in _sample(len(P), samples):
        top = None if binary else int(P[i].argmax())
        feeds, contribution_diffs = row(i, top)
        o = ref.run(feeds)
        if binary:
            ref_diff = max(ref_diff, float(np.abs(o["probability"][0, 0] - P[i])))
        else:
            ref_diff = max(ref_diff, float(np.abs(o["probabilities"] - P[i:i + 1]).max()))
        contrib_diff = max([contrib_diff] + [float(d.max()) for d in contribution_diffs(o) if d.size])
        checked += 1
    return ref_diff, contrib_diff, checked


def _weights(w: np.ndarray, top) -> np.ndarray:
    """A binary model's weights, or a multiclass model's weights of class `top`."""
    return w if top is None else w[..., top]


def verify_text_classifier(model: ExportedTextClassifier, classifier, x_text: np.ndarray,
                           x_dense: np.ndarray | None = None, *, temperature: float | None = None,
                           platt: tuple[float, float] | None = None, samples: int = 40) -> VerificationReport:
    """Check `model` (as `export_text_classifier` returned it) against `classifier` on held-out rows.

    `x_text` [N, dim] are feature vectors (`komp_train.features.features` stacked, or `features_csr`), `x_dense` [N, S] the dense
    block if the graph has one; pass the same `temperature` / `platt` as to the exporter. Every row is compared
    in numpy; every (N // samples)-th row also runs through the reference evaluator, whose probabilities and
    contributions must match. Returns the report (with the graph math's probabilities for all rows) or raises
    `VerificationError`."""
    binary = model.kind == "binary"
    P = model.probabilities(x_text, x_dense)
    blocks = [sp.csr_matrix(x_text).astype(np.float64) if sp.issparse(x_text)
              else sp.csr_matrix(np.asarray(x_text).astype(np.float64))]
    if model.dense_input is not None:
        blocks.append(sp.csr_matrix(np.asarray(x_dense).astype(np.float64)))
    X64 = sp.hstack(blocks, format="csr")
    dec = classifier.decision_function(X64)
    d_sk = _link_check(classifier, X64, dec, binary)
    d_cal = float(np.abs(P - _calibrated(dec, binary, temperature, platt)).max())

    def row(i, top):
        feeds = model.feeds(x_text[i], None if x_dense is None else x_dense[i])
        ids, vals = feeds["feature_ids"], feeds["feature_values"]
        w_text = model.w_text[ids] if top is None else model.w_text[ids, top]

        def diffs(o):
            out = [np.abs(o["text_contributions" if binary else "contributions"] - vals * w_text)]
            if model.dense_input is not None:
                out.append(np.abs(o[f"{model.dense_input}_contributions"][0]
                                  - feeds[model.dense_input][0] * _weights(model.w_dense, top)))
            return out
        return feeds, diffs

    ref_diff, contrib_diff, checked = _check_sampled_rows(model.path, P, binary, samples, row)
    report = VerificationReport(d_sk, d_cal, ref_diff, contrib_diff, checked, P)
    return _raise_if(report, f"verify {model.path}")


def verify_tabular_classifier(model: ExportedTabularClassifier, classifier, x: np.ndarray, *,
                              temperature: float | None = None, platt: tuple[float, float] | None = None,
                              samples: int = 40) -> VerificationReport:
    """Check `model` (as `export_tabular_classifier` returned it) against `classifier` (the same classifier or
    Pipeline that was exported) on rows `x` [N, K]; as `verify_text_classifier`, with contributions
    `x * W[:, top]` (multiclass) or `x * w` (binary)."""
    binary = model.kind == "binary"
    x = np.asarray(x)
    P = model.probabilities(x)
    x64 = x.astype(np.float64)
    dec = classifier.decision_function(x64)
    d_sk = _link_check(classifier, x64, dec, binary)
    d_cal = float(np.abs(P - _calibrated(dec, binary, temperature, platt)).max())

    def row(i, top):
        feeds = model.feeds(x[i])
        want = feeds[model.input_name][0] * _weights(model.w, top)
        return feeds, lambda o: [np.abs(o["contributions"][0] - want)]

    ref_diff, contrib_diff, checked = _check_sampled_rows(model.path, P, binary, samples, row)
    report = VerificationReport(d_sk, d_cal, ref_diff, contrib_diff, checked, P)
    return _raise_if(report, f"verify {model.path}")


__all__ = ["VerificationError", "VerificationReport", "run_reference", "verify_text_classifier",
           "verify_tabular_classifier"]
