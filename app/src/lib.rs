//! Kiln's portal: the HTML shell, the router, pages and server functions. Compiled with `ssr`
//! into the server and with `hydrate` into the browser bundle.

pub mod api;
mod collab_editor;
mod components;
pub mod error;
mod pages;
mod plan_editor;
#[cfg(feature = "ssr")]
mod server;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="Kiln turns a description of an app into a live, working, tested app." />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Runs only in the browser: tells tests (and styles) the page is interactive.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/kiln.css" />
        <Title formatter=|t: String| if t.is_empty() { "Kiln".to_owned() } else { format!("{t} · Kiln") } />
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <components::Header />
            <main id="main">
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=pages::Landing />
                    <Route path=StaticSegment("signup") view=pages::Signup />
                    <Route path=StaticSegment("login") view=pages::Login />
                    <Route path=StaticSegment("check-email") view=pages::CheckEmail />
                    <Route path=StaticSegment("verified") view=pages::Verified />
                    <Route path=StaticSegment("apps") view=pages::Apps ssr=SsrMode::Async />
                    <Route path=(StaticSegment("apps"), StaticSegment("new")) view=pages::NewApp />
                    <Route path=(StaticSegment("apps"), ParamSegment("id")) view=pages::AppPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("settings") view=pages::Settings ssr=SsrMode::Async />
                    <Route path=StaticSegment("forgot-password") view=pages::ForgotPassword />
                    <Route path=StaticSegment("reset-password") view=pages::ResetPassword />
                    <Route path=StaticSegment("email-changed") view=pages::EmailChanged />
                    <Route path=(StaticSegment("email"), StaticSegment("undo")) view=pages::UndoEmail />
                </Routes>
            </main>
            <footer class="site-footer">
                <p>"Kiln — describe an app, get a live, tested app. "<A href="/">"About"</A></p>
            </footer>
        </Router>
    }
}
