//! Sign-up, log-in, email verification and account settings.

use crate::api::{
    ChangeEmail, ChangePassword, CreateToken, DeleteAccount, ForgotPassword as ForgotFn,
    Login as LoginFn, LogoutEverywhere, ResetPassword as ResetFn, RevokeSession, RevokeToken,
    Signup as SignupFn, UndoEmailChange, current_user, list_sessions, list_tokens, outbox,
    take_new_token,
};
use crate::components::{Field, FormError, date, datetime};
use crate::error::PortalError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// Field and form errors of an action's last answer.
fn errors<I, O>(
    action: ServerAction<I>,
) -> (impl Fn(&'static str) -> Signal<Option<String>>, Signal<Option<String>>)
where
    I: leptos::server_fn::ServerFn<Output = O, Error = PortalError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    let err = move || action.value().get().and_then(|r| r.err());
    let field = move |f: &'static str| Signal::derive(move || err().and_then(|e| e.field(f)));
    (field, Signal::derive(move || err().and_then(|e| e.general())))
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
    let reset = move || query.read().get("reset").is_some();
    view! {
        <Title text="Log in" />
        <section class="narrow card">
            <h1>"Log in to Kiln"</h1>
            {move || reset().then(|| view! {
                <p class="success" role="status">"Your password was changed and every session ended. Log in with the new password."</p>
            })}
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
            <p class="aside"><A href="/forgot-password">"Forgot your password?"</A></p>
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

/// The page an emailed link lands on: a title and a sentence chosen by `?status=`.
#[component]
fn LinkResult(
    pick: fn(&str) -> (&'static str, &'static str),
    next: (&'static str, &'static str),
) -> impl IntoView {
    let query = use_query_map();
    let status = move || query.read().get("status").unwrap_or_default();
    view! {
        {move || {
            let (title, text) = pick(status().as_str());
            view! {
                <Title text=title />
                <section class="narrow card">
                    <h1>{title}</h1>
                    <p>{text}</p>
                    <p><A href=next.0>{next.1}</A></p>
                </section>
            }
        }}
    }
}

#[component]
pub fn Verified() -> impl IntoView {
    let pick = |status: &str| match status {
        "ok" => ("Email verified", "Thank you: your address is confirmed and you can create apps."),
        "used" => (
            "Link not valid",
            "This link was already used. If you confirmed your address, just log in.",
        ),
        "expired" => (
            "Link not valid",
            "This link has expired. Log in and ask for a new one on the My apps page.",
        ),
        "error" => (
            "Something went wrong",
            "We could not check this link just now. Please try again in a moment.",
        ),
        _ => (
            "Link not valid",
            "This link is not valid. Check that you copied all of it, or ask for a new one.",
        ),
    };
    view! { <LinkResult pick=pick next=("/apps", "Go to my apps") /> }
}

#[component]
pub fn ForgotPassword() -> impl IntoView {
    let action = ServerAction::<ForgotFn>::new();
    let (field, general) = errors(action);
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    view! {
        <Title text="Forgot your password" />
        <section class="narrow card">
            <h1>"Reset your password"</h1>
            {move || sent().then(|| view! {
                <p class="success" role="status">"Check your email: if an account uses this address, a link to reset its password is on its way. It works once and expires in an hour."</p>
            })}
            <p>"Enter the address of your account and we will email you a link to choose a new password."</p>
            <ActionForm action=action>
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field("email") />
                <FormError error=general />
                <button type="submit" disabled=move || action.pending().get()>"Send reset link"</button>
            </ActionForm>
            <p class="aside"><A href="/login">"Back to log in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPassword() -> impl IntoView {
    let action = ServerAction::<ResetFn>::new();
    let (field, general) = errors(action);
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    view! {
        <Title text="Choose a new password" />
        <section class="narrow card">
            <h1>"Choose a new password"</h1>
            <p>"Setting a new password logs out every device signed in to your account."</p>
            <ActionForm action=action>
                <input type="hidden" name="token" value=token />
                <Field
                    label="New password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 12 characters."
                    error=field("password")
                />
                <FormError error=general />
                <button type="submit" disabled=move || action.pending().get()>"Set new password"</button>
            </ActionForm>
            <p class="aside"><A href="/forgot-password">"Ask for a new link"</A></p>
        </section>
    }
}

#[component]
pub fn EmailChanged() -> impl IntoView {
    let pick = |status: &str| match status {
        "ok" => (
            "Email address changed",
            "Your account now uses its new address. Use it to log in from now on.",
        ),
        "undone" => (
            "Change undone",
            "Your account keeps its old address and every session has ended. Log in again, and change your password if someone else made the change.",
        ),
        "used" => ("Link not valid", "This link was already used."),
        "expired" => (
            "Link not valid",
            "This link has expired. Ask for the change again in your account settings.",
        ),
        "taken" => {
            ("Link not valid", "Another account uses this address now, so it cannot be yours.")
        }
        "error" => (
            "Something went wrong",
            "We could not check this link just now. Please try again in a moment.",
        ),
        _ => ("Link not valid", "This link is not valid. Check that you copied all of it."),
    };
    view! { <LinkResult pick=pick next=("/login", "Log in") /> }
}

#[component]
pub fn UndoEmail() -> impl IntoView {
    let action = ServerAction::<UndoEmailChange>::new();
    let (_, general) = errors(action);
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    view! {
        <Title text="Undo the email change" />
        <section class="narrow card">
            <h1>"Was this not you?"</h1>
            <p>"Keeping your old address cancels the change (or undoes it, if it already happened) and logs out every device signed in to your account."</p>
            <ActionForm action=action>
                <input type="hidden" name="token" value=token />
                <FormError error=general />
                <button type="submit" class="danger" disabled=move || action.pending().get()>"Keep my old address"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn Settings() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let query = use_query_map();
    let changed = move || query.read().get("changed");
    view! {
        <Title text="Account settings" />
        <section class="wide">
            <h1>"Account settings"</h1>
            {move || changed().map(|what| view! {
                <p class="success" role="status">{match what.as_str() {
                    "password" => "Your password was changed. Other devices were logged out.",
                    _ => "Check your new inbox: the address changes when you open the link we sent there. We also told your current address.",
                }}</p>
            })}
            <EmailSection user=user />
            <PasswordSection />
            <SessionsSection />
            <TokensSection />
            <OutboxSection />
            <DeleteSection />
        </section>
    }
}

type UserResource = Resource<Result<Option<kiln_core::UserInfo>, PortalError>>;

#[component]
fn EmailSection(user: UserResource) -> impl IntoView {
    let action = ServerAction::<ChangeEmail>::new();
    let (field, general) = errors(action);
    view! {
        <section class="card" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email address"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    user.await.ok().flatten().map(|u| view! {
                        <p>"Your account uses "<strong data-testid="current-email">{u.email}</strong>"."</p>
                    })
                })}
            </Transition>
            <ActionForm action=action attr:class="row">
                <Field label="New email address" name="email" id="new-email" kind="email" autocomplete="email" error=field("email") />
                <button type="submit" disabled=move || action.pending().get()>"Change email"</button>
            </ActionForm>
            <FormError error=general />
        </section>
    }
}

#[component]
fn PasswordSection() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let (field, general) = errors(action);
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <ActionForm action=action>
                <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" error=field("current_password") />
                <Field label="New password" name="password" id="new-password" kind="password" autocomplete="new-password" hint="At least 12 characters. Other devices will be logged out." error=field("password") />
                <FormError error=general />
                <button type="submit" disabled=move || action.pending().get()>"Change password"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn SessionsSection() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    let sessions = Resource::new(move || revoke.version().get(), |_| list_sessions());
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p>"Browsers and devices signed in to your account."</p>
            <Transition fallback=|| view! { <p>"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => view! {
                            <ul class="tokens" aria-label="Sessions">
                                {list.into_iter().map(|s| {
                                    let label = format!("Revoke session {} ({})", s.id, s.device);
                                    view! {
                                        <li>
                                            <div>
                                                <strong>{s.device.clone()}</strong>
                                                {s.current.then(|| view! { <span class="tag">"This browser"</span> })}
                                                <span class="muted">" · signed in "{date(s.created_at)}" · last seen "{datetime(s.last_seen_at)}</span>
                                            </div>
                                            <ActionForm action=revoke attr:class="inline">
                                                <input type="hidden" name="id" value=s.id />
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
            <ActionForm action=everywhere>
                <button type="submit" class="secondary">"Log out everywhere"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn TokensSection() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let (field, general) = errors(create);
    let tokens =
        Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    // A token created by a plain form post arrives once through a cookie.
    let flashed = Resource::new(|| (), |_| take_new_token());
    let new_token = move || create.value().get().and_then(|r| r.ok().flatten()).map(|t| t.token);
    view! {
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
    }
}

#[component]
fn OutboxSection() -> impl IntoView {
    let mail = Resource::new(|| (), |_| outbox());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                // Only operators get a list; everyone else gets None and sees no section.
                let Some(list) = mail.await.ok().flatten() else {
                    return ().into_any();
                };
                let body = if list.is_empty() {
                    view! { <p class="empty">"No mail yet."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap">
                            <table aria-label="Mail outbox">
                                <thead><tr><th>"State"</th><th>"To"</th><th>"Subject"</th><th>"Queued"</th><th>"Attempts"</th><th>"Last error"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|m| view! {
                                        <tr class=format!("state-{}", m.state)>
                                            <td>{m.state.clone()}</td>
                                            <td>{m.to}</td>
                                            <td>{m.subject}</td>
                                            <td>{datetime(m.created_at)}</td>
                                            <td>{m.attempts}</td>
                                            <td>{m.last_error.unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                };
                view! {
                    <section class="card" aria-labelledby="outbox-heading">
                        <h2 id="outbox-heading">"Mail outbox"</h2>
                        <p>"The newest emails this Kiln queued, as operators see them. Failing ones are retried with growing delays."</p>
                        {body}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn DeleteSection() -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    let (field, general) = errors(action);
    view! {
        <section class="card danger-zone" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete account"</h2>
            <p>"This removes your account, its sessions and its API tokens for good."</p>
            <ActionForm action=action>
                <Field label="Password to confirm" name="password" id="delete-password" kind="password" autocomplete="current-password" error=field("password") />
                <FormError error=general />
                <button type="submit" class="danger">"Delete my account"</button>
            </ActionForm>
        </section>
    }
}
