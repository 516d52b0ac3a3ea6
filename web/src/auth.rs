//! The API token: asked for once, when the host refuses a request (401/403) or says at start
//! that changes need one; kept in sessionStorage for the tab and sent as a bearer header on
//! every request from then on.

use std::cell::Cell;

use finlake_api::{Health, paths};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;

const KEY: &str = "finlake-token";

#[derive(Clone, Copy)]
struct Auth {
    token: RwSignal<Option<String>>,
    /// The host's message when it refused a request for want of a token.
    refusal: RwSignal<Option<String>>,
    /// `/api/health` says changes need a token.
    required: RwSignal<bool>,
    dismissed: RwSignal<bool>,
}

thread_local! {
    // The API client runs outside any component, so the signals live here as well as in the
    // banner (signals are `Copy` handles).
    static AUTH: Cell<Option<Auth>> = const { Cell::new(None) };
}

fn session() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The token the user gave in this tab, if any.
pub fn token() -> Option<String> {
    AUTH.with(Cell::get)
        .and_then(|a| a.token.try_get_untracked().flatten())
        .or_else(|| session()?.get_item(KEY).ok().flatten())
        .filter(|t| !t.is_empty())
}

/// Called by the API client on 401/403: shows the banner with the host's message.
pub fn refused(message: &str) {
    if let Some(a) = AUTH.with(Cell::get) {
        a.refusal.set(Some(message.to_string()));
        a.dismissed.set(false);
    }
}

fn save(token: Option<String>) {
    if let Some(s) = session() {
        let _ = match &token {
            Some(t) => s.set_item(KEY, t),
            None => s.remove_item(KEY),
        };
    }
    if let Some(a) = AUTH.with(Cell::get) {
        a.token.set(token);
        a.refusal.set(None);
    }
}

/// The banner: hidden until a token is needed, then a message and a token input. Mounted once,
/// above every page.
#[component]
pub fn AuthBanner() -> impl IntoView {
    let stored = session().and_then(|s| s.get_item(KEY).ok().flatten()).filter(|t| !t.is_empty());
    let auth = Auth {
        token: RwSignal::new(stored),
        refusal: RwSignal::new(None),
        required: RwSignal::new(false),
        dismissed: RwSignal::new(false),
    };
    AUTH.with(|a| a.set(Some(auth)));
    spawn_local(async move {
        if let Ok(h) = api::get::<Health>(paths::HEALTH).await {
            auth.required.set(h.token_required);
        }
    });
    let draft = RwSignal::new(String::new());
    let submit = move || {
        let t = draft.get_untracked().trim().to_string();
        if !t.is_empty() {
            save(Some(t));
            draft.set(String::new());
        }
    };
    let visible = move || {
        !auth.dismissed.get() && (auth.refusal.get().is_some() || (auth.required.get() && auth.token.get().is_none()))
    };
    view! {
        <Show when=visible>
            <div class="banner warn" data-test="auth-banner" role="alert">
                <div>
                    <strong>
                        {move || if auth.refusal.get().is_some() { "The host refused: " } else { "A token is needed: " }}
                    </strong>
                    {move || {
                        auth.refusal
                            .get()
                            .unwrap_or_else(|| "this FinLake requires a bearer token for changes.".into())
                    }}
                </div>
                <form
                    class="row"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        submit();
                    }
                >
                    <input
                        type="password"
                        autocomplete="off"
                        placeholder="API token"
                        data-test="auth-token"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                    />
                    <button type="submit">"Use token"</button>
                    <Show when=move || auth.token.get().is_some()>
                        <button type="button" on:click=move |_| save(None)>
                            "Forget token"
                        </button>
                    </Show>
                    <button type="button" class="ghost" on:click=move |_| auth.dismissed.set(true)>
                        "Dismiss"
                    </button>
                </form>
                <small>"Kept for this tab only (sessionStorage) and sent as Authorization: Bearer."</small>
            </div>
        </Show>
    }
}
