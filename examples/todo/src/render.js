// Small pure helpers for building the app's HTML: escaping, labelled form fields, messages.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The plural of a label: "Task" → "Tasks", "Category" → "Categories", "Box" → "Boxes". */
export function plural(label) {
  const text = String(label);
  if (/[^aeiou]y$/i.test(text)) return `${text.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/i.test(text)) return `${text}es`;
  return `${text}s`;
}

/**
 * A form control with its label, hint and error message, linked for assistive technology.
 * `options` ([{ value, label }]) makes a select, `multiline` a textarea, else an input of `type`.
 */
export function fieldHtml({
  id,
  name = id,
  label,
  value = "",
  type = "text",
  required = false,
  error = "",
  hint = "",
  options,
  multiline = false,
  autocomplete = "",
}) {
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ");
  const attrs = [
    `id="${escapeHtml(id)}"`,
    `name="${escapeHtml(name)}"`,
    required && "required",
    error && 'aria-invalid="true"',
    describedBy && `aria-describedby="${escapeHtml(describedBy)}"`,
    autocomplete && `autocomplete="${escapeHtml(autocomplete)}"`,
  ]
    .filter(Boolean)
    .join(" ");
  let control;
  if (options) {
    const choices = options
      .map((o) => {
        const selected = String(value ?? "") === String(o.value) ? " selected" : "";
        return `<option value="${escapeHtml(o.value)}"${selected}>${escapeHtml(o.label)}</option>`;
      })
      .join("");
    control = `<select ${attrs}><option value="">${required ? "Choose…" : "—"}</option>${choices}</select>`;
  } else if (multiline) {
    control = `<textarea ${attrs}>${escapeHtml(value)}</textarea>`;
  } else {
    control = `<input ${attrs} type="${escapeHtml(type)}" value="${escapeHtml(value)}">`;
  }
  const mark = required ? ' <span class="required" aria-hidden="true">*</span>' : "";
  const hintHtml = hint
    ? `<p class="hint" id="${escapeHtml(id)}-hint">${escapeHtml(hint)}</p>`
    : "";
  const errorHtml = error
    ? `<p class="field-error" id="${escapeHtml(id)}-error">${escapeHtml(error)}</p>`
    : "";
  return `<div class="field${error ? " invalid" : ""}"><label for="${escapeHtml(id)}">${escapeHtml(label)}${mark}</label>${hintHtml}${control}${errorHtml}</div>`;
}

/** A message read out as soon as it appears (an error). */
export function alertHtml(message) {
  return message ? `<p class="alert" role="alert">${escapeHtml(message)}</p>` : "";
}

/** The problems of a form, listed above it and read out; `errors` is `{ name: message }`. */
export function errorSummaryHtml(errors) {
  const messages = Object.values(errors).filter(Boolean);
  if (!messages.length) return "";
  const items = messages.map((m) => `<li>${escapeHtml(m)}</li>`).join("");
  const title =
    messages.length === 1 ? "There is a problem" : `There are ${messages.length} problems`;
  return `<div class="error-summary" role="alert"><h2>${title}</h2><ul>${items}</ul></div>`;
}
