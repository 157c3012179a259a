//! "Create new app": (1) describe the app, (2) review and edit the plan the planner found,
//! (3) generate, which opens the app's page with the live status.

use crate::api::{CreateApp, PlanApp, current_user};
use crate::components::FormError;
use crate::error::PortalError;
use crate::plan_editor::{Draft, PlanEditor};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

/// Starting points for the description.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "Todo list",
        "A todo app where I sign in and keep my own tasks. Each task has a title, notes, a due \
         date, a priority (low, medium, high) and whether it is done. Only I can see my tasks.",
    ),
    (
        "Book club",
        "An app for our book club. Members sign in. We keep a list of books (title, author, \
         year) and schedule meetings with a date, a place and the book we discuss. Everyone in \
         the club sees the books and meetings.",
    ),
    (
        "Recipe box",
        "A public recipe collection: each recipe has a name, a category (breakfast, lunch, \
         dinner, dessert), the cooking time in minutes, the ingredients and the steps. Visitors \
         can read recipes; signed-in cooks add their own.",
    ),
];

#[component]
pub fn NewApp() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let description = RwSignal::new(String::new());
    let step = RwSignal::new(1u8);
    let draft: RwSignal<Option<Draft>> = RwSignal::new(None);
    let note = RwSignal::new(String::new());
    let plan = ServerAction::<PlanApp>::new();
    let create = ServerAction::<CreateApp>::new();

    Effect::new(move |_| {
        if let Some(Ok(answer)) = plan.value().get() {
            draft.set(Some(Draft::from_spec(&answer.spec)));
            note.set(answer.note);
            step.set(2);
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(created)) = create.value().get() {
            navigate(&format!("/apps/{}", created.app_id), Default::default());
        }
    });

    let plan_error = Signal::derive(move || {
        plan.value().get().and_then(|r| r.err()).map(|e: PortalError| e.to_string())
    });
    let create_error = Signal::derive(move || {
        create.value().get().and_then(|r| r.err()).map(|e: PortalError| e.to_string())
    });
    let on_plan = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        plan.dispatch(PlanApp { description: description.get_untracked() });
    };
    let on_generate = move |_| {
        let Some(d) = draft.get_untracked() else { return };
        let spec = d.to_spec();
        if spec.validate().is_err() {
            return;
        }
        let spec = serde_json::to_string(&spec).unwrap_or_default();
        create.dispatch(CreateApp { description: description.get_untracked(), spec });
    };

    view! {
        <Title text="Create new app" />
        <section class="wide wizard">
            <h1>"Create new app"</h1>
            <ol class="steps" aria-label="Steps">
                <li aria-current=move || (step.get() == 1).then_some("step")>"1. Describe"</li>
                <li aria-current=move || (step.get() == 2).then_some("step")>"2. Review the plan"</li>
                <li>"3. Generate"</li>
            </ol>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let user = user.await.ok().flatten();
                    user.filter(|u| !u.verified).map(|u| view! {
                        <div class="notice" role="region" aria-label="Email verification">
                            <p><strong>"Verify your email to generate apps."</strong>
                            " We sent a link to "{u.email}". You can describe and plan meanwhile."</p>
                        </div>
                    })
                })}
            </Transition>
            <div hidden=move || step.get() != 1>
                <form on:submit=on_plan>
                    <div class="field">
                        <label for="description">"Describe your app"</label>
                        <p class="hint" id="description-hint">
                            "Say what people keep track of, what each thing has (a due date, a priority (low, medium, high), a rating out of 5 …), who signs in and who sees what."
                        </p>
                        <textarea
                            id="description"
                            name="description"
                            rows="10"
                            maxlength="20000"
                            aria-describedby="description-hint"
                            prop:value=move || description.get()
                            on:input=move |ev| description.set(event_target_value(&ev))
                        ></textarea>
                    </div>
                    <div class="examples" role="group" aria-label="Examples to start from">
                        <span class="muted">"Start from an example: "</span>
                        {EXAMPLES.iter().map(|(title, text)| view! {
                            <button type="button" class="secondary small"
                                on:click=move |_| description.set((*text).to_owned())>
                                {*title}
                            </button>
                        }).collect_view()}
                    </div>
                    <FormError error=plan_error />
                    <div class="actions">
                        <button type="submit" disabled=move || plan.pending().get()
                            || description.with(|d| d.trim().is_empty())>
                            {move || if plan.pending().get() { "Planning…" } else { "Plan the app" }}
                        </button>
                    </div>
                </form>
            </div>
            {move || (step.get() == 2).then(|| draft.get().map(|d| {
                let problems = Memo::new(move |_| match d.to_spec().validate() {
                    Ok(()) => Vec::new(),
                    Err(e) => e.fields.into_iter().map(|f| f.message).collect(),
                });
                view! {
                    <div class="review">
                        <p class="hint" role="status">{move || note.get()}</p>
                        <PlanEditor draft=d />
                        {move || {
                            let list = problems.get();
                            (!list.is_empty()).then(|| view! {
                                <div class="form-error" role="alert">
                                    <p>"Fix these before generating:"</p>
                                    <ul>{list.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                                </div>
                            })
                        }}
                        <FormError error=create_error />
                        <div class="actions">
                            <button type="button" class="secondary" on:click=move |_| step.set(1)>
                                "Back to the description"
                            </button>
                            <button type="button" on:click=on_generate
                                disabled=move || create.pending().get() || !problems.with(Vec::is_empty)>
                                {move || if create.pending().get() { "Starting…" } else { "Generate" }}
                            </button>
                        </div>
                    </div>
                }
            }))}
        </section>
    }
}
