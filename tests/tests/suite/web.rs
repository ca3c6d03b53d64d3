//! The web pages (`/ui`) of a real `komp serve` on 127.0.0.1, with the signed
//! standard components and an example component whose manifest carries HTML
//! and script: over plain HTTP (headers, escaping, login, CSRF, roles, the
//! audit record of a try, revocation, the catalog switch), and in real
//! headless Chromium driven through chromedriver (browse, log in, try, read
//! the answer, monitoring; screenshots in target/komp-web-artifacts/; axe-core
//! finds no serious or critical accessibility violation on any page).

use komp_tests::{dev_key, komp, ServeProcess};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const EVIL: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">Eksempel med HTML";
const SUBJECT: &str = "Skraldespand ikke tømt";
const BODY: &str = "Hej, vores restaffald er ikke blevet hentet i to uger. Hvornår kommer skraldebilen? Mvh Jens";

/// A data directory with seeds and a config file; `serve` starts a host on it.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let seeds = dir.path().join("seeds");
        std::fs::create_dir_all(&seeds).unwrap();
        for name in ["postsortering", "underretning"] {
            let from = komp_tests::root().join("target/komp-components").join(format!("{name}.wasm"));
            std::fs::copy(&from, seeds.join(format!("{name}.wasm")))
                .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-components.sh", from.display()));
        }
        // The example component with HTML and script in its untrusted texts,
        // signed and endorsed with the development keys.
        let mut m = komp_tests::manifest(&komp_tests::EXAMPLE_FEEDBACK);
        m.description = EVIL.to_string();
        m.publisher = format!("{EVIL} udgiver");
        m.model_card.intended_use = EVIL.to_string();
        m.labels[0].display = "<b onmouseover=alert(1)>Positiv</b>".into();
        let evil = seeds.join("example-feedback.wasm");
        std::fs::write(&evil, komp_tests::packed_with(&komp_tests::EXAMPLE_FEEDBACK, m)).unwrap();
        let e = evil.to_str().unwrap();
        komp(&["sign", e, "--key", dev_key("publisher").to_str().unwrap()]);
        komp(&["endorse", e, "--key", dev_key("approver").to_str().unwrap()]);
        let config = dir.path().join("config.json");
        Site { dir, config }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn token(&self, role: &str) -> String {
        self.token_of("0751", role)
    }

    fn token_of(&self, tenant: &str, role: &str) -> String {
        komp(&[
            "token",
            "create",
            "--data-dir",
            self.data().to_str().unwrap(),
            "--tenant",
            tenant,
            "--role",
            role,
            "--quiet",
        ])
    }

    fn serve(&self, public_catalog: bool) -> ServeProcess {
        let config = json!({
            "web": { "public_catalog": public_catalog, "secure_cookie": false },
            "tenants": { "0751": {
                "name": "Aarhus Kommune",
                "routing": { "postsortering": { "affald": { "unit": "Teknik og Miljø, Affald", "inbox": "affald@aarhus.example" } } }
            } }
        });
        std::fs::write(&self.config, config.to_string()).unwrap();
        let owned: Vec<std::ffi::OsString> = vec![
            "--dev".into(),
            "--config".into(),
            self.config.clone().into(),
            "--data-dir".into(),
            self.data().into(),
            "--seed-dir".into(),
            self.dir.path().join("seeds").into(),
        ];
        let args: Vec<&OsStr> = owned.iter().map(|a| a.as_os_str()).collect();
        ServeProcess::start(&args)
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The value a `Set-Cookie` header gives cookie `name`, and the whole header.
    fn set_cookie(&self, name: &str) -> Option<(String, String)> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).find_map(|(_, v)| {
            v.strip_prefix(&format!("{name}=")).map(|rest| (rest.split(';').next().unwrap().to_string(), v.clone()))
        })
    }
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// One request; never follows redirects. `cookie` is sent as the Cookie header.
fn call(method: &str, url: &str, cookie: &str, extra: &[(&str, &str)], body: Option<(&str, String)>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if !cookie.is_empty() {
        b = b.header("cookie", cookie);
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let mut resp = match body {
        Some((ct, body)) => agent.run(b.header("content-type", ct).body(body.into_bytes()).unwrap()),
        None => agent.run(b.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let headers = resp.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let status = resp.status().as_u16();
    let body = resp.body_mut().with_config().limit(16 << 20).read_to_string().unwrap();
    Reply { status, headers, body }
}

fn get(s: &ServeProcess, path: &str, cookie: &str) -> Reply {
    call("GET", &format!("{}{path}", s.url), cookie, &[], None)
}

fn post_form(s: &ServeProcess, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Reply {
    call("POST", &format!("{}{path}", s.url), cookie, &[], Some(("application/x-www-form-urlencoded", encode(pairs))))
}

fn api(s: &ServeProcess, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let auth = format!("Bearer {token}");
    let r = call(
        method,
        &format!("{}{path}", s.url),
        "",
        &[("authorization", &auth)],
        body.map(|b| ("application/json", b.to_string())),
    );
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// Logs in through the form; returns the Cookie header of the session.
fn login(s: &ServeProcess, token: &str) -> String {
    let form = get(s, "/ui/login", "");
    assert_eq!(form.status, 200);
    let (login_cookie, _) = form.set_cookie("komp_login").expect("the login form sets its CSRF cookie");
    let r =
        post_form(s, "/ui/login", &format!("komp_login={login_cookie}"), &[("token", token), ("csrf", &form.csrf())]);
    assert_eq!(r.status, 303, "{}", r.body);
    let (session, header) = r.set_cookie("komp_session").expect("a session cookie");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict") && header.contains("Path=/ui"),
        "{header}"
    );
    assert!(!header.contains(token) && !session.contains(token), "the token never goes into the cookie");
    format!("komp_session={session}")
}

fn token_id(token: &str) -> String {
    format!("tok_{}", token.strip_prefix("komp_").unwrap().split('_').next().unwrap())
}

fn digest_of(name: &str) -> String {
    let bytes = std::fs::read(komp_tests::root().join("target/komp-components").join(format!("{name}.wasm"))).unwrap();
    komp_artifact::Artifact::parse(bytes).unwrap().digest().to_string()
}

fn policy_owner(role: &str) -> String {
    let p: Value =
        serde_json::from_str(&std::fs::read_to_string(komp_tests::root().join("keys/dev/policy.json")).unwrap())
            .unwrap();
    p[format!("{role}s")][0]["owner"].as_str().unwrap().to_string()
}

/// A validation report of postsortering made over the API by `auditor`; its id.
fn validation_report(s: &ServeProcess, auditor: &str) -> String {
    let sample: String = komp_tests::spread_test_rows("postsortering.test.jsonl", 40)
        .into_iter()
        .map(|r| format!("{}\n", json!({ "input": r["input"], "label": r["label"] })))
        .collect();
    let auth = format!("Bearer {auditor}");
    let r = call(
        "POST",
        &format!("{}/v1/components/postsortering/validation-reports", s.url),
        "",
        &[("authorization", &auth)],
        Some(("application/x-ndjson", sample)),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    serde_json::from_str::<Value>(&r.body).unwrap()["id"].as_str().unwrap().to_string()
}

/// Every page: HTML with a strict CSP; no page allows inline script.
fn assert_page(r: &Reply, what: &str) {
    let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
}

#[test]
fn web_pages_over_http() {
    let site = Site::new();
    let caller = site.token("caller");
    let auditor = site.token("auditor");
    let s = site.serve(true);

    // The public catalog: every component, filter by risk class, search.
    let cat = get(&s, "/ui/", "");
    assert_eq!(cat.status, 200);
    assert_page(&cat, "catalog");
    assert!(cat.header("content-type").unwrap().starts_with("text/html"));
    for name in ["postsortering", "underretning", "example-feedback"] {
        assert!(cat.body.contains(&format!("href=\"/ui/komponenter/{name}\"")), "catalog lists {name}");
    }
    let approver = policy_owner("approver");
    assert!(cat.body.contains(&approver), "the approver's name from the trust policy");
    let high = get(&s, "/ui/?risiko=high", "");
    assert!(
        high.body.contains("/ui/komponenter/underretning\"") && !high.body.contains("/ui/komponenter/postsortering\"")
    );
    let search = get(&s, "/ui/?q=digital+post", "");
    assert!(
        search.body.contains("/ui/komponenter/postsortering\"")
            && !search.body.contains("/ui/komponenter/underretning\"")
    );

    // A component page: digest, every signature with its holder and state,
    // the model card, the input schema as a table.
    let page = get(&s, "/ui/komponenter/postsortering", "");
    assert_eq!(page.status, 200);
    assert_page(&page, "component");
    assert!(page.body.contains(&digest_of("postsortering")), "the digest");
    assert!(page.body.contains(&policy_owner("publisher")) && page.body.contains(&approver));
    assert_eq!(page.body.matches("Verificeret her").count(), 2, "publisher signature and endorsement verify");
    for section in [
        "id=\"modelkort\"",
        "id=\"altai\"",
        "id=\"ai-act\"",
        "id=\"input\"",
        "id=\"golden\"",
        "id=\"versioner\"",
        "<code>sender_type</code>",
        "syntetiske data",
    ] {
        assert!(page.body.contains(section), "component page has {section}");
    }
    assert_eq!(get(&s, "/ui/komponenter/findes-ikke", "").status, 404);

    // Untrusted manifest text is escaped: the script is text, not markup.
    let evil = get(&s, "/ui/komponenter/example-feedback", "");
    assert_eq!(evil.status, 200);
    assert!(
        !evil.body.contains("<script") && !evil.body.contains("<img") && !evil.body.contains("<b onmouseover"),
        "{}",
        evil.body
    );
    assert!(evil.body.contains("&lt;script&gt;document.title="), "the script shows as text");
    assert!(!get(&s, "/ui/", "").body.contains("<script"));

    // Login: without the CSRF token, or from another site, refused.
    let form = get(&s, "/ui/login", "");
    let (lc, _) = form.set_cookie("komp_login").unwrap();
    let lc = format!("komp_login={lc}");
    let no_csrf = post_form(&s, "/ui/login", &lc, &[("token", &caller)]);
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    assert!(no_csrf.set_cookie("komp_session").is_none());
    assert_page(&no_csrf, "refusal");
    let wrong_csrf = post_form(&s, "/ui/login", &lc, &[("token", &caller), ("csrf", &"0".repeat(64))]);
    assert_eq!(wrong_csrf.status, 403);
    let foreign = call(
        "POST",
        &format!("{}/ui/login", s.url),
        &lc,
        &[("origin", "https://evil.example")],
        Some(("application/x-www-form-urlencoded", encode(&[("token", &caller), ("csrf", &form.csrf())]))),
    );
    assert_eq!(foreign.status, 403);
    let bad_token = post_form(&s, "/ui/login", &lc, &[("token", "komp_nope"), ("csrf", &form.csrf())]);
    assert_eq!(bad_token.status, 401);
    let session = login(&s, &caller);

    // Try it, without the CSRF token: refused, and nothing runs or is audited.
    let audited = |component: &str| {
        api(&s, "GET", &format!("/v1/audit?component={component}&limit=1000"), &auditor, None)["records"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = audited("postsortering");
    let try_form = get(&s, "/ui/komponenter/postsortering/proev", &session);
    assert_eq!(try_form.status, 200);
    assert!(
        try_form.body.contains("<label for=\"f_subject\">") && try_form.body.contains("<select id=\"f_sender_type\"")
    );
    let fields = [("f_subject", SUBJECT), ("f_body", BODY), ("f_sender_type", "citizen")];
    let refused = post_form(&s, "/ui/komponenter/postsortering/proev", &session, &fields);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(audited("postsortering"), before, "a refused form runs nothing");

    // With it: the same answer as the API, audited under the user's token.
    let csrf = try_form.csrf();
    let mut with_csrf = fields.to_vec();
    with_csrf.push(("csrf", &csrf));
    let answer = post_form(&s, "/ui/komponenter/postsortering/proev", &session, &with_csrf);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let api_answer = api(
        &s,
        "POST",
        "/v1/components/postsortering/predict",
        &caller,
        Some(json!({"subject": SUBJECT, "body": BODY, "sender_type": "citizen"})),
    );
    let label = api_answer["prediction"]["label"].as_str().unwrap();
    assert!(answer.body.contains(&format!("data-label=\"{label}\"")), "the page shows the API's label {label}");
    let rid_at = answer.body.find("id=\"request-id\">").unwrap() + 16;
    let request_id = &answer.body[rid_at..rid_at + answer.body[rid_at..].find('<').unwrap()];
    let record = api(&s, "GET", &format!("/v1/predictions/{request_id}"), &auditor, None);
    assert_eq!(record["prediction"]["token_id"], token_id(&caller), "audited under the logged-in token");
    assert_eq!(record["prediction"]["label"], label);
    assert_eq!(audited("postsortering"), before + 2, "the try and the API call, nothing else");
    if api_answer["routing"].is_object() {
        assert!(answer.body.contains(api_answer["routing"]["unit"].as_str().unwrap()), "the tenant's routing");
    }
    assert!(answer.body.contains("<mark class=\"pos\""), "explanation words are marked in the text");

    // Roles: a caller may not see monitoring; an auditor may, not try.
    assert_eq!(get(&s, "/ui/overvaagning/postsortering", &session).status, 403);
    assert_eq!(get(&s, "/ui/overvaagning", "").status, 401);
    let auditor_session = login(&s, &auditor);
    let mon = get(&s, "/ui/overvaagning/postsortering", &auditor_session);
    assert_eq!(mon.status, 200, "{}", mon.body);
    assert_page(&mon, "monitoring");
    assert!(mon.body.contains("<svg") && mon.body.contains("Drift"));
    assert_eq!(get(&s, "/ui/komponenter/postsortering/proev", &auditor_session).status, 403);

    // Validation reports: made over the API, listed for the tenant's auditors
    // (linked from monitoring), each with its own page; never another tenant's.
    let id = validation_report(&s, &auditor);
    let mon = get(&s, "/ui/overvaagning/postsortering", &auditor_session);
    assert!(
        mon.body.contains(&format!("href=\"/ui/valideringsrapporter/{id}/rapport.html\"")),
        "monitoring links the report"
    );
    assert!(mon.body.contains("href=\"/ui/valideringsrapporter?komponent=postsortering\""));
    let list = get(&s, "/ui/valideringsrapporter", &auditor_session);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_page(&list, "validation reports");
    assert!(list.body.contains(&format!("href=\"/ui/valideringsrapporter/{id}/rapport.html\"")), "{}", list.body);
    assert!(list.body.contains("<svg"), "accuracy over time as a chart");
    let report = get(&s, &format!("/ui/valideringsrapporter/{id}/rapport.html"), &auditor_session);
    assert_eq!(report.status, 200, "{}", report.body);
    assert!(report.body.contains("postsortering"));
    let csp = report.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'none'") && csp.contains("'sha256-"),
        "the report's own styles by hash, no script: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(get(&s, "/ui/valideringsrapporter", &session).status, 403, "a caller is no auditor");
    assert_eq!(get(&s, "/ui/valideringsrapporter", "").status, 401);
    let other = login(&s, &site.token_of("0101", "auditor"));
    let theirs = get(&s, "/ui/valideringsrapporter", &other);
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains(&id), "another tenant does not see the report");
    assert_eq!(get(&s, &format!("/ui/valideringsrapporter/{id}/rapport.html"), &other).status, 404);
    assert_eq!(get(&s, "/ui/valideringsrapporter/vr_..%2f..%2f/rapport.html", &auditor_session).status, 404);

    // Logout needs the CSRF token too; afterwards the session is gone.
    assert_eq!(post_form(&s, "/ui/logout", &auditor_session, &[]).status, 403);
    let csrf = get(&s, "/ui/", &auditor_session).csrf();
    assert_eq!(post_form(&s, "/ui/logout", &auditor_session, &[("csrf", &csrf)]).status, 303);
    assert_eq!(get(&s, "/ui/overvaagning", &auditor_session).status, 401);

    // Revoking the token ends its session at once.
    komp(&["token", "revoke", "--data-dir", site.data().to_str().unwrap(), &token_id(&caller)]);
    assert_eq!(get(&s, "/ui/komponenter/postsortering/proev", &session).status, 401);
    drop(s);

    // With the public catalog off, nothing is shown without a login.
    let s = site.serve(false);
    let cat = get(&s, "/ui/", "");
    assert_eq!(cat.status, 303);
    assert_eq!(cat.header("location"), Some("/ui/login"));
    assert_eq!(get(&s, "/ui/komponenter/postsortering", "").status, 401);
    let session = login(&s, &auditor);
    assert_eq!(get(&s, "/ui/komponenter/postsortering", &session).status, 200);
}

// ---------------------------------------------------------------------------
// The registry server's pages (`komp serve-registry --public-catalog`).

const YANK_REASON: &str = "Forkert tærskel: brug <b>1.x</b> ikke";

/// A registry directory holding the standard components and two versions of
/// the example: the older yanked, the newer with HTML and script in its
/// texts and a changed limitations text. Returns the versions.
fn registry_site(dir: &Path) -> (PathBuf, String, String) {
    let reg = dir.join("registry");
    let policy = komp_tests::root().join("keys/dev/policy.json");
    let publish = |f: &Path| {
        komp(&[
            "publish",
            f.to_str().unwrap(),
            "--registry",
            reg.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ])
    };
    for name in ["postsortering", "underretning", "example-feedback"] {
        publish(&komp_tests::root().join("target/komp-components").join(format!("{name}.wasm")));
    }
    let mut m = komp_tests::manifest(&komp_tests::EXAMPLE_FEEDBACK);
    let v1 = m.version.to_string();
    m.version.minor += 1;
    m.description = EVIL.to_string();
    m.publisher = format!("{EVIL} udgiver");
    m.model_card.intended_use = EVIL.to_string();
    m.model_card.limitations = format!("{} Nyt: kun til demonstration.", m.model_card.limitations);
    let v2 = m.version.to_string();
    let evil = dir.join("example-feedback-2.wasm");
    std::fs::write(&evil, komp_tests::packed_with(&komp_tests::EXAMPLE_FEEDBACK, m)).unwrap();
    let e = evil.to_str().unwrap();
    komp(&["sign", e, "--key", dev_key("publisher").to_str().unwrap()]);
    komp(&["endorse", e, "--key", dev_key("approver").to_str().unwrap()]);
    publish(&evil);
    let list = dir.join("revocations.json");
    komp(&[
        "yank",
        &format!("example-feedback@{v1}"),
        "--reason",
        YANK_REASON,
        "--key",
        dev_key("approver").to_str().unwrap(),
        "--list",
        list.to_str().unwrap(),
    ]);
    komp(&[
        "apply-revocations",
        list.to_str().unwrap(),
        "--registry",
        reg.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    (reg, v1, v2)
}

/// A `komp serve-registry` process on 127.0.0.1 (killed when dropped).
struct RegistryProcess {
    child: std::process::Child,
    url: String,
}

impl RegistryProcess {
    fn start(registry: &Path, public_catalog: bool) -> RegistryProcess {
        use std::io::BufRead;
        let policy = komp_tests::root().join("keys/dev/policy.json");
        let mut cmd = Command::new(komp_tests::komp_bin());
        cmd.args(["serve-registry", "--listen", "127.0.0.1:0", "--registry"])
            .arg(registry)
            .arg("--policy")
            .arg(policy)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if public_catalog {
            cmd.arg("--public-catalog");
        }
        let mut child = cmd.spawn().expect("start komp serve-registry");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("komp serve-registry exited before listening").unwrap();
        let url = line.rsplit_once(" on ").expect("serving … on URL").1.trim().to_string();
        std::thread::spawn(move || for _ in lines {});
        RegistryProcess { child, url }
    }

    fn get(&self, path: &str) -> Reply {
        call("GET", &format!("{}{path}", self.url), "", &[], None)
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn registry_pages_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, v1, v2) = registry_site(dir.path());

    // Off unless the configuration makes the catalog public; the API is unchanged.
    let r = RegistryProcess::start(&reg, false);
    assert_eq!(r.get("/ui/").status, 404);
    assert_eq!(r.get("/ui/komponenter/postsortering").status, 404);
    assert_eq!(r.get("/registry/v1/components").status, 200);
    drop(r);

    let r = RegistryProcess::start(&reg, true);
    assert_eq!(r.get("/registry/v1/components").status, 200, "the API beside the pages");
    let cat = r.get("/ui/");
    assert_eq!(cat.status, 200, "{}", cat.body);
    assert_page(&cat, "registry catalog");
    for name in ["postsortering", "underretning", "example-feedback"] {
        assert!(cat.body.contains(&format!("href=\"/ui/komponenter/{name}\"")), "catalog lists {name}");
    }
    let approver = policy_owner("approver");
    assert!(cat.body.contains(&approver), "the approver's name from the trust policy");
    assert!(cat.body.contains(&v2), "the example's installable version is the newer one");
    assert!(!cat.body.contains("<script"), "untrusted text is escaped in the catalog");
    let high = r.get("/ui/?risiko=high");
    assert!(
        high.body.contains("/ui/komponenter/underretning\"") && !high.body.contains("/ui/komponenter/postsortering\"")
    );
    let search = r.get("/ui/?q=digital+post");
    assert!(
        search.body.contains("/ui/komponenter/postsortering\"")
            && !search.body.contains("/ui/komponenter/underretning\"")
    );

    // A component page: digest, every signature with its holder, checked here.
    let page = r.get("/ui/komponenter/postsortering");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_page(&page, "registry component");
    assert!(page.body.contains(&digest_of("postsortering")), "the digest");
    assert!(page.body.contains(&policy_owner("publisher")) && page.body.contains(&approver));
    assert_eq!(page.body.matches("Verificeret her").count(), 2, "publisher signature and endorsement verify");
    for section in [
        "id=\"status\"",
        "id=\"modelkort\"",
        "id=\"altai\"",
        "id=\"ai-act\"",
        "id=\"input\"",
        "id=\"golden\"",
        "id=\"versioner\"",
        "<code>sender_type</code>",
        "syntetiske data",
        "/registry/v1/components/postsortering/",
    ] {
        assert!(page.body.contains(section), "registry component page has {section}");
    }
    assert_eq!(r.get("/ui/komponenter/findes-ikke").status, 404);
    assert_eq!(r.get("/ui/komponenter/postsortering/version/9.9.9").status, 404);
    assert_eq!(r.get("/ui/komponenter/postsortering/version/ikke-en-version").status, 404);

    // The newer example: its script is text; the history names the yanked
    // version with the approver's reason and says what changed.
    let evil = r.get("/ui/komponenter/example-feedback");
    assert_eq!(evil.status, 200, "{}", evil.body);
    assert!(
        !evil.body.contains("<script") && !evil.body.contains("<img") && !evil.body.contains("<b onmouseover"),
        "{}",
        evil.body
    );
    assert!(evil.body.contains("&lt;script&gt;document.title="), "the script shows as text");
    assert!(evil.body.contains(&format!("href=\"/ui/komponenter/example-feedback/version/{v1}\"")));
    assert!(evil.body.contains("Forkert tærskel: brug &lt;b&gt;1.x&lt;/b&gt; ikke"), "the yank reason, escaped");
    let history = &evil.body[evil.body.find("id=\"versioner\"").unwrap()..];
    for change in ["beskrivelse", "udgiver", "modelkort: intended use, limitations"] {
        assert!(history.contains(change), "what changed: {change} in {history}");
    }
    let old = r.get(&format!("/ui/komponenter/example-feedback/version/{v1}"));
    assert_eq!(old.status, 200);
    assert!(old.body.contains("Trukket tilbage af godkenderne (yanked)"), "{}", old.body);
    assert!(old.body.contains("Forkert tærskel: brug &lt;b&gt;1.x&lt;/b&gt; ikke"));

    let css = r.get("/ui/static/komp.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

// ---------------------------------------------------------------------------
// Headless Chromium through chromedriver (W3C WebDriver over plain HTTP).

struct Driver {
    child: std::process::Child,
    url: String,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    fn start(chromium: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut d = Driver { child, url, session: String::new() };
        let binary = which(chromium).unwrap_or_else(|| PathBuf::from(chromium));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": binary,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"]
        }}}});
        let v = d.cmd("POST", "/session", Some(caps));
        d.session = v["sessionId"].as_str().expect("a session id").to_string();
        d.cmd("POST", "/timeouts", Some(json!({"script": 60000, "pageLoad": 60000})));
        d
    }

    /// A WebDriver command (relative to the session, except `/session` itself); its `value`.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}/session", self.url)
        } else {
            format!("{}/session/{}{path}", self.url, self.session)
        };
        let body = body.unwrap_or(json!({}));
        let r = if method == "GET" || method == "DELETE" {
            call(method, &url, "", &[], None)
        } else {
            call(method, &url, "", &[], Some(("application/json", body.to_string())))
        };
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("webdriver {path}: {e}: {}", r.body));
        assert!(r.status == 200, "webdriver {method} {path}: {} {}", r.status, r.body);
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}")).to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), None);
    }

    /// Clicks a link or submit button and waits until the next page has loaded: a WebDriver
    /// click returns before the navigation it starts, so a `find` right after it could still
    /// see the old page (or an element that goes stale under it).
    fn click_and_wait(&self, css: &str) {
        self.script("window.__kompOldPage = true; return null;");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self.script("return window.__kompOldPage === undefined && document.readyState === 'complete';");
            if ready == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "clicking {css} did not load a new page within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None).as_str().unwrap_or("").to_string()
    }

    fn script(&self, js: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": js, "args": [] })))
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        let dir = komp_tests::root().join("target/komp-web-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// axe-core on the current page; the serious and critical violations.
    fn axe(&self, axe_src: &str) -> Vec<Value> {
        let js = format!(
            "{axe_src}\n;const done = arguments[arguments.length - 1];\
             axe.run(document, {{ resultTypes: ['violations'] }})\
             .then(r => done(JSON.stringify(r.violations.map(v => ({{ id: v.id, impact: v.impact, help: v.help, \
             targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }})))))\
             .catch(e => done('ERROR ' + e));"
        );
        let v = self.cmd("POST", "/execute/async", Some(json!({ "script": js, "args": [] })));
        let text = v.as_str().expect("axe answers a string");
        assert!(!text.starts_with("ERROR"), "axe failed: {text}");
        let all: Vec<Value> = serde_json::from_str(text).unwrap();
        all.into_iter().filter(|v| matches!(v["impact"].as_str(), Some("serious") | Some("critical"))).collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = call("DELETE", &format!("{}/session/{}", self.url, self.session), "", &[], None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(cmd)).find(|p| p.exists())
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, c)| acc | (u32::from(val(*c)) << (18 - 6 * i)));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

#[test]
fn web_pages_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    let driver_ok = Command::new("chromedriver").arg("--version").output().is_ok_and(|o| o.status.success());
    let (Some(chromium), true) = (chromium, driver_ok) else {
        let required = std::env::var("KOMP_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "KOMP_REQUIRE_CHROMIUM=1 but chromium or chromedriver is missing: scripts/setup.sh --chromium"
        );
        eprintln!("skipping: no chromium/chromedriver (scripts/setup.sh --chromium)");
        return;
    };
    let axe_src = std::fs::read_to_string(komp_tests::root().join("tests/vendor/axe-core/axe.min.js")).unwrap();
    let site = Site::new();
    let admin = site.token("admin");
    let caller = site.token("caller");
    let s = site.serve(true);
    let d = Driver::start(chromium);
    let mut problems = Vec::new();
    let mut check = |d: &Driver, name: &str| {
        d.screenshot(name);
        for v in d.axe(&axe_src) {
            problems.push(format!("{name}: {v}"));
        }
    };

    // Browse: the catalog, a filter, a component page.
    d.go(&format!("{}/ui/", s.url));
    assert!(d.text("h1").contains("Katalog"));
    check(&d, "catalog");
    d.click("#risiko option[value=high]");
    d.click_and_wait("form.filters button");
    let listed = d.text("table.catalog tbody");
    assert!(listed.contains("underretning") && !listed.contains("postsortering"), "{listed}");
    d.go(&format!("{}/ui/komponenter/postsortering", s.url));
    assert!(d.text("main").contains(&digest_of("postsortering")));
    check(&d, "component");

    // The component with script in its manifest: shown as text, never run.
    d.go(&format!("{}/ui/komponenter/example-feedback", s.url));
    let seen = d.script("return [document.title, document.scripts.length, document.images.length, document.querySelector('main').innerText];");
    assert_ne!(seen[0], "pwned", "a script from the manifest ran");
    assert_eq!(seen[1], 0, "no script element on the page");
    assert_eq!(seen[2], 0, "no image element from the manifest");
    assert!(
        seen[3].as_str().unwrap().contains("<script>document.title='pwned'</script>"),
        "the text is shown as it is"
    );
    check(&d, "component-with-html");

    // Log in through the form.
    d.go(&format!("{}/ui/login", s.url));
    check(&d, "login");
    d.type_into("#token", &admin);
    d.click_and_wait("main form button[type=submit]");
    let header = d.text("header");
    assert!(header.contains("0751"), "logged in: {header} / {}", d.text("main"));

    // Try it: fill the form generated from the schema, read the answer.
    d.go(&format!("{}/ui/komponenter/postsortering/proev", s.url));
    check(&d, "try-it-form");
    d.type_into("#f_subject", SUBJECT);
    d.type_into("#f_body", BODY);
    d.click("#f_sender_type option[value=citizen]");
    d.click_and_wait("form.tryit button[type=submit]");
    let label_el = d.find("#udfald");
    let label = d.cmd("GET", &format!("/element/{label_el}/attribute/data-label"), None);
    let api_answer = api(
        &s,
        "POST",
        "/v1/components/postsortering/predict",
        &caller,
        Some(json!({"subject": SUBJECT, "body": BODY, "sender_type": "citizen"})),
    );
    assert_eq!(label, api_answer["prediction"]["label"], "the page shows what the API answers");
    assert!(!d.text("#review").is_empty());
    let bars = d.script("return document.querySelectorAll('figure svg rect').length;");
    assert!(bars.as_u64().unwrap() >= 16, "a bar per score: {bars}");
    check(&d, "try-it-answer");

    // Monitoring: the try shows up in the counts.
    d.go(&format!("{}/ui/overvaagning", s.url));
    check(&d, "monitoring");
    d.click_and_wait("main table a[href='/ui/overvaagning/postsortering']");
    assert!(d.text("main").contains("Forudsigelser"));
    let charts = d.script("return document.querySelectorAll('main figure svg[role=img]').length;");
    assert!(charts.as_u64().unwrap() >= 3, "{charts}");
    check(&d, "monitoring-component");

    // Validation reports: the list (from monitoring's menu) and a report's page.
    let id = validation_report(&s, &admin);
    d.go(&format!("{}/ui/overvaagning", s.url));
    d.click_and_wait("header nav a[href='/ui/valideringsrapporter']");
    assert!(d.text("main").contains(&id), "the report is listed");
    check(&d, "validation-reports");
    d.click_and_wait(&format!("main table a[href='/ui/valideringsrapporter/{id}/rapport.html']"));
    assert!(d.text("body").contains("postsortering"));
    check(&d, "validation-report");

    // The registry server's pages: catalog, a component, the yanked version,
    // and the component with script in its manifest (inert there too).
    let dir = tempfile::tempdir().unwrap();
    let (reg, v1, _) = registry_site(dir.path());
    let r = RegistryProcess::start(&reg, true);
    d.go(&format!("{}/", r.url));
    assert!(d.text("h1").contains("Katalog"));
    check(&d, "registry-catalog");
    d.type_into("#q", "digital post");
    d.click_and_wait("form.filters button");
    let listed = d.text("table.catalog tbody");
    assert!(listed.contains("postsortering") && !listed.contains("underretning"), "{listed}");
    d.click_and_wait("table.catalog a[href='/ui/komponenter/postsortering']");
    assert!(d.text("main").contains(&digest_of("postsortering")));
    check(&d, "registry-component");
    d.go(&format!("{}/ui/komponenter/example-feedback", r.url));
    let seen = d.script("return [document.title, document.scripts.length, document.images.length, document.querySelector('main').innerText];");
    assert_ne!(seen[0], "pwned", "a script from the manifest ran");
    assert_eq!(seen[1], 0, "no script element on the page");
    assert_eq!(seen[2], 0, "no image element from the manifest");
    assert!(seen[3].as_str().unwrap().contains("<script>document.title='pwned'</script>"));
    check(&d, "registry-component-with-html");
    d.click_and_wait(&format!("#versioner ~ table a[href='/ui/komponenter/example-feedback/version/{v1}']"));
    assert!(d.text("#status ~ div.notice").contains(YANK_REASON), "the yank and its reason");
    check(&d, "registry-component-yanked");

    assert!(problems.is_empty(), "axe-core found serious or critical violations:\n{}", problems.join("\n"));
    eprintln!("chromium browsed the pages; screenshots in target/komp-web-artifacts/");
}
