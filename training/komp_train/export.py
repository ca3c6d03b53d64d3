"""A fitted scikit-learn linear classifier -> an ONNX graph in the komp component contract.

Why a hand-built graph and not a converter: the component contract needs things a generic converter does not
give (a sparse text input, so a call costs O(non-zero features) and no dense 64 KB vector crosses the sandbox
boundary; per-feature contributions of the predicted class, so the component can explain each prediction;
calibration folded into the weights), it must run in tract inside the sandbox (opset 13, a small op set:
Gather, Unsqueeze, Squeeze, MatMul, Add, Mul, Softmax, Sigmoid, ArgMax, Transpose), and it must come out byte
for byte the same on every run (`SerializeToString(deterministic=True)`, float32 weights from a fixed fold).

Two exporters, one output contract (calibrated probabilities + contributions that add up to the logit):

- `export_text_classifier`: hashed text features (docs/text-features.md) as a sparse input, optionally followed
  by a small dense block (a one-hot sender type, structured case fields, ...). This is exactly what the
  standard components postsortering (multiclass) and underretning (binary) ship.
- `export_tabular_classifier`: dense float inputs only (e.g. LogisticRegression, optionally after a
  StandardScaler, which is folded into the weights).

Both return the exported float32 weights with the graph's math in numpy (`probabilities`), which is what the
training scripts compute their metrics and golden vectors with, and what `komp_train.verify` checks the graph
against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8
PRODUCER = "komp-training"


class ExportError(ValueError):
    """The classifier or the arguments cannot be exported in the component contract; the message says why
    and what to change."""


def _init(name: str, arr: np.ndarray):
    return numpy_helper.from_array(np.ascontiguousarray(np.asarray(arr).astype(np.float32)), name)


def _i64(name: str, values: list[int]):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _finish(graph, path: str, doc: str) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = doc
    onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))


def _linear_parts(classifier) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """coef_ [C or 1, F], intercept_ [C or 1], classes_ of a fitted linear classifier, with a clear error for
    anything else."""
    for attr in ("coef_", "intercept_", "classes_"):
        if not hasattr(classifier, attr):
            raise ExportError(
                f"{type(classifier).__name__} has no `{attr}`: export needs a fitted linear classifier (e.g. "
                "sklearn.linear_model.LogisticRegression after .fit(X, y)); a model that is not linear cannot give "
                "per-feature contributions that add up to its score")
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float64).reshape(-1)
    classes = np.asarray(classifier.classes_)
    if len(classes) < 2:
        raise ExportError(f"the classifier knows {len(classes)} class(es); a classifier needs at least two")
    if coef.ndim != 2 or coef.shape[0] != (1 if len(classes) == 2 else len(classes)) or len(intercept) != coef.shape[0]:
        raise ExportError(f"unexpected coef_ shape {coef.shape} for {len(classes)} classes (one row per class, or "
                          "one row for a binary classifier)")
    return coef, intercept, classes


def _calibration(binary: bool, temperature: float | None, platt: tuple[float, float] | None):
    if temperature is not None and platt is not None:
        raise ExportError("give either temperature= (temperature scaling) or platt= (Platt scaling), not both")
    if temperature is not None and not (np.isfinite(temperature) and temperature > 0):
        raise ExportError(f"temperature must be a positive finite number, got {temperature!r}")
    if platt is not None:
        if not binary:
            raise ExportError("Platt scaling is for a binary classifier; for more than two classes fit a temperature "
                              "(komp_train.calibration.fit_temperature) and pass temperature=")
        a, c = platt
        if not (np.isfinite(a) and np.isfinite(c)):
            raise ExportError(f"platt=(a, c) must be finite, got {platt!r}")


def _fold_binary(coef: np.ndarray, intercept: np.ndarray, temperature, platt) -> tuple[np.ndarray, np.float32]:
    """sigmoid(a*z + c) folded into the weights: a*w and a*b + c (temperature T = Platt (1/T, 0))."""
    if temperature is not None:
        platt = (1.0 / temperature, 0.0)
    a, c = platt if platt is not None else (1.0, 0.0)
    w = coef[0] * a
    b = np.float32(intercept[0] * a + c)
    return w, b


def _fold_multiclass(coef: np.ndarray, intercept: np.ndarray, temperature) -> tuple[np.ndarray, np.ndarray]:
    """softmax(z / T) folded into the weights: W / T and b / T. Returns W [F, C] (float64) and b [C] (float32)."""
    t = 1.0 if temperature is None else temperature
    return coef.T / t, (intercept / t).astype(np.float32)


# ------------------------------------------------------------------------------------------- text classifier

@dataclass(frozen=True)
class ExportedTextClassifier:
    """What `export_text_classifier` wrote: the calibrated float32 weights and the graph's math in numpy.

    `kind` is "multiclass" (softmax over the classes, in `classes` order) or "binary" (sigmoid: the probability
    of `classes[1]`). Multiclass: `w_text` [dim, C], `w_dense` [S, C], `bias` [C]. Binary: `w_text` [dim],
    `w_dense` [S], `bias` a float32 scalar. S = 0 when there is no dense input."""
    path: str
    kind: str
    classes: list
    dim: int
    dense_input: str | None
    w_text: np.ndarray
    w_dense: np.ndarray
    bias: np.ndarray

    def probabilities(self, x_text: np.ndarray, x_dense: np.ndarray | None = None) -> np.ndarray:
        """The exported graph in float32 numpy for many rows: [N, C] (multiclass) or [N] (binary: P(classes[1])).

        `x_text` [N, dim] are the feature vectors of `komp_train.features.features` (dense, or a scipy sparse
        matrix such as `features_csr` gives), `x_dense` [N, S] the dense block (omit it when the graph has none)."""
        xt = x_text.astype(np.float32)
        if self.kind == "multiclass":
            logits = np.asarray(xt @ self.w_text)
            if self.dense_input is not None:
                logits = logits + (_dense(x_dense, self).astype(np.float32) @ self.w_dense)
            logits = (logits + self.bias).astype(np.float32)
            z = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(z)
            return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        z = np.asarray(xt @ self.w_text.reshape(-1, 1))
        if self.dense_input is not None:
            z = z + (_dense(x_dense, self).astype(np.float32) @ self.w_dense.reshape(-1, 1))
        z = (z + self.bias).astype(np.float32)[:, 0]
        return (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)

    def feeds(self, x_text_row: np.ndarray, x_dense_row: np.ndarray | None = None) -> dict:
        """The graph's inputs for one row: `feature_ids`/`feature_values` from a dense feature vector, and the
        dense block as [1, S] when the graph has one."""
        if hasattr(x_text_row, "toarray"):            # a row of a scipy sparse matrix
            x_text_row = x_text_row.toarray().ravel()
        f = sparse_feeds(np.asarray(x_text_row).ravel())
        if self.dense_input is not None:
            f[self.dense_input] = _dense(x_dense_row, self).astype(np.float32).reshape(1, -1)
        return f


def _dense(x, model) -> np.ndarray:
    if x is None:
        raise ExportError(f"this graph has a dense input {model.dense_input!r}: pass its values too")
    return np.asarray(x)


def sparse_feeds(x: np.ndarray) -> dict:
    """The sparse text input of one dense float32 feature vector: its non-zero buckets, ascending."""
    ids = np.flatnonzero(x).astype(np.int64)
    return {"feature_ids": ids, "feature_values": x[ids].astype(np.float32)}


def export_text_classifier(path: str, classifier, *, dim: int, dense_input: str | None = None,
                           temperature: float | None = None, platt: tuple[float, float] | None = None,
                           graph_name: str = "text-classifier", doc: str = "") -> ExportedTextClassifier:
    """Write a fitted linear text classifier to `path` as an ONNX graph in the component contract.

    The classifier (e.g. `LogisticRegression`) was fitted on rows `[features(text, dim) | dense block]`: the
    first `dim` columns are the hashed text features of docs/text-features.md (`komp_train.features`), the
    remaining S columns, if any, a small dense block whose graph input is called `dense_input` (e.g. "sender",
    "structured"). Calibration is folded into the exported weights: `temperature` T (softmax(z / T)) for any
    number of classes, or `platt` = (a, c) (sigmoid(a*z + c)) for a binary classifier; without either the raw
    scikit-learn probabilities are exported.

    The contract (opset 13, float32, batch 1; n is symbolic and may be 0, a text of only stop words):

    inputs
        `feature_ids` int64 [n]: the non-zero buckets of `features(text, dim)`, ascending;
        `feature_values` float [n]: their values (`ExportedTextClassifier.feeds` / `sparse_feeds` make both);
        `<dense_input>` float [1, S]: only when the classifier has columns beyond `dim`.
    outputs, more than two classes (softmax; class order = `classifier.classes_`)
        `probabilities` [1, C]: calibrated;
        `contributions` [n]: `feature_values[j] * W_text[feature_ids[j], top]`, top = ArgMax of the logits;
        `<dense_input>_contributions` [1, S]: `dense * W_dense[:, top]`;
        `logit[top] = sum(contributions) + sum(<dense_input>_contributions) + bias[top]`.
    outputs, two classes (sigmoid; the probability of `classifier.classes_[1]`)
        `probability` [1, 1]: calibrated;
        `text_contributions` [n]: `feature_values[j] * w_text[feature_ids[j]]`;
        `<dense_input>_contributions` [1, S]: `dense * w_dense`;
        `logit = sum(text_contributions) + sum(<dense_input>_contributions) + bias`.

    The graph gathers only the n weight rows it needs, so a call costs O(n) rather than O(dim). The text sum is
    a MatMul, not a ReduceSum, because tract 0.23 panics on a ReduceSum over an empty axis (n = 0).

    Returns the exported weights with the graph's math in numpy; check the written file with
    `komp_train.verify.verify_text_classifier`. Raises `ExportError` for anything that does not fit the contract.
    """
    if not isinstance(dim, int) or dim <= 0 or dim & (dim - 1):
        raise ExportError(f"dim must be a power of two (the hashed feature space of docs/text-features.md), got {dim!r}")
    coef, intercept, classes = _linear_parts(classifier)
    n_features = coef.shape[1]
    if n_features < dim:
        raise ExportError(f"the classifier has {n_features} input columns but dim={dim}: fit it on "
                          f"features(text, {dim}) (plus any dense columns after them)")
    n_dense = n_features - dim
    if n_dense and not dense_input:
        raise ExportError(f"the classifier has {n_dense} columns after the {dim} text features: name their graph "
                          "input with dense_input= (e.g. \"structured\")")
    if dense_input and not n_dense:
        raise ExportError(f"dense_input={dense_input!r} but the classifier has no columns after the {dim} text "
                          "features: drop dense_input or fit with the dense block")
    if dense_input in ("feature_ids", "feature_values"):
        raise ExportError(f"dense_input={dense_input!r} clashes with the text inputs' names")
    binary = len(classes) == 2
    _calibration(binary, temperature, platt)
    if binary:
        w, b = _fold_binary(coef, intercept, temperature, platt)
        wt = w[:dim].astype(np.float32)
        wd = w[dim:].astype(np.float32)
        _write_binary(path, wt, wd if dense_input else None, dense_input, float(b), graph_name, doc)
        return ExportedTextClassifier(path, "binary", list(classes), dim, dense_input or None, wt, wd, b)
    W, bf = _fold_multiclass(coef, intercept, temperature)
    wt = W[:dim].astype(np.float32)
    wd = W[dim:].astype(np.float32)
    _write_multiclass(path, wt, wd if dense_input else None, dense_input, bf, graph_name, doc)
    return ExportedTextClassifier(path, "multiclass", list(classes), dim, dense_input or None, wt, wd, bf)


def _write_multiclass(path: str, w_text: np.ndarray, w_dense: np.ndarray | None, dense: str | None, bias: np.ndarray,
                      graph_name: str, doc: str) -> None:
    """w_text [D, C], w_dense [S, C] (or None), bias [C] (already calibrated)."""
    D, C = w_text.shape
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("Gather", ["W_text", "feature_ids"], ["W_rows"], axis=0),            # [n, C]
        helper.make_node("Unsqueeze", ["feature_values", "axis0"], ["values_row"]),           # [1, n]
        helper.make_node("MatMul", ["values_row", "W_rows"], ["logits_text"]),                # [1, C]
    ]
    if w_dense is not None:
        nodes += [
            helper.make_node("MatMul", [dense, f"W_{dense}"], [f"logits_{dense}"]),
            helper.make_node("Add", ["logits_text", f"logits_{dense}"], ["logits_nb"]),
            helper.make_node("Add", ["logits_nb", "bias"], ["logits"]),
        ]
    else:
        nodes.append(helper.make_node("Add", ["logits_text", "bias"], ["logits"]))
    nodes += [
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["top"], axis=1, keepdims=0),                  # [1]
        helper.make_node("Gather", ["W_rows", "top"], ["w_top"], axis=1),                     # [n, 1]
        helper.make_node("Squeeze", ["w_top", "axis1"], ["w_top_flat"]),                      # [n]
        helper.make_node("Mul", ["feature_values", "w_top_flat"], ["contributions"]),         # [n]
    ]
    inputs = [helper.make_tensor_value_info("feature_ids", i64, ["n"]),
              helper.make_tensor_value_info("feature_values", f32, ["n"])]
    outputs = [helper.make_tensor_value_info("probabilities", f32, [1, C]),
               helper.make_tensor_value_info("contributions", f32, ["n"])]
    inits = [_init("W_text", w_text)]
    if w_dense is not None:
        S = w_dense.shape[0]
        nodes += [
            helper.make_node("Transpose", [f"W_{dense}"], [f"W_{dense}_T"], perm=[1, 0]),
            helper.make_node("Gather", [f"W_{dense}_T", "top"], ["ws_top"], axis=0),
            helper.make_node("Mul", [dense, "ws_top"], [f"{dense}_contributions"]),
        ]
        inputs.append(helper.make_tensor_value_info(dense, f32, [1, S]))
        outputs.append(helper.make_tensor_value_info(f"{dense}_contributions", f32, [1, S]))
        inits.append(_init(f"W_{dense}", w_dense))
    inits += [_init("bias", bias), _i64("axis0", [0]), _i64("axis1", [1])]
    _finish(helper.make_graph(nodes, graph_name, inputs, outputs, inits), path, doc)


def _write_binary(path: str, w_text: np.ndarray, w_dense: np.ndarray | None, dense: str | None, bias: float,
                  graph_name: str, doc: str) -> None:
    """w_text [D], w_dense [S] (or None), bias scalar (already calibrated):
    P = sigmoid(sum_j feature_values[j] * w_text[feature_ids[j]] + dense.w_dense + b)."""
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("Gather", ["w_text", "feature_ids"], ["w_rows"], axis=0),             # [n]
        helper.make_node("Mul", ["feature_values", "w_rows"], ["text_contributions"]),         # [n]
        # A MatMul, not a ReduceSum: it also gives 0 for a text without features (n = 0).
        helper.make_node("Unsqueeze", ["feature_values", "axis0"], ["values_row"]),            # [1, n]
        helper.make_node("Unsqueeze", ["w_rows", "axis1"], ["w_col"]),                         # [n, 1]
        helper.make_node("MatMul", ["values_row", "w_col"], ["logit_text"]),                   # [1, 1]
    ]
    if w_dense is not None:
        nodes += [
            helper.make_node("Transpose", ["w_struct_row"], ["w_struct_col"], perm=[1, 0]),
            helper.make_node("MatMul", [dense, "w_struct_col"], ["logit_struct"]),             # [1, 1]
            helper.make_node("Add", ["logit_text", "logit_struct"], ["logit_nb"]),
            helper.make_node("Add", ["logit_nb", "bias"], ["logit"]),
        ]
    else:
        nodes.append(helper.make_node("Add", ["logit_text", "bias"], ["logit"]))
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["probability"]))
    inputs = [helper.make_tensor_value_info("feature_ids", i64, ["n"]),
              helper.make_tensor_value_info("feature_values", f32, ["n"])]
    outputs = [helper.make_tensor_value_info("probability", f32, [1, 1]),
               helper.make_tensor_value_info("text_contributions", f32, ["n"])]
    inits = [_init("w_text", w_text)]
    if w_dense is not None:
        K = len(w_dense)
        nodes.append(helper.make_node("Mul", [dense, "w_struct_row"], [f"{dense}_contributions"]))
        inputs.append(helper.make_tensor_value_info(dense, f32, [1, K]))
        outputs.append(helper.make_tensor_value_info(f"{dense}_contributions", f32, [1, K]))
        inits.append(_init("w_struct_row", w_dense.reshape(1, K)))
    inits += [_init("bias", np.array([bias])), _i64("axis0", [0]), _i64("axis1", [1])]
    _finish(helper.make_graph(nodes, graph_name, inputs, outputs, inits), path, doc)


# ---------------------------------------------------------------------------------------- tabular classifier

@dataclass(frozen=True)
class ExportedTabularClassifier:
    """What `export_tabular_classifier` wrote: calibrated float32 weights in the raw input space (any
    StandardScaler folded in) and the graph's math in numpy. Multiclass: `w` [K, C], `bias` [C]; binary:
    `w` [K], `bias` a float32 scalar."""
    path: str
    kind: str
    classes: list
    input_name: str
    feature_names: list | None
    w: np.ndarray
    bias: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """The exported graph in float32 numpy for many rows `x` [N, K]: [N, C] (multiclass) or [N] (binary)."""
        xf = np.asarray(x, dtype=np.float32)
        if self.kind == "multiclass":
            logits = ((xf @ self.w) + self.bias).astype(np.float32)
            z = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(z)
            return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        z = ((xf @ self.w.reshape(-1, 1)) + self.bias).astype(np.float32)[:, 0]
        return (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)

    def feeds(self, x_row: np.ndarray) -> dict:
        """The graph's input for one row: {input_name: float32 [1, K]}."""
        return {self.input_name: np.asarray(x_row, dtype=np.float32).reshape(1, -1)}


def _unwrap_pipeline(model) -> tuple[object, np.ndarray | None, np.ndarray | None]:
    """(final classifier, mean, scale) of a classifier or a Pipeline of StandardScaler(s) + classifier."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return model, None, None
    mean, scale = None, None
    for name, step in steps[:-1]:
        if step is None or step == "passthrough":
            continue
        if type(step).__name__ != "StandardScaler":
            raise ExportError(f"pipeline step {name!r} is a {type(step).__name__}: only StandardScaler steps can be "
                              "folded into the exported weights; apply other transforms before the model and feed "
                              "their output to the component")
        m = np.asarray(step.mean_, dtype=np.float64) if getattr(step, "mean_", None) is not None and step.with_mean else None
        s = np.asarray(step.scale_, dtype=np.float64) if getattr(step, "scale_", None) is not None and step.with_std else None
        # compose x -> (x - m) / s after any earlier scaling (x - mean) / scale
        if mean is None and scale is None:
            mean, scale = m, s
        else:
            prev_m = np.zeros_like(s if s is not None else m) if mean is None else mean
            prev_s = np.ones_like(prev_m) if scale is None else scale
            m2 = np.zeros_like(prev_m) if m is None else m
            s2 = np.ones_like(prev_m) if s is None else s
            mean, scale = prev_m + m2 * prev_s, prev_s * s2
    return steps[-1][1], mean, scale


def export_tabular_classifier(path: str, classifier, *, feature_names: list[str] | None = None,
                              temperature: float | None = None, platt: tuple[float, float] | None = None,
                              input_name: str = "features", graph_name: str = "tabular-classifier",
                              doc: str = "") -> ExportedTabularClassifier:
    """Write a fitted linear classifier on dense float inputs to `path` as an ONNX graph in the component contract.

    `classifier` is a fitted linear classifier (e.g. `LogisticRegression`) or a `Pipeline` of `StandardScaler`
    steps followed by one; the scalers are folded into the weights, so the component feeds the raw values (and a
    contribution is relative to a raw value of 0). `feature_names` (optional, K of them) are only checked against
    the number of columns; the manifest and the component's code carry the order. Calibration as in
    `export_text_classifier`: `temperature` T for any number of classes, `platt` = (a, c) for two.

    The contract (opset 13, float32, batch 1):

    input
        `<input_name>` float [1, K] (default name `features`), the columns in training order.
    outputs, more than two classes (softmax; class order = `classes_`)
        `probabilities` [1, C]: calibrated;
        `contributions` [1, K]: `x * W[:, top]`, top = ArgMax of the logits;
        `logit[top] = sum(contributions) + bias[top]`.
    outputs, two classes (sigmoid; the probability of `classes_[1]`)
        `probability` [1, 1]: calibrated;
        `contributions` [1, K]: `x * w`;
        `logit = sum(contributions) + bias`.

    Returns the exported weights with the graph's math in numpy; check the written file with
    `komp_train.verify.verify_tabular_classifier`. Raises `ExportError` for anything that does not fit.
    """
    clf, mean, scale = _unwrap_pipeline(classifier)
    coef, intercept, classes = _linear_parts(clf)
    K = coef.shape[1]
    if feature_names is not None and len(feature_names) != K:
        raise ExportError(f"{len(feature_names)} feature_names for a classifier with {K} input columns")
    if not input_name or input_name in ("probabilities", "probability", "contributions"):
        raise ExportError(f"input_name={input_name!r} must be a non-empty name that is not an output's")
    if scale is not None:
        if np.any(scale == 0):
            raise ExportError("a StandardScaler has a zero scale_: drop the constant column before training")
        coef = coef / scale
    if mean is not None:
        intercept = intercept - coef @ mean
    binary = len(classes) == 2
    _calibration(binary, temperature, platt)
    f32 = TensorProto.FLOAT
    x = helper.make_tensor_value_info(input_name, f32, [1, K])
    if binary:
        w, b = _fold_binary(coef, intercept, temperature, platt)
        wf = w.astype(np.float32)
        nodes = [
            helper.make_node("MatMul", [input_name, "w_col"], ["logit_raw"]),                 # [1, 1]
            helper.make_node("Add", ["logit_raw", "bias"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["probability"]),
            helper.make_node("Mul", [input_name, "w_row"], ["contributions"]),                # [1, K]
        ]
        graph = helper.make_graph(
            nodes, graph_name, [x],
            [helper.make_tensor_value_info("probability", f32, [1, 1]),
             helper.make_tensor_value_info("contributions", f32, [1, K])],
            [_init("w_col", wf.reshape(K, 1)), _init("w_row", wf.reshape(1, K)), _init("bias", np.array([float(b)]))])
        _finish(graph, path, doc)
        return ExportedTabularClassifier(path, "binary", list(classes), input_name, feature_names, wf, b)
    W, bf = _fold_multiclass(coef, intercept, temperature)
    Wf = W.astype(np.float32)
    C = Wf.shape[1]
    nodes = [
        helper.make_node("MatMul", [input_name, "W"], ["logits_raw"]),                        # [1, C]
        helper.make_node("Add", ["logits_raw", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["top"], axis=1, keepdims=0),                  # [1]
        helper.make_node("Gather", ["W_T", "top"], ["w_top"], axis=0),                        # [1, K]
        helper.make_node("Mul", [input_name, "w_top"], ["contributions"]),                    # [1, K]
    ]
    graph = helper.make_graph(
        nodes, graph_name, [x],
        [helper.make_tensor_value_info("probabilities", f32, [1, C]),
         helper.make_tensor_value_info("contributions", f32, [1, K])],
        [_init("W", Wf), _init("W_T", Wf.T), _init("bias", bf)])
    _finish(graph, path, doc)
    return ExportedTabularClassifier(path, "multiclass", list(classes), input_name, feature_names, Wf, bf)
