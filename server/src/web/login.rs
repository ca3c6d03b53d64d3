//! Logging in with a token, and out.

use super::layout::page;
use super::session::{check_post, cookie, random_id, token_sha256, user, COOKIE, LOGIN_COOKIE};
use super::{WebError, WebState};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

fn login_page(ws: &WebState, csrf: &str, error: Option<&str>, status: StatusCode) -> Response {
    let content = html! {
        h1 { "Log ind" }
        p { "Log ind med en token fra kommunens administrator (" code { "komp token create" } "). "
            "Tokenen sendes kun her og gemmes ikke i browseren: browseren får en sessionscookie, som udløber." }
        @if let Some(e) = error { p class="notice bad" role="alert" { (e) } }
        form method="post" action="/ui/login" {
            input type="hidden" name="csrf" value=(csrf);
            div class="field" {
                label for="token" { "Token" }
                input id="token" name="token" type="password" autocomplete="off" required;
            }
            p { button type="submit" { "Log ind" } }
        }
    };
    let mut resp = (status, page("Log ind", None, content)).into_response();
    let c = ws.sessions.set_cookie(LOGIN_COOKIE, csrf, Some(3600));
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /ui/login`
pub async fn form(State(ws): State<WebState>, headers: HeaderMap) -> Result<Response, WebError> {
    if user(&ws, &headers)?.is_some() {
        return Ok(Redirect::to("/ui/").into_response());
    }
    Ok(login_page(&ws, &random_id()?, None, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /ui/login`: the CSRF token must equal the login cookie's.
pub async fn submit(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    check_post(&headers, &expected, f.csrf.as_deref())?;
    if let Err(e) = ws.app.tokens.reload_if_changed() {
        tracing::error!(error = %format!("{e:#}"), "the token file is broken; keeping the tokens read before");
    }
    let Some(p) = ws.app.tokens.authenticate(f.token.trim()) else {
        return Ok(login_page(
            &ws,
            &random_id()?,
            Some("Tokenen er ukendt eller tilbagekaldt."),
            StatusCode::UNAUTHORIZED,
        ));
    };
    let id = ws.sessions.create(token_sha256(f.token.trim()))?;
    tracing::info!(tenant = %p.tenant, token_id = %p.token_id, "web login");
    let mut resp = Redirect::to("/ui/").into_response();
    for c in [ws.sessions.set_cookie(COOKIE, &id, None), ws.sessions.set_cookie(LOGIN_COOKIE, "", Some(0))] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /ui/logout`
pub async fn logout(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Result<Response, WebError> {
    let Some(u) = user(&ws, &headers)? else { return Ok(Redirect::to("/ui/").into_response()) };
    check_post(&headers, &u.csrf, f.csrf.as_deref())?;
    if let Some(id) = cookie(&headers, COOKIE) {
        ws.sessions.remove(&id);
    }
    let mut resp = Redirect::to("/ui/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&ws.sessions.set_cookie(COOKIE, "", Some(0))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
