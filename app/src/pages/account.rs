//! Sign-up, log-in, email verification and account settings.

use crate::api::{
    CreateToken, Login as LoginFn, RevokeToken, Signup as SignupFn, list_tokens, take_new_token,
};
use crate::components::{Field, FormError, date};
use crate::error::PortalError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// Field and form errors of an action's last answer.
fn errors<I, O>(
    action: ServerAction<I>,
) -> (
    impl Fn(&'static str) -> Signal<Option<String>>,
    Signal<Option<String>>,
)
where
    I: leptos::server_fn::ServerFn<Output = O, Error = PortalError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    let err = move || action.value().get().and_then(|r| r.err());
    let field = move |f: &'static str| Signal::derive(move || err().and_then(|e| e.field(f)));
    (
        field,
        Signal::derive(move || err().and_then(|e| e.general())),
    )
}

#[component]
pub fn Signup() -> impl IntoView {
    let action = ServerAction::<SignupFn>::new();
    let (field, general) = errors(action);
    view! {
        <Title text="Sign up" />
        <section class="narrow card">
            <h1>"Create your Kiln account"</h1>
            <ActionForm action=action>
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field("email") />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 12 characters. A few words in a row make a good password."
                    error=field("password")
                />
                <FormError error=general />
                <button type="submit" disabled=move || action.pending().get()>"Create account"</button>
            </ActionForm>
            <p class="aside">"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

#[component]
pub fn Login() -> impl IntoView {
    let action = ServerAction::<LoginFn>::new();
    let (field, general) = errors(action);
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    view! {
        <Title text="Log in" />
        <section class="narrow card">
            <h1>"Log in to Kiln"</h1>
            <ActionForm action=action>
                <input type="hidden" name="next" value=next />
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field("email") />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="current-password"
                    error=field("password")
                />
                <FormError error=general />
                <button type="submit" disabled=move || action.pending().get()>"Log in"</button>
            </ActionForm>
            <p class="aside">"New to Kiln? " <A href="/signup">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn CheckEmail() -> impl IntoView {
    view! {
        <Title text="Check your email" />
        <section class="narrow card">
            <h1>"Check your email"</h1>
            <p>"We sent you a link to confirm your address. Open it to finish setting up your account; it works once and expires in 24 hours."</p>
            <p>"You are already logged in. Until you confirm, you can look around but cannot create apps."</p>
            <p><A href="/apps">"Continue to my apps"</A></p>
        </section>
    }
}

#[component]
pub fn Verified() -> impl IntoView {
    let query = use_query_map();
    let status = move || query.read().get("status").unwrap_or_default();
    view! {
        {move || {
            let (title, text) = match status().as_str() {
                "ok" => ("Email verified", "Thank you: your address is confirmed and you can create apps."),
                "used" => ("Link not valid", "This link was already used. If you confirmed your address, just log in."),
                "expired" => ("Link not valid", "This link has expired. Log in and ask for a new one on the My apps page."),
                "error" => ("Something went wrong", "We could not check this link just now. Please try again in a moment."),
                _ => ("Link not valid", "This link is not valid. Check that you copied all of it, or ask for a new one."),
            };
            view! {
                <Title text=title />
                <section class="narrow card">
                    <h1>{title}</h1>
                    <p>{text}</p>
                    <p><A href="/apps">"Go to my apps"</A></p>
                </section>
            }
        }}
    }
}

#[component]
pub fn Settings() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let (field, general) = errors(create);
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    // A token created by a plain form post arrives once through a cookie.
    let flashed = Resource::new(|| (), |_| take_new_token());
    let new_token = move || {
        create
            .value()
            .get()
            .and_then(|r| r.ok().flatten())
            .map(|t| t.token)
    };
    view! {
        <Title text="Account settings" />
        <section class="wide">
            <h1>"Account settings"</h1>
            <section class="card" aria-labelledby="tokens-heading">
                <h2 id="tokens-heading">"API tokens"</h2>
                <p>"A personal API token lets scripts use Kiln's JSON API as you: send it as "<code>"Authorization: Bearer <token>"</code>". Anyone holding it can act as you, so keep it secret and revoke it when it is no longer needed."</p>
                <ActionForm action=create attr:class="row">
                    <Field label="Token name" name="name" autocomplete="off" error=field("name") />
                    <button type="submit" disabled=move || create.pending().get()>"Create token"</button>
                </ActionForm>
                <FormError error=general />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let flashed = flashed.await.ok().flatten();
                        let shown = new_token().or(flashed);
                        shown.map(|t| view! {
                            <div class="new-token" role="status">
                                <p>"Your new token. Copy it now: it will not be shown again."</p>
                                <code data-testid="new-token">{t}</code>
                            </div>
                        })
                    })}
                </Transition>
                <Transition fallback=|| view! { <p>"Loading tokens…"</p> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Ok(list) if list.is_empty() => view! { <p class="empty">"No tokens yet."</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="tokens" aria-label="API tokens">
                                    {list.into_iter().map(|t| {
                                        let label = format!("Revoke {}", t.name);
                                        view! {
                                            <li>
                                                <div>
                                                    <strong>{t.name.clone()}</strong>
                                                    <span class="muted">" "<code>{format!("{}…", t.prefix)}</code>
                                                    " · created "{date(t.created_at)}
                                                    {t.last_used_at.map(|u| format!(" · last used {}", date(u)))}</span>
                                                </div>
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="id" value=t.id />
                                                    <button type="submit" class="danger small" aria-label=label>"Revoke"</button>
                                                </ActionForm>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </section>
    }
}
