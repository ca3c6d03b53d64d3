//! The Python package komp-train (`training/komp_train`) against the Rust side that consumes what it writes.
//!
//! `training/tests/test_komp_train.py::test_example_for_the_rust_suite` trains and exports a small tabular
//! classifier (`export_tabular_classifier`, verified with `onnx.reference`) and two text classifiers without a
//! dense block (`export_text_classifier`, the graph a text template ships), and writes `training-output.json`
//! (`write_training_output`). Here the golden vectors are read with the manifest's own types
//! (`komp_artifact::GoldenVector`, `deny_unknown_fields`) and every exported graph runs in tract exactly as the
//! host loads models (`komp_runtime::nn::LoadedModel`), including a text of stop words only (n = 0 features).
//!
//! The whole Python test suite runs in `scripts/test.sh`; this module runs only the example. It needs the venv
//! of `training/setup.sh`; without it the test says so and passes, unless `KOMP_REQUIRE_SKLEARN=1`.

use komp_runtime::nn::LoadedModel;
use std::process::Command;
use tract_onnx::prelude::Tensor;

fn run(model: &LoadedModel, inputs: Vec<(&str, Tensor)>) -> std::collections::HashMap<String, Vec<f32>> {
    let named = inputs.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
    let out = model.run(named).unwrap_or_else(|e| panic!("tract refused the exported graph: {e}"));
    out.into_iter()
        .map(|(n, t)| {
            (n, t.try_as_plain_ram().expect("plain tensor").as_slice::<f32>().expect("float32 output").to_vec())
        })
        .collect()
}

fn close(a: f32, b: f64, tolerance: f64) -> bool {
    (f64::from(a) - b).abs() <= tolerance
}

#[test]
fn exported_graphs_run_in_tract_and_training_output_reads_as_the_manifest() {
    let Some(python) = komp_tests::venv_python("komp_train, pytest", "komp_train") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .current_dir(komp_tests::root())
        .args(["-m", "pytest", "-q", "training/tests", "-k", "test_example_for_the_rust_suite"])
        .env("KOMP_TRAIN_EXAMPLE_DIR", dir.path())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "the komp_train example failed:\n{text}");

    // training-output.json: the golden vectors are the manifest's, the metrics a card's metrics object.
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("training-output.json")).unwrap()).unwrap();
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let golden: Vec<komp_artifact::GoldenVector> = serde_json::from_value(doc["golden_vectors"].clone())
        .unwrap_or_else(|e| panic!("golden_vectors do not have the manifest's shape: {e}"));
    assert_eq!(golden.len(), 6);
    let metrics = doc["metrics"].as_object().expect("metrics is an object");
    assert_eq!(metrics["test_rows"].as_u64(), Some(150));
    let accuracy = metrics["accuracy"].as_f64().expect("a number accuracy, as the host compares on upgrade");
    assert!((0.0..=1.0).contains(&accuracy));
    let ci = metrics["intervals"]["accuracy"]["wilson_95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= accuracy && accuracy <= ci[1].as_f64().unwrap());

    // The tabular graph in tract gives the golden vectors' scores and labels.
    let labels = ["lav", "middel", "hoej"];
    let model = LoadedModel::load("tabular", "test", &std::fs::read(dir.path().join("tabular.onnx")).unwrap()).unwrap();
    let outputs: Vec<&str> = model.outputs().iter().map(String::as_str).collect();
    assert_eq!(outputs, ["probabilities", "contributions"]);
    for g in &golden {
        let x: Vec<f32> = g.input["features"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let o = run(&model, vec![("features", Tensor::from_shape(&[1, x.len()], &x).unwrap())]);
        let p = &o["probabilities"];
        for (i, l) in labels.iter().enumerate() {
            assert!(close(p[i], f64::from(g.expected.scores[*l]), f64::from(g.tolerance)), "{l}: {} vs {:?}", p[i], g);
        }
        let top = (0..labels.len()).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap();
        assert_eq!(labels[top], g.expected.label.as_str());
        assert_eq!(o["contributions"].len(), x.len());
        assert!(o["contributions"].iter().all(|c| c.is_finite()));
    }

    // The text graphs without a dense block, including a text with no features at all.
    for kind in ["multiclass", "binary"] {
        let bytes = std::fs::read(dir.path().join(format!("text-{kind}.onnx"))).unwrap();
        let model = LoadedModel::load(kind, "test", &bytes).unwrap();
        let names: Vec<&str> = model.inputs().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["feature_ids", "feature_values"]);
        let (prob, contrib) =
            if kind == "binary" { ("probability", "text_contributions") } else { ("probabilities", "contributions") };
        let outputs: Vec<&str> = model.outputs().iter().map(String::as_str).collect();
        assert_eq!(outputs, [prob, contrib]);
        let cases: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(dir.path().join(format!("text-{kind}.cases.json"))).unwrap())
                .unwrap();
        assert_eq!(cases.len(), 3);
        for case in &cases {
            let ids: Vec<i64> = case["feature_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
            let values: Vec<f32> =
                case["feature_values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let o = run(
                &model,
                vec![
                    ("feature_ids", Tensor::from_shape(&[ids.len()], &ids).unwrap()),
                    ("feature_values", Tensor::from_shape(&[values.len()], &values).unwrap()),
                ],
            );
            let want = case["probabilities"].as_array().unwrap();
            assert_eq!(o[prob].len(), want.len());
            for (got, want) in o[prob].iter().zip(want) {
                assert!(close(*got, want.as_f64().unwrap(), 1e-5), "{kind}: {got} vs {want}");
            }
            assert_eq!(o[contrib].len(), ids.len(), "one contribution per given feature");
        }
    }
}
