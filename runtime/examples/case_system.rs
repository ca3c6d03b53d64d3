//! How a case system embeds komp: the vendor's path, start to end.
//!
//! ```text
//! case_system <components-dir> <trust-policy.json> <letters-dir> <audit.jsonl>
//! ```
//!
//! 1. Builds a [`Runtime`] whose [`ArtifactVerifier`] is the municipality's
//!    trust policy (komp-registry's signature rules), so nothing unsigned,
//!    changed or untrusted reaches wasmtime or tract.
//! 2. Installs every `*.wasm` in `<components-dir>`; a file the policy
//!    refuses is reported and skipped, the others are installed.
//! 3. Sorts every letter in `<letters-dir>` (`*.txt`: the first line is the
//!    subject, the rest the body) with the installed `postsortering`.
//! 4. Keeps its own audit trail: one JSON line per letter in `<audit.jsonl>`,
//!    hash-chained (`prev` is the sha256 of the previous line), with the
//!    sha256 of the input but never its text, and for a failed letter the
//!    error's kind and fault class ([`RuntimeError::class`]).
//!
//! It prints one line per component and per letter, for example
//! `letter 01.txt: byggesag (0.99) review=false`.

use komp_artifact::Artifact;
use komp_registry::{RevocationList, TrustError, TrustPolicy};
use komp_runtime::{ArtifactVerifier, Runtime, RuntimeConfig, RuntimeError, VerifyError};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The municipality's trust policy. A real case system would also apply the
/// approvers' current revocation list (`komp_registry::SignedRevocationList`).
struct PolicyVerifier {
    policy: TrustPolicy,
    revocations: RevocationList,
}

impl ArtifactVerifier for PolicyVerifier {
    fn verify(&self, artifact: &Artifact) -> Result<(), VerifyError> {
        komp_registry::verify(artifact, &self.policy, &self.revocations).map(|_| ()).map_err(|e| {
            let message = e.to_string();
            match e {
                TrustError::Unsigned | TrustError::Malformed(_) => VerifyError::Unsigned { message },
                TrustError::ContentChanged { .. } | TrustError::BadSignature { .. } => {
                    VerifyError::Tampered { message }
                }
                TrustError::UnknownKeys { .. }
                | TrustError::MissingPublisher { .. }
                | TrustError::MissingEndorsement { .. } => VerifyError::NotTrusted { message },
                TrustError::KeyRevoked { .. } | TrustError::Yanked { .. } => VerifyError::Revoked { message },
                TrustError::Artifact(a) => VerifyError::Artifact(a),
            }
        })
    }
}

/// The case system's own audit trail: JSON Lines, each line chained to the
/// one before, flushed to disk before the letter counts as sorted.
struct AuditTrail {
    file: std::fs::File,
    prev: String,
}

impl AuditTrail {
    fn create(path: &Path) -> std::io::Result<AuditTrail> {
        let file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(path)?;
        Ok(AuditTrail { file, prev: "0".repeat(64) })
    }

    fn append(&mut self, mut record: serde_json::Value) -> std::io::Result<()> {
        record["prev"] = self.prev.clone().into();
        let line = record.to_string();
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.file.sync_data()?;
        self.prev = hex::encode(Sha256::digest(line.as_bytes()));
        Ok(())
    }
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [components, policy, letters, audit] = args.as_slice() else {
        eprintln!("usage: case_system <components-dir> <trust-policy.json> <letters-dir> <audit.jsonl>");
        return ExitCode::from(2);
    };
    match run(components, policy, letters, audit) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("case_system: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Files in `dir` ending in `.ext`, by name.
fn files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == ext)).collect();
    out.sort();
    Ok(out)
}

fn run(components: &Path, policy: &Path, letters: &Path, audit: &Path) -> Result<(), String> {
    let policy = TrustPolicy::load(policy).map_err(|e| e.to_string())?;
    let verifier = PolicyVerifier { policy, revocations: RevocationList::empty() };
    let runtime = Runtime::new(RuntimeConfig::default()).map_err(|e| e.to_string())?.with_verifier(Arc::new(verifier));

    for path in files(components, "wasm")? {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        match runtime.install(bytes) {
            Ok(r) => println!("installed {file}: {}@{} {}", r.name, r.version, r.digest),
            Err(e) => {
                let class = e.class();
                println!("refused {file}: [{} {:?}] {e}", class.kind, class.fault);
            }
        }
    }

    let mut trail = AuditTrail::create(audit).map_err(|e| format!("cannot create {}: {e}", audit.display()))?;
    for path in files(letters, "txt")? {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let input = serde_json::json!({ "subject": subject.trim(), "body": body.trim() }).to_string();
        let mut record = serde_json::json!({
            "letter": file,
            "input_sha256": hex::encode(Sha256::digest(input.as_bytes())),
        });
        match runtime.predict("postsortering", None, &input) {
            Ok(out) => {
                let p = &out.prediction;
                let score = p.score(&p.label).unwrap_or(0.0);
                println!("letter {file}: {} ({score:.2}) review={}", p.label, p.requires_human_review);
                record["outcome"] = "ok".into();
                record["component"] = format!("{}@{}", out.component, out.version).into();
                record["digest"] = out.digest.clone().into();
                record["label"] = p.label.clone().into();
                record["score"] = score.into();
                record["requires_human_review"] = p.requires_human_review.into();
            }
            Err(e) => {
                let class = e.class();
                println!("letter {file}: error [{} {:?}] {}", class.kind, class.fault, e.audit_text());
                record["outcome"] = class.kind.as_str().into();
                record["fault"] = serde_json::to_value(class.fault).unwrap_or_default();
                record["error"] = audit_text(&e).into();
            }
        }
        trail.append(record).map_err(|e| format!("cannot write the audit trail {}: {e}", audit.display()))?;
    }
    Ok(())
}

/// What of an error the trail keeps: never the letter's text.
fn audit_text(e: &RuntimeError) -> String {
    e.audit_text()
}
