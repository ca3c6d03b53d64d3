"""Train, calibrate, export and document the underretnings-screening component. All data is synthetic."""
from __future__ import annotations

import os
import sys
import time
from statistics import NormalDist

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import gen_underretning as gu
import kutil
import ood
from komp_train.calibration import fit_platt
from komp_train.export import OPSET, export_text_classifier
from komp_train.features import features, features_csr
from komp_train.metrics import ece, r6, wilson
from komp_train.verify import verify_text_classifier
from underretning_data import REPORTERS
import bank_data
from validation_bank import UND, UND_HARD
# The hand-written training bank (training/bank/): its train part is fitted on with weight BANK_WEIGHT, its held-out
# part joins the hand-written validation bank for calibration and the operating threshold (never fitted on).
BANK_TRAIN, BANK_HELDOUT = bank_data.und_split()
BANK_WEIGHT = float(os.environ.get("KOMP_UND_BANK_WEIGHT", "40"))   # chosen on the validation bank, round 6 (README)
UND_VAL = UND + UND_HARD + (bank_data.und_tuples(BANK_HELDOUT) if BANK_WEIGHT > 0 else [])

SEED = 20240502
DIM = 16384
C_REG = float(os.environ.get("KOMP_C_UND", "0.5"))
N_TRAIN = 20000
N_TEST = 2500
N_FOLDS = 3
TARGET_RECALL = 0.95        # on the independent hand-written validation set (training/validation_bank.py)
# ... with this one-sided confidence (the Wilson lower bound at z = 1.2816), not as a point estimate: at the point
# estimate (rounds 1-6) the threshold sat where the validation recall just touched 0.95, and new notifications fell
# short (round 6's third realistic set: 52/56). 97.5% (z = 1.96, postsortering's rule) would need every validation
# acute notification caught, which flags 41% of the held-out realistic not-acute ones, over the 35% target (README).
RECALL_CONFIDENCE_Z = 1.2816
N_COPIES = 2               # each training notification as drawn and with the other group's names (counterfactual augmentation)
VAL_CAL_WEIGHT = 0.25      # share of the Platt fit carried by the hand-written validation bank
TARGET_RECALL_OOF = 0.90    # on the out-of-family folds: every phrasing of every situation unseen, a stress test
AGE_BANDS = [("age_0_2", 0, 2), ("age_3_5", 3, 5), ("age_6_12", 6, 12), ("age_13_17", 13, 17)]
PRIOR_CAP = 5

STRUCT_NAMES = ([a[0] for a in AGE_BANDS] + ["reporter_" + r for r in REPORTERS]
                + ["prior_notifications_capped", "known_to_municipality"])
STRUCT_DEFS = (
    [{"name": n, "formula": f"1 if {lo} <= clamp(child_age, 0, 17) <= {hi} else 0"} for n, lo, hi in AGE_BANDS]
    + [{"name": "reporter_" + r, "formula": f"1 if reporter_type == \"{r}\" else 0 (an unknown reporter_type counts as \"other\")"}
       for r in REPORTERS]
    + [{"name": "prior_notifications_capped", "formula": f"min(max(prior_notifications_12m, 0), {PRIOR_CAP}) / {PRIOR_CAP}"},
       {"name": "known_to_municipality", "formula": "1 if known_to_municipality else 0"}])
K = len(STRUCT_NAMES)


def structured(inp: dict) -> np.ndarray:
    v = np.zeros(K, dtype=np.float32)
    age = min(max(int(inp["child_age"]), 0), 17)
    for i, (_, lo, hi) in enumerate(AGE_BANDS):
        if lo <= age <= hi:
            v[i] = 1.0
    rep = inp["reporter_type"] if inp["reporter_type"] in REPORTERS else "other"
    v[len(AGE_BANDS) + REPORTERS.index(rep)] = 1.0
    v[K - 2] = np.float32(min(max(int(inp["prior_notifications_12m"]), 0), PRIOR_CAP) / PRIOR_CAP)
    v[K - 1] = 1.0 if inp["known_to_municipality"] else 0.0
    return v


def validation_input(v) -> dict:
    rep, age, prior, known, _acute, text = v
    return {"text": text, "reporter_type": rep, "child_age": age, "prior_notifications_12m": prior,
            "known_to_municipality": known}


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


def crit_threshold(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """Largest threshold t (3 decimals, rounded down) with recall(p >= t) >= target."""
    pos = np.sort(p[y == 1])[::-1]
    k = int(np.ceil(target * len(pos)))
    return threshold_catching(pos, k)


def threshold_catching(pos_desc: np.ndarray, k: int) -> float:
    """The largest threshold (3 decimals, rounded down) at which the k highest-scored positives are caught."""
    return float(np.floor(float(pos_desc[k - 1]) * 1000) / 1000)


def confident_threshold(p: np.ndarray, y: np.ndarray, target: float, z: float) -> tuple[float, bool]:
    """Largest threshold t (3 decimals, rounded down) at which the Wilson lower bound (z) of recall(p >= t) is >= target;
    (threshold, met). If no count reaches it, every positive is caught and met is False."""
    pos = np.sort(p[y == 1])[::-1]
    k = next((k for k in range(1, len(pos) + 1) if wilson(k, len(pos), z)[0] >= target), None)
    return threshold_catching(pos, k or len(pos)), k is not None


def group_stats(p, pred, y, mask) -> dict:
    n = int(mask.sum())
    tp = int(np.sum(pred[mask] & (y[mask] == 1)))
    pos = int(np.sum(y[mask] == 1))
    pp = int(np.sum(pred[mask]))
    return {"n": n, "acute_rate": r6(pos / n) if n else None,
            "positive_rate": r6(pp / n) if n else None,
            "recall": r6(tp / pos) if pos else None, "precision": r6(tp / pp) if pp else None}


def main() -> None:
    t0 = time.time()
    train, test = gu.generate(SEED, N_TRAIN, N_TEST)
    tr_f, te_f = gu.family_split(SEED)
    # Counterfactual data augmentation: every training notification also appears with the names and
    # nationality/language words of the other group (same label), so these words carry no signal.
    tr_inputs = [gu.to_input(r) for r in train] + [gu.to_input(r, gu.swapped(r["ident"])) for r in train]
    te_inputs = [gu.to_input(r) for r in test]
    y = np.array([r["label"] for r in train] * N_COPIES)
    y_te = np.array([r["label"] for r in test])
    Xt = features_csr([i["text"] for i in tr_inputs], DIM)
    Xs = sp.csr_matrix(np.stack([structured(i) for i in tr_inputs]))
    X = sp.hstack([Xt, Xs], format="csr").astype(np.float64)
    print(f"underretning: {len(train)} (x{N_COPIES} augmented) train / {len(test)} test rows (acute {y.mean():.2f}/{y_te.mean():.2f}), "
          f"features in {time.time() - t0:.1f}s", flush=True)

    Xb, yb = None, np.array([r["label"] for r in BANK_TRAIN])
    if BANK_WEIGHT > 0:
        Xb = sp.hstack([features_csr([r["input"]["text"] for r in BANK_TRAIN], DIM),
                        sp.csr_matrix(np.stack([structured(r["input"]) for r in BANK_TRAIN]))], format="csr").astype(np.float64)
    fam_fold = {f: i for i, f in enumerate(tr_f["acute"])}
    fam_fold.update({f: i for i, f in enumerate(tr_f["calm"])})
    fold = np.array([fam_fold[r["family"]] for r in train] * N_COPIES)
    oof = np.zeros(len(y))
    for k in range(N_FOLDS):
        tr, va = fold != k, fold == k
        oof[va] = fit(*with_bank(X[tr], y[tr], Xb, yb)).decision_function(X[va])
        print(f"  fold {k}: out-of-family AUC {roc_auc_score(y[va], oof[va]):.3f}", flush=True)
    # Calibration and thresholds use the generator's truth: rows whose label was flipped as training noise
    # stay in the fit but not in the calibration or the recall target.
    clean = np.array([not r["noisy"] for r in train] * N_COPIES)
    clf = fit(*with_bank(X, y, Xb, yb))
    # Platt scaling on held-out data that is not the generator's family split alone: the clean out-of-family
    # predictions AND the hand-written validation bank (never used to fit weights), the bank repeated so that it
    # carries VAL_CAL_WEIGHT of the total weight.
    val_inputs = [validation_input(v) for v in UND_VAL]
    y_val = np.array([int(v[4]) for v in UND_VAL])
    X_val = sp.hstack([features_csr([i["text"] for i in val_inputs], DIM),
                       sp.csr_matrix(np.stack([structured(i) for i in val_inputs]))], format="csr").astype(np.float64)
    dec_val = clf.decision_function(X_val)
    rep = max(1, int(round(VAL_CAL_WEIGHT / (1 - VAL_CAL_WEIGHT) * int(clean.sum()) / len(y_val))))
    a_oof, c_oof = fit_platt(oof[clean], y[clean])
    a, c = fit_platt(np.concatenate([oof[clean]] + [dec_val] * rep), np.concatenate([y[clean]] + [y_val] * rep))
    print(f"  Platt: out-of-family only a={a_oof:.3f} c={c_oof:.3f}; with validation bank a={a:.3f} c={c:.3f}", flush=True)
    oof_p = 1 / (1 + np.exp(-(a * oof + c)))

    # Platt scaling is folded into the exported weights (a*w, a*b + c); `model.probabilities` is the graph's math.
    path = os.path.join(kutil.OUT, "underretning.onnx")
    model = export_text_classifier(
        path, clf, dim=DIM, dense_input="structured", platt=(a, c), graph_name="underretning",
        doc="komp standard component underretnings-screening: calibrated logistic regression on hashed text features "
            "(docs/text-features.md) + structured features. Synthetic training data.")
    ws, b = model.w_dense, model.bias

    Xt_te = np.stack([features(i["text"], DIM) for i in te_inputs])
    Xs_te = np.stack([structured(i) for i in te_inputs])
    P = model.probabilities(Xt_te, Xs_te)
    # verification against sklearn and the ONNX reference evaluator (raises if they disagree)
    print(f"  verify: {verify_text_classifier(model, clf, Xt_te, Xs_te, platt=(a, c)).summary()}", flush=True)
    X_te64 = sp.hstack([sp.csr_matrix(Xt_te.astype(np.float64)), sp.csr_matrix(Xs_te.astype(np.float64))], format="csr")
    dec = clf.decision_function(X_te64)

    # the independent hand-written validation set (training/validation_bank.py)
    P_val = model.probabilities(np.stack([features(i["text"], DIM) for i in val_inputs]),
                                np.stack([structured(i) for i in val_inputs]))

    # operating threshold: recall >= 95% on the calibration predictions AND on the validation set (not the test set)
    (thr_val, val_rule_met), thr_cal = (confident_threshold(P_val, y_val, TARGET_RECALL, RECALL_CONFIDENCE_Z),
                                        crit_threshold(oof_p[clean], y[clean], TARGET_RECALL_OOF))
    thr = min(thr_val, thr_cal)
    print("  out-of-family thresholds by recall target: " + " ".join(
        f"{t}:{crit_threshold(oof_p[clean], y[clean], t)}" for t in (0.90, 0.92, 0.93, 0.94, 0.95)), flush=True)
    print(f"  threshold candidates: validation {thr_val} (rule met: {val_rule_met}) calibration {thr_cal}", flush=True)
    val_flag = P_val >= thr
    val_stats = {"n": len(y_val), "acute": int(y_val.sum()), "roc_auc": r6(roc_auc_score(y_val, P_val)),
                 "recall": r6(np.mean(val_flag[y_val == 1])),
                 "flagged_share_not_acute": r6(np.mean(val_flag[y_val == 0])),
                 "ece": r6(ece(P_val, y_val))}
    print(f"  validation: {val_stats}", flush=True)
    pred = P >= thr
    tp = int(np.sum(pred & (y_te == 1)))
    recall = tp / int(y_te.sum())
    precision = tp / int(pred.sum())
    auc = float(roc_auc_score(y_te, P))
    table = []
    for t in sorted(set([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, thr])):
        pr = P >= t
        tpt = int(np.sum(pr & (y_te == 1)))
        table.append({"threshold": t, "recall": r6(tpt / y_te.sum()),
                      "precision": r6(tpt / pr.sum()) if pr.sum() else None,
                      "flagged_share": r6(pr.mean())})
    # risk levels: two bands below the operating threshold, two at or above it
    cuts = {"medium": float(np.floor(thr / 2 * 1000) / 1000), "high": thr, "acute": 0.5}

    def risk(p: float) -> str:
        if p >= cuts["acute"]:
            return "acute"
        if p >= cuts["high"]:
            return "high"
        if p >= cuts["medium"]:
            return "medium"
        return "low"
    levels = np.array([risk(float(p)) for p in P])
    level_stats = {lv: {"n": int(np.sum(levels == lv)),
                        "acute_rate": r6(y_te[levels == lv].mean()) if np.any(levels == lv) else None}
                   for lv in ["low", "medium", "high", "acute"]}

    per_age = {n: group_stats(P, pred, y_te, np.array([lo <= i["child_age"] <= hi for i in te_inputs]))
               for n, lo, hi in AGE_BANDS}
    per_rep = {r: group_stats(P, pred, y_te, np.array([i["reporter_type"] == r for i in te_inputs])) for r in REPORTERS}
    per_group = {g: group_stats(P, pred, y_te, np.array([r["ident"]["group"] == g for r in test]))
                 for g in ["dk", "other"]}

    # counterfactual fairness: same notification, names and nationality/language words swapped dk <-> other
    cf_inputs = [gu.to_input(r, gu.swapped(r["ident"])) for r in test]
    P_cf = model.probabilities(np.stack([features(i["text"], DIM) for i in cf_inputs]),
                               np.stack([structured(i) for i in cf_inputs]))
    dcf = np.abs(P_cf.astype(np.float64) - P.astype(np.float64))
    cf_flip = int(np.sum((P_cf >= thr) != pred))
    print(f"  counterfactual: mean {dcf.mean():.4f} max {dcf.max():.4f} decision flips {cf_flip}", flush=True)

    vocab = ood.vocabulary([i["text"] for i in tr_inputs] + ([r["input"]["text"] for r in BANK_TRAIN] if BANK_WEIGHT > 0 else []))
    known = frozenset(vocab)
    rows = []
    for i, (r, inp) in enumerate(zip(test, te_inputs)):
        rows.append({"input": inp, "label": "acute" if r["label"] else "not_acute", "family": r["family"],
                     "expected": {"probability": float(P[i]), "acute": bool(pred[i]), "risk_level": levels[i],
                                  "out_of_distribution": ood.check(inp["text"], known)}})
    kutil.write_jsonl(os.path.join(kutil.OUT, "underretning.test.jsonl"), rows)

    pairs = []
    for i in range(0, len(test), len(test) // 200)[:200]:
        pairs.append({"a": te_inputs[i], "b": cf_inputs[i], "expected_a": float(P[i]), "expected_b": float(P_cf[i]),
                      "abs_diff": float(dcf[i])})
    kutil.write_jsonl(os.path.join(kutil.OUT, "counterfactual.jsonl"), pairs)

    from golden_inputs import UND_GOLDEN
    gold = []
    for inp in UND_GOLDEN:
        p = float(model.probabilities(features(inp["text"], DIM)[None], structured(inp)[None])[0])
        lab = "acute" if p >= thr else "not_acute"
        gold.append({"input": inp, "expected": {"label": lab, "risk_level": risk(p),
                                                "scores": {"acute": p, "not_acute": float(np.float32(1) - np.float32(p))}}})
    kutil.write_json(os.path.join(kutil.OUT, "underretning.golden.json"), gold)

    meta = {
        "component": "underretnings-screening",
        "version": "1.1.0",   # 1.1.0: trained on the two spent realistic sets too (bank weight 40)
        "synthetic_data": True,
        "data_note": "All training and test data is synthetic, generated by training/gen_underretning.py"
                     + (", plus a hand-written bank of invented free-text notifications (training/bank/; since issue 12 round 6 it holds the project's two earlier realistic sets too)" if BANK_WEIGHT > 0 else "")
                     + ". No real notification was used.",
        "model": "binary logistic regression (scikit-learn lbfgs, L2, C=%g) on hashed text features + %d structured "
                 "features; Platt scaling folded into the exported weights" % (C_REG, K),
        "labels": [{"id": "acute", "name": "Akut (handling inden for 24 timer)"},
                   {"id": "not_acute", "name": "Ikke akut"}],
        "positive_label": "acute",
        "dim": DIM,
        "text_input": "the non-zero buckets of features(text, 16384) per docs/text-features.md, ascending "
                      "(feature_ids int64[n], feature_values float[n])",
        "structured_features": {"k": K, "order": STRUCT_NAMES, "definitions": STRUCT_DEFS,
                                "weights": {n: r6(v) for n, v in zip(STRUCT_NAMES, ws)}},
        "onnx": {"file": "underretning.onnx", "sha256": kutil.sha256_file(path), "opset": OPSET,
                 "inputs": {"feature_ids": ["n"], "feature_values": ["n"], "structured": [1, K]},
                 "outputs": {"probability": [1, 1], "text_contributions": ["n"], "structured_contributions": [1, K]},
                 "contributions_note": "logit = sum(text_contributions) + sum(structured_contributions) + bias; "
                                       "probability = sigmoid(logit)",
                 "bias": r6(b)},
        "calibration": {"method": "Platt scaling (sigmoid(a*z+c)) fitted on out-of-family predictions of the training "
                                  "families (%d folds by template family) together with the hand-written validation bank (%.0f%% of "
                                  "the weight)" % (N_FOLDS, 100 * VAL_CAL_WEIGHT),
                        "a": r6(a), "c": r6(c), "a_out_of_family_only": r6(a_oof),
                        "c_out_of_family_only": r6(c_oof), "ece_test": r6(ece(P, y_te)),
                        "ece_test_uncalibrated": r6(ece(1 / (1 + np.exp(-dec)), y_te))},
        "operating_threshold": {
            "value": thr, "rule": "probability >= value -> proposal 'acute' (a caseworker always decides)",
            "decision": "business and ethical decision: catch at least %.0f%% of acute notifications; the threshold is the "
                        "largest value (3 decimals, rounded down) that keeps recall >= %.2f with %.0f%% one-sided confidence "
                        "(the Wilson lower bound) on the independent hand-written validation set (training/validation_bank.py "
                        "and the held-out part of training/bank/) and >= %.2f on the out-of-family calibration "
                        "predictions (every phrasing unseen: a stress test); the held-out test set is not used. The price is "
                        "lower precision: more notifications are flagged for immediate review."
                        % (100 * TARGET_RECALL, TARGET_RECALL, 100 * NormalDist().cdf(RECALL_CONFIDENCE_Z), TARGET_RECALL_OOF),
            "validation_rule_met": bool(val_rule_met),
            "validation": val_stats, "candidates": {"validation": thr_val, "calibration_folds": thr_cal},
            "test_recall": r6(recall), "test_precision": r6(precision),
            "test_flagged_share": r6(pred.mean()), "table": table},
        "risk_levels": {"order": ["low", "medium", "high", "acute"],
                        "cut_points": {k: v for k, v in cuts.items()},
                        "rule": "low: p < medium; medium: medium <= p < high; high: high <= p < acute; acute: p >= acute. "
                                "The 'high' cut point equals the operating threshold, so the proposal is 'acute' for the "
                                "levels high and acute; 'acute' level means P(acute) >= 0.5 (more likely acute than not); "
                                "'medium' means at least half the operating threshold.",
                        "test": level_stats},
        "metrics_test": {"n": len(test), "roc_auc": r6(auc), "acute_rate": r6(y_te.mean()),
                         "ece": r6(ece(P, y_te)),
                         "accuracy_at_threshold": r6(np.mean(pred == (y_te == 1))),
                         "per_age_group": per_age, "per_reporter_type": per_rep,
                         "per_name_group": per_group},
        "fairness": {"counterfactual": {
            "method": "every test notification is rendered a second time with the child's and parents' names and the "
                      "nationality/language words swapped between the Danish and the non-Danish group (same gender, "
                      "everything else identical); names are drawn independently of the label in the generator",
            "n": len(test), "mean_abs_change": r6(dcf.mean()), "max_abs_change": r6(dcf.max()),
            "decision_flips_at_threshold": cf_flip, "limit_mean": 0.02,
            "pairs_file": "counterfactual.jsonl (%d pairs)" % len(pairs)}},
        "dataset": {**({"hand_written_bank": {"train_notifications": len(BANK_TRAIN),
                                              "held_out_notifications": len(BANK_HELDOUT), "weight": BANK_WEIGHT,
                                              "files": "training/bank/und_*.jsonl",
                                              "use": "train part fitted on with this sample weight; held-out part joins "
                                                     "the validation bank for calibration and the operating threshold"}}
                       if BANK_WEIGHT > 0 else {}),
                    "train_rows": len(train), "train_rows_after_counterfactual_augmentation": len(y), "test_rows": len(test), "train_acute_rate": r6(y.mean()),
                    "train_families": tr_f, "test_families": te_f,
                    "split": "by template family: the test families never appear in training or calibration",
                    "label_noise": gu.P_LABEL_NOISE, "escalation_rate": gu.P_ESCALATION,
                    "test_file": "underretning.test.jsonl (metrics above are computed on exactly these rows)"},
        "out_of_distribution": {"rules": "docs/text-features.md, 'Out of distribution' (training/ood.py = komp_sdk::ood)",
                                "known_words_min_texts": ood.MIN_COUNT, "known_words": vocab},
        "seed": SEED,
    }
    kutil.write_json(os.path.join(kutil.OUT, "underretning.meta.json"), meta)
    print(f"  a={a:.3f} c={c:.3f} AUC={auc:.4f} thr={thr} recall={recall:.3f} precision={precision:.3f} "
          f"flagged={pred.mean():.3f} ECE={ece(P, y_te):.4f} ({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
