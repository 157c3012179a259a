// The crud pages of every entity: a list with search, a detail page, create and edit forms with
// a message next to each field, and delete after a confirmation.

import { ApiError } from "../api.js";
import { alertHtml, plural } from "../render.js";
import { checkRecord, toValues } from "./validate.js";
import {
  countText,
  detailHtml,
  formHtml,
  listHtml,
  recordTitle,
  resultsHtml,
  search,
} from "./view.js";

const LOADING = '<p role="status">Loading…</p>';

/** A list answer: an array, or a page `{ items }`. */
const itemsOf = (answer) => (Array.isArray(answer) ? answer : (answer?.items ?? []));

async function showList(app, entity, page) {
  const title = plural(entity.label);
  page.render(title, LOADING);
  let all;
  try {
    all = itemsOf(await app.api.list(entity.collection));
  } catch (error) {
    return page.fail(title, error);
  }
  const main = page.render(title, listHtml(entity, all));
  const input = main?.querySelector("#search");
  input?.addEventListener("input", () => {
    const shown = search(entity, all, input.value);
    main.querySelector("#results").innerHTML = resultsHtml(entity, shown, input.value);
    main.querySelector("#count").textContent = countText(entity, shown.length, all.length);
  });
}

async function showDetail(app, entity, id, page) {
  page.render(entity.label, LOADING);
  let record;
  try {
    record = await app.api.get(entity.collection, id);
  } catch (error) {
    return page.fail(entity.label, error);
  }
  const main = page.render(
    recordTitle(entity, record),
    detailHtml(entity, record, app.spec.entities),
  );
  if (!main) return;
  const dialog = main.querySelector("#confirm");
  main.querySelector("#delete").addEventListener("click", () => {
    dialog.returnValue = "";
    dialog.showModal();
  });
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await app.api.remove(entity.collection, id);
      app.navigate(`#/${entity.collection}`);
    } catch (error) {
      main.querySelector("#delete-status").innerHTML = alertHtml(error.message);
    }
  });
}

/** What each `ref` field can point to: the records of the entity it names. */
async function choicesFor(app, entity) {
  const choices = {};
  for (const field of entity.fields.filter((f) => f.type === "ref")) {
    const target = app.spec.entities.find((e) => e.name === field.entity);
    try {
      const records = itemsOf(await app.api.list(target.collection));
      choices[field.name] = records.map((r) => ({ value: r.id, label: recordTitle(target, r) }));
    } catch {
      // Without the list, the field takes the record's number.
    }
  }
  return choices;
}

async function showForm(app, entity, page, id) {
  const one = entity.label.toLowerCase();
  const title = id ? `Edit ${one}` : `New ${one}`;
  const back = id ? `#/${entity.collection}/${encodeURIComponent(id)}` : `#/${entity.collection}`;
  page.render(title, LOADING);
  let record = {};
  try {
    if (id) record = await app.api.get(entity.collection, id);
  } catch (error) {
    return page.fail(title, error);
  }
  const choices = await choicesFor(app, entity);

  const show = (values, errors = {}, message = "") => {
    const main = page.render(
      title,
      formHtml(entity, values, errors, { choices, message, cancel: back }),
    );
    if (!main) return;
    const form = main.querySelector("form");
    form.querySelector('[aria-invalid="true"]')?.focus();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const raw = Object.fromEntries(new FormData(form).entries());
      const found = checkRecord(entity, raw);
      if (Object.keys(found).length) return show(raw, found);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      button.textContent = "Saving…";
      try {
        const values = toValues(entity, raw, { clear: Boolean(id) });
        const saved = id
          ? await app.api.update(entity.collection, id, values)
          : await app.api.create(entity.collection, values);
        const savedId = saved?.id ?? id;
        const to = savedId === undefined ? "" : `/${encodeURIComponent(savedId)}`;
        app.navigate(`#/${entity.collection}${to}`);
      } catch (error) {
        show(raw, error instanceof ApiError ? error.fields : {}, error.message);
      }
    });
  };
  show(record);
}

/** Adds the pages and a navigation link per entity; the first entity's list is the start page. */
export const crud = {
  install(app) {
    const accounts = app.spec.features.includes("auth");
    for (const entity of app.spec.entities) {
      const at = entity.collection;
      // With accounts, only public records are read without a session, and every change needs one.
      const reads = { signedIn: accounts && Boolean(entity.access) && entity.access !== "public" };
      const writes = { signedIn: accounts };
      app.addLink(`#/${at}`, plural(entity.label));
      app.addPage(at, (_, page) => showList(app, entity, page), reads);
      app.addPage(`${at}/new`, (_, page) => showForm(app, entity, page), writes);
      app.addPage(`${at}/:id`, ({ id }, page) => showDetail(app, entity, id, page), reads);
      app.addPage(`${at}/:id/edit`, ({ id }, page) => showForm(app, entity, page, id), writes);
    }
    if (!app.home && app.spec.entities.length) app.home = `#/${app.spec.entities[0].collection}`;
  },
};
