"""Tests of the komp-train package (training/komp_train): features against the committed fixtures, export ->
verify round trips for both exporters (and that verification catches a wrong graph), the card metrics against
scikit-learn, and training-output.json.

Run: .venv/bin/python -m pytest -q training/tests (scripts/test.sh does; the Rust suite's `komp_train` module
runs it too, and reads the training-output.json written here with the manifest's own types).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from komp_train import calibration, features
from komp_train.export import ExportError, export_tabular_classifier, export_text_classifier, sparse_feeds
from komp_train.metrics import MetricsError, card_metrics, ece, proportion, roc_auc, wilson
from komp_train.output import (TrainingOutputError, golden_vector, read_training_output,
                               write_training_output)
from komp_train.verify import VerificationError, run_reference, verify_tabular_classifier, verify_text_classifier

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def rng_data(seed: int, n: int, k: int, classes: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)) * rng.uniform(0.5, 20, size=k) + rng.uniform(-30, 30, size=k)
    w = rng.normal(size=(k, classes))
    y = np.argmax((x - x.mean(0)) / x.std(0) @ w + rng.normal(scale=0.7, size=(n, classes)), axis=1)
    return x.astype(np.float32), y


# ------------------------------------------------------------------------------------------------ features

def test_features_reproduce_the_committed_fixtures_bit_for_bit():
    """The Rust SDK is checked against these fixtures; the moved module must still produce every one of them."""
    path = os.path.join(ROOT, "components", "models", "feature-fixtures.jsonl")
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert len(rows) > 300
    for row in rows:
        assert features.tokens(row["text"]) == row["tokens"], row["text"]
        assert features.content_tokens(row["text"]) == row["content_tokens"], row["text"]
        x = features.features(row["text"], row["dim"])
        got = [[int(i), int(x[i:i + 1].view(np.uint32)[0])] for i in np.flatnonzero(x)]
        assert got == row["nonzero"], row["text"]


def test_stopwords_come_from_the_repository_list():
    listed = {ln.strip() for ln in open(os.path.join(ROOT, "docs", "stopwords.txt"), encoding="utf-8")
              if ln.strip() and not ln.startswith("#")}
    assert features.STOPWORDS == listed
    assert "ikke" not in features.STOPWORDS
    assert not features.features("og i at det", 64).any()


# ------------------------------------------------------------------------------------------ tabular export

@pytest.mark.parametrize("classes", [2, 3])
def test_tabular_export_verify_round_trip(tmp_path, classes):
    x, y = rng_data(7 + classes, 600, 5, classes)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=2.0, max_iter=2000)).fit(x[:400], y[:400])
    z = clf.decision_function(x[:400].astype(np.float64))
    if classes == 2:
        cal = {"platt": calibration.fit_platt(z, y[:400])}
    else:
        cal = {"temperature": calibration.fit_temperature(z, y[:400])}
    path = str(tmp_path / "tab.onnx")
    names = [f"f{i}" for i in range(5)]
    model = export_tabular_classifier(path, clf, feature_names=names, graph_name="tab", **cal)
    report = verify_tabular_classifier(model, clf, x[400:], **cal)
    assert report.rows_checked_by_reference == 40
    assert report.reference < 1e-5 and report.calibrated < 1e-5
    # the contract: outputs, and contributions that add up to the logit of the predicted class
    out = run_reference(path, model.feeds(x[400]))
    assert set(out) == ({"probability", "contributions"} if classes == 2 else {"probabilities", "contributions"})
    assert out["contributions"].shape == (1, 5)
    if classes == 2:
        p = float(out["probability"][0, 0])
        logit = float(out["contributions"].sum() + model.bias)
        assert abs(1 / (1 + np.exp(-logit)) - p) < 1e-5
    else:
        probs = out["probabilities"][0]
        top = int(probs.argmax())
        logits = x[400].astype(np.float64) @ model.w.astype(np.float64) + model.bias
        assert abs(out["contributions"].sum() + model.bias[top] - logits[top]) < 1e-3
        assert abs(calibration.softmax(logits[None])[0] - probs).max() < 1e-5
    # deterministic: exporting again gives the same bytes
    again = str(tmp_path / "again.onnx")
    export_tabular_classifier(again, clf, feature_names=names, graph_name="tab", **cal)
    assert open(path, "rb").read() == open(again, "rb").read()


def test_tabular_verify_catches_a_graph_that_disagrees(tmp_path):
    x, y = rng_data(3, 300, 4, 2)
    clf = LogisticRegression().fit(x, y)
    model = export_tabular_classifier(str(tmp_path / "m.onnx"), clf, platt=(0.5, 0.2))
    with pytest.raises(VerificationError, match="calibrated"):
        verify_tabular_classifier(model, clf, x)  # verified without the calibration that was exported
    other = LogisticRegression(C=0.01).fit(x, 1 - y)
    with pytest.raises(VerificationError):
        verify_tabular_classifier(model, other, x, platt=(0.5, 0.2))


def test_tabular_export_refuses_what_does_not_fit(tmp_path):
    x, y = rng_data(5, 200, 3, 3)
    path = str(tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="fitted linear classifier"):
        export_tabular_classifier(path, LogisticRegression())
    clf = LogisticRegression().fit(x, y)
    with pytest.raises(ExportError, match="Platt scaling is for a binary"):
        export_tabular_classifier(path, clf, platt=(1.0, 0.0))
    with pytest.raises(ExportError, match="2 feature_names for a classifier with 3"):
        export_tabular_classifier(path, clf, feature_names=["a", "b"])
    with pytest.raises(ExportError, match="temperature must be a positive"):
        export_tabular_classifier(path, clf, temperature=0.0)
    assert not os.path.exists(path)


# --------------------------------------------------------------------------------------------- text export

TEXTS = [("Vi vil gerne have en ny affaldsspand", 0), ("Min skraldespand er ikke tømt", 0),
         ("Hvornår åbner genbrugspladsen", 0), ("Jeg søger om byggetilladelse til en carport", 1),
         ("Skal vi søge tilladelse til en tilbygning", 1), ("Byggesag om udestue og carport", 1),
         ("Mit barn skal starte i skole", 2), ("Indskrivning til SFO og skole", 2), ("Skolebus og skoleskift", 2)]


def text_design(dim: int, dense: bool):
    xt = np.stack([features.features(t, dim) for t, _ in TEXTS * 4])
    xs = np.stack([np.eye(2, dtype=np.float32)[i % 2] for i in range(len(xt))])
    y = np.array([c for _, c in TEXTS * 4])
    x = np.hstack([xt, xs]) if dense else xt
    return xt, xs, x.astype(np.float64), y


@pytest.mark.parametrize("dense", [False, True])
def test_text_export_verify_round_trip_multiclass(tmp_path, dense):
    dim = 1024
    xt, xs, x, y = text_design(dim, dense)
    clf = LogisticRegression(C=10, max_iter=3000).fit(x, y)
    path = str(tmp_path / "text.onnx")
    model = export_text_classifier(path, clf, dim=dim, dense_input="sender" if dense else None, temperature=0.7)
    report = verify_text_classifier(model, clf, xt, xs if dense else None, temperature=0.7)
    assert report.rows_checked_by_reference == len(xt)
    # the same rows as a sparse matrix (features_csr) pass the same checks (sums in another order: not bitwise)
    csr = features.features_csr([t for t, _ in TEXTS * 4], dim)
    sparse_report = verify_text_classifier(model, clf, csr, xs if dense else None, temperature=0.7)
    assert np.abs(sparse_report.probabilities - report.probabilities).max() < 1e-6
    # a text of stop words only: n = 0 features, the graph still answers (bias only), contributions empty
    empty = model.feeds(features.features("og i at", dim), np.zeros(2, np.float32) if dense else None)
    assert empty["feature_ids"].shape == (0,)
    out = run_reference(path, empty)
    assert out["contributions"].shape == (0,)
    assert abs(out["probabilities"][0] - calibration.softmax(model.bias[None].astype(np.float64))[0]).max() < 1e-6
    assert ("sender_contributions" in out) == dense


def test_text_export_binary_with_dense_block_and_platt(tmp_path):
    dim = 512
    xt, xs, x, y = text_design(dim, True)
    yb = (y == 1).astype(int)
    clf = LogisticRegression(C=5, max_iter=3000).fit(x, yb)
    path = str(tmp_path / "bin.onnx")
    model = export_text_classifier(path, clf, dim=dim, dense_input="structured", platt=(1.3, -0.2))
    verify_text_classifier(model, clf, xt, xs, platt=(1.3, -0.2))
    out = run_reference(path, model.feeds(xt[3], xs[3]))
    assert set(out) == {"probability", "text_contributions", "structured_contributions"}
    logit = out["text_contributions"].sum() + out["structured_contributions"].sum() + model.bias
    assert abs(1 / (1 + np.exp(-float(logit))) - float(out["probability"][0, 0])) < 1e-6


def test_text_export_refuses_what_does_not_fit(tmp_path):
    xt, xs, x, y = text_design(256, True)
    clf = LogisticRegression(max_iter=2000).fit(x, y)
    path = str(tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="name their graph input with dense_input"):
        export_text_classifier(path, clf, dim=256)
    with pytest.raises(ExportError, match="power of two"):
        export_text_classifier(path, clf, dim=200, dense_input="x")
    with pytest.raises(ExportError, match="fit it on features"):
        export_text_classifier(path, clf, dim=512, dense_input="x")


def test_sparse_feeds_are_the_nonzero_buckets_ascending():
    x = features.features("Jeg vil gerne søge om boligstøtte", 4096)
    f = sparse_feeds(x)
    assert list(f["feature_ids"]) == sorted(f["feature_ids"]) and len(f["feature_ids"]) == np.count_nonzero(x)
    assert f["feature_values"].dtype == np.float32 and (f["feature_values"] == x[f["feature_ids"]]).all()


# ------------------------------------------------------------------------------------------------- metrics

def test_wilson_interval_known_values():
    # 264 of 310 (postsortering's realistic-set accuracy on its model card): 0.807745 - 0.886873
    assert proportion(264, 310) == {"k": 264, "n": 310, "value": 0.851613, "wilson_95": [0.807745, 0.886873]}
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and 0.27 < hi < 0.28


def test_card_metrics_multiclass_against_scikit_learn():
    rng = np.random.default_rng(1)
    labels = ["a", "b", "c"]
    y = rng.integers(0, 3, 500)
    logits = rng.normal(size=(500, 3)) + 2.0 * np.eye(3)[y]
    P = calibration.softmax(logits).astype(np.float32)
    m = card_metrics([labels[i] for i in y], P, labels, threshold=0.6)
    pred = P.argmax(1)
    assert m["test_rows"] == 500
    assert m["accuracy"] == round(float(np.mean(pred == y)), 6)
    assert abs(m["macro_f1"] - f1_score(y, pred, average="macro")) < 1e-6
    assert m["ece"] == round(float(ece(P.max(1), pred == y)), 6)
    assert abs(m["brier"] - np.mean(np.sum((P - np.eye(3)[y]) ** 2, 1))) < 1e-6
    auto = P.max(1) >= np.float32(0.6)
    assert m["coverage_at_threshold"] == round(float(auto.mean()), 6)
    assert m["intervals"]["accuracy_of_routed"]["n"] == int(auto.sum())
    assert [r["threshold"] for r in m["coverage_vs_accuracy"]] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert sum(c["support"] for c in m["per_class"].values()) == 500
    json.dumps(m, allow_nan=False)


def test_card_metrics_binary_against_scikit_learn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    p = (1 / (1 + np.exp(-(rng.normal(size=400) + 1.5 * (2 * y - 1))))).astype(np.float32)
    truth = ["acute" if v else "not_acute" for v in y]
    m = card_metrics(truth, p, ["acute", "not_acute"], positive_label="acute", threshold=0.3)
    assert abs(m["roc_auc"] - roc_auc_score(y, p)) < 1e-6
    assert abs(roc_auc(list(map(float, p)), list(map(bool, y))) - roc_auc_score(y, p)) < 1e-12
    flagged = p >= np.float32(0.3)
    assert m["recall"] == round(float(np.sum(flagged & (y == 1)) / y.sum()), 6)
    assert m["flagged_share"] == round(float(flagged.mean()), 6)
    assert abs(m["brier"] - brier_score_loss(y, p)) < 1e-6
    assert m["intervals"]["recall"]["k"] == int(np.sum(flagged & (y == 1)))


def test_card_metrics_refuses_inputs_that_do_not_fit():
    with pytest.raises(MetricsError, match="not one of the labels"):
        card_metrics(["x"], np.array([[0.5, 0.5]]), ["a", "b"])
    with pytest.raises(MetricsError, match=r"must be \[N, C\]"):
        card_metrics(["a", "b"], np.array([0.2, 0.7]), ["a", "b"])
    with pytest.raises(MetricsError, match="no rows"):
        card_metrics([], np.zeros((0, 2)), ["a", "b"])


# ------------------------------------------------------------------------------------- training-output.json

def test_write_training_output_round_trip(tmp_path):
    gv = [golden_vector({"text": "Tak for hjælpen"}, {"positiv": np.float32(0.9), "negativ": np.float32(0.1)}),
          golden_vector({"text": "Dårlig service"}, {"positiv": 0.2, "negativ": 0.8}, label="negativ", tolerance=1e-3)]
    metrics = {"test_rows": np.int64(12), "accuracy": np.float64(0.75), "per_class": {"positiv": {"f1": 0.7}}}
    path = write_training_output(str(tmp_path), metrics=metrics, golden_vectors=gv, labels=["positiv", "negativ"])
    assert path.endswith("training-output.json")
    doc = read_training_output(path)
    assert doc["metrics"] == {"test_rows": 12, "accuracy": 0.75, "per_class": {"positiv": {"f1": 0.7}}}
    assert doc["golden_vectors"][0] == {"input": {"text": "Tak for hjælpen"},
                                        "expected": {"label": "positiv",
                                                     "scores": {"positiv": float(np.float32(0.9)),
                                                                "negativ": float(np.float32(0.1))}},
                                        "tolerance": 0.0001}
    assert doc["golden_vectors"][1]["tolerance"] == 1e-3
    first = open(path, "rb").read()
    write_training_output(path, metrics=metrics, golden_vectors=gv)
    assert open(path, "rb").read() == first
    # The card's optional fields travel too; a wrong shape is refused.
    write_training_output(path, metrics=metrics, golden_vectors=gv, group_results={"per_sender": {"n": np.int64(3)}},
                          operating_point={"review_threshold": np.float32(0.5)})
    doc = read_training_output(path)
    assert doc["group_results"] == {"per_sender": {"n": 3}} and doc["operating_point"] == {"review_threshold": 0.5}
    with pytest.raises(TrainingOutputError, match="operating_point must be an object"):
        write_training_output(path, metrics=metrics, golden_vectors=gv, operating_point=[0.5])


@pytest.mark.parametrize("golden,message", [
    ([], "golden_vectors is empty"),
    ([{"input": {}, "expected": {"label": "a"}, "extra": 1}], r"golden_vectors\[0\]: unknown field"),
    ([{"input": {}, "expected": {"scores": {}}}], "non-empty string label"),
    ([{"input": {}, "expected": {"label": "z"}}], "is not one of the labels"),
    ([{"input": {}, "expected": {"label": "a", "scores": {"a": float("nan")}}}], "not a finite number"),
    ([{"input": {}, "expected": {"label": "a"}, "tolerance": 0}], "tolerance: must be a positive"),
])
def test_write_training_output_refuses_a_wrong_shape(tmp_path, golden, message):
    path = str(tmp_path / "training-output.json")
    with pytest.raises(TrainingOutputError, match=message):
        write_training_output(path, metrics={"accuracy": 1.0}, golden_vectors=golden, labels=["a", "b"])
    assert not os.path.exists(path)


def test_example_for_the_rust_suite(tmp_path):
    """Writes a tabular model, its golden vectors and training-output.json, and two text classifiers without a
    dense block with a few cases, into $KOMP_TRAIN_EXAMPLE_DIR (when set), for the Rust suite
    (tests/tests/suite/komp_train.rs) to run through tract and to read with the manifest's types."""
    out_dir = os.environ.get("KOMP_TRAIN_EXAMPLE_DIR") or str(tmp_path)
    x, y = rng_data(11, 500, 4, 3)
    labels = ["lav", "middel", "hoej"]
    clf = LogisticRegression(max_iter=2000).fit(x[:350], y[:350])
    t = calibration.fit_temperature(clf.decision_function(x[:350].astype(np.float64)), y[:350])
    model = export_tabular_classifier(os.path.join(out_dir, "tabular.onnx"), clf, temperature=t, graph_name="example")
    verify_tabular_classifier(model, clf, x[350:], temperature=t)
    P = model.probabilities(x[350:])
    metrics = card_metrics([labels[i] for i in y[350:]], P, labels, threshold=0.6)
    gold = [golden_vector({"features": [float(v) for v in x[i]]}, {labels[c]: P[i - 350, c] for c in range(3)})
            for i in range(350, 356)]
    write_training_output(out_dir, metrics=metrics, golden_vectors=gold, labels=labels)
    assert read_training_output(out_dir)["metrics"]["test_rows"] == 150
    # a text classifier without a dense block (what a text template exports), with a text of stop words only
    for kind, ys in (("multiclass", None), ("binary", lambda y: (y == 1).astype(int))):
        xt, _, x, y = text_design(1024, False)
        clf = LogisticRegression(C=10, max_iter=3000).fit(x, ys(y) if ys else y)
        text_model = export_text_classifier(os.path.join(out_dir, f"text-{kind}.onnx"), clf, dim=1024,
                                            temperature=0.8, graph_name="example-text")
        verify_text_classifier(text_model, clf, xt, temperature=0.8)
        cases = []
        for text in ["Jeg søger om byggetilladelse", "Skolebus og SFO", "og i at det"]:
            f = sparse_feeds(features.features(text, 1024))
            p = text_model.probabilities(features.features(text, 1024)[None])[0]
            cases.append({"feature_ids": [int(i) for i in f["feature_ids"]],
                          "feature_values": [float(v) for v in f["feature_values"]],
                          "probabilities": [float(v) for v in np.atleast_1d(p)]})
        assert cases[-1]["feature_ids"] == []
        with open(os.path.join(out_dir, f"text-{kind}.cases.json"), "w", encoding="utf-8") as fh:
            json.dump(cases, fh)
