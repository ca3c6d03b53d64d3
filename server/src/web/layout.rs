//! The frame of every page: language, skip link, navigation, log in/out.

use super::session::{role_name, User};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// A whole page around `content`.
pub fn page(title: &str, user: Option<&User>, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="da" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · komp" }
                link rel="stylesheet" href="/ui/static/komp.css";
            }
            body {
                a class="skip" href="#indhold" { "Spring til indhold" }
                header class="top" {
                    nav aria-label="Hovedmenu" {
                        ul {
                            li { a href="/ui/" { "Katalog" } }
                            @if user.is_some() {
                                li { a href="/ui/overvaagning" { "Overvågning" } }
                            }
                        }
                    }
                    div class="who" {
                        @match user {
                            Some(u) => {
                                span {
                                    "Logget ind: kommune " (u.principal.tenant)
                                    @if !u.tenant_name.is_empty() { " (" (u.tenant_name) ")" }
                                    ", rolle " (role_name(u.principal.role))
                                }
                                form method="post" action="/ui/logout" class="inline" {
                                    input type="hidden" name="csrf" value=(u.csrf);
                                    button type="submit" { "Log ud" }
                                }
                            }
                            None => { a href="/ui/login" { "Log ind" } }
                        }
                    }
                }
                main id="indhold" tabindex="-1" { (content) }
                footer {
                    p { "komp: delte, signerede AI-komponenter for kommuner. Hver komponent er et forslag til en sagsbehandler, aldrig en afgørelse." }
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}
