"""komp-train: the Python side of a komp component's model.

One package for the standard components' training (training/train_*.py) and for an author's own component
(the training script `komp new` writes), so that both produce exactly the same contract:

- `komp_train.features`: the text features of docs/text-features.md (the Rust twin is `komp_sdk::text`).
- `komp_train.calibration`: temperature and Platt scaling, fitted deterministically.
- `komp_train.export`: a fitted scikit-learn linear classifier -> ONNX graph in the component contract
  (`export_text_classifier` with sparse text input, `export_tabular_classifier` with dense float input; both
  give calibrated probabilities and per-feature contributions).
- `komp_train.verify`: the exported graph run by `onnx.reference` against numpy and scikit-learn.
- `komp_train.metrics`: the model card's metrics (`card_metrics`), Wilson intervals, ECE, ROC AUC.
- `komp_train.sentencepiece`: the SentencePiece Unigram tokeniser of XLM-R-family encoders (the Rust twin is
  `komp_sdk::sentencepiece`).
- `komp_train.output`: `write_training_output`, the `training-output.json` that `komp build` reads to fill
  the manifest's model-card metrics and golden vectors.

Every function is deterministic: the same inputs give byte-identical files.
"""

__version__ = "0.1.0"
