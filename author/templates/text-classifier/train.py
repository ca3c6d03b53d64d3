"""Trains {{name}}'s model and writes what `komp build` packs:

    model/model.onnx         the model, in the component's ONNX contract
    training-output.json     the model card's metrics and the golden vectors

Replace data/train.jsonl with your own labelled texts ({"text": ..., "label": ...}
per line) and run, with the komp repository's venv (training/setup.sh installs
the komp-train package into it):

    <komp>/.venv/bin/python train.py

Deterministic: the same data gives the same bytes.
"""
import json
import pathlib

import numpy as np
from sklearn.linear_model import LogisticRegression

from komp_train.export import export_text_classifier
from komp_train.features import features
from komp_train.metrics import card_metrics
from komp_train.output import golden_vector, write_training_output
from komp_train.verify import verify_text_classifier

HERE = pathlib.Path(__file__).resolve().parent
DIM = 1024                          # DIM in src/lib.rs
LABELS = ["positiv", "negativ"]     # LABELS in src/lib.rs, [[labels]] in komp.toml
# Inputs whose answers are frozen as golden vectors: every host that installs
# the component checks it still gives them.
GOLDEN_TEXTS = [
    "Tak for den hurtige og venlige hjælp, jeg er meget tilfreds!",
    "Jeg er utilfreds. Jeg har ventet i tre uger, det er uacceptabelt.",
    "Sagsbehandleren var hjælpsom, men systemet er langsomt.",
    "Hej, jeg vil bare høre om min ansøgning er modtaget.",
]


def main() -> None:
    rows = [json.loads(line) for line in (HERE / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    test = [r for i, r in enumerate(rows) if i % 8 < 2]       # a quarter is held out
    train = [r for i, r in enumerate(rows) if i % 8 >= 2]

    def x(texts):
        return np.stack([features(t, DIM) for t in texts]).astype(np.float32)

    def y(rs):
        return np.array([LABELS.index(r["label"]) for r in rs])

    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(x([r["text"] for r in train]), y(train))
    exported = export_text_classifier(str(HERE / "model" / "model.onnx"), classifier, dim=DIM)
    verify_text_classifier(exported, classifier, x([r["text"] for r in test]))

    # The card describes what the component computes: the exported graph's float32 probabilities.
    p_test = exported.probabilities(x([r["text"] for r in test]))       # P(LABELS[1])
    metrics = card_metrics(list(y(test)), np.stack([1 - p_test, p_test], axis=1), LABELS)

    golden = []
    for text in GOLDEN_TEXTS:
        p = exported.probabilities(x([text]))[0]
        golden.append(golden_vector({"text": text}, {LABELS[0]: np.float32(1) - p, LABELS[1]: p}))
    print("wrote", write_training_output(str(HERE), metrics=metrics, golden_vectors=golden, labels=LABELS))


if __name__ == "__main__":
    main()
