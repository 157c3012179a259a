//! "My apps": the apps of the signed-in user, and those shared with them.

use crate::api::{ResendVerification, current_user, my_apps};
use crate::components::{FormError, date};
use crate::error::PortalError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Apps() -> impl IntoView {
    let resend = ServerAction::<ResendVerification>::new();
    let user = Resource::new(move || resend.version().get(), |_| current_user());
    let apps = Resource::new(|| (), |_| my_apps());
    let query = use_query_map();
    let resent = move || {
        query.read().get("resent").is_some() || matches!(resend.value().get(), Some(Ok(())))
    };
    let resend_error = Signal::derive(move || {
        resend.value().get().and_then(|r| r.err()).map(|e: PortalError| e.to_string())
    });
    view! {
        <Title text="My apps" />
        <section class="wide">
            <div class="title-row">
                <h1>"My apps"</h1>
                <A href="/apps/new" attr:class="button">"Create new app"</A>
            </div>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let user = user.await.ok().flatten();
                    user.filter(|u| !u.verified).map(|u| view! {
                        <div class="notice" role="region" aria-label="Email verification">
                            <p><strong>"Verify your email to create apps."</strong>
                            " We sent a link to "{u.email.clone()}". Open it to confirm your address."</p>
                            {move || resent().then(|| view! {
                                <p role="status">"We sent a new link to "{u.email.clone()}"."</p>
                            })}
                            <ActionForm action=resend attr:class="inline">
                                <button type="submit" class="secondary" disabled=move || resend.pending().get()>
                                    "Send a new link"
                                </button>
                            </ActionForm>
                            <FormError error=resend_error />
                        </div>
                    })
                })}
            </Transition>
            <Transition fallback=|| view! { <p>"Loading apps…"</p> }>
                {move || Suspend::new(async move {
                    match apps.await {
                        Ok(list) if !list.is_empty() => view! {
                            <ul class="tokens" aria-label="My apps">
                                {list.into_iter().map(|a| view! {
                                    <li>
                                        <div>
                                            <strong><A href=format!("/apps/{}", a.id)>{a.name.clone()}</A></strong>
                                            <span class="muted">" "<code>{a.slug.clone()}</code>
                                            " · created "{date(a.created_at)}
                                            " · "{a.versions}" version(s)"</span>
                                            {a.role.clone().map(|r| view! {
                                                " "<span class="tag">"shared with you · "{r}</span>
                                            })}
                                            {a.url.clone().map(|u| view! {
                                                " "<a class="app-url" href=u.clone() target="_blank" rel="noopener external">{u.clone()}</a>
                                            })}
                                        </div>
                                        <span class=format!("tag state-{}", a.state.clone().unwrap_or_default())>
                                            {a.state.clone().unwrap_or_else(|| "draft".into())}
                                        </span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        _ => view! {
                            <div class="empty-state">
                                <h2>"No apps yet"</h2>
                                <p>"Apps you describe and generate will be listed here, with their state and last generation."</p>
                                <p><A href="/apps/new" attr:class="button">"Create new app"</A></p>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
