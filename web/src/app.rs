//! The shell: navigation, theme, live indicator, token banner, and the routes.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use crate::auth::AuthBanner;
use crate::pages::{
    dead_letters::DeadLetters, fraud::Fraud, lake::Lake, markets::Markets, overview::Overview, pipelines::Pipelines,
    plugins::Plugins,
};
use crate::sse;

const NAV: [(&str, &str, &str); 7] = [
    ("/", "Overview", "nav-overview"),
    ("/markets", "Markets", "nav-markets"),
    ("/fraud", "Fraud", "nav-fraud"),
    ("/lake", "Lake", "nav-lake"),
    ("/plugins", "Plugins", "nav-plugins"),
    ("/pipelines", "Pipelines", "nav-pipelines"),
    ("/dead-letters", "Dead letters", "nav-dead-letters"),
];

const THEME_KEY: &str = "finlake-theme";

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// Sets `data-theme` on `<html>`; without it the CSS follows the system preference.
fn apply_theme(theme: Option<&str>) {
    let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) else { return };
    let _ = match theme {
        Some(t) => root.set_attribute("data-theme", t),
        None => root.remove_attribute("data-theme"),
    };
}

/// Light/dark toggle, remembered in localStorage; until first used it follows the system.
#[component]
fn ThemeToggle() -> impl IntoView {
    let saved = local().and_then(|s| s.get_item(THEME_KEY).ok().flatten()).filter(|t| t == "dark" || t == "light");
    apply_theme(saved.as_deref());
    let dark = RwSignal::new(saved.map_or_else(prefers_dark, |t| t == "dark"));
    let toggle = move |_| {
        let next = !dark.get_untracked();
        dark.set(next);
        let theme = if next { "dark" } else { "light" };
        apply_theme(Some(theme));
        if let Some(s) = local() {
            let _ = s.set_item(THEME_KEY, theme);
        }
    };
    view! {
        <button class="ghost theme" data-test="theme-toggle" on:click=toggle title="Light or dark">
            {move || if dark.get() { "☀ Light" } else { "☾ Dark" }}
        </button>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let location = use_location();
    let open = RwSignal::new(false);
    let links = NAV
        .iter()
        .map(|&(href, label, test)| {
            let current = move || {
                let path = location.pathname.get();
                let here = if href == "/" { path == "/" } else { path.starts_with(href) };
                here.then_some("page")
            };
            view! {
                <a href=href data-test=test aria-current=current on:click=move |_| open.set(false)>
                    {label}
                </a>
            }
        })
        .collect_view();
    let live = sse::use_live();
    view! {
        <header class="top">
            <a class="brand" href="/">"FinLake"</a>
            <button class="ghost menu" aria-label="Menu" on:click=move |_| open.update(|o| *o = !*o)>
                "☰"
            </button>
            <nav class:open=move || open.get()>{links}</nav>
            <span class="spacer"></span>
            <Show
                when=move || live.connected.get()
                fallback=|| view! { <span class="live off" title="Reconnecting to /api/events">"offline"</span> }
            >
                <span class="live" data-test="live" title="Live feed connected">
                    "● live"
                </span>
            </Show>
            <ThemeToggle />
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section>
            <h1>"Not found"</h1>
            <p>"No such page. " <a href="/">"Back to the overview"</a></p>
        </section>
    }
}

#[component]
pub fn App() -> impl IntoView {
    let live = sse::start();
    view! {
        <Router>
            <Nav />
            <AuthBanner />
            <Show when=move || live.problem.get().is_some()>
                <div class="banner">{move || live.problem.get()}</div>
            </Show>
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Overview />
                    <Route path=path!("/markets") view=Markets />
                    <Route path=path!("/fraud") view=Fraud />
                    <Route path=path!("/lake") view=Lake />
                    <Route path=path!("/plugins") view=Plugins />
                    <Route path=path!("/pipelines") view=Pipelines />
                    <Route path=path!("/dead-letters") view=DeadLetters />
                </Routes>
            </main>
        </Router>
    }
}
