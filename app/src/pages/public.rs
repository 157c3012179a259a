//! Pages anyone can see.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Kiln"</h1>
            <p class="lead">"Describe an app. Get a live, working, tested app — on your own server."</p>
            <div class="actions">
                <A href="/signup" attr:class="button">"Sign up"</A>
                <A href="/login" attr:class="button secondary">"Log in"</A>
            </div>
        </section>
        <section class="features" aria-label="What Kiln does">
            <article>
                <h2>"Describe"</h2>
                <p>"Type what the app should do — the things it keeps, who signs in, what people see. Kiln plans the entities, fields and pages, and you can adjust the plan."</p>
            </article>
            <article>
                <h2>"Generate and check"</h2>
                <p>"Kiln writes plain files, then formats, lints and tests them in a sandbox. Only code that passes is kept, as a commit in the app's own history."</p>
            </article>
            <article>
                <h2>"Run it"</h2>
                <p>"Each app goes live on its own origin with its own storage. Kiln works fully offline: SQLite and local disk by default, Postgres when a team outgrows one machine."</p>
            </article>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <A href="/">"Go to the start page"</A> "."</p>
        </section>
    }
}
