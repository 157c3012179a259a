//! Building blocks shared by pages: the header, labelled form fields with their errors.

use crate::api::current_user;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

/// The site header; shows the account links that fit the visitor.
#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    // Re-read on every navigation, so logging in or out is reflected at once.
    let user = Resource::new(move || location.pathname.get(), |_| current_user());
    #[cfg(feature = "hydrate")]
    keep_session_fresh(user);
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                " Kiln"
            </A>
            <nav aria-label="Account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(_)) => {
                                view! {
                                    <A href="/apps">"My apps"</A>
                                    <A href="/settings">"Settings"</A>
                                    // A plain form: the refresh cookie reaches /auth/logout, so the
                                    // whole session ends even after the access token expired.
                                    <form method="post" action="/auth/logout" class="inline">
                                        <button type="submit" class="link">"Log out"</button>
                                    </form>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <A href="/login">"Log in"</A>
                                    <A href="/signup" attr:class="button small">"Sign up"</A>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}

/// While someone is signed in, renews the session every four minutes (access tokens live five),
/// and at once when the tab comes back after a while (timers sleep in background tabs and on
/// suspended laptops), so a page left open keeps working.
#[cfg(feature = "hydrate")]
fn keep_session_fresh(
    user: Resource<Result<Option<kiln_core::UserInfo>, crate::error::PortalError>>,
) {
    use std::time::Duration;
    const EVERY_MS: f64 = 240_000.0;
    let now = || window().performance().map(|p| p.now()).unwrap_or(0.0);
    let last = StoredValue::new(now());
    let signed_in = move || matches!(user.get_untracked(), Some(Ok(Some(_))));
    let refresh = move || {
        last.set_value(now());
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let _ = window().fetch_with_str_and_init("/auth/refresh", &init);
    };
    let handle = StoredValue::new(None::<IntervalHandle>);
    Effect::new(move |_| {
        let on = matches!(user.get(), Some(Ok(Some(_))));
        if let Some(h) = handle.get_value() {
            h.clear();
            handle.set_value(None);
        }
        if on {
            let h = set_interval_with_handle(refresh, Duration::from_millis(EVERY_MS as u64));
            handle.set_value(h.ok());
        }
    });
    let focus = window_event_listener(leptos::ev::focus, move |_| {
        if signed_in() && now() - last.get_value() > EVERY_MS {
            refresh();
        }
    });
    on_cleanup(move || focus.remove());
}

/// A labelled input with an optional hint and its error, announced to screen readers.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    /// The element id when `name` is not unique on the page.
    #[prop(optional)]
    id: Option<&'static str>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{}", id.unwrap_or(name));
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=true
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described
            />
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p class="field-error" id=error_id.clone() role="alert">
                                {e}
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// A form-level error (one that names no field).
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })
}

/// `YYYY-MM-DD` (UTC) of unix milliseconds.
pub fn date(ms: i64) -> String {
    let (y, m, d) = kiln_core::time::civil_date(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` (UTC) of unix milliseconds.
pub fn datetime(ms: i64) -> String {
    let mins = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{} {:02}:{:02} UTC", date(ms), mins / 60, mins % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(1_795_833_600_000), "2026-11-28");
        assert_eq!(super::date(951_782_400_000), "2000-02-29");
        assert_eq!(super::datetime(1_795_824_000_000 + 3_723_000), "2026-11-28 01:02 UTC");
    }
}
