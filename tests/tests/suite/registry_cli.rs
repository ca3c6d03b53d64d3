//! The `komp` registry subcommands, end to end on files (in-process).

use crate::registry_common as common;

use clap::{CommandFactory, Parser};
use common::*;
use komp::commands::registry::{execute, RegistryCommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "komp")]
struct Cli {
    #[command(subcommand)]
    cmd: RegistryCommand,
}

fn komp(args: &[&str]) -> (anyhow::Result<()>, String) {
    let mut argv = vec!["komp"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut out = Vec::new();
    let r = execute(cli.cmd, &mut out);
    (r, String::from_utf8(out).unwrap())
}

fn ok(args: &[&str]) -> String {
    let (r, out) = komp(args);
    r.unwrap_or_else(|e| panic!("{args:?} failed: {e:#}\n{out}"));
    out
}

fn fails(args: &[&str]) -> (String, String) {
    let (r, out) = komp(args);
    let e = r.expect_err(&format!("{args:?} should fail\n{out}"));
    (format!("{e:#}"), out)
}

fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{suffix} in {}", dir.display());
    found.pop().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `komp` binary's own subcommands, which the registry commands are
/// flattened beside: their names must not collide.
#[derive(Parser)]
#[command(name = "komp")]
struct HostLikeCli {
    #[command(subcommand)]
    cmd: HostLikeCommand,
}

#[derive(clap::Subcommand)]
enum HostLikeCommand {
    Pack,
    Inspect,
    Predict,
    Serve,
    Token,
    Audit,
    #[command(flatten)]
    Registry(RegistryCommand),
}

#[test]
fn clap_definitions_are_consistent() {
    HostLikeCli::command().debug_assert();
    Cli::command().debug_assert();
    let help = Cli::command().render_long_help().to_string();
    for cmd in [
        "keygen",
        "sign",
        "endorse",
        "verify",
        "revoke",
        "yank",
        "publish",
        "list",
        "show",
        "pull",
        "sync",
        "serve-registry",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from help");
    }
}

#[test]
fn keys_sign_endorse_verify_publish_yank_pull() {
    let t = tempfile::tempdir().unwrap();
    let (pubdir, appdir) = (t.path().join("pub"), t.path().join("app"));
    ok(&["keygen", "--role", "publisher", "--owner", "Testkommune", "--out", s(&pubdir)]);
    let out = ok(&["keygen", "--role", "approver", "--owner", "Fælles", "--out", s(&appdir)]);
    assert!(out.contains("created approver key ed25519:"), "{out}");
    let (pub_key, pub_pub) = (only_file(&pubdir, ".private.json"), only_file(&pubdir, ".public.json"));
    let (app_key, app_pub) = (only_file(&appdir, ".private.json"), only_file(&appdir, ".public.json"));

    let policy = t.path().join("policy.json");
    let out = ok(&["trust-policy", "--publisher", s(&pub_pub), "--approver", s(&app_pub), "-o", s(&policy)]);
    assert!(out.contains("endorsement required"), "{out}");

    let file = t.path().join("c.wasm");
    std::fs::write(&file, unsigned("cli", "1.0.0")).unwrap();

    let (err, out) = fails(&["verify", s(&file), "--policy", s(&policy)]);
    assert!(err.contains("not signed") && out.contains("policy: NOT met"), "{err}\n{out}");

    // Role mix-ups are refused with a hint.
    let (err, _) = fails(&["sign", s(&file), "--key", s(&app_key)]);
    assert!(err.contains("use `endorse`"), "{err}");
    let (err, _) = fails(&["endorse", s(&file), "--key", s(&pub_key)]);
    assert!(err.contains("use `sign`"), "{err}");

    ok(&["sign", s(&file), "--key", s(&pub_key)]);
    let (err, out) = fails(&["verify", s(&file), "--policy", s(&policy)]);
    assert!(err.contains("requires an approver endorsement"), "{err}");
    assert!(out.contains("publisher  Testkommune  valid"), "{out}");

    let endorsed = t.path().join("endorsed.wasm");
    let out = ok(&["endorse", s(&file), "--key", s(&app_key), "-o", s(&endorsed)]);
    assert!(out.starts_with("endorsed cli@1.0.0"), "{out}");
    let out = ok(&["verify", s(&endorsed), "--policy", s(&policy)]);
    assert!(out.contains("approver  Fælles  valid") && out.contains("policy: met"), "{out}");

    // One flipped byte: refused with the exact reason.
    let mut bytes = std::fs::read(&endorsed).unwrap();
    let at = find(&bytes, CODE_MARKER);
    bytes[at] ^= 4;
    let tampered = t.path().join("tampered.wasm");
    std::fs::write(&tampered, bytes).unwrap();
    let (err, out) = fails(&["verify", s(&tampered), "--policy", s(&policy)]);
    assert!(err.contains("the component's bytes do not match what was signed"), "{err}");
    assert!(out.contains("INVALID: content changed after signing"), "{out}");

    // Publish, list, show, pull.
    let reg = t.path().join("registry");
    let out = ok(&["publish", s(&endorsed), "--registry", s(&reg), "--policy", s(&policy)]);
    assert!(out.starts_with("Added: cli@1.0.0"), "{out}");
    let (err, _) = fails(&["publish", s(&tampered), "--registry", s(&reg), "--policy", s(&policy)]);
    assert!(err.contains("refused"), "{err}");
    let out = ok(&["list", "--registry", s(&reg)]);
    assert!(out.contains("cli  latest 1.0.0  versions 1.0.0"), "{out}");
    let out = ok(&["show", "cli", "--registry", s(&reg)]);
    assert!(out.contains("cli@1.0.0") && out.contains("(approver, Fælles)"), "{out}");
    let pulled = t.path().join("pulled.wasm");
    ok(&["pull", "cli@1.0.0", "--registry", s(&reg), "-o", s(&pulled), "--policy", s(&policy)]);
    assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(&endorsed).unwrap());

    // Yank and revoke through the signed list file; the list is re-verified each time.
    let list = t.path().join("revocations.json");
    let (err, _) = fails(&["yank", "cli@1.0.0", "--reason", "x", "--key", s(&pub_key), "--list", s(&list)]);
    assert!(err.contains("approver key"), "{err}");
    let out = ok(&["yank", "cli@1.0.0", "--reason", "wrong threshold", "--key", s(&app_key), "--list", s(&list)]);
    assert!(out.contains("serial 1"), "{out}");
    let out = ok(&[
        "revoke",
        "--key-id",
        "ed25519:00000000000000aa",
        "--reason",
        "lost",
        "--key",
        s(&app_key),
        "--list",
        s(&list),
    ]);
    assert!(out.contains("serial 2"), "{out}");
    let (err, out) = fails(&["verify", s(&endorsed), "--policy", s(&policy), "--revocations", s(&list)]);
    assert!(err.contains("cli@1.0.0 was yanked at") && err.contains("wrong threshold"), "{err}\n{out}");
    assert!(out.contains("revocations: serial 2; the revocation list is current until"), "{out}");

    ok(&["apply-revocations", s(&list), "--registry", s(&reg), "--policy", s(&policy)]);
    let out = ok(&["list", "--registry", s(&reg)]);
    assert!(out.contains("latest none installable") && out.contains("1.0.0 (yanked)"), "{out}");
    let out = ok(&["show", "cli@1.0.0", "--registry", s(&reg)]);
    assert!(out.contains("YANKED") && out.contains("wrong threshold"), "{out}");
}

#[test]
fn remote_list_show_pull_and_sync() {
    use komp_registry::http::server::RegistryServer;
    let k = keys();
    let t = tempfile::tempdir().unwrap();
    let upstream = komp_registry::Registry::open(&t.path().join("up")).unwrap();
    upstream.publish(endorsed("remote", "0.1.0"), &policy(&k, true)).unwrap();
    upstream.publish(endorsed("remote", "0.2.0"), &policy(&k, true)).unwrap();
    let server = spawn(RegistryServer::new(upstream, policy(&k, true)).router());
    let policy_file = t.path().join("policy.json");
    std::fs::write(&policy_file, policy(&k, true).to_json()).unwrap();

    let out = ok(&["list", "--from", &server.url]);
    assert!(out.contains("remote  latest 0.2.0  versions 0.1.0, 0.2.0"), "{out}");
    let out = ok(&["show", "remote", "--from", &server.url]);
    assert!(out.starts_with("remote@0.2.0"), "{out}");

    // --from needs a policy: the transport is never trusted.
    let pulled = t.path().join("r.wasm");
    assert!(Cli::try_parse_from(["komp", "pull", "remote", "--from", &server.url, "-o", s(&pulled)]).is_err());
    ok(&["pull", "remote@0.1.0", "--from", &server.url, "--policy", s(&policy_file), "-o", s(&pulled)]);
    assert_eq!(std::fs::read(&pulled).unwrap(), endorsed("remote", "0.1.0"));

    // A policy that trusts nobody refuses the download and writes nothing.
    let empty = t.path().join("empty.json");
    std::fs::write(&empty, r#"{"publishers": [], "approvers": []}"#).unwrap();
    let other = t.path().join("other.wasm");
    let (err, _) = fails(&["pull", "remote", "--from", &server.url, "--policy", s(&empty), "-o", s(&other)]);
    assert!(err.contains("does not trust"), "{err}");
    assert!(!other.exists());

    let local = t.path().join("local");
    let out = ok(&["sync", "--from", &server.url, "--registry", s(&local), "--policy", s(&policy_file)]);
    assert!(out.contains("added 2, updated 0, unchanged 0, yanked 0, refused 0"), "{out}");
}

#[test]
fn revocation_lists_from_the_cli_expire_and_can_be_renewed() {
    use komp_registry::revocation::SignedRevocationList;
    let t = tempfile::tempdir().unwrap();
    let appdir = t.path().join("app");
    ok(&["keygen", "--role", "approver", "--owner", "Fælles", "--out", s(&appdir)]);
    let app_key = only_file(&appdir, ".private.json");
    let list = t.path().join("revocations.json");
    let read = || SignedRevocationList::load(&list).unwrap().body_unverified().unwrap();
    let secs = |at: &str| komp_registry::time::parse_rfc3339_utc(at).unwrap();

    // Default: 30 days.
    let out = ok(&["yank", "x@1.0.0", "--reason", "r", "--key", s(&app_key), "--list", s(&list)]);
    let l = read();
    assert_eq!(secs(l.expires.as_deref().unwrap()) - secs(&l.issued_at), 30 * 86_400);
    assert!(out.contains(&format!("expires {}", l.expires.as_deref().unwrap())), "{out}");

    // --valid-for.
    ok(&["yank", "x@1.0.1", "--reason", "r", "--key", s(&app_key), "--list", s(&list), "--valid-for", "12h"]);
    let l = read();
    assert_eq!(l.serial, 2);
    assert_eq!(secs(l.expires.as_deref().unwrap()) - secs(&l.issued_at), 12 * 3600);

    // Renewal: next serial, same entries, fresh expiry.
    let out = ok(&["renew-revocations", "--key", s(&app_key), "--list", s(&list), "--valid-for", "7d"]);
    let renewed = read();
    assert!(out.contains("serial 3"), "{out}");
    assert_eq!((renewed.serial, renewed.yanked.len()), (3, 2));
    assert_eq!(secs(renewed.expires.as_deref().unwrap()) - secs(&renewed.issued_at), 7 * 86_400);

    // Bad durations are refused by the argument parser, with the reason.
    for bad in ["30", "0d", "400d", "1w", "d"] {
        let args = ["komp", "renew-revocations", "--key", s(&app_key), "--list", s(&list), "--valid-for", bad];
        let err = Cli::try_parse_from(args).err().unwrap_or_else(|| panic!("{bad} was accepted"));
        assert!(err.to_string().contains("--valid-for"), "{bad}: {err}");
    }
}
