//! Sessions: in memory, keyed by a random id (the only thing in the cookie).

use super::{WebConfig, WebError, WebState};
use crate::auth::{Principal, Role};
use axum::http::{header, HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "komp_session";
/// The login form's CSRF cookie (before there is a session).
pub const LOGIN_COOKIE: &str = "komp_login";
/// Most sessions kept at once; the oldest goes first beyond that.
const MAX_SESSIONS: usize = 10_000;

struct Session {
    /// sha256 (hex) of the token logged in with; never the token.
    token_sha256: String,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The sessions of one server.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
    max_age: Duration,
    secure: bool,
}

/// A logged-in user: who, and the session's CSRF token for forms.
#[derive(Debug, Clone)]
pub struct User {
    pub principal: Principal,
    pub csrf: String,
    pub tenant_name: String,
}

/// 32 random bytes, hex.
pub fn random_id() -> Result<String, WebError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("ingen tilfældighed: {e}")))?;
    Ok(hex::encode(b))
}

/// Equality that takes as long for every string of the same length.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl Sessions {
    pub fn new(c: &WebConfig) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle: Duration::from_secs(c.session_idle_minutes.max(1) * 60),
            max_age: Duration::from_secs(c.session_max_hours.max(1) * 3600),
            secure: c.secure_cookie,
        }
    }

    /// A `Set-Cookie` value for `name`, scoped to `/ui`.
    pub fn set_cookie(&self, name: &str, value: &str, max_age_secs: Option<u64>) -> String {
        let mut c = format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict");
        if let Some(a) = max_age_secs {
            c.push_str(&format!("; Max-Age={a}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    /// Starts a session for the token with this sha256; returns its id.
    pub fn create(&self, token_sha256: String) -> Result<String, WebError> {
        let id = random_id()?;
        let now = Instant::now();
        let session = Session { token_sha256, csrf: random_id()?, created: now, last_seen: now };
        let mut map = self.map.lock().expect("lock");
        map.retain(|_, s| !self.expired(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), session);
        Ok(id)
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().expect("lock").remove(id);
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) > self.idle || now.duration_since(s.created) > self.max_age
    }

    /// The session's token hash and CSRF token, if the id is live (touches it).
    fn get(&self, id: &str) -> Option<(String, String)> {
        let now = Instant::now();
        let mut map = self.map.lock().expect("lock");
        match map.get_mut(id) {
            Some(s) if !self.expired(s, now) => {
                s.last_seen = now;
                Some((s.token_sha256.clone(), s.csrf.clone()))
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }
}

pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The logged-in user of a request, if any. The token is looked up in the
/// token file on every request, so a revoked token ends the session.
pub fn user(ws: &WebState, headers: &HeaderMap) -> Result<Option<User>, WebError> {
    let Some(id) = cookie(headers, COOKIE) else { return Ok(None) };
    let Some((sha, csrf)) = ws.sessions.get(&id) else { return Ok(None) };
    let tokens = ws
        .app
        .tokens
        .list()
        .map_err(|e| WebError::new(StatusCode::SERVICE_UNAVAILABLE, format!("tokenfilen kan ikke læses: {e:#}")))?;
    match tokens.into_iter().find(|t| same(&t.sha256, &sha)) {
        Some(t) => {
            let tenant_name = ws.app.config.tenants.get(&t.tenant).map(|c| c.name.clone()).unwrap_or_default();
            Ok(Some(User {
                principal: Principal { token_id: t.id, tenant: t.tenant, role: t.role },
                csrf,
                tenant_name,
            }))
        }
        None => {
            ws.sessions.remove(&id);
            Ok(None)
        }
    }
}

/// The logged-in user with `role`, or an error page (401: log in; 403: wrong role).
pub fn require(ws: &WebState, headers: &HeaderMap, role: Role) -> Result<User, WebError> {
    let u = user(ws, headers)?.ok_or_else(|| {
        WebError::new(StatusCode::UNAUTHORIZED, "Denne side viser kommunens data: log ind med en token først.")
    })?;
    if !u.principal.role.allows(role) {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Din token har rollen {}; denne side kræver rollen {}.",
                role_name(u.principal.role),
                role_name(role)
            ),
        ));
    }
    Ok(u)
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Caller => "caller (sagssystem)",
        Role::Publisher => "publisher (udgiver)",
        Role::Auditor => "auditor (revisor)",
        Role::Admin => "admin",
    }
}

/// Refuses a form POST whose CSRF token is missing or wrong, or whose
/// `Origin` is another site than this one.
pub fn check_post(headers: &HeaderMap, expected: &str, given: Option<&str>) -> Result<(), WebError> {
    // `Origin: null` (privacy settings, some referrer policies) says nothing;
    // the CSRF token below still has to match.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).filter(|o| *o != "null") {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        if origin_host != Some(host) {
            return Err(WebError::new(
                StatusCode::FORBIDDEN,
                "Formularen kom fra et andet websted end dette og er afvist.",
            ));
        }
    }
    match given {
        Some(g) if !expected.is_empty() && same(g, expected) => Ok(()),
        _ => Err(WebError::new(
            StatusCode::FORBIDDEN,
            "Formularen mangler et gyldigt CSRF-token og er afvist. Hent siden igen og send formularen derfra.",
        )),
    }
}
