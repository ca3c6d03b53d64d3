//! The vendor's path: `runtime/examples/case_system.rs` embeds komp-runtime
//! the way a case system would (signed components from a folder under a
//! trust policy, a folder of letters, its own audit trail). The example's
//! binary is built by `cargo build --workspace --all-targets` (scripts/test.sh)
//! and run here on real components and letters.

use komp_artifact::Artifact;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;

/// `target/debug/examples/case_system`, next to the test executables.
fn example_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    let bin = dir.join("examples").join(format!("case_system{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} does not exist; build it first: `cargo build --workspace --all-targets` (scripts/test.sh does it) \
         or `cargo build -p komp-runtime --example case_system`",
        bin.display()
    );
    bin
}

/// A built and signed standard component, as `scripts/build-components.sh` leaves it.
fn signed(file: &str) -> Vec<u8> {
    let path = komp_tests::root().join("target/komp-components").join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {} ({e}); run scripts/build-components.sh target/debug/komp first", path.display())
    })
}

#[test]
fn a_case_system_sorts_letters_with_signed_components_and_keeps_its_own_audit_trail() {
    let bin = example_bin();
    let dir = tempfile::tempdir().unwrap();
    let (components, letters, audit) =
        (dir.path().join("components"), dir.path().join("letters"), dir.path().join("audit.jsonl"));
    std::fs::create_dir_all(&components).unwrap();
    std::fs::create_dir_all(&letters).unwrap();

    // The signed component, a copy whose model bytes were changed, and one
    // whose signatures were cut off.
    let good = signed("postsortering.wasm");
    std::fs::write(components.join("a-postsortering.wasm"), &good).unwrap();
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n - 10] ^= 1;
    std::fs::write(components.join("b-tampered.wasm"), &tampered).unwrap();
    let artifact = Artifact::parse(good.clone()).unwrap();
    let mut unsigned = komp_artifact::sections::COMPONENT_PREAMBLE.to_vec();
    unsigned.extend_from_slice(artifact.signed_content());
    std::fs::write(components.join("c-unsigned.wasm"), &unsigned).unwrap();

    // Real letters: the component's golden inputs (with their expected
    // labels), and one whose body is longer than the schema allows.
    let golden: Vec<serde_json::Value> = komp_tests::manifest(&komp_tests::POSTSORTERING)
        .golden_vectors
        .iter()
        .map(|g| serde_json::to_value(g).unwrap())
        .collect();
    let mut expected = Vec::new();
    for (i, g) in golden.iter().take(6).enumerate() {
        let input = &g["input"];
        let text = format!("{}\n{}", input["subject"].as_str().unwrap(), input["body"].as_str().unwrap());
        std::fs::write(letters.join(format!("{i:02}.txt")), text).unwrap();
        expected.push((format!("{i:02}.txt"), g["expected"]["label"].as_str().unwrap().to_string()));
    }
    let secret = "Fortroligt: cpr 010203-1234";
    std::fs::write(letters.join("99-too-long.txt"), format!("Klage\n{secret} {}", "ord ".repeat(30_000))).unwrap();

    let out = Command::new(&bin)
        .arg(&components)
        .arg(komp_tests::root().join("keys/dev/policy.json"))
        .arg(&letters)
        .arg(&audit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}\n{}", bin.display(), String::from_utf8_lossy(&out.stderr));

    // Installed under the trust policy; the changed and the unsigned file refused with their class.
    let digest = artifact.digest();
    assert!(stdout.contains(&format!("installed a-postsortering.wasm: postsortering@1.3.0 {digest}")), "{stdout}");
    assert!(
        stdout.contains(
            "refused b-tampered.wasm: [invalid_artifact Component] invalid component file: model `encoder-head`"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "refused c-unsigned.wasm: [untrusted Component] component refused by the trust policy: the component is not signed"
        ),
        "{stdout}"
    );

    // Every letter sorted as the component's golden vectors say.
    for (file, label) in &expected {
        assert!(stdout.contains(&format!("letter {file}: {label} (")), "{file} should be {label}:\n{stdout}");
    }
    assert!(
        stdout.contains("letter 99-too-long.txt: error [input_schema Caller] schema violations at /body"),
        "{stdout}"
    );

    // The vendor's own trail: one chained line per letter, the input's hash, never its text.
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(!text.contains("cpr") && !text.contains("ord ord"), "the trail must not hold letter text:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{text}");
    let mut prev = "0".repeat(64);
    for (i, line) in lines.iter().enumerate() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["prev"], prev.as_str(), "line {i} is not chained to the one before: {text}");
        prev = hex::encode(Sha256::digest(line.as_bytes()));
        match expected.get(i) {
            Some((file, label)) => {
                assert_eq!(r["letter"], file.as_str());
                assert_eq!(r["outcome"], "ok");
                assert_eq!(r["label"], label.as_str());
                assert_eq!(r["digest"], digest);
                assert_eq!(r["component"], "postsortering@1.3.0");
                let g = &golden[i]["input"];
                let (subject, body) = (g["subject"].as_str().unwrap().trim(), g["body"].as_str().unwrap().trim());
                let input = serde_json::json!({ "subject": subject, "body": body }).to_string();
                assert_eq!(r["input_sha256"], hex::encode(Sha256::digest(input.as_bytes())), "{line}");
            }
            None => {
                assert_eq!(r["letter"], "99-too-long.txt");
                assert_eq!(r["outcome"], "input_schema");
                assert_eq!(r["fault"], "caller");
                assert_eq!(r["error"], "schema violations at /body");
            }
        }
    }
}
