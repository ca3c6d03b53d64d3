//! Turns the training metadata (components/models/underretning.meta.json)
//! into Rust constants: labels, dimension, operating threshold, risk cut
//! points and the ordered structured features. Fails the build if training
//! defines a structured feature this component does not know how to compute.
use serde_json::Value;
use std::fmt::Write;

const KNOWN: &[&str] = &[
    "age_0_2",
    "age_3_5",
    "age_6_12",
    "age_13_17",
    "reporter_school",
    "reporter_daycare",
    "reporter_health_visitor",
    "reporter_police",
    "reporter_hospital",
    "reporter_gp",
    "reporter_relative",
    "reporter_anonymous",
    "reporter_social_services",
    "reporter_neighbour",
    "reporter_other",
    "prior_notifications_capped",
    "known_to_municipality",
];

fn main() {
    let path = "../models/underretning.meta.json";
    println!("cargo:rerun-if-changed={path}");
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read meta")).expect("meta JSON");
    let mut out = String::new();
    let labels: Vec<&str> =
        meta["labels"].as_array().expect("labels").iter().map(|l| l["id"].as_str().expect("id")).collect();
    assert_eq!(labels[0], meta["positive_label"].as_str().unwrap(), "the positive label must come first");
    writeln!(out, "pub const LABELS: [&str; {}] = {:?};", labels.len(), labels).unwrap();
    writeln!(out, "pub const DIM: usize = {};", meta["dim"].as_u64().expect("dim")).unwrap();
    let f = |v: &Value| v.as_f64().expect("number") as f32;
    writeln!(out, "pub const THRESHOLD: f32 = {:?};", f(&meta["operating_threshold"]["value"])).unwrap();
    let cuts = &meta["risk_levels"]["cut_points"];
    writeln!(out, "pub const RISK_MEDIUM: f32 = {:?};", f(&cuts["medium"])).unwrap();
    writeln!(out, "pub const RISK_HIGH: f32 = {:?};", f(&cuts["high"])).unwrap();
    writeln!(out, "pub const RISK_ACUTE: f32 = {:?};", f(&cuts["acute"])).unwrap();
    let order: Vec<&str> =
        meta["structured_features"]["order"].as_array().expect("order").iter().map(|s| s.as_str().unwrap()).collect();
    for name in &order {
        assert!(
            KNOWN.contains(name),
            "training defines structured feature {name:?}, which the component cannot compute"
        );
    }
    writeln!(out, "pub const STRUCTURED: [&str; {}] = {:?};", order.len(), order).unwrap();
    writeln!(out, "pub const MODEL_VERSION: &str = {:?};", meta["version"].as_str().expect("version")).unwrap();
    // The model's vocabulary (sorted content tokens seen in training), for the out-of-distribution check.
    let known: Vec<&str> = meta["out_of_distribution"]["known_words"]
        .as_array()
        .expect("known_words")
        .iter()
        .map(|w| w.as_str().expect("word"))
        .collect();
    assert!(known.windows(2).all(|w| w[0] < w[1]), "known_words must be sorted and unique");
    writeln!(out, "pub const KNOWN_WORDS: [&str; {}] = {:?};", known.len(), known).unwrap();
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("meta.rs");
    std::fs::write(dest, out).unwrap();
}
