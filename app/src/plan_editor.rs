//! The editable plan of the wizard's review step. Each entity and field is a row of signals, so
//! typing in one input re-renders nothing else (focus and caret stay put); `Draft::to_spec`
//! turns the rows back into an `AppSpec`, which is validated exactly as the server does.

use kiln_core::spec::{normalize_name, plural, slugify};
use kiln_core::{Access, AppSpec, Entity, Feature, Field, FieldType};
use leptos::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn next_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The field types people can pick, with their labels.
const TYPES: &[(&str, &str)] = &[
    ("text", "Text"),
    ("long_text", "Long text"),
    ("int", "Whole number"),
    ("decimal", "Decimal number"),
    ("bool", "Yes/no"),
    ("date", "Date"),
    ("datetime", "Date and time"),
    ("time", "Time"),
    ("email", "Email"),
    ("url", "Link (URL)"),
    ("enum", "One of a list"),
    ("ref", "Link to another entity"),
];

#[derive(Clone, Copy)]
pub struct FieldDraft {
    id: usize,
    label: RwSignal<String>,
    ty: RwSignal<String>,
    required: RwSignal<bool>,
    /// Comma-separated, for `enum`.
    values: RwSignal<String>,
    /// The id of the entity row a `ref` points to.
    target: RwSignal<usize>,
    min: RwSignal<String>,
    max: RwSignal<String>,
}

#[derive(Clone, Copy)]
pub struct EntityDraft {
    id: usize,
    label: RwSignal<String>,
    access: RwSignal<String>,
    fields: RwSignal<Vec<FieldDraft>>,
}

/// The whole plan, as rows of signals.
#[derive(Clone, Copy)]
pub struct Draft {
    name: RwSignal<String>,
    auth: RwSignal<bool>,
    chat: RwSignal<bool>,
    entities: RwSignal<Vec<EntityDraft>>,
}

fn type_key(t: &FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::LongText => "long_text",
        FieldType::Int { .. } => "int",
        FieldType::Decimal => "decimal",
        FieldType::Bool => "bool",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
        FieldType::Time => "time",
        FieldType::Email => "email",
        FieldType::Url => "url",
        FieldType::Enum { .. } => "enum",
        FieldType::Ref { .. } => "ref",
    }
}

fn access_key(a: Option<Access>) -> String {
    match a {
        Some(Access::Shared) => "shared",
        Some(Access::Public) => "public",
        _ => "private",
    }
    .to_owned()
}

impl FieldDraft {
    fn blank() -> Self {
        FieldDraft {
            id: next_id(),
            label: RwSignal::new(String::new()),
            ty: RwSignal::new("text".to_owned()),
            required: RwSignal::new(false),
            values: RwSignal::new(String::new()),
            target: RwSignal::new(0),
            min: RwSignal::new(String::new()),
            max: RwSignal::new(String::new()),
        }
    }
}

impl EntityDraft {
    fn blank() -> Self {
        let title = FieldDraft::blank();
        title.label.set("Title".to_owned());
        title.required.set(true);
        EntityDraft {
            id: next_id(),
            label: RwSignal::new(String::new()),
            access: RwSignal::new("private".to_owned()),
            fields: RwSignal::new(vec![title]),
        }
    }
}

impl Draft {
    pub fn from_spec(spec: &AppSpec) -> Draft {
        let entities: Vec<EntityDraft> = spec
            .entities
            .iter()
            .map(|e| EntityDraft {
                id: next_id(),
                label: RwSignal::new(e.label.clone()),
                access: RwSignal::new(access_key(e.access)),
                fields: RwSignal::new(Vec::new()),
            })
            .collect();
        for (e, row) in spec.entities.iter().zip(&entities) {
            let fields = e
                .fields
                .iter()
                .map(|f| {
                    let d = FieldDraft::blank();
                    d.label.set(f.label.clone());
                    d.ty.set(type_key(&f.ty).to_owned());
                    d.required.set(f.required);
                    match &f.ty {
                        FieldType::Enum { values } => d.values.set(values.join(", ")),
                        FieldType::Ref { entity } => {
                            if let Some(i) = spec.entities.iter().position(|o| &o.name == entity) {
                                d.target.set(entities[i].id);
                            }
                        }
                        FieldType::Int { min, max } => {
                            d.min.set(min.map(|v| v.to_string()).unwrap_or_default());
                            d.max.set(max.map(|v| v.to_string()).unwrap_or_default());
                        }
                        _ => {}
                    }
                    d
                })
                .collect();
            row.fields.set(fields);
        }
        Draft {
            name: RwSignal::new(spec.name.clone()),
            auth: RwSignal::new(spec.features.contains(&Feature::Auth)),
            chat: RwSignal::new(spec.features.contains(&Feature::Chat)),
            entities: RwSignal::new(entities),
        }
    }

    /// The plan the rows describe (reading them tracks them).
    pub fn to_spec(self) -> AppSpec {
        let auth = self.auth.get();
        let mut features = Vec::new();
        if auth {
            features.push(Feature::Auth);
        }
        features.push(Feature::Crud);
        if self.chat.get() {
            features.push(Feature::Chat);
        }
        let rows = self.entities.get();
        let names: Vec<(usize, String)> =
            rows.iter().map(|e| (e.id, normalize_name(&e.label.get()))).collect();
        let entities = rows
            .iter()
            .zip(&names)
            .map(|(e, (_, name))| Entity {
                name: name.clone(),
                label: e.label.get().trim().to_owned(),
                collection: plural(name),
                access: auth.then(|| match e.access.get().as_str() {
                    "shared" => Access::Shared,
                    "public" => Access::Public,
                    _ => Access::Private,
                }),
                fields: e
                    .fields
                    .get()
                    .iter()
                    .map(|f| {
                        let ty = match f.ty.get().as_str() {
                            "long_text" => FieldType::LongText,
                            "int" => FieldType::Int {
                                min: f.min.get().trim().parse().ok(),
                                max: f.max.get().trim().parse().ok(),
                            },
                            "decimal" => FieldType::Decimal,
                            "bool" => FieldType::Bool,
                            "date" => FieldType::Date,
                            "datetime" => FieldType::Datetime,
                            "time" => FieldType::Time,
                            "email" => FieldType::Email,
                            "url" => FieldType::Url,
                            "enum" => FieldType::Enum {
                                values: f
                                    .values
                                    .get()
                                    .split(',')
                                    .map(|v| v.trim().to_owned())
                                    .filter(|v| !v.is_empty())
                                    .collect(),
                            },
                            "ref" => FieldType::Ref {
                                entity: names
                                    .iter()
                                    .find(|(id, _)| *id == f.target.get())
                                    .map(|(_, n)| n.clone())
                                    .unwrap_or_default(),
                            },
                            _ => FieldType::Text,
                        };
                        Field {
                            name: normalize_name(&f.label.get()),
                            label: f.label.get().trim().to_owned(),
                            ty,
                            required: f.required.get(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let name = self.name.get().trim().to_owned();
        let slug = match slugify(&name) {
            s if s.is_empty() => "app".to_owned(),
            s => s,
        };
        AppSpec { version: kiln_core::spec::SPEC_VERSION, name, slug, features, entities }
    }
}

/// The review step's editor.
#[component]
pub fn PlanEditor(draft: Draft) -> impl IntoView {
    let Draft { name, auth, chat, entities } = draft;
    view! {
        <div class="plan" aria-label="The plan">
            <div class="field">
                <label for="plan-name">"App name"</label>
                <input id="plan-name" type="text" maxlength="80"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev)) />
            </div>
            <fieldset class="features">
                <legend>"Features"</legend>
                <label><input type="checkbox" checked=true disabled=true />
                    " Lists and forms for every entity (always)"</label>
                <label><input type="checkbox" name="auth"
                    prop:checked=move || auth.get()
                    on:change=move |ev| auth.set(event_target_checked(&ev)) />
                    " Accounts: people sign up and log in"</label>
                <label><input type="checkbox" name="chat"
                    prop:checked=move || chat.get()
                    on:change=move |ev| chat.set(event_target_checked(&ev)) />
                    " AI chat assistant"</label>
            </fieldset>
            <h2>"Entities"</h2>
            <For each=move || entities.get() key=|e| e.id let:e>
                <EntityEditor entity=e auth=auth entities=entities />
            </For>
            <button type="button" class="secondary"
                on:click=move |_| entities.update(|v| v.push(EntityDraft::blank()))>
                "Add an entity"
            </button>
        </div>
    }
}

#[component]
fn EntityEditor(
    entity: EntityDraft,
    auth: RwSignal<bool>,
    entities: RwSignal<Vec<EntityDraft>>,
) -> impl IntoView {
    let EntityDraft { id, label, access, fields } = entity;
    let label_id = format!("entity-{id}-label");
    let access_id = format!("entity-{id}-access");
    let heading = move || match label.get().trim() {
        "" => "New entity".to_owned(),
        l => l.to_owned(),
    };
    view! {
        <section class="entity card" aria-label=heading>
            <div class="entity-head">
                <div class="field">
                    <label for=label_id.clone()>"Entity name"</label>
                    <input id=label_id type="text" maxlength="40"
                        prop:value=move || label.get()
                        on:input=move |ev| label.set(event_target_value(&ev)) />
                </div>
                {move || auth.get().then(|| view! {
                    <div class="field">
                        <label for=access_id.clone()>"Who sees it"</label>
                        <select id=access_id.clone()
                            on:change=move |ev| access.set(event_target_value(&ev))>
                            {[("private", "Only its creator"), ("shared", "Every signed-in user"),
                              ("public", "Everyone (signed-in users write)")]
                                .into_iter()
                                .map(|(k, l)| view! {
                                    <option value=k selected=access.get_untracked() == k>{l}</option>
                                })
                                .collect_view()}
                        </select>
                    </div>
                })}
                <button type="button" class="danger small"
                    aria-label=move || format!("Remove the entity {}", heading())
                    on:click=move |_| entities.update(|v| v.retain(|e| e.id != id))>
                    "Remove entity"
                </button>
            </div>
            <table class="fields">
                <caption class="muted">{move || format!("Fields of {}", heading())}</caption>
                <thead><tr><th>"Field"</th><th>"Type"</th><th>"Required"</th><th>"Details"</th><th></th></tr></thead>
                <tbody>
                    <For each=move || fields.get() key=|f| f.id let:f>
                        <FieldEditor field=f fields=fields entities=entities />
                    </For>
                </tbody>
            </table>
            <button type="button" class="secondary small"
                aria-label=move || format!("Add a field to {}", heading())
                on:click=move |_| fields.update(|v| v.push(FieldDraft::blank()))>
                "Add a field"
            </button>
        </section>
    }
}

#[component]
fn FieldEditor(
    field: FieldDraft,
    fields: RwSignal<Vec<FieldDraft>>,
    entities: RwSignal<Vec<EntityDraft>>,
) -> impl IntoView {
    let FieldDraft { id, label, ty, required, values, target, min, max } = field;
    let name = move || match label.get().trim() {
        "" => "new field".to_owned(),
        l => l.to_owned(),
    };
    let ids = |what: &str| format!("field-{id}-{what}");
    let (label_id, type_id, req_id, values_id, target_id, min_id, max_id) = (
        ids("label"),
        ids("type"),
        ids("required"),
        ids("values"),
        ids("target"),
        ids("min"),
        ids("max"),
    );
    view! {
        <tr>
            <td>
                <label class="visually-hidden" for=label_id.clone()>"Field name"</label>
                <input id=label_id type="text" maxlength="40"
                    prop:value=move || label.get()
                    on:input=move |ev| label.set(event_target_value(&ev)) />
            </td>
            <td>
                <label class="visually-hidden" for=type_id.clone()>{move || format!("Type of {}", name())}</label>
                <select id=type_id on:change=move |ev| ty.set(event_target_value(&ev))>
                    {TYPES.iter().map(|(k, l)| view! {
                        <option value=*k selected=ty.get_untracked() == *k>{*l}</option>
                    }).collect_view()}
                </select>
            </td>
            <td>
                <label class="required">
                    <input id=req_id type="checkbox" prop:checked=move || required.get()
                        aria-label=move || format!("{} is required", name())
                        on:change=move |ev| required.set(event_target_checked(&ev)) />
                    <span class="narrow-only" aria-hidden="true">" Required"</span>
                </label>
            </td>
            <td>
                {move || match ty.get().as_str() {
                    "enum" => view! {
                        <label class="visually-hidden" for=values_id.clone()>{format!("Values of {}", name())}</label>
                        <input id=values_id.clone() type="text" placeholder="low, medium, high"
                            prop:value=move || values.get()
                            on:input=move |ev| values.set(event_target_value(&ev)) />
                    }.into_any(),
                    "ref" => view! {
                        <label class="visually-hidden" for=target_id.clone()>{format!("{} links to", name())}</label>
                        <select id=target_id.clone()
                            on:change=move |ev| target.set(event_target_value(&ev).parse().unwrap_or(0))>
                            <option value="0">"Choose…"</option>
                            {move || entities.get().into_iter().map(|e| view! {
                                <option value=e.id.to_string() selected=target.get_untracked() == e.id>
                                    {move || e.label.get()}
                                </option>
                            }).collect_view()}
                        </select>
                    }.into_any(),
                    "int" => view! {
                        <label class="visually-hidden" for=min_id.clone()>{format!("Smallest {}", name())}</label>
                        <input id=min_id.clone() class="num" type="number" placeholder="min"
                            prop:value=move || min.get()
                            on:input=move |ev| min.set(event_target_value(&ev)) />
                        <label class="visually-hidden" for=max_id.clone()>{format!("Largest {}", name())}</label>
                        <input id=max_id.clone() class="num" type="number" placeholder="max"
                            prop:value=move || max.get()
                            on:input=move |ev| max.set(event_target_value(&ev)) />
                    }.into_any(),
                    _ => ().into_any(),
                }}
            </td>
            <td>
                <button type="button" class="link"
                    aria-label=move || format!("Remove the field {}", name())
                    on:click=move |_| fields.update(|v| v.retain(|f| f.id != id))>
                    "Remove"
                </button>
            </td>
        </tr>
    }
}
