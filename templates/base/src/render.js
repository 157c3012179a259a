// Small pure helpers for showing records: escaping, labels and cell text.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** How a value is shown in a list or detail view. */
export function display(field, value) {
  if (value === undefined || value === null || value === "") return "—";
  if (field.type === "bool") return value ? "Yes" : "No";
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
      date: "date",
      datetime: "datetime-local",
      time: "time",
      email: "email",
      url: "url",
    }[field.type] ?? "text"
  );
}

/** The text that names a record (its title or name, else its first text field, else #id). */
export function recordTitle(entity, record) {
  const named = entity.fields.find((f) => ["title", "name", "subject"].includes(f.name));
  const text = entity.fields.find((f) => f.type === "text");
  const field = named ?? text;
  const value = field ? record[field.name] : undefined;
  return value ? String(value) : `${entity.label} #${record.id}`;
}

/** Records whose text fields contain `query` (case-insensitive). */
export function search(entity, records, query) {
  const q = query.trim().toLowerCase();
  if (!q) return records;
  return records.filter((r) =>
    entity.fields.some((f) =>
      String(r[f.name] ?? "")
        .toLowerCase()
        .includes(q),
    ),
  );
}
