//! The frame of every page: language, skip link, the top bar (navigation and
//! whatever the server puts beside it), the footer; and the error page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// A whole page around `content`; `top` is the inside of the top bar
/// (navigation, log in/out), which each server builds ([`nav`] helps).
pub fn page(title: &str, top: Markup, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="da" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · komp" }
                link rel="stylesheet" href=(crate::STYLESHEET);
            }
            body {
                a class="skip" href="#indhold" { "Spring til indhold" }
                header class="top" { (top) }
                main id="indhold" tabindex="-1" { (content) }
                footer {
                    p { "komp: delte, signerede AI-komponenter for kommuner. Hver komponent er et forslag til en sagsbehandler, aldrig en afgørelse." }
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The main navigation: `(href, text)` per item.
pub fn nav(items: &[(&str, &str)]) -> Markup {
    html! {
        nav aria-label="Hovedmenu" {
            ul { @for (href, text) in items { li { a href=(href) { (text) } } } }
        }
    }
}

/// The Danish title of an error page for `status`.
pub fn error_title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Ikke fundet",
        StatusCode::FORBIDDEN => "Ingen adgang",
        StatusCode::UNAUTHORIZED => "Log ind først",
        StatusCode::TOO_MANY_REQUESTS => "For mange forespørgsler",
        s if s.is_client_error() => "Forespørgslen kan ikke udføres",
        _ => "Der skete en fejl",
    }
}

/// An error shown as a page: status, a Danish title, the message escaped.
pub fn error_page(status: StatusCode, message: &str, top: Markup) -> Response {
    let title = error_title(status);
    let body = page(
        title,
        top,
        html! {
            h1 { (title) }
            p role="alert" { (message) }
            p { a href="/ui/" { "Til kataloget" } }
        },
    );
    (status, body).into_response()
}
