"""Train, calibrate, export and document the postsortering standard component. All data is synthetic."""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gen_post
import kutil
import ood
import bank_data
from validation_bank import POST, POST_HARD
from komp_train.calibration import fit_temperature, softmax
from komp_train.encoder import Encoder
from komp_train.export import OPSET, export_tabular_classifier, export_text_classifier
from komp_train.features import features, features_csr
from komp_train.metrics import ece, r6, wilson
from komp_train.verify import verify_text_classifier
# The hand-written training bank (training/bank/): its train part is fitted on with weight BANK_WEIGHT, its held-out
# part joins the hand-written validation bank for calibration and the review threshold (never fitted on).
BANK_TRAIN, BANK_HELDOUT = bank_data.post_split()
BANK_WEIGHT = float(os.environ.get("KOMP_POST_BANK_WEIGHT", "30"))   # chosen on the held-out bank (README)
POST_VAL = POST + POST_HARD + (bank_data.post_tuples(BANK_HELDOUT) if BANK_WEIGHT > 0 else [])
from post_data import CLASSES
import post_cascade
from post_cascade import Cascade, head_inputs

SEED = 20240501
DIM = 16384
C_REG = float(os.environ.get("KOMP_C_POST", "60.0"))
N_TRAIN_PER_CLASS = 1200
N_TEST_PER_CLASS = 150    # generated (the generator's random stream, and so the training letters, depend on it)
# The test split is the first TEST_KEPT_PER_CLASS generated test letters of every subject (generator order), 800 in
# all: the card test runs every row through the signed component, and since round 5 the encoder runs for about half
# of them (~0.18 s each in the test profile). 800 rows still give intervals of about +-1.8 points, narrower than
# the realistic sets'. Round 4 reported 2,400 rows (150 per subject).
TEST_KEPT_PER_CLASS = 50
SENDERS = gen_post.SENDER_TYPES
LABELS = gen_post.LABELS
THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
GRID_STEPS = int(os.environ.get("KOMP_POST_GRID_STEPS", "14"))   # 0.30, 0.35, ... (14: up to 0.95)
TARGET_AUTO_ACCURACY = float(os.environ.get("KOMP_POST_TARGET_AUTO", "0.97"))   # README: how it was chosen
# Round 5: the target must hold with 95% confidence on the validation letters (the Wilson interval's lower bound of
# the routed letters' accuracy), not only as a point estimate: a threshold chosen where the point estimate first
# touches 0.97 misses 0.97 on new letters about half the time (training/README.md, "Issue 12, round 5").
# English is a second language of this model (8% of training mail, sentence banks per subject): English mail is not
# sent to review for its language alone. Chosen on the validation bank: 18 of its 19 English letters were routed to
# the right subject, every one with a top score >= 0.85 correctly.
ENGLISH_KNOWN = True
# Step 10 of docs/text-features.md: content tokens of the subject line(s) and of request clauses ("vil gerne", "kan I",
# questions, ...) get an extra `s=` / `r=` copy, so the sentence that carries the request can outweigh a side topic.
REQUEST_MARKS = os.environ.get("KOMP_POST_REQUEST", "0") == "1"   # measured, not shipped (README)
# The encoder's head (post_cascade.py): fitted on the encoder's embeddings of the first HEAD_GEN_PER_CLASS generator
# letters of every subject (generator order) and the bank's train part (weight BANK_WEIGHT), as in the probe
# (training/README.md, "Encoder probe, round 2"); C by 5-fold cross-validation on the bank's train part.
HEAD_GEN_PER_CLASS = 200
HEAD_C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
# "committed": reuse components/models/postsortering-head.onnx and its record in the meta instead of refitting
# (train_all.sh --reuse-encoder-head; check_reproducible.sh's default).
HEAD_MODE = os.environ.get("KOMP_POST_HEAD", "fit")
VAL_CAL_WEIGHT = float(os.environ.get("KOMP_POST_VAL_CAL_WEIGHT", "0.75"))  # share of the temperature fit carried by the hand-written validation bank


def first_per_label(rows: list[dict], n: int) -> list[dict]:
    """The first `n` rows of every label, in the rows' order."""
    seen: dict[str, int] = {}
    kept = []
    for m in rows:
        seen[m["label"]] = seen.get(m["label"], 0) + 1
        if seen[m["label"]] <= n:
            kept.append(m)
    return kept


def text_of(m: dict) -> str:
    return m["subject"] + "\n" + m["body"]


def sender_vec(sender_type) -> np.ndarray:
    return post_cascade.sender_onehot([sender_type])[0]


def design(rows):
    Xt = features_csr([text_of(m) for m in rows], DIM, REQUEST_MARKS)
    Xs = sp.csr_matrix(np.stack([sender_vec(m["sender_type"]) for m in rows]))
    return sp.hstack([Xt, Xs], format="csr").astype(np.float64)


def fit(X, y, w=None):
    clf = LogisticRegression(C=C_REG, solver="lbfgs", max_iter=3000, tol=1e-6)
    clf.fit(X, y, sample_weight=w)
    return clf


def with_bank(X, y, Xb, yb):
    """Generator rows (weight 1) plus the bank's train part (weight BANK_WEIGHT); no bank: unchanged fit."""
    if BANK_WEIGHT <= 0 or Xb is None:
        return X, y, None
    w = np.concatenate([np.ones(X.shape[0]), np.full(Xb.shape[0], BANK_WEIGHT)])
    return sp.vstack([X, Xb], format="csr"), np.concatenate([y, yb]), w


def fit_head(enc: Encoder, train: list[dict]) -> tuple[object, float, dict]:
    """The encoder's head: (fitted StandardScaler + LogisticRegression pipeline, temperature, report with C).

    Training rows: the first HEAD_GEN_PER_CLASS generator letters of every subject (weight 1) and the bank's train
    part (weight BANK_WEIGHT). C: the best 5-fold cross-validated accuracy on the bank's train part (ties: lower
    log loss), each fold fitted on the generator letters and the other four folds. The temperature is fitted on
    those out-of-fold predictions, never on data the head was fitted on."""
    count = {l: 0 for l in LABELS}
    gen = []
    for m in train:
        if count[m["label"]] < HEAD_GEN_PER_CLASS:
            count[m["label"]] += 1
            gen.append(m)
    t0 = time.time()
    Xg = head_inputs(enc.embed([text_of(m) for m in gen]), [m["sender_type"] for m in gen])
    Xb = head_inputs(enc.embed([text_of(m) for m in BANK_TRAIN]), [m["sender_type"] for m in BANK_TRAIN])
    print(f"  encoder: {len(gen) + len(BANK_TRAIN)} letters embedded in {time.time() - t0:.0f}s", flush=True)
    yg = np.array([LABELS.index(m["label"]) for m in gen])
    yb = np.array([LABELS.index(m["label"]) for m in BANK_TRAIN])
    folds = np.zeros(len(yb), int)
    for k, (_, va) in enumerate(StratifiedKFold(5, shuffle=True, random_state=SEED).split(Xb, yb)):
        folds[va] = k

    def head(C):
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000, tol=1e-6))

    def fit_on(C, mask):
        X = np.vstack([Xg, Xb[mask]])
        y = np.concatenate([yg, yb[mask]])
        w = np.concatenate([np.ones(len(yg)), np.full(int(mask.sum()), BANK_WEIGHT)])
        return head(C).fit(X, y, logisticregression__sample_weight=w)

    best = None
    cv = []
    for C in HEAD_C_GRID:
        oof = np.zeros((len(yb), len(LABELS)))
        for k in range(5):
            oof[folds == k] = fit_on(C, folds != k).decision_function(Xb[folds == k])
        p = softmax(oof)
        acc, nll = float(np.mean(oof.argmax(1) == yb)), float(-np.mean(np.log(np.clip(p[np.arange(len(yb)), yb], 1e-12, None))))
        cv.append({"C": C, "accuracy": r6(acc), "log_loss": r6(nll)})
        if best is None or (acc, -nll) > (best[1], -best[2]):
            best = (C, acc, nll, oof)
    C, acc, _, oof = best
    T = fit_temperature(oof, yb)
    model = fit_on(C, np.ones(len(yb), bool))
    print(f"  encoder head: C={C} (bank-train CV accuracy {acc:.3f}), T={T:.3f}", flush=True)
    report = {"C": C, "temperature": r6(T), "cross_validation": cv, "generator_letters": len(gen),
              "bank_letters": len(BANK_TRAIN), "bank_weight": BANK_WEIGHT}
    return model, T, report


def main() -> None:
    t0 = time.time()
    train, test = gen_post.generate(SEED, N_TRAIN_PER_CLASS, N_TEST_PER_CLASS)
    test = first_per_label(test, TEST_KEPT_PER_CLASS)
    train_f, test_f = gen_post.family_split(SEED)
    y = np.array([LABELS.index(m["label"]) for m in train])
    X = design(train)
    Xb = design(BANK_TRAIN) if BANK_WEIGHT > 0 else None
    yb = np.array([LABELS.index(m["label"]) for m in BANK_TRAIN])
    vocab = ood.vocabulary([text_of(m) for m in train] + ([text_of(m) for m in BANK_TRAIN] if BANK_WEIGHT > 0 else []))
    print(f"postsortering: {len(train)} train / {len(test)} test rows, features in {time.time() - t0:.1f}s", flush=True)

    # Out-of-family predictions on the training families (fold k = k-th train family of every subject),
    # used for the temperature and the review threshold: never the test set.
    fold = np.array([train_f[m["label"]].index(m["family"]) for m in train])
    oof = np.zeros((len(train), len(LABELS)))
    for k in range(int(fold.max()) + 1):
        tr, va = fold != k, fold == k
        oof[va] = fit(*with_bank(X[tr], y[tr], Xb, yb)).decision_function(X[va])
        print(f"  fold {k}: out-of-family acc {np.mean(oof[va].argmax(1) == y[va]):.3f}", flush=True)
    clf = fit(*with_bank(X, y, Xb, yb))
    # Temperature on held-out data that is not the generator's family split alone: the out-of-family predictions
    # AND the hand-written validation bank (training/validation_bank.py, never used to fit weights), the bank
    # repeated so that it carries VAL_CAL_WEIGHT of the total weight.
    val = [{"subject": v[2], "body": v[3], "sender_type": v[0], "label": v[1]} for v in POST_VAL]
    y_val = np.array([LABELS.index(m["label"]) for m in val])
    dec_val = clf.decision_function(design(val))
    rep = max(1, int(round(VAL_CAL_WEIGHT / (1 - VAL_CAL_WEIGHT) * len(oof) / len(val))))
    T_oof = fit_temperature(oof, y)
    T = fit_temperature(np.vstack([oof] + [dec_val] * rep), np.concatenate([y] + [y_val] * rep))
    print(f"  temperature: out-of-family only {T_oof:.3f}, with validation bank {T:.3f}", flush=True)
    oof_p = softmax(oof / T)
    oof_acc = float(np.mean(oof_p.argmax(1) == y))

    # The temperature is folded into the exported weights (W/T, b/T); `model.probabilities` is the graph's math.
    path = os.path.join(kutil.OUT, "postsortering.onnx")
    model = export_text_classifier(
        path, clf, dim=DIM, dense_input="sender", temperature=T, graph_name="postsortering",
        doc="komp standard component postsortering: calibrated multinomial logistic regression on hashed text "
            "features (docs/text-features.md). Synthetic training data.")
    bf = model.bias

    # The encoder's head, exported with its temperature folded in (post_cascade.py: the component runs it on the
    # encoder's embedding and the sender one-hot when the linear model is unsure).
    enc = Encoder(os.path.join(kutil.OUT, post_cascade.GRAPH), os.path.join(kutil.OUT, post_cascade.VOCAB))
    head_path = os.path.join(kutil.OUT, post_cascade.HEAD)
    if HEAD_MODE == "committed":
        head_w, head_b = post_cascade.head_weights(head_path)
        with open(os.path.join(kutil.OUT, "postsortering.meta.json"), encoding="utf-8") as f:
            head_report = {k: v for k, v in json.load(f)["encoder"]["head"].items()
                           if k in ("C", "temperature", "cross_validation", "generator_letters", "bank_letters",
                                    "bank_weight")}
        print(f"  encoder head: reused {head_path}", flush=True)
    else:
        head_clf, head_T, head_report = fit_head(enc, train)
        head_model = export_tabular_classifier(
            head_path, head_clf, temperature=head_T, graph_name="postsortering-head",
            doc="komp standard component postsortering, the encoder's head: calibrated multinomial logistic "
                "regression on multilingual-e5-small's embedding (384 values) and the sender one-hot (4). Synthetic "
                "and hand-written training letters.")
        head_w, head_b = head_model.w, head_model.bias

    # The ensemble's temperature, then the review threshold, both on the hand-written validation bank (never
    # fitted on): the linear model's probabilities as the component computes them (float32 graph math), the head's
    # on the validation letters the cascade sends to the encoder.
    known = frozenset(vocab)
    ood_val = np.array([bool(ood.check(text_of(m), known, ENGLISH_KNOWN)) for m in val])
    P_val_lin = model.probabilities(np.stack([features(text_of(m), DIM, REQUEST_MARKS) for m in val]),
                                    np.stack([sender_vec(m["sender_type"]) for m in val]))
    cascade = Cascade(kutil.OUT, head_w, head_b, 1.0, encoder=enc)
    ran_val = P_val_lin.max(1) < np.float32(post_cascade.CUT)
    ran_idx = np.where(ran_val)[0]
    P_val_head = cascade.head([text_of(val[i]) for i in ran_idx], [val[i]["sender_type"] for i in ran_idx])
    # Fitted on the letters the cascade sends to the encoder (calibrated where it is used): on the held-out bank
    # this gave ECE 0.053 against 0.060 with a temperature fitted on every validation letter (README, round 4).
    # Rounded as the meta stores it, so the test rows and golden vectors use the component's value (build.rs).
    T_ens = r6(fit_temperature(np.log((P_val_lin[ran_val].astype(np.float64) + P_val_head) / 2), y_val[ran_val]))
    cascade.t_ensemble = T_ens
    val_p = P_val_lin.astype(np.float64)
    val_p[ran_idx] = post_cascade.combine(P_val_lin[ran_idx], P_val_head, T_ens)
    print(f"  ensemble: T={T_ens:.3f}; the encoder runs for {ran_val.mean():.2f} of the validation letters; accuracy "
          f"linear {np.mean(P_val_lin.argmax(1) == y_val):.3f}, cascade {np.mean(val_p.argmax(1) == y_val):.3f}",
          flush=True)
    # review threshold: business decision, chosen on the cascade's answers for the validation bank: the lowest grid
    # value at which the routed letters' accuracy is >= the target with 95% confidence.
    # If no grid value reaches it, the grid's top is used and the meta says so (rule_met false, with the bound there):
    # in round 6 the validation letters (now with the held-out part of two realistic sets) give a bound of ~0.965
    # at every value from 0.85 to 0.98 (README, round 6).
    grid = [round(0.3 + 0.05 * i, 2) for i in range(GRID_STEPS)]

    def routed_bound(t):
        mv = (val_p.max(1) >= t) & ~ood_val
        return wilson(int(np.sum(val_p.argmax(1)[mv] == y_val[mv])), int(mv.sum()))[0] if mv.any() else 0.0
    threshold = next((t for t in grid if routed_bound(t) >= TARGET_AUTO_ACCURACY), grid[-1])
    rule_met, bound = routed_bound(threshold) >= TARGET_AUTO_ACCURACY, routed_bound(threshold)
    print(f"  review threshold {threshold}: Wilson lower bound of the routed accuracy {bound:.3f} "
          f"({'meets' if rule_met else 'does not reach'} {TARGET_AUTO_ACCURACY})", flush=True)

    # test set: ONNX math in float32
    Xt_te = np.stack([features(text_of(m), DIM, REQUEST_MARKS) for m in test])
    Xs_te = np.stack([sender_vec(m["sender_type"]) for m in test])
    y_te = np.array([LABELS.index(m["label"]) for m in test])
    P_lin = model.probabilities(Xt_te, Xs_te)

    # verification against sklearn and the ONNX reference evaluator (raises if they disagree)
    print(f"  verify: {verify_text_classifier(model, clf, Xt_te, Xs_te, temperature=T).summary()}", flush=True)
    X_te64 = sp.hstack([sp.csr_matrix(Xt_te.astype(np.float64)), sp.csr_matrix(Xs_te.astype(np.float64))], format="csr")
    dec = clf.decision_function(X_te64)
    # the component's answer: the cascade
    P, ran_te = cascade.apply(P_lin, [text_of(m) for m in test], [m["sender_type"] for m in test])

    pred = P.argmax(1)
    conf = P.max(1)
    acc = float(np.mean(pred == y_te))
    macro_f1 = float(f1_score(y_te, pred, average="macro"))
    prec, rec, f1, sup = precision_recall_fscore_support(y_te, pred, labels=range(len(LABELS)), zero_division=0)
    per_class = {LABELS[i]: {"precision": r6(prec[i]), "recall": r6(rec[i]), "f1": r6(f1[i]),
                             "support": int(sup[i])} for i in range(len(LABELS))}
    cov_table = []
    for t in THRESHOLDS:
        m = conf >= t
        cov_table.append({"threshold": t, "coverage": r6(m.mean()),
                          "accuracy_auto_routed": r6(np.mean(pred[m] == y_te[m])) if m.any() else None,
                          "manual_share": r6(1 - m.mean())})
    ood_te = np.array([bool(ood.check(text_of(m), known, ENGLISH_KNOWN)) for m in test])
    m_thr = (conf >= threshold) & ~ood_te   # routed without review

    # the independent hand-written validation set (training/validation_bank.py), the cascade's answers
    pv, cv = val_p.argmax(1), val_p.max(1)
    auto_v = (cv >= threshold) & ~ood_val
    val_stats = {"n": len(val), "accuracy": r6(np.mean(pv == y_val)), "ece": r6(ece(cv, pv == y_val)),
                 "routed_without_review": r6(auto_v.mean()),
                 "accuracy_routed": r6(np.mean(pv[auto_v] == y_val[auto_v])) if auto_v.any() else None,
                 "wrong_with_top_ge_0_9": r6(np.mean((pv != y_val) & (cv >= 0.9))),
                 "out_of_distribution": int(ood_val.sum()), "encoder_ran": r6(ran_val.mean())}
    print(f"  validation: {val_stats}", flush=True)
    for i in np.where(pv != y_val)[0]:
        print(f"    val miss: {LABELS[y_val[i]]} -> {LABELS[pv[i]]} {cv[i]:.2f} {val[i]['subject']}", flush=True)
    per_sender = {}
    for s in SENDERS + [None]:
        m = np.array([r["sender_type"] == s for r in test])
        per_sender[s or "missing"] = {"n": int(m.sum()), "accuracy": r6(np.mean(pred[m] == y_te[m]))}

    # test rows (inputs exactly as the component takes them)
    rows = []
    for i, m in enumerate(test):
        inp = {"subject": m["subject"], "body": m["body"]}
        if m["sender_type"] is not None:
            inp["sender_type"] = m["sender_type"]
        reasons = ood.check(text_of(m), known, ENGLISH_KNOWN)
        rows.append({"input": inp, "label": m["label"], "family": m["family"],
                     "expected": {"label": LABELS[int(pred[i])], "probability": float(conf[i]),
                                  "out_of_distribution": reasons,
                                  "needs_review": bool(conf[i] < threshold or reasons),
                                  "encoder_ran": bool(ran_te[i])}})
    kutil.write_jsonl(os.path.join(kutil.OUT, "postsortering.test.jsonl"), rows)

    # golden vectors
    from golden_inputs import POST_GOLDEN
    gold = []
    for inp in POST_GOLDEN:
        xt = features(inp["subject"] + "\n" + inp["body"], DIM, REQUEST_MARKS)[None]
        xs = sender_vec(inp.get("sender_type"))[None]
        p = cascade.apply(model.probabilities(xt, xs), [inp["subject"] + "\n" + inp["body"]],
                          [inp.get("sender_type")])[0][0]
        gold.append({"input": inp, "expected": {"label": LABELS[int(p.argmax())],
                                                "scores": {LABELS[j]: float(p[j]) for j in range(len(LABELS))}}})
    kutil.write_json(os.path.join(kutil.OUT, "postsortering.golden.json"), gold)

    meta = {
        "component": "postsortering",
        "version": "1.3.0",   # 1.1.0: the cascade with the pretrained encoder (details.encoder); 1.2.0: its cut at 0.99, the review threshold 0.95; 1.3.0: trained on the two spent realistic sets too
        "synthetic_data": True,
        "data_note": "All training and test data is synthetic, generated by training/gen_post.py"
                     + (", plus a hand-written bank of invented free-text letters (training/bank/; since issue 12 round 6 it holds the project's two earlier realistic sets too)" if BANK_WEIGHT > 0 else "")
                     + ". No real mail was used.",
        "model": "a cascade (post_cascade.py): multinomial logistic regression (scikit-learn lbfgs, L2, C=%g) on hashed "
                 "text features + sender one-hot answers alone when its top probability is >= %g; below that, the "
                 "pretrained encoder multilingual-e5-small reads the letter too and a second logistic regression on its "
                 "embedding + sender one-hot is averaged in; temperature scaling folded into both exported models"
                 % (C_REG, post_cascade.CUT),
        "labels": [{"id": l, "name": CLASSES[l]["name"]} for l in LABELS],
        "dim": DIM,
        "text_input": "the non-zero buckets of features(subject + \"\\n\" + body, 16384) per docs/text-features.md, "
                      "ascending (feature_ids int64[n], feature_values float[n])",
        **({"request_marks": True} if REQUEST_MARKS else {}),   # step 10 of docs/text-features.md
        "sender": {"used": True, "encoding": "one-hot in this order; missing or unknown sender_type -> all zeros",
                   "order": SENDERS},
        "onnx": {"file": "postsortering.onnx", "sha256": kutil.sha256_file(path), "opset": OPSET,
                 "inputs": {"feature_ids": ["n"], "feature_values": ["n"], "sender": [1, len(SENDERS)]},
                 "outputs": {"probabilities": [1, len(LABELS)], "contributions": ["n"],
                             "sender_contributions": [1, len(SENDERS)]},
                 "contributions_note": "contributions[j] = feature_values[j] * W_text[feature_ids[j], top]; sender_contributions = sender * W_sender[:, top]; "
                                       "logit[top] = sum(contributions) + sum(sender_contributions) + bias[top]",
                 "bias": [r6(v) for v in bf]},
        "encoder": {
            "graph": {"file": post_cascade.GRAPH, "sha256": kutil.sha256_file(os.path.join(kutil.OUT, post_cascade.GRAPH)),
                      "built_by": "training/encoder/build_encoder.py (pinned by training/encoder/encoder.lock)",
                      "inputs": {"token_ids": ["T"]}, "outputs": {"embedding": [1, 384]}},
            "vocabulary": {"file": post_cascade.VOCAB,
                           "sha256": kutil.sha256_file(os.path.join(kutil.OUT, post_cascade.VOCAB)),
                           "prefix": enc.prefix, "max_content": enc.max_content},
            "head": {"file": post_cascade.HEAD, "sha256": kutil.sha256_file(head_path), "opset": OPSET,
                     "inputs": {"features": [1, 384 + len(SENDERS)]}, "outputs": {"probabilities": [1, len(LABELS)]},
                     "features": "the encoder's embedding (384 values), then the sender one-hot in the order above",
                     **head_report},
            "cascade_below": post_cascade.CUT,
            "ensemble_temperature": r6(T_ens),
            "rule": "the encoder runs when the linear model's top probability is below cascade_below; the answer is "
                    "then softmax(ln((P_linear + P_head) / 2) / ensemble_temperature)",
            "ensemble_temperature_fitted_on": "the %d letters of the hand-written validation bank (%d letters, never "
                                              "fitted on) for which the encoder runs" % (int(ran_val.sum()), len(val)),
            "test_encoder_ran": r6(ran_te.mean()),
            "validation_encoder_ran": r6(ran_val.mean()),
            "accuracy_linear_alone": {"test": r6(np.mean(P_lin.argmax(1) == y_te)),
                                      "validation": r6(np.mean(P_val_lin.argmax(1) == y_val))},
        },
        "calibration": {"method": "temperature scaling on out-of-family predictions of the training families "
                                  "(%d folds, each fold holds out one template family per subject) together with the "
                                  "hand-written validation bank (%.0f%% of the weight)" % (int(fold.max()) + 1, 100 * VAL_CAL_WEIGHT),
                        "temperature": r6(T), "temperature_out_of_family_only": r6(T_oof), "ece_test": r6(ece(conf, pred == y_te)),
                        "ece_test_uncalibrated": r6(ece(softmax(dec).max(1), softmax(dec).argmax(1) == y_te))},
        "review_threshold": {
            "value": threshold,
            "rule": "mail whose top probability is below this value is routed to manual sorting",
            "decision": "business decision: the lowest threshold (grid 0.30..%.2f, step 0.05) at which the cascade's "
                        "answers for the hand-written validation bank (mail not flagged out of distribution) reach "
                        ">= %.0f%% accuracy on automatically routed mail with 95%% confidence (lower bound of the "
                        "Wilson interval), or the grid's top if no value reaches that (rule_met); chosen before looking "
                        "at the test set" % (grid[-1], 100 * TARGET_AUTO_ACCURACY),
            "rule_met": bool(rule_met), "validation_routed_accuracy_lower_bound": r6(bound),
            "test_coverage": r6(m_thr.mean()),
            "test_out_of_distribution": int(ood_te.sum()),
            "validation": val_stats,
            "test_accuracy_auto_routed": r6(np.mean(pred[m_thr] == y_te[m_thr])),
            "calibration_accuracy_all": r6(oof_acc)},
        "metrics_test": {"n": len(test), "accuracy": r6(acc), "macro_f1": r6(macro_f1),
                         "per_class": per_class, "per_sender_type": per_sender,
                         "coverage_vs_accuracy": cov_table},
        "dataset": {"train_rows": len(train), "test_rows": len(test), "calibration": "out-of-family folds of train",
                    **({"hand_written_bank": {"train_letters": len(BANK_TRAIN), "held_out_letters": len(BANK_HELDOUT),
                                              "weight": BANK_WEIGHT, "files": "training/bank/post_*.jsonl",
                                              "use": "train part fitted on with this sample weight; held-out part joins "
                                                     "the validation bank for calibration and the review threshold"}}
                       if BANK_WEIGHT > 0 else {}),
                    "classes": len(LABELS), "families_per_class": gen_post.N_FAMILIES, "test_families_per_class": gen_post.N_TEST_FAMILIES,
                    "train_families": train_f, "test_families": test_f,
                    "split": "by template family: the test families of each subject never appear in training or "
                             "calibration, so the test set measures generalisation to unseen phrasings",
                    "test_file": "postsortering.test.jsonl (metrics above are computed on exactly these rows)"},
        "out_of_distribution": {"rules": "docs/text-features.md, 'Out of distribution' (training/ood.py = komp_sdk::ood)",
                                "known_words_min_texts": ood.MIN_COUNT, "english_known": ENGLISH_KNOWN,
                                "known_words": vocab},
        "seed": SEED,
    }
    kutil.write_json(os.path.join(kutil.OUT, "postsortering.meta.json"), meta)
    print(f"  T={T:.3f} acc={acc:.4f} macroF1={macro_f1:.4f} thr={threshold} cov={m_thr.mean():.3f} "
          f"auto-acc={np.mean(pred[m_thr] == y_te[m_thr]):.4f} ({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
