//! The two standard components, run for real: the numbers in their model
//! cards are reproduced by running the held-out rows and the hand-written
//! realistic set through the packed artifacts on the host; the
//! counterfactual fairness test; hand-written letters and notifications that
//! the generator never produced.

use komp_runtime::{Runtime, RuntimeConfig};
use komp_tests::{packed, POSTSORTERING, UNDERRETNING};
use serde_json::Value;
use std::sync::OnceLock;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = Runtime::new(RuntimeConfig { max_instances: 8, ..RuntimeConfig::default() }).unwrap();
        for spec in [&POSTSORTERING, &UNDERRETNING] {
            let report = rt.install(packed(spec)).unwrap_or_else(|e| panic!("install {}: {e}", spec.dir));
            assert!(
                report.golden_vectors_passed >= 20,
                "{} has only {} golden vectors",
                spec.dir,
                report.golden_vectors_passed
            );
        }
        rt
    })
}

fn rows(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(komp_tests::root().join("components/models").join(file)).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn card_metric(spec: &komp_tests::ComponentSpec, key: &str) -> f64 {
    let m = komp_tests::manifest(spec);
    m.model_card.metrics[key].as_f64().unwrap_or_else(|| panic!("{}: model_card.metrics.{key} missing", spec.dir))
}

/// Runs every row on two threads; returns the predictions in row order.
fn predict_all(name: &str, rows: &[Value]) -> Vec<komp_runtime::Prediction> {
    let rt = runtime();
    let half = rows.len() / 2;
    let run = |part: &[Value]| -> Vec<komp_runtime::Prediction> {
        part.iter().map(|r| rt.predict(name, None, &r["input"].to_string()).expect("predict").prediction).collect()
    };
    std::thread::scope(|s| {
        let a = s.spawn(|| run(&rows[..half]));
        let b = run(&rows[half..]);
        let mut out = a.join().unwrap();
        out.extend(b);
        out
    })
}

/// Metrics may differ from the card by at most one row's worth (a
/// borderline probability can round differently in tract than in training).
fn assert_close(what: &str, got: f64, card: f64, n: usize) {
    let tol = 1.5 / n as f64;
    assert!((got - card).abs() <= tol, "{what}: reproduced {got:.6}, model card says {card:.6} (tolerance {tol:.6})");
}

#[test]
fn postsortering_reproduces_its_model_card() {
    let rows = rows("postsortering.test.jsonl");
    let n = rows.len();
    assert_eq!(n as f64, card_metric(&POSTSORTERING, "test_rows"));
    let preds = predict_all("postsortering", &rows);
    let threshold = card_metric(&POSTSORTERING, "review_threshold") as f32;
    let labels: Vec<String> = komp_tests::manifest(&POSTSORTERING).labels.iter().map(|l| l.id.clone()).collect();
    let (mut correct, mut routed, mut routed_correct, mut encoder_ran) = (0usize, 0usize, 0usize, 0usize);
    let mut tp = vec![0usize; labels.len()];
    let mut fp = vec![0usize; labels.len()];
    let mut fn_ = vec![0usize; labels.len()];
    for (row, p) in rows.iter().zip(&preds) {
        let truth = row["label"].as_str().unwrap();
        let top = p.score(&p.label).unwrap();
        // Serving equals training numerics, row by row.
        let expected = row["expected"]["probability"].as_f64().unwrap() as f32;
        assert!((top - expected).abs() < 1e-4, "top probability {top} vs training {expected}");
        // Review below the threshold, and for text outside what the model knows (training/ood.py).
        let ood = !row["expected"]["out_of_distribution"].as_array().unwrap().is_empty();
        assert_eq!(p.requires_human_review, top < threshold || ood);
        assert_eq!(p.requires_human_review, row["expected"]["needs_review"].as_bool().unwrap());
        // The cascade: the encoder ran exactly where training ran it (the linear model was unsure).
        let ran = row["expected"]["encoder_ran"].as_bool().unwrap();
        assert_eq!(p.details["encoder"]["ran"], ran, "{}", p.details);
        encoder_ran += ran as usize;
        if ran {
            let linear_top = p.details["encoder"]["linear_top_score"].as_f64().unwrap();
            assert!(linear_top < card_metric(&POSTSORTERING, "cascade_below"), "{}", p.details);
            let changed = p.details["encoder"]["linear_label"] != p.label.as_str();
            assert_eq!(p.details["encoder"]["changed_answer"], changed, "{}", p.details);
        }
        if ood {
            assert_eq!(p.details["out_of_distribution"]["reasons"], row["expected"]["out_of_distribution"]);
        }
        let ok = p.label == truth;
        correct += ok as usize;
        if !p.requires_human_review {
            routed += 1;
            routed_correct += ok as usize;
        }
        let (pi, ti) =
            (labels.iter().position(|l| l == &p.label).unwrap(), labels.iter().position(|l| l == truth).unwrap());
        if ok {
            tp[pi] += 1;
        } else {
            fp[pi] += 1;
            fn_[ti] += 1;
        }
    }
    let f1: f64 = (0..labels.len())
        .map(|i| {
            let (p, r) = (tp[i] as f64 / (tp[i] + fp[i]).max(1) as f64, tp[i] as f64 / (tp[i] + fn_[i]).max(1) as f64);
            if p + r == 0.0 {
                0.0
            } else {
                2.0 * p * r / (p + r)
            }
        })
        .sum::<f64>()
        / labels.len() as f64;
    assert_close("encoder share", encoder_ran as f64 / n as f64, card_metric(&POSTSORTERING, "encoder_share_test"), n);
    assert_close("accuracy", correct as f64 / n as f64, card_metric(&POSTSORTERING, "accuracy"), n);
    assert_close("macro F1", f1, card_metric(&POSTSORTERING, "macro_f1"), n);
    assert_close(
        "coverage at threshold",
        routed as f64 / n as f64,
        card_metric(&POSTSORTERING, "coverage_at_threshold"),
        n,
    );
    assert_close(
        "accuracy of automatically routed mail",
        routed_correct as f64 / routed as f64,
        card_metric(&POSTSORTERING, "accuracy_auto_routed_at_threshold"),
        routed,
    );
}

fn roc_auc(scored: &mut [(f32, bool)]) -> f64 {
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (pos, neg) = (scored.iter().filter(|s| s.1).count() as f64, scored.iter().filter(|s| !s.1).count() as f64);
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0;
        rank_sum += avg * scored[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[test]
fn underretning_reproduces_its_model_card() {
    let rows = rows("underretning.test.jsonl");
    let n = rows.len();
    assert_eq!(n as f64, card_metric(&UNDERRETNING, "test_rows"));
    let preds = predict_all("underretning", &rows);
    let threshold = card_metric(&UNDERRETNING, "threshold");
    let (mut tp, mut fp, mut fn_, mut flagged) = (0usize, 0usize, 0usize, 0usize);
    let mut scored = Vec::with_capacity(n);
    for (row, p) in rows.iter().zip(&preds) {
        assert!(p.requires_human_review, "underretning must always ask for a caseworker");
        let prob = p.score("acute").unwrap();
        let expected = row["expected"]["probability"].as_f64().unwrap() as f32;
        assert!((prob - expected).abs() < 1e-4, "probability {prob} vs training {expected}");
        let truth = row["label"].as_str().unwrap() == "acute";
        let proposed = p.label == "acute";
        assert_eq!(proposed, prob as f64 >= threshold, "the proposal follows the operating threshold");
        flagged += proposed as usize;
        match (proposed, truth) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
        scored.push((prob, truth));
    }
    let recall = tp as f64 / (tp + fn_) as f64;
    assert!(recall >= 0.95, "recall on acute notifications is {recall}, the operating point promises >= 0.95");
    assert_close("recall on acute", recall, card_metric(&UNDERRETNING, "recall_acute"), tp + fn_);
    assert_close(
        "precision on acute",
        tp as f64 / (tp + fp) as f64,
        card_metric(&UNDERRETNING, "precision_acute"),
        tp + fp,
    );
    assert_close("flagged share", flagged as f64 / n as f64, card_metric(&UNDERRETNING, "flagged_share"), n);
    assert_close("ROC AUC", roc_auc(&mut scored), card_metric(&UNDERRETNING, "roc_auc"), n);
}

/// Each component's hand-written realistic set (`training/realistic/README.md`): written for the project to look
/// like a municipal inbox, not real case data; never used for training or thresholds. Its numbers are on the model
/// card next to the synthetic split, as `metrics.realistic_set`, written by training/eval_realistic.py --write.
/// (Spent sets are training data now, in training/bank/.)
const POSTSORTERING_REALISTIC: &str = "training/realistic/third";
const UNDERRETNING_REALISTIC: &str = "training/realistic/fourth";

fn realistic_rows(folder: &str, name: &str) -> Vec<Value> {
    let path = komp_tests::root().join(folder).join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn realistic_card(spec: &komp_tests::ComponentSpec, folder: &str) -> Value {
    let card = komp_tests::manifest(spec).model_card.metrics["realistic_set"].clone();
    assert!(card.is_object(), "{}: model_card.metrics.realistic_set missing", spec.dir);
    assert!(card["what"].as_str().unwrap().contains("NOT real case data"), "the card says what the set is");
    assert_eq!(card["files"].as_str(), Some(folder), "{}: metrics.realistic_set is about another folder", spec.dir);
    card
}

/// 95% Wilson score interval (`komp_train.metrics.wilson`, training/komp_train/metrics.py).
fn wilson(k: usize, n: usize) -> [f64; 2] {
    let (z, n, p) = (1.96f64, n as f64, k as f64 / n as f64);
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / d;
    [(c - h).max(0.0), (c + h).min(1.0)]
}

/// A proportion on the card (`{k, n, value, wilson_95}`) against the one reproduced through the component.
fn assert_proportion(card: &Value, key: &str, k: usize, n: usize) {
    let c = &card[key];
    let key = &format!("{} set, {key}", card["set"].as_str().unwrap_or("?"));
    let (ck, cn) = (c["k"].as_u64().unwrap() as usize, c["n"].as_u64().unwrap() as usize);
    assert!(n > 0, "{key}: no rows");
    // A borderline probability may round differently in tract than in training: one row's worth.
    assert!(ck.abs_diff(k) <= 1 && cn.abs_diff(n) <= 1, "{key}: reproduced {k}/{n}, model card says {ck}/{cn}");
    assert_close(key, k as f64 / n as f64, c["value"].as_f64().unwrap(), n);
    let w = wilson(ck, cn);
    for (i, b) in c["wilson_95"].as_array().unwrap().iter().enumerate() {
        assert!((b.as_f64().unwrap() - w[i]).abs() < 1e-5, "{key}: card interval {:?} vs Wilson {w:?}", c["wilson_95"]);
    }
}

/// Expected calibration error, 10 equal-width bins (`komp_train.metrics.ece`).
fn ece(conf: &[f64], hit: &[f64]) -> f64 {
    let mut total = 0.0;
    for b in 0..10 {
        let (lo, hi) = (b as f64 / 10.0, (b + 1) as f64 / 10.0);
        let idx: Vec<usize> =
            (0..conf.len()).filter(|&i| conf[i] >= lo && (if b < 9 { conf[i] < hi } else { conf[i] <= hi })).collect();
        if !idx.is_empty() {
            let m = idx.len() as f64;
            let (mc, ma) =
                (idx.iter().map(|&i| conf[i]).sum::<f64>() / m, idx.iter().map(|&i| hit[i]).sum::<f64>() / m);
            total += m * (mc - ma).abs();
        }
    }
    total / conf.len() as f64
}

#[test]
fn postsortering_reproduces_its_realistic_set_numbers() {
    let rows = realistic_rows(POSTSORTERING_REALISTIC, "postsortering");
    let card = realistic_card(&POSTSORTERING, POSTSORTERING_REALISTIC);
    let n = rows.len();
    assert_eq!(n as u64, card["rows"].as_u64().unwrap());
    assert_eq!(card["review_threshold"].as_f64(), Some(card_metric(&POSTSORTERING, "review_threshold")));
    let preds = predict_all("postsortering", &rows);
    let (mut correct, mut routed, mut routed_correct, mut wrong_confident, mut ood) = (0, 0, 0, 0, 0);
    let (mut conf, mut hit, mut brier) = (Vec::new(), Vec::new(), 0.0f64);
    for (row, p) in rows.iter().zip(&preds) {
        let truth = row["label"].as_str().unwrap();
        let top = p.score(&p.label).unwrap() as f64;
        let ok = p.label == truth;
        correct += ok as usize;
        if !p.requires_human_review {
            routed += 1;
            routed_correct += ok as usize;
        }
        wrong_confident += (!ok && top >= 0.9) as usize;
        ood += p.details.get("out_of_distribution").is_some() as usize;
        conf.push(top);
        hit.push(ok as u8 as f64);
        brier += p.scores.iter().map(|s| (s.score as f64 - (s.label == truth) as u8 as f64).powi(2)).sum::<f64>();
    }
    assert_proportion(&card, "accuracy", correct, n);
    assert_proportion(&card, "routed_without_review", routed, n);
    assert_proportion(&card, "accuracy_of_routed", routed_correct, routed);
    assert_proportion(&card, "wrong_with_top_at_least_0_9", wrong_confident, n);
    assert_eq!(ood as u64, card["out_of_distribution"].as_u64().unwrap(), "realistic set: out-of-distribution flags");
    assert_close("realistic set: ECE", ece(&conf, &hit), card["ece"].as_f64().unwrap(), n);
    assert!(
        (brier / n as f64 - card["brier"].as_f64().unwrap()).abs() < 1e-3,
        "realistic set: Brier {}",
        brier / n as f64
    );
}

#[test]
fn underretning_reproduces_its_realistic_set_numbers() {
    let rows = realistic_rows(UNDERRETNING_REALISTIC, "underretning");
    let card = realistic_card(&UNDERRETNING, UNDERRETNING_REALISTIC);
    let n = rows.len();
    assert_eq!(n as u64, card["rows"].as_u64().unwrap());
    let threshold = card_metric(&UNDERRETNING, "threshold");
    assert_eq!(card["threshold"].as_f64(), Some(threshold));
    let preds = predict_all("underretning", &rows);
    let (mut tp, mut pos, mut fp, mut neg) = (0, 0, 0, 0);
    let (mut prob, mut truth_v, mut scored) = (Vec::new(), Vec::new(), Vec::new());
    for (row, p) in rows.iter().zip(&preds) {
        let truth = row["label"].as_str().unwrap() == "acute";
        let proposed = p.label == "acute";
        if proposed {
            let reasons = p.details["flag_reasons"].as_array().expect("every flag comes with reasons");
            assert!(!reasons.is_empty(), "realistic set: a flag without reasons: {}", row["id"]);
        }
        if truth {
            pos += 1;
            tp += proposed as usize;
        } else {
            neg += 1;
            fp += proposed as usize;
        }
        let a = p.score("acute").unwrap();
        prob.push(a as f64);
        truth_v.push(truth as u8 as f64);
        scored.push((a, truth));
    }
    assert_proportion(&card, "recall_acute", tp, pos);
    assert_proportion(&card, "not_acute_flagged", fp, neg);
    assert_close("realistic set: ROC AUC", roc_auc(&mut scored), card["roc_auc"].as_f64().unwrap(), n);
    assert_close("realistic set: ECE", ece(&prob, &truth_v), card["ece"].as_f64().unwrap(), n);
    let brier = prob.iter().zip(&truth_v).map(|(p, y)| (p - y).powi(2)).sum::<f64>() / n as f64;
    assert!((brier - card["brier"].as_f64().unwrap()).abs() < 1e-3, "realistic set: Brier {brier}");
}

#[test]
fn swapping_names_and_nationality_words_barely_moves_the_probability() {
    let pairs = rows("counterfactual.jsonl");
    assert!(pairs.len() >= 100);
    let a: Vec<Value> = pairs.iter().map(|p| serde_json::json!({ "input": p["a"] })).collect();
    let b: Vec<Value> = pairs.iter().map(|p| serde_json::json!({ "input": p["b"] })).collect();
    let (pa, pb) = (predict_all("underretning", &a), predict_all("underretning", &b));
    let diffs: Vec<f64> =
        pa.iter().zip(&pb).map(|(x, y)| (x.score("acute").unwrap() - y.score("acute").unwrap()).abs() as f64).collect();
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    assert!(mean <= 0.02, "mean absolute change {mean} exceeds 0.02");
    for (p, d) in pairs.iter().zip(&diffs) {
        assert!(
            (p["abs_diff"].as_f64().unwrap() - d).abs() < 1e-4,
            "pair differs from training: {d} vs {}",
            p["abs_diff"]
        );
    }
}

#[test]
fn hand_written_letters_get_sensible_subjects_with_readable_reasons() {
    let rt = runtime();
    let cases = [
        ("Tømning af skraldespand", "Hej. Vores affaldsbeholder til restaffald er ikke blevet tømt de sidste to gange. Hvornår kommer skraldebilen? Venlig hilsen Birthe", "affald"),
        ("Byggetilladelse carport", "Jeg vil gerne søge om tilladelse til at opføre en carport på 30 m2 ved mit hus. Tegninger er vedhæftet.", "byggesag"),
        ("Parkeringsafgift", "Jeg har fået en parkeringsbøde på Søndergade, men der var ingen skilte. Jeg vil gerne klage over afgiften.", "veje-og-parkering"),
        ("Plads i vuggestue", "Vi skal bruge en vuggestueplads til vores datter fra 1. marts. Hvordan skriver vi hende op?", "dagtilbud"),
        ("Aktindsigt", "Jeg anmoder hermed om aktindsigt i alle dokumenter i min sag om boligstøtte, jf. offentlighedsloven.", "klager-og-aktindsigt"),
    ];
    for (subject, body, want) in cases {
        let input = serde_json::json!({ "subject": subject, "body": body, "sender_type": "citizen" }).to_string();
        let p = rt.predict("postsortering", None, &input).unwrap().prediction;
        assert_eq!(p.label, want, "{subject}: got {} ({:?})", p.label, p.explanation);
        assert!(!p.explanation.is_empty() && p.explanation.iter().all(|f| !f.feature.is_empty()));
        assert!(p.explanation[0].weight > 0.0, "the strongest reason argues for the chosen subject");
    }

    let acute = serde_json::json!({
        "text": "Pigen fortalte i dag sin lærer, at hendes far slog hende med en livrem i går aftes. Hun har blå mærker på armene og siger hun er bange for at gå hjem.",
        "reporter_type": "school", "child_age": 9, "prior_notifications_12m": 1, "known_to_municipality": true
    });
    let calm = serde_json::json!({
        "text": "Drengen kommer ofte lidt for sent i skole og glemmer sin madpakke. Vi har talt med mor, som er samarbejdsvillig. Vi underretter for en god ordens skyld.",
        "reporter_type": "school", "child_age": 10, "prior_notifications_12m": 0, "known_to_municipality": false
    });
    let p = rt.predict("underretning", None, &acute.to_string()).unwrap().prediction;
    assert_eq!(p.label, "acute", "{:?}", p.explanation);
    assert!(p.requires_human_review);
    assert_eq!(p.details["acute"], true);
    let flag_reasons = p.details["flag_reasons"].as_array().expect("an acute proposal names its reasons");
    assert!(!flag_reasons.is_empty() && flag_reasons.iter().all(|r| r["weight"].as_f64().unwrap() > 0.0));
    let top: Vec<&str> = p.explanation.iter().take(8).map(|f| f.feature.as_str()).collect();
    assert!(
        top.iter().any(|f| f.split(' ').any(|w| ["slog", "maerker", "bange", "livrem", "blaa"].contains(&w))),
        "reasons: {top:?}"
    );
    let q = rt.predict("underretning", None, &calm.to_string()).unwrap().prediction;
    assert_eq!(q.label, "not_acute", "{:?}", q.explanation);
    assert!(q.requires_human_review, "a caseworker decides even when not acute");
    assert!(q.score("acute").unwrap() < p.score("acute").unwrap());
}

/// The encoder's worst case: the longest body the schema allows, about two
/// subjects at once (so the linear model is unsure and the encoder runs). It
/// answers within the runtime's default limits, goes to a person (too long to
/// trust), and says that the encoder ran.
#[test]
fn the_longest_letter_runs_the_encoder_within_the_default_limits() {
    let rt = komp_runtime::Runtime::new(RuntimeConfig::default()).unwrap();
    rt.install(packed(&POSTSORTERING)).unwrap();
    let sentence = "Vi har spørgsmål om skolen og om affaldet, og vi ved ikke hvem der skal svare. ";
    let body: String = sentence.repeat(100_000 / sentence.chars().count());
    assert!(body.chars().count() <= 100_000);
    let input = serde_json::json!({ "subject": "Spørgsmål", "body": body }).to_string();
    // The runtime ends a call at its deadline, so an answer is an answer within it.
    let p = rt.predict("postsortering", None, &input).unwrap().prediction;
    assert_eq!(p.details["encoder"]["ran"], true, "{}", p.details);
    assert!(p.requires_human_review, "{}", p.details);
    // A short letter the linear model is sure of does not run the encoder.
    let sure = r#"{"subject":"Skraldespand ikke tømt","body":"Vores restaffald er ikke blevet hentet i to uger. Hvornår kommer skraldebilen?"}"#;
    let q = rt.predict("postsortering", None, sure).unwrap().prediction;
    assert_eq!(q.label, "affald");
    assert_eq!(q.details["encoder"]["ran"], false, "{}", q.details);
}
