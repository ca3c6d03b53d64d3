//! Basic authentication (the registry's own htpasswd), the bearer token
//! service challenge flow, docker config.json, expired tokens, TLS with a
//! private CA.

use crate::common::*;
use komp_oci::{pull_component, push_component, ClientOptions, Credentials, OciClient, OciError};

/// bcrypt of "s3cret" (as `htpasswd -B` writes it), for the registry's htpasswd file.
const HTPASSWD: &str = "kommune:$2b$12$m5.IPgVexC54f8uFj0NRneMJ1NEfOclNlLisw3Z611sRIr0pWwMaq\n";

#[test]
fn basic_authentication_with_the_registrys_htpasswd() {
    let reg = OciRegistry::start_with(RegistryConfig { htpasswd: Some(HTPASSWD.into()), tls: None });
    let file = endorsed("alpha", "1.0.0");

    let anonymous = OciClient::new(&reg.addr, &plain()).unwrap();
    let err = push_component(&anonymous, &file, &reg.reference("kl/alpha"), None).unwrap_err();
    assert!(matches!(err, OciError::AuthRequired { .. }), "{err}");
    assert!(err.to_string().contains("docker login"), "says what to do: {err}");

    let wrong = plain_with(Credentials::Basic { username: "kommune".into(), password: "wrong".into() });
    let err = push_component(&OciClient::new(&reg.addr, &wrong).unwrap(), &file, &reg.reference("kl/alpha"), None)
        .unwrap_err();
    assert!(matches!(err, OciError::Unauthorized { .. }), "{err}");

    // The right credentials, from a docker config.json.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("kommune:s3cret")
    };
    std::fs::write(&config, format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, reg.addr)).unwrap();
    let creds = Credentials::from_docker_config(&config, &reg.addr).unwrap();
    let client = OciClient::new(&reg.addr, &plain_with(creds)).unwrap();
    push_component(&client, &file, &reg.reference("kl/alpha"), None).unwrap();
    assert_eq!(pull_component(&client, &reg.reference("kl/alpha:1.0.0")).unwrap().bytes, file);
}

#[test]
fn bearer_token_service_challenge_flow() {
    let reg = OciRegistry::start();
    let gate = Gate::token_service(&reg, Some(("kommune", "hemmelig")));
    let file = endorsed("alpha", "1.0.0");

    // Without credentials the token service refuses.
    let err =
        push_component(&OciClient::new(&gate.addr(), &plain()).unwrap(), &file, &gate.reference("kl/alpha"), None)
            .unwrap_err();
    assert!(matches!(err, OciError::TokenService { .. }), "{err}");

    let creds = Credentials::Basic { username: "kommune".into(), password: "hemmelig".into() };
    let client = OciClient::new(&gate.addr(), &plain_with(creds)).unwrap();
    push_component(&client, &file, &gate.reference("kl/alpha"), None).unwrap();
    assert_eq!(pull_component(&client, &gate.reference("kl/alpha:1.0.0")).unwrap().bytes, file);
    let scopes = gate.scopes();
    assert!(scopes.iter().any(|s| s.contains("scope=repository%3Akl%2Falpha%3Apull%2Cpush")), "{scopes:?}");
    assert!(scopes.iter().all(|s| s.contains("service=komp-test")), "{scopes:?}");
    // Tokens are cached per scope, not fetched per request.
    assert!(gate.tokens_issued() <= 3, "{} tokens", gate.tokens_issued());
}

#[test]
fn an_expired_token_is_a_clear_error() {
    let reg = OciRegistry::start();
    let gate = Gate::token_service(&reg, None);
    let client = OciClient::new(&gate.addr(), &plain()).unwrap();
    let file = endorsed("alpha", "1.0.0");
    push_component(&client, &file, &gate.reference("kl/alpha"), None).unwrap();
    gate.expire_tokens();
    let err = pull_component(&client, &gate.reference("kl/alpha:1.0.0")).unwrap_err();
    assert!(matches!(err, OciError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");

    // A static token (docker config `registrytoken`, or --token) the registry refuses.
    let fixed = OciClient::new(&gate.addr(), &plain_with(Credentials::Bearer { token: "tok-old".into() })).unwrap();
    let err = pull_component(&fixed, &gate.reference("kl/alpha:1.0.0")).unwrap_err();
    assert!(matches!(err, OciError::Unauthorized { .. }), "{err}");
}

#[test]
fn tls_with_a_private_ca() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |args: &str| run(std::process::Command::new("sh").arg("-c").arg(args).current_dir(d));
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=komp test CA' \
        -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null");
    sh("openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout srv.key -out srv.csr 2>/dev/null");
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh("openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out srv.pem 2>/dev/null");
    let reg =
        OciRegistry::start_with(RegistryConfig { htpasswd: None, tls: Some((d.join("srv.pem"), d.join("srv.key"))) });
    let file = endorsed("alpha", "1.0.0");
    let base = ClientOptions { timeout: std::time::Duration::from_secs(30), ..ClientOptions::default() };

    // Public roots only: the private CA is unknown.
    let err = push_component(&OciClient::new(&reg.addr, &base).unwrap(), &file, &reg.reference("kl/alpha"), None)
        .unwrap_err();
    assert!(matches!(err, OciError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("--ca-file"), "{err}");

    let with_ca = ClientOptions { ca_file: Some(d.join("ca.pem")), ..base.clone() };
    let client = OciClient::new(&reg.addr, &with_ca).unwrap();
    push_component(&client, &file, &reg.reference("kl/alpha"), None).unwrap();
    assert_eq!(pull_component(&client, &reg.reference("kl/alpha:1.0.0")).unwrap().bytes, file);

    // A CA file that is not one.
    std::fs::write(d.join("junk.pem"), "not a certificate").unwrap();
    let err = OciClient::new(&reg.addr, &ClientOptions { ca_file: Some(d.join("junk.pem")), ..base }).unwrap_err();
    assert!(matches!(err, OciError::CaFile { .. }), "{err}");
}
