// Validation rules read from the app's spec (app.json): the same rules the Kiln runtime
// enforces on the server, checked here first so people see mistakes before sending.

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}(:\d{2})?$/;

function isBlank(value) {
  return value === undefined || value === null || String(value).trim() === "";
}

/** Checks one value against one field; returns an error message or null. */
export function checkField(field, value) {
  if (isBlank(value)) {
    return field.required ? `${field.label} is required.` : null;
  }
  const text = String(value).trim();
  switch (field.type) {
    case "int": {
      if (!/^-?\d+$/.test(text)) return `${field.label} must be a whole number.`;
      const n = Number(text);
      if (field.min !== undefined && n < field.min)
        return `${field.label} must be at least ${field.min}.`;
      if (field.max !== undefined && n > field.max)
        return `${field.label} must be at most ${field.max}.`;
      return null;
    }
    case "decimal":
      return Number.isFinite(Number(text)) ? null : `${field.label} must be a number.`;
    case "bool":
      return ["true", "false"].includes(text) ? null : `${field.label} must be yes or no.`;
    case "date":
      return DATE.test(text) ? null : `${field.label} must be a date (YYYY-MM-DD).`;
    case "datetime":
      return Number.isNaN(Date.parse(text)) ? `${field.label} must be a date and time.` : null;
    case "time":
      return TIME.test(text) ? null : `${field.label} must be a time (HH:MM).`;
    case "email":
      return EMAIL.test(text) ? null : `${field.label} must be an email address.`;
    case "url":
      try {
        const url = new URL(text);
        return ["http:", "https:"].includes(url.protocol)
          ? null
          : `${field.label} must be a web address.`;
      } catch {
        return `${field.label} must be a web address.`;
      }
    case "enum":
      return field.values.some((v) => v.trim() === text)
        ? null
        : `${field.label} must be one of: ${field.values.join(", ")}.`;
    case "ref":
      return /^\d+$/.test(text) ? null : `Choose a ${field.label}.`;
    default:
      return text.length > 10000 ? `${field.label} is too long.` : null;
  }
}

/** Checks a whole record; returns `{ field: message }` for every invalid field. */
export function checkRecord(entity, record) {
  const errors = {};
  for (const field of entity.fields) {
    const message = checkField(field, record[field.name]);
    if (message) errors[field.name] = message;
  }
  return errors;
}

/**
 * Turns form strings into the JSON values the API expects. Blank fields are left out, or sent
 * as null with `{ clear: true }` (an edit that empties a field).
 */
export function toValues(entity, record, { clear = false } = {}) {
  const out = {};
  for (const field of entity.fields) {
    const raw = record[field.name];
    if (isBlank(raw)) {
      if (clear) out[field.name] = null;
      continue;
    }
    const text = String(raw).trim();
    if (field.type === "int" || field.type === "ref") out[field.name] = Number.parseInt(text, 10);
    else if (field.type === "decimal") out[field.name] = Number(text);
    else if (field.type === "bool") out[field.name] = text === "true";
    else if (field.type === "enum") out[field.name] = field.values.find((v) => v.trim() === text);
    else out[field.name] = text;
  }
  return out;
}
