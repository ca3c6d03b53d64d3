//! The HTTP router, the client, and sync between two registries on 127.0.0.1.

use crate::common;

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use komp_registry::http::auth::{AuthDecision, AuthRequest, PushTokenHashes};
use komp_registry::http::client::Client;
use komp_registry::http::server::RegistryServer;
use komp_registry::http::sync::{sync_from, RevocationSync, SyncError};
use komp_registry::revocation::{RevocationList, SignedRevocationList};
use komp_registry::store::{IndexEntry, PublishOutcome, VersionInfo};
use komp_registry::{KeyPair, Registry, Role};
use std::sync::Arc;

fn v(s: &str) -> semver::Version {
    s.parse().unwrap()
}

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(&dir.path().join("db")).unwrap();
    (dir, reg)
}

#[test]
fn router_serves_reads_and_guards_pushes() {
    let k = keys();
    let p = policy(&k, true);
    let (_d, reg) = registry();
    let server = spawn(
        RegistryServer::new(reg.clone(), p.clone()).auth(Arc::new(PushTokenHashes::from_tokens(["s3cret"]))).router(),
    );
    let c = Client::new(&server.url);
    let bytes = endorsed("sentiment", "1.0.0");

    let err = c.push(&bytes, None).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.to_string().contains("Bearer"), "{err}");
    assert_eq!(c.push(&bytes, Some("guess")).unwrap_err().status(), Some(401));

    let p1 = c.push(&bytes, Some("s3cret")).unwrap();
    assert_eq!(p1.outcome, PublishOutcome::Added);
    assert_eq!(c.push(&bytes, Some("s3cret")).unwrap().outcome, PublishOutcome::Unchanged);

    let err = c.push(&unsigned("sentiment", "1.0.1"), Some("s3cret")).unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("not signed"), "{err}");

    let other =
        komp_artifact::pack(&raw_component("x"), manifest("sentiment", "1.0.0"), &[("clf".into(), model_bytes("x"))])
            .unwrap();
    let err = c.push(&signed_by(other.into_bytes(), &[&k.publisher, &k.approver]), Some("s3cret")).unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("immutable"), "{err}");

    c.push(&endorsed("sentiment", "1.2.0"), Some("s3cret")).unwrap();
    let list = c.list().unwrap();
    assert_eq!(list.len(), 1);
    let listed: Vec<_> = list[0].versions.iter().map(|x| x.version.clone()).collect();
    assert_eq!(listed, vec![v("1.0.0"), v("1.2.0")]);
    assert!(list[0].versions.iter().all(|x| !x.yanked));
    let versions = c.versions("sentiment").unwrap();
    assert_eq!(versions.latest, Some(v("1.2.0")));
    let shown = c.show("sentiment", &v("1.0.0")).unwrap();
    assert_eq!(shown.manifest.name, "sentiment");
    assert_eq!(shown.info.entry.digest, p1.entry.digest);
    assert_eq!(shown.info.entry.signatures.len(), 2);
    assert_eq!(c.artifact("sentiment", &v("1.0.0")).unwrap(), bytes);

    assert_eq!(c.versions("nope").unwrap_err().status(), Some(404));
    assert_eq!(c.artifact("sentiment", &v("9.0.0")).unwrap_err().status(), Some(404));
    // A malformed version in the path is a 400 with a JSON `{"error": ...}` body.
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).http_status_as_error(false).build().into();
    let mut resp = agent.get(&format!("{}/registry/v1/components/sentiment/not-a-version", server.url)).call().unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("not a semantic version"), "{body}");

    // Revocations: none yet, then a pushed list (signed by our approver).
    assert_eq!(c.revocations().unwrap(), None);
    let mut list = RevocationList::empty().next().unwrap();
    list.yank("sentiment", &v("1.2.0"), "wrong labels");
    let signed = SignedRevocationList::sign(&list, &k.approver).unwrap();
    assert_eq!(c.push_revocations(&signed, None).unwrap_err().status(), Some(401));
    c.push_revocations(&signed, Some("s3cret")).unwrap();
    assert_eq!(c.push_revocations(&signed, Some("s3cret")).unwrap_err().status(), Some(409), "same serial again");
    assert_eq!(c.revocations().unwrap(), Some(signed));
    assert_eq!(c.versions("sentiment").unwrap().latest, Some(v("1.0.0")));
    let rogue = KeyPair::from_seed([7; 32], Role::Approver, "rogue");
    let err = c
        .push_revocations(&SignedRevocationList::sign(&list.next().unwrap(), &rogue).unwrap(), Some("s3cret"))
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
}

#[test]
fn authorisation_is_pluggable() {
    let k = keys();
    let (_d, reg) = registry();
    let auth = |r: &AuthRequest<'_>| match r.bearer {
        Some("kommune-751-admin") => AuthDecision::Allow,
        Some(_) => AuthDecision::Forbidden("this tenant may not use the registry".into()),
        None => AuthDecision::Unauthenticated,
    };
    let server = spawn(RegistryServer::new(reg, policy(&k, true)).auth(Arc::new(auth)).router());
    let c = Client::new(&server.url);
    assert_eq!(c.list().unwrap_err().status(), Some(401));
    let err = c.push(&endorsed("a", "1.0.0"), Some("kommune-101-caller")).unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("this tenant may not use the registry"));
    c.push(&endorsed("a", "1.0.0"), Some("kommune-751-admin")).unwrap();
}

#[test]
fn sync_between_two_registries_verifies_and_follows_revocations() {
    let k = keys();
    let (_u, upstream) = registry();
    let lax = policy(&k, false);
    upstream.publish(signed_by(unsigned("a", "1.0.0"), &[&k.publisher]), &lax).unwrap();
    upstream.publish(endorsed("a", "1.1.0"), &lax).unwrap();
    upstream.publish(endorsed("b", "0.1.0"), &lax).unwrap();
    upstream.publish(endorsed("c", "2.0.0"), &lax).unwrap();
    let mut list = RevocationList::empty().next().unwrap();
    list.yank("c", &v("2.0.0"), "recalled");
    upstream.set_revocations(&SignedRevocationList::sign(&list, &k.approver).unwrap(), &lax).unwrap();
    let server = spawn(RegistryServer::new(upstream.clone(), lax.clone()).router());

    // The municipality requires endorsements.
    let (_l, local) = registry();
    let strict = policy(&k, true);
    let r = sync_from(&server.url, &local, &strict).unwrap();
    assert_eq!(r.revocations, RevocationSync::Applied { serial: 1 });
    assert_eq!(r.added, vec!["a@1.1.0", "b@0.1.0"]);
    assert_eq!(r.yanked, vec!["c@2.0.0"]);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].0, "a@1.0.0");
    assert!(r.refused[0].1.contains("requires an approver endorsement"), "{}", r.refused[0].1);
    assert_eq!(local.get("b", &v("0.1.0")).unwrap(), upstream.get("b", &v("0.1.0")).unwrap());
    assert_eq!(local.revocations().unwrap().serial, 1);

    // Nothing new: everything unchanged.
    let r = sync_from(&server.url, &local, &strict).unwrap();
    assert_eq!(r.revocations, RevocationSync::UpToDate);
    assert!(r.added.is_empty() && r.updated.is_empty());
    assert_eq!(r.unchanged, 2);

    // Upstream endorses a@1.0.0 (same component, one more signature): now it comes over.
    upstream.publish(endorsed("a", "1.0.0"), &lax).unwrap();
    let r = sync_from(&server.url, &local, &strict).unwrap();
    assert_eq!(r.added, vec!["a@1.0.0"]);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(local.latest("a").unwrap(), Some(v("1.1.0")));
}

fn entry_for(bytes: &[u8]) -> IndexEntry {
    let art = komp_artifact::Artifact::parse(bytes.to_vec()).unwrap();
    let m = art.manifest();
    IndexEntry {
        name: m.name.clone(),
        version: m.version.clone(),
        digest: art.digest().into(),
        blob_sha256: komp_artifact::sha256_hex(bytes),
        size: bytes.len() as u64,
        manifest_sha256: String::new(),
        published_at: "2026-01-01T00:00:00Z".into(),
        signatures: vec![],
    }
}

#[test]
fn sync_never_trusts_the_transport() {
    let k = keys();
    // A hostile upstream: a tampered file, a file that is not what its URL
    // says, and a revocation list signed by an approver we do not trust.
    let mut tampered = endorsed("evil", "1.0.0");
    let at = find(&tampered, CODE_MARKER);
    tampered[at] ^= 1;
    let impostor = endorsed("good", "1.0.0");
    let rogue = KeyPair::from_seed([8; 32], Role::Approver, "rogue");
    let mut rogue_list = RevocationList::empty().next().unwrap();
    rogue_list.revoke_key(&k.publisher.key_id(), "denial of service");
    let rogue_list = SignedRevocationList::sign(&rogue_list, &rogue).unwrap();

    let listing = serde_json::json!({"components": [
        {"name": "evil", "versions": [{"version": "1.0.0", "digest": "", "yanked": false}], "latest": "1.0.0"},
        {"name": "claims", "versions": [{"version": "1.0.0", "digest": "", "yanked": false}], "latest": "1.0.0"},
    ]});
    let evil_versions = serde_json::json!({"name": "evil", "latest": "1.0.0",
        "versions": [VersionInfo { entry: entry_for(&tampered), yanked: None }]});
    let mut claims_entry = entry_for(&impostor);
    claims_entry.name = "claims".into();
    let claims_versions = serde_json::json!({"name": "claims", "latest": "1.0.0",
        "versions": [VersionInfo { entry: claims_entry, yanked: None }]});
    let router = Router::new()
        .route("/registry/v1/components", get(move || async move { Json(listing) }))
        .route("/registry/v1/components/evil", get(move || async move { Json(evil_versions) }))
        .route("/registry/v1/components/claims", get(move || async move { Json(claims_versions) }))
        .route("/registry/v1/components/evil/1.0.0/artifact", get(move || async move { tampered }))
        .route("/registry/v1/components/claims/1.0.0/artifact", get(move || async move { impostor }))
        .route("/registry/v1/revocations", get(move || async move { Json(rogue_list) }));
    let server = spawn(router);

    let (_l, local) = registry();
    let r = sync_from(&server.url, &local, &policy(&k, true)).unwrap();
    assert!(
        matches!(&r.revocations, RevocationSync::Refused { reason } if reason.contains("not an approver")),
        "{:?}",
        r.revocations
    );
    assert!(r.added.is_empty());
    let refused: std::collections::BTreeMap<_, _> = r.refused.into_iter().collect();
    assert!(refused["evil@1.0.0"].contains("the component's bytes do not match what was signed"), "{refused:?}");
    assert!(refused["claims@1.0.0"].contains("expected claims@1.0.0, but the file is good@1.0.0"), "{refused:?}");
    assert!(local.list().unwrap().is_empty());
    assert_eq!(local.revocations().unwrap().serial, 0);
}

#[test]
fn oversized_uploads_get_413_with_a_json_error() {
    let k = keys();
    let (_d, reg) = registry();
    let server = spawn(
        RegistryServer::new(reg, policy(&k, true))
            .auth(Arc::new(PushTokenHashes::from_tokens(["t"])))
            .max_artifact_bytes(256)
            .router(),
    );
    let err = Client::new(&server.url).push(&endorsed("big", "1.0.0"), Some("t")).unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    assert!(err.to_string().contains("larger than this registry accepts"), "{err}");
}

#[test]
fn an_upstream_that_withholds_its_revocation_list_fails_the_sync() {
    let k = keys();
    let p = policy(&k, true);
    // Upstream served list 1 once...
    let (_u, upstream) = registry();
    let list = RevocationList::empty().next().unwrap();
    upstream.set_revocations(&SignedRevocationList::sign(&list, &k.approver).unwrap(), &p).unwrap();
    let server = spawn(RegistryServer::new(upstream, p.clone()).router());
    let (_l, local) = registry();
    assert_eq!(sync_from(&server.url, &local, &p).unwrap().revocations, RevocationSync::Applied { serial: 1 });
    drop(server);

    // ...and now answers 404 (a new upstream registry without a list, with a
    // component signed by a key the withheld list might revoke).
    let (_u2, bare) = registry();
    bare.publish(endorsed("new", "1.0.0"), &p).unwrap();
    let server = spawn(RegistryServer::new(bare, p.clone()).router());
    let err = sync_from(&server.url, &local, &p).unwrap_err();
    assert!(matches!(err, SyncError::RevocationsWithheld { local_serial: 1, .. }), "{err}");
    assert!(err.to_string().contains("newer revocations may be withheld"), "{err}");
    assert!(local.list().unwrap().is_empty(), "nothing is pulled while revocations are withheld");
    assert_eq!(local.revocations().unwrap().serial, 1, "the local list stays in force");

    // A registry that never had a list syncs as before.
    let (_f, fresh) = registry();
    let r = sync_from(&server.url, &fresh, &p).unwrap();
    assert_eq!(r.revocations, RevocationSync::None);
    assert_eq!(r.added, vec!["new@1.0.0"]);
}

#[test]
fn unauthenticated_uploads_are_refused_before_the_body_is_read() {
    let k = keys();
    let (dir, reg) = registry();
    let server =
        spawn(RegistryServer::new(reg, policy(&k, true)).auth(Arc::new(PushTokenHashes::from_tokens(["t"]))).router());
    // Announce 400 MB and send ten bytes: the answer must come at once, from the head alone.
    for (auth, path) in
        [("", "/registry/v1/components"), ("Authorization: Bearer wrong\r\n", "/registry/v1/revocations")]
    {
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/wasm\r\nContent-Length: 400000000\r\n\r\n0123456789"
        );
        let x = raw_exchange(&server.url, head.as_bytes(), std::time::Duration::from_secs(5));
        assert!(x.answer.starts_with("HTTP/1.1 401"), "{path}: {:?}", x.answer);
        let first = x.first_byte.unwrap();
        assert!(first < std::time::Duration::from_secs(2), "{path}: answered after {first:?}");
    }
    // Nothing was spooled.
    let uploads = dir.path().join("db").join("uploads");
    assert!(!uploads.exists() || std::fs::read_dir(&uploads).unwrap().next().is_none());
}

#[test]
fn oversized_uploads_are_refused_while_streaming_and_leave_no_file() {
    let k = keys();
    let (dir, reg) = registry();
    let server = spawn(
        RegistryServer::new(reg, policy(&k, true))
            .auth(Arc::new(PushTokenHashes::from_tokens(["t"])))
            .max_artifact_bytes(1000)
            .router(),
    );
    // A declared length over the limit: 413 before reading.
    let head = "PUT /registry/v1/components HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: 400000000\r\n\r\n";
    let answer = raw_exchange(&server.url, head.as_bytes(), std::time::Duration::from_secs(5)).answer;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // Chunked, no declared length: refused once the stream passes the limit.
    let mut req =
        b"PUT /registry/v1/components HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        req.extend_from_slice(format!("{:x}\r\n", 600).as_bytes());
        req.extend_from_slice(&[b'a'; 600]);
        req.extend_from_slice(b"\r\n");
    }
    let answer = raw_exchange(&server.url, &req, std::time::Duration::from_secs(5)).answer;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(answer.contains("larger than this registry accepts"), "{answer:?}");
    let uploads = dir.path().join("db").join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "upload files left behind: {left:?}");

    // A good upload still works (streamed through the spool file).
    let (_d2, reg2) = registry();
    let server =
        spawn(RegistryServer::new(reg2, policy(&k, true)).auth(Arc::new(PushTokenHashes::from_tokens(["t"]))).router());
    let p = Client::new(&server.url).push(&endorsed("ok", "1.0.0"), Some("t")).unwrap();
    assert_eq!(p.outcome, PublishOutcome::Added);
}

#[test]
fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    let k = keys();
    let (_d, reg) = registry();
    let limits = komp_registry::http::ServeLimits {
        header_timeout: std::time::Duration::from_millis(300),
        request_timeout: std::time::Duration::from_secs(30),
    };
    let server = spawn_with_limits(RegistryServer::new(reg, policy(&k, true)).router(), limits);
    let start = std::time::Instant::now();
    let x = raw_exchange(
        &server.url,
        b"GET /registry/v1/components HTTP/1.1\r\nHost: x\r\n",
        std::time::Duration::from_secs(5),
    );
    assert!(x.closed, "the connection with a half-sent head was kept open");
    assert!(start.elapsed() < std::time::Duration::from_secs(3), "closed only after {:?}", start.elapsed());
    // Complete requests are served normally.
    assert!(Client::new(&server.url).list().unwrap().is_empty());
}

#[test]
fn a_stalled_upload_gets_408_after_the_request_timeout() {
    let k = keys();
    let (_d, reg) = registry();
    let limits = komp_registry::http::ServeLimits {
        header_timeout: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_millis(500),
    };
    let server = spawn_with_limits(
        RegistryServer::new(reg, policy(&k, true)).auth(Arc::new(PushTokenHashes::from_tokens(["t"]))).router(),
        limits,
    );
    let head =
        "PUT /registry/v1/components HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: 1000\r\n\r\nabc";
    let answer = raw_exchange(&server.url, head.as_bytes(), std::time::Duration::from_secs(5)).answer;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

#[test]
fn a_token_removed_from_the_token_file_is_refused_at_the_next_push() {
    use komp_registry::http::auth::{hash_token, PushTokenFile};
    let k = keys();
    let (dir, reg) = registry();
    let file = dir.path().join("push-tokens");
    let write = |tokens: &[&str]| {
        let text: String = tokens.iter().map(|t| hash_token(t) + "\n").collect();
        std::fs::write(&file, text).unwrap();
    };
    write(&["alpha", "beta"]);
    let auth = PushTokenFile::open(&file).unwrap();
    let server = spawn(RegistryServer::new(reg, policy(&k, true)).auth(Arc::new(auth)).router());
    let c = Client::new(&server.url);
    c.push(&endorsed("tok", "1.0.0"), Some("alpha")).unwrap();
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();

    // Revoke alpha: the file is rewritten twice within one mtime tick, same
    // length, and ends with the original modification time.
    write(&["gamma", "beta"]);
    write(&["delta", "beta"]);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);

    let err = c.push(&endorsed("tok", "1.0.1"), Some("alpha")).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    c.push(&endorsed("tok", "1.0.1"), Some("delta")).unwrap();
    c.push(&endorsed("tok", "1.0.2"), Some("beta")).unwrap();

    // A broken file refuses pushes (fail closed) instead of keeping old tokens.
    std::fs::write(&file, "not a hash\n").unwrap();
    let err = c.push(&endorsed("tok", "1.0.3"), Some("beta")).unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(!err.to_string().contains(dir.path().to_str().unwrap()), "the server path is not disclosed: {err}");
}

#[test]
fn an_upstream_serving_a_list_we_must_refuse_fails_the_sync_once_we_hold_one() {
    let k = keys();
    let p = policy(&k, true);
    let (_l, local) = registry();
    local
        .set_revocations(
            &SignedRevocationList::sign(&RevocationList::empty().next().unwrap(), &k.approver).unwrap(),
            &p,
        )
        .unwrap();

    // Upstream: a component, and a "newer" list signed by an approver we do not trust.
    let (_u, upstream) = registry();
    upstream.publish(endorsed("new", "1.0.0"), &p).unwrap();
    let rogue = KeyPair::from_seed([8; 32], Role::Approver, "rogue");
    let rogue_list =
        SignedRevocationList::sign(&RevocationList::empty().next().unwrap().next().unwrap(), &rogue).unwrap();
    let router = Router::new()
        .route("/registry/v1/revocations", get(move || async move { Json(rogue_list) }))
        .fallback_service(RegistryServer::new(upstream, p.clone()).router());
    let server = spawn(router);
    let err = sync_from(&server.url, &local, &p).unwrap_err();
    assert!(
        matches!(&err, SyncError::RevocationsRefused { local_serial: 1, reason, .. } if reason.contains("not an approver")),
        "{err}"
    );
    assert!(local.list().unwrap().is_empty(), "nothing is pulled");
    assert_eq!(local.revocations().unwrap().serial, 1);
}
