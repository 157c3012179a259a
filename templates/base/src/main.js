// The app in the browser: reads its spec (app.json) and shows a page per entity with a list,
// a search box, and forms to create, edit and delete records.

import { createClient, ApiError } from "./api.js";
import { checkRecord, toValues } from "./validate.js";
import { display, escapeHtml, inputType, recordTitle, search } from "./render.js";

const api = createClient();
const main = document.querySelector("main");
const nav = document.querySelector("nav");

function entityFor(spec, collection) {
  return spec.entities.find((e) => e.collection === collection) ?? spec.entities[0];
}

function renderNav(spec) {
  const links = spec.entities.map(
    (e) => `<a href="#/${escapeHtml(e.collection)}">${escapeHtml(e.label)}s</a>`,
  );
  if (spec.features.includes("auth")) links.push('<a href="#/account">Account</a>');
  if (spec.features.includes("chat")) links.push('<a href="#/chat">Assistant</a>');
  nav.innerHTML = links.join("");
}

async function showList(spec, entity, query = "") {
  main.innerHTML = `<h1>${escapeHtml(entity.label)}s</h1><p role="status">Loading…</p>`;
  let records;
  try {
    const page = await api.list(entity.collection);
    records = Array.isArray(page) ? page : (page.items ?? []);
  } catch (e) {
    main.innerHTML = `<h1>${escapeHtml(entity.label)}s</h1><p role="alert">${escapeHtml(e.message)}</p>`;
    return;
  }
  const shown = search(entity, records, query);
  const rows = shown
    .map(
      (r) => `<li><a href="#/${entity.collection}/${r.id}">${escapeHtml(recordTitle(entity, r))}</a>
        <span class="muted">${entity.fields
          .slice(1, 3)
          .map((f) => escapeHtml(display(f, r[f.name])))
          .join(" · ")}</span></li>`,
    )
    .join("");
  main.innerHTML = `
    <h1>${escapeHtml(entity.label)}s</h1>
    <div class="toolbar">
      <label for="search">Search</label>
      <input id="search" type="search" value="${escapeHtml(query)}">
      <a class="button" href="#/${entity.collection}/new">New ${escapeHtml(entity.label.toLowerCase())}</a>
    </div>
    ${shown.length ? `<ul class="records">${rows}</ul>` : `<p class="empty">No ${escapeHtml(entity.label.toLowerCase())}s yet.</p>`}`;
  main
    .querySelector("#search")
    .addEventListener("change", (ev) => showList(spec, entity, ev.target.value));
}

function fieldHtml(field, value, error) {
  const id = `f-${field.name}`;
  const err = error
    ? `<p class="error" id="${id}-error" role="alert">${escapeHtml(error)}</p>`
    : "";
  const aria = error ? ` aria-invalid="true" aria-describedby="${id}-error"` : "";
  const required = field.required ? " required" : "";
  let control;
  if (field.type === "long_text") {
    control = `<textarea id="${id}" name="${field.name}"${aria}${required}>${escapeHtml(value ?? "")}</textarea>`;
  } else if (field.type === "enum" || field.type === "bool") {
    const values = field.type === "bool" ? ["true", "false"] : field.values;
    const options = values
      .map(
        (v) =>
          `<option value="${escapeHtml(v)}"${String(value) === v ? " selected" : ""}>${escapeHtml(v === "true" ? "Yes" : v === "false" ? "No" : v)}</option>`,
      )
      .join("");
    control = `<select id="${id}" name="${field.name}"${aria}><option value="">—</option>${options}</select>`;
  } else {
    control = `<input id="${id}" name="${field.name}" type="${inputType(field)}" value="${escapeHtml(value ?? "")}"${aria}${required}>`;
  }
  return `<div class="field"><label for="${id}">${escapeHtml(field.label)}</label>${control}${err}</div>`;
}

async function showForm(spec, entity, id) {
  let record = {};
  if (id) {
    try {
      record = await api.get(entity.collection, id);
    } catch (e) {
      main.innerHTML = `<p role="alert">${escapeHtml(e.message)}</p>`;
      return;
    }
  }
  const render = (values, errors = {}, message = "") => {
    main.innerHTML = `
      <h1>${id ? "Edit" : "New"} ${escapeHtml(entity.label.toLowerCase())}</h1>
      <form novalidate>
        ${entity.fields.map((f) => fieldHtml(f, values[f.name], errors[f.name])).join("")}
        ${message ? `<p role="alert" class="error">${escapeHtml(message)}</p>` : ""}
        <button type="submit">Save</button>
        ${id ? '<button type="button" class="danger" id="delete">Delete</button>' : ""}
        <a href="#/${entity.collection}">Cancel</a>
      </form>`;
    const form = main.querySelector("form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const raw = Object.fromEntries(new FormData(form).entries());
      const found = checkRecord(entity, raw);
      if (Object.keys(found).length) return render(raw, found);
      try {
        const values = toValues(entity, raw);
        if (id) await api.update(entity.collection, id, values);
        else await api.create(entity.collection, values);
        location.hash = `#/${entity.collection}`;
      } catch (e) {
        render(raw, e instanceof ApiError ? e.fields : {}, e.message);
      }
    });
    main.querySelector("#delete")?.addEventListener("click", async () => {
      if (!confirm(`Delete this ${entity.label.toLowerCase()}?`)) return;
      await api.remove(entity.collection, id);
      location.hash = `#/${entity.collection}`;
    });
  };
  render(record);
}

function showAccount() {
  main.innerHTML = `
    <h1>Account</h1>
    <form id="auth" novalidate>
      <div class="field"><label for="email">Email</label><input id="email" name="email" type="email" required></div>
      <div class="field"><label for="password">Password</label><input id="password" name="password" type="password" required></div>
      <p role="status" id="auth-status"></p>
      <button type="submit" name="action" value="login">Log in</button>
      <button type="submit" name="action" value="signup" class="secondary">Sign up</button>
    </form>`;
  const form = main.querySelector("#auth");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const action = ev.submitter?.value === "signup" ? "signup" : "login";
    const body = Object.fromEntries(new FormData(form).entries());
    const res = await fetch(`/api/auth/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: body.email, password: body.password }),
    });
    const data = await res.json().catch(() => ({}));
    main.querySelector("#auth-status").textContent = res.ok
      ? "Signed in."
      : (data.message ?? "That did not work.");
  });
}

function showChat() {
  main.innerHTML = `
    <h1>Assistant</h1>
    <div id="log" aria-live="polite"></div>
    <form id="chat"><label for="message">Message</label><textarea id="message" name="message" required></textarea>
      <button type="submit">Send</button></form>`;
  main.querySelector("#chat").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = ev.target.message.value.trim();
    if (!text) return;
    const log = main.querySelector("#log");
    log.insertAdjacentHTML("beforeend", `<p class="me">${escapeHtml(text)}</p>`);
    ev.target.reset();
    const res = await fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: text }),
    });
    const reply = res.ok ? await res.text() : "The assistant is not available right now.";
    log.insertAdjacentHTML("beforeend", `<p class="bot">${escapeHtml(reply)}</p>`);
  });
}

async function route(spec) {
  const [, collection, id] = location.hash.split("/");
  if (collection === "account") return showAccount();
  if (collection === "chat") return showChat();
  const entity = entityFor(spec, collection);
  if (id === "new") return showForm(spec, entity);
  if (id) return showForm(spec, entity, id);
  return showList(spec, entity);
}

async function start() {
  const spec = await (await fetch("./app.json")).json();
  document.title = spec.name;
  document.querySelector("header .name").textContent = spec.name;
  renderNav(spec);
  window.addEventListener("hashchange", () => route(spec));
  await route(spec);
}

start().catch((e) => {
  main.innerHTML = `<p role="alert">This app could not start: ${escapeHtml(e.message)}</p>`;
});
