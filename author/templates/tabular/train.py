"""Trains {{name}}'s model and writes what `komp build` packs:

    model/model.onnx         the model, in the component's ONNX contract
    training-output.json     the model card's metrics and the golden vectors

Replace `load_rows` with your own labelled data and run, with the komp
repository's venv (training/setup.sh installs the komp-train package into it):

    <komp>/.venv/bin/python train.py

Deterministic: the same data gives the same bytes.
"""
import pathlib

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from komp_train.export import export_tabular_classifier
from komp_train.metrics import card_metrics
from komp_train.output import golden_vector, write_training_output
from komp_train.verify import verify_tabular_classifier

HERE = pathlib.Path(__file__).resolve().parent
FEATURES = ["areal_m2", "etager", "afstand_til_skel_m"]   # FEATURES in src/lib.rs, the input schema's fields
LABELS = ["ingen-kontrol", "kontrol"]                      # LABELS in src/lib.rs, [[labels]] in komp.toml
GOLDEN_INPUTS = [
    {"areal_m2": 120, "etager": 1, "afstand_til_skel_m": 8},
    {"areal_m2": 900, "etager": 4, "afstand_til_skel_m": 1.5},
    {"areal_m2": 300, "etager": 2, "afstand_til_skel_m": 3},
]


def load_rows(n: int = 400):
    """Synthetic example data from a seeded rule; replace with your own (X [n, 3] floats, y [n] label indices)."""
    rng = np.random.default_rng(7)
    area = rng.uniform(30, 1500, n)
    floors = rng.integers(1, 6, n).astype(float)
    distance = rng.uniform(0.5, 15, n)
    risk = 0.004 * area + 0.8 * floors - 0.6 * distance + rng.normal(0, 1.0, n)
    return np.stack([area, floors, distance], axis=1), (risk > 1.5).astype(int)


def main() -> None:
    x, y = load_rows()
    held_out = np.arange(len(y)) % 4 == 0
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[~held_out], y[~held_out])
    exported = export_tabular_classifier(str(HERE / "model" / "model.onnx"), classifier, feature_names=FEATURES)
    verify_tabular_classifier(exported, classifier, x[held_out])

    # The card describes what the component computes: the exported graph's float32 probabilities.
    p_test = exported.probabilities(x[held_out])                       # P(LABELS[1])
    metrics = card_metrics(list(y[held_out]), np.stack([1 - p_test, p_test], axis=1), LABELS)

    golden = []
    for row in GOLDEN_INPUTS:
        p = exported.probabilities(np.array([[row[f] for f in FEATURES]], dtype=np.float32))[0]
        golden.append(golden_vector(row, {LABELS[0]: np.float32(1) - p, LABELS[1]: p}))
    print("wrote", write_training_output(str(HERE), metrics=metrics, golden_vectors=golden, labels=LABELS))


if __name__ == "__main__":
    main()
