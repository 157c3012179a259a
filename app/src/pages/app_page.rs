//! An app's page: its description, the live status of its newest generation (server-sent
//! events: stage, progress, log lines, elapsed time), and its versions with downloads.

use crate::api::{
    CancelJob, DeleteApp, GenerateApp, InviteMember, RemoveMember, RevokeInvite, RollbackApp,
    SaveDescription, SetMemberRole, app_members, get_app,
};
use crate::collab_editor::{DescriptionEditor, Presence};
use crate::components::{FormError, date, datetime};
use crate::error::PortalError;
use kiln_core::{AppDetail, JobEvent, JobStatus, VersionInfo};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AppPage() -> impl IntoView {
    let params = use_params_map();
    let app_id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let reload = RwSignal::new(0u32);
    // Why the live editor was disconnected, shown if the app is then gone for this person.
    let closed_because = RwSignal::new(None::<String>);
    let detail = Resource::new(
        move || (app_id(), reload.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_app(id).await,
                None => Err(PortalError(kiln_core::ApiError::new(
                    kiln_core::ErrorCode::NotFound,
                    "No such app.",
                ))),
            }
        },
    );
    view! {
        <section class="wide app-page">
            <Transition fallback=|| view! { <p>"Loading the app…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(a) => view! { <AppView app=a reload=reload closed_because=closed_because /> }.into_any(),
                        Err(e) => view! {
                            <Title text="App not found" />
                            <h1>"App not found"</h1>
                            {closed_because.get_untracked().map(|why| view! { <p class="notice" role="status">{why}</p> })}
                            <p role="alert">{e.to_string()}</p>
                            <p><A href="/apps">"Back to my apps"</A></p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AppView(
    app: AppDetail,
    reload: RwSignal<u32>,
    closed_because: RwSignal<Option<String>>,
) -> impl IntoView {
    let generate = ServerAction::<GenerateApp>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = generate.value().get() {
            reload.update(|n| *n += 1);
        }
    });
    let save = ServerAction::<SaveDescription>::new();
    let generate_error = Signal::derive(move || {
        generate
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| save.value().get().and_then(|r| r.err()))
            .map(|e: PortalError| e.to_string())
    });
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    let text = RwSignal::new(app.description.clone());
    let original = app.description.clone();
    let edited = move || text.with(|t| t.trim() != original.trim());
    let app_id = app.id;
    let owner = app.role == "owner";
    let can_edit = app.role != "viewer";
    // Connected to the shared document: Generate then reads it on the server.
    let live = RwSignal::new(false);
    // Who else has the description open (presence).
    let present = RwSignal::new(Vec::<Presence>::new());
    let running = app.job.as_ref().is_some_and(|j| !j.finished()) || !owner;
    let entities = app
        .spec
        .as_ref()
        .map(|s| s.entities.iter().map(|e| e.label.clone()).collect::<Vec<_>>().join(", "));
    view! {
        <Title text=app.name.clone() />
        <p class="crumbs"><A href="/apps">"My apps"</A>" / "{app.name.clone()}</p>
        <h1>{app.name.clone()}</h1>
        <p class="muted"><code>{app.slug.clone()}</code>" · created "{datetime(app.created_at)}
            {entities.map(|e| format!(" · entities: {e}"))}</p>
        {app.url.clone().map(|url| view! {
            <p class="live-at">
                <strong>{format!("Live (version {})", app.live_version.unwrap_or_default())}</strong>" at "
                <a href=url.clone() target="_blank" rel="noopener external" class="app-url">{url.clone()}</a>
            </p>
        })}
        <h2><label for="description">"Description"</label></h2>
        {if app.collaborative {
            view! {
                <DescriptionEditor app_id=app_id text=text live=live can_edit=can_edit you=app.you.clone() access_changed=reload closed_because=closed_because peers=present />
            }.into_any()
        } else {
            view! {
                <textarea id="description" class="description-editor" rows="5"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            }.into_any()
        }}
        {move || saved().then(|| view! { <p class="muted" role="status">"Description saved."</p> })}
        <FormError error=generate_error />
        {(!running).then(|| view! {
            <div class="actions">
                <button type="button" disabled=move || generate.pending().get()
                    on:click=move |_| {
                        let d = (!live.get_untracked()).then(|| text.get_untracked());
                        generate.dispatch(GenerateApp { app_id, description: d, confirm_data_loss: false });
                    }>
                    {if app.versions.is_empty() && app.job.is_none() { "Generate" } else { "Generate again" }}
                </button>
                <button type="button" class="secondary"
                    disabled=move || save.pending().get() || !edited()
                    on:click=move |_| { save.dispatch(SaveDescription { app_id, description: text.get_untracked() }); }>
                    "Save description"
                </button>
            </div>
        })}
        {(!owner).then(|| view! {
            <p class="muted">{format!("You are {} of this app: the owner generates, deploys and invites.",
                if can_edit { "an editor" } else { "a viewer" })}</p>
        })}
        {app.collaborative.then(|| view! { <People app_id=app_id owner=owner present=present /> })}
        {owner.then(|| app.job.clone().map(|job| view! { <JobLive job=job reload=reload generate=generate /> }))}
        {owner.then(|| view! {
            <h2>"Versions"</h2>
            <Versions app_id=app.id versions=app.versions.clone() live=app.live_version reload=reload busy=running />
            <DeleteSection app_id=app.id slug=app.slug.clone() />
        })}
    }
}

/// Who has access to the app. The owner invites people by email, changes their roles and
/// removes them (which closes their live connections); the others see the list.
#[component]
fn People(app_id: i64, owner: bool, present: RwSignal<Vec<Presence>>) -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let changes = move || {
        invite.version().get()
            + revoke.version().get()
            + set_role.version().get()
            + remove.version().get()
    };
    // Someone arriving in the document (who may have just accepted an invitation) or leaving
    // it: the list is read again.
    let names = Memo::new(move |_| {
        let mut n: Vec<String> = present.with(|p| p.iter().map(|x| x.name.clone()).collect());
        n.sort();
        n.dedup();
        n
    });
    let people = Resource::new(move || (changes(), names.get()), move |_| app_members(app_id));
    let error = Signal::derive(move || {
        let e = |r: Option<Result<(), PortalError>>| r.and_then(|r| r.err());
        invite
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| e(revoke.value().get()))
            .or_else(|| e(set_role.value().get()))
            .or_else(|| e(remove.value().get()))
            .map(|e: PortalError| e.to_string())
    });
    let sent = move || match invite.value().get() {
        Some(Ok(i)) => {
            Some(format!("Invitation sent to {} (valid until {}).", i.email, date(i.expires_at)))
        }
        _ => None,
    };
    view! {
        <section class="members" aria-label="People">
            <h2>"People"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match people.await {
                        Ok(p) => view! {
                            <ul class="tokens" aria-label="People with access">
                                {p.members.into_iter().map(|m| {
                                    let user_id = m.user_id;
                                    let manage = owner && m.role != "owner";
                                    let email = m.email.clone();
                                    view! {
                                        <li>
                                            <div><strong>{m.email.clone()}</strong></div>
                                            {if manage {
                                                let current = m.role.clone();
                                                view! {
                                                    <span class="row">
                                                        <select aria-label=format!("Role of {email}")
                                                            disabled=move || set_role.pending().get()
                                                            on:change=move |ev| {
                                                                set_role.dispatch(SetMemberRole { app_id, user_id, role: event_target_value(&ev) });
                                                            }>
                                                            <option value="editor" selected={current == "editor"}>"editor"</option>
                                                            <option value="viewer" selected={current == "viewer"}>"viewer"</option>
                                                        </select>
                                                        " "<button type="button" class="secondary small"
                                                            aria-label=format!("Remove {email}")
                                                            disabled=move || remove.pending().get()
                                                            on:click=move |_| { remove.dispatch(RemoveMember { app_id, user_id }); }>
                                                            "Remove"
                                                        </button>
                                                    </span>
                                                }.into_any()
                                            } else {
                                                view! { <span class="tag">{m.role.clone()}</span> }.into_any()
                                            }}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {(!p.invites.is_empty()).then(|| view! {
                                <h3>"Invitations not yet accepted"</h3>
                                <ul class="tokens" aria-label="Open invitations">
                                    {p.invites.into_iter().map(|i| {
                                        let invite_id = i.id;
                                        view! {
                                            <li>
                                                <div><strong>{i.email.clone()}</strong>
                                                    <span class="muted">{format!(" · {} · until {}", i.role, date(i.expires_at))}</span></div>
                                                <button type="button" class="secondary small"
                                                    aria-label=format!("Withdraw the invitation to {}", i.email)
                                                    disabled=move || revoke.pending().get()
                                                    on:click=move |_| { revoke.dispatch(RevokeInvite { app_id, invite_id }); }>
                                                    "Withdraw"
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            })}
                        }.into_any(),
                        Err(e) => view! { <p role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <FormError error=error />
            {owner.then(|| view! {
                <ActionForm action=invite attr:class="inline invite-form">
                    <input type="hidden" name="app_id" value=app_id />
                    <label for="invite-email">"Invite by email"</label>
                    <input id="invite-email" name="email" type="email" required autocomplete="off"
                        placeholder="name@example.com" />
                    <label for="invite-role">"as"</label>
                    <select id="invite-role" name="role">
                        <option value="editor" selected>"editor"</option>
                        <option value="viewer">"viewer"</option>
                    </select>
                    <button type="submit" disabled=move || invite.pending().get()>"Send invitation"</button>
                </ActionForm>
                {move || sent().map(|m| view! { <p class="muted" role="status">{m}</p> })}
            })}
        </section>
    }
}

/// Deleting the app: typing its slug enables the button (the server checks it too).
#[component]
fn DeleteSection(app_id: i64, slug: String) -> impl IntoView {
    let delete = ServerAction::<DeleteApp>::new();
    let typed = RwSignal::new(String::new());
    let error = Signal::derive(move || {
        delete.value().get().and_then(|r| r.err()).map(|e: PortalError| e.to_string())
    });
    let expected = slug.clone();
    view! {
        <section class="danger-zone" aria-label="Delete this app">
            <h2>"Delete this app"</h2>
            <p>"This takes the app offline and removes its end users, their data, its versions, history and archives. It cannot be undone."</p>
            <ActionForm action=delete>
                <input type="hidden" name="app_id" value=app_id />
                <label for="confirm-delete">{format!("Type {slug} to confirm")}</label>
                <input id="confirm-delete" name="confirm" autocomplete="off"
                    on:input=move |ev| typed.set(event_target_value(&ev)) />
                <FormError error=error />
                <button type="submit" class="danger"
                    disabled=move || delete.pending().get() || typed.get().trim() != expected>
                    "Delete app"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Versions(
    app_id: i64,
    versions: Vec<VersionInfo>,
    live: Option<i64>,
    reload: RwSignal<u32>,
    busy: bool,
) -> impl IntoView {
    let rollback = ServerAction::<RollbackApp>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = rollback.value().get() {
            reload.update(|n| *n += 1);
        }
    });
    let rollback_error = Signal::derive(move || {
        rollback.value().get().and_then(|r| r.err()).map(|e: PortalError| e.to_string())
    });
    if versions.is_empty() {
        return view! { <p class="empty">"No version yet: each successful generation adds one."</p> }
            .into_any();
    }
    view! {
        <FormError error=rollback_error />
        <div class="table-wrap">
            <table class="versions" aria-label="Versions">
                <thead><tr><th>"Version"</th><th>"When"</th><th>"Description"</th><th>"Changes"</th><th>"Files"</th><th></th></tr></thead>
                <tbody>
                    {versions.into_iter().map(|v| {
                        let first: String = v.description.lines().next().unwrap_or("").chars().take(90).collect();
                        view! {
                            <tr>
                                <td>{format!("v{}", v.version)}
                                    {(live == Some(v.version)).then(|| view! { " "<span class="tag state-live">"live"</span> })}
                                </td>
                                <td>{datetime(v.created_at)}</td>
                                <td>{first}</td>
                                <td>{v.changes.clone()}</td>
                                <td>{v.files}</td>
                                <td><a href=format!("/api/apps/{app_id}/versions/{}/download", v.version)
                                    download="" rel="external">{format!("Download v{}", v.version)}</a>
                                    {(v.live_at.is_some() && live != Some(v.version) && !busy).then(|| {
                                        let version = v.version;
                                        view! {
                                            " "<button type="button" class="secondary small"
                                                disabled=move || rollback.pending().get()
                                                on:click=move |_| { rollback.dispatch(RollbackApp { app_id, version }); }>
                                                {format!("Roll back to v{version}")}
                                            </button>
                                        }
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn seconds(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn describe_state(state: &str) -> &'static str {
    match state {
        "queued" => "Queued: waiting for a worker",
        "planning" => "Planning the app",
        "generating" => "Writing the files",
        "checking" => "Checking: Prettier, ESLint and the tests, in the sandbox",
        "repairing" => "Repairing what the checks found",
        "packaging" => "Packaging the version",
        "packaged" => "Generated: the version is ready to download",
        "deploying" => "Deploying: migrating the data, smoke-checking, switching it live",
        "live" => "Live",
        "awaiting_confirmation" => "Waiting for your confirmation: the new plan would lose data",
        "failed" => "Generation failed",
        "cancelled" => "Cancelled",
        _ => "Working",
    }
}

/// The status of one job, followed live until it ends.
#[component]
fn JobLive(
    job: JobStatus,
    reload: RwSignal<u32>,
    generate: ServerAction<GenerateApp>,
) -> impl IntoView {
    let cancel = ServerAction::<CancelJob>::new();
    let cancel_error = Signal::derive(move || {
        cancel.value().get().and_then(|r| r.err()).map(|e: PortalError| e.to_string())
    });
    let job_id = job.job_id;
    let job_app = job.app_id;
    let created = job.created_at;
    let state = RwSignal::new(job.state.clone());
    let progress = RwSignal::new(job.progress);
    let events = RwSignal::new(job.events.clone());
    let error = RwSignal::new(job.error.clone());
    let finished_at = RwSignal::new(job.finished_at);
    let now = RwSignal::new(None::<i64>);
    let done = move || kiln_core::is_final_state(&state.get());

    #[cfg(feature = "hydrate")]
    live::follow(live::Follow { job_id, state, progress, events, error, finished_at, now, reload });
    #[cfg(not(feature = "hydrate"))]
    let _ = reload;

    let elapsed = move || match (finished_at.get(), now.get()) {
        (Some(end), _) => format!("took {}", seconds(end - created)),
        (None, Some(n)) => format!("elapsed {}", seconds(n - created)),
        (None, None) => String::new(),
    };
    view! {
        <section class="job" aria-label="Generation status">
            <h2>{format!("Generation (job {job_id})")}</h2>
            <p class=move || format!("job-state state-{}", state.get()) role="status" aria-live="polite">
                <strong data-state=move || state.get()>{move || describe_state(&state.get())}</strong>
                " · "<span class="elapsed">{elapsed}</span>
            </p>
            <progress max="100" value=move || progress.get() aria-label="Progress">
                {move || format!("{}%", progress.get())}
            </progress>
            {move || (state.get() == "awaiting_confirmation").then(|| view! {
                <div class="confirm-loss" role="alert">
                    <p><strong>"Not deployed yet: the new plan would lose data."</strong></p>
                    <pre>{error.get().unwrap_or_default()}</pre>
                    <p>"Edit the description or the plan and generate again to keep it, or deploy anyway."</p>
                    <button type="button" class="danger" disabled=move || generate.pending().get()
                        on:click=move |_| {
                            generate.dispatch(GenerateApp { app_id: job_app, description: None, confirm_data_loss: true });
                        }>
                        "Deploy anyway and lose this data"
                    </button>
                </div>
            })}
            {move || error.get().filter(|_| state.get() != "awaiting_confirmation").map(|e| view! {
                <div class="failure" role="alert">
                    <p><strong>"What went wrong:"</strong></p>
                    <pre>{e}</pre>
                    <p>"What to try: change the description or the plan so the problem above goes away, then generate again. If the same error comes back with a simple plan, tell your Kiln operator the job number ("{job_id}")."</p>
                </div>
            })}
            <details open=true>
                <summary>"Build log"</summary>
                <ol class="log" aria-label="Build log">
                    {move || events.get().into_iter().map(|e: JobEvent| view! {
                        <li class=format!("ev-{}", e.kind)>
                            <span class="muted">{format!("+{} ", seconds(e.at - created))}</span>
                            {if e.kind == "state" { format!("[{}] {}", e.state, e.message) } else { e.message }}
                        </li>
                    }).collect_view()}
                </ol>
            </details>
            <FormError error=cancel_error />
            {move || (!done()).then(|| view! {
                <button type="button" class="secondary" disabled=move || cancel.pending().get()
                    on:click=move |_| { cancel.dispatch(CancelJob { job_id }); }>
                    "Cancel generation"
                </button>
            })}
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod live {
    //! The browser side: an `EventSource` on `/api/jobs/{id}/events`, and a clock for the
    //! elapsed time.
    use super::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    pub struct Follow {
        pub job_id: i64,
        pub state: RwSignal<String>,
        pub progress: RwSignal<i64>,
        pub events: RwSignal<Vec<JobEvent>>,
        pub error: RwSignal<Option<String>>,
        pub finished_at: RwSignal<Option<i64>>,
        pub now: RwSignal<Option<i64>>,
        pub reload: RwSignal<u32>,
    }

    type Handler = Closure<dyn FnMut(web_sys::MessageEvent)>;

    pub fn follow(f: Follow) {
        if kiln_core::is_final_state(&f.state.get_untracked()) {
            return;
        }
        let Follow { job_id, state, progress, events, error, finished_at, now, reload } = f;
        let tick = move || now.set(Some(web_sys::js_sys::Date::now() as i64));
        tick();
        let interval = set_interval_with_handle(tick, std::time::Duration::from_millis(200)).ok();
        let Ok(source) = web_sys::EventSource::new(&format!("/api/jobs/{job_id}/events")) else {
            if let Some(h) = interval {
                h.clear();
            }
            return;
        };
        let on_event: Handler = Closure::new(move |m: web_sys::MessageEvent| {
            let Some(text) = m.data().as_string() else { return };
            let Ok(e) = serde_json::from_str::<JobEvent>(&text) else { return };
            if events.with_untracked(|l| l.iter().any(|o| o.id == e.id)) {
                return;
            }
            state.set(e.state.clone());
            progress.set(e.progress);
            events.update(|l| l.push(e));
        });
        let closing = source.clone();
        let on_end: Handler = Closure::new(move |m: web_sys::MessageEvent| {
            closing.close();
            if let Some(h) = interval {
                h.clear();
            }
            let Some(text) = m.data().as_string() else { return };
            if let Ok(s) = serde_json::from_str::<JobStatus>(&text) {
                state.set(s.state);
                progress.set(s.progress);
                error.set(s.error);
                finished_at.set(s.finished_at);
                // The page reloads its data (the new version, the buttons) once this handler
                // has returned: reloading drops this component, and with it this closure.
                set_timeout(move || reload.update(|n| *n += 1), std::time::Duration::ZERO);
            }
        });
        // The browser reconnects by itself after a network error or when the server ends a long
        // stream; when it gives up (closed: e.g. a 401 after the session lapsed), the page
        // reloads its data a little later, which follows the job again if it still runs.
        let watched = source.clone();
        let on_error: Handler = Closure::new(move |_: web_sys::MessageEvent| {
            if watched.ready_state() == web_sys::EventSource::CLOSED {
                if let Some(h) = interval {
                    h.clear();
                }
                set_timeout(move || reload.update(|n| *n += 1), std::time::Duration::from_secs(3));
            }
        });
        let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("message", on_event.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
        let keep = StoredValue::new_local((source, on_event, on_end, on_error));
        on_cleanup(move || {
            keep.with_value(|(s, ..)| s.close());
            if let Some(h) = interval {
                h.clear();
            }
        });
    }
}
