//! The top bar of the host's pages (navigation by role, log in/out) around
//! the shared frame of `komp_web::layout`.

use super::session::{role_name, User};
use crate::auth::Role;
use axum::response::Response;
use maud::{html, Markup};

/// The inside of the top bar for `user` (or an anonymous visitor).
pub fn top(user: Option<&User>) -> Markup {
    let auditor = user.is_some_and(|u| u.principal.role.allows(Role::Auditor));
    html! {
        nav aria-label="Hovedmenu" {
            ul {
                li { a href="/ui/" { "Katalog" } }
                @if auditor {
                    li { a href="/ui/overvaagning" { "Overvågning" } }
                    li { a href="/ui/valideringsrapporter" { "Valideringsrapporter" } }
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
}

/// A whole page around `content`.
pub fn page(title: &str, user: Option<&User>, content: Markup) -> Response {
    komp_web::layout::page(title, top(user), content)
}
