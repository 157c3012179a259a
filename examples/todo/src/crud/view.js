// The crud pages' HTML, as pure functions of an entity (from app.json) and its records.

import { errorSummaryHtml, alertHtml, escapeHtml, fieldHtml, plural } from "../render.js";

/** How a value is shown in a list or on a detail page. */
export function display(field, value) {
  if (value === undefined || value === null || value === "") return "—";
  if (field.type === "bool") return value === true || value === "true" ? "Yes" : "No";
  if (field.type === "long_text") {
    const text = String(value);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  }
  return String(value);
}

/** The HTML input type for a field. */
export function inputType(field) {
  return (
    {
      int: "number",
      decimal: "number",
      ref: "number",
      date: "date",
      datetime: "datetime-local",
      time: "time",
      email: "email",
      url: "url",
    }[field.type] ?? "text"
  );
}

/** A stored value as its form control takes it (dates and times cut to the input's format). */
export function inputValue(field, value) {
  if (value === undefined || value === null) return "";
  if (field.type === "bool") return ["true", "false"].includes(String(value)) ? String(value) : "";
  const cut = { date: 10, datetime: 16, time: 5 }[field.type];
  return cut ? String(value).slice(0, cut) : String(value);
}

/** The field that names a record: one called title, name or subject, else the first text field. */
export function titleField(entity) {
  return (
    entity.fields.find((f) => ["title", "name", "subject"].includes(f.name)) ??
    entity.fields.find((f) => f.type === "text")
  );
}

/** The text that names a record (its title field, else "Task #7"). */
export function recordTitle(entity, record) {
  const field = titleField(entity);
  const value = field ? record[field.name] : undefined;
  return value ? String(value) : `${entity.label} #${record.id}`;
}

/** Records with a field whose shown text contains `query` (case-insensitive). */
export function search(entity, records, query) {
  const q = String(query ?? "")
    .trim()
    .toLowerCase();
  if (!q) return records;
  return records.filter((r) =>
    entity.fields.some((f) => display(f, r[f.name]).toLowerCase().includes(q)),
  );
}

/** "3 tasks", or "1 of 3 tasks" while searching. */
export function countText(entity, shown, total) {
  const noun = total === 1 ? entity.label.toLowerCase() : plural(entity.label).toLowerCase();
  return shown === total ? `${total} ${noun}` : `${shown} of ${total} ${noun}`;
}

const recordHref = (entity, id) => `#/${entity.collection}/${encodeURIComponent(id)}`;

/** The list of records, or what to say when there are none. */
export function resultsHtml(entity, shown, query) {
  const things = plural(entity.label).toLowerCase();
  if (!shown.length && String(query ?? "").trim()) {
    return `<p class="empty">No ${escapeHtml(things)} match “${escapeHtml(query.trim())}”.</p>`;
  }
  if (!shown.length) return `<p class="empty">No ${escapeHtml(things)} yet.</p>`;
  const named = titleField(entity);
  const rest = entity.fields.filter((f) => f !== named).slice(0, 2);
  const items = shown.map((record) => {
    const details = rest.map((f) => escapeHtml(display(f, record[f.name]))).join(" · ");
    const title = escapeHtml(recordTitle(entity, record));
    return `<li><a href="${recordHref(entity, record.id)}">${title}</a><span class="muted">${details}</span></li>`;
  });
  return `<ul class="records">${items.join("")}</ul>`;
}

/** The list page: a search box, a count read out as it changes, the records and a "New" link. */
export function listHtml(entity, records) {
  const things = escapeHtml(plural(entity.label).toLowerCase());
  const one = escapeHtml(entity.label.toLowerCase());
  const create = `<a class="button" href="#/${entity.collection}/new">New ${one}</a>`;
  if (!records.length) {
    return `<p class="empty">No ${things} yet.</p><div class="actions">${create}</div>`;
  }
  return `<div class="toolbar">
      <div class="search"><label for="search">Search ${things}</label><input id="search" type="search" autocomplete="off"></div>
      ${create}
    </div>
    <p id="count" class="muted" role="status">${escapeHtml(countText(entity, records.length, records.length))}</p>
    <div id="results">${resultsHtml(entity, records, "")}</div>`;
}

/** A value on the detail page; a reference links to the record it names. */
function valueHtml(field, value, entities) {
  const target = field.type === "ref" && entities.find((e) => e.name === field.entity);
  if (target && value !== undefined && value !== null && value !== "") {
    return `<a href="${recordHref(target, value)}">${escapeHtml(`${target.label} #${value}`)}</a>`;
  }
  if (field.type === "url" && /^https?:\/\//i.test(String(value ?? ""))) {
    return `<a href="${escapeHtml(value)}" rel="noopener noreferrer">${escapeHtml(value)}</a>`;
  }
  // The whole text here, not the list's shortened one.
  if (field.type === "long_text" && value) return escapeHtml(value);
  return escapeHtml(display(field, value));
}

/** The detail page: every field, then Edit, Delete (with a confirmation dialog) and Back. */
export function detailHtml(entity, record, entities = []) {
  const one = escapeHtml(entity.label.toLowerCase());
  const rows = entity.fields
    .map(
      (f) =>
        `<div><dt>${escapeHtml(f.label)}</dt><dd>${valueHtml(f, record[f.name], entities)}</dd></div>`,
    )
    .join("");
  return `<dl class="details">${rows}</dl>
    <div class="actions">
      <a class="button" href="${recordHref(entity, record.id)}/edit">Edit ${one}</a>
      <button type="button" class="danger" id="delete">Delete ${one}</button>
      <a href="#/${entity.collection}">Back to ${escapeHtml(plural(entity.label).toLowerCase())}</a>
    </div>
    <div id="delete-status"></div>
    <dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
      <form method="dialog">
        <h2 id="confirm-title">Delete this ${one}?</h2>
        <p id="confirm-text">“${escapeHtml(recordTitle(entity, record))}” will be gone for good.</p>
        <div class="actions">
          <button value="delete" class="danger">Delete</button>
          <button value="cancel" class="secondary" autofocus>Keep it</button>
        </div>
      </form>
    </dialog>`;
}

/** The id of a field's control (and, with "-error", of its message). */
export const controlId = (field) => `f-${field.name}`;

/** A hint for the rules a person cannot see, such as an allowed range. */
function hintFor(field) {
  if (field.type !== "int") return "";
  if (field.min !== undefined && field.max !== undefined) {
    return `A whole number from ${field.min} to ${field.max}.`;
  }
  if (field.min !== undefined) return `A whole number, at least ${field.min}.`;
  if (field.max !== undefined) return `A whole number, at most ${field.max}.`;
  return "";
}

/** One field's labelled control; `choices` ([{ value, label }]) are what a `ref` can point to. */
export function controlHtml(field, value, error, choices) {
  const common = {
    id: controlId(field),
    name: field.name,
    label: field.label,
    value: inputValue(field, value),
    required: Boolean(field.required),
    error: error ?? "",
    hint: hintFor(field),
  };
  if (field.type === "long_text") return fieldHtml({ ...common, multiline: true });
  if (field.type === "enum") {
    return fieldHtml({ ...common, options: field.values.map((v) => ({ value: v, label: v })) });
  }
  if (field.type === "bool") {
    const options = [
      { value: "true", label: "Yes" },
      { value: "false", label: "No" },
    ];
    return fieldHtml({ ...common, options });
  }
  if (field.type === "ref" && choices) return fieldHtml({ ...common, options: choices });
  const autocomplete = { email: "email", url: "url" }[field.type] ?? "";
  return fieldHtml({ ...common, type: inputType(field), autocomplete });
}

/**
 * The create or edit form: a labelled control per field, each with its own message, a summary
 * of the problems above them, Save and Cancel.
 */
export function formHtml(entity, values, errors = {}, { choices = {}, message = "", cancel } = {}) {
  const controls = entity.fields
    .map((f) => controlHtml(f, values[f.name], errors[f.name], choices[f.name]))
    .join("");
  const problems = Object.keys(errors).length ? errorSummaryHtml(errors) : alertHtml(message);
  const required = entity.fields.some((f) => f.required)
    ? '<p class="hint">Fields marked <span class="required">*</span> are required.</p>'
    : "";
  return `${problems}<form novalidate>
      ${required}${controls}
      <div class="actions">
        <button type="submit">Save ${escapeHtml(entity.label.toLowerCase())}</button>
        <a href="${escapeHtml(cancel ?? `#/${entity.collection}`)}">Cancel</a>
      </div>
    </form>`;
}
