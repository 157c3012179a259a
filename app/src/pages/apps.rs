//! "My apps": the apps of the signed-in user.

use crate::api::{ResendVerification, current_user};
use crate::components::FormError;
use crate::error::PortalError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Apps() -> impl IntoView {
    let resend = ServerAction::<ResendVerification>::new();
    let user = Resource::new(move || resend.version().get(), |_| current_user());
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
            <h1>"My apps"</h1>
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
            <div class="empty-state">
                <h2>"No apps yet"</h2>
                <p>"Apps you describe and generate will be listed here, with their state and last generation."</p>
                <button type="button" disabled=true title="App generation is not enabled on this Kiln yet">
                    "Create new app"
                </button>
                <p class="hint">"App generation is not enabled on this Kiln yet."</p>
            </div>
        </section>
    }
}
